//! The seed stories at domain level (tests/engine_lifecycle.rs repeats them through the Engine).

use caseledger_domain::command::DomainCommand;
use caseledger_domain::error::DomainError;
use caseledger_domain::event::{reason, EscalationOutcome, Event};
use caseledger_domain::reference::{Organisation, Provider};
use caseledger_domain::risk::{
    AssessmentKind, MappaCategory, MappaLevel, RegistrationKind, RoshLevel,
};
use caseledger_domain::ruleset::RulesetId;
use caseledger_domain::sentence::{RequirementKind, SentenceId, TerminationReason};
use caseledger_domain::testing::*;
use jiff::civil::date;

const DLNR: &str = "DLNR CRC";
const PEOPLE_PLUS: &str = "People Plus (West Mercia CRC)";

/// Seed 001 l.55–68: a CRC case in the TR era whose RoSH rises to high is escalated, the NPS
/// confirms, the case moves to the NPS; RoSH later falls to medium and the case stays with the
/// NPS until the order ends (BR-A7–A11).
#[test]
fn seed_001_escalation_story_case_stays_with_nps_until_the_order_ends() {
    let crc_org = Organisation::Crc(crc(DLNR));
    let (state, _) = run([
        open_case(79, date(2015, 3, 2)),
        community_order(
            date(2015, 3, 2),
            vec![RequirementKind::UnpaidWork { hours: 100 }],
        ),
        assess(
            date(2015, 3, 2),
            RoshLevel::Medium,
            AssessmentKind::Initial,
            Organisation::Nps,
        ),
        DomainCommand::AllocateToProvider {
            on: date(2015, 3, 3),
            crc: crc(DLNR),
            deportation_order: false,
            notoriety: false,
            by: Organisation::Nps,
        },
    ]);
    assert_eq!(state.provider, Some(Provider::Crc(crc(DLNR))));
    assert_eq!(state.nps_until_sentence_ends, None);

    // The CRC's reassessment finds high RoSH: it waits for the NPS and is escalated (BR-A7, A8, A11).
    let escalated = given_state(state.clone())
        .when(assess(
            date(2015, 6, 1),
            RoshLevel::High,
            AssessmentKind::Review,
            crc_org.clone(),
        ))
        .then_types(&["RiskAssessed", "RiskEscalationRequested"]);
    let state = fold(state, &escalated);
    assert_eq!(
        state.risk.rosh,
        Some(RoshLevel::Medium),
        "the NPS has the final word (BR-A11)"
    );
    assert_eq!(
        state.risk.rosh_awaiting_nps_confirmation,
        Some(RoshLevel::High)
    );
    assert_eq!(state.provider, Some(Provider::Crc(crc(DLNR))));

    // The NPS confirms high: the case transfers to the NPS until order 1 ends (BR-A9, A10).
    let confirmed = given_state(state.clone())
        .when(DomainCommand::DecideRiskEscalation {
            on: date(2015, 6, 3),
            confirmed_rosh: RoshLevel::High,
            by: Organisation::Nps,
        })
        .then_types(&["RiskEscalationDecided", "CaseTransferredToNps"]);
    match &confirmed[0] {
        Event::RiskEscalationDecided(e) => {
            assert_eq!(e.outcome, EscalationOutcome::TransferToNps);
            assert_eq!(e.decision.ruleset_id, RulesetId::Tr2014);
            assert_eq!(e.decision.reason_code.as_str(), reason::ROSH_CONFIRMED_HIGH);
            assert_eq!(e.inputs.proposed_rosh, RoshLevel::High);
        }
        other => panic!("unexpected {other:?}"),
    }
    let state = fold(state, &confirmed);
    assert_eq!(state.provider, Some(Provider::Nps));
    assert_eq!(state.nps_until_sentence_ends, Some(SentenceId(1)));
    assert_eq!(state.risk.rosh, Some(RoshLevel::High));

    // RoSH falls to medium: the case stays with the NPS (BR-A10).
    let state = fold(
        state.clone(),
        &given_state(state.clone())
            .when(assess(
                date(2015, 12, 1),
                RoshLevel::Medium,
                AssessmentKind::Review,
                Organisation::Nps,
            ))
            .then_types(&["RiskAssessed"]),
    );
    assert_eq!(state.risk.rosh, Some(RoshLevel::Medium));
    assert_eq!(state.provider, Some(Provider::Nps));
    // Nothing can move it back to the CRC while the order runs.
    given_state(state.clone())
        .when(DomainCommand::AllocateToProvider {
            on: date(2015, 12, 2),
            crc: crc(DLNR),
            deportation_order: false,
            notoriety: false,
            by: Organisation::Nps,
        })
        .then_error(|e| matches!(e, DomainError::AlreadyWithNps { .. }));
    given_state(state.clone())
        .when(DomainCommand::RequestRiskEscalation {
            on: date(2015, 12, 2),
            proposed_rosh: RoshLevel::High,
            evidence: None,
            by: crc_org,
        })
        .then_error(|e| matches!(e, DomainError::AlreadyWithNps { .. }));

    // The order ends: the ratchet is released.
    let (state, _) = run_from(
        state,
        [DomainCommand::TerminateSentence {
            on: date(2016, 3, 1),
            sentence_id: SentenceId(1),
            reason: TerminationReason::Expired,
        }],
    );
    assert_eq!(state.nps_until_sentence_ends, None);
}

/// Seed 000 l.8–9: in Herefordshire the NPS assesses at court and allocates lower-risk cases
/// to the CRC (People Plus), high RoSH and MAPPA cases to itself (BR-A2–A4).
#[test]
fn seed_000_herefordshire_split_nps_assesses_at_court_and_allocates_lower_risk_to_the_crc() {
    let allocate = |on| DomainCommand::AllocateToProvider {
        on,
        crc: crc(PEOPLE_PLUS),
        deportation_order: false,
        notoriety: false,
        by: Organisation::Nps,
    };
    let day = date(2016, 12, 6);
    let case = |rosh: RoshLevel, mappa: bool| {
        let mut commands = vec![
            open_case(78, day),
            assess(day, rosh, AssessmentKind::Initial, Organisation::Nps),
            community_order(
                day,
                vec![RequirementKind::RehabilitationActivity { days: 20 }],
            ),
        ];
        if mappa {
            commands.push(DomainCommand::AddRegistration {
                on: day,
                kind: RegistrationKind::Mappa {
                    category: MappaCategory::new(2).unwrap(),
                    level: MappaLevel::new(1).unwrap(),
                },
                review_on: None,
            });
        }
        commands.push(allocate(day));
        run(commands).0
    };
    let low = case(RoshLevel::Low, false);
    assert_eq!(low.provider, Some(Provider::Crc(crc(PEOPLE_PLUS))));
    let medium = case(RoshLevel::Medium, false);
    assert_eq!(medium.provider, Some(Provider::Crc(crc(PEOPLE_PLUS))));
    let high = case(RoshLevel::High, false);
    assert_eq!(high.provider, Some(Provider::Nps));
    assert_eq!(high.nps_until_sentence_ends, Some(SentenceId(1)));
    let very_high = case(RoshLevel::VeryHigh, false);
    assert_eq!(very_high.provider, Some(Provider::Nps));
    let mappa_medium = case(RoshLevel::Medium, true);
    assert_eq!(mappa_medium.provider, Some(Provider::Nps));

    // The allocation records why and on what (design.md invariant 5).
    let (_, events) = run([
        open_case(78, day),
        assess(
            day,
            RoshLevel::Medium,
            AssessmentKind::Initial,
            Organisation::Nps,
        ),
        community_order(day, vec![]),
        allocate(day),
    ]);
    match events.last() {
        Some(Event::CaseAllocatedToProvider(e)) => {
            assert_eq!(e.decision.reason_code.as_str(), reason::LOWER_RISK_TO_CRC);
            assert_eq!(e.decision.ruleset_id, RulesetId::Tr2014);
            assert_eq!(e.inputs.confirmed_rosh, RoshLevel::Medium);
            assert!(!e.inputs.mappa_eligible);
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn fold(state: caseledger_domain::CaseState, events: &[Event]) -> caseledger_domain::CaseState {
    events.iter().fold(state, caseledger_domain::evolve)
}
