//! The supervision family (`crate::event::supervision`): appointments, warnings, breaches,
//! recalls, requirements, sentence plans and accommodation and employment status.

use crate::event::*;
use crate::state::{
    AppointmentOutcome, AppointmentState, BreachState, CaseState, RecallState, RequirementStatus,
    SentenceStatus, StatusRecord, WarningState,
};

pub(super) fn appointment_scheduled(state: &mut CaseState, e: &AppointmentScheduled) {
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

pub(super) fn appointment_attended(state: &mut CaseState, e: &AppointmentAttended) {
    if let Some(a) = state.appointments.get_mut(&e.appointment_id) {
        a.outcome = Some((e.recorded_on, AppointmentOutcome::Attended(e.outcome)));
    }
}

pub(super) fn appointment_missed(state: &mut CaseState, e: &AppointmentMissed) {
    if let Some(a) = state.appointments.get_mut(&e.appointment_id) {
        a.outcome = Some((e.recorded_on, AppointmentOutcome::Missed(e.absence)));
    }
}

pub(super) fn warning_issued(state: &mut CaseState, e: &WarningIssued) {
    state.warnings.push(WarningState {
        sentence_id: e.sentence_id,
        issued_on: e.issued_on,
        kind: e.kind,
    });
}

pub(super) fn breach_raised(state: &mut CaseState, e: &BreachRaised) {
    state.breaches.insert(
        e.breach_id,
        BreachState {
            sentence_id: e.sentence_id,
            raised_on: e.raised_on,
            concluded: None,
        },
    );
}

pub(super) fn breach_concluded(state: &mut CaseState, e: &BreachConcluded) {
    if let Some(b) = state.breaches.get_mut(&e.breach_id) {
        b.concluded = Some((e.concluded_on, e.outcome));
    }
}

pub(super) fn recall_raised(state: &mut CaseState, e: &RecallRaised) {
    state.recalls.insert(
        e.recall_id,
        RecallState {
            sentence_id: e.sentence_id,
            raised_on: e.raised_on,
            concluded: None,
        },
    );
}

pub(super) fn recall_concluded(state: &mut CaseState, e: &RecallConcluded) {
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

pub(super) fn unpaid_work_hours_credited(state: &mut CaseState, e: &UnpaidWorkHoursCredited) {
    if let Some(r) = state
        .sentences
        .get_mut(&e.sentence_id)
        .and_then(|s| s.requirements.get_mut(&e.requirement_id))
    {
        r.unpaid_work_minutes_credited = r.unpaid_work_minutes_credited.saturating_add(e.minutes);
    }
}

pub(super) fn requirement_completed(state: &mut CaseState, e: &RequirementCompleted) {
    if let Some(r) = state
        .sentences
        .get_mut(&e.sentence_id)
        .and_then(|s| s.requirements.get_mut(&e.requirement_id))
    {
        r.status = RequirementStatus::Completed;
    }
}

pub(super) fn requirement_terminated(state: &mut CaseState, e: &RequirementTerminated) {
    if let Some(r) = state
        .sentences
        .get_mut(&e.sentence_id)
        .and_then(|s| s.requirements.get_mut(&e.requirement_id))
    {
        r.status = RequirementStatus::Terminated;
    }
}

pub(super) fn sentence_plan_created(state: &mut CaseState, e: &SentencePlanCreated) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.sentence_plan_created_on = Some(e.created_on);
    }
}

pub(super) fn sentence_plan_reviewed(state: &mut CaseState, e: &SentencePlanReviewed) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.sentence_plan_reviews = s.sentence_plan_reviews.saturating_add(1);
    }
}

pub(super) fn accommodation_recorded(state: &mut CaseState, e: &AccommodationStatusRecorded) {
    state.accommodation.push(StatusRecord {
        recorded_on: e.recorded_on,
        status: e.status,
        checkpoint: e.checkpoint,
    });
}

pub(super) fn employment_recorded(state: &mut CaseState, e: &EmploymentStatusRecorded) {
    state.employment.push(StatusRecord {
        recorded_on: e.recorded_on,
        status: e.status,
        checkpoint: e.checkpoint,
    });
}
