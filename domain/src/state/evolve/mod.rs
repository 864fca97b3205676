//! `evolve`: one event folded into the case state. `apply` routes each event to the function
//! of its family, one module per family of `crate::event` (case, allocation, custody, risk,
//! supervision); the match is exhaustive, so a new event type does not compile until it has
//! its function here.

mod allocation;
mod case;
mod custody;
mod risk;
mod supervision;

use super::CaseState;
use crate::event::Event;
use crate::identity::EventRef;

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
    let s = &mut state;
    match event {
        Event::CaseOpened(e) => case::opened(s, e),
        Event::PreSentenceReportRequested(e) => case::pre_sentence_report_requested(s, e),
        Event::PreSentenceReportCompleted(e) => case::pre_sentence_report_completed(s, e),
        Event::SentenceImposed(e) => case::sentence_imposed(s, e),
        Event::SentenceDatesRecalculated(e) => case::sentence_dates_recalculated(s, e),
        Event::SupervisionLapsed(e) => case::supervision_lapsed(s, e),
        Event::CaseTransferredBetweenPdus(e) => case::transferred_between_pdus(s, e),
        Event::SentenceTerminated(e) => case::sentence_terminated(s, e),
        Event::CaseClosed(e) => case::closed(s, e),
        Event::CaseReopened(e) => case::reopened(s, e),
        Event::EventCorrected(e) => case::corrected(s, e),
        Event::PersonalDataErased(e) => case::personal_data_erased(s, e),
        Event::CaseAllocatedToProvider(e) => allocation::to_provider(s, e),
        Event::PractitionerAllocated(e) => allocation::practitioner_allocated(s, e),
        Event::PractitionerReallocated(e) => allocation::practitioner_reallocated(s, e),
        Event::CaseTransferredToUnifiedService(e) => allocation::to_unified_service(s, e),
        Event::PrisonOffenderManagerAllocated(e) => custody::pom_allocated(s, e),
        Event::HandoverDatesCalculated(e) => custody::handover_dates_calculated(s, e),
        Event::CommunityOffenderManagerAllocated(e) => custody::com_allocated(s, e),
        Event::ResponsibilityTransferred(e) => custody::responsibility_transferred(s, e),
        Event::ResponsibilityOverridden(e) => custody::responsibility_overridden(s, e),
        Event::HandoverMeetingHeld(e) => custody::handover_meeting_held(s, e),
        Event::PreReleaseContactHeld(e) => custody::pre_release_contact_held(s, e),
        Event::Released(e) => custody::released(s, e),
        Event::LicenceEnded(e) => custody::licence_ended(s, e),
        Event::PostSentenceSupervisionStarted(e) => custody::pss_started(s, e),
        Event::PostSentenceSupervisionEnded(e) => custody::pss_ended(s, e),
        Event::RiskAssessed(e) => risk::assessed(s, event_id, e),
        Event::RegistrationAdded(e) => risk::registration_added(s, event_id, e),
        Event::RegistrationRemoved(e) => risk::registration_removed(s, e),
        Event::MappaScreened(e) => risk::mappa_screened(s, e),
        Event::MappaReferred(e) => risk::mappa_referred(s, e),
        Event::MappaLevelSet(e) => risk::mappa_level_set(s, e),
        Event::TierCalculated(e) => risk::tier_calculated(s, e),
        Event::TierReviewTriggered(_) => risk::tier_review_triggered(s),
        Event::PredictorScoresAssessed(e) => risk::predictor_scores_assessed(s, e),
        Event::TierV3Calculated(e) => risk::tier_v3_calculated(s, e),
        Event::RiskEscalationRequested(e) => risk::escalation_requested(s, e),
        Event::RiskEscalationDecided(e) => risk::escalation_decided(s, event_id, e),
        Event::CaseTransferredToNps(e) => risk::transferred_to_nps(s, e),
        Event::AppointmentScheduled(e) => supervision::appointment_scheduled(s, e),
        Event::AppointmentAttended(e) => supervision::appointment_attended(s, e),
        Event::AppointmentMissed(e) => supervision::appointment_missed(s, e),
        Event::WarningIssued(e) => supervision::warning_issued(s, e),
        Event::BreachRaised(e) => supervision::breach_raised(s, e),
        Event::BreachConcluded(e) => supervision::breach_concluded(s, e),
        Event::RecallRaised(e) => supervision::recall_raised(s, e),
        Event::RecallConcluded(e) => supervision::recall_concluded(s, e),
        Event::UnpaidWorkHoursCredited(e) => supervision::unpaid_work_hours_credited(s, e),
        Event::RequirementCompleted(e) => supervision::requirement_completed(s, e),
        Event::RequirementTerminated(e) => supervision::requirement_terminated(s, e),
        Event::SentencePlanCreated(e) => supervision::sentence_plan_created(s, e),
        Event::SentencePlanReviewed(e) => supervision::sentence_plan_reviewed(s, e),
        Event::AccommodationStatusRecorded(e) => supervision::accommodation_recorded(s, e),
        Event::EmploymentStatusRecorded(e) => supervision::employment_recorded(s, e),
    }
    state
}
