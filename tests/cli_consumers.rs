//! `caseledger consumers` through the real binary: every durable consumer kept in the store,
//! with its checkpoint and its lag behind the head.

mod cli_support;

use caseledger::store::{ConsumerName, EventStore, SledOptions, SledStore};
use cli_support::{caseledger, Cli};
use serde_json::Value;

#[test]
fn consumers_lists_each_checkpoint_with_its_lag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, cohort, stderr) = Cli::without_data()
        .run(&["generate", "--people", "3", "--seed", "5"])
        .parts();
    assert_eq!(code, 0, "{stderr}");
    let file = dir.path().join("cohort.jsonl");
    std::fs::write(&file, cohort).unwrap();
    let (code, _, stderr) = caseledger(&data, &["import", file.to_str().unwrap()]).parts();
    assert_eq!(code, 0, "{stderr}");

    let (code, out, stderr) = caseledger(&data, &["consumers", "--format", "json"]).parts();
    assert_eq!(code, 0, "{stderr}");
    let listing: Value = serde_json::from_str(&out).unwrap();
    let head = listing["head"].as_u64().unwrap();
    assert!(head > 20, "{listing}");
    assert_eq!(listing["consumers"], serde_json::json!([]), "none yet");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SledStore::open(&data, SledOptions::default()).unwrap();
        let relay = ConsumerName::new("relay.nats").unwrap();
        let projection = ConsumerName::new("projection.case").unwrap();
        store.acknowledge(&relay, 10).await.unwrap();
        store.acknowledge(&projection, head).await.unwrap();
    });

    let (code, out, stderr) = caseledger(&data, &["consumers", "--format", "json"]).parts();
    assert_eq!(code, 0, "{stderr}");
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        listing["consumers"],
        serde_json::json!([
            {"name": "projection.case", "position": head, "lag": 0},
            {"name": "relay.nats", "position": 10, "lag": head - 10},
        ])
    );
    let (code, out, stderr) = caseledger(&data, &["consumers"]).parts();
    assert_eq!(code, 0, "{stderr}");
    let relay_line = out.lines().find(|l| l.starts_with("relay.nats")).unwrap();
    let columns: Vec<&str> = relay_line.split_whitespace().collect();
    assert_eq!(columns, ["relay.nats", "10", &(head - 10).to_string()]);

    let (code, _, stderr) = caseledger(&data, &["consumers", "--format", "xml"]).parts();
    assert_eq!(
        code, 2,
        "an unknown --format is an unusable argument: {stderr}"
    );
    assert!(stderr.contains("--format"), "{stderr}");
}
