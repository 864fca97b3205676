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
    pub person: Option<Person>,
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

/// Apply one event to the state. Pure and total. The event's id is not known here, so a
/// later correction cannot retract what this event states; folds over stored records use
/// [`evolve_recorded`].
pub fn evolve(state: CaseState, event: &Event) -> CaseState {
    apply(state, None, event)
}

/// Apply one stored event, whose envelope id is `event_id`: the same fold as [`evolve`], and
/// the facts a correction can retract remember the id (COR-1). Every fold over the log — the
/// command handler's, the read models', replay's — goes through here, so the case state and
/// every read model take a fact to mean the same thing.
pub fn evolve_recorded(state: CaseState, event_id: &EventRef, event: &Event) -> CaseState {
    apply(state, Some(event_id), event)
}

fn apply(mut state: CaseState, event_id: Option<&EventRef>, event: &Event) -> CaseState {
    state.version = state.version.saturating_add(1);
    match event {
        Event::CaseOpened(e) => {
            state.crn = Some(e.crn.clone());
            state.person = Some(e.person.clone());
            state.pdu = Some(e.pdu);
            state.team = e.team.clone();
            state.opened_on = Some(e.opened_on);
        }
        Event::PreSentenceReportRequested(e) => {
            state.pre_sentence_reports.push(PreSentenceReportState {
                requested_on: e.requested_on,
                court: e.court.clone(),
                completed_on: None,
            });
        }
        Event::PreSentenceReportCompleted(e) => {
            if let Some(psr) = state
                .pre_sentence_reports
                .iter_mut()
                .rev()
                .find(|p| p.completed_on.is_none())
            {
                psr.completed_on = Some(e.completed_on);
            }
        }
        Event::SentenceImposed(e) => {
            let status = match e.sentence_type {
                SentenceType::CommunityOrder | SentenceType::SuspendedSentenceOrder => {
                    SentenceStatus::Community
                }
                SentenceType::DeterminateCustody | SentenceType::IndeterminateCustody => {
                    SentenceStatus::InCustody
                }
                SentenceType::Licence => SentenceStatus::ReleasedOnLicence,
                SentenceType::PostSentenceSupervision => SentenceStatus::PostSentenceSupervision,
            };
            let requirements = e
                .requirements
                .iter()
                .map(|r| {
                    (
                        r.id,
                        RequirementState {
                            kind: r.kind,
                            status: RequirementStatus::Active,
                            unpaid_work_minutes_credited: 0,
                        },
                    )
                })
                .collect();
            let allocated_on = state.sentence_starts_supervision(e.sentenced_on);
            state.sentences.insert(
                e.sentence_id,
                SentenceState {
                    sentence_type: e.sentence_type,
                    sentenced_on: e.sentenced_on,
                    court: e.court.clone(),
                    length_months: e.length_months,
                    dates: e.dates.clone(),
                    requirements,
                    status,
                    responsibility: None,
                    handover: None,
                    prison_offender_manager: None,
                    community_offender_manager: None,
                    handover_meeting_held_on: None,
                    pre_release_contacts: 0,
                    releases: Vec::new(),
                    post_sentence_supervision_ends_on: None,
                    sentence_plan_created_on: None,
                    sentence_plan_reviews: 0,
                    terminated: None,
                    allocated_on,
                },
            );
        }
        Event::SentenceDatesRecalculated(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.dates = e.dates.clone();
            }
        }
        Event::RiskAssessed(e) => {
            state.risk.facts.push(RiskFact {
                event_id: event_id.cloned(),
                on: e.assessed_on,
                rosh: e.rosh,
                confirmed: e.rosh_status == RoshStatus::Confirmed,
                assessment: Some(AssessmentFact {
                    rsr: e.rsr,
                    ogrs: e.ogrs,
                    needs: e.needs.clone(),
                    by_nps: e.assessed_by == crate::reference::Organisation::Nps,
                }),
            });
            state.risk.recompute();
        }
        Event::RegistrationAdded(e) => {
            state.registrations.insert(
                e.registration_id,
                RegistrationState {
                    kind: e.kind,
                    registered_on: e.registered_on,
                    review_on: e.review_on,
                    removed_on: None,
                    event_id: event_id.cloned(),
                },
            );
            if let RegistrationKind::Mappa { category, level } = e.kind {
                state.mappa.category = Some(category);
                state.mappa.level = Some(level);
                state.mappa.set_on = Some(e.registered_on);
            }
        }
        Event::RegistrationRemoved(e) => {
            let was_mappa = match state.registrations.get_mut(&e.registration_id) {
                Some(r) => {
                    r.removed_on = Some(e.removed_on);
                    r.kind.is_mappa()
                }
                None => false,
            };
            if was_mappa {
                state.mappa_registration_ended();
            }
        }
        Event::MappaScreened(e) => {
            state.mappa.screened_on = Some(e.screened_on);
            state.mappa.screened_eligible = Some(e.eligible);
        }
        Event::MappaReferred(e) => {
            state.mappa.referred = Some((e.referred_on, e.level));
        }
        Event::MappaLevelSet(e) => {
            state.mappa.category = Some(e.category);
            state.mappa.level = Some(e.level);
            state.mappa.set_on = Some(e.set_on);
        }
        Event::CaseAllocatedToProvider(e) => {
            state.provider = Some(e.provider.clone());
            state.provider_sentence = Some(e.inputs.sentence_id);
            state.nps_until_sentence_ends = e.nps_until_sentence_ends;
        }
        Event::PractitionerAllocated(e) => {
            state.practitioner = Some(PractitionerAllocation {
                practitioner: e.practitioner.clone(),
                team: e.team.clone(),
                since: e.allocated_on,
            });
            state.previous_practitioner = None;
            state.reallocation_advised = false;
            for s in state.sentences.values_mut() {
                if s.status.is_supervised() && s.allocated_on.is_none() {
                    s.allocated_on = Some(e.allocated_on);
                }
            }
        }
        Event::PractitionerReallocated(e) => {
            state.practitioner = Some(PractitionerAllocation {
                practitioner: e.practitioner.clone(),
                team: e.team.clone(),
                since: e.reallocated_on,
            });
            state.reallocation_advised = false;
        }
        Event::TierCalculated(e) => {
            state.tier = Some(TierState {
                tier: e.tier,
                calculated_on: e.calculated_on,
                reason_code: e.decision.reason_code.as_str().to_owned(),
                inputs_digest: e.inputs_digest.clone(),
                ruleset_id: e.decision.ruleset_id,
            });
            state.tier_review_due = false;
            state.reallocation_advised = e.reallocation_advised;
        }
        Event::TierReviewTriggered(_) => {
            state.tier_review_due = true;
        }
        Event::PredictorScoresAssessed(e) => {
            state.risk.predictors = Some(e.predictors);
        }
        Event::TierV3Calculated(e) => {
            state.tier_v3 = Some(TierV3State {
                tier: e.tier,
                provisional: e.provisional,
                calculated_on: e.calculated_on,
                reason_code: e.decision.reason_code.as_str().to_owned(),
                inputs_digest: e.inputs_digest.clone(),
                ruleset_id: e.decision.ruleset_id,
            });
        }
        Event::RiskEscalationRequested(e) => {
            state.pending_escalation = Some(PendingEscalation {
                requested_on: e.requested_on,
                proposed_rosh: e.proposed_rosh,
            });
        }
        Event::RiskEscalationDecided(e) => {
            let requested_on = state
                .pending_escalation
                .take()
                .map_or(e.decided_on, |p| p.requested_on);
            state.escalations.push(EscalationRecord {
                requested_on,
                decided_on: e.decided_on,
                outcome: e.outcome,
                confirmed_rosh: e.inputs.confirmed_rosh,
            });
            // The NPS's decision is the case's RoSH (BR-A11, seed 001 l.55–68).
            state.risk.facts.push(RiskFact {
                event_id: event_id.cloned(),
                on: e.decided_on,
                rosh: e.inputs.confirmed_rosh,
                confirmed: true,
                assessment: None,
            });
            state.risk.recompute();
        }
        Event::CaseTransferredToNps(e) => {
            state.provider = Some(Provider::Nps);
            state.nps_until_sentence_ends = Some(e.nps_until_sentence_ends);
            // A CRC practitioner does not move with the case.
            state.practitioner = None;
        }
        Event::CaseTransferredToUnifiedService(e) => {
            state.provider = Some(Provider::Nps);
            state.unified_on = Some(e.transferred_on);
            state.nps_until_sentence_ends = None;
            state.pending_escalation = None;
        }
        Event::PrisonOffenderManagerAllocated(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.prison_offender_manager = Some((e.prison_offender_manager.clone(), e.pom_type));
                if s.responsibility.is_none() {
                    s.responsibility = Some(Responsibility::CustodyOnly);
                }
            }
        }
        Event::HandoverDatesCalculated(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.handover = Some(HandoverState {
                    calculated_on: e.calculated_on,
                    handover_era: e.handover_era,
                    start_date: e.start_date,
                    handover_date: e.handover_date,
                    handover_reason: e.handover_reason.as_str().to_owned(),
                    inputs_digest: e.inputs_digest.clone(),
                    ruleset_id: e.decision.ruleset_id,
                });
                s.responsibility = Some(e.responsibility);
            }
        }
        Event::CommunityOffenderManagerAllocated(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.community_offender_manager =
                    Some((e.community_offender_manager.clone(), e.team.clone()));
                if s.responsibility == Some(Responsibility::CustodyOnly) {
                    s.responsibility = Some(Responsibility::CustodyWithCom);
                }
            }
        }
        Event::ResponsibilityTransferred(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.responsibility = Some(e.to);
            }
        }
        Event::ResponsibilityOverridden(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.responsibility = Some(e.to);
            }
        }
        Event::HandoverMeetingHeld(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.handover_meeting_held_on = Some(e.held_on);
            }
        }
        Event::PreReleaseContactHeld(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.pre_release_contacts = e.contact_number;
            }
        }
        Event::Released(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.status = SentenceStatus::ReleasedOnLicence;
                s.releases.push(ReleaseRecord {
                    released_on: e.released_on,
                    release_type: e.release_type,
                });
                if e.licence_expiry_date.is_some() {
                    s.dates.licence_expiry_date = e.licence_expiry_date;
                }
                s.responsibility = Some(Responsibility::Community);
            }
        }
        Event::LicenceEnded(e) => state.supervision_ended(e.sentence_id),
        Event::PostSentenceSupervisionStarted(e) => {
            state.post_sentence_supervision_started(e.sentence_id, e.ends_on);
        }
        Event::PostSentenceSupervisionEnded(e) => state.supervision_ended(e.sentence_id),
        Event::SupervisionLapsed(e) => match (e.period, e.post_sentence_supervision_until) {
            (SupervisionPeriod::Licence, Some(until)) => {
                state.post_sentence_supervision_started(e.sentence_id, until);
            }
            (SupervisionPeriod::Licence | SupervisionPeriod::PostSentenceSupervision, _) => {
                state.supervision_ended(e.sentence_id);
            }
            (SupervisionPeriod::Order, _) => {
                state.sentence_terminated(e.sentence_id, e.lapsed_on, TerminationReason::Expired);
            }
        },
        Event::AppointmentScheduled(e) => {
            state.appointments.insert(
                e.appointment_id,
                AppointmentState {
                    sentence_id: e.sentence_id,
                    scheduled_for: e.scheduled_for,
                    kind: e.kind,
                    initial: e.initial,
                    outcome: None,
                },
            );
        }
        Event::AppointmentAttended(e) => {
            if let Some(a) = state.appointments.get_mut(&e.appointment_id) {
                a.outcome = Some((e.recorded_on, AppointmentOutcome::Attended(e.outcome)));
            }
        }
        Event::AppointmentMissed(e) => {
            if let Some(a) = state.appointments.get_mut(&e.appointment_id) {
                a.outcome = Some((e.recorded_on, AppointmentOutcome::Missed(e.absence)));
            }
        }
        Event::WarningIssued(e) => {
            state.warnings.push(WarningState {
                sentence_id: e.sentence_id,
                issued_on: e.issued_on,
                kind: e.kind,
            });
        }
        Event::BreachRaised(e) => {
            state.breaches.insert(
                e.breach_id,
                BreachState {
                    sentence_id: e.sentence_id,
                    raised_on: e.raised_on,
                    concluded: None,
                },
            );
        }
        Event::BreachConcluded(e) => {
            if let Some(b) = state.breaches.get_mut(&e.breach_id) {
                b.concluded = Some((e.concluded_on, e.outcome));
            }
        }
        Event::RecallRaised(e) => {
            state.recalls.insert(
                e.recall_id,
                RecallState {
                    sentence_id: e.sentence_id,
                    raised_on: e.raised_on,
                    concluded: None,
                },
            );
        }
        Event::RecallConcluded(e) => {
            let sentence_id = match state.recalls.get_mut(&e.recall_id) {
                Some(r) => {
                    r.concluded = Some((e.concluded_on, e.outcome));
                    Some(r.sentence_id)
                }
                None => None,
            };
            if e.recalled {
                if let Some(s) = sentence_id.and_then(|id| state.sentences.get_mut(&id)) {
                    s.status = SentenceStatus::Recalled;
                    s.responsibility = Some(Responsibility::CustodyOnly);
                }
            }
        }
        Event::UnpaidWorkHoursCredited(e) => {
            if let Some(r) = state
                .sentences
                .get_mut(&e.sentence_id)
                .and_then(|s| s.requirements.get_mut(&e.requirement_id))
            {
                r.unpaid_work_minutes_credited =
                    r.unpaid_work_minutes_credited.saturating_add(e.minutes);
            }
        }
        Event::RequirementCompleted(e) => {
            if let Some(r) = state
                .sentences
                .get_mut(&e.sentence_id)
                .and_then(|s| s.requirements.get_mut(&e.requirement_id))
            {
                r.status = RequirementStatus::Completed;
            }
        }
        Event::RequirementTerminated(e) => {
            if let Some(r) = state
                .sentences
                .get_mut(&e.sentence_id)
                .and_then(|s| s.requirements.get_mut(&e.requirement_id))
            {
                r.status = RequirementStatus::Terminated;
            }
        }
        Event::SentencePlanCreated(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.sentence_plan_created_on = Some(e.created_on);
            }
        }
        Event::SentencePlanReviewed(e) => {
            if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
                s.sentence_plan_reviews = s.sentence_plan_reviews.saturating_add(1);
            }
        }
        Event::AccommodationStatusRecorded(e) => {
            state.accommodation.push(StatusRecord {
                recorded_on: e.recorded_on,
                status: e.status,
                checkpoint: e.checkpoint,
            });
        }
        Event::EmploymentStatusRecorded(e) => {
            state.employment.push(StatusRecord {
                recorded_on: e.recorded_on,
                status: e.status,
                checkpoint: e.checkpoint,
            });
        }
        Event::CaseTransferredBetweenPdus(e) => {
            state.transfers.push(TransferRecord {
                transferred_on: e.transferred_on,
                from_pdu: e.from_pdu,
                to_pdu: e.to_pdu,
            });
            state.pdu = Some(e.to_pdu);
            state.team = e.to_team.clone();
            // The receiving PDU allocates its own practitioner (T27).
            state.practitioner = None;
        }
        Event::SentenceTerminated(e) => {
            state.sentence_terminated(e.sentence_id, e.terminated_on, e.reason);
        }
        Event::CaseClosed(e) => {
            state.closed_on = Some(e.closed_on);
        }
        Event::CaseReopened(e) => {
            state.closed_on = None;
            state.reopenings.push(ReopeningRecord {
                closed_on: e.closed_on,
                reopened_on: e.reopened_on,
                reason_code: e.decision.reason_code.as_str().to_owned(),
            });
        }
        Event::EventCorrected(e) => {
            let retracted = state.retract(&e.corrected_event_id);
            state.corrections.push(CorrectionRecord {
                corrected_on: e.corrected_on,
                corrected_event_id: e.corrected_event_id.clone(),
                corrected_event_type: e.corrected_event_type.clone(),
                reason: e.reason.clone(),
                retracted,
            });
        }
    }
    state
}
