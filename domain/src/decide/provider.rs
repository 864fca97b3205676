//! Transforming Rehabilitation (1 Jun 2014 – 25 Jun 2021): provider allocation, risk
//! escalation from a CRC to the NPS and the one-way ratchet, and the explicit move of open
//! cases into the unified service.
//!
//! - BR-A2 the NPS does the initial risk assessment for all offenders and it indicates the
//!   provider (seed 001 l.55).
//! - BR-A3 the NPS allocates cases assessed lower risk to the CRC (seed 000 l.8).
//! - BR-A4 the NPS manages high and very high RoSH, MAPPA, deportation and notoriety cases
//!   (seed 000 l.9; 001 l.25; 002 l.19).
//! - BR-A7/A8 a CRC must escalate when risk increases (seed 000 l.8; 001 l.57).
//! - BR-A9 confirmed high ⇒ the case transfers to the NPS; increased but not high ⇒ it stays
//!   with the CRC (seed 001 l.65–66).
//! - BR-A10 once with the NPS, the case stays until the end of that order (seed 001 l.67).
//! - BR-A11 the final decision on RoSH rests with the NPS (seed 001 l.68).

use super::Ctx;
use crate::command::DomainCommand;
use crate::error::DomainError;
use crate::event::*;
use crate::reference::{Nation, Organisation, Provider};
use crate::ruleset::RulesetId;

pub(super) fn decide(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::AllocateToProvider {
            on,
            crc,
            deportation_order,
            notoriety,
            by,
        } => allocate_to_provider(ctx, *on, crc, *deportation_order, *notoriety, by),
        C::RequestRiskEscalation {
            on,
            proposed_rosh,
            evidence,
            by,
        } => request_escalation(ctx, *on, *proposed_rosh, evidence.clone(), by),
        C::DecideRiskEscalation {
            on,
            confirmed_rosh,
            by,
        } => decide_escalation(ctx, *on, *confirmed_rosh, by),
        C::UnifyProbationService { on } => unify(ctx, *on),
        _ => Err(ctx.refuse("route the command", "it is not a provider command")),
    }
}

fn require_two_providers(ctx: &Ctx<'_>, action: &'static str) -> Result<(), DomainError> {
    if ctx.ruleset.is_two_provider() {
        Ok(())
    } else {
        Err(DomainError::WrongEra {
            crn: ctx.crn.clone(),
            action,
            what: "there are no CRCs",
            ruleset: ctx.ruleset.id.as_str(),
            instead: "the unified service allocates a practitioner by tier, and a reassessment triggers a tier review",
        })
    }
}

/// The TR ratchet holds while the order it names is active (BR-A10, seed 001 l.67).
pub(super) fn ratchet_holds(ctx: &Ctx<'_>) -> Option<crate::sentence::SentenceId> {
    ctx.state.nps_until_sentence_ends.filter(|id| {
        ctx.state
            .sentences
            .get(id)
            .is_some_and(|s| s.status.is_active())
    })
}

/// BR-A2–A4: the NPS allocates a sentenced case to itself or the area's CRC after its
/// initial risk assessment. NPS for high / very high RoSH, MAPPA, deportation order or
/// notoriety ([`nps_reason`]); the CRC otherwise. An NPS allocation starts the ratchet
/// (BR-A10).
fn allocate_to_provider(
    ctx: &Ctx<'_>,
    on: jiff::civil::Date,
    crc: &crate::reference::CrcName,
    deportation_order: bool,
    notoriety: bool,
    by: &Organisation,
) -> Result<Vec<Event>, DomainError> {
    let action = "allocate the case to a provider";
    require_two_providers(ctx, action)?;
    let sentence_id = sentence_to_allocate(ctx, action, on, by)?;
    let confirmed_rosh = nps_initial_rosh(ctx, action)?;
    let mappa_eligible = ctx.state.mappa_eligible();
    let (provider, nps_until, code) =
        match nps_reason(confirmed_rosh, mappa_eligible, deportation_order, notoriety) {
            Some(code) => (Provider::Nps, Some(sentence_id), code),
            None => (Provider::Crc(crc.clone()), None, reason::LOWER_RISK_TO_CRC),
        };
    Ok(vec![CaseAllocatedToProvider {
        allocated_on: on,
        provider,
        inputs: ProviderAllocationInputs {
            confirmed_rosh,
            mappa_eligible,
            mappa_level: ctx.state.mappa.level,
            deportation_order,
            notoriety,
            sentence_id,
        },
        nps_until_sentence_ends: nps_until,
        decision: ctx.decision(code),
    }
    .into()])
}

/// The sentence a provider allocation is for: the current one, allocated by the NPS (BR-A2,
/// seed 001 l.55) on or after its date, not while the ratchet holds (BR-A10, seed 001 l.67)
/// and not twice (BR-A9, seed 001 l.65: a CRC case moves to the NPS only by escalation).
fn sentence_to_allocate(
    ctx: &Ctx<'_>,
    action: &'static str,
    on: jiff::civil::Date,
    by: &Organisation,
) -> Result<crate::sentence::SentenceId, DomainError> {
    if *by != Organisation::Nps {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action,
            allowed: "the NPS",
            acting: by.to_string(),
            rule: "BR-A2, seed 001 l.55",
        });
    }
    let (sentence_id, sentence) = ctx.current_sentence(action)?;
    super::not_before(
        "the allocation date",
        on,
        "the sentence date",
        sentence.sentenced_on,
    )?;
    if let Some(held) = ratchet_holds(ctx) {
        return Err(DomainError::AlreadyWithNps {
            crn: ctx.crn.clone(),
            action,
            rule: if held == sentence_id {
                "BR-A10: it stays with the NPS until this order ends"
            } else {
                "BR-A10: it stays with the NPS until the earlier order ends"
            },
        });
    }
    if ctx.state.provider_sentence == Some(sentence_id) {
        return Err(ctx.rule(
            action,
            format!(
                "sentence {} is already allocated to {}; a CRC case moves to the NPS only by risk escalation",
                sentence_id.0,
                ctx.state.provider.as_ref().map_or("a provider".to_owned(), |p| p.to_string())
            ),
            "BR-A9, seed 001 l.65",
        ));
    }
    Ok(sentence_id)
}

/// BR-A2 (seed 001 l.55): the RoSH of the NPS's initial assessment, which indicates the
/// provider; refused until the NPS has assessed.
fn nps_initial_rosh(
    ctx: &Ctx<'_>,
    action: &'static str,
) -> Result<crate::risk::RoshLevel, DomainError> {
    let risk = &ctx.state.risk;
    risk.rosh.filter(|_| risk.assessed_by_nps).ok_or_else(|| {
        ctx.rule(
            action,
            "the NPS has not completed the initial risk assessment; assess risk first",
            "BR-A2, seed 001 l.55",
        )
    })
}

/// BR-A4 (seed 000 l.9; 001 l.25; 002 l.19): why the NPS keeps the case — high or very high
/// RoSH, MAPPA, a deportation order or notoriety, in that order — or `None` for the CRC
/// (BR-A3, seed 000 l.8).
fn nps_reason(
    confirmed_rosh: crate::risk::RoshLevel,
    mappa_eligible: bool,
    deportation_order: bool,
    notoriety: bool,
) -> Option<&'static str> {
    if confirmed_rosh.is_high_or_above() {
        Some(reason::ROSH_HIGH_OR_ABOVE)
    } else if mappa_eligible {
        Some(reason::MAPPA_ELIGIBLE)
    } else if deportation_order {
        Some(reason::DEPORTATION_ORDER)
    } else if notoriety {
        Some(reason::NOTORIETY)
    } else {
        None
    }
}

/// The CRC managing the case, or a refusal saying why there is none.
fn managing_crc(
    ctx: &Ctx<'_>,
    action: &'static str,
) -> Result<crate::reference::CrcName, DomainError> {
    match &ctx.state.provider {
        Some(Provider::Crc(name)) => Ok(name.clone()),
        Some(Provider::Nps) => Err(DomainError::AlreadyWithNps {
            crn: ctx.crn.clone(),
            action,
            rule: "BR-A10, seed 001 l.67",
        }),
        None => Err(ctx.rule(
            action,
            "the case has not been allocated to a provider yet",
            "BR-A2, seed 001 l.55",
        )),
    }
}

/// BR-A7/A8: where risk increases during an order or licence, the managing CRC escalates to
/// the NPS. Refused for a case already with the NPS, from anyone but that CRC, while another
/// escalation is pending, or when the proposed RoSH is not above the confirmed one.
fn request_escalation(
    ctx: &Ctx<'_>,
    on: jiff::civil::Date,
    proposed_rosh: crate::risk::RoshLevel,
    evidence: Option<crate::identity::Text>,
    by: &Organisation,
) -> Result<Vec<Event>, DomainError> {
    let action = "escalate risk to the NPS";
    require_two_providers(ctx, action)?;
    let crc = managing_crc(ctx, action)?;
    if *by != Organisation::Crc(crc.clone()) {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action,
            allowed: "the CRC managing the case",
            acting: by.to_string(),
            rule: "BR-A7, seed 000 l.8",
        });
    }
    ctx.current_sentence(action)?;
    if let Some(pending) = &ctx.state.pending_escalation {
        return Err(ctx.refuse(
            action,
            format!(
                "an escalation requested on {} is awaiting the NPS decision",
                pending.requested_on
            ),
        ));
    }
    if let Some(current) = ctx.state.risk.rosh {
        if proposed_rosh <= current {
            return Err(ctx.rule(
                action,
                format!("the proposed RoSH {proposed_rosh} is not above the confirmed RoSH {current}; escalation is for increased risk"),
                "BR-A7, seed 000 l.8",
            ));
        }
    }
    Ok(vec![RiskEscalationRequested {
        requested_on: on,
        requested_by: crc,
        proposed_rosh,
        evidence,
        decision: ctx.decision(reason::CRC_CONCERN),
    }
    .into()])
}

/// BR-A9/A11 (and BR-A4 for MAPPA): the NPS decides an escalation. Confirmed high or very
/// high RoSH, or a MAPPA-eligible case, transfers to the NPS until the current order ends
/// (BR-A10, [`escalation_outcome`]); otherwise the case stays with the CRC.
fn decide_escalation(
    ctx: &Ctx<'_>,
    on: jiff::civil::Date,
    confirmed_rosh: crate::risk::RoshLevel,
    by: &Organisation,
) -> Result<Vec<Event>, DomainError> {
    let action = "decide a risk escalation";
    require_two_providers(ctx, action)?;
    if *by != Organisation::Nps {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action,
            allowed: "the NPS",
            acting: by.to_string(),
            rule: "BR-A11, seed 001 l.68",
        });
    }
    let Some(pending) = &ctx.state.pending_escalation else {
        return Err(ctx.refuse(action, "no escalation is awaiting a decision"));
    };
    super::not_before(
        "the decision date",
        on,
        "the escalation request date",
        pending.requested_on,
    )?;
    let crc = managing_crc(ctx, action)?;
    let (sentence_id, _) = ctx.current_sentence(action)?;
    let inputs = EscalationInputs {
        proposed_rosh: pending.proposed_rosh,
        previous_confirmed_rosh: ctx.state.risk.rosh,
        confirmed_rosh,
        mappa_eligible: ctx.state.mappa_eligible(),
    };
    Ok(escalation_outcome(ctx, on, inputs, crc, sentence_id))
}

/// BR-A9 (seed 001 l.65–66), BR-A4 (seed 000 l.9): confirmed high or very high RoSH, or a
/// MAPPA-eligible case, transfers to the NPS until the order ends (BR-A10, seed 001 l.67);
/// increased but not high stays with the CRC.
fn escalation_outcome(
    ctx: &Ctx<'_>,
    on: jiff::civil::Date,
    inputs: EscalationInputs,
    crc: crate::reference::CrcName,
    sentence_id: crate::sentence::SentenceId,
) -> Vec<Event> {
    let transfer_code = if inputs.confirmed_rosh.is_high_or_above() {
        Some(reason::ROSH_CONFIRMED_HIGH)
    } else if inputs.mappa_eligible {
        Some(reason::MAPPA_ELIGIBLE)
    } else {
        None
    };
    let Some(code) = transfer_code else {
        return vec![RiskEscalationDecided {
            decided_on: on,
            outcome: EscalationOutcome::RemainWithCrc,
            inputs,
            decision: ctx.decision(reason::ROSH_NOT_HIGH),
        }
        .into()];
    };
    vec![
        RiskEscalationDecided {
            decided_on: on,
            outcome: EscalationOutcome::TransferToNps,
            inputs,
            decision: ctx.decision(code),
        }
        .into(),
        CaseTransferredToNps {
            transferred_on: on,
            from_crc: crc,
            nps_until_sentence_ends: sentence_id,
            decision: ctx.decision(reason::NPS_UNTIL_ORDER_ENDS),
        }
        .into(),
    ]
}

/// Open cases at the end of TR move into the unified service as an explicit event, never a
/// silent rewrite (seed 003 l.358: CRC contracts end, Day 1 is 26 Jun 2021; Wales unified
/// sentence management at the end of 2019, seed 003 l.216). Refused before the unified
/// ruleset applies, for a case never allocated to a TR provider, and for one already moved.
fn unify(ctx: &Ctx<'_>, on: jiff::civil::Date) -> Result<Vec<Event>, DomainError> {
    let action = "move the case into the unified service";
    if ctx.ruleset.is_two_provider() {
        return Err(DomainError::WrongEra {
            crn: ctx.crn.clone(),
            action,
            what: "Transforming Rehabilitation is still in force",
            ruleset: ctx.ruleset.id.as_str(),
            instead: "wait for the unified model (26 Jun 2021; Wales 2 Dec 2019)",
        });
    }
    if let Some(done) = ctx.state.unified_on {
        return Err(ctx.refuse(action, format!("it joined the unified service on {done}")));
    }
    let Some(from_provider) = ctx.state.provider.clone() else {
        return Err(ctx.refuse(
            action,
            "it was never allocated to a Transforming Rehabilitation provider; allocate a practitioner instead",
        ));
    };
    let code =
        if ctx.ruleset.id == RulesetId::WalesUnified2019 && ctx.ruleset.nation == Nation::Wales {
            reason::WALES_SENTENCE_MANAGEMENT_UNIFIED
        } else {
            reason::CRC_CONTRACTS_ENDED
        };
    Ok(vec![CaseTransferredToUnifiedService {
        transferred_on: on,
        from_provider,
        decision: ctx.decision(code),
    }
    .into()])
}
