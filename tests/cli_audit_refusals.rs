//! The refusal stream is readable (`caseledger replay audit-refusals`, and `audit-sessions`),
//! and a command id reused on another case is a recorded refusal (`idempotency_conflict`,
//! exit 5), through the Engine and through the real binary.

mod cli_support;
mod engine_support;

use caseledger::commands::audit::RefusalKind;
use caseledger::commands::handler::CommandError;
use caseledger::{Engine, EngineConfig, EngineError};
use cli_support::Cli;
use engine_support::*;
use uuid::Uuid;

fn open_line(id: Uuid, crn: &str) -> String {
    command_with_id(
        id,
        crn,
        "case_administrator",
        "nps",
        "2022-03-01",
        open_case(crn, 79, "2022-03-01"),
    )
}

#[tokio::test]
async fn a_command_id_reused_on_another_case_is_a_recorded_refusal() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let id = Uuid::new_v4();
    engine
        .execute_json(&open_line(id, "X400001"))
        .await
        .unwrap();
    let refusal = match engine.execute_json(&open_line(id, "X400002")).await {
        Err(EngineError::Command(CommandError::Refused(r))) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refusal.kind, RefusalKind::IdempotencyConflict);
    assert!(
        refusal.reason.contains("X400001") && refusal.reason.contains("X400002"),
        "{}",
        refusal.reason
    );
    assert!(engine.case("X400002").await.unwrap().is_none());
    let recorded = engine.refusals().await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].command_id, id);
    assert_eq!(recorded[0].kind, RefusalKind::IdempotencyConflict);
}

/// Run the binary on `data` with `stdin`; (exit code, stdout, stderr).
fn caseledger(data: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    Cli::on(data).input(stdin.as_bytes()).run(args).parts()
}

#[test]
fn replay_shows_the_refusals_and_sessions_as_json_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = Uuid::new_v4();
    let (code, _, err) = caseledger(&data, &["exec"], &open_line(id, "X400001"));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = caseledger(&data, &["exec"], &open_line(id, "X400002"));
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("X400001") && err.contains("X400002"), "{err}");
    // A rule refusal too: a sentence on a case that does not exist.
    let line = as_court_officer("X400003", "2022-03-01", community_order("2022-03-01"));
    let (code, _, err) = caseledger(&data, &["exec"], &line);
    assert_eq!(code, 5, "{err}");

    let (code, out, err) = caseledger(&data, &["replay", "audit-refusals", "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 2, "{out}");
    assert_eq!(records[0]["record"]["kind"], "idempotency_conflict");
    assert_eq!(records[0]["record"]["command_id"], id.to_string());
    assert_eq!(records[0]["record"]["crn"], "X400002");
    assert_eq!(records[1]["record"]["kind"], "rule");
    assert_eq!(records[1]["record"]["command_type"], "impose_sentence");

    let (code, out, err) = caseledger(&data, &["replay", "audit-refusals"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("refused open_case"), "{out}");
    assert!(out.contains("2 record(s) in audit-refusals"), "{out}");

    let (code, out, err) = caseledger(&data, &["replay", "audit-sessions", "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["record"]["program"], "caseledger exec");
}

fn open_line_named(id: Uuid, crn: &str, name: &str) -> String {
    open_line(id, crn).replace("Sam Example", name)
}

#[tokio::test]
async fn the_same_command_id_with_other_content_is_refused_and_the_first_command_stands() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let id = Uuid::new_v4();
    let first = engine
        .execute_json(&open_line(id, "X400011"))
        .await
        .unwrap();
    let repeat = engine
        .execute_json(&open_line(id, "X400011"))
        .await
        .unwrap();
    assert!(repeat.deduplicated);
    assert_eq!(repeat.first_position, first.first_position);
    let before = engine.case_events("X400011").await.unwrap();
    let refusal = match engine
        .execute_json(&open_line_named(id, "X400011", "Alex Other"))
        .await
    {
        Err(EngineError::Command(CommandError::Refused(r))) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refusal.kind, RefusalKind::IdempotencyConflict);
    let original = caseledger::commands::parse_command(&open_line(id, "X400011")).unwrap();
    let changed =
        caseledger::commands::parse_command(&open_line_named(id, "X400011", "Alex Other")).unwrap();
    for fingerprint in [original.fingerprint(), changed.fingerprint()] {
        let hex: String = fingerprint.iter().map(|b| format!("{b:02x}")).collect();
        assert!(refusal.reason.contains(&hex), "{}", refusal.reason);
    }
    assert_eq!(engine.case_events("X400011").await.unwrap(), before);
    let recorded = engine.refusals().await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].kind, RefusalKind::IdempotencyConflict);
}

#[test]
fn the_cli_refuses_a_changed_command_under_an_applied_id_with_exit_5() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = Uuid::new_v4();
    let (code, _, err) = caseledger(&data, &["exec"], &open_line(id, "X400021"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = caseledger(&data, &["exec"], &open_line(id, "X400021"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"deduplicated\":true"), "{out}");
    let changed = open_line_named(id, "X400021", "Alex Other");
    let (code, _, err) = caseledger(&data, &["exec"], &changed);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("idempotency") || err.contains("fingerprint"),
        "{err}"
    );
    // The same through import: reported, recorded once, the import goes on.
    let file = dir.path().join("again.jsonl");
    std::fs::write(&file, format!("{changed}\n")).unwrap();
    let (code, _, err) = caseledger(&data, &["import", file.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("refused"), "{err}");
    let (code, out, err) = caseledger(&data, &["replay", "audit-refusals", "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("idempotency_conflict"), "{out}");
}

/// Through the library on a sled store: a command id reused on another case is refused as
/// `idempotency_conflict`, recorded in `audit-refusals` at the position the refusal names, and
/// read back by the audit-refusals reader (`Engine::audit_refusals`) — the records
/// `caseledger replay audit-refusals --format json` prints, line for line.
#[tokio::test]
async fn a_reused_command_id_is_read_back_through_the_audit_refusals_reader() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = Uuid::new_v4();
    let records = {
        let engine = Engine::open(EngineConfig::sled(&data)).unwrap();
        engine
            .execute_json(&open_line(id, "X400011"))
            .await
            .unwrap();
        let refusal = match engine.execute_json(&open_line(id, "X400012")).await {
            Err(EngineError::Command(CommandError::Refused(r))) => r,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(refusal.kind, RefusalKind::IdempotencyConflict);
        assert!(engine.case("X400012").await.unwrap().is_none());

        let records = engine.audit_refusals(None).await.unwrap();
        assert_eq!(records.len(), 1);
        let read = &records[0];
        assert_eq!(read.position, refusal.audit_position);
        assert_eq!(read.event_type, "CommandRefused");
        assert_eq!(read.record.command_id, id);
        assert_eq!(read.record.crn, "X400012");
        assert_eq!(read.record.kind, RefusalKind::IdempotencyConflict);
        assert_eq!(read.record.command_type, "open_case");
        assert!(
            read.record.reason.contains("X400011") && read.record.reason.contains("X400012"),
            "{}",
            read.record.reason
        );
        // As known before the refusal was recorded: nothing.
        let before: jiff::Timestamp = read.recorded_at.parse().unwrap();
        let earlier = before - jiff::SignedDuration::from_micros(1);
        assert!(engine
            .audit_refusals(Some(earlier))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(engine.audit_refusals(Some(before)).await.unwrap(), records);
        engine.flush().await.unwrap();
        records
    };
    let (code, out, err) = caseledger(&data, &["replay", "audit-refusals", "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    let printed: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let read: Vec<serde_json::Value> = records
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(printed, read);
}
