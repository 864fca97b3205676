//! `caseledger erase CRN --reason TEXT` through the real binary, and erasure over HTTP from a
//! real `caseledger serve` child process (ERASE-1; docs/operations.md "Erasure"): afterwards
//! `case`, `replay` and `export` hold neither the person's name nor their date of birth, and
//! `verify --extends` with a root taken before the erasure passes.

mod engine_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const NAME: &str = "Sam Example";
const DATE_OF_BIRTH: &str = "1985-04-02";

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

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", text(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(output)))
}

/// A store (with its key-encryption key, made by `init`) holding case P500001, closed on
/// 2023-03-01, and case P500002, open.
fn store_with_a_closed_and_an_open_case(dir: &Path) -> PathBuf {
    use engine_support::*;
    let data = dir.join("data");
    let mut lines = Vec::new();
    for crn in ["P500001", "P500002"] {
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
        lines.push(as_court_officer("P500001", "2023-03-01", body));
    }
    let file = dir.join("commands.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let init = caseledger(&data, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    let import = caseledger(&data, &["import", file.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import));
    data
}

/// `ROOT@POSITION` from `verify`'s output.
fn verified_root(data: &Path) -> String {
    let verify = caseledger(data, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify));
    String::from_utf8_lossy(&verify.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("root "))
        .expect("verify prints a root line")
        .to_owned()
}

fn head(data: &Path) -> u64 {
    let root = verified_root(data);
    root.rsplit_once('@').unwrap().1.parse().unwrap()
}

#[test]
fn erase_1_erases_the_person_keeps_every_other_fact_and_the_chain_extends_the_earlier_root() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());
    let before = json_of(&caseledger(&data, &["case", "P500001"]));
    let published = verified_root(&data);

    let erase = caseledger(
        &data,
        &["erase", "P500001", "--reason", "retention ended (RET-1)"],
    );
    let receipt = json_of(&erase);
    assert_eq!(receipt["event_types"], json!(["PersonalDataErased"]));
    assert_eq!(receipt["deduplicated"], false);
    assert_eq!(receipt["data_key"], "destroyed");

    // The case shows the person erased; every other fact stays.
    let after = json_of(&caseledger(&data, &["case", "P500001"]));
    assert_eq!(after["person"], json!({"sealed": "erased"}));
    assert_eq!(after["personal_data_erased_on"], today_utc());
    for fact in ["crn", "opened_on", "closed_on", "pdu", "sentences"] {
        assert_eq!(after[fact], before[fact], "{fact}");
    }
    let other = json_of(&caseledger(&data, &["case", "P500002"]));
    assert_eq!(
        other["person"]["name"], NAME,
        "only the named case is erased"
    );

    // Recorded as the operating-system user, in the data protection officer's role.
    let access = json_of(&caseledger(&data, &["subject-access", "P500001"]));
    assert_eq!(access["data_key"], "destroyed");
    let erased = access["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "PersonalDataErased")
        .expect("the erasure is recorded");
    assert_eq!(erased["actor_role"], "data_protection_officer");
    assert_eq!(erased["actor_id"], os_user());
    let text_of_event = erased["event"].to_string();
    assert!(!text_of_event.contains(NAME) && !text_of_event.contains(DATE_OF_BIRTH));

    // The person was sealed in the log and their key is destroyed: neither the export nor a
    // replay of the case holds the name or the date of birth; the case not erased still
    // replays with them.
    let export = caseledger(&data, &["export"]);
    assert!(export.status.success(), "{}", text(&export));
    let exported = String::from_utf8_lossy(&export.stdout);
    assert!(exported.contains("PersonalDataErased"), "the whole log");
    assert!(!exported.contains(NAME) && !exported.contains(DATE_OF_BIRTH));
    let replay = caseledger(&data, &["replay", "P500001", "--format", "json"]);
    assert!(replay.status.success(), "{}", text(&replay));
    let replayed = String::from_utf8_lossy(&replay.stdout);
    assert!(
        !replayed.contains(NAME) && !replayed.contains(DATE_OF_BIRTH),
        "{replayed}"
    );
    let kept = caseledger(&data, &["replay", "P500002", "--format", "json"]);
    let kept = String::from_utf8_lossy(&kept.stdout);
    assert!(
        kept.contains(NAME) && kept.contains(DATE_OF_BIRTH),
        "{kept}"
    );

    // The chain is intact and extends the root published before the erasure.
    let verify = caseledger(&data, &["verify", "--extends", &published]);
    assert!(verify.status.success(), "{}", text(&verify));

    // Erased again: nothing written, the first erasure's position, the key stays destroyed.
    let head_before = head(&data);
    let again = json_of(&caseledger(
        &data,
        &["erase", "P500001", "--reason", "retention ended (RET-1)"],
    ));
    assert_eq!(again["deduplicated"], true);
    assert_eq!(again["first_position"], receipt["first_position"]);
    assert_eq!(again["data_key"], "destroyed");
    // Only the run's operator session is appended (audit-sessions), nothing to the case.
    assert_eq!(head(&data), head_before + 1);
    assert_eq!(
        json_of(&caseledger(&data, &["case", "P500001"]))["version"],
        after["version"]
    );

    // An erased case is no longer due for retention.
    let due = caseledger(
        &data,
        &[
            "retention",
            "--due",
            "--years-after-closure",
            "1",
            "--as-of",
            "2026-01-01",
        ],
    );
    assert!(due.status.success(), "{}", text(&due));
    assert!(!text(&due).contains("P500001"), "{}", text(&due));
}

/// The day an erasure run now is recorded on (UTC).
fn today_utc() -> Value {
    json!(jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string())
}

fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn erase_1_an_unknown_crn_or_an_unusable_reason_erases_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());

    let unknown = caseledger(
        &data,
        &["erase", "P599999", "--reason", "retention ended (RET-1)"],
    );
    assert_eq!(unknown.status.code(), Some(5), "{}", text(&unknown));
    assert!(text(&unknown).contains("P599999"), "{}", text(&unknown));
    let case = caseledger(&data, &["case", "P599999"]);
    assert!(!case.status.success(), "no case was made: {}", text(&case));

    let head_before = head(&data);
    for args in [
        vec!["erase", "P500001"],
        vec!["erase", "P500001", "--reason", ""],
        vec!["erase", "P500001", "--reason", &"x".repeat(501)],
        vec!["erase", "not-a-crn", "--reason", "retention ended (RET-1)"],
    ] {
        let out = caseledger(&data, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    // A reason naming the person: refused without quoting the name.
    let named = caseledger(
        &data,
        &[
            "erase",
            "P500001",
            "--reason",
            "retention ended for Sam Example",
        ],
    );
    assert_eq!(named.status.code(), Some(5), "{}", text(&named));
    let stderr = String::from_utf8_lossy(&named.stderr);
    assert!(
        stderr.contains("name") && !stderr.contains(NAME),
        "{stderr}"
    );

    let case = json_of(&caseledger(&data, &["case", "P500001"]));
    assert_eq!(case["person"]["name"], NAME, "nothing was erased");
    assert!(case.get("personal_data_erased_on").is_none(), "{case}");
    // Unusable arguments write nothing; the refusal and its run's operator session are the
    // only records the refused erasure adds.
    assert_eq!(head(&data), head_before + 2, "only audit records");
}

/// An erasure in an import file is refused (recorded): only the engine's erase path destroys
/// the key after recording the erasure.
#[test]
fn erase_1_an_erasure_in_an_import_file_is_refused_and_erases_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());
    let line = engine_support::command(
        "P500001",
        "data_protection_officer",
        "nps",
        "2026-12-06",
        json!({"type": "erase_personal_data", "crn": "P500001", "on": "2026-12-06",
               "reason": "retention ended (RET-1)"}),
    );
    let file = dir.path().join("erase.jsonl");
    std::fs::write(&file, line + "\n").unwrap();
    let import = caseledger(&data, &["import", file.to_str().unwrap()]);
    assert!(text(&import).contains("1 refused"), "{}", text(&import));
    let case = json_of(&caseledger(&data, &["case", "P500001"]));
    assert_eq!(case["person"]["name"], NAME, "nothing was erased");
    let access = json_of(&caseledger(&data, &["subject-access", "P500001"]));
    assert_ne!(access["data_key"], "destroyed");
    let refusal = access["refusals"].to_string();
    assert!(refusal.contains("caseledger erase"), "{refusal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_1_over_http_only_the_data_protection_role_may_erase() {
    use serve_support::*;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = caseledger(&data, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    let server = Server::start(&data, Keys::Hs256);
    let client = Client::new();
    let post = |token: String, body: Value| {
        client
            .post(server.url("/commands"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r = post(token("case_administrator"), open_case(1, "X500001"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let erase = |id: u128| {
        json!({"command_id": uuid(id), "crn": "X500001", "effective_at": "2026-12-06",
               "command": {"type": "erase_personal_data", "crn": "X500001", "on": "2026-12-06",
                           "reason": "retention ended (RET-1)"}})
    };

    // Any other role: 403 with a problem naming the role and who may; nothing erased.
    for role in [
        "senior_probation_officer",
        "inspector",
        "case_administrator",
    ] {
        let r = post(token(role), erase(2)).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{role}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["field"], "role", "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        let says_who = if role == "inspector" {
            "never change"
        } else {
            "allowed roles: data_protection_officer"
        };
        assert!(detail.contains(says_who), "{detail}");
    }
    let case: Value = client
        .get(server.url("/cases/X500001"))
        .bearer_auth(token("probation_officer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(case["person"]["name"], "Alex Example", "{case}");

    // The data protection officer, by role claim and by HMPPS authority.
    let r = post(token("data_protection_officer"), erase(3))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let receipt: Value = r.json().await.unwrap();
    assert_eq!(receipt["event_types"], json!(["PersonalDataErased"]));
    let by_authority = hs256(&json!({"sub": "dpo-2", "organisation": "nps",
        "authorities": ["ROLE_CASELEDGER_DATA_PROTECTION"], "exp": now_s() + 600}));
    let r = post(by_authority, erase(4)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["deduplicated"], true, "erased once: {again}");
    let case: Value = client
        .get(server.url("/cases/X500001"))
        .bearer_auth(token("probation_officer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(case["person"], json!({"sealed": "erased"}), "{case}");
}
