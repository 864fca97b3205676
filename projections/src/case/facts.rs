//! Per-case state of the read models: the domain's own fold ([`CaseState`], through
//! `evolve_recorded`) beside the performance bookkeeping only the measures need.
//!
//! What a fact means for the case — open or closed, where it is managed and by whom, its
//! RoSH, tier, MAPPA category and level, each sentence's status, responsibility and dates —
//! is decided once, by the domain's fold (design.md invariant 10), so no read model can
//! disagree with the case record. [`CaseFacts`] keeps only what no rule needs: when things
//! happened first (appointments, plans, requirement starts) for the performance measures,
//! and the enforcement history. Every collection is an ordered map or a capped vector, so it
//! is bounded and its JSON is canonical.

use std::collections::BTreeMap;

use caseledger_domain::enforcement::{
    Absence, AccommodationStatus, AppointmentKind, AttendedOutcome, EmploymentStatus,
    StatusCheckpoint,
};
use caseledger_domain::event::Event;
use caseledger_domain::identity::EventRef;
use caseledger_domain::sentence::{RequirementKind, SentenceType};
use caseledger_domain::{evolve_recorded, CaseState};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Most failures to comply kept per case (the compliance window is 12 months; a case with
/// more failures than this in a year is in breach long before).
pub const FAILURES_TO_COMPLY_KEPT_MAX: usize = 64;
/// Most concluded breaches kept per case (only the latest sets the compliance window).
pub const BREACHES_CONCLUDED_KEPT_MAX: usize = 8;
/// Most status records (accommodation, employment) kept per case, newest kept.
pub const STATUS_RECORDS_KEPT_MAX: usize = 32;
/// Most appointments awaiting an outcome kept per case; older ones are dropped first.
pub const APPOINTMENTS_PENDING_MAX: usize = 256;

/// The state of one case stream in the read models: the domain's fold and the measures'
/// bookkeeping, both fed every event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    /// The case as the domain folds it (personal details left out: no read model shows them,
    /// and the read-model database must not hold them).
    pub case: CaseState,
    pub facts: CaseFacts,
}

impl CaseView {
    /// Fold one stored event (its envelope id lets a later correction retract it, COR-1).
    pub fn apply(&mut self, event_id: &EventRef, event: &Event) {
        self.case = evolve_recorded(std::mem::take(&mut self.case), event_id, event);
        self.case.person = None;
        self.facts.apply(event);
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    /// The days the person is a young adult (T2A, enforcement-and-workload.md §4.1), from
    /// their date of birth.
    #[serde(default)]
    pub young_adult: Option<(Date, Date)>,
    pub sentences: BTreeMap<u16, SentenceFacts>,
    /// Appointments booked but not yet attended or missed: id → (sentence, date, kind, initial).
    pub appointments_pending: BTreeMap<u32, PendingAppointment>,
    /// Per calendar month `YYYY-MM`: (attended, unacceptable absences) — PM7.
    pub appointments_by_month: BTreeMap<String, (u32, u32)>,
    pub failures_to_comply: Vec<Date>,
    pub last_breach_end: Option<Date>,
    /// Concluded breaches, newest last: (sentence, raised on, concluded on, proven).
    pub breaches_concluded: Vec<(u16, Date, Date, bool)>,
    /// Open breaches: id → (sentence, raised on).
    pub breaches_open: BTreeMap<u16, (u16, Date)>,
    /// Open recalls: id → (sentence, raised on).
    pub recalls_open: BTreeMap<u16, (u16, Date)>,
    pub accommodation: Vec<(Date, AccommodationStatus, StatusCheckpoint)>,
    pub employment: Vec<(Date, EmploymentStatus, StatusCheckpoint)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAppointment {
    pub sentence: u16,
    pub date: Date,
    pub kind: AppointmentKind,
    pub initial: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceFacts {
    pub sentence_type: SentenceType,
    pub sentenced_on: Date,
    pub length_months: Option<u16>,
    /// Expected release (CRD, else ARD) for custody.
    pub release_expected_on: Option<Date>,
    /// Sentence expiry (SED, else LED, else TUSED): "before the sentence expires" (PM8).
    pub expires_on: Option<Date>,
    pub released_on: Option<Date>,
    pub handover_meeting_on: Option<Date>,
    /// First sentence plan created on or after sentence (PM6, PM12).
    pub plan_created_on: Option<Date>,
    /// Latest plan created or reviewed while in custody (PM12).
    pub pre_release_plan_on: Option<Date>,
    /// First attended supervision appointment on/after sentence (PM5, community).
    pub first_appointment_on: Option<Date>,
    /// First attended supervision appointment on/after release (PM5, custody).
    pub first_appointment_after_release_on: Option<Date>,
    pub requirements: BTreeMap<u16, RequirementFacts>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementFamily {
    UnpaidWork,
    AccreditedProgramme,
    StructuredIntervention,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementFacts {
    pub family: RequirementFamily,
    pub hours_ordered: u16,
    pub minutes_credited: u32,
    /// UPW assessment: the attended `initial` UPW appointment (PM15).
    pub assessed_on: Option<Date>,
    /// First attended UPW / programme session, or first UPW time credited (PM16, PM19).
    pub started_on: Option<Date>,
    /// Date the credited time reached the ordered hours (PM18).
    pub hours_done_on: Option<Date>,
    pub completed_on: Option<Date>,
    pub terminated_on: Option<Date>,
}

fn family(kind: &RequirementKind) -> (RequirementFamily, u16) {
    match kind {
        RequirementKind::UnpaidWork { hours } => (RequirementFamily::UnpaidWork, *hours),
        RequirementKind::AccreditedProgramme { .. } => (RequirementFamily::AccreditedProgramme, 0),
        RequirementKind::StructuredIntervention => (RequirementFamily::StructuredIntervention, 0),
        _ => (RequirementFamily::Other, 0),
    }
}

fn push_capped<T>(list: &mut Vec<T>, item: T, max: usize) {
    list.push(item);
    if list.len() > max {
        list.remove(0);
    }
}

fn min_date(current: Option<Date>, candidate: Date) -> Option<Date> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

/// `YYYY-MM` of a date.
pub fn month_of(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

impl CaseFacts {
    /// The sentence an appointment / outcome belongs to, if known.
    fn sentence_mut(&mut self, id: u16) -> Option<&mut SentenceFacts> {
        self.sentences.get_mut(&id)
    }

    /// Fold one event. Unknown references (a sentence or requirement the case never had) are
    /// ignored here: `decide` refuses them before they reach the log, and a projection must
    /// not stop the world over a fact it cannot place.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::CaseOpened(e) => {
                // An erased or withheld date of birth leaves the measure unknown.
                self.young_adult = e.person.known().and_then(|person| {
                    caseledger_domain::workload::young_adult_window(person.date_of_birth)
                });
            }
            // Erased, the date of birth is gone: the measure is unknown, as a rebuild after
            // the erasure (which reads the opening as erased) finds it.
            Event::PersonalDataErased(_) => self.young_adult = None,
            Event::SentenceImposed(e) => {
                let dates = &e.dates;
                let requirements = e
                    .requirements
                    .iter()
                    .map(|r| {
                        let (family, hours_ordered) = family(&r.kind);
                        (
                            r.id.0,
                            RequirementFacts {
                                family,
                                hours_ordered,
                                minutes_credited: 0,
                                assessed_on: None,
                                started_on: None,
                                hours_done_on: None,
                                completed_on: None,
                                terminated_on: None,
                            },
                        )
                    })
                    .collect();
                self.sentences.insert(
                    e.sentence_id.0,
                    SentenceFacts {
                        sentence_type: e.sentence_type,
                        sentenced_on: e.sentenced_on,
                        length_months: e.length_months,
                        release_expected_on: dates
                            .conditional_release_date
                            .or(dates.automatic_release_date),
                        expires_on: dates
                            .sentence_expiry_date
                            .or(dates.licence_expiry_date)
                            .or(dates.top_up_supervision_expiry_date),
                        released_on: None,
                        handover_meeting_on: None,
                        plan_created_on: None,
                        pre_release_plan_on: None,
                        first_appointment_on: None,
                        first_appointment_after_release_on: None,
                        requirements,
                    },
                );
            }
            Event::SentenceDatesRecalculated(e) => {
                if let Some(s) = self.sentence_mut(e.sentence_id.0) {
                    let d = &e.dates;
                    s.release_expected_on = d.conditional_release_date.or(d.automatic_release_date);
                    s.expires_on = d
                        .sentence_expiry_date
                        .or(d.licence_expiry_date)
                        .or(d.top_up_supervision_expiry_date);
                }
            }
            Event::HandoverMeetingHeld(e) => {
                if let Some(s) = self.sentence_mut(e.sentence_id.0) {
                    s.handover_meeting_on = min_date(s.handover_meeting_on, e.held_on);
                }
            }
            Event::Released(e) => {
                if let Some(s) = self.sentence_mut(e.sentence_id.0) {
                    s.released_on = Some(e.released_on);
                    s.first_appointment_after_release_on = None;
                    if let Some(led) = e.licence_expiry_date {
                        s.expires_on = Some(led);
                    }
                }
            }
            Event::PostSentenceSupervisionStarted(e) => {
                if let Some(s) = self.sentence_mut(e.sentence_id.0) {
                    s.expires_on = Some(e.ends_on);
                }
            }
            Event::SupervisionLapsed(e) => {
                if let (Some(s), Some(until)) = (
                    self.sentence_mut(e.sentence_id.0),
                    e.post_sentence_supervision_until,
                ) {
                    s.expires_on = Some(until);
                }
            }
            Event::AppointmentScheduled(e) => {
                self.appointments_pending.insert(
                    e.appointment_id,
                    PendingAppointment {
                        sentence: e.sentence_id.0,
                        date: e.scheduled_for,
                        kind: e.kind,
                        initial: e.initial,
                    },
                );
                while self.appointments_pending.len() > APPOINTMENTS_PENDING_MAX {
                    self.appointments_pending.pop_first();
                }
            }
            Event::AppointmentAttended(e) => {
                let Some(a) = self.appointments_pending.remove(&e.appointment_id) else {
                    return;
                };
                self.appointments_by_month
                    .entry(month_of(a.date))
                    .or_default()
                    .0 += 1;
                if e.outcome == AttendedOutcome::FailedToComply {
                    push_capped(
                        &mut self.failures_to_comply,
                        a.date,
                        FAILURES_TO_COMPLY_KEPT_MAX,
                    );
                }
                if let Some(s) = self.sentences.get_mut(&a.sentence) {
                    attended(s, &a);
                }
            }
            Event::AppointmentMissed(e) => {
                let Some(a) = self.appointments_pending.remove(&e.appointment_id) else {
                    return;
                };
                if e.absence == Absence::Unacceptable {
                    self.appointments_by_month
                        .entry(month_of(a.date))
                        .or_default()
                        .1 += 1;
                    push_capped(
                        &mut self.failures_to_comply,
                        a.date,
                        FAILURES_TO_COMPLY_KEPT_MAX,
                    );
                }
            }
            Event::WarningIssued(_) => {}
            Event::BreachRaised(e) => {
                self.breaches_open
                    .insert(e.breach_id, (e.sentence_id.0, e.raised_on));
            }
            Event::BreachConcluded(e) => {
                if let Some((sentence, raised_on)) = self.breaches_open.remove(&e.breach_id) {
                    push_capped(
                        &mut self.breaches_concluded,
                        (sentence, raised_on, e.concluded_on, e.proven),
                        BREACHES_CONCLUDED_KEPT_MAX,
                    );
                }
                self.last_breach_end = Some(e.concluded_on);
            }
            Event::RecallRaised(e) => {
                self.recalls_open
                    .insert(e.recall_id, (e.sentence_id.0, e.raised_on));
            }
            Event::RecallConcluded(e) => {
                self.recalls_open.remove(&e.recall_id);
            }
            Event::UnpaidWorkHoursCredited(e) => {
                if let Some(r) = self
                    .sentences
                    .get_mut(&e.sentence_id.0)
                    .and_then(|s| s.requirements.get_mut(&e.requirement_id.0))
                {
                    r.minutes_credited = r.minutes_credited.saturating_add(e.minutes);
                    r.started_on = min_date(r.started_on, e.credited_on);
                    if r.hours_done_on.is_none()
                        && r.minutes_credited >= u32::from(r.hours_ordered) * 60
                    {
                        r.hours_done_on = Some(e.credited_on);
                    }
                }
            }
            Event::RequirementCompleted(e) => {
                if let Some(r) = self
                    .sentences
                    .get_mut(&e.sentence_id.0)
                    .and_then(|s| s.requirements.get_mut(&e.requirement_id.0))
                {
                    r.completed_on = Some(e.completed_on);
                }
            }
            Event::RequirementTerminated(e) => {
                if let Some(r) = self
                    .sentences
                    .get_mut(&e.sentence_id.0)
                    .and_then(|s| s.requirements.get_mut(&e.requirement_id.0))
                {
                    r.terminated_on = Some(e.terminated_on);
                }
            }
            Event::SentencePlanCreated(e) => {
                if let Some(s) = self.sentence_mut(e.sentence_id.0) {
                    if e.created_on >= s.sentenced_on {
                        s.plan_created_on = min_date(s.plan_created_on, e.created_on);
                    }
                    note_pre_release_plan(s, e.created_on);
                }
            }
            Event::SentencePlanReviewed(e) => {
                if let Some(s) = self.sentence_mut(e.sentence_id.0) {
                    note_pre_release_plan(s, e.reviewed_on);
                }
            }
            Event::AccommodationStatusRecorded(e) => push_capped(
                &mut self.accommodation,
                (e.recorded_on, e.status, e.checkpoint),
                STATUS_RECORDS_KEPT_MAX,
            ),
            Event::EmploymentStatusRecorded(e) => push_capped(
                &mut self.employment,
                (e.recorded_on, e.status, e.checkpoint),
                STATUS_RECORDS_KEPT_MAX,
            ),
            // What the domain's fold alone decides (CaseView::case), or nothing the measures
            // count.
            Event::RiskAssessed(_)
            | Event::RegistrationAdded(_)
            | Event::RegistrationRemoved(_)
            | Event::MappaScreened(_)
            | Event::MappaReferred(_)
            | Event::MappaLevelSet(_)
            | Event::CaseAllocatedToProvider(_)
            | Event::PractitionerAllocated(_)
            | Event::PractitionerReallocated(_)
            | Event::TierCalculated(_)
            | Event::CaseTransferredToNps(_)
            | Event::CaseTransferredToUnifiedService(_)
            | Event::HandoverDatesCalculated(_)
            | Event::CommunityOffenderManagerAllocated(_)
            | Event::ResponsibilityTransferred(_)
            | Event::ResponsibilityOverridden(_)
            | Event::LicenceEnded(_)
            | Event::PostSentenceSupervisionEnded(_)
            | Event::CaseTransferredBetweenPdus(_)
            | Event::SentenceTerminated(_)
            | Event::CaseClosed(_)
            | Event::CaseReopened(_)
            | Event::PreSentenceReportRequested(_)
            | Event::PreSentenceReportCompleted(_)
            | Event::TierReviewTriggered(_)
            | Event::RiskEscalationRequested(_)
            | Event::RiskEscalationDecided(_)
            | Event::PrisonOffenderManagerAllocated(_)
            | Event::PreReleaseContactHeld(_)
            | Event::PredictorScoresAssessed(_)
            | Event::TierV3Calculated(_)
            | Event::EventCorrected(_) => {}
        }
    }
}

fn note_pre_release_plan(s: &mut SentenceFacts, on: Date) {
    if s.sentence_type.is_custodial() && s.released_on.is_none() && on >= s.sentenced_on {
        s.pre_release_plan_on = Some(on);
    }
}

/// An attended appointment: first appointment (PM5) and requirement starts (PM15, PM16, PM19).
fn attended(s: &mut SentenceFacts, a: &PendingAppointment) {
    match a.kind {
        AppointmentKind::UnpaidWorkSession => {
            if let Some(r) = s
                .requirements
                .values_mut()
                .find(|r| r.family == RequirementFamily::UnpaidWork)
            {
                if a.initial {
                    r.assessed_on = min_date(r.assessed_on, a.date);
                } else {
                    r.started_on = min_date(r.started_on, a.date);
                }
            }
        }
        AppointmentKind::ProgrammeSession => {
            if let Some(r) = s.requirements.values_mut().find(|r| {
                matches!(
                    r.family,
                    RequirementFamily::AccreditedProgramme
                        | RequirementFamily::StructuredIntervention
                ) && r.completed_on.is_none()
                    && r.terminated_on.is_none()
            }) {
                r.started_on = min_date(r.started_on, a.date);
            }
        }
        AppointmentKind::FaceToFace
        | AppointmentKind::Telephone
        | AppointmentKind::Video
        | AppointmentKind::HomeVisit => {
            if a.date >= s.sentenced_on {
                s.first_appointment_on = min_date(s.first_appointment_on, a.date);
            }
            if let Some(released) = s.released_on {
                if a.date >= released {
                    s.first_appointment_after_release_on =
                        min_date(s.first_appointment_after_release_on, a.date);
                }
            }
        }
    }
}
