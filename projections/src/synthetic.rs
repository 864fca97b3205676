//! Synthetic, valid domain histories for property tests, crash tests and benchmarks.
//!
//! Every event comes from the domain's own `decide`: a deterministic RNG picks a plausible
//! command for a case, `decide` judges it against the case's state with the ruleset in force
//! on its date (design.md invariant 6), and only accepted events are kept. A refused command
//! is simply dropped, so every history is one the engine could have written.
//!
//! Memory is bounded by the number of cases in the cohort (one `CaseState` each), never by the
//! number of events generated.

use caseledger_domain::command::DomainCommand as C;
use caseledger_domain::enforcement::{
    Absence, AccommodationStatus, AppointmentKind, AttendedOutcome, BreachOutcome,
    EmploymentStatus, RecallOutcome, StatusCheckpoint, WarningKind,
};
use caseledger_domain::event::EventTypeName;
use caseledger_domain::event::{Attendee, ReasonCode, Responsibility};
use caseledger_domain::handover::HandoverEra;
use caseledger_domain::identity::EventRef;
use caseledger_domain::identity::{
    Crn, Gender, Grade, InputsDigest, Person, PersonName, Practitioner, StaffCode, TeamCode, Text,
};
use caseledger_domain::reference::{CrcName, Organisation, Pdu, PDUS_COUNT};
use caseledger_domain::risk::{
    AssessmentKind, MappaCategory, MappaLevel, RegistrationKind, RoshLevel,
};
use caseledger_domain::ruleset::TR_START;
use caseledger_domain::sentence::{
    AccreditedProgramme, ReleaseType, RequirementId, RequirementKind, SentenceDates, SentenceId,
    SentenceType, TerminationReason,
};
use caseledger_domain::tier::V2Tier;
use caseledger_domain::{
    decide, evolve, evolve_recorded, CaseState, DomainCommand, Event, Ruleset,
};
use jiff::civil::{date, Date};
use jiff::ToSpan;

use crate::ProjectionError;

/// Most cases in one cohort: CRNs are one letter and six digits.
pub const COHORT_CASES_MAX: u32 = 999_999;
/// Commands tried per step before giving up on a case for this step (most are accepted; a
/// bound keeps a case in a dead end from spinning).
pub const ATTEMPTS_PER_STEP_MAX: u32 = 8;
/// Last date a synthetic case moves to: the working-day calendar holds bank holidays up to
/// 2030, and rules that count working days refuse dates beyond it.
pub const LAST_DATE: Date = date(2030, 6, 30);

/// splitmix64: small, fast, deterministic on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n ≥ 1`; 0 is treated as 1).
    pub fn below(&mut self, n: u32) -> u32 {
        // The modulo bias is irrelevant for test data.
        u32::try_from(self.next_u64() % u64::from(n.max(1))).unwrap_or(0)
    }

    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let n = u32::try_from(items.len()).ok()?;
        items.get(usize::try_from(self.below(n)).ok()?).copied()
    }
}

fn bad(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::InvalidArgument(format!("synthetic value: {e}"))
}

/// One case of the cohort while its history is written.
#[derive(Clone, Debug)]
pub struct SyntheticCase {
    pub crn: String,
    pub state: CaseState,
    /// The date of the case's latest fact; commands are dated on or after it.
    pub today: Date,
    sentences: u16,
    appointments: u32,
    breaches: u16,
    recalls: u16,
    registrations: u16,
    /// Facts a correction may name: (event id, event type), newest last, at most
    /// [`AMENDABLE_KEPT_MAX`].
    amendable: Vec<(EventRef, EventTypeName)>,
}

/// Most facts per case kept as candidates for a correction.
pub const AMENDABLE_KEPT_MAX: usize = 16;

impl SyntheticCase {
    fn new(crn: String, today: Date) -> SyntheticCase {
        SyntheticCase {
            crn,
            state: CaseState::default(),
            today,
            sentences: 0,
            appointments: 0,
            breaches: 0,
            recalls: 0,
            registrations: 0,
            amendable: Vec::new(),
        }
    }

    fn ruleset(&self, pdu: Option<Pdu>, on: Date) -> Result<Ruleset, ProjectionError> {
        let pdu = match (self.state.pdu, pdu) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => Pdu::new(1).map_err(bad)?,
        };
        Ruleset::for_date(on.max(TR_START), pdu.nation()).map_err(bad)
    }

    /// Decide `command`; keep and return the events if accepted, `None` if refused.
    pub fn try_command(
        &mut self,
        command: &DomainCommand,
    ) -> Result<Option<Vec<Event>>, ProjectionError> {
        self.try_numbered(command, None)
    }

    /// [`SyntheticCase::try_command`], numbering the accepted events from `*next_id`: the
    /// event ids a log gets when the cohort's events are appended in order, one id each,
    /// `Uuid::from_u128(1)` first — so a later correction can name them (COR-1).
    fn try_numbered(
        &mut self,
        command: &DomainCommand,
        mut next_id: Option<&mut u64>,
    ) -> Result<Option<Vec<Event>>, ProjectionError> {
        let pdu = match command {
            C::OpenCase { pdu, .. } => Some(*pdu),
            _ => None,
        };
        let on = command.on();
        let ruleset = self.ruleset(pdu, on)?;
        let Ok(events) = decide(&self.state, command, &ruleset, on) else {
            return Ok(None);
        };
        for e in &events {
            let id = next_id.as_deref_mut().map(|n| {
                let id = EventRef::from_u128(u128::from(*n));
                *n += 1;
                id
            });
            let state = std::mem::take(&mut self.state);
            self.state = match &id {
                Some(id) => evolve_recorded(state, id, e),
                None => evolve(state, e),
            };
            if let (
                Some(id),
                Event::RiskAssessed(_)
                | Event::RegistrationAdded(_)
                | Event::RiskEscalationDecided(_),
            ) = (id, e)
            {
                let kind = EventTypeName::new(e.event_type()).map_err(bad)?;
                self.amendable.push((id, kind));
                if self.amendable.len() > AMENDABLE_KEPT_MAX {
                    self.amendable.remove(0);
                }
            }
            match e {
                Event::SentenceImposed(_) => self.sentences += 1,
                Event::AppointmentScheduled(_) => self.appointments += 1,
                Event::BreachRaised(_) => self.breaches += 1,
                Event::RecallRaised(_) => self.recalls += 1,
                Event::RegistrationAdded(_) => self.registrations += 1,
                _ => {}
            }
        }
        self.today = self.today.max(on);
        Ok(Some(events))
    }
}

fn text(s: &str) -> Result<Text, ProjectionError> {
    Text::new(s).map_err(bad)
}

fn practitioner(rng: &mut Rng, pdu: u32) -> Result<Practitioner, ProjectionError> {
    let n = rng.below(6);
    let grade = rng
        .pick(&[
            Grade::ProbationOfficer,
            Grade::ProbationOfficer,
            Grade::ProbationServicesOfficer,
        ])
        .unwrap_or(Grade::ProbationOfficer);
    Ok(Practitioner {
        staff_code: StaffCode::new(format!("P{pdu:03}{n:03}")).map_err(bad)?,
        name: PersonName::new(format!("Practitioner {pdu}-{n}")).map_err(bad)?,
        grade,
    })
}

fn team(pdu: u32) -> Result<TeamCode, ProjectionError> {
    TeamCode::new(format!("T{pdu:03}")).map_err(bad)
}

/// A plausible next command for `case` (it may still be refused by `decide`).
pub fn random_command(
    rng: &mut Rng,
    case: &SyntheticCase,
) -> Result<DomainCommand, ProjectionError> {
    let step = i64::from(rng.below(15));
    let on = case
        .today
        .checked_add(step.days())
        .map_err(bad)?
        .min(LAST_DATE)
        .max(case.today);
    let pdu = u32::from(case.state.pdu.map_or(1, |p| p.number()));
    let sentence =
        SentenceId(u16::try_from(rng.below(u32::from(case.sentences.max(1)))).unwrap_or(0) + 1);
    let appointment = case.appointments.saturating_sub(rng.below(3)).max(1);
    let digest = InputsDigest::of(&rng.next_u64().to_be_bytes());
    let months = |m: i64| on.checked_add(m.months()).ok();
    let command = match rng.below(100) {
        0..=5 => {
            let custody = rng.chance(35);
            if custody {
                let crd = i64::from(rng.below(24)) + 2;
                C::ImposeSentence {
                    on,
                    sentence_type: SentenceType::DeterminateCustody,
                    court: text("Crown Court")?,
                    length_months: u16::try_from(crd * 2).ok(),
                    dates: SentenceDates {
                        conditional_release_date: months(crd),
                        sentence_expiry_date: months(crd * 2),
                        licence_expiry_date: months(crd * 2),
                        top_up_supervision_expiry_date: months(crd + 12),
                        ..SentenceDates::default()
                    },
                    requirements: vec![],
                }
            } else {
                let mut requirements = Vec::new();
                if rng.chance(60) {
                    requirements.push(RequirementKind::UnpaidWork {
                        hours: u16::try_from(rng.below(200)).unwrap_or(0) + 40,
                    });
                }
                if rng.chance(30) {
                    requirements.push(RequirementKind::AccreditedProgramme {
                        programme: AccreditedProgramme::ThinkingSkillsProgramme,
                    });
                }
                if rng.chance(20) {
                    requirements.push(RequirementKind::StructuredIntervention);
                }
                C::ImposeSentence {
                    on,
                    sentence_type: if rng.chance(70) {
                        SentenceType::CommunityOrder
                    } else {
                        SentenceType::SuspendedSentenceOrder
                    },
                    court: text("Magistrates' Court")?,
                    length_months: Some(12),
                    dates: SentenceDates {
                        sentence_expiry_date: months(12 + i64::from(rng.below(24))),
                        ..SentenceDates::default()
                    },
                    requirements,
                }
            }
        }
        6..=8 => C::AssessRisk {
            on,
            kind: AssessmentKind::Initial,
            rosh: rng
                .pick(&[
                    RoshLevel::Low,
                    RoshLevel::Medium,
                    RoshLevel::Medium,
                    RoshLevel::High,
                    RoshLevel::VeryHigh,
                ])
                .unwrap_or(RoshLevel::Low),
            rsr: None,
            ogrs: None,
            needs: Default::default(),
            predictors: None,
            by: Organisation::Nps,
        },
        9..=11 => C::RecordTier {
            on,
            tier: V2Tier::new(
                *["A1", "A2", "B1", "B2", "C1", "C2", "C3", "D0", "D2"]
                    .get(usize::try_from(rng.below(9)).unwrap_or(0))
                    .unwrap_or(&"C2"),
            )
            .map_err(bad)?,
            inputs_digest: digest,
            reason_code: ReasonCode::new("case_created").map_err(bad)?,
        },
        12..=14 => C::AllocatePractitioner {
            on,
            practitioner: practitioner(rng, pdu)?,
            team: team(pdu)?,
            by: Organisation::Nps,
        },
        15 => C::ReallocatePractitioner {
            on,
            practitioner: practitioner(rng, pdu)?,
            team: team(pdu)?,
            reason: caseledger_domain::event::ReallocationReason::WorkloadBalance,
            by: Organisation::Nps,
        },
        16..=17 => C::AllocateToProvider {
            on,
            crc: CrcName::new("Synthetic CRC").map_err(bad)?,
            deportation_order: false,
            notoriety: false,
            by: Organisation::Nps,
        },
        18..=37 => C::ScheduleAppointment {
            on,
            sentence_id: sentence,
            kind: rng
                .pick(&[
                    AppointmentKind::FaceToFace,
                    AppointmentKind::FaceToFace,
                    AppointmentKind::Telephone,
                    AppointmentKind::HomeVisit,
                    AppointmentKind::UnpaidWorkSession,
                    AppointmentKind::ProgrammeSession,
                ])
                .unwrap_or(AppointmentKind::FaceToFace),
            initial: rng.chance(20),
        },
        38..=53 => C::RecordAttendance {
            on,
            appointment_id: appointment,
            outcome: if rng.chance(12) {
                AttendedOutcome::FailedToComply
            } else {
                AttendedOutcome::Complied
            },
        },
        54..=58 => C::RecordAbsence {
            on,
            appointment_id: appointment,
            absence: if rng.chance(50) {
                Absence::Unacceptable
            } else {
                Absence::Acceptable
            },
        },
        59 => C::IssueWarning {
            on,
            sentence_id: sentence,
            kind: WarningKind::First,
            reason: text("missed appointment")?,
        },
        60..=61 => C::RaiseBreach {
            on,
            sentence_id: sentence,
            reason: text("failures to comply")?,
        },
        62..=63 => C::ConcludeBreach {
            on,
            breach_id: case.breaches.max(1),
            outcome: rng
                .pick(&[
                    BreachOutcome::ProvenFine,
                    BreachOutcome::ProvenNoAction,
                    BreachOutcome::ProvenConcluded,
                ])
                .unwrap_or(BreachOutcome::ProvenFine),
        },
        64 => C::ScreenForMappa {
            on,
            eligible: rng.chance(50),
            category: MappaCategory::new(1).ok(),
            recommended_level: MappaLevel::new(1).ok(),
        },
        65 => C::AddRegistration {
            on,
            kind: RegistrationKind::Mappa {
                category: MappaCategory::new(u8::try_from(rng.below(3)).unwrap_or(0) + 1)
                    .map_err(bad)?,
                level: MappaLevel::new(u8::try_from(rng.below(3)).unwrap_or(0) + 1).map_err(bad)?,
            },
            review_on: months(6),
        },
        66 => C::SetMappaLevel {
            on,
            category: MappaCategory::new(1).map_err(bad)?,
            level: MappaLevel::new(u8::try_from(rng.below(3)).unwrap_or(0) + 1).map_err(bad)?,
            by: Organisation::MappaPanel,
        },
        67..=68 => C::RecordHandoverDates {
            on,
            sentence_id: sentence,
            handover_era: HandoverEra::for_date(
                on,
                case.state
                    .pdu
                    .map_or(caseledger_domain::reference::Nation::England, |p| {
                        p.nation()
                    }),
            ),
            responsibility: rng
                .pick(&[
                    Responsibility::CustodyOnly,
                    Responsibility::CustodyWithCom,
                    Responsibility::Community,
                ])
                .unwrap_or(Responsibility::CustodyOnly),
            start_date: months(3),
            handover_date: months(6),
            handover_reason: ReasonCode::new("determinate").map_err(bad)?,
            inputs_digest: digest,
        },
        69 => C::AllocateCommunityOffenderManager {
            on,
            sentence_id: sentence,
            community_offender_manager: practitioner(rng, pdu)?,
            team: team(pdu)?,
        },
        70 => C::RecordHandoverMeeting {
            on,
            sentence_id: sentence,
            attendees: vec![Attendee::CommunityOffenderManager, Attendee::Individual],
        },
        71..=72 => C::Release {
            on,
            sentence_id: sentence,
            release_type: ReleaseType::Automatic,
        },
        73 => C::RaiseRecall {
            on,
            sentence_id: sentence,
            reason: text("licence breached")?,
        },
        74 => C::ConcludeRecall {
            on,
            recall_id: case.recalls.max(1),
            outcome: RecallOutcome::FixedTerm,
        },
        75..=78 => C::CreditUnpaidWork {
            on,
            sentence_id: sentence,
            requirement_id: RequirementId(1),
            minutes: (rng.below(8) + 1) * 60,
        },
        79 => C::CompleteRequirement {
            on,
            sentence_id: sentence,
            requirement_id: RequirementId(u16::try_from(rng.below(3)).unwrap_or(0) + 1),
        },
        80..=82 => C::CreateSentencePlan {
            on,
            sentence_id: sentence,
            service_user_involved: true,
        },
        83 => C::ReviewSentencePlan {
            on,
            sentence_id: sentence,
            service_user_involved: true,
        },
        84..=86 => C::RecordAccommodation {
            on,
            status: rng
                .pick(&[
                    AccommodationStatus::Settled,
                    AccommodationStatus::Transient,
                    AccommodationStatus::NoFixedAbode,
                ])
                .unwrap_or(AccommodationStatus::Settled),
            checkpoint: rng
                .pick(&[
                    StatusCheckpoint::Release,
                    StatusCheckpoint::ThreeMonths,
                    StatusCheckpoint::Change,
                ])
                .unwrap_or(StatusCheckpoint::Change),
        },
        87..=89 => C::RecordEmployment {
            on,
            status: rng
                .pick(&[
                    EmploymentStatus::Employed,
                    EmploymentStatus::Unemployed,
                    EmploymentStatus::InEducationOrTraining,
                ])
                .unwrap_or(EmploymentStatus::Employed),
            checkpoint: rng
                .pick(&[
                    StatusCheckpoint::Release,
                    StatusCheckpoint::SixMonths,
                    StatusCheckpoint::Change,
                ])
                .unwrap_or(StatusCheckpoint::Change),
        },
        90 => C::TransferCase {
            on,
            to_pdu: Pdu::new(rng.below(PDUS_COUNT) + 1).map_err(bad)?,
            to_team: None,
            reason: text("moved address")?,
        },
        91..=92 => C::TerminateSentence {
            on,
            sentence_id: sentence,
            reason: TerminationReason::Expired,
        },
        93 => C::EndLicence {
            on,
            sentence_id: sentence,
        },
        94 => C::StartPostSentenceSupervision {
            on,
            sentence_id: sentence,
        },
        95 => C::CloseCase {
            on,
            reason: text("supervision ended")?,
        },
        96 => C::UnifyProbationService { on },
        97 => C::TransferResponsibility {
            on,
            sentence_id: sentence,
        },
        _ => C::RecordPreReleaseContact {
            on,
            sentence_id: sentence,
        },
    };
    Ok(command)
}

/// A command that amends what is known about `case`: remove a registration, ask for or
/// decide a RoSH escalation, correct an earlier fact, end a period of supervision on its date,
/// transfer the case (within or across the border) or reopen it (only `decide` judges
/// whether it fits).
pub fn amend_command(
    rng: &mut Rng,
    case: &SyntheticCase,
) -> Result<DomainCommand, ProjectionError> {
    let on = case
        .today
        .checked_add(i64::from(rng.below(10)).days())
        .map_err(bad)?
        .min(LAST_DATE)
        .max(case.today);
    let rosh = rng
        .pick(&[
            RoshLevel::Low,
            RoshLevel::Medium,
            RoshLevel::High,
            RoshLevel::VeryHigh,
        ])
        .unwrap_or(RoshLevel::High);
    let crc = match &case.state.provider {
        Some(caseledger_domain::reference::Provider::Crc(name)) => Organisation::Crc(name.clone()),
        _ => Organisation::Crc(CrcName::new("DLNR CRC").map_err(bad)?),
    };
    Ok(match rng.below(7) {
        4 => match case
            .state
            .sentences
            .iter()
            .find_map(|(id, s)| s.lapse().map(|(_, d)| (*id, d)))
        {
            // The engine's clock reaching the end of a licence, PSS or order (LAPSE-1).
            Some((sentence_id, d)) if d <= LAST_DATE => C::LapseSupervision { on: d, sentence_id },
            _ => C::ReopenCase {
                on,
                reason: text("returned under a new order")?,
            },
        },
        5 => {
            // A move to another PDU, across the border half the time (XFER-1).
            let nation = case.state.pdu.map(|p| p.nation());
            let across = rng.chance(50);
            let candidates: Vec<Pdu> = (1..=PDUS_COUNT)
                .filter_map(|n| Pdu::new(n).ok())
                .filter(|p| (Some(p.nation()) != nation) == across)
                .collect();
            C::TransferCase {
                on,
                to_pdu: rng
                    .pick(&candidates)
                    .map_or(Pdu::new(1).map_err(bad)?, |p| p),
                to_team: None,
                reason: text("moved address")?,
            }
        }
        6 => C::ReopenCase {
            on,
            reason: text("returned under a new order")?,
        },
        0 => C::RemoveRegistration {
            on,
            registration_id: u16::try_from(rng.below(u32::from(case.registrations.max(1))))
                .unwrap_or(0)
                + 1,
            reason: text("no longer meets the criteria")?,
        },
        1 => C::RequestRiskEscalation {
            on,
            proposed_rosh: rosh,
            evidence: Some(text("risk has risen")?),
            by: crc,
        },
        2 => C::DecideRiskEscalation {
            on,
            confirmed_rosh: rosh,
            by: Organisation::Nps,
        },
        _ => match rng.pick(&(0..case.amendable.len()).collect::<Vec<_>>()) {
            Some(i) => {
                let (id, kind) = case.amendable[i].clone();
                C::CorrectEvent {
                    on,
                    corrected_event_id: id,
                    corrected_event_type: kind,
                    reason: text("entered in error")?,
                }
            }
            None => C::AssessRisk {
                on,
                kind: AssessmentKind::Review,
                rosh,
                rsr: None,
                ogrs: None,
                needs: Default::default(),
                predictors: None,
                by: Organisation::Nps,
            },
        },
    })
}

/// A cohort of cases whose histories are written step by step, interleaved.
pub struct Cohort {
    rng: Rng,
    cases: Vec<SyntheticCase>,
    first_case: u32,
    /// Id of the next event emitted (see [`SyntheticCase::try_numbered`]).
    next_event_id: u64,
    /// Percent of steps that amend what is known: remove a registration, escalate RoSH
    /// (request, NPS decision) or correct an earlier fact. 0 (the default) keeps every
    /// cohort's history what it was before amendments were generated.
    amend_percent: u32,
}

impl Cohort {
    /// `cases` cases (CRNs `X000000 + first_case …`), opened on random dates between 2015 and
    /// 2024 (both eras) in random PDUs.
    pub fn new(seed: u64, first_case: u32, cases: u32) -> Result<Cohort, ProjectionError> {
        if cases == 0 || first_case.saturating_add(cases) > COHORT_CASES_MAX {
            return Err(ProjectionError::InvalidArgument(format!(
                "a cohort holds 1..={COHORT_CASES_MAX} cases numbered below {COHORT_CASES_MAX}; asked for {cases} from {first_case}"
            )));
        }
        let mut rng = Rng::new(seed);
        let start = date(2015, 1, 1);
        let mut list = Vec::new();
        for n in first_case..first_case + cases {
            let opened = start
                .checked_add(i64::from(rng.below(3_500)).days())
                .map_err(bad)?;
            list.push(SyntheticCase::new(format!("X{n:06}"), opened));
        }
        Ok(Cohort {
            rng,
            cases: list,
            first_case,
            next_event_id: 1,
            amend_percent: 0,
        })
    }

    /// Amend what is known on `percent` of steps (at most 100): registrations removed, RoSH
    /// escalated and decided by the NPS, earlier facts corrected. Events are numbered as a
    /// log numbers them when every emitted event is appended in order, so corrections name
    /// real ids.
    pub fn with_amendments(mut self, percent: u32) -> Cohort {
        self.amend_percent = percent.min(100);
        self
    }

    pub fn cases(&self) -> &[SyntheticCase] {
        &self.cases
    }

    /// One step of case `index` (modulo the cohort): open it if new, else try up to
    /// [`ATTEMPTS_PER_STEP_MAX`] random commands. Returns its CRN and the accepted events
    /// (empty if every attempt was refused).
    pub fn step(&mut self, index: u32) -> Result<(String, Vec<Event>), ProjectionError> {
        let len = u32::try_from(self.cases.len()).unwrap_or(u32::MAX);
        let i = usize::try_from(index % len.max(1)).unwrap_or(0);
        let Some(case) = self.cases.get_mut(i) else {
            return Err(ProjectionError::InvalidArgument("empty cohort".into()));
        };
        let rng = &mut self.rng;
        if case.state.version == 0 {
            let number = self.first_case + u32::try_from(i).unwrap_or(0);
            let pdu = Pdu::new(rng.below(PDUS_COUNT) + 1).map_err(bad)?;
            let open = C::OpenCase {
                crn: Crn::new(&case.crn).map_err(bad)?,
                person: Person {
                    name: PersonName::new(format!("Person {number}")).map_err(bad)?,
                    date_of_birth: date(1970, 1, 1)
                        .checked_add(i64::from(rng.below(12_000)).days())
                        .map_err(bad)?,
                    gender: rng
                        .pick(&[Gender::Male, Gender::Female])
                        .unwrap_or(Gender::Male),
                },
                pdu,
                team: Some(team(u32::from(pdu.number()))?),
                on: case.today,
            };
            let events = case
                .try_numbered(&open, Some(&mut self.next_event_id))?
                .unwrap_or_default();
            return Ok((case.crn.clone(), events));
        }
        // No draw when amendments are off: a cohort's history stays what it was for its seed.
        let amend = self.amend_percent > 0 && rng.chance(self.amend_percent);
        for _ in 0..ATTEMPTS_PER_STEP_MAX {
            let command = if amend {
                amend_command(rng, case)?
            } else {
                random_command(rng, case)?
            };
            if let Some(events) = case.try_numbered(&command, Some(&mut self.next_event_id))? {
                return Ok((case.crn.clone(), events));
            }
        }
        Ok((case.crn.clone(), Vec::new()))
    }

    /// Pick a random case and step it.
    pub fn step_random(&mut self) -> Result<(String, Vec<Event>), ProjectionError> {
        let len = u32::try_from(self.cases.len()).unwrap_or(u32::MAX);
        let index = self.rng.below(len);
        self.step(index)
    }
}

/// Most appointments [`long_case`] schedules: the domain's own limit per case.
pub const LONG_CASE_APPOINTMENTS_MAX: u32 = caseledger_domain::decide::APPOINTMENTS_PER_CASE_MAX;

/// One case with a long history whose state grows with it: opened, a three-year community
/// order, then `appointments` appointments each scheduled and attended (two events each, the
/// appointment kept in the case state). The worst case for anything that costs the state per
/// event (replay benchmarks and tests). Every event comes from `decide`; an error if one is
/// refused.
pub fn long_case(crn: &str, appointments: u32) -> Result<Vec<Event>, ProjectionError> {
    if appointments > LONG_CASE_APPOINTMENTS_MAX {
        return Err(ProjectionError::InvalidArgument(format!(
            "a case holds at most {LONG_CASE_APPOINTMENTS_MAX} appointments; asked for {appointments}"
        )));
    }
    let opened = date(2022, 3, 1);
    let mut case = SyntheticCase::new(crn.to_owned(), opened);
    let mut events = Vec::new();
    let mut apply = |case: &mut SyntheticCase, command: &DomainCommand| {
        let accepted = case.try_command(command)?.ok_or_else(|| {
            ProjectionError::InvalidArgument(format!("long case: refused {command:?}"))
        })?;
        events.extend(accepted);
        Ok::<(), ProjectionError>(())
    };
    let pdu = Pdu::new(79).map_err(bad)?;
    let open = C::OpenCase {
        crn: Crn::new(crn).map_err(bad)?,
        person: Person {
            name: PersonName::new("Sam Example").map_err(bad)?,
            date_of_birth: date(1985, 4, 2),
            gender: Gender::Male,
        },
        pdu,
        team: Some(team(u32::from(pdu.number()))?),
        on: opened,
    };
    apply(&mut case, &open)?;
    let sentence = C::ImposeSentence {
        on: opened,
        sentence_type: SentenceType::CommunityOrder,
        court: text("Nottingham Magistrates' Court")?,
        length_months: Some(36),
        dates: SentenceDates::default(),
        requirements: vec![RequirementKind::UnpaidWork { hours: 100 }],
    };
    apply(&mut case, &sentence)?;
    let sentence_id = *case
        .state
        .sentences
        .keys()
        .next()
        .ok_or_else(|| ProjectionError::InvalidArgument("long case: no sentence".into()))?;
    for i in 0..appointments {
        // Spread over 900 days of the order, in date order.
        let day = 1 + u64::from(i) * 900 / u64::from(appointments.max(1));
        let on = opened
            .checked_add(i64::try_from(day).map_err(bad)?.days())
            .map_err(bad)?;
        let schedule = C::ScheduleAppointment {
            on,
            sentence_id,
            kind: AppointmentKind::FaceToFace,
            initial: i == 0,
        };
        apply(&mut case, &schedule)?;
        let attend = C::RecordAttendance {
            on,
            appointment_id: i + 1,
            outcome: AttendedOutcome::Complied,
        };
        apply(&mut case, &attend)?;
    }
    Ok(events)
}

/// Events appended per call by [`append_case`].
const APPEND_CASE_EVENTS_PER_CALL: usize = 64;

/// Append `events` (one case's history, in order) to the stream `crn` of `store`, in calls
/// of at most 64 events, with made-up ids and a default actor; returns the stream's version.
pub async fn append_case<S: caseledger_store::EventStore + ?Sized>(
    store: &S,
    crn: &str,
    events: &[Event],
) -> Result<u64, ProjectionError> {
    let stream = caseledger_store::StreamId::new(crn)?;
    let mut version = 0u64;
    // A data key that is not kept: a synthetic log is written around the engine's keyring,
    // so its persons read as withheld.
    let key =
        caseledger_store::keystore::SubjectKey::Live(caseledger_store::crypto::DataKey::generate());
    for chunk in events.chunks(APPEND_CASE_EVENTS_PER_CALL) {
        let batch = chunk
            .iter()
            .map(|event| {
                version += 1;
                let id = (u128::from(version) << 32) | 1;
                let encoded = caseledger_payload::encode_sealed(event, crn, &key)?;
                Ok(caseledger_store::NewEvent {
                    event_id: uuid::Uuid::from_u128(id),
                    event_type: encoded.event_type.to_owned(),
                    schema_version: encoded.schema_version,
                    effective_at_us: 0,
                    actor: caseledger_store::Actor::default(),
                    command_id: uuid::Uuid::from_u128(id | 2),
                    correlation_id: uuid::Uuid::nil(),
                    causation_id: uuid::Uuid::nil(),
                    ruleset_id: String::new(),
                    payload: encoded.bytes,
                })
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        store
            .append(&stream, caseledger_store::ExpectedVersion::Any, batch, None)
            .await?;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_case_has_two_events_per_appointment_and_keeps_them_all() {
        let events = long_case("L000001", 50).unwrap();
        let scheduled = events
            .iter()
            .filter(|e| matches!(e, Event::AppointmentScheduled(_)))
            .count();
        assert_eq!(scheduled, 50);
        let state = events.iter().fold(CaseState::default(), evolve);
        assert_eq!(state.appointments.len(), 50);
        assert!(long_case("L000001", LONG_CASE_APPOINTMENTS_MAX + 1).is_err());
    }

    #[test]
    fn a_cohort_is_deterministic_and_covers_many_event_types() {
        let run = |seed| {
            let mut cohort = Cohort::new(seed, 0, 20).unwrap();
            let mut out = Vec::new();
            for _ in 0..4_000 {
                out.extend(cohort.step_random().unwrap().1);
            }
            out
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let types: std::collections::BTreeSet<&str> = a.iter().map(Event::event_type).collect();
        assert!(types.len() >= 25, "{} types: {types:?}", types.len());
    }

    #[test]
    fn an_empty_or_oversized_cohort_is_refused() {
        assert!(Cohort::new(1, 0, 0).is_err());
        assert!(Cohort::new(1, COHORT_CASES_MAX, 1).is_err());
    }
}
