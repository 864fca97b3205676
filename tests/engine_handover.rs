//! Issue 4 items 2–3 end to end: derived handover decisions and time-driven events.

mod engine_support;

use caseledger::domain::event::{Event, Responsibility};
use caseledger::store::RecordedEvent;
use caseledger::{Engine, EngineConfig};
use engine_support::*;
use jiff::civil::date;
use serde_json::json;

const NOTTINGHAM_CITY: u8 = 79;
const CRN: &str = "C200001";

async fn ok(engine: &Engine, line: String) -> caseledger::commands::Receipt {
    match engine.execute_json(&line).await {
        Ok(receipt) => receipt,
        Err(e) => panic!("command refused: {e}\n{line}"),
    }
}

fn of_type<'a>(events: &'a [RecordedEvent], event_type: &str) -> Vec<&'a RecordedEvent> {
    events
        .iter()
        .filter(|e| e.event_type == event_type)
        .collect()
}

fn handover(record: &RecordedEvent) -> caseledger::domain::event::HandoverDatesCalculated {
    match caseledger::payload::decode(&record.event_type, record.schema_version, &record.payload)
        .unwrap()
    {
        Event::HandoverDatesCalculated(h) => h,
        other => panic!("not a handover event: {other:?}"),
    }
}

/// A determinate custodial sentence recorded in 2020 (England, OMiC 2019, NPS case, MAPPA
/// unknown): handover-rules.md §7.3–7.4 give the COM at CRD − 7m15d and responsibility at
/// CRD − 4m15d ("7.5 months and 4.5 months before release").
#[tokio::test]
async fn handover_dates_are_derived_and_fall_due_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(EngineConfig::sled(dir.path())).unwrap();
        ok(
            &engine,
            as_court_officer(
                CRN,
                "2020-03-02",
                open_case(CRN, NOTTINGHAM_CITY, "2020-03-02"),
            ),
        )
        .await;
        let receipt = ok(&engine, as_court_officer(CRN,"2020-03-02",
            json!({"type": "impose_sentence", "on": "2020-03-02", "sentence_type": "determinate_custody",
                   "court": "Nottingham Crown Court", "length_months": 36,
                   "dates": {"conditional_release_date": "2021-08-30", "sentence_expiry_date": "2023-03-01"},
                   "requirements": []}))).await;
        // The derived decision is appended with the command's own event, in the same append.
        assert_eq!(receipt.event_types[0], "SentenceImposed");
        assert!(
            receipt
                .event_types
                .contains(&"HandoverDatesCalculated".to_owned()),
            "{receipt:?}"
        );

        let events = engine.case_events(CRN).await.unwrap();
        let calculated = of_type(&events, "HandoverDatesCalculated");
        assert_eq!(calculated.len(), 1);
        let h = handover(calculated[0]);
        assert_eq!(h.handover_era.as_str(), "omic-2019");
        assert_eq!(
            h.start_date,
            Some(date(2021, 1, 15)),
            "CRD 2021-08-30 − 7m15d"
        );
        assert_eq!(
            h.handover_date,
            Some(date(2021, 4, 15)),
            "CRD 2021-08-30 − 4m15d"
        );
        assert_eq!(h.responsibility, Responsibility::CustodyOnly);
        assert_eq!(h.handover_reason.as_str(), "nps_mappa_unknown");
        assert_eq!(h.inputs_digest.as_str().len(), 64);
        // Invariant 5: actor, ruleset and reason on the decision.
        assert_eq!(calculated[0].actor.role, "system");
        assert_eq!(calculated[0].ruleset_id, "tr-2014");
        assert_eq!(calculated[0].causation_id, calculated[0].command_id);

        // The NPS assesses, allocates and names a practitioner, who will be the COM. These
        // inputs do not change the handover result, so no second calculation is recorded.
        ok(
            &engine,
            as_probation_officer(CRN, "2020-03-03", assess("2020-03-03", "initial", "high")),
        )
        .await;
        ok(
            &engine,
            as_probation_officer(
                CRN,
                "2020-03-04",
                json!({"type": "allocate_to_provider", "on": "2020-03-04", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
            ),
        )
        .await;
        ok(
            &engine,
            command(
                CRN,
                "senior_probation_officer",
                "nps",
                "2020-03-05",
                json!({"type": "allocate_practitioner", "on": "2020-03-05", "team": "N07-T1",
                   "practitioner": {"staff_code": "N07P001", "name": "Jo Officer", "grade": "PO"}}),
            ),
        )
        .await;
        let events = engine.case_events(CRN).await.unwrap();
        assert_eq!(of_type(&events, "HandoverDatesCalculated").len(), 1);

        // Before the start date nothing is due.
        let report = engine.advance_to(date(2021, 1, 14)).await.unwrap();
        assert!(report.applied.is_empty(), "{report:?}");

        // Past both dates: the COM allocation and the responsibility transfer, once each.
        let report = engine.advance_to(date(2021, 5, 1)).await.unwrap();
        let applied: Vec<&str> = report
            .applied
            .iter()
            .flat_map(|r| r.event_types.iter().map(String::as_str))
            .collect();
        assert_eq!(
            applied,
            [
                "CommunityOffenderManagerAllocated",
                "ResponsibilityTransferred"
            ],
            "{report:?}"
        );
        let events = engine.case_events(CRN).await.unwrap();
        let com = of_type(&events, "CommunityOffenderManagerAllocated");
        let transfer = of_type(&events, "ResponsibilityTransferred");
        assert_eq!((com.len(), transfer.len()), (1, 1));
        assert_eq!(
            com[0].effective_at_us,
            caseledger::commands::EffectiveAt::from_date(date(2021, 1, 15)).instant_us
        );
        assert_eq!(
            transfer[0].effective_at_us,
            caseledger::commands::EffectiveAt::from_date(date(2021, 4, 15)).instant_us
        );

        let again = engine.advance_to(date(2021, 6, 1)).await.unwrap();
        assert!(again.applied.is_empty(), "{again:?}");
        assert_eq!(engine.case_events(CRN).await.unwrap().len(), events.len());
        let case = engine.case(CRN).await.unwrap().unwrap();
        let sentence = case.sentences.values().next().unwrap();
        assert_eq!(sentence.responsibility, Some(Responsibility::Community));
    }

    // Reopen the log: the state is the fold of the stored events, and ticking again adds
    // nothing (the due items are recorded, not recomputed).
    let engine = Engine::open(EngineConfig::sled(dir.path())).unwrap();
    let before = engine.case_events(CRN).await.unwrap();
    let report = engine.advance_to(date(2021, 6, 1)).await.unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(engine.case_events(CRN).await.unwrap(), before);

    // A later sentence-date change recalculates.
    let receipt = ok(&engine, command(CRN, "prison_offender_manager", "prison", "2021-05-10",
        json!({"type": "recalculate_sentence_dates", "on": "2021-05-10", "sentence_id": 1,
               "reason": "additional days awarded",
               "dates": {"conditional_release_date": "2022-02-28", "sentence_expiry_date": "2023-09-01"}}))).await;
    assert!(
        receipt
            .event_types
            .contains(&"HandoverDatesCalculated".to_owned()),
        "{receipt:?}"
    );
    let events = engine.case_events(CRN).await.unwrap();
    let calculated = of_type(&events, "HandoverDatesCalculated");
    assert_eq!(calculated.len(), 2);
    let h = handover(calculated[1]);
    assert_eq!(
        h.start_date,
        Some(date(2021, 7, 13)),
        "CRD 2022-02-28 − 7m15d"
    );
    assert_eq!(
        h.handover_date,
        Some(date(2021, 10, 13)),
        "CRD 2022-02-28 − 4m15d"
    );
    assert_eq!(h.responsibility, Responsibility::CustodyOnly);

    // The new handover date falls due once more (a new due item: a different date).
    let report = engine.advance_to(date(2021, 11, 1)).await.unwrap();
    let applied: Vec<&str> = report
        .applied
        .iter()
        .flat_map(|r| r.event_types.iter().map(String::as_str))
        .collect();
    assert_eq!(applied, ["ResponsibilityTransferred"], "{report:?}");
}

/// A case with nothing changing the handover inputs records no handover decision.
#[tokio::test]
async fn community_sentences_get_a_tier_but_no_handover_dates() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "C200002";
    let opened = ok(
        &engine,
        as_court_officer(
            crn,
            "2022-03-01",
            open_case(crn, NOTTINGHAM_CITY, "2022-03-01"),
        ),
    )
    .await;
    // tier-rules.md §9: "The case was created" triggers a calculation.
    assert!(
        opened.event_types.contains(&"TierCalculated".to_owned()),
        "{opened:?}"
    );
    ok(
        &engine,
        as_court_officer(crn, "2022-03-01", community_order("2022-03-01")),
    )
    .await;
    let events = engine.case_events(crn).await.unwrap();
    assert!(of_type(&events, "HandoverDatesCalculated").is_empty());
    // A high RoSH raises the protect level: a new tier is recorded, with its trigger.
    let receipt = ok(
        &engine,
        as_probation_officer(crn, "2022-03-02", assess("2022-03-02", "initial", "high")),
    )
    .await;
    assert!(
        receipt.event_types.contains(&"TierCalculated".to_owned()),
        "{receipt:?}"
    );
    let events = engine.case_events(crn).await.unwrap();
    let last = of_type(&events, "TierCalculated").last().copied().unwrap();
    match caseledger::payload::decode(&last.event_type, last.schema_version, &last.payload).unwrap()
    {
        Event::TierCalculated(t) => {
            assert_eq!(t.decision.reason_code.as_str(), "risk_assessed");
            assert_ne!(t.previous_tier, Some(t.tier));
        }
        other => panic!("{other:?}"),
    }
    // Recording the same inputs again changes nothing: no new tier event.
    let count = of_type(&events, "TierCalculated").len();
    ok(
        &engine,
        as_probation_officer(crn, "2022-03-03", assess("2022-03-03", "review", "high")),
    )
    .await;
    let events = engine.case_events(crn).await.unwrap();
    assert_eq!(of_type(&events, "TierCalculated").len(), count);
}
