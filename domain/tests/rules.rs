//! One test per seed rule, named with its rule id (docs/rules.md lists them).

use caseledger_domain::command::DomainCommand;
use caseledger_domain::enforcement::{
    Absence, AppointmentKind, AttendedOutcome, BreachOutcome, RecallOutcome,
};
use caseledger_domain::error::DomainError;
use caseledger_domain::event::{reason, Attendee, Event, PomType, SupervisionPeriod};
use caseledger_domain::identity::{Grade, InputsDigest};
use caseledger_domain::reference::{Organisation, Provider};
use caseledger_domain::risk::{
    AssessmentKind, MappaCategory, MappaLevel, RegistrationKind, RoshLevel,
};
use caseledger_domain::ruleset::RulesetId;
use caseledger_domain::sentence::{
    ReleaseType, RequirementId, RequirementKind, SentenceId, TerminationReason,
};
use caseledger_domain::state::SentenceStatus;
use caseledger_domain::testing::*;
use caseledger_domain::tier::V2Tier;
use caseledger_domain::CaseState;
use jiff::civil::{date, Date};

const CRC: &str = "DLNR CRC";

fn crc_org() -> Organisation {
    Organisation::Crc(crc(CRC))
}

fn allocate_to_provider(on: Date) -> DomainCommand {
    DomainCommand::AllocateToProvider {
        on,
        crc: crc(CRC),
        deportation_order: false,
        notoriety: false,
        by: Organisation::Nps,
    }
}

/// A TR-era community order case managed by the CRC, medium RoSH.
fn tr_crc_case() -> CaseState {
    run([
        open_case(79, date(2016, 1, 4)),
        assess(
            date(2016, 1, 4),
            RoshLevel::Medium,
            AssessmentKind::Initial,
            Organisation::Nps,
        ),
        community_order(
            date(2016, 1, 5),
            vec![RequirementKind::UnpaidWork { hours: 60 }],
        ),
        allocate_to_provider(date(2016, 1, 6)),
    ])
    .0
}

/// A unified-era community order case with a tier, medium RoSH.
fn unified_case(rosh: RoshLevel) -> CaseState {
    run([
        open_case(79, date(2022, 3, 1)),
        assess(
            date(2022, 3, 1),
            rosh,
            AssessmentKind::Initial,
            Organisation::Nps,
        ),
        community_order(
            date(2022, 3, 2),
            vec![RequirementKind::UnpaidWork { hours: 60 }],
        ),
        record_tier(date(2022, 3, 2), "C2"),
    ])
    .0
}

fn record_tier(on: Date, tier: &str) -> DomainCommand {
    DomainCommand::RecordTier {
        on,
        tier: V2Tier::new(tier).unwrap(),
        inputs_digest: InputsDigest::of(tier.as_bytes()),
        reason_code: caseledger_domain::event::ReasonCode::new("case_created").unwrap(),
    }
}

fn allocate(on: Date, code: &str, grade: Grade, by: Organisation) -> DomainCommand {
    DomainCommand::AllocatePractitioner {
        on,
        practitioner: practitioner(code, grade),
        team: team("T01"),
        by,
    }
}

/// A custodial case (England, OMiC era) with high RoSH.
fn custody_case() -> CaseState {
    run([
        open_case(79, date(2022, 1, 10)),
        assess(
            date(2022, 1, 10),
            RoshLevel::High,
            AssessmentKind::Initial,
            Organisation::Nps,
        ),
        determinate_custody(date(2022, 1, 10), 14),
    ])
    .0
}

#[test]
fn br_a2_nps_does_the_initial_risk_assessment_before_provider_allocation() {
    let opened = run([
        open_case(79, date(2016, 1, 4)),
        community_order(date(2016, 1, 5), vec![]),
    ])
    .0;
    given_state(opened.clone())
        .when(allocate_to_provider(date(2016, 1, 6)))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-A2")),
        );
    given_state(opened.clone())
        .when(assess(
            date(2016, 1, 6),
            RoshLevel::Low,
            AssessmentKind::Initial,
            crc_org(),
        ))
        .then_error(|e| matches!(e, DomainError::WrongOrganisation { .. }));
    given_state(opened)
        .when(DomainCommand::AllocateToProvider {
            on: date(2016, 1, 6),
            crc: crc(CRC),
            deportation_order: false,
            notoriety: false,
            by: crc_org(),
        })
        .then_error(|e| matches!(e, DomainError::WrongOrganisation { .. }));
}

#[test]
fn br_a3_nps_allocates_lower_risk_cases_to_the_crc() {
    let state = tr_crc_case();
    assert_eq!(state.provider, Some(Provider::Crc(crc(CRC))));
    assert_eq!(state.nps_until_sentence_ends, None);
}

#[test]
fn br_a4_nps_keeps_high_rosh_mappa_deportation_and_notoriety_cases() {
    let base = |rosh| {
        run([
            open_case(79, date(2016, 1, 4)),
            assess(
                date(2016, 1, 4),
                rosh,
                AssessmentKind::Initial,
                Organisation::Nps,
            ),
            community_order(date(2016, 1, 5), vec![]),
        ])
        .0
    };
    let code_of = |events: Vec<Event>| match &events[0] {
        Event::CaseAllocatedToProvider(e) => {
            assert_eq!(e.provider, Provider::Nps);
            e.decision.reason_code.as_str().to_owned()
        }
        other => panic!("{other:?}"),
    };
    let high = given_state(base(RoshLevel::High))
        .when(allocate_to_provider(date(2016, 1, 6)))
        .then_types(&["CaseAllocatedToProvider"]);
    assert_eq!(code_of(high), reason::ROSH_HIGH_OR_ABOVE);
    for (deportation_order, notoriety, expected) in [
        (true, false, reason::DEPORTATION_ORDER),
        (false, true, reason::NOTORIETY),
    ] {
        let events = given_state(base(RoshLevel::Low))
            .when(DomainCommand::AllocateToProvider {
                on: date(2016, 1, 6),
                crc: crc(CRC),
                deportation_order,
                notoriety,
                by: Organisation::Nps,
            })
            .then_types(&["CaseAllocatedToProvider"]);
        assert_eq!(code_of(events), expected);
    }
}

#[test]
fn br_a4_mappa_registration_on_a_crc_case_is_escalated_to_the_nps() {
    let events = given_state(tr_crc_case())
        .when(DomainCommand::AddRegistration {
            on: date(2016, 2, 1),
            kind: RegistrationKind::Mappa {
                category: MappaCategory::new(1).unwrap(),
                level: MappaLevel::new(1).unwrap(),
            },
            review_on: None,
        })
        .then_types(&["RegistrationAdded", "RiskEscalationRequested"]);
    let state = events.iter().fold(tr_crc_case(), caseledger_domain::evolve);
    let decided = given_state(state)
        .when(DomainCommand::DecideRiskEscalation {
            on: date(2016, 2, 3),
            confirmed_rosh: RoshLevel::Medium,
            by: Organisation::Nps,
        })
        .then_types(&["RiskEscalationDecided", "CaseTransferredToNps"]);
    match &decided[0] {
        Event::RiskEscalationDecided(e) => {
            assert_eq!(e.decision.reason_code.as_str(), reason::MAPPA_ELIGIBLE)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn br_a6_a_crc_reassesses_only_its_own_cases() {
    given_state(tr_crc_case())
        .when(assess(
            date(2016, 2, 1),
            RoshLevel::Low,
            AssessmentKind::Review,
            crc_org(),
        ))
        .then_types(&["RiskAssessed"]);
    given_state(tr_crc_case())
        .when(assess(
            date(2016, 2, 1),
            RoshLevel::Low,
            AssessmentKind::Review,
            Organisation::Crc(crc("Another CRC")),
        ))
        .then_error(|e| matches!(e, DomainError::WrongOrganisation { .. }));
}

#[test]
fn br_a7_a_crc_assessing_high_rosh_must_escalate() {
    let events = given_state(tr_crc_case())
        .when(assess(
            date(2016, 2, 1),
            RoshLevel::VeryHigh,
            AssessmentKind::Review,
            crc_org(),
        ))
        .then_types(&["RiskAssessed", "RiskEscalationRequested"]);
    let state = events.iter().fold(tr_crc_case(), caseledger_domain::evolve);
    assert_eq!(state.risk.rosh, Some(RoshLevel::Medium));
    assert!(state.pending_escalation.is_some());
}

#[test]
fn br_a8_escalation_comes_from_the_managing_crc_for_increased_risk() {
    given_state(tr_crc_case())
        .when(DomainCommand::RequestRiskEscalation {
            on: date(2016, 2, 1),
            proposed_rosh: RoshLevel::High,
            evidence: None,
            by: Organisation::Nps,
        })
        .then_error(|e| matches!(e, DomainError::WrongOrganisation { .. }));
    given_state(tr_crc_case())
        .when(DomainCommand::RequestRiskEscalation {
            on: date(2016, 2, 1),
            proposed_rosh: RoshLevel::Medium,
            evidence: None,
            by: crc_org(),
        })
        .then_error(|e| matches!(e, DomainError::RuleRefused { .. }));
}

#[test]
fn br_a9_risk_increased_but_not_high_stays_with_the_crc() {
    let (state, _) = run_from(
        tr_crc_case(),
        [DomainCommand::RequestRiskEscalation {
            on: date(2016, 2, 1),
            proposed_rosh: RoshLevel::High,
            evidence: None,
            by: crc_org(),
        }],
    );
    let events = given_state(state.clone())
        .when(DomainCommand::DecideRiskEscalation {
            on: date(2016, 2, 2),
            confirmed_rosh: RoshLevel::Medium,
            by: Organisation::Nps,
        })
        .then_types(&["RiskEscalationDecided"]);
    let state = events.iter().fold(state, caseledger_domain::evolve);
    assert_eq!(state.provider, Some(Provider::Crc(crc(CRC))));
    assert!(state.pending_escalation.is_none());
}

#[test]
fn br_a10_case_stays_with_nps_until_order_ends_then_a_new_order_can_go_to_the_crc() {
    let (state, _) = run_from(
        tr_crc_case(),
        [
            DomainCommand::RequestRiskEscalation {
                on: date(2016, 2, 1),
                proposed_rosh: RoshLevel::High,
                evidence: None,
                by: crc_org(),
            },
            DomainCommand::DecideRiskEscalation {
                on: date(2016, 2, 2),
                confirmed_rosh: RoshLevel::High,
                by: Organisation::Nps,
            },
            assess(
                date(2016, 6, 1),
                RoshLevel::Low,
                AssessmentKind::Review,
                Organisation::Nps,
            ),
        ],
    );
    assert_eq!(state.provider, Some(Provider::Nps));
    given_state(state.clone())
        .when(allocate_to_provider(date(2016, 6, 2)))
        .then_error(|e| matches!(e, DomainError::AlreadyWithNps { .. }));
    let (state, _) = run_from(
        state,
        [
            DomainCommand::TerminateSentence {
                on: date(2017, 1, 4),
                sentence_id: SentenceId(1),
                reason: TerminationReason::Expired,
            },
            community_order(date(2017, 3, 1), vec![]),
            allocate_to_provider(date(2017, 3, 2)),
        ],
    );
    assert_eq!(state.provider, Some(Provider::Crc(crc(CRC))));
}

#[test]
fn br_a11_only_the_nps_decides_an_escalation() {
    let (state, _) = run_from(
        tr_crc_case(),
        [DomainCommand::RequestRiskEscalation {
            on: date(2016, 2, 1),
            proposed_rosh: RoshLevel::High,
            evidence: None,
            by: crc_org(),
        }],
    );
    given_state(state)
        .when(DomainCommand::DecideRiskEscalation {
            on: date(2016, 2, 2),
            confirmed_rosh: RoshLevel::High,
            by: crc_org(),
        })
        .then_error(|e| matches!(e, DomainError::WrongOrganisation { rule, .. } if rule.starts_with("BR-A11")));
    given_state(tr_crc_case())
        .when(DomainCommand::DecideRiskEscalation {
            on: date(2016, 2, 2),
            confirmed_rosh: RoshLevel::High,
            by: Organisation::Nps,
        })
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
}

#[test]
fn br_a12_only_the_nps_refers_to_mappa_level_2_and_3_panels() {
    let (state, _) = run_from(
        tr_crc_case(),
        [DomainCommand::ScreenForMappa {
            on: date(2016, 2, 1),
            eligible: true,
            category: Some(MappaCategory::new(2).unwrap()),
            recommended_level: None,
        }],
    );
    let refer = |level: u8, by: Organisation| DomainCommand::ReferToMappa {
        on: date(2016, 2, 2),
        level: MappaLevel::new(level).unwrap(),
        by,
    };
    given_state(state.clone())
        .when(refer(1, Organisation::Nps))
        .then_error(|e| matches!(e, DomainError::RuleRefused { .. }));
    given_state(state.clone())
        .when(refer(2, crc_org()))
        .then_error(|e| matches!(e, DomainError::WrongOrganisation { .. }));
    given_state(state)
        .when(refer(3, Organisation::Nps))
        .then_types(&["MappaReferred"]);
    given_state(tr_crc_case())
        .when(refer(2, Organisation::Nps))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-D4")),
        );
}

#[test]
fn br_b1_open_crc_cases_move_to_the_unified_service_as_an_explicit_event() {
    let state = tr_crc_case();
    given_state(state.clone())
        .when(DomainCommand::UnifyProbationService {
            on: date(2021, 6, 25),
        })
        .then_error(|e| matches!(e, DomainError::WrongEra { .. }));
    // Under the unified model a CRC case cannot be allocated until it is moved explicitly.
    let (with_tier, _) = run_from(state.clone(), [record_tier(date(2021, 6, 26), "C2")]);
    given_state(with_tier)
        .when(allocate(
            date(2021, 6, 27),
            "N01",
            Grade::ProbationOfficer,
            Organisation::Nps,
        ))
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
    let events = given_state(state.clone())
        .when(DomainCommand::UnifyProbationService {
            on: date(2021, 6, 26),
        })
        .then_types(&["CaseTransferredToUnifiedService"]);
    match &events[0] {
        Event::CaseTransferredToUnifiedService(e) => {
            assert_eq!(e.from_provider, Provider::Crc(crc(CRC)));
            assert_eq!(e.decision.ruleset_id, RulesetId::Unified2021);
            assert_eq!(e.decision.reason_code.as_str(), reason::CRC_CONTRACTS_ENDED);
        }
        other => panic!("{other:?}"),
    }
    let state = events.iter().fold(state, caseledger_domain::evolve);
    assert_eq!(state.provider, Some(Provider::Nps));
    given_state(state)
        .when(DomainCommand::UnifyProbationService {
            on: date(2021, 6, 27),
        })
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
}

#[test]
fn wales_unified_sentence_management_from_december_2019_has_no_crc_allocation() {
    let (state, _) = run([
        open_case(106, date(2020, 2, 3)),
        assess(
            date(2020, 2, 3),
            RoshLevel::Low,
            AssessmentKind::Initial,
            Organisation::Nps,
        ),
        community_order(date(2020, 2, 4), vec![]),
    ]);
    given_state(state)
        .when(allocate_to_provider(date(2020, 2, 5)))
        .then_error(|e| {
            matches!(
                e,
                DomainError::WrongEra {
                    ruleset: "wales-unified-2019",
                    ..
                }
            )
        });
}

#[test]
fn br_c1_unified_allocation_needs_a_tier_and_the_probation_service() {
    let (no_tier, _) = run([
        open_case(79, date(2022, 3, 1)),
        community_order(date(2022, 3, 2), vec![]),
    ]);
    given_state(no_tier)
        .when(allocate(
            date(2022, 3, 3),
            "N01",
            Grade::ProbationOfficer,
            Organisation::Nps,
        ))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-C1")),
        );
    given_state(unified_case(RoshLevel::Medium))
        .when(allocate(
            date(2022, 3, 3),
            "N01",
            Grade::ProbationOfficer,
            Organisation::Court,
        ))
        .then_error(|e| matches!(e, DomainError::WrongOrganisation { .. }));
}

#[test]
fn br_c2_allocation_records_the_sentence_date_and_five_working_day_deadline() {
    let events = given_state(unified_case(RoshLevel::Medium))
        .when(allocate(
            date(2022, 3, 4),
            "N01",
            Grade::ProbationOfficer,
            Organisation::Nps,
        ))
        .then_types(&["PractitionerAllocated"]);
    match &events[0] {
        Event::PractitionerAllocated(e) => {
            assert_eq!(e.inputs.sentenced_on, date(2022, 3, 2));
            assert_eq!(e.inputs.allocation_deadline_working_days, 5);
            assert_eq!(e.inputs.tier.as_ref().map(|t| t.as_str()), Some("C2"));
            assert_eq!(e.decision.reason_code.as_str(), reason::ALLOCATED_ON_TIER);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn br_c4_a_pso_does_not_hold_high_rosh_cases() {
    given_state(unified_case(RoshLevel::High))
        .when(allocate(
            date(2022, 3, 3),
            "N02",
            Grade::ProbationServicesOfficer,
            Organisation::Nps,
        ))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-C4")),
        );
    given_state(unified_case(RoshLevel::Medium))
        .when(allocate(
            date(2022, 3, 3),
            "N02",
            Grade::ProbationServicesOfficer,
            Organisation::Nps,
        ))
        .then_types(&["PractitionerAllocated"]);
}

#[test]
fn br_c6_reassessment_triggers_a_tier_review_that_can_advise_reallocation() {
    let (state, _) = run_from(
        unified_case(RoshLevel::Medium),
        [allocate(
            date(2022, 3, 3),
            "N02",
            Grade::ProbationServicesOfficer,
            Organisation::Nps,
        )],
    );
    let events = given_state(state.clone())
        .when(assess(
            date(2022, 6, 1),
            RoshLevel::High,
            AssessmentKind::Review,
            Organisation::Nps,
        ))
        .then_types(&["RiskAssessed", "TierReviewTriggered"]);
    let state = events.iter().fold(state, caseledger_domain::evolve);
    assert!(state.tier_review_due);
    let events = given_state(state.clone())
        .when(record_tier(date(2022, 6, 2), "B2"))
        .then_types(&["TierCalculated"]);
    let state = events.iter().fold(state, caseledger_domain::evolve);
    assert!(state.reallocation_advised && !state.tier_review_due);
    let (state, _) = run_from(
        state,
        [DomainCommand::ReallocatePractitioner {
            on: date(2022, 6, 3),
            practitioner: practitioner("N03", Grade::ProbationOfficer),
            team: team("T01"),
            reason: caseledger_domain::event::ReallocationReason::TierChange,
            by: Organisation::Nps,
        }],
    );
    assert!(!state.reallocation_advised);
}

#[test]
fn br_c11_the_pom_type_follows_rosh() {
    let pom = |pom_type| DomainCommand::AllocatePrisonOffenderManager {
        on: date(2022, 1, 12),
        sentence_id: SentenceId(1),
        prison_offender_manager: practitioner("P01", Grade::ProbationOfficer),
        pom_type,
    };
    given_state(custody_case())
        .when(pom(PomType::Prison))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-C11")),
        );
    given_state(custody_case())
        .when(pom(PomType::Probation))
        .then_types(&["PrisonOffenderManagerAllocated"]);
}

#[test]
fn br_d4_an_eligible_mappa_screening_needs_its_category() {
    given_state(tr_crc_case())
        .when(DomainCommand::ScreenForMappa {
            on: date(2016, 2, 1),
            eligible: true,
            category: None,
            recommended_level: None,
        })
        .then_error(|e| matches!(e, DomainError::RuleRefused { .. }));
}

#[test]
fn br_e1_one_initial_appointment_per_sentence() {
    let schedule = |initial| DomainCommand::ScheduleAppointment {
        on: date(2016, 1, 8),
        sentence_id: SentenceId(1),
        kind: AppointmentKind::FaceToFace,
        initial,
    };
    let (state, _) = run_from(tr_crc_case(), [schedule(true)]);
    given_state(state.clone())
        .when(schedule(true))
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
    given_state(state)
        .when(schedule(false))
        .then_types(&["AppointmentScheduled"]);
}

#[test]
fn br_e2_a_sentence_plan_is_created_once_then_reviewed() {
    let review = DomainCommand::ReviewSentencePlan {
        on: date(2016, 3, 1),
        sentence_id: SentenceId(1),
        service_user_involved: true,
    };
    given_state(tr_crc_case())
        .when(review.clone())
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
    let create = DomainCommand::CreateSentencePlan {
        on: date(2016, 1, 20),
        sentence_id: SentenceId(1),
        service_user_involved: true,
    };
    let (state, _) = run_from(tr_crc_case(), [create.clone()]);
    given_state(state.clone())
        .when(create)
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
    given_state(state)
        .when(review)
        .then_types(&["SentencePlanReviewed"]);
}

#[test]
fn br_e10_unpaid_work_is_complete_only_when_every_hour_is_credited() {
    let complete = DomainCommand::CompleteRequirement {
        on: date(2016, 5, 1),
        sentence_id: SentenceId(1),
        requirement_id: RequirementId(1),
    };
    given_state(tr_crc_case())
        .when(complete.clone())
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-E10")),
        );
    let (state, _) = run_from(
        tr_crc_case(),
        [DomainCommand::CreditUnpaidWork {
            on: date(2016, 4, 1),
            sentence_id: SentenceId(1),
            requirement_id: RequirementId(1),
            minutes: 60 * 60,
        }],
    );
    given_state(state)
        .when(complete)
        .then_types(&["RequirementCompleted"]);
}

#[test]
fn br_g5_unpaid_work_credited_never_exceeds_the_hours_ordered() {
    let credit = |minutes| DomainCommand::CreditUnpaidWork {
        on: date(2016, 4, 1),
        sentence_id: SentenceId(1),
        requirement_id: RequirementId(1),
        minutes,
    };
    given_state(tr_crc_case())
        .when(credit(60 * 60 + 1))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-G5")),
        );
    given_state(tr_crc_case())
        .when(credit(0))
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
    given_state(tr_crc_case())
        .when(credit(60 * 60))
        .then_types(&["UnpaidWorkHoursCredited"]);
}

fn with_com(state: CaseState) -> CaseState {
    run_from(
        state,
        [DomainCommand::AllocateCommunityOffenderManager {
            on: date(2022, 6, 1),
            sentence_id: SentenceId(1),
            community_offender_manager: practitioner("N07", Grade::ProbationOfficer),
            team: team("T01"),
        }],
    )
    .0
}

#[test]
fn br_f5_pre_release_contacts_are_made_and_counted_by_the_com() {
    let contact = DomainCommand::RecordPreReleaseContact {
        on: date(2022, 7, 1),
        sentence_id: SentenceId(1),
    };
    given_state(custody_case())
        .when(contact.clone())
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-F5")),
        );
    let (state, _) = run_from(
        with_com(custody_case()),
        [contact.clone(), contact.clone(), contact],
    );
    assert_eq!(state.sentences[&SentenceId(1)].pre_release_contacts, 3);
}

#[test]
fn br_f6_the_com_attends_the_handover_meeting() {
    let meeting = |attendees| DomainCommand::RecordHandoverMeeting {
        on: date(2022, 6, 2),
        sentence_id: SentenceId(1),
        attendees,
    };
    given_state(with_com(custody_case()))
        .when(meeting(vec![
            Attendee::PrisonOffenderManager,
            Attendee::Individual,
        ]))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-F6")),
        );
    given_state(with_com(custody_case()))
        .when(meeting(vec![
            Attendee::CommunityOffenderManager,
            Attendee::Individual,
            Attendee::Individual,
        ]))
        .then_types(&["HandoverMeetingHeld"]);
}

#[test]
fn br_f8_home_detention_curfew_release_from_the_hdc_eligibility_date() {
    // HDCED is CRD − 2 months = 2023-01-10.
    let release = |on| DomainCommand::Release {
        on,
        sentence_id: SentenceId(1),
        release_type: ReleaseType::HomeDetentionCurfew,
    };
    given_state(custody_case())
        .when(release(date(2023, 1, 9)))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-F8")),
        );
    given_state(custody_case())
        .when(release(date(2023, 1, 10)))
        .then_types(&["Released"]);
    given_state(custody_case())
        .when(DomainCommand::Release {
            on: date(2023, 1, 10),
            sentence_id: SentenceId(1),
            release_type: ReleaseType::Parole,
        })
        .then_error(|e| matches!(e, DomainError::RuleRefused { .. }));
}

#[test]
fn br_f11_post_sentence_supervision_follows_the_licence_until_tused() {
    // PSS-1: a 12-month sentence (CRD 6 months; TUSED given as CRD + 12 months).
    let short = run([
        open_case(79, date(2022, 1, 10)),
        determinate_custody(date(2022, 1, 10), 6),
    ])
    .0;
    let released_and_ended = |state: CaseState, release: Date, licence_ends: Date| {
        run_from(
            state,
            [
                DomainCommand::Release {
                    on: release,
                    sentence_id: SentenceId(1),
                    release_type: ReleaseType::Automatic,
                },
                DomainCommand::EndLicence {
                    on: licence_ends,
                    sentence_id: SentenceId(1),
                },
            ],
        )
        .0
    };
    let state = released_and_ended(short, date(2022, 7, 10), date(2023, 1, 10));
    let events = given_state(state)
        .when(DomainCommand::StartPostSentenceSupervision {
            on: date(2023, 1, 10),
            sentence_id: SentenceId(1),
        })
        .then_types(&["PostSentenceSupervisionStarted"]);
    match &events[0] {
        Event::PostSentenceSupervisionStarted(e) => assert_eq!(e.ends_on, date(2023, 7, 10)),
        other => panic!("{other:?}"),
    }
    // PSS-1: a sentence of 2 years or more has none, even with a TUSED given.
    let long = released_and_ended(custody_case(), date(2023, 3, 10), date(2023, 9, 1));
    given_state(long)
        .when(DomainCommand::StartPostSentenceSupervision {
            on: date(2023, 9, 1),
            sentence_id: SentenceId(1),
        })
        .then_error(|e| {
            matches!(e, DomainError::RuleRefused { rule, why, .. }
                if rule.starts_with("PSS-1") && why.contains("under 2 years"))
        });
    // A community order is never released, so it never reaches PSS.
    given_state(tr_crc_case())
        .when(DomainCommand::Release {
            on: date(2016, 2, 1),
            sentence_id: SentenceId(1),
            release_type: ReleaseType::Automatic,
        })
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
}

#[test]
fn br_i1_breach_is_for_an_active_community_order_and_ends_with_a_court_outcome() {
    let breach = DomainCommand::RaiseBreach {
        on: date(2016, 3, 1),
        sentence_id: SentenceId(1),
        reason: text("failed to attend"),
    };
    let (state, _) = run_from(
        tr_crc_case(),
        [
            DomainCommand::ScheduleAppointment {
                on: date(2016, 2, 1),
                sentence_id: SentenceId(1),
                kind: AppointmentKind::FaceToFace,
                initial: true,
            },
            DomainCommand::RecordAbsence {
                on: date(2016, 2, 1),
                appointment_id: 1,
                absence: Absence::Unacceptable,
            },
            DomainCommand::ScheduleAppointment {
                on: date(2016, 2, 8),
                sentence_id: SentenceId(1),
                kind: AppointmentKind::FaceToFace,
                initial: false,
            },
            DomainCommand::RecordAttendance {
                on: date(2016, 2, 8),
                appointment_id: 2,
                outcome: AttendedOutcome::FailedToComply,
            },
        ],
    );
    let events = given_state(state.clone())
        .when(breach.clone())
        .then_types(&["BreachRaised"]);
    match &events[0] {
        Event::BreachRaised(e) => {
            assert_eq!(
                (e.inputs.failures_to_comply, e.inputs.unacceptable_absences),
                (1, 1)
            );
        }
        other => panic!("{other:?}"),
    }
    let state = events.iter().fold(state, caseledger_domain::evolve);
    given_state(state.clone())
        .when(breach.clone())
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
    let concluded = given_state(state)
        .when(DomainCommand::ConcludeBreach {
            on: date(2016, 4, 1),
            breach_id: 1,
            outcome: BreachOutcome::NotProven,
        })
        .then_types(&["BreachConcluded"]);
    assert!(matches!(&concluded[0], Event::BreachConcluded(e) if !e.proven));
    // A terminated order cannot be breached.
    let (ended, _) = run_from(
        tr_crc_case(),
        [DomainCommand::TerminateSentence {
            on: date(2016, 2, 1),
            sentence_id: SentenceId(1),
            reason: TerminationReason::Revoked,
        }],
    );
    given_state(ended)
        .when(breach)
        .then_error(|e| matches!(e, DomainError::SentenceEnded { .. }));
}

#[test]
fn br_i3_recall_only_from_licence_and_a_recall_returns_the_person_to_custody() {
    let recall = DomainCommand::RaiseRecall {
        on: date(2023, 4, 1),
        sentence_id: SentenceId(1),
        reason: text("risk escalating"),
    };
    given_state(custody_case()).when(recall.clone()).then_error(
        |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("BR-I3")),
    );
    let (state, _) = run_from(
        custody_case(),
        [
            DomainCommand::Release {
                on: date(2023, 3, 10),
                sentence_id: SentenceId(1),
                release_type: ReleaseType::Automatic,
            },
            recall,
            DomainCommand::ConcludeRecall {
                on: date(2023, 4, 2),
                recall_id: 1,
                outcome: RecallOutcome::StandardTerm,
            },
        ],
    );
    assert_eq!(
        state.sentences[&SentenceId(1)].status,
        caseledger_domain::state::SentenceStatus::Recalled
    );
    // Licence non-compliance is not a breach.
    let (on_licence, _) = run_from(
        custody_case(),
        [DomainCommand::Release {
            on: date(2023, 3, 10),
            sentence_id: SentenceId(1),
            release_type: ReleaseType::Automatic,
        }],
    );
    given_state(on_licence)
        .when(DomainCommand::RaiseBreach {
            on: date(2023, 4, 1),
            sentence_id: SentenceId(1),
            reason: text("missed"),
        })
        .then_error(|e| matches!(e, DomainError::RuleRefused { .. }));
}

#[test]
fn refusals_say_why_in_words_a_practitioner_can_act_on() {
    let (opened, _) = run([open_case(79, date(2016, 1, 4))]);
    let e = given_state(opened)
        .when(allocate(
            date(2016, 1, 5),
            "C01",
            Grade::ProbationOfficer,
            crc_org(),
        ))
        .then_error(|e| matches!(e, DomainError::NoSentence { .. }));
    assert_eq!(
        e.to_string(),
        "cannot allocate a practitioner on CRN X123456 before a sentence is imposed"
    );
    let e = given(vec![])
        .when(community_order(date(2016, 1, 5), vec![]))
        .then_error(|e| matches!(e, DomainError::CaseNotOpen));
    assert!(e.to_string().contains("open the case"));
    let e = given_state(tr_crc_case())
        .on(date(2016, 1, 10))
        .when(assess(
            date(2016, 2, 1),
            RoshLevel::Low,
            AssessmentKind::Review,
            crc_org(),
        ))
        .then_error(|e| matches!(e, DomainError::DateInFuture { .. }));
    assert!(e.to_string().contains("2016-02-01"));
}

/// A unified-era case whose community order ended and which was closed on 1 March 2023.
fn closed_case() -> CaseState {
    run_from(
        unified_case(RoshLevel::Medium),
        [
            DomainCommand::TerminateSentence {
                on: date(2023, 3, 1),
                sentence_id: SentenceId(1),
                reason: TerminationReason::Expired,
            },
            DomainCommand::CloseCase {
                on: date(2023, 3, 1),
                reason: text("order ended"),
            },
        ],
    )
    .0
}

/// Seed 003 l.2600 (one record per person): a new sentence on a closed case reopens it on the
/// same record, `CaseReopened` (reason `reopened_for_new_sentence`) just before the
/// `SentenceImposed`; the sentence numbering continues and the closure is kept in the history.
#[test]
fn reopen_seed_003_l2600_a_new_sentence_reopens_a_closed_case() {
    let state = closed_case();
    let events = given_state(state)
        .on(date(2024, 5, 7))
        .when(community_order(
            date(2024, 5, 7),
            vec![RequirementKind::RehabilitationActivity { days: 15 }],
        ))
        .then_types(&["CaseReopened", "SentenceImposed"]);
    let Event::CaseReopened(reopened) = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(reopened.closed_on, date(2023, 3, 1));
    assert_eq!(reopened.reopened_on, date(2024, 5, 7));
    assert_eq!(
        reopened.decision.reason_code.as_str(),
        reason::REOPENED_FOR_NEW_SENTENCE
    );
    let Event::SentenceImposed(imposed) = &events[1] else {
        panic!("{events:?}");
    };
    assert_eq!(imposed.sentence_id, SentenceId(2));
    let after = events.iter().fold(closed_case(), caseledger_domain::evolve);
    assert_eq!(after.closed_on, None);
    assert_eq!(after.reopenings.len(), 1);
    assert_eq!(after.sentences.len(), 2);
}

/// Seed 003 l.2600: `reopen_case` reopens a closed case (`reopened_on_request`); it is refused
/// on an open case and before the closure date; `open_case` on a closed case is refused with a
/// message that names `reopen_case`; anything else on a closed case is still refused.
#[test]
fn reopen_seed_003_l2600_reopen_case_is_explicit_dated_and_only_for_a_closed_case() {
    let reopen = |on| DomainCommand::ReopenCase {
        on,
        reason: text("returned to the area under a new order"),
    };
    let events = given_state(closed_case())
        .on(date(2024, 5, 7))
        .when(reopen(date(2024, 5, 7)))
        .then_types(&["CaseReopened"]);
    let Event::CaseReopened(reopened) = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(
        reopened.decision.reason_code.as_str(),
        reason::REOPENED_ON_REQUEST
    );
    given_state(unified_case(RoshLevel::Medium))
        .on(date(2024, 5, 7))
        .when(reopen(date(2024, 5, 7)))
        .then_error(|e| e.to_string().contains("the case is open"));
    given_state(closed_case())
        .on(date(2024, 5, 7))
        .when(reopen(date(2023, 2, 1)))
        .then_error(|e| matches!(e, DomainError::DateTooEarly { .. }));
    let refused = given_state(closed_case())
        .on(date(2024, 5, 7))
        .when(open_case(79, date(2024, 5, 7)))
        .then_error(|_| true);
    assert!(refused.to_string().contains("reopen_case"), "{refused}");
    given_state(closed_case())
        .on(date(2024, 5, 7))
        .when(assess(
            date(2024, 5, 7),
            RoshLevel::Low,
            AssessmentKind::Review,
            Organisation::Nps,
        ))
        .then_error(|e| matches!(e, DomainError::CaseClosed { .. }));
}

/// A case cannot open before the person was born; the refusal (kept in the log) names the
/// field and never the date of birth (docs/decisions/0009-crypto-shredding.md: personal data
/// only sealed).
#[test]
fn open_case_before_the_date_of_birth_is_refused_without_repeating_it() {
    let mut open = open_case(79, date(2015, 6, 1));
    if let DomainCommand::OpenCase { person, .. } = &mut open {
        person.date_of_birth = date(2016, 2, 3);
    }
    let error = given([])
        .when(open)
        .then_error(|e| matches!(e, DomainError::DateTooEarly { .. }));
    let message = error.to_string();
    assert!(message.contains("person.date_of_birth"), "{message}");
    assert!(!message.contains("2016-02-03"), "{message}");
}

#[test]
fn acr_1_no_sentence_before_the_tenth_birthday_children_and_young_persons_act_1933_s50() {
    let mut open = open_case(79, date(2015, 6, 1));
    if let DomainCommand::OpenCase { person, .. } = &mut open {
        person.date_of_birth = date(2005, 6, 2);
    }
    let state = run([open]).0;
    let error = given_state(state.clone())
        .when(community_order(date(2015, 6, 1), vec![]))
        .then_error(
            |e| matches!(e, DomainError::RuleRefused { rule, .. } if rule.starts_with("ACR-1")),
        );
    let message = error.to_string();
    assert!(
        message.contains("command.on") && message.contains("person.date_of_birth"),
        "{message}"
    );
    // A refusal is kept in the log: it must not carry the date of birth.
    assert!(!message.contains("2005-06-02"), "{message}");
    given_state(state)
        .when(community_order(date(2015, 6, 2), vec![]))
        .then_types(&["SentenceImposed"]);
}

/// LAPSE-1 (seed 002 l.53): the licence of a 12-month sentence ends on its licence expiry date
/// and post-sentence supervision follows to the TUSED in the same fact; the end is refused on
/// any other date and while a recall is open; post-sentence supervision then ends on the TUSED
/// and an order on its end date (the sentence expires).
#[test]
fn lapse_1_supervision_ends_on_its_own_date_seed_002_l53() {
    let released = run([
        open_case(79, date(2022, 1, 10)),
        determinate_custody(date(2022, 1, 10), 6),
        DomainCommand::Release {
            on: date(2022, 7, 10),
            sentence_id: SentenceId(1),
            release_type: ReleaseType::Automatic,
        },
    ])
    .0;
    let lapse = |on: Date| DomainCommand::LapseSupervision {
        on,
        sentence_id: SentenceId(1),
    };
    given_state(released.clone())
        .when(lapse(date(2022, 12, 1)))
        .then_error(|e| {
            matches!(e, DomainError::RuleRefused { rule, why, .. }
                if rule.starts_with("LAPSE-1") && why.contains("2023-01-10"))
        });
    let recalled = run_from(
        released.clone(),
        [DomainCommand::RaiseRecall {
            on: date(2022, 12, 1),
            sentence_id: SentenceId(1),
            reason: text("risk unmanageable in the community"),
        }],
    )
    .0;
    given_state(recalled)
        .when(lapse(date(2023, 1, 10)))
        .then_error(|e| matches!(e, DomainError::NotAllowedInState { .. }));
    let events = given_state(released.clone())
        .when(lapse(date(2023, 1, 10)))
        .then_types(&["SupervisionLapsed"]);
    let Event::SupervisionLapsed(e) = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(e.period, SupervisionPeriod::Licence);
    assert_eq!(e.post_sentence_supervision_until, Some(date(2023, 7, 10)));
    assert_eq!(
        e.decision.reason_code.as_str(),
        reason::LICENCE_EXPIRY_DATE_REACHED
    );
    let on_pss = run_from(released, [lapse(date(2023, 1, 10))]).0;
    assert_eq!(
        on_pss.sentences[&SentenceId(1)].status,
        SentenceStatus::PostSentenceSupervision
    );
    let ended = run_from(on_pss, [lapse(date(2023, 7, 10))]).0;
    assert_eq!(
        ended.sentences[&SentenceId(1)].status,
        SentenceStatus::SupervisionEnded
    );
    let order = run([
        open_case(79, date(2022, 1, 10)),
        community_order(date(2022, 1, 10), vec![]),
        lapse(date(2023, 1, 10)),
    ])
    .0;
    assert_eq!(
        order.sentences[&SentenceId(1)].terminated,
        Some((date(2023, 1, 10), TerminationReason::Expired))
    );
}

/// ALLOC-1 (seed 003 l.775: allocation within five working days of sentence; BR-C3
/// continuity): a new order after the first ended leaves the case without a practitioner,
/// keeping the previous one is recorded as `continuity`, another practitioner as an ordinary
/// allocation; a second order while the first is supervised is taken on by the case's
/// practitioner the day it is imposed.
#[test]
fn alloc_1_a_sentence_that_starts_supervision_is_allocated_afresh_seed_003_l775() {
    let allocated = run_from(
        unified_case(RoshLevel::Medium),
        [allocate(
            date(2022, 3, 3),
            "P001",
            Grade::ProbationOfficer,
            Organisation::Nps,
        )],
    )
    .0;
    assert_eq!(
        allocated.sentences[&SentenceId(1)].allocated_on,
        Some(date(2022, 3, 3))
    );
    let concurrent = run_from(
        allocated.clone(),
        [community_order(date(2022, 6, 1), vec![])],
    )
    .0;
    assert!(concurrent.practitioner.is_some());
    assert_eq!(
        concurrent.sentences[&SentenceId(2)].allocated_on,
        Some(date(2022, 6, 1))
    );
    let new_order = run_from(
        allocated,
        [
            DomainCommand::LapseSupervision {
                on: date(2023, 3, 2),
                sentence_id: SentenceId(1),
            },
            community_order(date(2023, 5, 2), vec![]),
        ],
    )
    .0;
    assert!(new_order.practitioner.is_none());
    assert_eq!(new_order.sentences[&SentenceId(2)].allocated_on, None);
    for (code, expected) in [
        ("P001", reason::CONTINUITY),
        ("P002", reason::ALLOCATED_ON_TIER),
    ] {
        let events = given_state(new_order.clone())
            .when(allocate(
                date(2023, 5, 4),
                code,
                Grade::ProbationOfficer,
                Organisation::Nps,
            ))
            .then_types(&["PractitionerAllocated"]);
        let Event::PractitionerAllocated(e) = &events[0] else {
            panic!("{events:?}");
        };
        assert_eq!(e.decision.reason_code.as_str(), expected);
    }
}
