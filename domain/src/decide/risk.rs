//! Risk rules: assessments, registrations, MAPPA screening / referral / level, and tier
//! results.
//!
//! - BR-A2 the NPS does the initial risk assessment (seed 001 l.55); BR-A6 both providers
//!   reassess (001 l.56); BR-A11 the NPS has the final word on RoSH (001 l.68), so a CRC's high
//!   assessment waits for NPS confirmation and must be escalated (BR-A7, seed 000 l.8).
//! - BR-C6 in the unified model a reassessment triggers a tier review (seed 003 l.777); BR-C4
//!   grade fit (seed 003 l.817).
//! - BR-A12 the NPS refers to MAPPA level 2 and 3 panels (seed 000 l.9); BR-D4 cases are
//!   screened for MAPPA (seed 004 l.30); BR-A4 MAPPA cases are NPS cases in the TR era.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::{next_id, Ctx, REGISTRATIONS_PER_CASE_MAX};
use crate::command::DomainCommand;
use crate::error::{DomainError, ValueError};
use crate::event::*;
use crate::identity::{Grade, InputsDigest, Text};
use crate::reference::{Organisation, Provider};
use crate::risk::{
    AssessmentKind, MappaCategory, MappaLevel, Need, NeedSeverity, OgrsScore, RegistrationKind,
    RoshLevel, RsrScore, V3Predictors,
};
use crate::tier::ProtectLevel;
use crate::tier::{V2Tier, V3Tier};

pub(super) fn decide(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::AssessRisk {
            on,
            kind,
            rosh,
            rsr,
            ogrs,
            needs,
            predictors,
            by,
        } => {
            let assessment = Assessment {
                on: *on,
                kind: *kind,
                rosh: *rosh,
                rsr: *rsr,
                ogrs: *ogrs,
                needs,
                by,
            };
            assess_risk(ctx, &assessment, predictors.as_ref())
        }
        C::AddRegistration {
            on,
            kind,
            review_on,
        } => add_registration(ctx, *on, *kind, *review_on),
        C::RemoveRegistration {
            on,
            registration_id,
            reason,
        } => remove_registration(ctx, *on, *registration_id, reason),
        C::ScreenForMappa {
            on,
            eligible,
            category,
            recommended_level,
        } => screen_for_mappa(ctx, *on, *eligible, *category, *recommended_level),
        C::ReferToMappa { on, level, by } => refer_to_mappa(ctx, *on, *level, by),
        C::SetMappaLevel {
            on,
            category,
            level,
            by,
        } => set_mappa_level(ctx, *on, *category, *level, by),
        C::RecordTier {
            on,
            tier,
            inputs_digest,
            reason_code,
        } => record_tier(ctx, *on, *tier, inputs_digest, reason_code),
        C::RecordTierV3 {
            on,
            tier,
            provisional,
            inputs_digest,
            reason_code,
        } => record_tier_v3(ctx, *on, *tier, *provisional, inputs_digest, reason_code),
        _ => Err(ctx.refuse("route the command", "it is not a risk command")),
    }
}

/// A risk assessment ([`assess`]) with the V3 predictors it gave, if any: predictors V3
/// cannot score are refused with the assessment, so nothing is written (tier-rules.md §1
/// `v3`, §6.2).
fn assess_risk(
    ctx: &Ctx<'_>,
    assessment: &Assessment<'_>,
    predictors: Option<&V3Predictors>,
) -> Result<Vec<Event>, DomainError> {
    if let Some(predictors) = predictors {
        predictors.validate().map_err(ValueError::from)?;
    }
    let mut events = assess(ctx, assessment)?;
    if let Some(predictors) = predictors {
        events.push(
            PredictorScoresAssessed {
                assessed_on: assessment.on,
                predictors: *predictors,
            }
            .into(),
        );
    }
    Ok(events)
}

/// The tier V3 calculator's result, with the tier it follows (tier-rules.md §6–§8).
fn record_tier_v3(
    ctx: &Ctx<'_>,
    on: Date,
    tier: V3Tier,
    provisional: bool,
    inputs_digest: &InputsDigest,
    reason_code: &ReasonCode,
) -> Result<Vec<Event>, DomainError> {
    Ok(vec![TierV3Calculated {
        calculated_on: on,
        tier,
        provisional,
        previous_tier: ctx.state.tier_v3.as_ref().map(|t| t.tier),
        inputs_digest: inputs_digest.clone(),
        decision: Decision {
            ruleset_id: ctx.ruleset.id,
            reason_code: reason_code.clone(),
        },
    }
    .into()])
}

/// A registration (risk flag) on the register, at most [`REGISTRATIONS_PER_CASE_MAX`]; a MAPPA
/// registration in the TR era only by the NPS (BR-A4, seed 000 l.9).
fn add_registration(
    ctx: &Ctx<'_>,
    on: Date,
    kind: RegistrationKind,
    review_on: Option<Date>,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let action = "add the registration";
    let id = next_id(
        ctx,
        state.registrations.len(),
        REGISTRATIONS_PER_CASE_MAX,
        "registrations",
    )?;
    if let Some(review) = review_on {
        super::not_before("the review date", review, "the registration date", on)?;
    }
    let duplicate = state.registrations.values().any(|r| {
        r.removed_on.is_none() && (r.kind == kind || (r.kind.is_mappa() && kind.is_mappa()))
    });
    if duplicate {
        return Err(ctx.refuse(
            action,
            format!(
                "an active {} registration already exists; remove it first",
                kind.delius_code()
            ),
        ));
    }
    let mut events: Vec<Event> = vec![RegistrationAdded {
        registration_id: u16::try_from(id).unwrap_or(u16::MAX),
        kind,
        registered_on: on,
        review_on,
    }
    .into()];
    // BR-A4 (seed 000 l.9): MAPPA cases are NPS cases in the TR era, so a MAPPA
    // registration on a CRC case is escalated at once.
    if let (true, true, Some(Provider::Crc(crc)), None) = (
        ctx.ruleset.is_two_provider(),
        kind.is_mappa(),
        &state.provider,
        &state.pending_escalation,
    ) {
        events.push(
            RiskEscalationRequested {
                requested_on: on,
                requested_by: crc.clone(),
                proposed_rosh: state.risk.rosh.unwrap_or(RoshLevel::Medium),
                evidence: None,
                decision: ctx.decision(reason::MAPPA_ELIGIBLE),
            }
            .into(),
        );
    }
    Ok(events)
}

/// A registration that is on the register comes off it, with the reason, on or after the
/// date it was added.
fn remove_registration(
    ctx: &Ctx<'_>,
    on: Date,
    registration_id: u16,
    reason: &Text,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let Some(registration) = state.registrations.get(&registration_id) else {
        return Err(DomainError::UnknownItem {
            crn: ctx.crn.clone(),
            what: "registration",
            id: u32::from(registration_id),
        });
    };
    if let Some(removed) = registration.removed_on {
        return Err(ctx.refuse(
            "remove the registration",
            format!("registration {registration_id} was already removed on {removed}"),
        ));
    }
    super::not_before(
        "the removal date",
        on,
        "the registration date",
        registration.registered_on,
    )?;
    Ok(vec![RegistrationRemoved {
        registration_id,
        removed_on: on,
        reason: reason.clone(),
    }
    .into()])
}

/// BR-D4 (seed 004 l.30): an auditable MAPPA screening; an eligible case has a category.
fn screen_for_mappa(
    ctx: &Ctx<'_>,
    on: Date,
    eligible: bool,
    category: Option<MappaCategory>,
    recommended_level: Option<MappaLevel>,
) -> Result<Vec<Event>, DomainError> {
    // BR-D4 (seed 004 l.30): an auditable screening; an eligible case has a category.
    if eligible && category.is_none() {
        return Err(ctx.rule(
            "record MAPPA screening",
            "an eligible case needs its MAPPA category (1–4)",
            "BR-D4, seed 004 l.30",
        ));
    }
    if !eligible && (category.is_some() || recommended_level.is_some()) {
        return Err(ctx.rule(
            "record MAPPA screening",
            "a case screened not eligible has no MAPPA category or level",
            "BR-D4, seed 004 l.30",
        ));
    }
    Ok(vec![MappaScreened {
        screened_on: on,
        eligible,
        category,
        recommended_level,
    }
    .into()])
}

/// BR-A12 (seed 000 l.9): the NPS refers a screened-eligible case to a MAPPA level 2 or 3
/// panel (BR-D4, seed 004 l.30).
fn refer_to_mappa(
    ctx: &Ctx<'_>,
    on: Date,
    level: MappaLevel,
    by: &Organisation,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let action = "refer the case to a MAPPA panel";
    if level.get() < 2 {
        return Err(ctx.rule(
            action,
            format!(
                "referrals go to MAPPA level 2 and 3 panels, not level {}",
                level.get()
            ),
            "BR-A12, seed 000 l.9",
        ));
    }
    if *by != Organisation::Nps {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action,
            allowed: "the NPS",
            acting: by.to_string(),
            rule: "BR-A12, seed 000 l.9",
        });
    }
    if !state.mappa_eligible() {
        return Err(ctx.rule(
            action,
            "the case is not MAPPA-eligible; screen it first",
            "BR-D4, seed 004 l.30",
        ));
    }
    Ok(vec![MappaReferred {
        referred_on: on,
        level,
        referred_by: by.clone(),
        decision: ctx.decision(reason::NPS_REFERRAL),
    }
    .into()])
}

/// BR-D3 (seed 003 l.755): the MAPPA category and level are set for a screened-eligible case
/// (BR-D4, seed 004 l.30).
fn set_mappa_level(
    ctx: &Ctx<'_>,
    on: Date,
    category: MappaCategory,
    level: MappaLevel,
    by: &Organisation,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let action = "set the MAPPA level";
    if !matches!(by, Organisation::MappaPanel | Organisation::Nps) {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action,
            allowed: "a MAPPA panel or the NPS",
            acting: by.to_string(),
            rule: "BR-D3, seed 003 l.755",
        });
    }
    if !state.mappa_eligible() && state.mappa.referred.is_none() {
        return Err(ctx.rule(
            action,
            "the case has not been screened MAPPA-eligible or referred",
            "BR-D4, seed 004 l.30",
        ));
    }
    Ok(vec![MappaLevelSet {
        set_on: on,
        category,
        level,
        decision: ctx.decision(reason::PANEL_DECISION),
    }
    .into()])
}

/// The tier calculator's V2 result (tier-rules.md §5); BR-C6 (seed 003 l.777) and BR-C4
/// (seed 003 l.817) say whether it advises reallocation.
fn record_tier(
    ctx: &Ctx<'_>,
    on: Date,
    tier: V2Tier,
    inputs_digest: &InputsDigest,
    reason_code: &ReasonCode,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let previous_tier = state.tier.as_ref().map(|t| t.tier);
    // BR-C6 (seed 003 l.777): a tier change may call for reallocation either way; with
    // BR-C4 (seed 003 l.817) a PSO holds medium and low RoSH, so protect level A/B on a
    // PSO's case, or C/D on a PO's, is flagged for the SPO.
    let changed = previous_tier.as_ref() != Some(&tier);
    let reallocation_advised = changed
        && !ctx.ruleset.is_two_provider()
        && state.practitioner.as_ref().is_some_and(|p| {
            let high = matches!(tier.protect, ProtectLevel::A | ProtectLevel::B);
            match p.practitioner.grade {
                Grade::ProbationServicesOfficer => high,
                Grade::ProbationOfficer => !high,
                _ => false,
            }
        });
    Ok(vec![TierCalculated {
        calculated_on: on,
        tier,
        previous_tier,
        inputs_digest: inputs_digest.clone(),
        reallocation_advised,
        decision: Decision {
            ruleset_id: ctx.ruleset.id,
            reason_code: reason_code.clone(),
        },
    }
    .into()])
}

/// One risk assessment as the command gives it; [`Assessment::event`] records it with the
/// status and reason a rule decides.
struct Assessment<'a> {
    on: Date,
    kind: AssessmentKind,
    rosh: RoshLevel,
    rsr: Option<RsrScore>,
    ogrs: Option<OgrsScore>,
    needs: &'a BTreeMap<Need, NeedSeverity>,
    by: &'a Organisation,
}

impl Assessment<'_> {
    fn event(&self, ctx: &Ctx<'_>, rosh_status: RoshStatus, code: &'static str) -> Event {
        RiskAssessed {
            assessed_on: self.on,
            kind: self.kind,
            assessed_by: self.by.clone(),
            rosh: self.rosh,
            rosh_status,
            rsr: self.rsr,
            ogrs: self.ogrs,
            needs: self.needs.clone(),
            decision: ctx.decision(code),
        }
        .into()
    }
}

const ASSESS: &str = "record the risk assessment";

/// A risk assessment under the ruleset in force: Transforming Rehabilitation
/// ([`assess_under_tr`]) or the unified model ([`assess_unified`]).
fn assess(ctx: &Ctx<'_>, assessment: &Assessment<'_>) -> Result<Vec<Event>, DomainError> {
    if ctx.ruleset.is_two_provider() {
        assess_under_tr(ctx, assessment)
    } else {
        assess_unified(ctx, assessment)
    }
}

/// BR-A11 (seed 001 l.68): under TR the NPS's assessment is the case's RoSH; the managing
/// CRC's goes through [`assess_by_crc`]; nobody else assesses (BR-A6, seed 001 l.56).
fn assess_under_tr(ctx: &Ctx<'_>, assessment: &Assessment<'_>) -> Result<Vec<Event>, DomainError> {
    match assessment.by {
        Organisation::Nps => Ok(vec![assessment.event(
            ctx,
            RoshStatus::Confirmed,
            reason::NPS_CONFIRMED,
        )]),
        Organisation::Crc(name) => assess_by_crc(ctx, assessment, name),
        other => Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action: ASSESS,
            allowed: "the NPS or the CRC managing the case",
            acting: other.to_string(),
            rule: "BR-A6, seed 001 l.56",
        }),
    }
}

/// BR-A2 (seed 001 l.55): the initial assessment is the NPS's. BR-A6 (seed 001 l.56): the CRC
/// managing the case reassesses. BR-A7/A8/A11 (seed 000 l.8; 001 l.57, l.68): a CRC's
/// assessment that raises RoSH to high waits for the NPS and is escalated, unless an
/// escalation is already pending.
fn assess_by_crc(
    ctx: &Ctx<'_>,
    assessment: &Assessment<'_>,
    name: &crate::reference::CrcName,
) -> Result<Vec<Event>, DomainError> {
    let refuse = |allowed, rule| DomainError::WrongOrganisation {
        crn: ctx.crn.clone(),
        action: ASSESS,
        allowed,
        acting: assessment.by.to_string(),
        rule,
    };
    if assessment.kind == AssessmentKind::Initial {
        return Err(refuse(
            "the NPS (initial assessment)",
            "BR-A2, seed 001 l.55",
        ));
    }
    let state = ctx.state;
    if state.provider != Some(Provider::Crc(name.clone())) {
        return Err(refuse(
            "the NPS or the CRC managing the case",
            "BR-A6, seed 001 l.56",
        ));
    }
    let rose_to_high = assessment.rosh.is_high_or_above()
        && !state.risk.rosh.is_some_and(RoshLevel::is_high_or_above);
    if !rose_to_high {
        return Ok(vec![assessment.event(
            ctx,
            RoshStatus::Confirmed,
            reason::PRACTITIONER_DECISION,
        )]);
    }
    let mut events = vec![assessment.event(
        ctx,
        RoshStatus::AwaitingNpsConfirmation,
        reason::CRC_ASSESSED_ROSH_HIGH,
    )];
    if state.pending_escalation.is_none() {
        ctx.current_sentence("escalate risk to the NPS")?;
        events.push(
            RiskEscalationRequested {
                requested_on: assessment.on,
                requested_by: name.clone(),
                proposed_rosh: assessment.rosh,
                evidence: None,
                decision: ctx.decision(reason::CRC_ASSESSED_ROSH_HIGH),
            }
            .into(),
        );
    }
    Ok(events)
}

/// BR-D1 (seed 003 l.751): in the unified model the probation service or a prison offender
/// manager assesses, and the RoSH is confirmed. BR-C6 (seed 003 l.777): a reassessment
/// triggers a tier review.
fn assess_unified(ctx: &Ctx<'_>, assessment: &Assessment<'_>) -> Result<Vec<Event>, DomainError> {
    if !matches!(assessment.by, Organisation::Nps | Organisation::Prison) {
        return Err(DomainError::WrongOrganisation {
            crn: ctx.crn.clone(),
            action: ASSESS,
            allowed: "the probation service or a prison offender manager",
            acting: assessment.by.to_string(),
            rule: "BR-D1, seed 003 l.751",
        });
    }
    let mut events =
        vec![assessment.event(ctx, RoshStatus::Confirmed, reason::PRACTITIONER_DECISION)];
    if ctx.state.risk.assessments > 0 {
        events.push(
            TierReviewTriggered {
                triggered_on: assessment.on,
                decision: ctx.decision(reason::RISK_REASSESSED),
            }
            .into(),
        );
    }
    Ok(events)
}
