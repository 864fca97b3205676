//! Explain a decision. Must show: a handover decision made in 2019 under
//! omic-2019, explained today, gives the same result re-evaluated under omic-2019, and the
//! different omic-2023 answer is shown labelled "under today's rules".

mod support;

use caseledger_domain::event::{Event, HandoverDatesCalculated, ReasonCode, SentenceImposed};
use caseledger_domain::handover::{self, HandoverEra, HandoverInput};
use caseledger_domain::identity::Text;
use caseledger_domain::risk::{MappaLevel, RoshLevel};
use caseledger_domain::ruleset::RulesetId;
use caseledger_domain::sentence::{SentenceDates, SentenceId, SentenceType};
use caseledger_replay::explain::{explain_decision, explain_text, InputsSource};
use caseledger_replay::ReplayError;
use caseledger_store::RecordedEvent;
use serde_json::json;
use support::events::*;
use support::*;
use uuid::Uuid;

const CRN: &str = "X000001";

fn sentence_dates() -> SentenceDates {
    SentenceDates {
        conditional_release_date: Some(date("2021-06-01")),
        sentence_expiry_date: Some(date("2023-06-01")),
        licence_expiry_date: Some(date("2023-06-01")),
        ..SentenceDates::default()
    }
}

/// The inputs of the 2019 decision, written out from the case facts independently of the
/// replay crate's re-derivation (so the digest check below tests that re-derivation).
fn inputs_2019() -> HandoverInput {
    let mut input = HandoverInput::new(date("2019-11-01"));
    input.era = Some(HandoverEra::Omic2019);
    input.age = 29; // born 1990-05-17
    input.sentence_start = Some(date("2019-06-03"));
    input.crd = Some(date("2021-06-01"));
    input.mappa_level = Some(MappaLevel::new(1).expect("level"));
    input
}

/// A 2019 case: sentenced in June, MAPPA level 1, handover dates calculated on 1 November 2019
/// under omic-2019 and recorded that day. Returns the stream and the decision's event id.
async fn case_with_2019_handover_decision(
    digest_override: Option<&str>,
) -> (Vec<RecordedEvent>, Uuid) {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    log.open_case(CRN, "2019-06-03", officer.clone()).await;
    log.append(
        CRN,
        Event::SentenceImposed(SentenceImposed {
            sentence_id: SentenceId(1),
            sentence_type: SentenceType::DeterminateCustody,
            sentenced_on: date("2019-06-03"),
            court: Text::new("Leeds Crown Court").expect("court"),
            length_months: Some(48),
            dates: sentence_dates(),
            requirements: Vec::new(),
        }),
        day_us("2019-06-03"),
        us("2019-06-03T16:00:00Z"),
        officer.clone(),
    )
    .await;
    log.append(
        CRN,
        risk_assessed("2019-06-20", RoshLevel::Medium, RulesetId::Tr2014),
        day_us("2019-06-20"),
        us("2019-06-20T10:00:00Z"),
        officer.clone(),
    )
    .await;
    log.append(
        CRN,
        mappa_level_set("2019-07-01", 1),
        day_us("2019-07-01"),
        us("2019-07-01T10:00:00Z"),
        officer.clone(),
    )
    .await;
    let input = inputs_2019();
    let result = handover::calculate(&input).expect("the 2019 calculation runs");
    let digest = match digest_override {
        Some(d) => caseledger_domain::identity::InputsDigest::new(d).expect("digest"),
        None => caseledger_domain::derived::inputs_digest(&input).expect("digest"),
    };
    let responsibility = serde_json::from_value(json!(result.responsibility.as_str()))
        .expect("same responsibility spelling");
    let decision = log
        .append(
            CRN,
            Event::HandoverDatesCalculated(HandoverDatesCalculated {
                sentence_id: SentenceId(1),
                calculated_on: date("2019-11-01"),
                handover_era: HandoverEra::Omic2019,
                responsibility,
                start_date: result.start_date,
                handover_date: result.handover_date,
                handover_reason: ReasonCode::new(result.reason.as_str()).expect("reason"),
                inputs_digest: digest,
                decision: decision(RulesetId::Tr2014, result.reason.as_str()),
            }),
            day_us("2019-11-01"),
            us("2019-11-01T12:00:00Z"),
            actor("POM-0042", "prison_offender_manager"),
        )
        .await;
    // Later events must not leak into "as they stood when it was made".
    log.append(
        CRN,
        mappa_level_set("2020-03-01", 2),
        day_us("2020-03-01"),
        us("2020-03-01T10:00:00Z"),
        officer,
    )
    .await;
    let records = log.read_case(CRN).await;
    (records, decision)
}

#[tokio::test]
async fn handover_decided_in_2019_is_explained_today_same_under_omic_2019_different_under_todays_rules(
) {
    let (records, decision) = case_with_2019_handover_decision(None).await;
    let today = date("2026-11-22");
    let explanation = explain_decision(&model(), &records, decision, today).expect("explained");

    assert_eq!(explanation.event_type, "HandoverDatesCalculated");
    assert_eq!(explanation.actor.id, "POM-0042");
    assert_eq!(explanation.actor.role, "prison_offender_manager");
    assert_eq!(explanation.ruleset_id, "tr-2014");
    assert_eq!(
        explanation.recorded.pointer("/handover_era"),
        Some(&json!("omic-2019"))
    );
    assert_eq!(
        explanation.reason_code.as_deref(),
        Some("nps_determinate_mappa_1_n")
    );

    // The inputs as they stood: re-derived from the case, proven by the recorded digest.
    match &explanation.inputs_source {
        InputsSource::RederivedFromCaseState { digest_matches, .. } => {
            assert!(digest_matches, "{:?}", explanation.inputs_source)
        }
        other => panic!("inputs not re-derived: {other:?}"),
    }
    let inputs = explanation.inputs.as_ref().expect("inputs shown");
    assert_eq!(
        inputs.pointer("/mappa_level"),
        Some(&json!(1)),
        "the later MAPPA 2 is not used"
    );
    assert_eq!(inputs.pointer("/crd"), Some(&json!("2021-06-01")));
    assert_eq!(
        explanation.case_state_when_made.pointer("/mappa/level"),
        Some(&json!(1))
    );

    // Re-evaluated under the rules of its time: the same answer.
    let then = explanation.reevaluation.as_ref().expect("re-evaluated");
    assert_eq!(then.ruleset, "omic-2019");
    assert!(then.same_as_recorded, "{:?}", then.differences);
    assert_eq!(Some(&then.outcome), explanation.recorded_outcome.as_ref());
    let recorded = explanation.recorded_outcome.as_ref().expect("outcome");
    assert_eq!(
        recorded.pointer("/reason"),
        Some(&json!("nps_determinate_mappa_1_n"))
    );

    // Under today's rules: omic-2023, a different answer, labelled as such.
    let now = explanation
        .under_todays_rules
        .as_ref()
        .expect("today's rules");
    assert_eq!(now.ruleset, "omic-2023");
    assert!(
        now.label.starts_with("under today's rules"),
        "{}",
        now.label
    );
    assert!(!now.same_as_recorded);
    assert!(now.differences.iter().any(|c| c.path == "/reason"));
    let expected_2023 = {
        let mut input = inputs_2019();
        input.era = Some(HandoverEra::Omic2023);
        handover::calculate(&input).expect("2023 calculation")
    };
    assert_eq!(
        now.outcome.pointer("/reason"),
        Some(&json!(expected_2023.reason.as_str()))
    );
    assert_eq!(
        now.outcome.pointer("/handover_date"),
        Some(&json!(expected_2023.handover_date.map(|d| d.to_string())))
    );

    let text = explain_text(&explanation);
    assert!(text.contains("under today's rules (omic-2023"), "{text}");
    assert!(text.contains("same as recorded"), "{text}");
    assert!(text.contains("DIFFERS from what was recorded"), "{text}");
    assert!(
        text.contains("POM-0042 (role prison_offender_manager"),
        "{text}"
    );
}

#[tokio::test]
async fn a_decision_whose_inputs_the_case_record_cannot_reproduce_is_flagged() {
    let forged = "0".repeat(64);
    let (records, decision) = case_with_2019_handover_decision(Some(&forged)).await;
    let explanation =
        explain_decision(&model(), &records, decision, date("2026-11-22")).expect("explained");
    match &explanation.inputs_source {
        InputsSource::RederivedFromCaseState {
            digest_matches,
            recorded_digest,
            ..
        } => {
            assert!(!digest_matches);
            assert_eq!(recorded_digest, &forged);
        }
        other => panic!("{other:?}"),
    }
    assert!(explain_text(&explanation).contains("DIFFERS from the recorded one"));
}

#[tokio::test]
async fn facts_and_unknown_ids_are_refused_with_a_typed_error() {
    let (records, _) = case_with_2019_handover_decision(None).await;
    let fact = records[0].event_id; // CaseOpened
    assert!(matches!(
        explain_decision(&model(), &records, fact, date("2026-11-22")),
        Err(ReplayError::NotADecision { .. })
    ));
    assert!(matches!(
        explain_decision(&model(), &records, Uuid::from_u128(999), date("2026-11-22")),
        Err(ReplayError::NoSuchEvent { .. })
    ));
}

#[tokio::test]
async fn a_decision_without_a_calculator_shows_its_recorded_context() {
    let (records, _) = case_with_2019_handover_decision(None).await;
    let mappa = records
        .iter()
        .find(|r| r.event_type == "MappaLevelSet")
        .expect("MAPPA decision");
    let explanation = explain_decision(&model(), &records, mappa.event_id, date("2026-11-22"))
        .expect("explained");
    assert_eq!(explanation.reason_code.as_deref(), Some("panel_decision"));
    assert!(explanation.reevaluation.is_none());
    assert!(explanation.not_reevaluated.is_some());
    assert_eq!(
        explanation.case_state_when_made.pointer("/mappa/level"),
        Some(&serde_json::Value::Null)
    );
}

/// A TR-era case (England, 2016): community order, NPS assessment RoSH medium; the provider
/// allocation is produced by the domain's own `decide`, as the command handler would.
async fn tr_case_with_provider_allocation(tamper: bool) -> (Vec<RecordedEvent>, Uuid) {
    use caseledger_domain::event::{CaseAllocatedToProvider, Decision};
    use caseledger_domain::reference::{CrcName, Organisation, Provider};
    use caseledger_domain::{decide, CaseState, DomainCommand, Ruleset};
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    let mut state = CaseState::default();
    let facts = [
        (case_opened(CRN, "2016-03-01"), "2016-03-01"),
        (
            Event::SentenceImposed(SentenceImposed {
                sentence_id: SentenceId(1),
                sentence_type: SentenceType::CommunityOrder,
                sentenced_on: date("2016-03-01"),
                court: Text::new("Hereford Magistrates").expect("court"),
                length_months: Some(12),
                dates: SentenceDates::default(),
                requirements: Vec::new(),
            }),
            "2016-03-01",
        ),
        (
            risk_assessed("2016-03-03", RoshLevel::Medium, RulesetId::Tr2014),
            "2016-03-03",
        ),
    ];
    for (event, day) in facts {
        state = caseledger_domain::evolve(state, &event);
        log.append(
            CRN,
            event,
            day_us(day),
            us(&format!("{day}T10:00:00Z")),
            officer.clone(),
        )
        .await;
    }
    let on = date("2016-03-04");
    let ruleset =
        Ruleset::for_date(on, caseledger_domain::reference::Nation::England).expect("TR ruleset");
    let command = DomainCommand::AllocateToProvider {
        on,
        crc: CrcName::new("Warwickshire and West Mercia CRC").expect("crc"),
        deportation_order: false,
        notoriety: false,
        by: Organisation::Nps,
    };
    let mut emitted = decide(&state, &command, &ruleset, on).expect("allocation decided");
    assert_eq!(emitted.len(), 1);
    let mut allocation = emitted.remove(0);
    if tamper {
        // A recorded decision that the rules never gave: NPS "because RoSH high".
        if let Event::CaseAllocatedToProvider(CaseAllocatedToProvider {
            provider,
            decision,
            nps_until_sentence_ends,
            ..
        }) = &mut allocation
        {
            *provider = Provider::Nps;
            *nps_until_sentence_ends = Some(SentenceId(1));
            *decision = Decision {
                ruleset_id: RulesetId::Tr2014,
                reason_code: ReasonCode::new("rosh_high_or_above").expect("code"),
            };
        }
    }
    let id = log
        .append(
            CRN,
            allocation,
            day_us("2016-03-04"),
            us("2016-03-04T10:00:00Z"),
            actor("PO-0009", "nps_case_allocation"),
        )
        .await;
    let records = log.read_case(CRN).await;
    (records, id)
}

#[tokio::test]
async fn br_a3_tr_provider_allocation_re_decided_same_under_tr_2014_refused_under_todays_rules() {
    let (records, id) = tr_case_with_provider_allocation(false).await;
    let explanation =
        explain_decision(&model(), &records, id, date("2026-11-22")).expect("explained");
    assert_eq!(
        explanation.reason_code.as_deref(),
        Some("lower_risk_to_crc")
    );
    assert_eq!(explanation.inputs_source, InputsSource::RecordedInEvent);
    assert_eq!(
        explanation
            .inputs
            .as_ref()
            .and_then(|i| i.pointer("/confirmed_rosh")),
        Some(&json!("medium"))
    );
    let then = explanation.reevaluation.as_ref().expect("re-decided");
    assert_eq!(then.ruleset, "tr-2014");
    assert!(then.same_as_recorded, "{:?}", then.differences);
    let now = explanation.under_todays_rules.as_ref().expect("today");
    assert_eq!(now.ruleset, "unified-2021");
    assert!(now.label.starts_with("under today's rules"));
    assert!(!now.same_as_recorded);
    let refused = now.outcome.pointer("/refused").and_then(|v| v.as_str());
    assert!(
        refused.is_some_and(|r| r.contains("no CRCs")),
        "{:?}",
        now.outcome
    );
}

#[tokio::test]
async fn br_a3_a_recorded_allocation_the_rules_never_gave_is_flagged_as_different() {
    let (records, id) = tr_case_with_provider_allocation(true).await;
    let explanation =
        explain_decision(&model(), &records, id, date("2026-11-22")).expect("explained");
    let then = explanation.reevaluation.as_ref().expect("re-decided");
    assert!(!then.same_as_recorded);
    let paths: Vec<&str> = then.differences.iter().map(|c| c.path.as_str()).collect();
    assert!(paths.contains(&"/decision/reason_code"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p.starts_with("/provider")),
        "{paths:?}"
    );
    assert!(explain_text(&explanation).contains("DIFFERS from what was recorded"));
}
