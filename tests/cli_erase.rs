//! `caseledger erase CRN --reason TEXT` through the real binary, and erasure over HTTP from a
//! real `caseledger serve` child process (ERASE-1; docs/operations.md "Erasure"): afterwards
//! `case`, `replay` and `export` hold neither the person's name nor their date of birth, and
//! `verify --extends` with a root taken before the erasure passes.

mod cli_support;
mod engine_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli_support::{caseledger, command_file, Cli};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const NAME: &str = "Sam Example";
const DATE_OF_BIRTH: &str = "1985-04-02";

/// A store (with its key-encryption key, made by `init`) holding case P500001, closed on
/// 2023-03-01, and case P500002, open.
fn store_with_a_closed_and_an_open_case(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let lines = engine_support::closed_and_open_case("P500001", "P500002");
    Cli::on(&data).init_and_import(dir, &lines);
    data
}

/// The head position of the log, from `verify`'s `ROOT@POSITION`.
fn head(data: &Path) -> u64 {
    let root = Cli::on(data).verified_root();
    root.rsplit_once('@').unwrap().1.parse().unwrap()
}

#[test]
fn erase_1_erases_the_person_keeps_every_other_fact_and_the_chain_extends_the_earlier_root() {
    let dir = tempfile::tempdir().unwrap();
    let data = store_with_a_closed_and_an_open_case(dir.path());
    let before = caseledger(&data, &["case", "P500001"]).json();
    let published = Cli::on(&data).verified_root();

    let erase = caseledger(
        &data,
        &["erase", "P500001", "--reason", "retention ended (RET-1)"],
    );
    let receipt = erase.json();
    assert_eq!(receipt["event_types"], json!(["PersonalDataErased"]));
    assert_eq!(receipt["deduplicated"], false);
    assert_eq!(receipt["data_key"], "destroyed");

    // The case shows the person erased; every other fact stays.
    let after = caseledger(&data, &["case", "P500001"]).json();
    assert_eq!(after["person"], json!({"sealed": "erased"}));
    assert_eq!(after["personal_data_erased_on"], today_utc());
    for fact in ["crn", "opened_on", "closed_on", "pdu", "sentences"] {
        assert_eq!(after[fact], before[fact], "{fact}");
    }
    let other = caseledger(&data, &["case", "P500002"]).json();
    assert_eq!(
        other["person"]["name"], NAME,
        "only the named case is erased"
    );

    // Recorded as the operating-system user, in the data protection officer's role.
    let access = caseledger(&data, &["subject-access", "P500001"]).json();
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
    assert!(export.success(), "{}", export.text());
    let exported = &export.stdout;
    assert!(exported.contains("PersonalDataErased"), "the whole log");
    assert!(!exported.contains(NAME) && !exported.contains(DATE_OF_BIRTH));
    let replay = caseledger(&data, &["replay", "P500001", "--format", "json"]);
    assert!(replay.success(), "{}", replay.text());
    let replayed = &replay.stdout;
    assert!(
        !replayed.contains(NAME) && !replayed.contains(DATE_OF_BIRTH),
        "{replayed}"
    );
    let kept = caseledger(&data, &["replay", "P500002", "--format", "json"]);
    let kept = &kept.stdout;
    assert!(
        kept.contains(NAME) && kept.contains(DATE_OF_BIRTH),
        "{kept}"
    );

    // The chain is intact and extends the root published before the erasure.
    let verify = caseledger(&data, &["verify", "--extends", &published]);
    assert!(verify.success(), "{}", verify.text());

    // Erased again: nothing written, the first erasure's position, the key stays destroyed.
    let head_before = head(&data);
    let again = caseledger(
        &data,
        &["erase", "P500001", "--reason", "retention ended (RET-1)"],
    )
    .json();
    assert_eq!(again["deduplicated"], true);
    assert_eq!(again["first_position"], receipt["first_position"]);
    assert_eq!(again["data_key"], "destroyed");
    // Only the run's operator session is appended (audit-sessions), nothing to the case.
    assert_eq!(head(&data), head_before + 1);
    assert_eq!(
        caseledger(&data, &["case", "P500001"]).json()["version"],
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
    assert!(due.success(), "{}", due.text());
    assert!(!due.text().contains("P500001"), "{}", due.text());
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
    assert_eq!(unknown.code, 5, "{}", unknown.text());
    assert!(unknown.text().contains("P599999"), "{}", unknown.text());
    let case = caseledger(&data, &["case", "P599999"]);
    assert!(!case.success(), "no case was made: {}", case.text());

    let head_before = head(&data);
    for args in [
        vec!["erase", "P500001"],
        vec!["erase", "P500001", "--reason", ""],
        vec!["erase", "P500001", "--reason", &"x".repeat(501)],
        vec!["erase", "not-a-crn", "--reason", "retention ended (RET-1)"],
    ] {
        let out = caseledger(&data, &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.text());
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
    assert_eq!(named.code, 5, "{}", named.text());
    let stderr = &named.stderr;
    assert!(
        stderr.contains("name") && !stderr.contains(NAME),
        "{stderr}"
    );

    let case = caseledger(&data, &["case", "P500001"]).json();
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
    let file = command_file(dir.path(), "erase.jsonl", &[line]);
    let import = caseledger(&data, &["import", file.to_str().unwrap()]);
    assert!(import.text().contains("1 refused"), "{}", import.text());
    let case = caseledger(&data, &["case", "P500001"]).json();
    assert_eq!(case["person"]["name"], NAME, "nothing was erased");
    let access = caseledger(&data, &["subject-access", "P500001"]).json();
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
    assert!(init.success(), "{}", init.text());
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
