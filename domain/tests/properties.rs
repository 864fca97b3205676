//! Property tests: random command sequences, valid or not, never break the case's invariants,
//! refusals change nothing, and evolve over decide's events equals the state decide saw plus
//! the change (rebuilding from the whole history gives the same state as folding step by step).

use caseledger_domain::command::DomainCommand;
use caseledger_domain::enforcement::{Absence, AppointmentKind, BreachOutcome, RecallOutcome};
use caseledger_domain::identity::{Grade, InputsDigest};
use caseledger_domain::reference::{Organisation, Provider};
use caseledger_domain::risk::{
    AssessmentKind, MappaCategory, MappaLevel, RegistrationKind, RoshLevel,
};
use caseledger_domain::sentence::{ReleaseType, RequirementId, RequirementKind, TerminationReason};
use caseledger_domain::state::{RequirementStatus, SentenceStatus};
use caseledger_domain::testing::*;
use caseledger_domain::tier::V2Tier;
use caseledger_domain::{decide, evolve, CaseState, Event};
use jiff::civil::{date, Date};
use jiff::Span;
use proptest::prelude::*;

/// Steps per generated history: long enough to reach custody, release, recall and unification.
const STEPS_PER_CASE_MAX: usize = 40;

const ROSH: [RoshLevel; 4] = [
    RoshLevel::Low,
    RoshLevel::Medium,
    RoshLevel::High,
    RoshLevel::VeryHigh,
];
const TIERS: [&str; 6] = ["A3", "B2", "C1", "C2", "D0", "D1"];
const GRADES: [Grade; 3] = [
    Grade::ProbationOfficer,
    Grade::ProbationServicesOfficer,
    Grade::SeniorProbationOfficer,
];

fn command_for(state: &CaseState, action: u8, param: u16, on: Date) -> DomainCommand {
    let crc_name = crc("DLNR CRC");
    let latest = state
        .sentences
        .keys()
        .next_back()
        .copied()
        .unwrap_or(caseledger_domain::sentence::SentenceId(1));
    let rosh = ROSH[usize::from(param % 4)];
    match action % 20 {
        0 => community_order(
            on,
            vec![RequirementKind::UnpaidWork {
                hours: 40 + param % 100,
            }],
        ),
        1 => determinate_custody(on, i64::from(param % 20) + 3),
        2 => assess(
            on,
            rosh,
            if state.risk.assessments == 0 {
                AssessmentKind::Initial
            } else {
                AssessmentKind::Review
            },
            Organisation::Nps,
        ),
        3 => assess(
            on,
            rosh,
            AssessmentKind::Review,
            Organisation::Crc(crc_name),
        ),
        4 => DomainCommand::AllocateToProvider {
            on,
            crc: crc_name,
            deportation_order: param.is_multiple_of(7),
            notoriety: false,
            by: Organisation::Nps,
        },
        5 => DomainCommand::RequestRiskEscalation {
            on,
            proposed_rosh: rosh,
            evidence: None,
            by: Organisation::Crc(crc_name),
        },
        6 => DomainCommand::DecideRiskEscalation {
            on,
            confirmed_rosh: rosh,
            by: Organisation::Nps,
        },
        7 => DomainCommand::UnifyProbationService { on },
        8 => DomainCommand::RecordTier {
            on,
            tier: V2Tier::new(TIERS[usize::from(param) % TIERS.len()]).unwrap(),
            inputs_digest: InputsDigest::of(&param.to_be_bytes()),
            reason_code: caseledger_domain::event::ReasonCode::new("recalculated").unwrap(),
        },
        9 => {
            let by = match &state.provider {
                Some(Provider::Crc(name)) if !param.is_multiple_of(3) => {
                    Organisation::Crc(name.clone())
                }
                _ => Organisation::Nps,
            };
            let code = format!("S{:03}", param % 50);
            if state.practitioner.is_some() {
                DomainCommand::ReallocatePractitioner {
                    on,
                    practitioner: practitioner(&code, GRADES[usize::from(param) % 3]),
                    team: team("T1"),
                    reason: caseledger_domain::event::ReallocationReason::WorkloadBalance,
                    by,
                }
            } else {
                DomainCommand::AllocatePractitioner {
                    on,
                    practitioner: practitioner(&code, GRADES[usize::from(param) % 3]),
                    team: team("T1"),
                    by,
                }
            }
        }
        10 => DomainCommand::CreditUnpaidWork {
            on,
            sentence_id: latest,
            requirement_id: RequirementId(1),
            minutes: u32::from(param % 3000),
        },
        11 => DomainCommand::Release {
            on,
            sentence_id: latest,
            release_type: [
                ReleaseType::Automatic,
                ReleaseType::HomeDetentionCurfew,
                ReleaseType::Parole,
            ][usize::from(param % 3)],
        },
        12 => DomainCommand::RaiseRecall {
            on,
            sentence_id: latest,
            reason: text("risk"),
        },
        13 => DomainCommand::ConcludeRecall {
            on,
            recall_id: u16::try_from(state.recalls.len()).unwrap_or(1).max(1),
            outcome: RecallOutcome::ALL[usize::from(param) % 5],
        },
        14 => DomainCommand::EndLicence {
            on,
            sentence_id: latest,
        },
        15 => DomainCommand::TerminateSentence {
            on,
            sentence_id: latest,
            reason: TerminationReason::Expired,
        },
        16 => DomainCommand::RaiseBreach {
            on,
            sentence_id: latest,
            reason: text("non-compliance"),
        },
        17 => DomainCommand::ConcludeBreach {
            on,
            breach_id: u16::try_from(state.breaches.len()).unwrap_or(1).max(1),
            outcome: BreachOutcome::ALL[usize::from(param) % 10],
        },
        18 => DomainCommand::AddRegistration {
            on,
            kind: RegistrationKind::Mappa {
                category: MappaCategory::new(1).unwrap(),
                level: MappaLevel::new(u8::try_from(param % 4).unwrap()).unwrap(),
            },
            review_on: None,
        },
        _ => {
            if param.is_multiple_of(2) {
                DomainCommand::ScheduleAppointment {
                    on,
                    sentence_id: latest,
                    kind: AppointmentKind::FaceToFace,
                    initial: false,
                }
            } else {
                DomainCommand::RecordAbsence {
                    on,
                    appointment_id: u32::try_from(state.appointments.len()).unwrap_or(1).max(1),
                    absence: Absence::Unacceptable,
                }
            }
        }
    }
}

fn check_invariants(state: &CaseState) {
    // BR-A10: never both NPS-ratcheted and CRC-managed.
    if state.nps_until_sentence_ends.is_some() {
        assert_eq!(
            state.provider,
            Some(Provider::Nps),
            "ratchet without NPS: {state:?}"
        );
    }
    if state.unified_on.is_some() {
        assert_eq!(state.provider, Some(Provider::Nps));
        assert!(state.nps_until_sentence_ends.is_none());
    }
    for (id, sentence) in &state.sentences {
        for requirement in sentence.requirements.values() {
            // BR-G5: credited ≤ ordered.
            assert!(
                requirement.unpaid_work_minutes_credited
                    <= requirement.unpaid_work_minutes_ordered()
            );
            if requirement.status == RequirementStatus::Completed {
                assert_eq!(
                    requirement.unpaid_work_minutes_credited,
                    requirement.unpaid_work_minutes_ordered()
                );
            }
        }
        // Releases and recalls alternate: each release after the first follows a recall.
        let recalled = state
            .recalls
            .values()
            .filter(|r| r.sentence_id == *id && r.concluded.is_some_and(|(_, o)| o.is_recall()))
            .count();
        assert!(
            sentence.releases.len() <= recalled + 1,
            "released {} times with {recalled} recalls",
            sentence.releases.len()
        );
        if !sentence.releases.is_empty() {
            assert!(
                sentence.sentence_type.is_custodial(),
                "a non-custodial sentence was released"
            );
        }
        if sentence.status == SentenceStatus::Recalled {
            assert!(recalled >= 1);
        }
        if sentence.sentence_type.is_community() {
            assert!(matches!(
                sentence.status,
                SentenceStatus::Community | SentenceStatus::Terminated
            ));
        }
    }
    assert!(
        state
            .breaches
            .values()
            .filter(|b| b.concluded.is_none())
            .count()
            <= 1
    );
    assert!(
        state
            .recalls
            .values()
            .filter(|r| r.concluded.is_none())
            .count()
            <= 1
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_the_invariants(
        start_days in 0i64..3_400,
        steps in proptest::collection::vec((0u8..20, any::<u16>(), 0i64..90), 1..STEPS_PER_CASE_MAX),
    ) {
        let mut on = date(2014, 6, 1).checked_add(Span::new().days(start_days)).unwrap();
        let (mut state, mut history) = run([
            open_case(79, on),
            assess(on, RoshLevel::Medium, AssessmentKind::Initial, Organisation::Nps),
        ]);
        for (action, param, days) in steps {
            on = on.checked_add(Span::new().days(days)).unwrap();
            let command = command_for(&state, action, param, on);
            let ruleset = ruleset_for(&state, &command, on);
            match decide(&state, &command, &ruleset, on) {
                Ok(events) => {
                    prop_assert!(!events.is_empty(), "an accepted command records something");
                    let before = state.version;
                    state = events.iter().fold(state, evolve);
                    prop_assert_eq!(state.version, before + events.len() as u64);
                    history.extend(events);
                }
                Err(refusal) => {
                    // A refusal explains itself and changes nothing.
                    prop_assert!(!refusal.to_string().is_empty());
                }
            }
            check_invariants(&state);
        }
        // evolve over the whole history equals the state built step by step.
        let rebuilt = CaseState::from_events(history.iter());
        prop_assert_eq!(&rebuilt, &state);
        for event in &history {
            let json = serde_json::to_string(event).unwrap();
            prop_assert_eq!(&serde_json::from_str::<Event>(&json).unwrap(), event);
        }
    }

    #[test]
    fn decide_never_panics_on_any_crn_text(text in "\\PC{0,12}") {
        let _ = caseledger_domain::identity::Crn::new(text.clone());
        let _ = caseledger_domain::identity::Text::new(text.clone());
        let _ = caseledger_domain::tier::V2Tier::new(text.clone());
        let _ = caseledger_domain::identity::EventRef::new(text);
    }
}
