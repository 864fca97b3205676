//! Test support: a given/when/then harness over `decide` and `evolve`, and builders for
//! valid values. Compiled for this crate's tests and behind the `testing` feature for others';
//! it panics on purpose (that is how a test fails), so it is never part of production builds.
//!
//! ```ignore
//! given(events).on(today).when(command).then(expected_events);
//! given(events).when(command).then_error(|e| matches!(e, DomainError::NoSentence { .. }));
//! ```
//!
//! Every `when` also checks the evolve/decide contract: folding the emitted events onto the
//! state `decide` saw gives that state advanced by exactly those events.

use std::collections::BTreeMap;

use jiff::civil::{date, Date};

use crate::command::DomainCommand;
use crate::decide::decide;
use crate::error::DomainError;
use crate::event::Event;
use crate::identity::{
    Crn, Gender, Grade, Person, PersonName, Practitioner, StaffCode, TeamCode, Text,
};
use crate::reference::{CrcName, Organisation, Pdu};
use crate::risk::{AssessmentKind, RoshLevel};
use crate::ruleset::Ruleset;
use crate::sentence::{RequirementKind, SentenceDates, SentenceType};
use crate::state::{evolve, CaseState};

/// Start a scenario from a history.
pub fn given(events: impl IntoIterator<Item = Event>) -> Given {
    let events: Vec<Event> = events.into_iter().collect();
    given_state(CaseState::from_events(&events))
}

/// Start a scenario from a state already folded.
pub fn given_state(state: CaseState) -> Given {
    Given {
        state,
        today: None,
        ruleset: None,
    }
}

pub struct Given {
    state: CaseState,
    today: Option<Date>,
    ruleset: Option<Ruleset>,
}

impl Given {
    /// `today` for `decide`; defaults to the command's own date.
    pub fn on(mut self, today: Date) -> Given {
        self.today = Some(today);
        self
    }

    /// Force a ruleset; by default it is chosen from the command's date and the case's nation.
    pub fn under(mut self, ruleset: Ruleset) -> Given {
        self.ruleset = Some(ruleset);
        self
    }

    pub fn state(&self) -> &CaseState {
        &self.state
    }

    pub fn when(self, command: DomainCommand) -> When {
        let state = self.state;
        let today = self.today.unwrap_or_else(|| command.on());
        let ruleset = match self.ruleset {
            Some(r) => r,
            None => ruleset_for(&state, &command, command.on()),
        };
        let result = decide(&state, &command, &ruleset, today);
        if let Ok(events) = &result {
            check_evolve_contract(&state, events);
        }
        When { state, result }
    }
}

/// The ruleset for a command on a case: by the command's date and the nation of the case's
/// PDU (or of the PDU the command opens the case in).
pub fn ruleset_for(state: &CaseState, command: &DomainCommand, on: Date) -> Ruleset {
    let pdu = match (state.pdu, command) {
        (Some(pdu), _) => pdu,
        (None, DomainCommand::OpenCase { pdu, .. }) => *pdu,
        (None, _) => pdu(78),
    };
    let on = on.max(crate::ruleset::TR_START);
    Ruleset::for_date(on, pdu.nation()).expect("dates from 2014-06-01 have a ruleset")
}

/// evolve over decide's events equals the state decide saw plus the change.
pub fn check_evolve_contract(before: &CaseState, events: &[Event]) {
    let after = events.iter().fold(before.clone(), evolve);
    assert_eq!(
        after.version,
        before.version + events.len() as u64,
        "evolve must advance the version by one per event"
    );
    let again = events.iter().fold(before.clone(), evolve);
    assert_eq!(after, again, "evolve must be deterministic");
}

pub struct When {
    state: CaseState,
    result: Result<Vec<Event>, DomainError>,
}

impl When {
    /// Assert the command emits exactly `expected`.
    pub fn then(self, expected: impl IntoIterator<Item = Event>) -> CaseState {
        let expected: Vec<Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "emitted events differ");
                events.iter().fold(self.state, evolve)
            }
            Err(e) => panic!("expected events, got refusal: {e}"),
        }
    }

    /// Assert the command emits events of these types, in order; returns the events.
    pub fn then_types(self, expected: &[&str]) -> Vec<Event> {
        match self.result {
            Ok(events) => {
                let types: Vec<&str> = events.iter().map(Event::event_type).collect();
                assert_eq!(types, expected, "emitted event types differ");
                events
            }
            Err(e) => panic!("expected {expected:?}, got refusal: {e}"),
        }
    }

    /// Assert the command is refused with an error matching `matcher`; returns it.
    pub fn then_error(self, matcher: impl Fn(&DomainError) -> bool) -> DomainError {
        match self.result {
            Ok(events) => panic!("expected a refusal, got events {events:?}"),
            Err(e) => {
                assert!(matcher(&e), "refusal did not match: {e:?}");
                assert!(!e.to_string().is_empty());
                e
            }
        }
    }

    pub fn result(self) -> Result<Vec<Event>, DomainError> {
        self.result
    }
}

/// Run commands one after another from an empty case, each with `today` = its own date and
/// the ruleset for that date; panics on the first refusal. Returns every event emitted.
pub fn run(commands: impl IntoIterator<Item = DomainCommand>) -> (CaseState, Vec<Event>) {
    run_from(CaseState::default(), commands)
}

pub fn run_from(
    mut state: CaseState,
    commands: impl IntoIterator<Item = DomainCommand>,
) -> (CaseState, Vec<Event>) {
    let mut all = Vec::new();
    for command in commands {
        let ruleset = ruleset_for(&state, &command, command.on());
        let events = decide(&state, &command, &ruleset, command.on())
            .unwrap_or_else(|e| panic!("command {command:?} refused: {e}"));
        check_evolve_contract(&state, &events);
        state = events.iter().fold(state, evolve);
        all.extend(events);
    }
    (state, all)
}

// ---- builders for valid values -------------------------------------------------------------

pub fn crn() -> Crn {
    Crn::new("X123456").expect("valid CRN")
}

pub fn pdu(number: u32) -> Pdu {
    Pdu::new(number).expect("valid PDU")
}

pub fn text(s: &str) -> Text {
    Text::new(s).expect("valid text")
}

pub fn team(code: &str) -> TeamCode {
    TeamCode::new(code).expect("valid team code")
}

pub fn crc(name: &str) -> CrcName {
    CrcName::new(name).expect("valid CRC name")
}

pub fn person() -> Person {
    Person {
        name: PersonName::new("Sam Example").expect("valid name"),
        date_of_birth: date(1990, 4, 12),
        gender: Gender::Male,
    }
}

pub fn practitioner(code: &str, grade: Grade) -> Practitioner {
    Practitioner {
        staff_code: StaffCode::new(code).expect("valid staff code"),
        name: PersonName::new(format!("Practitioner {code}")).expect("valid name"),
        grade,
    }
}

pub fn open_case(pdu_number: u32, on: Date) -> DomainCommand {
    DomainCommand::OpenCase {
        crn: crn(),
        person: person(),
        pdu: pdu(pdu_number),
        team: Some(team("T01")),
        on,
    }
}

pub fn community_order(on: Date, requirements: Vec<RequirementKind>) -> DomainCommand {
    DomainCommand::ImposeSentence {
        on,
        sentence_type: SentenceType::CommunityOrder,
        court: text("Hereford Magistrates' Court"),
        length_months: Some(12),
        dates: SentenceDates {
            sentence_expiry_date: on.checked_add(jiff::Span::new().months(12)).ok(),
            ..SentenceDates::default()
        },
        requirements,
    }
}

/// A determinate custodial sentence with CRD / LED / TUSED set from `on`.
pub fn determinate_custody(on: Date, crd_months: i64) -> DomainCommand {
    let plus = |m: i64| on.checked_add(jiff::Span::new().months(m)).ok();
    DomainCommand::ImposeSentence {
        on,
        sentence_type: SentenceType::DeterminateCustody,
        court: text("Nottingham Crown Court"),
        length_months: Some(u16::try_from(crd_months * 2).unwrap_or(0)),
        dates: SentenceDates {
            conditional_release_date: plus(crd_months),
            home_detention_curfew_eligibility_date: plus(crd_months - 2),
            sentence_expiry_date: plus(crd_months * 2),
            licence_expiry_date: plus(crd_months * 2),
            top_up_supervision_expiry_date: plus(crd_months + 12),
            ..SentenceDates::default()
        },
        requirements: vec![],
    }
}

/// `command` (an `ImposeSentence`) with the sentence length set to `months`.
pub fn with_length_months(mut command: DomainCommand, months: u16) -> DomainCommand {
    if let DomainCommand::ImposeSentence { length_months, .. } = &mut command {
        *length_months = Some(months);
    }
    command
}

pub fn assess(on: Date, rosh: RoshLevel, kind: AssessmentKind, by: Organisation) -> DomainCommand {
    DomainCommand::AssessRisk {
        on,
        kind,
        rosh,
        rsr: None,
        ogrs: None,
        needs: BTreeMap::new(),
        predictors: None,
        by,
    }
}

/// An assessment that also records V3 predictor scores (tier-rules.md §1 `v3`): ARP and
/// CSRP in hundredths of a percent, both dynamic.
pub fn assess_with_predictors(
    on: Date,
    rosh: RoshLevel,
    arp_hundredths: u16,
    csrp_hundredths: u16,
) -> DomainCommand {
    use crate::risk::{PredictorScore, V3Predictors};
    DomainCommand::AssessRisk {
        on,
        kind: AssessmentKind::Review,
        rosh,
        rsr: None,
        ogrs: None,
        needs: BTreeMap::new(),
        predictors: Some(V3Predictors {
            arp: PredictorScore::from_hundredths(arp_hundredths).ok(),
            arp_static: Some(false),
            csrp: PredictorScore::from_hundredths(csrp_hundredths).ok(),
            csrp_static: Some(false),
            dc_srp_score: None,
            dc_srp_band: None,
        }),
        by: Organisation::Nps,
    }
}

/// A long, valid life of one case that emits every event type at least once: TR-era
/// community order with a CRC, escalation to the NPS, a custodial sentence with OMiC handover,
/// release, recall, re-release, the move into the unified service, licence, PSS, closure, a
/// correction and the erasure of the person's personal data. Useful as sample data for codecs,
/// projections and catalogue checks.
pub fn full_lifecycle() -> Vec<DomainCommand> {
    use crate::enforcement::*;
    use crate::event::{Attendee, PomType, ReallocationReason, ReasonCode, Responsibility};
    use crate::handover::HandoverEra;
    use crate::identity::{EventRef, InputsDigest};
    use crate::risk::{MappaCategory, MappaLevel, RegistrationKind};
    use crate::sentence::{ReleaseType, RequirementId, SentenceId, TerminationReason};
    use crate::tier::V2Tier;
    use DomainCommand as C;

    let crc_name = crc("DLNR CRC");
    let crc_org = Organisation::Crc(crc_name.clone());
    let s1 = SentenceId(1);
    let s2 = SentenceId(2);
    let digest = InputsDigest::of(b"inputs");
    let d = date;
    let mut commands = vec![
        open_case(79, d(2015, 1, 5)),
        C::RequestPreSentenceReport {
            on: d(2015, 1, 5),
            court: text("Nottingham Magistrates' Court"),
            due_on: Some(d(2015, 1, 26)),
        },
        C::CompletePreSentenceReport {
            on: d(2015, 1, 20),
            proposal: Some(text("community order with unpaid work")),
        },
        assess(
            d(2015, 1, 20),
            RoshLevel::Medium,
            AssessmentKind::Initial,
            Organisation::Nps,
        ),
        community_order(
            d(2015, 1, 26),
            vec![
                RequirementKind::UnpaidWork { hours: 40 },
                RequirementKind::RehabilitationActivity { days: 10 },
            ],
        ),
        C::RecalculateSentenceDates {
            on: d(2015, 1, 27),
            sentence_id: s1,
            dates: SentenceDates {
                sentence_expiry_date: Some(d(2016, 1, 25)),
                ..SentenceDates::default()
            },
            reason: text("court amended the order length"),
        },
        C::AddRegistration {
            on: d(2015, 1, 27),
            kind: RegistrationKind::DomesticAbusePerpetrator,
            review_on: Some(d(2015, 7, 27)),
        },
        C::RemoveRegistration {
            on: d(2015, 1, 28),
            registration_id: 1,
            reason: text("added in error"),
        },
        C::ScreenForMappa {
            on: d(2015, 1, 28),
            eligible: false,
            category: None,
            recommended_level: None,
        },
        C::AllocateToProvider {
            on: d(2015, 1, 28),
            crc: crc_name.clone(),
            deportation_order: false,
            notoriety: false,
            by: Organisation::Nps,
        },
        C::AllocatePractitioner {
            on: d(2015, 1, 29),
            practitioner: practitioner("C01", Grade::ProbationServicesOfficer),
            team: team("CRC1"),
            by: crc_org.clone(),
        },
        C::ReallocatePractitioner {
            on: d(2015, 2, 2),
            practitioner: practitioner("C02", Grade::ProbationOfficer),
            team: team("CRC1"),
            reason: ReallocationReason::WorkloadBalance,
            by: crc_org.clone(),
        },
        C::RecordTier {
            on: d(2015, 2, 2),
            tier: V2Tier::new("C2").expect("valid tier"),
            inputs_digest: digest.clone(),
            reason_code: ReasonCode::new("case_created").expect("valid reason"),
        },
        assess_with_predictors(d(2015, 2, 2), RoshLevel::Medium, 5_000, 300),
        C::RecordTierV3 {
            on: d(2015, 2, 2),
            tier: crate::tier::V3Tier::Level(crate::tier::V3Level::C),
            provisional: false,
            inputs_digest: digest.clone(),
            reason_code: ReasonCode::new("risk_assessed").expect("valid reason"),
        },
        C::ScheduleAppointment {
            on: d(2015, 2, 2),
            sentence_id: s1,
            kind: AppointmentKind::FaceToFace,
            initial: true,
        },
        C::RecordAttendance {
            on: d(2015, 2, 2),
            appointment_id: 1,
            outcome: AttendedOutcome::FailedToComply,
        },
        C::ScheduleAppointment {
            on: d(2015, 2, 9),
            sentence_id: s1,
            kind: AppointmentKind::UnpaidWorkSession,
            initial: false,
        },
        C::RecordAbsence {
            on: d(2015, 2, 9),
            appointment_id: 2,
            absence: Absence::Unacceptable,
        },
        C::IssueWarning {
            on: d(2015, 2, 10),
            sentence_id: s1,
            kind: WarningKind::First,
            reason: text("missed unpaid work session"),
        },
        C::RaiseBreach {
            on: d(2015, 3, 2),
            sentence_id: s1,
            reason: text("second unacceptable absence"),
        },
        C::ConcludeBreach {
            on: d(2015, 3, 20),
            breach_id: 1,
            outcome: BreachOutcome::ProvenFine,
        },
        C::CreditUnpaidWork {
            on: d(2015, 4, 1),
            sentence_id: s1,
            requirement_id: RequirementId(1),
            minutes: 40 * 60,
        },
        C::CompleteRequirement {
            on: d(2015, 4, 1),
            sentence_id: s1,
            requirement_id: RequirementId(1),
        },
        C::TerminateRequirement {
            on: d(2015, 4, 2),
            sentence_id: s1,
            requirement_id: RequirementId(2),
            reason: text("varied by the court"),
        },
        C::CreateSentencePlan {
            on: d(2015, 2, 5),
            sentence_id: s1,
            service_user_involved: true,
        },
        C::ReviewSentencePlan {
            on: d(2015, 5, 5),
            sentence_id: s1,
            service_user_involved: true,
        },
        C::RecordAccommodation {
            on: d(2015, 5, 5),
            status: AccommodationStatus::Settled,
            checkpoint: StatusCheckpoint::ThreeMonths,
        },
        C::RecordEmployment {
            on: d(2015, 5, 5),
            status: EmploymentStatus::Employed,
            checkpoint: StatusCheckpoint::ThreeMonths,
        },
        C::RequestRiskEscalation {
            on: d(2015, 6, 1),
            proposed_rosh: RoshLevel::High,
            evidence: Some(text("new intelligence from police")),
            by: crc_org.clone(),
        },
        C::DecideRiskEscalation {
            on: d(2015, 6, 3),
            confirmed_rosh: RoshLevel::High,
            by: Organisation::Nps,
        },
        C::ScreenForMappa {
            on: d(2015, 6, 4),
            eligible: true,
            category: Some(MappaCategory::new(2).expect("valid")),
            recommended_level: Some(MappaLevel::new(2).expect("valid")),
        },
        C::ReferToMappa {
            on: d(2015, 6, 5),
            level: MappaLevel::new(2).expect("valid"),
            by: Organisation::Nps,
        },
        C::SetMappaLevel {
            on: d(2015, 6, 20),
            category: MappaCategory::new(2).expect("valid"),
            level: MappaLevel::new(2).expect("valid"),
            by: Organisation::MappaPanel,
        },
        C::TransferCase {
            on: d(2015, 7, 1),
            to_pdu: pdu(80),
            to_team: Some(team("N02")),
            reason: text("moved to Mansfield"),
        },
        // The order ends on its end date, by the engine's clock (LAPSE-1).
        C::LapseSupervision {
            on: d(2016, 1, 25),
            sentence_id: s1,
        },
        // 23 months: under 2 years, so post-sentence supervision follows the licence (PSS-1).
        with_length_months(determinate_custody(d(2019, 11, 1), 12), 23),
        assess(
            d(2019, 11, 4),
            RoshLevel::High,
            AssessmentKind::Review,
            Organisation::Nps,
        ),
        C::AllocatePrisonOffenderManager {
            on: d(2019, 11, 5),
            sentence_id: s2,
            prison_offender_manager: practitioner("P01", Grade::ProbationOfficer),
            pom_type: PomType::Probation,
        },
        C::RecordHandoverDates {
            on: d(2019, 11, 5),
            sentence_id: s2,
            handover_era: HandoverEra::Omic2019,
            responsibility: Responsibility::CustodyOnly,
            start_date: Some(d(2020, 3, 16)),
            handover_date: Some(d(2020, 6, 16)),
            handover_reason: ReasonCode::new("nps_determinate").expect("valid"),
            inputs_digest: digest.clone(),
        },
        C::AllocateCommunityOffenderManager {
            on: d(2020, 3, 16),
            sentence_id: s2,
            community_offender_manager: practitioner("N07", Grade::ProbationOfficer),
            team: team("N02"),
        },
        C::RecordHandoverMeeting {
            on: d(2020, 6, 10),
            sentence_id: s2,
            attendees: vec![
                Attendee::CommunityOffenderManager,
                Attendee::PrisonOffenderManager,
                Attendee::Individual,
            ],
        },
        C::RecordPreReleaseContact {
            on: d(2020, 7, 1),
            sentence_id: s2,
        },
        C::TransferResponsibility {
            on: d(2020, 6, 16),
            sentence_id: s2,
        },
        C::OverrideResponsibility {
            on: d(2020, 7, 2),
            sentence_id: s2,
            to: Responsibility::CustodyWithCom,
            reason: text("transferred to a prison out of area; POM keeps the case"),
        },
        C::Release {
            on: d(2020, 11, 1),
            sentence_id: s2,
            release_type: ReleaseType::Automatic,
        },
        C::RaiseRecall {
            on: d(2020, 12, 1),
            sentence_id: s2,
            reason: text("risk no longer manageable in the community"),
        },
        C::ConcludeRecall {
            on: d(2020, 12, 3),
            recall_id: 1,
            outcome: RecallOutcome::FixedTerm,
        },
        C::Release {
            on: d(2021, 1, 15),
            sentence_id: s2,
            release_type: ReleaseType::Automatic,
        },
        C::UnifyProbationService { on: d(2021, 6, 26) },
        assess(
            d(2021, 7, 1),
            RoshLevel::Medium,
            AssessmentKind::Review,
            Organisation::Nps,
        ),
        C::EndLicence {
            on: d(2021, 10, 1),
            sentence_id: s2,
        },
        C::StartPostSentenceSupervision {
            on: d(2021, 10, 1),
            sentence_id: s2,
        },
        C::EndPostSentenceSupervision {
            on: d(2021, 11, 1),
            sentence_id: s2,
        },
        C::TerminateSentence {
            on: d(2021, 11, 1),
            sentence_id: s2,
            reason: TerminationReason::Expired,
        },
        C::CloseCase {
            on: d(2021, 11, 2),
            reason: text("all sentences ended"),
        },
        C::ReopenCase {
            on: d(2021, 11, 3),
            reason: text("closed before the licence review was held"),
        },
        C::CloseCase {
            on: d(2021, 11, 3),
            reason: text("licence review held, all sentences ended"),
        },
    ];
    commands.push(C::CorrectEvent {
        on: d(2021, 11, 3),
        corrected_event_id: EventRef::new("0f8fad5b-d9cb-469f-a165-70867728950e").expect("valid"),
        corrected_event_type: crate::event::EventTypeName::new("RegistrationAdded").expect("valid"),
        reason: text("registration date was wrong"),
    });
    // Last: the person's personal data is erased once retention ends (ERASE-1).
    commands.push(C::ErasePersonalData {
        crn: crn(),
        on: d(2021, 11, 3),
        reason: text("retention ended (RET-1)"),
    });
    commands
}
