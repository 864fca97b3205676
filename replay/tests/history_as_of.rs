//! Case history and the bitemporal as-of, on a real store with real
//! domain events folded by the domain's `evolve`.

mod support;

use caseledger_domain::risk::RoshLevel;
use caseledger_domain::ruleset::RulesetId;
use caseledger_replay::asof::{parse_bound, AsOf};
use caseledger_replay::domain_model::DomainCase;
use caseledger_replay::history::{case_history, state_as_of, HistoryOptions};
use caseledger_store::RecordedEvent;
use serde_json::json;
use support::events::*;
use support::*;

const CRN: &str = "X000001";

/// A case whose January risk assessment (RoSH high) was recorded only in March.
async fn late_assessment_case() -> (TestLog, Vec<RecordedEvent>) {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    log.open_case(CRN, "2025-01-06", officer.clone()).await;
    log.append(
        CRN,
        risk_assessed("2025-01-10", RoshLevel::Medium, RulesetId::Unified2021),
        day_us("2025-01-10"),
        us("2025-01-10T10:00:00Z"),
        officer.clone(),
    )
    .await;
    // Another case in between: streams interleave in the log.
    log.open_case("Y000002", "2025-02-01", officer.clone())
        .await;
    // Effective 20 January, recorded 3 March at 15:00.
    log.append(
        CRN,
        risk_assessed("2025-01-20", RoshLevel::High, RulesetId::Unified2021),
        day_us("2025-01-20"),
        us("2025-03-03T15:00:00Z"),
        actor("SPO-0002", "senior_probation_officer"),
    )
    .await;
    let records = log.read_case(CRN).await;
    (log, records)
}

fn rosh_as_of(records: &[RecordedEvent], recorded: &str, effective: &str) -> Option<RoshLevel> {
    let as_of = AsOf {
        recorded_through_us: Some(parse_bound("--as-of-recorded", recorded).expect("bound")),
        effective_through_us: Some(parse_bound("--as-of-effective", effective).expect("bound")),
    };
    state_as_of(&DomainCase::default(), records, as_of)
        .expect("state")
        .risk
        .rosh
}

#[tokio::test]
async fn late_recorded_risk_assessment_changes_the_as_of_answer_depending_on_r() {
    let (_log, records) = late_assessment_case().await;
    // What did we know on 1 March about the RoSH on 1 February? The January reassessment
    // had not been recorded yet: medium.
    assert_eq!(
        rosh_as_of(&records, "2025-03-01", "2025-02-01"),
        Some(RoshLevel::Medium)
    );
    // Asked with R = 3 March (through the end of the day): now known, effective 20 January,
    // so on 1 February the RoSH was high.
    assert_eq!(
        rosh_as_of(&records, "2025-03-03", "2025-02-01"),
        Some(RoshLevel::High)
    );
    // R is inclusive and exact to the microsecond.
    assert_eq!(
        rosh_as_of(&records, "2025-03-03T14:59:59.999999Z", "2025-02-01"),
        Some(RoshLevel::Medium)
    );
    assert_eq!(
        rosh_as_of(&records, "2025-03-03T15:00:00Z", "2025-02-01"),
        Some(RoshLevel::High)
    );
    // Known since March, but on 15 January it was not yet in effect: medium.
    assert_eq!(
        rosh_as_of(&records, "2025-03-03", "2025-01-15"),
        Some(RoshLevel::Medium)
    );
    // Before any assessment was in effect: unknown.
    assert_eq!(rosh_as_of(&records, "2025-03-03", "2025-01-09"), None);
    // Before the case was recorded at all: an empty case.
    let before = AsOf {
        recorded_through_us: Some(us("2025-01-05T00:00:00Z")),
        effective_through_us: None,
    };
    assert_eq!(
        state_as_of(&DomainCase::default(), &records, before).expect("state"),
        caseledger_domain::state::CaseState::default()
    );
}

#[tokio::test]
async fn history_lists_what_was_known_marks_what_was_not_yet_effective_and_shows_changes() {
    let (_log, records) = late_assessment_case().await;
    let everything = case_history(
        &DomainCase::default(),
        &records,
        AsOf::now(),
        HistoryOptions { full_state: true },
    )
    .expect("history");
    assert_eq!(everything.stream_id, CRN);
    assert_eq!(everything.entries.len(), 3);
    assert_eq!(everything.recorded_later, 0);
    let late = &everything.entries[2];
    assert_eq!(late.position, 4, "position in the global log");
    assert_eq!(late.stream_version, 3);
    assert_eq!(late.event_type, "RiskAssessed");
    assert_eq!(late.effective_at, "2025-01-20T00:00:00Z");
    assert_eq!(late.recorded_at, "2025-03-03T15:00:00Z");
    assert_eq!(late.actor.role, "senior_probation_officer");
    assert_eq!(late.ruleset_id, "unified-2021");
    assert_eq!(late.reason_code.as_deref(), Some("risk_reassessed"));
    assert!(late.applied);
    let rosh_change = late
        .changes
        .iter()
        .find(|c| c.path == "/risk/rosh")
        .expect("RoSH change shown");
    assert_eq!(rosh_change.before, Some(json!("medium")));
    assert_eq!(rosh_change.after, Some(json!("high")));
    assert_eq!(late.state_after.as_ref(), Some(&everything.state));
    assert_eq!(everything.state.pointer("/risk/rosh"), Some(&json!("high")));

    // As known on 1 March: the late event is not listed at all.
    let on_1_march = AsOf {
        recorded_through_us: Some(parse_bound("r", "2025-03-01").expect("bound")),
        effective_through_us: None,
    };
    let known = case_history(
        &DomainCase::default(),
        &records,
        on_1_march,
        HistoryOptions::default(),
    )
    .expect("history");
    assert_eq!(known.entries.len(), 2);
    assert_eq!(known.recorded_later, 1);
    assert_eq!(known.state.pointer("/risk/rosh"), Some(&json!("medium")));

    // As in effect on 15 January (everything known): listed, but not applied.
    let on_15_january = AsOf {
        recorded_through_us: None,
        effective_through_us: Some(parse_bound("e", "2025-01-15").expect("bound")),
    };
    let effective = case_history(
        &DomainCase::default(),
        &records,
        on_15_january,
        HistoryOptions::default(),
    )
    .expect("history");
    assert_eq!(effective.entries.len(), 3);
    assert!(!effective.entries[2].applied);
    assert!(effective.entries[2].changes.is_empty());
    assert_eq!(
        effective.state.pointer("/risk/rosh"),
        Some(&json!("medium"))
    );
}

#[tokio::test]
async fn a_correction_is_shown_beside_what_it_corrects_and_the_original_stays() {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    log.open_case(CRN, "2025-01-06", officer.clone()).await;
    let wrong = log
        .append(
            CRN,
            risk_assessed("2025-01-10", RoshLevel::VeryHigh, RulesetId::Unified2021),
            day_us("2025-01-10"),
            us("2025-01-10T10:00:00Z"),
            officer.clone(),
        )
        .await;
    let correction = log
        .append(
            CRN,
            event_corrected(
                "2025-01-11",
                wrong,
                "RiskAssessed",
                "RoSH entered against the wrong person",
            ),
            day_us("2025-01-11"),
            us("2025-01-11T10:00:00Z"),
            officer.clone(),
        )
        .await;
    log.append(
        CRN,
        risk_assessed("2025-01-10", RoshLevel::Medium, RulesetId::Unified2021),
        day_us("2025-01-10"),
        us("2025-01-11T10:05:00Z"),
        officer,
    )
    .await;
    let records = log.read_case(CRN).await;
    let history = case_history(
        &DomainCase::default(),
        &records,
        AsOf::now(),
        HistoryOptions::default(),
    )
    .expect("history");
    assert_eq!(history.entries.len(), 4, "the original is not hidden");
    let original = &history.entries[1];
    assert_eq!(original.event_id, wrong);
    assert_eq!(original.payload.pointer("/rosh"), Some(&json!("very_high")));
    assert_eq!(original.corrected_by.len(), 1);
    assert_eq!(original.corrected_by[0].event_id, correction);
    assert_eq!(original.corrected_by[0].position, Some(3));
    assert_eq!(
        original.corrected_by[0].reason,
        "RoSH entered against the wrong person"
    );
    let correcting = &history.entries[2];
    let link = correcting.corrects.as_ref().expect("links back");
    assert_eq!(link.event_id, wrong);
    assert_eq!(link.position, Some(2));
    assert_eq!(history.state.pointer("/risk/rosh"), Some(&json!("medium")));

    // As known before the correction was recorded: the original stands, uncorrected.
    let before = AsOf {
        recorded_through_us: Some(us("2025-01-10T23:00:00Z")),
        effective_through_us: None,
    };
    let then = case_history(
        &DomainCase::default(),
        &records,
        before,
        HistoryOptions::default(),
    )
    .expect("history");
    assert_eq!(then.entries.len(), 2);
    assert!(then.entries[1].corrected_by.is_empty());
    assert_eq!(then.state.pointer("/risk/rosh"), Some(&json!("very_high")));
}

#[tokio::test]
async fn a_stream_out_of_order_is_refused_not_replayed() {
    let (_log, mut records) = late_assessment_case().await;
    records.swap(0, 1);
    let error = case_history(
        &DomainCase::default(),
        &records,
        AsOf::now(),
        HistoryOptions::default(),
    )
    .expect_err("refused");
    assert!(error.to_string().contains("out of order"), "{error}");
    let (_log, mut records) = late_assessment_case().await;
    records[1].payload = vec![0xff; 3];
    let error = state_as_of(&DomainCase::default(), &records, AsOf::now()).expect_err("refused");
    assert!(error.to_string().contains("position 2"), "{error}");
}
