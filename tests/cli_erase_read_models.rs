//! Read models, rebuilds and as-of queries on an erased case, through the real binary
//! (ERASE-1; docs/operations.md "Erasure"): the young-adult measure (enforcement-and-workload
//! §4.1, seed 003 l.3119) reads the date of birth, which is gone with the person's key, so
//! after an erasure the case counts as a community case — live, after a rebuild, and as of an
//! instant before the erasure (the key is destroyed for every reader); every other fact
//! stays, and nothing fails.

mod cli_support;
mod engine_support;

use std::path::Path;

use cli_support::Cli;
use engine_support::*;
use serde_json::{json, Value};

const CRN: &str = "Y300001";

/// Runs `args` on `data`, insisting it exits 0; its stdout.
fn caseledger(data: &Path, args: &[&str]) -> String {
    Cli::on(data).ok(args).stdout
}

/// The young adult's case ([`young_adult_on_a_community_order`]): tier B2, the T2A row while
/// they are 18 to 24.
fn young_adult_case(dir: &Path, data: &Path) {
    let lines = young_adult_on_a_community_order(CRN);
    Cli::on(data).import_none_refused(dir, "commands.jsonl", &lines);
}

/// The case's caseload row on 2024-07-01 (the person is 19), with `extra` report options.
fn caseload_row(data: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "report",
        "caseload",
        "--today",
        "2024-07-01",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let rows: Value = serde_json::from_str(&caseledger(data, &args)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    rows[0].clone()
}

#[test]
fn erase_1_an_erased_case_rebuilds_and_answers_as_of_queries_without_its_date_of_birth() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    young_adult_case(dir.path(), &data);
    caseledger(&data, &["rebuild"]);
    let before = caseload_row(&data, &[]);
    assert_eq!(before["by_tier"], "B2:1", "{before}");
    assert_eq!(before["workload_points"], json!(48), "T2A row: {before}");
    let erased_at = jiff::Timestamp::now().to_string();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let receipt = caseledger(
        &data,
        &["erase", CRN, "--reason", "retention ended (RET-1)"],
    );
    assert!(receipt.contains("PersonalDataErased"), "{receipt}");

    // Live (the read models catch up with the erasure) and after a full rebuild: the tier
    // stays, the young-adult row does not (no date of birth).
    for rebuild in [false, true] {
        if rebuild {
            caseledger(&data, &["rebuild"]);
        }
        let after = caseload_row(&data, &[]);
        assert_eq!(after["by_tier"], "B2:1", "rebuild {rebuild}: {after}");
        assert_eq!(
            after["workload_points"],
            json!(115),
            "rebuild {rebuild}: {after}"
        );
    }
    // As of an instant before the erasure: the log then held the person, but their key is
    // gone for every reader, so the fold sees them erased and answers all the same.
    let as_of = caseload_row(&data, &["--as-of-recorded", &erased_at]);
    assert_eq!(as_of["by_tier"], "B2:1", "{as_of}");
    let replay = caseledger(
        &data,
        &[
            "replay",
            CRN,
            "--as-of-recorded",
            &erased_at,
            "--format",
            "json",
        ],
    );
    assert!(
        !replay.contains("Sam Example") && !replay.contains("2005-01-10"),
        "{replay}"
    );
    assert!(replay.contains("erased"), "{replay}");
    let case = Cli::on(&data).case(CRN);
    assert_eq!(case["person"], json!({"sealed": "erased"}));
    assert_eq!(
        case["sentences"].as_object().map(|s| s.len()),
        Some(1),
        "{case}"
    );
}
