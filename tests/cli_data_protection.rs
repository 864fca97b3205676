//! Retention (rule RET-1) and subject access through the real binary
//! (docs/operations.md "Retention" and "Subject access").

mod cli_support;
mod engine_support;

use std::path::{Path, PathBuf};

use cli_support::{caseledger, Cli};

/// A store with case P300001 closed on 2023-03-01 and case P300002 open.
fn store_with_a_closed_and_an_open_case(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let lines = engine_support::closed_and_open_case("P300001", "P300002");
    Cli::on(&data).init_and_import(dir, &lines);
    data
}

#[test]
fn ret_1_retention_due_lists_closed_cases_whose_period_has_ended() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());

    let unconfigured = caseledger(&data, &["retention", "--due"]);
    assert_eq!(unconfigured.code, 2, "{}", unconfigured.text());
    assert!(
        unconfigured.text().contains("no default"),
        "{}",
        unconfigured.text()
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
    assert!(before.success(), "{}", before.text());
    assert!(before.text().contains("0 case(s) due"), "{}", before.text());

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
    assert!(after.success(), "{}", after.text());
    let out = &after.stdout;
    assert!(
        out.contains("P300001 closed 2023-03-01 retention ended 2029-03-01"),
        "{out}"
    );
    assert!(!out.contains("P300002"), "an open case is never due: {out}");

    let bad = caseledger(&data, &["retention", "--due", "--years-after-closure", "0"]);
    assert_eq!(bad.code, 2, "{}", bad.text());
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
    assert_eq!(bad_date.code, 2, "{}", bad_date.text());
}

#[test]
fn subject_access_writes_what_the_log_holds_about_the_person_with_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());
    let json = caseledger(&data, &["subject-access", "P300001"]).json();
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
    assert_eq!(unknown.code, 1, "{}", unknown.text());
    let bad = caseledger(&data, &["subject-access", "not-a-crn"]);
    assert_eq!(bad.code, 2, "{}", bad.text());
}
