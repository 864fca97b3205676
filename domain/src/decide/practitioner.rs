//! Practitioner allocation and reallocation.
//!
//! - TR era: each provider allocates its own cases to its practitioners once the NPS has
//!   chosen the provider (BR-A2, seed 001 l.55).
//! - Unified model: allocation on RoSH and complexity through the tier (BR-C1, seed 003
//!   l.769), within 5 working days of sentence (BR-C2, seed 003 l.775; recorded as an input,
//!   measured by read models with the working-day calendar); a case cannot be allocated
//!   without a tier (enforcement-and-workload.md §3, "Missing tier"); a PSO holds medium and
//!   low RoSH only (BR-C4, seed 003 l.817). A case still with a CRC must first be moved into
//!   the unified service explicitly.
//! - ALLOC-1 (seed 003 l.775): every sentence that starts supervision is allocated afresh;
//!   keeping the previous practitioner is recorded with the reason `continuity` (BR-C3).

use jiff::civil::Date;

use super::Ctx;
use crate::command::DomainCommand;
use crate::error::DomainError;
use crate::event::*;
use crate::identity::{Grade, Practitioner};
use crate::reference::{Organisation, Provider};

pub(super) fn decide(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::AllocatePractitioner {
            on,
            practitioner,
            team,
            by,
        } => allocate(ctx, *on, practitioner, team, by),
        C::ReallocatePractitioner {
            on,
            practitioner,
            team,
            reason,
            by,
        } => reallocate(ctx, *on, practitioner, team, *reason, by),
        _ => Err(ctx.refuse("route the command", "it is not an allocation command")),
    }
}

/// BR-C1 (seed 003 l.769), BR-A3–A5 (seed 000 l.8): the first allocation of a case without a
/// practitioner, by [`check`]; allocating the previous practitioner again is continuity
/// (ALLOC-1, BR-C3).
fn allocate(
    ctx: &Ctx<'_>,
    on: Date,
    practitioner: &Practitioner,
    team: &crate::identity::TeamCode,
    by: &Organisation,
) -> Result<Vec<Event>, DomainError> {
    let action = "allocate a practitioner";
    if let Some(current) = &ctx.state.practitioner {
        return Err(ctx.refuse(
            action,
            format!(
                "it is already allocated to {} ({}); reallocate it instead",
                current.practitioner.name, current.practitioner.staff_code
            ),
        ));
    }
    let (inputs, code) = check(ctx, action, on, practitioner, by)?;
    let code = continuity(ctx, practitioner).unwrap_or(code);
    Ok(vec![PractitionerAllocated {
        allocated_on: on,
        practitioner: practitioner.clone(),
        team: team.clone(),
        inputs,
        decision: ctx.decision(code),
    }
    .into()])
}

/// BR-C6 (seed 003 l.777), BR-C7 (seed 003 l.753): a case with a practitioner moves to another one, with the
/// reason, on or after the current allocation, under the same checks as an allocation
/// ([`check`]).
fn reallocate(
    ctx: &Ctx<'_>,
    on: Date,
    practitioner: &Practitioner,
    team: &crate::identity::TeamCode,
    reason: ReallocationReason,
    by: &Organisation,
) -> Result<Vec<Event>, DomainError> {
    let action = "reallocate the case";
    let Some(current) = &ctx.state.practitioner else {
        return Err(ctx.refuse(action, "it has no practitioner yet; allocate one first"));
    };
    if current.practitioner.staff_code == practitioner.staff_code {
        return Err(ctx.refuse(
            action,
            format!("it is already allocated to {}", practitioner.staff_code),
        ));
    }
    super::not_before(
        "the reallocation date",
        on,
        "the current allocation date",
        current.since,
    )?;
    let (inputs, code) = check(ctx, action, on, practitioner, by)?;
    Ok(vec![PractitionerReallocated {
        reallocated_on: on,
        from: current.practitioner.staff_code.clone(),
        practitioner: practitioner.clone(),
        team: team.clone(),
        reason,
        inputs,
        decision: ctx.decision(code),
    }
    .into()])
}

/// ALLOC-1, BR-C3 (seed 003 l.775: the same practitioner throughout where possible): a new
/// sentence is allocated afresh, and allocating it to the practitioner who supervised the one
/// that ended is the decision to keep them, recorded with continuity as its reason.
fn continuity(ctx: &Ctx<'_>, practitioner: &Practitioner) -> Option<&'static str> {
    let previous = ctx.state.previous_practitioner.as_ref()?;
    (previous.practitioner.staff_code == practitioner.staff_code).then_some(reason::CONTINUITY)
}

/// What an allocation or reallocation looked at, and its reason: on or after the current
/// sentence's date, by the organisation the ruleset's rule names ([`check_within_provider`]
/// under TR, [`check_on_tier`] in the unified model).
fn check(
    ctx: &Ctx<'_>,
    action: &'static str,
    on: Date,
    practitioner: &Practitioner,
    by: &Organisation,
) -> Result<(PractitionerAllocationInputs, &'static str), DomainError> {
    let state = ctx.state;
    let (_, sentence) = ctx.current_sentence(action)?;
    super::not_before(
        "the allocation date",
        on,
        "the sentence date",
        sentence.sentenced_on,
    )?;
    let code = if ctx.ruleset.is_two_provider() {
        check_within_provider(ctx, action, by)?
    } else {
        check_on_tier(ctx, action, practitioner, by)?
    };
    Ok((
        PractitionerAllocationInputs {
            tier: state.tier.as_ref().map(|t| t.tier),
            rosh: state.risk.rosh,
            provider: state.provider.clone(),
            sentenced_on: sentence.sentenced_on,
            allocation_deadline_working_days: ctx.ruleset.allocation_deadline_working_days,
        },
        code,
    ))
}

/// TR era: once the NPS has chosen the provider (BR-A2, seed 001 l.55), that provider
/// allocates its own cases (BR-A3–A5, seed 000 l.8).
fn check_within_provider(
    ctx: &Ctx<'_>,
    action: &'static str,
    by: &Organisation,
) -> Result<&'static str, DomainError> {
    let (allowed, expected) = match &ctx.state.provider {
        None => {
            return Err(ctx.rule(
                action,
                "the NPS has not allocated the case to a provider yet",
                "BR-A2, seed 001 l.55",
            ))
        }
        Some(Provider::Nps) => ("the NPS", Organisation::Nps),
        Some(Provider::Crc(name)) => ("the CRC managing the case", Organisation::Crc(name.clone())),
    };
    if *by != expected {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action,
            allowed,
            acting: by.to_string(),
            rule: "BR-A3–A5, seed 000 l.8",
        });
    }
    Ok(reason::ALLOCATED_WITHIN_PROVIDER)
}

/// Unified model: a case still with a CRC is moved into the unified service first; the
/// probation service allocates on the tier (BR-C1, seed 003 l.769), and a PSO holds medium
/// and low RoSH cases only (BR-C4, seed 003 l.817).
fn check_on_tier(
    ctx: &Ctx<'_>,
    action: &'static str,
    practitioner: &Practitioner,
    by: &Organisation,
) -> Result<&'static str, DomainError> {
    let state = ctx.state;
    if let Some(Provider::Crc(name)) = &state.provider {
        return Err(ctx.refuse(
            action,
            format!("it is still recorded with CRC {name}; move it into the unified service first"),
        ));
    }
    if *by != Organisation::Nps {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action,
            allowed: "the probation service",
            acting: by.to_string(),
            rule: "BR-C1, seed 003 l.769",
        });
    }
    if state.tier.is_none() {
        return Err(ctx.rule(
            action,
            "it has no tier; calculate the tier first",
            "BR-C1, seed 003 l.769",
        ));
    }
    if practitioner.grade == Grade::ProbationServicesOfficer
        && state.risk.rosh.is_some_and(|r| r.is_high_or_above())
    {
        return Err(ctx.rule(
            action,
            format!(
                "{} is a PSO and the case's RoSH is {}; PSOs hold medium and low RoSH cases",
                practitioner.name,
                state.risk.rosh.map_or("unknown", |r| r.as_str())
            ),
            "BR-C4, seed 003 l.817",
        ));
    }
    Ok(reason::ALLOCATED_ON_TIER)
}
