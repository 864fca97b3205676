//! Retention (rule RET-1) and subject access through the real binary
//! (docs/operations.md "Retention" and "Subject access").

mod engine_support;

use std::path::Path;
use std::process::{Command, Output};

use engine_support::*;
use serde_json::json;

fn caseledger(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .env_remove("CASELEDGER_KEY_FILE")
        .env_remove("CASELEDGER_RETENTION_YEARS_AFTER_CLOSURE")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A store with case P300001 closed on 2023-03-01 and case P300002 open.
fn store_with_a_closed_and_an_open_case(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let mut lines = Vec::new();
    for crn in ["P300001", "P300002"] {
        lines.push(as_case_administrator(
            crn,
            "2022-03-01",
            open_case(crn, 79, "2022-03-01"),
        ));
        lines.push(as_court_officer(
            crn,
            "2022-03-01",
            community_order("2022-03-01"),
        ));
    }
    for body in [
        json!({"type": "terminate_sentence", "on": "2023-03-01", "sentence_id": 1, "reason": "expired"}),
        json!({"type": "close_case", "on": "2023-03-01", "reason": "all sentences ended"}),
    ] {
        lines.push(as_court_officer("P300001", "2023-03-01", body));
    }
    let file = dir.join("commands.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let init = caseledger(&data, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    let import = caseledger(&data, &["import", file.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import));
    data
}

#[test]
fn ret_1_retention_due_lists_closed_cases_whose_period_has_ended() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());

    let unconfigured = caseledger(&data, &["retention", "--due"]);
    assert_eq!(
        unconfigured.status.code(),
        Some(2),
        "{}",
        text(&unconfigured)
    );
    assert!(
        text(&unconfigured).contains("no default"),
        "{}",
        text(&unconfigured)
    );

    let before = caseledger(
        &data,
        &[
            "retention",
            "--due",
            "--years-after-closure",
            "6",
            "--as-of",
            "2029-02-28",
        ],
    );
    assert!(before.status.success(), "{}", text(&before));
    assert!(text(&before).contains("0 case(s) due"), "{}", text(&before));

    let after = caseledger(
        &data,
        &[
            "retention",
            "--due",
            "--years-after-closure",
            "6",
            "--as-of",
            "2029-03-01",
        ],
    );
    assert!(after.status.success(), "{}", text(&after));
    let out = String::from_utf8_lossy(&after.stdout);
    assert!(
        out.contains("P300001 closed 2023-03-01 retention ended 2029-03-01"),
        "{out}"
    );
    assert!(!out.contains("P300002"), "an open case is never due: {out}");

    let bad = caseledger(&data, &["retention", "--due", "--years-after-closure", "0"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let bad_date = caseledger(
        &data,
        &[
            "retention",
            "--due",
            "--years-after-closure",
            "6",
            "--as-of",
            "soon",
        ],
    );
    assert_eq!(bad_date.status.code(), Some(2), "{}", text(&bad_date));
}

#[test]
fn subject_access_writes_what_the_log_holds_about_the_person_with_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());
    let access = caseledger(&data, &["subject-access", "P300001"]);
    assert!(access.status.success(), "{}", text(&access));
    let json: serde_json::Value = serde_json::from_slice(&access.stdout).unwrap();
    assert_eq!(json["crn"], "P300001");
    assert_eq!(json["case"]["person"]["name"], "Sam Example");
    assert_eq!(json["case"]["person"]["date_of_birth"], "1985-04-02");
    let events = json["events"].as_array().unwrap();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"CaseOpened"), "{types:?}");
    assert!(types.contains(&"CaseClosed"), "{types:?}");
    let opened = &events[0];
    assert!(opened["position"].as_u64().unwrap() >= 1);
    assert!(
        opened["event"].to_string().contains("Sam Example"),
        "the event that recorded the name: {opened}"
    );

    let unknown = caseledger(&data, &["subject-access", "P399999"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    let bad = caseledger(&data, &["subject-access", "not-a-crn"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}
