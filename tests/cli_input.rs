//! Bad input through the real binary: a line of `import` that is not UTF-8, dates outside
//! 1900..=2100 (INPUT-DATE), a sentence before the age of criminal responsibility (ACR-1), the
//! nil UUID as command id (INPUT-ID), and the exit codes of every subcommand (2: an argument
//! that cannot be used; 3: bad input read from a file or stdin).

mod cli_support;
mod engine_support;

use std::path::Path;

use cli_support::Cli;
use engine_support::*;
use serde_json::json;
use uuid::Uuid;

const NOTTINGHAM_CITY: u8 = 79;

/// Run the binary on `data` with `stdin`; (exit code, stdout, stderr).
fn caseledger(data: &Path, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    Cli::on(data).input(stdin).run(args).parts()
}

fn open_line(crn: &str, on: &str) -> String {
    as_case_administrator(crn, on, open_case(crn, NOTTINGHAM_CITY, on))
}

fn ack_statuses(path: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["line"].as_u64().unwrap(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The case's state, or None when the store has no such case.
fn case(data: &Path, crn: &str) -> Option<serde_json::Value> {
    let (code, out, _) = caseledger(data, &["case", crn], b"");
    (code == 0).then(|| serde_json::from_str(&out).unwrap())
}

#[test]
fn input_utf8_a_line_that_is_not_utf8_stops_the_import_naming_it_and_earlier_lines_are_committed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("commands.jsonl");
    let ack = dir.path().join("ack.jsonl");
    // Six cases, one line each, all in one batch: line 4 has a Latin-1 "é" (0xE9) in a name.
    let lines: Vec<Vec<u8>> = (1..=6)
        .map(|i| {
            let line = open_line(&format!("X50000{i}"), "2022-03-01");
            if i == 4 {
                line.replace("Sam Example", "Ren\u{e9}e Example")
                    .into_bytes()
                    .into_iter()
                    .flat_map(|b| match b {
                        0xC3 => vec![],
                        0xA9 => vec![0xE9],
                        other => vec![other],
                    })
                    .collect()
            } else {
                line.into_bytes()
            }
        })
        .collect();
    assert!(std::str::from_utf8(&lines[3]).is_err());
    let mut bytes = Vec::new();
    for line in &lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    std::fs::write(&file, &bytes).unwrap();

    let args = [
        "import",
        file.to_str().unwrap(),
        "--ack-log",
        ack.to_str().unwrap(),
    ];
    let (code, _, err) = caseledger(&data, &args, b"");
    assert_eq!(code, 3, "{err}");
    let expected = format!("{}:4: input: not valid UTF-8 at byte ", file.display());
    assert!(err.contains(&expected), "{err}");
    // Every line before it is committed and acknowledged; nothing after it is applied.
    let applied: Vec<(u64, String)> = (1..=3).map(|l| (l, "applied".to_owned())).collect();
    assert_eq!(ack_statuses(&ack), applied);
    for i in 1..=6 {
        assert_eq!(
            case(&data, &format!("X50000{i}")).is_some(),
            i < 4,
            "X50000{i}"
        );
    }

    // exec: the same bad input from stdin is exit 3 too, and writes nothing.
    let (code, _, err) = caseledger(&data, &["exec"], &lines[3]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("stdin: input: not valid UTF-8"), "{err}");
    assert!(case(&data, "X500004").is_none());
}

#[test]
fn input_date_a_date_outside_1900_to_2100_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let crn = "X500101";
    let born_1899 = open_line(crn, "2022-03-01").replace("1985-04-02", "1899-12-31");
    let (code, _, err) = caseledger(&data, &["exec"], born_1899.as_bytes());
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("command.person.date_of_birth: 1899-12-31 is outside 1900-01-01..=2100-12-31"),
        "{err}"
    );
    let effective_2101 = as_case_administrator(
        crn,
        "2101-03-01",
        open_case(crn, NOTTINGHAM_CITY, "2022-03-01"),
    );
    let (code, _, err) = caseledger(&data, &["exec"], effective_2101.as_bytes());
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("effective_at: 2101-03-01 is outside"), "{err}");
    assert!(case(&data, crn).is_none(), "nothing is written");

    let (code, _, err) = caseledger(&data, &["exec"], open_line(crn, "2022-03-01").as_bytes());
    assert_eq!(code, 0, "{err}");
    let mut order = community_order("2022-03-01");
    order["dates"]["sentence_expiry_date"] = json!("2202-03-01");
    let (code, _, err) = caseledger(
        &data,
        &["exec"],
        as_court_officer(crn, "2022-03-01", order).as_bytes(),
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("command.dates.sentence_expiry_date: 2202-03-01 is outside"),
        "{err}"
    );
    assert_eq!(case(&data, crn).unwrap()["sentences"], json!({}));
}

#[test]
fn acr_1_a_sentence_before_the_tenth_birthday_is_refused_naming_both_dates_without_the_birth_date()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let crn = "X500201";
    let open = open_line(crn, "2021-03-01").replace("1985-04-02", "2011-05-01");
    let (code, _, err) = caseledger(&data, &["exec"], open.as_bytes());
    assert_eq!(code, 0, "{err}");
    let sentence = |on: &str| as_court_officer(crn, on, community_order(on));
    // The day before the tenth birthday: refused (recorded, exit 5), nothing written.
    let (code, _, err) = caseledger(&data, &["exec"], sentence("2021-04-30").as_bytes());
    assert_eq!(code, 5, "{err}");
    for needle in [
        "command.on",
        "2021-04-30",
        "person.date_of_birth",
        "ACR-1, Children and Young Persons Act 1933 s.50",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // The refusal is kept in the log, so it names the date-of-birth field, never the date.
    assert!(!err.contains("2011-05-01"), "{err}");
    assert_eq!(case(&data, crn).unwrap()["sentences"], json!({}));
    let (code, out, err) = caseledger(
        &data,
        &["replay", "audit-refusals", "--format", "json"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ACR-1"), "{out}");
    assert!(!out.contains("2011-05-01"), "{out}");
    // On the tenth birthday: accepted.
    let (code, _, err) = caseledger(&data, &["exec"], sentence("2021-05-01").as_bytes());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn input_id_the_nil_uuid_as_command_id_is_refused_and_nothing_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let line = command_with_id(
        Uuid::nil(),
        "X500301",
        "case_administrator",
        "nps",
        "2022-03-01",
        open_case("X500301", NOTTINGHAM_CITY, "2022-03-01"),
    );
    let (code, _, err) = caseledger(&data, &["exec"], line.as_bytes());
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("command_id: is the nil UUID"), "{err}");
    assert!(case(&data, "X500301").is_none());
    // Not even a refusal record: one under the nil id would be shared by every such sender.
    let (code, out, err) = caseledger(&data, &["replay", "audit-refusals"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 record(s) in audit-refusals"), "{out}");
}

#[test]
fn exit_codes_arguments_that_cannot_be_used_are_2_and_bad_input_is_3_in_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let crn = "X500401";
    let (code, _, err) = caseledger(&data, &["exec"], open_line(crn, "2022-03-01").as_bytes());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = caseledger(&data, &["replay", crn, "--format", "json"], b"");
    assert_eq!(code, 0, "{err}");
    let event_id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["entries"][0]
        ["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let some_uuid = Uuid::new_v4().to_string();
    let arguments: Vec<Vec<&str>> = vec![
        vec!["tick", "--to", "2022-13-01"],
        vec!["case", "not-a-crn"],
        vec!["report", "caseload", "--today", "someday"],
        vec!["report", "caseload", "--as-of-recorded", "yesterday"],
        vec!["report", "caseload", "--as-of-effective", "2022-02-30"],
        vec!["report", "mappa", "--by", "team"],
        vec!["replay", "not-a-crn"],
        vec!["replay", crn, "--as-of-recorded", "yesterday"],
        vec![
            "replay",
            "audit-refusals",
            "--as-of-effective",
            "2022-03-01",
        ],
        vec!["explain", "not-a-uuid"],
        vec!["explain", &event_id, "--today", "someday"],
        vec!["verify", "--extends", "nonsense"],
        vec!["consumers", "--format", "yaml"],
        vec!["demo", "--people", "0"],
        vec!["import"],
        vec!["nonsense"],
    ];
    for args in &arguments {
        let (code, _, err) = caseledger(&data, args, b"");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.trim().is_empty(), "{args:?} says why");
    }
    let (code, _, err) = caseledger(&data, &["explain", &some_uuid], b"");
    assert_eq!(
        code, 1,
        "an event that is not in the log is not found: {err}"
    );

    // Bad input read from a file or stdin: 3.
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, "{\"command_id\": 1}\n").unwrap();
    let export = dir.path().join("export.jsonl");
    let (code, out, err) = caseledger(&data, &["export"], b"");
    assert_eq!(code, 0, "{err}");
    let altered = out.replacen(
        "\"opened_on\":\"2022-03-01\"",
        "\"opened_on\":\"2022-03-02\"",
        1,
    );
    assert_ne!(altered, out);
    std::fs::write(&export, altered).unwrap();
    let inputs: Vec<(Vec<&str>, &[u8])> = vec![
        (vec!["exec"], b"{\"command_id\": 1}"),
        (vec!["import", file.to_str().unwrap()], b""),
    ];
    for (args, stdin) in &inputs {
        let (code, _, err) = caseledger(&data, args, stdin);
        assert_eq!(code, 3, "{args:?}: {err}");
    }
    let fresh = dir.path().join("fresh");
    let (code, _, err) = caseledger(&fresh, &["import-log", export.to_str().unwrap()], b"");
    assert_eq!(code, 3, "import-log of an altered export: {err}");
    assert!(err.contains("import refused at line"), "{err}");
}
