//! `caseledger replay` of a case with a long history, through the real binary: it streams one
//! entry at a time, each with what its event changed (not the whole state, unless
//! `--full-state`), so memory does not grow with the square of the case's length. A
//! 4,000-event case used to abort on allocation failure; here it runs with its address space
//! capped at 1 GiB.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use caseledger::projections::synthetic::{append_case, long_case};
use caseledger::store::{Durability, SledOptions, SledStore, SystemClock};
use serde_json::Value;

const CRN: &str = "L100001";

fn write_long_case(data: &Path, appointments: u32) -> u64 {
    let events = long_case(CRN, appointments).expect("long case");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SledStore::open(
            data,
            SledOptions {
                durability: Durability::Buffered,
                clock: Arc::new(SystemClock),
            },
        )
        .expect("open");
        let version = append_case(&store, CRN, &events).await.expect("append");
        store.flush().await.expect("flush");
        version
    })
}

/// `caseledger --data DATA ARGS…` with its address space capped at `limit_kib`.
fn caseledger_capped(data: &Path, limit_kib: u64, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {limit_kib} && exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_4000_event_case_replays_in_1_gib_with_one_diff_per_entry() {
    let dir = tempfile::tempdir().unwrap();
    let events = write_long_case(dir.path(), 2_000);
    assert!(events >= 4_000, "{events} events");
    let out = caseledger_capped(
        dir.path(),
        1024 * 1024,
        &["replay", CRN, "--format", "json"],
    );
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let entries = history["entries"].as_array().expect("entries");
    assert_eq!(entries.len() as u64, events);
    assert!(entries.iter().all(|e| e.get("state_after").is_none()));
    // The last attendance changed that appointment's outcome and the version, nothing else.
    let last = entries.last().unwrap();
    assert_eq!(last["event_type"], "AppointmentAttended");
    let paths: Vec<&str> = last["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/appointments/2000/outcome", "/version"]);
    assert_eq!(
        history["state"]["appointments"].as_object().unwrap().len(),
        2_000
    );
    assert_eq!(history["state"]["version"], events);
    assert_eq!(history["stream_id"], CRN);
    assert_eq!(history["recorded_later"], 0);
}

#[test]
fn full_state_puts_the_state_after_each_event_into_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let events = write_long_case(dir.path(), 3);
    let args = ["replay", CRN, "--format", "json", "--full-state"];
    let out = caseledger_capped(dir.path(), 1024 * 1024, &args);
    assert!(out.status.success());
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, events);
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["state_after"]["version"], i as u64 + 1);
    }
    assert_eq!(entries.last().unwrap()["state_after"], history["state"]);

    let text = caseledger_capped(dir.path(), 1024 * 1024, &["replay", CRN]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("changed /appointments/3/outcome"), "{text}");
    assert!(
        !text.contains("state after"),
        "no state per entry by default"
    );
    assert!(text.contains("state as of the bounds:"));
}
