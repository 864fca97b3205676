//! Explain a `TierCalculated`: the tier inputs are rebuilt from the case as it stood
//! with the domain's builder, proven by the recorded digest; the tier is re-evaluated under the
//! rules of its time and shown, labelled, under today's rules; a recorded tier the rules never
//! gave, or a digest the case record cannot reproduce, is flagged.

mod support;

use caseledger_domain::derived::derived_decisions;
use caseledger_domain::event::{Event, SentenceImposed, TierCalculated};
use caseledger_domain::identity::{InputsDigest, Text};
use caseledger_domain::risk::RoshLevel;
use caseledger_domain::ruleset::RulesetId;
use caseledger_domain::sentence::{
    Requirement, RequirementId, RequirementKind, SentenceDates, SentenceId, SentenceType,
};
use caseledger_domain::tier::V2Tier;
use caseledger_domain::{evolve, CaseState};
use caseledger_replay::explain::{explain_decision, explain_text, InputsSource};
use caseledger_store::RecordedEvent;
use serde_json::json;
use support::events::*;
use support::*;
use uuid::Uuid;

const CRN: &str = "X000002";

/// How to spoil the recorded tier decision, to check explain flags it.
#[derive(Clone, Copy, PartialEq)]
enum Recorded {
    AsTheEngineMadeIt,
    TierTheRulesNeverGave,
    DigestTheCaseCannotReproduce,
}

/// A Transforming Rehabilitation case (England, 2016): community order with a rehabilitation
/// activity requirement, an NPS assessment of RoSH high on 3 March 2016, and the tier the
/// engine derives from that assessment (`derived_decisions`, as the command handler does),
/// recorded in the same instant. A later reassessment (RoSH low) must not leak into "as it
/// stood". Returns the stream and the tier decision's event id.
async fn tr_case_with_tier(recorded: Recorded) -> (Vec<RecordedEvent>, Uuid) {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    let mut state = CaseState::default();
    let facts = [
        case_opened(CRN, "2016-03-01"),
        Event::SentenceImposed(SentenceImposed {
            sentence_id: SentenceId(1),
            sentence_type: SentenceType::CommunityOrder,
            sentenced_on: date("2016-03-01"),
            court: Text::new("Hereford Magistrates").expect("court"),
            length_months: Some(12),
            dates: SentenceDates::default(),
            requirements: vec![Requirement {
                id: RequirementId(1),
                kind: RequirementKind::RehabilitationActivity { days: 20 },
            }],
        }),
    ];
    for event in facts {
        state = evolve(state, &event);
        log.append(
            CRN,
            event,
            day_us("2016-03-01"),
            us("2016-03-01T10:00:00Z"),
            officer.clone(),
        )
        .await;
    }
    let assessment = risk_assessed("2016-03-03", RoshLevel::High, RulesetId::Tr2014);
    state = evolve(state, &assessment);
    log.append(
        CRN,
        assessment.clone(),
        day_us("2016-03-03"),
        us("2016-03-03T10:00:00Z"),
        officer.clone(),
    )
    .await;
    let derived = derived_decisions(&state, &[assessment], date("2016-03-03"));
    let mut tier = derived
        .into_iter()
        .find(|e| matches!(e, Event::TierCalculated(_)))
        .expect("the assessment derives a tier");
    if let Event::TierCalculated(TierCalculated {
        tier: code,
        inputs_digest,
        ..
    }) = &mut tier
    {
        match recorded {
            Recorded::AsTheEngineMadeIt => {}
            Recorded::TierTheRulesNeverGave => *code = V2Tier::new("D0").expect("tier"),
            Recorded::DigestTheCaseCannotReproduce => {
                *inputs_digest = InputsDigest::new("0".repeat(64)).expect("digest")
            }
        }
    }
    let id = log
        .append(
            CRN,
            tier,
            day_us("2016-03-03"),
            us("2016-03-03T10:00:00Z"),
            officer.clone(),
        )
        .await;
    log.append(
        CRN,
        risk_assessed("2017-01-10", RoshLevel::Low, RulesetId::Tr2014),
        day_us("2017-01-10"),
        us("2017-01-10T10:00:00Z"),
        officer,
    )
    .await;
    let records = log.read_case(CRN).await;
    (records, id)
}

#[tokio::test]
async fn tier_9_tier_made_in_2016_is_re_evaluated_under_tr_2014_and_shown_under_todays_rules() {
    let (records, id) = tr_case_with_tier(Recorded::AsTheEngineMadeIt).await;
    let explanation =
        explain_decision(&model(), &records, id, date("2026-11-22")).expect("explained");
    assert_eq!(explanation.event_type, "TierCalculated");
    assert_eq!(explanation.reason_code.as_deref(), Some("risk_assessed"));
    let recorded_tier = explanation
        .recorded
        .pointer("/tier")
        .and_then(|t| t.as_str())
        .expect("recorded tier")
        .to_owned();
    // RoSH high (tier-rules.md §3.1) puts the case in protect level B at least.
    assert!(recorded_tier.starts_with('A') || recorded_tier.starts_with('B'));

    // The inputs as they stood: rebuilt with the domain's builder, proven by the digest.
    match &explanation.inputs_source {
        InputsSource::RederivedFromCaseState { digest_matches, .. } => {
            assert!(digest_matches, "{:?}", explanation.inputs_source)
        }
        other => panic!("inputs not re-derived: {other:?}"),
    }
    let inputs = explanation.inputs.as_ref().expect("inputs shown");
    assert_eq!(
        inputs.pointer("/rosh"),
        Some(&json!("high")),
        "the later RoSH low is not used"
    );
    assert_eq!(inputs.pointer("/today"), Some(&json!("2016-03-03")));
    assert_eq!(
        inputs.pointer("/convictions/0/requirements/0/category"),
        Some(&json!("F"))
    );

    // Under the rules of its time: the very event that was recorded.
    let then = explanation.reevaluation.as_ref().expect("re-evaluated");
    assert_eq!(then.ruleset, "tr-2014");
    assert!(then.same_as_recorded, "{:?}", then.differences);
    assert_eq!(then.outcome.pointer("/tier"), Some(&json!(recorded_tier)));

    // Under today's rules: the same tier calculator, another operating-model ruleset.
    let now = explanation.under_todays_rules.as_ref().expect("today");
    assert_eq!(now.ruleset, "unified-2021");
    assert!(
        now.label.starts_with("under today's rules"),
        "{}",
        now.label
    );
    assert_eq!(now.outcome.pointer("/tier"), Some(&json!(recorded_tier)));
    assert!(!now.same_as_recorded);
    let paths: Vec<&str> = now.differences.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/decision/ruleset_id"], "{:?}", now.differences);

    let text = explain_text(&explanation);
    assert!(text.contains("under today's rules (unified-2021"), "{text}");
    assert!(text.contains("MATCHES the recorded one"), "{text}");
    assert!(text.contains("same as recorded"), "{text}");
    assert!(explanation.not_reevaluated.is_none());
}

#[tokio::test]
async fn tier_9_a_recorded_tier_the_rules_never_gave_is_flagged() {
    let (records, id) = tr_case_with_tier(Recorded::TierTheRulesNeverGave).await;
    let explanation =
        explain_decision(&model(), &records, id, date("2026-11-22")).expect("explained");
    let then = explanation.reevaluation.as_ref().expect("re-evaluated");
    assert!(!then.same_as_recorded);
    let tier_change = then
        .differences
        .iter()
        .find(|c| c.path == "/tier")
        .expect("the tier differs");
    assert_eq!(tier_change.before, Some(json!("D0")));
    assert!(explain_text(&explanation).contains("DIFFERS from what was recorded"));
}

#[tokio::test]
async fn tier_9_a_tier_digest_the_case_record_cannot_reproduce_is_flagged() {
    let (records, id) = tr_case_with_tier(Recorded::DigestTheCaseCannotReproduce).await;
    let explanation =
        explain_decision(&model(), &records, id, date("2026-11-22")).expect("explained");
    match &explanation.inputs_source {
        InputsSource::RederivedFromCaseState {
            digest_matches,
            recorded_digest,
            ..
        } => {
            assert!(!digest_matches);
            assert_eq!(recorded_digest, &"0".repeat(64));
        }
        other => panic!("{other:?}"),
    }
    let then = explanation.reevaluation.as_ref().expect("re-evaluated");
    assert!(then.differences.iter().any(|c| c.path == "/inputs_digest"));
    assert!(explain_text(&explanation).contains("DIFFERS from the recorded one"));
}
