//! Requirement progress: unpaid work credits, completion and termination.
//!
//! - BR-G5 (seed 003 l.1416, l.1474): unpaid work hours are completed within the period the
//!   court set; credited time can never exceed the hours ordered.
//! - BR-E10 (seed 003 l.1237): the practitioner records completion; an unpaid work
//!   requirement is complete only when every ordered hour is credited.

use super::Ctx;
use crate::command::DomainCommand;
use crate::error::DomainError;
use crate::event::*;
use crate::sentence::{RequirementId, RequirementKind, SentenceId};
use crate::state::{RequirementState, RequirementStatus};

/// Requirement `requirement_id` of the active sentence `sentence_id`, still active; a refusal
/// saying why otherwise.
fn active_requirement<'a>(
    ctx: &Ctx<'a>,
    sentence_id: SentenceId,
    requirement_id: RequirementId,
    action: &'static str,
) -> Result<&'a RequirementState, DomainError> {
    let sentence = ctx.active_sentence(sentence_id, action)?;
    let Some(requirement) = sentence.requirements.get(&requirement_id) else {
        return Err(DomainError::UnknownRequirement {
            crn: ctx.crn.clone(),
            sentence: sentence_id.0,
            requirement: requirement_id.0,
        });
    };
    if requirement.status != RequirementStatus::Active {
        return Err(ctx.refuse(
            action,
            format!("requirement {} has already ended", requirement_id.0),
        ));
    }
    Ok(requirement)
}

pub(super) fn decide(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::CreditUnpaidWork {
            on,
            sentence_id,
            requirement_id,
            minutes,
        } => credit_unpaid_work(ctx, *on, *sentence_id, *requirement_id, *minutes),
        C::CompleteRequirement {
            on,
            sentence_id,
            requirement_id,
        } => complete(ctx, *on, *sentence_id, *requirement_id),
        C::TerminateRequirement {
            on,
            sentence_id,
            requirement_id,
            reason,
        } => {
            active_requirement(
                ctx,
                *sentence_id,
                *requirement_id,
                "terminate the requirement",
            )?;
            Ok(vec![RequirementTerminated {
                sentence_id: *sentence_id,
                requirement_id: *requirement_id,
                terminated_on: *on,
                reason: reason.clone(),
            }
            .into()])
        }
        _ => Err(ctx.refuse("route the command", "it is not a requirement command")),
    }
}

/// BR-G5 (seed 003 l.1416, l.1474): unpaid work time is credited to an active unpaid work
/// requirement, more than nothing and never beyond the hours ordered.
fn credit_unpaid_work(
    ctx: &Ctx<'_>,
    on: jiff::civil::Date,
    sentence_id: SentenceId,
    requirement_id: RequirementId,
    minutes: u32,
) -> Result<Vec<Event>, DomainError> {
    let action = "credit unpaid work";
    let requirement = active_requirement(ctx, sentence_id, requirement_id, action)?;
    if !matches!(requirement.kind, RequirementKind::UnpaidWork { .. }) {
        return Err(ctx.refuse(
            action,
            format!(
                "requirement {} is {}, not unpaid work",
                requirement_id.0,
                requirement.kind.name()
            ),
        ));
    }
    if minutes == 0 {
        return Err(ctx.refuse(action, "no time to credit: minutes must be above 0"));
    }
    let ordered = requirement.unpaid_work_minutes_ordered();
    let after = requirement
        .unpaid_work_minutes_credited
        .saturating_add(minutes);
    if after > ordered {
        return Err(ctx.rule(
            action,
            format!("crediting {minutes} minutes would make {after} of {ordered} ordered minutes",),
            "BR-G5, seed 003 l.1416",
        ));
    }
    Ok(vec![UnpaidWorkHoursCredited {
        sentence_id,
        requirement_id,
        credited_on: on,
        minutes,
    }
    .into()])
}

/// BR-E10 (seed 003 l.1237): the practitioner records an active requirement complete; an
/// unpaid work requirement only once every ordered minute is credited.
fn complete(
    ctx: &Ctx<'_>,
    on: jiff::civil::Date,
    sentence_id: SentenceId,
    requirement_id: RequirementId,
) -> Result<Vec<Event>, DomainError> {
    let action = "complete the requirement";
    let requirement = active_requirement(ctx, sentence_id, requirement_id, action)?;
    let ordered = requirement.unpaid_work_minutes_ordered();
    if requirement.unpaid_work_minutes_credited < ordered {
        return Err(ctx.rule(
            action,
            format!(
                "only {} of {} unpaid work minutes are credited",
                requirement.unpaid_work_minutes_credited, ordered
            ),
            "BR-E10, seed 003 l.1237",
        ));
    }
    Ok(vec![RequirementCompleted {
        sentence_id,
        requirement_id,
        completed_on: on,
    }
    .into()])
}
