//! Issue 6 through the Engine only: the bitemporal case as-of with a late-recorded risk
//! assessment, the explanation of a handover decision, a verify root that survives reopening
//! a sled store, export, and read models as of a recorded instant.

mod engine_support;

use std::sync::Arc;

use caseledger::domain::risk::RoshLevel;
use caseledger::engine_audit::AuditError;
use caseledger::replay::asof::AsOf;
use caseledger::replay::verify::Extension;
use caseledger::replay::ReplayError;
use caseledger::store::{EventStore, ManualClock, MemoryStore};
use caseledger::{Engine, EngineConfig};
use engine_support::*;
use jiff::civil::date;
use jiff::Timestamp;
use serde_json::json;

const NOTTINGHAM_CITY: u8 = 79;

fn at(text: &str) -> Timestamp {
    text.parse().expect("test instant")
}

async fn ok(engine: &Engine, line: String) -> caseledger::commands::Receipt {
    match engine.execute_json(&line).await {
        Ok(receipt) => receipt,
        Err(e) => panic!("command refused: {e}\n{line}"),
    }
}

/// An engine whose store stamps `recorded_at` from a clock the test moves.
fn engine_with_clock() -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        at("2024-01-05T09:00:00Z").as_microsecond(),
    ));
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new(clock.clone()));
    (Engine::with_store(store), clock)
}

/// Bitemporal as-of: a RoSH assessment effective on 20 January but recorded
/// only on 3 March. Asked what was known in February, the case is at the January RoSH; asked
/// with everything recorded, it depends on the effective bound alone.
#[tokio::test]
async fn a_late_recorded_risk_assessment_changes_case_as_of_by_recorded_instant() {
    const CRN: &str = "L100001";
    let (engine, clock) = engine_with_clock();
    ok(
        &engine,
        as_case_administrator(
            CRN,
            "2024-01-05",
            open_case(CRN, NOTTINGHAM_CITY, "2024-01-05"),
        ),
    )
    .await;
    ok(
        &engine,
        as_court_officer(CRN, "2024-01-05", community_order("2024-01-05")),
    )
    .await;
    clock.set(at("2024-01-10T10:00:00Z").as_microsecond());
    ok(
        &engine,
        as_probation_officer(CRN, "2024-01-10", assess("2024-01-10", "initial", "low")),
    )
    .await;
    // Effective 20 January, keyed in on 3 March.
    clock.set(at("2024-03-03T14:00:00Z").as_microsecond());
    ok(
        &engine,
        as_probation_officer(CRN, "2024-01-20", assess("2024-01-20", "review", "high")),
    )
    .await;

    let rosh =
        |state: Option<caseledger::domain::CaseState>| state.expect("the case was known").risk.rosh;
    // Known in February: only the January assessment.
    let february = engine
        .case_as_of(CRN, Some(at("2024-02-15T12:00:00Z")), None)
        .await
        .unwrap();
    assert_eq!(rosh(february), Some(RoshLevel::Low));
    // Known by the end of 3 March: the late assessment holds from 20 January.
    let march = engine
        .case_as_of(CRN, Some(at("2024-03-03T23:59:59Z")), None)
        .await
        .unwrap();
    assert_eq!(rosh(march), Some(RoshLevel::High));
    // Everything known, in effect on 15 January: the late one is not yet in effect.
    let in_effect_15th = engine
        .case_as_of(CRN, None, Some(at("2024-01-15T23:59:59Z")))
        .await
        .unwrap();
    assert_eq!(rosh(in_effect_15th), Some(RoshLevel::Low));
    // Everything known, in effect on 25 January: high.
    let in_effect_25th = engine
        .case_as_of(CRN, None, Some(at("2024-01-25T23:59:59Z")))
        .await
        .unwrap();
    assert_eq!(rosh(in_effect_25th), Some(RoshLevel::High));
    // What February knew about 25 January: the late assessment was not known yet.
    let february_about_25th = engine
        .case_as_of(
            CRN,
            Some(at("2024-02-15T12:00:00Z")),
            Some(at("2024-01-25T23:59:59Z")),
        )
        .await
        .unwrap();
    assert_eq!(rosh(february_about_25th), Some(RoshLevel::Low));
    // Before anything was recorded the service did not know the case.
    let before = engine
        .case_as_of(CRN, Some(at("2024-01-04T00:00:00Z")), None)
        .await
        .unwrap();
    assert!(before.is_none());
    // The current view equals the unbounded as-of.
    let now = engine.case(CRN).await.unwrap();
    assert_eq!(engine.case_as_of(CRN, None, None).await.unwrap(), now);

    // The history as of February lists what was recorded later as left out.
    let history = engine
        .history(
            CRN,
            AsOf {
                recorded_through_us: Some(at("2024-02-15T12:00:00Z").as_microsecond()),
                effective_through_us: None,
            },
        )
        .await
        .unwrap();
    assert!(history.recorded_later >= 1, "{}", history.recorded_later);
    assert!(history
        .entries
        .iter()
        .all(|e| e.recorded_at.as_str() < "2024-03"));
    let full = engine.history(CRN, AsOf::now()).await.unwrap();
    assert_eq!(full.recorded_later, 0);
    assert_eq!(
        full.entries.len() as u64,
        history.entries.len() as u64 + history.recorded_later
    );
}

#[tokio::test]
async fn audit_queries_refuse_bad_input_with_typed_errors() {
    let (engine, _clock) = engine_with_clock();
    let bad = engine.history("not-a-crn", AsOf::now()).await;
    assert!(matches!(bad, Err(AuditError::BadCrn(_))), "{bad:?}");
    let system_stream = engine.case_as_of("audit-refusals", None, None).await;
    assert!(matches!(system_stream, Err(AuditError::BadCrn(_))));
    let missing = engine.history("Z999999", AsOf::now()).await;
    assert!(
        matches!(
            missing,
            Err(AuditError::Replay(ReplayError::NoSuchCase { .. }))
        ),
        "{missing:?}"
    );
    let no_event = engine
        .explain(uuid::Uuid::from_u128(7), date(2025, 1, 1))
        .await;
    assert!(
        matches!(
            no_event,
            Err(AuditError::Replay(ReplayError::NoSuchEvent { .. }))
        ),
        "{no_event:?}"
    );
    let no_report = engine
        .read_model_as_of("no-such-report", AsOf::now(), date(2025, 1, 1))
        .await;
    let text = no_report.expect_err("unknown report").to_string();
    assert!(text.contains("caseload"), "{text}");
}

/// Explain through the Engine: the handover decision derived when a
/// custodial sentence is imposed in 2020 (England, OMiC 2019; handover-rules.md §7.3–7.4) is
/// re-evaluated under the rules of its time with the same result, and its actor is the engine.
#[tokio::test]
async fn explain_a_handover_decision_through_the_engine() {
    const CRN: &str = "C300001";
    let (engine, clock) = engine_with_clock();
    clock.set(at("2020-03-02T10:00:00Z").as_microsecond());
    ok(
        &engine,
        as_court_officer(
            CRN,
            "2020-03-02",
            open_case(CRN, NOTTINGHAM_CITY, "2020-03-02"),
        ),
    )
    .await;
    ok(&engine, as_court_officer(CRN,"2020-03-02",
        json!({"type": "impose_sentence", "on": "2020-03-02", "sentence_type": "determinate_custody",
               "court": "Nottingham Crown Court", "length_months": 36,
               "dates": {"conditional_release_date": "2021-08-30", "sentence_expiry_date": "2023-03-01"},
               "requirements": []}))).await;
    let events = engine.case_events(CRN).await.unwrap();
    let decision = events
        .iter()
        .find(|e| e.event_type == "HandoverDatesCalculated")
        .expect("a derived handover decision");

    let explanation = engine
        .explain(decision.event_id, date(2025, 6, 1))
        .await
        .unwrap();
    assert_eq!(explanation.event_id, decision.event_id);
    assert_eq!(explanation.stream_id, CRN);
    assert_eq!(explanation.event_type, "HandoverDatesCalculated");
    assert_eq!(explanation.actor.role, "system");
    assert_eq!(explanation.ruleset_id, decision.ruleset_id);
    assert_eq!(explanation.today, "2025-06-01");
    let recorded = explanation
        .recorded_outcome
        .clone()
        .expect("a recorded outcome");
    assert_eq!(recorded["start_date"], "2021-01-15", "CRD − 7m15d");
    assert_eq!(recorded["handover_date"], "2021-04-15", "CRD − 4m15d");
    let again = explanation
        .reevaluation
        .as_ref()
        .expect("re-evaluated under the rules of its time");
    assert!(again.same_as_recorded, "{explanation:#?}");
    assert!(explanation.under_todays_rules.is_some(), "{explanation:#?}");

    // A fact is not a decision.
    let opened = &events[0];
    let fact = engine.explain(opened.event_id, date(2025, 6, 1)).await;
    assert!(
        matches!(
            fact,
            Err(AuditError::Replay(ReplayError::NotADecision { .. }))
        ),
        "{fact:?}"
    );
}

/// Verify: the root published before closing a sled store is the root after
/// reopening it, the reopened log extends it, and a new record moves the root while still
/// extending the published checkpoint.
#[tokio::test]
async fn verify_root_is_stable_across_reopening_a_sled_store() {
    const CRN: &str = "S400001";
    let dir = tempfile::tempdir().unwrap();
    let published = {
        let engine = Engine::open(EngineConfig::sled(dir.path())).unwrap();
        ok(
            &engine,
            as_case_administrator(
                CRN,
                "2024-02-01",
                open_case(CRN, NOTTINGHAM_CITY, "2024-02-01"),
            ),
        )
        .await;
        ok(
            &engine,
            as_court_officer(CRN, "2024-02-01", community_order("2024-02-01")),
        )
        .await;
        let outcome = engine.verify(None).await.unwrap();
        assert!(outcome.is_ok(), "{outcome:?}");
        assert!(outcome.head >= 2);
        engine.flush().await.unwrap();
        outcome.checkpoint()
    };

    let engine = Engine::open(EngineConfig::sled(dir.path())).unwrap();
    let reopened = engine.verify(Some(published)).await.unwrap();
    assert!(reopened.is_ok(), "{reopened:?}");
    assert_eq!(reopened.checkpoint(), published);
    assert_eq!(
        reopened.extension.as_ref().map(|(_, e)| e.clone()),
        Some(Extension::Extends)
    );

    ok(
        &engine,
        as_probation_officer(CRN, "2024-02-02", assess("2024-02-02", "initial", "medium")),
    )
    .await;
    let grown = engine.verify(Some(published)).await.unwrap();
    assert!(grown.is_ok(), "{grown:?}");
    assert!(grown.head > published.position);
    assert_ne!(grown.root, published.root);

    // Export writes a header and one line per record, under the same root.
    let mut out = Vec::new();
    let summary = engine.export(&mut out).await.unwrap();
    assert_eq!(summary.root, grown.root);
    assert_eq!(summary.head, grown.head);
    let lines = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    assert_eq!(lines as u64, summary.head + 1);

    // Its keys: the case's person's data key, wrapped, for the export `ROOT@HEAD`.
    let mut keys = Vec::new();
    let held = engine.export_keys(&summary, &mut keys).await.unwrap();
    assert_eq!((held.live, held.destroyed), (1, 0));
    let keys = String::from_utf8(keys).unwrap();
    let lines: Vec<&str> = keys.lines().collect();
    assert_eq!(lines.len(), 3, "{keys}");
    let header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["export"], published_of(&summary));
    assert!(lines[1].starts_with(&format!("{{\"subject\":\"{CRN}\",\"key\":\"")));
    assert_eq!(lines[2], r#"{"keys":1}"#);
}

fn published_of(summary: &caseledger::replay::export::ExportSummary) -> String {
    caseledger::replay::verify::Checkpoint {
        root: summary.root,
        position: summary.head,
    }
    .to_string()
}

/// Any read model as of a recorded instant: before the case was recorded the
/// report is what an empty log gives; with everything recorded it is the current report.
#[tokio::test]
async fn read_model_as_of_a_recorded_instant_leaves_out_later_records() {
    const CRN: &str = "R500001";
    let (engine, clock) = engine_with_clock();
    let (empty, _) = engine_with_clock();
    let today = date(2024, 2, 1);
    clock.set(at("2024-01-10T09:00:00Z").as_microsecond());
    ok(
        &engine,
        as_case_administrator(
            CRN,
            "2024-01-10",
            open_case(CRN, NOTTINGHAM_CITY, "2024-01-10"),
        ),
    )
    .await;
    ok(
        &engine,
        as_court_officer(CRN, "2024-01-10", community_order("2024-01-10")),
    )
    .await;
    for name in caseledger::projections::report::REPORTS {
        let before = engine
            .read_model_as_of(
                name,
                AsOf {
                    recorded_through_us: Some(at("2024-01-09T23:59:59Z").as_microsecond()),
                    effective_through_us: None,
                },
                today,
            )
            .await
            .unwrap();
        let nothing = empty
            .read_model_as_of(name, AsOf::now(), today)
            .await
            .unwrap();
        assert_eq!(before, nothing, "{name}");
    }
    let allocations_now = engine
        .read_model_as_of("allocations", AsOf::now(), today)
        .await
        .unwrap();
    let allocations_empty = empty
        .read_model_as_of("allocations", AsOf::now(), today)
        .await
        .unwrap();
    assert_ne!(
        allocations_now, allocations_empty,
        "a sentenced, unallocated case shows in the allocations report"
    );
}
