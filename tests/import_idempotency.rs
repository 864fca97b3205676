//! Idempotency survives export → import-log: re-executing any command of
//! the original run against the imported store returns `deduplicated` (or, for a refused
//! command, the original refusal record) and writes nothing — through the library and through
//! the real binary over sled.

mod engine_support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use caseledger::commands::audit::{refusal_key, REFUSALS_STREAM};
use caseledger::engine::EngineError;
use caseledger::replay::domain_payload::DomainPayloads;
use caseledger::replay::import::stage_import;
use caseledger::store::{
    ExpectedVersion, ManualClock, MemoryStore, NewEvent, RecordedEvent, StreamId,
};
use caseledger::{Engine, EngineConfig};
use engine_support::*;
use jiff::civil::date;
use serde_json::json;
use uuid::Uuid;

const NOTTINGHAM_CITY: u8 = 79;
const COMMUNITY: &str = "M600001";
const CUSTODY: &str = "M600002";

/// What executing one command line gave: where its events are, or where its refusal is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Applied {
        first: u64,
        last: u64,
        deduplicated: bool,
    },
    Refused {
        audit_position: Option<u64>,
    },
}

async fn run(engine: &Engine, line: &str) -> Outcome {
    match engine.execute_json(line).await {
        Ok(r) => Outcome::Applied {
            first: r.first_position,
            last: r.last_position,
            deduplicated: r.deduplicated,
        },
        Err(EngineError::BadCommand { audit_position, .. }) => Outcome::Refused { audit_position },
        Err(EngineError::Command(e)) => Outcome::Refused {
            audit_position: Some(
                e.refusal()
                    .expect("a refusal, not a failure")
                    .audit_position,
            ),
        },
        Err(other) => panic!("{other}\n{line}"),
    }
}

/// Accepted commands, derived decisions, a refusal for each reason (unauthorised, rule, bad
/// input), and time-driven commands.
fn scenario() -> Vec<String> {
    vec![
        as_case_administrator(
            COMMUNITY,
            "2020-03-02",
            open_case(COMMUNITY, NOTTINGHAM_CITY, "2020-03-02"),
        ),
        as_court_officer(COMMUNITY, "2020-03-02", community_order("2020-03-02")),
        // Unauthorised: an inspector only reads.
        command(
            COMMUNITY,
            "inspector",
            "hmip",
            "2020-03-03",
            assess("2020-03-03", "initial", "low"),
        ),
        // Rule: the case is already open.
        as_case_administrator(
            COMMUNITY,
            "2020-03-03",
            open_case(COMMUNITY, NOTTINGHAM_CITY, "2020-03-03"),
        ),
        // Bad input, with a readable command id and actor.
        as_probation_officer(COMMUNITY, "2020-03-03", json!({"type": "no_such_command"})),
        as_probation_officer(
            COMMUNITY,
            "2020-03-04",
            assess("2020-03-04", "initial", "medium"),
        ),
        as_court_officer(
            CUSTODY,
            "2020-03-02",
            open_case(CUSTODY, NOTTINGHAM_CITY, "2020-03-02"),
        ),
        as_court_officer(
            CUSTODY,
            "2020-03-02",
            json!({"type": "impose_sentence", "on": "2020-03-02", "sentence_type": "determinate_custody",
                   "court": "Nottingham Crown Court", "length_months": 36,
                   "dates": {"conditional_release_date": "2021-08-30", "sentence_expiry_date": "2023-03-01"},
                   "requirements": []}),
        ),
        // The NPS names a practitioner, who becomes the COM when it falls due.
        as_probation_officer(
            CUSTODY,
            "2020-03-03",
            assess("2020-03-03", "initial", "high"),
        ),
        as_probation_officer(
            CUSTODY,
            "2020-03-04",
            json!({"type": "allocate_to_provider", "on": "2020-03-04", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
        ),
        command(
            CUSTODY,
            "senior_probation_officer",
            "nps",
            "2020-03-05",
            json!({"type": "allocate_practitioner", "on": "2020-03-05", "team": "N07-T1",
                   "practitioner": {"staff_code": "N07P001", "name": "Jo Officer", "grade": "PO"}}),
        ),
    ]
}

/// Run the scenario on `engine`; return each line's outcome and what `advance_to` applied.
async fn original_run(engine: &Engine, lines: &[String]) -> (Vec<Outcome>, u64) {
    let mut outcomes = Vec::new();
    for line in lines {
        outcomes.push(run(engine, line).await);
    }
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Refused { .. }))
        .count();
    assert_eq!(refused, 3, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| !matches!(
        o,
        Outcome::Refused {
            audit_position: None
        }
    )));
    let tick = engine.advance_to(date(2021, 5, 1)).await.unwrap();
    assert_eq!(
        tick.applied.len(),
        2,
        "COM allocation and transfer: {tick:?}"
    );
    (outcomes, tick.applied.len() as u64)
}

/// Re-run every line (and the tick) on the imported store: each gives its original outcome,
/// marked deduplicated, and the log does not grow.
async fn rerun_writes_nothing(imported: &Engine, lines: &[String], original: &[Outcome]) {
    let head = imported.store().head().await.unwrap();
    for (line, before) in lines.iter().zip(original) {
        let again = run(imported, line).await;
        let expected = match before.clone() {
            Outcome::Applied { first, last, .. } => Outcome::Applied {
                first,
                last,
                deduplicated: true,
            },
            refused => refused,
        };
        assert_eq!(again, expected, "{line}");
    }
    let tick = imported.advance_to(date(2021, 5, 1)).await.unwrap();
    assert!(tick.applied.is_empty(), "{tick:?}");
    assert!(tick.blocked.is_empty(), "{tick:?}");
    assert_eq!(imported.refusals().await.unwrap().len(), 3);

    // The store's own index answers every append of the original run as the original store
    // did, whether or not the handler would have found it by reading the case: each record,
    // appended again under the key the handler used for it, is a repeat of its own append.
    let records = imported.store().read_all(1, 4_096).await.unwrap();
    assert_eq!(records.len() as u64, head);
    for record in &records {
        let key = if record.stream_id == REFUSALS_STREAM {
            refusal_key(record.command_id)
        } else {
            record.command_id
        };
        let repeat = imported
            .store()
            .append(
                &StreamId::new(record.stream_id.clone()).unwrap(),
                ExpectedVersion::Any,
                vec![as_new_event(record)],
                Some(key),
            )
            .await
            .unwrap();
        assert!(repeat.deduplicated, "{record:?}");
        assert!(
            (repeat.first_position..=repeat.last_position).contains(&record.position),
            "{repeat:?} {record:?}"
        );
    }
    assert_eq!(
        imported.store().head().await.unwrap(),
        head,
        "nothing written"
    );
}

fn as_new_event(record: &RecordedEvent) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        ..record.as_appended()
    }
}

#[tokio::test]
async fn after_import_every_command_of_the_original_run_is_a_repeat() {
    let source_clock = Arc::new(ManualClock::new(1_583_139_600_000_000));
    let source = Engine::with_store(Arc::new(MemoryStore::new(source_clock.clone())));
    let lines = scenario();
    let (outcomes, _) = original_run(&source, &lines).await;
    let mut export = Vec::new();
    let exported = source.export(&mut export).await.unwrap();

    // The handler keys refusal records by refusal_key(command id), which is also their
    // event id: the import relies on that (commands/src/handler.rs record_refusal).
    let refusals = source
        .store()
        .read_stream(&StreamId::new(REFUSALS_STREAM).unwrap(), 1)
        .await
        .unwrap();
    assert_eq!(refusals.len(), 3);
    for record in &refusals {
        assert_eq!(record.event_id, refusal_key(record.command_id));
    }

    let clock = Arc::new(ManualClock::new(0));
    let target = Arc::new(MemoryStore::new(clock.clone()));
    let staged = stage_import(export.as_slice(), &DomainPayloads).unwrap();
    let summary = staged
        .commit(target.as_ref(), &clock, &DomainPayloads)
        .await
        .unwrap();
    assert_eq!(summary.head, exported.head);
    assert_eq!(summary.root, exported.root);
    // Every command of the run (accepted, derived or time-driven) and every refusal.
    let commands = lines.len() as u64 + 2;
    assert_eq!(summary.appends_keyed, commands);

    let imported = Engine::with_store(target);
    rerun_writes_nothing(&imported, &lines, &outcomes).await;
    assert_eq!(imported.verify(None).await.unwrap().root, exported.root);
}

fn caseledger(data: &Path, args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "caseledger {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test]
async fn after_cli_export_and_import_log_over_sled_every_command_is_a_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let target = dir.path().join("target");
    let lines = scenario();
    let outcomes = {
        let engine = Engine::open(EngineConfig::sled(&source)).unwrap();
        original_run(&engine, &lines).await.0
    };
    let export = caseledger(&source, &["export"]).stdout;
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, export).unwrap();
    caseledger(&target, &["import-log", file.to_str().unwrap()]);

    let imported = Engine::open(EngineConfig::sled(&target)).unwrap();
    rerun_writes_nothing(&imported, &lines, &outcomes).await;
}
