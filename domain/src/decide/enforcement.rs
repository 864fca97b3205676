//! Appointments, warnings and breach.
//!
//! - BR-I1 (seed 002 l.61): non-compliance leads to a warning or a return to court (breach);
//!   BR-I2 / BR-E7 (seed 003 l.765, l.1472): the practitioner decides.
//! - A breach is of a court order served in the community (CO, SSO) or of post-sentence
//!   supervision; licence non-compliance is dealt with by recall (BR-I3, seed 003 l.2914). An
//!   order that has ended cannot be breached. One breach at a time per case
//!   (enforcement-and-workload.md §5.5 warns on several).
//! - Appointment outcomes: enforcement-and-workload.md §5.2.

use super::{next_id, Ctx, APPOINTMENTS_PER_CASE_MAX, BREACHES_PER_CASE_MAX};
use crate::command::DomainCommand;
use crate::enforcement::{Absence, AppointmentKind, AttendedOutcome, BreachOutcome, WarningKind};
use crate::error::DomainError;
use crate::event::*;
use crate::identity::Text;
use crate::sentence::SentenceId;
use crate::state::{AppointmentOutcome, CaseState, SentenceStatus};
use jiff::civil::Date;

pub(super) fn decide(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::ScheduleAppointment {
            on,
            sentence_id,
            kind,
            initial,
        } => schedule_appointment(ctx, *on, *sentence_id, *kind, *initial),
        C::RecordAttendance {
            on,
            appointment_id,
            outcome,
        } => {
            outcome_allowed(ctx, *appointment_id, *on)?;
            Ok(vec![AppointmentAttended {
                appointment_id: *appointment_id,
                recorded_on: *on,
                outcome: *outcome,
            }
            .into()])
        }
        C::RecordAbsence {
            on,
            appointment_id,
            absence,
        } => {
            outcome_allowed(ctx, *appointment_id, *on)?;
            Ok(vec![AppointmentMissed {
                appointment_id: *appointment_id,
                recorded_on: *on,
                absence: *absence,
            }
            .into()])
        }
        C::IssueWarning {
            on,
            sentence_id,
            kind,
            reason,
        } => issue_warning(ctx, *on, *sentence_id, *kind, reason),
        C::RaiseBreach {
            on,
            sentence_id,
            reason,
        } => raise_breach(ctx, *on, *sentence_id, reason),
        C::ConcludeBreach {
            on,
            breach_id,
            outcome,
        } => conclude_breach(ctx, *on, *breach_id, *outcome),
        _ => Err(ctx.refuse("route the command", "it is not an enforcement command")),
    }
}

/// An appointment on or after its sentence's date; one initial appointment per sentence
/// (BR-E1, seed 003 l.1856), at most [`APPOINTMENTS_PER_CASE_MAX`] per case.
fn schedule_appointment(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    kind: AppointmentKind,
    initial: bool,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let action = "schedule an appointment";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    super::not_before(
        "the appointment date",
        on,
        "the sentence date",
        sentence.sentenced_on,
    )?;
    if initial
        && state
            .appointments
            .values()
            .any(|a| a.sentence_id == sentence_id && a.initial)
    {
        return Err(ctx.refuse(
            action,
            format!(
                "sentence {} already has an initial appointment (BR-E1)",
                sentence_id.0
            ),
        ));
    }
    let id = next_id(
        ctx,
        state.appointments.len(),
        APPOINTMENTS_PER_CASE_MAX,
        "appointments",
    )?;
    Ok(vec![AppointmentScheduled {
        appointment_id: id,
        sentence_id,
        scheduled_for: on,
        kind,
        initial,
    }
    .into()])
}

/// BR-I1 (seed 002 l.61), BR-I2 / BR-E7 (seed 003 l.765, l.1472): the practitioner warns on
/// non-compliance — a licence warning on licence, any other warning on a community order, a
/// suspended sentence order or post-sentence supervision.
fn issue_warning(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    kind: WarningKind,
    reason: &Text,
) -> Result<Vec<Event>, DomainError> {
    let action = "issue a warning";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    let on_licence = sentence.status == SentenceStatus::ReleasedOnLicence;
    let community = matches!(
        sentence.status,
        SentenceStatus::Community | SentenceStatus::PostSentenceSupervision
    );
    let fits = match kind {
        WarningKind::Licence => on_licence,
        _ => community,
    };
    if !fits {
        return Err(ctx.rule(
            action,
            format!(
                "a {} warning does not apply to sentence {} in its current status",
                kind.delius_code(),
                sentence_id.0
            ),
            "BR-I1, seed 002 l.61",
        ));
    }
    Ok(vec![WarningIssued {
        sentence_id,
        issued_on: on,
        kind,
        reason: reason.clone(),
        decision: ctx.decision(reason::PRACTITIONER_DECISION),
    }
    .into()])
}

/// BR-I1 (seed 002 l.61): non-compliance with a sentence served in the community returns it
/// to court; licence non-compliance is recall's (BR-I3, seed 003 l.2914); one breach open at
/// a time (enforcement-and-workload.md §5.5).
fn raise_breach(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    reason: &Text,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let action = "raise a breach";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    match sentence.status {
        SentenceStatus::Community | SentenceStatus::PostSentenceSupervision => {}
        SentenceStatus::ReleasedOnLicence => {
            return Err(ctx.rule(
                action,
                "licence non-compliance is dealt with by warning or recall, not breach",
                "BR-I3, seed 003 l.2914",
            ))
        }
        _ => {
            return Err(ctx.refuse(
                action,
                format!(
                    "sentence {} is not being served in the community",
                    sentence_id.0
                ),
            ))
        }
    }
    if let Some(open) = state.open_breach() {
        return Err(ctx.refuse(
            action,
            format!("breach {open} is already open; conclude it first"),
        ));
    }
    let id = next_id(ctx, state.breaches.len(), BREACHES_PER_CASE_MAX, "breaches")?;
    let inputs = breach_inputs(state, sentence_id);
    Ok(vec![BreachRaised {
        breach_id: u16::try_from(id).unwrap_or(u16::MAX),
        sentence_id,
        raised_on: on,
        reason: reason.clone(),
        inputs,
        decision: ctx.decision(reason::FAILURES_TO_COMPLY),
    }
    .into()])
}

/// What a breach looked at (BR-I1, seed 002 l.61): the sentence's appointments failed or
/// missed without acceptable reason, and its warnings.
fn breach_inputs(state: &CaseState, sentence_id: SentenceId) -> BreachInputs {
    let mut inputs = BreachInputs {
        failures_to_comply: 0,
        unacceptable_absences: 0,
        warnings: 0,
    };
    for a in state
        .appointments
        .values()
        .filter(|a| a.sentence_id == sentence_id)
    {
        match a.outcome {
            Some((_, AppointmentOutcome::Attended(AttendedOutcome::FailedToComply))) => {
                inputs.failures_to_comply += 1
            }
            Some((_, AppointmentOutcome::Missed(Absence::Unacceptable))) => {
                inputs.unacceptable_absences += 1
            }
            _ => {}
        }
    }
    inputs.warnings = u32::try_from(
        state
            .warnings
            .iter()
            .filter(|w| w.sentence_id == sentence_id)
            .count(),
    )
    .unwrap_or(u32::MAX);
    inputs
}

/// The court's outcome ends an open breach, on or after the date it was raised
/// (enforcement-and-workload.md §5.1: a breach is active until its end; §5.3 its outcome).
fn conclude_breach(
    ctx: &Ctx<'_>,
    on: Date,
    breach_id: u16,
    outcome: BreachOutcome,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let action = "conclude the breach";
    let Some(breach) = state.breaches.get(&breach_id) else {
        return Err(DomainError::UnknownItem {
            crn: ctx.crn.clone(),
            what: "breach",
            id: u32::from(breach_id),
        });
    };
    if let Some((date, _)) = breach.concluded {
        return Err(ctx.refuse(
            action,
            format!("breach {breach_id} was concluded on {date}"),
        ));
    }
    super::not_before(
        "the conclusion date",
        on,
        "the breach date",
        breach.raised_on,
    )?;
    Ok(vec![BreachConcluded {
        breach_id,
        concluded_on: on,
        outcome,
        proven: outcome.proven(),
        decision: ctx.decision(reason::COURT_OUTCOME),
    }
    .into()])
}

/// An outcome is recorded once per appointment, on or after its date.
fn outcome_allowed(
    ctx: &Ctx<'_>,
    appointment_id: u32,
    on: jiff::civil::Date,
) -> Result<(), DomainError> {
    let action = "record the appointment outcome";
    let Some(appointment) = ctx.state.appointments.get(&appointment_id) else {
        return Err(DomainError::UnknownItem {
            crn: ctx.crn.clone(),
            what: "appointment",
            id: appointment_id,
        });
    };
    if let Some((date, _)) = appointment.outcome {
        return Err(ctx.refuse(
            action,
            format!("appointment {appointment_id} already has an outcome recorded on {date}"),
        ));
    }
    super::not_before(
        "the outcome date",
        on,
        "the appointment date",
        appointment.scheduled_for,
    )
}
