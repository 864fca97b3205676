//! Case state and `evolve`: a left fold of events into what the rules and read models need.
//!
//! `evolve` is total: it never fails and never panics. It trusts the payload (events were
//! checked by `decide` before they were stored), and where a payload names something the state
//! does not have (e.g. a sentence id) it leaves the state unchanged rather than guess.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::enforcement::{
    Absence, AccommodationStatus, AppointmentKind, AttendedOutcome, BreachOutcome,
    EmploymentStatus, RecallOutcome, StatusCheckpoint, WarningKind,
};
use crate::event::*;
use crate::handover::HandoverEra;
use crate::identity::{Crn, EventRef, InputsDigest, Person, Practitioner, TeamCode, Text};
use crate::reference::{Pdu, Provider};
use crate::risk::{
    MappaCategory, MappaLevel, Need, NeedSeverity, OgrsScore, RegistrationKind, RoshLevel,
    RsrScore, V3Predictors,
};
use crate::ruleset::RulesetId;
use crate::sealable::Sealable;
use crate::sentence::{
    ReleaseType, RequirementId, RequirementKind, SentenceDates, SentenceId, SentenceType,
    TerminationReason,
};
use crate::tier::V2Tier;
use crate::tier::V3Tier;

/// Where a sentence stands (custodial status codes, enforcement-and-workload.md §2: A/D in
/// custody, B released on licence, C recalled, P post-sentence supervision, T terminated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentenceStatus {
    /// A community order or SSO being served.
    Community,
    InCustody,
    ReleasedOnLicence,
    Recalled,
    PostSentenceSupervision,
    /// Licence or PSS has ended; the sentence awaits termination.
    SupervisionEnded,
    Terminated,
}

impl SentenceStatus {
    pub fn is_active(self) -> bool {
        self != SentenceStatus::Terminated
    }
    pub fn in_custody(self) -> bool {
        matches!(self, SentenceStatus::InCustody | SentenceStatus::Recalled)
    }
    /// Under supervision or in custody: what puts a case on a caseload (not once licence or
    /// post-sentence supervision has ended, nor once terminated).
    pub fn is_supervised(self) -> bool {
        !matches!(
            self,
            SentenceStatus::Terminated | SentenceStatus::SupervisionEnded
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementStatus {
    Active,
    Completed,
    Terminated,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementState {
    pub kind: RequirementKind,
    pub status: RequirementStatus,
    /// Unpaid work minutes credited so far (0 for other kinds).
    pub unpaid_work_minutes_credited: u32,
}

impl RequirementState {
    /// Unpaid work minutes ordered (0 for other kinds).
    pub fn unpaid_work_minutes_ordered(&self) -> u32 {
        match self.kind {
            RequirementKind::UnpaidWork { hours } => u32::from(hours) * 60,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverState {
    pub calculated_on: Date,
    pub handover_era: HandoverEra,
    pub start_date: Option<Date>,
    pub handover_date: Option<Date>,
    pub handover_reason: String,
    pub inputs_digest: InputsDigest,
    pub ruleset_id: RulesetId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub released_on: Date,
    pub release_type: ReleaseType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceState {
    pub sentence_type: SentenceType,
    pub sentenced_on: Date,
    pub court: Text,
    pub length_months: Option<u16>,
    pub dates: SentenceDates,
    pub requirements: BTreeMap<RequirementId, RequirementState>,
    pub status: SentenceStatus,
    pub responsibility: Option<Responsibility>,
    pub handover: Option<HandoverState>,
    pub prison_offender_manager: Option<(Practitioner, PomType)>,
    pub community_offender_manager: Option<(Practitioner, TeamCode)>,
    pub handover_meeting_held_on: Option<Date>,
    pub pre_release_contacts: u16,
    pub releases: Vec<ReleaseRecord>,
    pub post_sentence_supervision_ends_on: Option<Date>,
    pub sentence_plan_created_on: Option<Date>,
    pub sentence_plan_reviews: u32,
    pub terminated: Option<(Date, TerminationReason)>,
    /// ALLOC-1: when a practitioner took the sentence on — the allocation that followed it, or
    /// its own date when the case's practitioner already supervised another sentence then.
    #[serde(default)]
    pub allocated_on: Option<Date>,
}

/// One fact that bears on the case's RoSH: an assessment or an NPS escalation decision, with
/// the id of the event that recorded it (when the fold knows it), so a correction can retract
/// it (design.md invariant 1; docs/rules.md COR-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskFact {
    pub event_id: Option<EventRef>,
    pub on: Date,
    pub rosh: RoshLevel,
    /// Confirmed (an NPS assessment or decision) rather than awaiting NPS confirmation.
    pub confirmed: bool,
    /// The assessment's scores and needs; `None` for an escalation decision, which carries
    /// only the RoSH.
    pub assessment: Option<AssessmentFact>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentFact {
    pub rsr: Option<RsrScore>,
    pub ogrs: Option<OgrsScore>,
    pub needs: BTreeMap<Need, NeedSeverity>,
    pub by_nps: bool,
}

impl SentenceState {
    /// Expected release: CRD, else ARD.
    pub fn release_expected_on(&self) -> Option<Date> {
        self.dates
            .conditional_release_date
            .or(self.dates.automatic_release_date)
    }

    /// When the sentence's supervision ends: the end of post-sentence supervision once it has
    /// started, else SED, LED, TUSED in that order.
    pub fn expires_on(&self) -> Option<Date> {
        self.post_sentence_supervision_ends_on.or(self
            .dates
            .sentence_expiry_date
            .or(self.dates.licence_expiry_date)
            .or(self.dates.top_up_supervision_expiry_date))
    }

    /// LAPSE-1 (seed 002 l.53): the period of supervision the sentence is in that ends by
    /// itself, and its end date — a licence at its licence expiry date (else the sentence expiry
    /// date), never before the latest release (a person released on or after that date is on
    /// licence for that day), post-sentence supervision at its TUSED, a community order or
    /// suspended sentence order at its end (sentence expiry) date. `None` in custody, once
    /// ended, or without a date.
    pub fn lapse(&self) -> Option<(SupervisionPeriod, Date)> {
        let d = &self.dates;
        match self.status {
            SentenceStatus::ReleasedOnLicence => d
                .licence_expiry_date
                .or(d.sentence_expiry_date)
                .map(|on| on.max(self.released_on().unwrap_or(on)))
                .map(|on| (SupervisionPeriod::Licence, on)),
            SentenceStatus::PostSentenceSupervision => self
                .post_sentence_supervision_ends_on
                .or(d.top_up_supervision_expiry_date)
                .map(|on| (SupervisionPeriod::PostSentenceSupervision, on)),
            SentenceStatus::Community => d
                .sentence_expiry_date
                .map(|on| (SupervisionPeriod::Order, on)),
            SentenceStatus::InCustody
            | SentenceStatus::Recalled
            | SentenceStatus::SupervisionEnded
            | SentenceStatus::Terminated => None,
        }
    }

    /// Released at least once.
    pub fn released_on(&self) -> Option<Date> {
        self.releases.last().map(|r| r.released_on)
    }

    /// Whether post-sentence supervision can follow this sentence's licence, and if not,
    /// why (PSS-1, Offender Rehabilitation Act 2014; seed 002 l.53).
    pub fn post_sentence_supervision(&self) -> Result<(), &'static str> {
        crate::sentence::post_sentence_supervision_applies(
            self.sentence_type,
            self.sentenced_on,
            self.length_months,
        )
    }

    /// The top-up supervision expiry date (TUSED): the one given, else 12 months after the
    /// first release (PSS-1); `None` where post-sentence supervision does not apply or the
    /// prisoner has not been released.
    pub fn top_up_supervision_expiry(&self) -> Option<Date> {
        self.post_sentence_supervision().ok()?;
        self.dates.top_up_supervision_expiry_date.or_else(|| {
            let released = self.releases.first()?.released_on;
            released
                .checked_add(jiff::Span::new().months(crate::sentence::TOP_UP_SUPERVISION_MONTHS))
                .ok()
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskState {
    /// The case's RoSH as it stands (in the TR era, as confirmed by the NPS, BR-A11).
    pub rosh: Option<RoshLevel>,
    /// A CRC-assessed RoSH waiting for the NPS to confirm (BR-A8, BR-A11).
    pub rosh_awaiting_nps_confirmation: Option<RoshLevel>,
    pub rsr: Option<RsrScore>,
    pub ogrs: Option<OgrsScore>,
    pub needs: BTreeMap<Need, NeedSeverity>,
    pub last_assessed_on: Option<Date>,
    pub assessments: u32,
    /// The NPS has done an assessment (the initial one it must do, BR-A2).
    pub assessed_by_nps: bool,
    /// The V3 predictors of the latest assessment that gave them (tier-rules.md §1 `v3`); an
    /// assessment without predictors leaves them as they were.
    #[serde(default)]
    pub predictors: Option<V3Predictors>,
    /// Every fact the fields above follow from, in the order recorded, corrected ones taken
    /// out: the fields are [`RiskState::recompute`] of this list, on every path that changes
    /// RoSH (assessment, escalation decision, correction), so no path can disagree.
    #[serde(default)]
    pub facts: Vec<RiskFact>,
}

impl RiskState {
    /// The RoSH, scores and needs as the facts in [`RiskState::facts`] state them: a confirmed
    /// RoSH is the case's RoSH and clears one awaiting confirmation; an unconfirmed one waits
    /// (BR-A8, BR-A11); scores and needs are the latest assessment's.
    fn recompute(&mut self) {
        let facts = std::mem::take(&mut self.facts);
        // The V3 predictors come from their own event, not from these facts.
        let predictors = self.predictors.take();
        *self = RiskState {
            predictors,
            ..RiskState::default()
        };
        for f in &facts {
            if f.confirmed {
                self.rosh = Some(f.rosh);
                self.rosh_awaiting_nps_confirmation = None;
            } else {
                self.rosh_awaiting_nps_confirmation = Some(f.rosh);
            }
            if let Some(a) = &f.assessment {
                self.rsr = a.rsr;
                self.ogrs = a.ogrs;
                self.needs = a.needs.clone();
                self.last_assessed_on = Some(f.on);
                self.assessments = self.assessments.saturating_add(1);
                self.assessed_by_nps |= a.by_nps;
            }
        }
        self.facts = facts;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationState {
    pub kind: RegistrationKind,
    pub registered_on: Date,
    pub review_on: Option<Date>,
    pub removed_on: Option<Date>,
    /// The `RegistrationAdded` event's id, when the fold knows it (a correction names it).
    #[serde(default)]
    pub event_id: Option<EventRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappaState {
    pub screened_on: Option<Date>,
    pub screened_eligible: Option<bool>,
    pub referred: Option<(Date, MappaLevel)>,
    pub category: Option<MappaCategory>,
    pub level: Option<MappaLevel>,
    /// When the current category and level were set (registration or level decision).
    #[serde(default)]
    pub set_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEscalation {
    pub requested_on: Date,
    pub proposed_rosh: RoshLevel,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRecord {
    pub requested_on: Date,
    pub decided_on: Date,
    pub outcome: EscalationOutcome,
    pub confirmed_rosh: RoshLevel,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PractitionerAllocation {
    pub practitioner: Practitioner,
    pub team: TeamCode,
    pub since: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierState {
    pub tier: V2Tier,
    pub calculated_on: Date,
    pub reason_code: String,
    pub inputs_digest: InputsDigest,
    pub ruleset_id: RulesetId,
}

/// The last tier V3 result recorded (tier-rules.md §6–§8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierV3State {
    pub tier: V3Tier,
    pub provisional: bool,
    pub calculated_on: Date,
    pub reason_code: String,
    pub inputs_digest: InputsDigest,
    pub ruleset_id: RulesetId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentOutcome {
    Attended(AttendedOutcome),
    Missed(Absence),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentState {
    pub sentence_id: SentenceId,
    pub scheduled_for: Date,
    pub kind: AppointmentKind,
    pub initial: bool,
    pub outcome: Option<(Date, AppointmentOutcome)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarningState {
    pub sentence_id: SentenceId,
    pub issued_on: Date,
    pub kind: WarningKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachState {
    pub sentence_id: SentenceId,
    pub raised_on: Date,
    pub concluded: Option<(Date, BreachOutcome)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallState {
    pub sentence_id: SentenceId,
    pub raised_on: Date,
    pub concluded: Option<(Date, RecallOutcome)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord<S> {
    pub recorded_on: Date,
    pub status: S,
    pub checkpoint: StatusCheckpoint,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    pub transferred_on: Date,
    pub from_pdu: Pdu,
    pub to_pdu: Pdu,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionRecord {
    pub corrected_on: Date,
    pub corrected_event_id: EventRef,
    pub corrected_event_type: EventTypeName,
    pub reason: Text,
    /// The corrected fact was found in the state and taken out of it (COR-1): a risk
    /// assessment, an escalation decision or a registration.
    #[serde(default)]
    pub retracted: bool,
}

/// A closure that a reopening ended (seed 003 l.2600).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReopeningRecord {
    pub closed_on: Date,
    pub reopened_on: Date,
    pub reason_code: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreSentenceReportState {
    pub requested_on: Date,
    pub court: Text,
    pub completed_on: Option<Date>,
}

/// The provider name of a case in the unified service (from 26 June 2021, seed 003 l.358).
pub const UNIFIED_SERVICE_NAME: &str = "Probation Service";

/// Everything the lifecycle rules and the read models need to know about one case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    pub crn: Option<Crn>,
    pub person: Option<Sealable<Person>>,
    pub opened_on: Option<Date>,
    pub closed_on: Option<Date>,
    pub pdu: Option<Pdu>,
    pub team: Option<TeamCode>,
    /// Who manages the case (TR: NPS or a CRC; unified: NPS).
    pub provider: Option<Provider>,
    /// The sentence the TR provider allocation was made for.
    pub provider_sentence: Option<SentenceId>,
    /// TR ratchet: the case stays with the NPS until this order ends (BR-A10, seed 001 l.67).
    pub nps_until_sentence_ends: Option<SentenceId>,
    /// Date the case joined the unified service, if it was open on 26 Jun 2021.
    pub unified_on: Option<Date>,
    pub practitioner: Option<PractitionerAllocation>,
    /// ALLOC-1: the practitioner of the supervision that ended before the current sentence
    /// started afresh, until the new allocation is made (keeping them is continuity, BR-C3).
    #[serde(default)]
    pub previous_practitioner: Option<PractitionerAllocation>,
    pub pre_sentence_reports: Vec<PreSentenceReportState>,
    pub sentences: BTreeMap<SentenceId, SentenceState>,
    pub risk: RiskState,
    pub registrations: BTreeMap<u16, RegistrationState>,
    pub mappa: MappaState,
    pub pending_escalation: Option<PendingEscalation>,
    pub escalations: Vec<EscalationRecord>,
    pub tier: Option<TierState>,
    /// The last V3 tier, recorded once the case has predictor scores.
    #[serde(default)]
    pub tier_v3: Option<TierV3State>,
    pub tier_review_due: bool,
    pub reallocation_advised: bool,
    pub appointments: BTreeMap<u32, AppointmentState>,
    pub warnings: Vec<WarningState>,
    pub breaches: BTreeMap<u16, BreachState>,
    pub recalls: BTreeMap<u16, RecallState>,
    pub accommodation: Vec<StatusRecord<AccommodationStatus>>,
    pub employment: Vec<StatusRecord<EmploymentStatus>>,
    pub transfers: Vec<TransferRecord>,
    pub corrections: Vec<CorrectionRecord>,
    /// Closures that were ended by reopening the case, oldest first.
    #[serde(default)]
    pub reopenings: Vec<ReopeningRecord>,
    /// The day the person's personal data was erased (`PersonalDataErased`); their person
    /// is then [`Sealable::Erased`] for good. Left out of the JSON until then, so a case
    /// never erased shows as it always has (the state is JSON only: its person refuses any
    /// binary format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data_erased_on: Option<Date>,
    /// Events folded so far (the stream version this state is at).
    pub version: u64,
}

impl CaseState {
    /// The most recent sentence that has not ended, if any.
    pub fn current_sentence(&self) -> Option<(SentenceId, &SentenceState)> {
        self.sentences
            .iter()
            .rev()
            .find(|(_, s)| s.status.is_active())
            .map(|(id, s)| (*id, s))
    }

    /// Open: opened and not closed.
    pub fn is_open(&self) -> bool {
        self.opened_on.is_some() && self.closed_on.is_none()
    }

    /// Who manages the case, as the read models name it: "Probation Service" once the case
    /// joined the unified service or was opened under the unified model (seed 003 l.358), else
    /// the TR provider (NPS or the CRC), if allocated.
    pub fn provider_name(&self) -> Option<String> {
        let unified_era = match (self.opened_on, self.pdu) {
            (Some(on), Some(pdu)) => {
                crate::Ruleset::for_date(on, pdu.nation()).is_ok_and(|r| !r.is_two_provider())
            }
            _ => false,
        };
        if self.unified_on.is_some() || (unified_era && self.provider.is_none()) {
            return Some(UNIFIED_SERVICE_NAME.to_owned());
        }
        self.provider.as_ref().map(ToString::to_string)
    }

    /// A CRC holds the case (only possible under Transforming Rehabilitation).
    pub fn held_by_crc(&self) -> bool {
        self.unified_on.is_none() && self.provider.as_ref().is_some_and(Provider::is_crc)
    }

    /// An active MAPPA registration, if any.
    pub fn active_mappa_registration(&self) -> Option<(MappaCategory, MappaLevel)> {
        self.registrations
            .values()
            .rev()
            .filter(|r| r.removed_on.is_none())
            .find_map(|r| match r.kind {
                RegistrationKind::Mappa { category, level } => Some((category, level)),
                _ => None,
            })
    }

    /// MAPPA-eligible: an active MAPPA registration, a MAPPA level set, or screened eligible
    /// (BR-A4, BR-A12, seed 000 l.9).
    pub fn mappa_eligible(&self) -> bool {
        self.active_mappa_registration().is_some()
            || self.mappa.level.is_some()
            || self.mappa.screened_eligible == Some(true)
    }

    /// Open breach (raised, not concluded) on any sentence.
    pub fn open_breach(&self) -> Option<u16> {
        self.breaches
            .iter()
            .find(|(_, b)| b.concluded.is_none())
            .map(|(id, _)| *id)
    }

    /// Open recall (raised, not concluded).
    pub fn open_recall(&self) -> Option<u16> {
        self.recalls
            .iter()
            .find(|(_, r)| r.concluded.is_none())
            .map(|(id, _)| *id)
    }

    /// A MAPPA registration ended (removed or retracted): the case leaves the register unless
    /// another MAPPA registration is still active, which then states the category and level.
    fn mappa_registration_ended(&mut self) {
        let active = self
            .registrations
            .values()
            .rev()
            .filter(|r| r.removed_on.is_none())
            .find_map(|r| match r.kind {
                RegistrationKind::Mappa { category, level } => {
                    Some((category, level, r.registered_on))
                }
                _ => None,
            });
        self.mappa.category = active.map(|a| a.0);
        self.mappa.level = active.map(|a| a.1);
        self.mappa.set_on = active.map(|a| a.2);
    }

    /// Take the fact recorded by event `id` out of the state (COR-1, design.md invariant 1:
    /// the record stays in the log, the fold stops counting it). Known for risk assessments,
    /// escalation decisions and registrations; `false` when the state holds no fact from
    /// that event (another type, or an event folded without its id), which is then only noted.
    fn retract(&mut self, id: &EventRef) -> bool {
        let before = self.risk.facts.len();
        self.risk.facts.retain(|f| f.event_id.as_ref() != Some(id));
        if self.risk.facts.len() != before {
            self.risk.recompute();
            return true;
        }
        let registration = self
            .registrations
            .iter()
            .find(|(_, r)| r.event_id.as_ref() == Some(id))
            .map(|(k, r)| (*k, r.kind.is_mappa()));
        if let Some((key, was_mappa)) = registration {
            self.registrations.remove(&key);
            if was_mappa {
                self.mappa_registration_ended();
            }
            return true;
        }
        false
    }

    /// ALLOC-1 (seed 003 l.775: allocation within five working days *of sentence*): a sentence
    /// imposed while no other sentence is supervised starts supervision afresh, so it is an
    /// allocation event — the practitioner of the supervision that ended is set aside
    /// (`previous_practitioner`) and the case waits for an allocation. Imposed while another
    /// sentence is supervised, the case's practitioner takes it on that day. Returns the new
    /// sentence's allocation date.
    fn sentence_starts_supervision(&mut self, sentenced_on: Date) -> Option<Date> {
        if self.sentences.values().any(|s| s.status.is_supervised()) {
            return self.practitioner.as_ref().map(|_| sentenced_on);
        }
        if let Some(previous) = self.practitioner.take() {
            self.previous_practitioner = Some(previous);
        }
        None
    }

    /// Licence or post-sentence supervision of sentence `id` has ended.
    fn supervision_ended(&mut self, id: SentenceId) {
        if let Some(s) = self.sentences.get_mut(&id) {
            s.status = SentenceStatus::SupervisionEnded;
        }
    }

    /// Post-sentence supervision of sentence `id` has started and runs until `ends_on`.
    fn post_sentence_supervision_started(&mut self, id: SentenceId, ends_on: Date) {
        if let Some(s) = self.sentences.get_mut(&id) {
            s.status = SentenceStatus::PostSentenceSupervision;
            s.post_sentence_supervision_ends_on = Some(ends_on);
        }
    }

    /// Sentence `id` has ended: by a termination or by its order's end date (LAPSE-1).
    fn sentence_terminated(&mut self, id: SentenceId, on: Date, reason: TerminationReason) {
        if let Some(s) = self.sentences.get_mut(&id) {
            s.status = SentenceStatus::Terminated;
            s.terminated = Some((on, reason));
        }
        // The TR ratchet holds "until the end of that Order" (BR-A10, seed 001 l.67).
        if self.nps_until_sentence_ends == Some(id) {
            self.nps_until_sentence_ends = None;
        }
    }

    /// LAPSE-1: what keeps sentence `id` from ending by itself on its date — a recall or a
    /// breach still open on it (the recall decides whether the person returns to custody, the
    /// court what happens to the order: seed 002 l.61, seed 003 l.2914). `None` when nothing does.
    pub fn lapse_held_by(&self, id: SentenceId) -> Option<String> {
        if let Some((recall, _)) = self
            .recalls
            .iter()
            .find(|(_, r)| r.sentence_id == id && r.concluded.is_none())
        {
            return Some(format!("recall {recall} is open; conclude it first"));
        }
        self.breaches
            .iter()
            .find(|(_, b)| b.sentence_id == id && b.concluded.is_none())
            .map(|(breach, _)| format!("breach {breach} is open; conclude it first"))
    }

    /// Fold a whole history.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> CaseState {
        events.into_iter().fold(CaseState::default(), evolve)
    }
}

mod evolve;

pub use evolve::{evolve, evolve_recorded};
