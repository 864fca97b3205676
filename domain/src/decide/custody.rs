//! Custody, handover, release, licence, post-sentence supervision and recall.
//!
//! - BR-C11 (seed 003 l.997): a high RoSH prisoner has a probation POM, low and medium a
//!   Band 4 prison POM; OMiC case management only from its start (seed 003 l.313).
//! - Handover (T20; handover-rules.md): the calculator's result is recorded under the handover
//!   era of the ruleset in force; responsibility moves to the community at the handover date.
//! - BR-F5/F6 (seed 003 l.1007, l.1866): handover meeting with the COM, and pre-release
//!   contacts by the COM.
//! - Release (seed 002 l.53–57): only a custodial sentence in custody is released;
//!   determinate sentences are released automatically, on HDC from the HDCED (BR-F8, seed 003
//!   l.1015) or by the Parole Board; indeterminate sentences only by the Parole Board.
//! - BR-F11, PSS-1 (seed 002 l.53; Offender Rehabilitation Act 2014): PSS follows the licence
//!   of a determinate sentence of more than 1 day and under 2 years for an offence from 1
//!   February 2015, until the TUSED (given, else 12 months after release).
//! - Recall (BR-I3, seed 003 l.2914; enforcement-and-workload.md §2 "recall allowed from B"):
//!   only from licence; PSS non-compliance goes to court instead.

use jiff::civil::Date;

use super::{next_id, Ctx, BREACHES_PER_CASE_MAX, PRE_RELEASE_CONTACTS_MAX};
use crate::command::DomainCommand;
use crate::enforcement::RecallOutcome;
use crate::error::DomainError;
use crate::event::*;
use crate::handover::HandoverEra;
use crate::identity::{Practitioner, TeamCode, Text};
use crate::ruleset::Ruleset;
use crate::sentence::{ReleaseType, SentenceId, SentenceType};
use crate::state::{SentenceState, SentenceStatus};

/// RULES-1 (handover-rules.md §4, §11: handover dates are recalculated under the rules of the
/// day): the reason a handover decision is recorded for. A decision that replaces one made
/// under another OMiC era says so, naming the era now in force and its first day
/// (`rule_change_omic_2023_from_2023_04_01`), so the history shows why the second decision
/// replaced the first; otherwise the calculator's own reason (handover-rules.md §12).
fn handover_decision_reason(
    previous_era: Option<HandoverEra>,
    ruleset: &Ruleset,
    calculator_reason: &ReasonCode,
) -> ReasonCode {
    let era = ruleset.handover_era;
    let changed = previous_era.is_some_and(|previous| previous != era);
    match era.starts_on(ruleset.nation) {
        Some(first_day) if changed => ReasonCode::new(format!(
            "rule_change_{}_from_{}",
            era.as_str().replace('-', "_"),
            first_day.strftime("%Y_%m_%d")
        ))
        .unwrap_or_else(|_| calculator_reason.clone()),
        _ => calculator_reason.clone(),
    }
}

fn custodial_in_custody<'a>(
    ctx: &Ctx<'a>,
    id: SentenceId,
    action: &'static str,
) -> Result<&'a SentenceState, DomainError> {
    let sentence = ctx.active_sentence(id, action)?;
    if !sentence.sentence_type.is_custodial() {
        return Err(ctx.refuse(
            action,
            format!(
                "sentence {} is a {}, which is served in the community, not in custody",
                id.0,
                sentence.sentence_type.as_str()
            ),
        ));
    }
    if !sentence.status.in_custody() {
        return Err(ctx.refuse(action, format!("sentence {} is not in custody", id.0)));
    }
    Ok(sentence)
}

pub(super) fn decide(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::AllocatePrisonOffenderManager {
            on,
            sentence_id,
            prison_offender_manager,
            pom_type,
        } => allocate_prison_offender_manager(
            ctx,
            *on,
            *sentence_id,
            prison_offender_manager,
            *pom_type,
        ),
        C::RecordHandoverDates { .. } => record_handover_dates(ctx, command),
        C::AllocateCommunityOffenderManager {
            on,
            sentence_id,
            community_offender_manager,
            team,
        } => allocate_community_offender_manager(
            ctx,
            *on,
            *sentence_id,
            community_offender_manager,
            team,
        ),
        C::TransferResponsibility { on, sentence_id } => {
            transfer_responsibility(ctx, *on, *sentence_id)
        }
        C::OverrideResponsibility {
            on,
            sentence_id,
            to,
            reason,
        } => override_responsibility(ctx, *on, *sentence_id, *to, reason),
        C::RecordHandoverMeeting {
            on,
            sentence_id,
            attendees,
        } => record_handover_meeting(ctx, *on, *sentence_id, attendees),
        C::RecordPreReleaseContact { on, sentence_id } => {
            record_pre_release_contact(ctx, *on, *sentence_id)
        }
        C::Release {
            on,
            sentence_id,
            release_type,
        } => release(ctx, *on, *sentence_id, *release_type),
        C::EndLicence { on, sentence_id } => end_licence(ctx, *on, *sentence_id),
        C::StartPostSentenceSupervision { on, sentence_id } => {
            start_post_sentence_supervision(ctx, *on, *sentence_id)
        }
        C::EndPostSentenceSupervision { on, sentence_id } => {
            end_post_sentence_supervision(ctx, *on, *sentence_id)
        }
        C::LapseSupervision { on, sentence_id } => lapse(ctx, *on, *sentence_id),
        C::RaiseRecall {
            on,
            sentence_id,
            reason,
        } => raise_recall(ctx, *on, *sentence_id, reason),
        C::ConcludeRecall {
            on,
            recall_id,
            outcome,
        } => conclude_recall(ctx, *on, *recall_id, *outcome),
        _ => Err(ctx.refuse("route the command", "it is not a custody command")),
    }
}

/// BR-C11 (seed 003 l.997): a high RoSH prisoner has a probation POM, low and medium a Band 4
/// prison POM; OMiC case management only from its start (seed 003 l.313), so no POM is
/// allocated under the pre-OMiC era.
fn allocate_prison_offender_manager(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    prison_offender_manager: &Practitioner,
    pom_type: PomType,
) -> Result<Vec<Event>, DomainError> {
    let action = "allocate a Prison Offender Manager";
    custodial_in_custody(ctx, sentence_id, action)?;
    if ctx.ruleset.handover_era == HandoverEra::PreOmic {
        return Err(DomainError::WrongEra {
            crn: ctx.crn.clone(),
            action,
            what: "OMiC case management had not started",
            ruleset: ctx.ruleset.handover_era.as_str(),
            instead: "before OMiC the community offender manager manages the custodial case",
        });
    }
    let Some(rosh) = ctx.state.risk.rosh else {
        return Err(ctx.rule(
            action,
            "the POM type depends on RoSH; assess risk first",
            "BR-C11, seed 003 l.997",
        ));
    };
    let (expected, expected_name, code) = if rosh.is_high_or_above() {
        (
            PomType::Probation,
            "probation",
            reason::HIGH_ROSH_PROBATION_POM,
        )
    } else {
        (
            PomType::Prison,
            "Band 4 prison",
            reason::LOWER_ROSH_PRISON_POM,
        )
    };
    if pom_type != expected {
        return Err(ctx.rule(
            action,
            format!("RoSH is {rosh}, so the POM must be a {expected_name} POM"),
            "BR-C11, seed 003 l.997",
        ));
    }
    Ok(vec![PrisonOffenderManagerAllocated {
        sentence_id,
        allocated_on: on,
        prison_offender_manager: prison_offender_manager.clone(),
        pom_type,
        rosh: Some(rosh),
        decision: ctx.decision(code),
    }
    .into()])
}

/// T20 (handover-rules.md): the calculator's result is recorded under the handover era of the
/// ruleset in force on the day (design.md invariant 6), its handover date never before its
/// start date, with the reason RULES-1 gives ([`handover_decision_reason`]).
fn record_handover_dates(
    ctx: &Ctx<'_>,
    command: &DomainCommand,
) -> Result<Vec<Event>, DomainError> {
    let DomainCommand::RecordHandoverDates {
        on,
        sentence_id,
        handover_era,
        responsibility,
        start_date,
        handover_date,
        handover_reason,
        inputs_digest,
    } = command
    else {
        return Err(ctx.refuse("route the command", "it is not a handover dates command"));
    };
    let action = "record handover dates";
    let sentence = custodial_in_custody(ctx, *sentence_id, action)?;
    if *handover_era != ctx.ruleset.handover_era {
        return Err(ctx.rule(
            action,
            format!(
                "the dates were calculated under {} but {} is in force on {on}",
                handover_era.as_str(),
                ctx.ruleset.handover_era.as_str()
            ),
            "design.md invariant 6",
        ));
    }
    if let (Some(start), Some(handover)) = (start_date, handover_date) {
        super::not_before(
            "the handover date",
            *handover,
            "the handover start date",
            *start,
        )?;
    }
    let previous_era = sentence.handover.as_ref().map(|h| h.handover_era);
    Ok(vec![HandoverDatesCalculated {
        sentence_id: *sentence_id,
        calculated_on: *on,
        handover_era: *handover_era,
        responsibility: *responsibility,
        start_date: *start_date,
        handover_date: *handover_date,
        handover_reason: handover_reason.clone(),
        inputs_digest: inputs_digest.clone(),
        decision: Decision {
            ruleset_id: ctx.ruleset.id,
            reason_code: handover_decision_reason(previous_era, ctx.ruleset, handover_reason),
        },
    }
    .into()])
}

/// Handover (handover-rules.md §1): a Community Offender Manager is allocated while the person
/// is in custody, ahead of the handover.
fn allocate_community_offender_manager(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    community_offender_manager: &Practitioner,
    team: &TeamCode,
) -> Result<Vec<Event>, DomainError> {
    custodial_in_custody(ctx, sentence_id, "allocate a Community Offender Manager")?;
    Ok(vec![CommunityOffenderManagerAllocated {
        sentence_id,
        allocated_on: on,
        community_offender_manager: community_offender_manager.clone(),
        team: team.clone(),
    }
    .into()])
}

/// T20 (handover-rules.md §1): responsibility moves to the community at the handover date, to
/// an allocated Community Offender Manager, and only once.
fn transfer_responsibility(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
) -> Result<Vec<Event>, DomainError> {
    let action = "transfer responsibility to the community";
    let sentence = custodial_in_custody(ctx, sentence_id, action)?;
    if sentence.responsibility == Some(Responsibility::Community) {
        return Err(ctx.refuse(action, "the community is already responsible"));
    }
    if sentence.community_offender_manager.is_none() {
        return Err(ctx.refuse(
            action,
            "no Community Offender Manager is allocated; allocate one first",
        ));
    }
    if let Some(handover) = sentence.handover.as_ref().and_then(|h| h.handover_date) {
        if on < handover {
            return Err(ctx.rule(
                action,
                format!("the handover date is {handover}"),
                "handover-rules.md §1",
            ));
        }
    }
    Ok(vec![ResponsibilityTransferred {
        sentence_id,
        transferred_on: on,
        from: sentence
            .responsibility
            .unwrap_or(Responsibility::CustodyOnly),
        to: Responsibility::Community,
        decision: ctx.decision(reason::HANDOVER_DATE_REACHED),
    }
    .into()])
}

/// Handover (handover-rules.md §1): a senior probation officer overrides who is responsible,
/// with the reason; an override to the responsibility already in place changes nothing.
fn override_responsibility(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    to: Responsibility,
    why: &Text,
) -> Result<Vec<Event>, DomainError> {
    let action = "override responsibility";
    let sentence = custodial_in_custody(ctx, sentence_id, action)?;
    if sentence.responsibility == Some(to) {
        return Err(ctx.refuse(action, "responsibility is already as requested"));
    }
    Ok(vec![ResponsibilityOverridden {
        sentence_id,
        overridden_on: on,
        from: sentence.responsibility,
        to,
        reason: why.clone(),
        decision: ctx.decision(reason::SENIOR_PROBATION_OFFICER_OVERRIDE),
    }
    .into()])
}

/// BR-F5 (seed 003 l.1007) and BR-F6 (seed 003 l.1866): the handover meeting needs an
/// allocated Community Offender Manager, who attends it.
fn record_handover_meeting(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    attendees: &[Attendee],
) -> Result<Vec<Event>, DomainError> {
    let action = "record the handover meeting";
    let sentence = custodial_in_custody(ctx, sentence_id, action)?;
    if sentence.community_offender_manager.is_none() {
        return Err(ctx.rule(
            action,
            "no Community Offender Manager is allocated",
            "BR-F5, seed 003 l.1007",
        ));
    }
    let mut attendees = attendees.to_vec();
    attendees.sort_unstable();
    attendees.dedup();
    if !attendees.contains(&Attendee::CommunityOffenderManager) {
        return Err(ctx.rule(
            action,
            "the Community Offender Manager must attend the handover meeting",
            "BR-F6, seed 003 l.1866",
        ));
    }
    Ok(vec![HandoverMeetingHeld {
        sentence_id,
        held_on: on,
        attendees,
    }
    .into()])
}

/// BR-F5 (seed 003 l.1007): pre-release contacts are made by the allocated Community Offender
/// Manager, numbered, up to [`PRE_RELEASE_CONTACTS_MAX`].
fn record_pre_release_contact(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
) -> Result<Vec<Event>, DomainError> {
    let action = "record a pre-release contact";
    let sentence = custodial_in_custody(ctx, sentence_id, action)?;
    if sentence.community_offender_manager.is_none() {
        return Err(ctx.rule(
            action,
            "no Community Offender Manager is allocated",
            "BR-F5, seed 003 l.1007",
        ));
    }
    if sentence.pre_release_contacts >= PRE_RELEASE_CONTACTS_MAX {
        return Err(DomainError::LimitReached {
            crn: ctx.crn.clone(),
            what: "pre-release contacts",
            limit: u32::from(PRE_RELEASE_CONTACTS_MAX),
        });
    }
    Ok(vec![PreReleaseContactHeld {
        sentence_id,
        held_on: on,
        contact_number: sentence.pre_release_contacts + 1,
    }
    .into()])
}

/// Release (seed 002 l.53–57, T24): only a custodial sentence in custody is released, never
/// before its sentence date, by a release type the sentence allows ([`check_release_type`]).
fn release(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    release_type: ReleaseType,
) -> Result<Vec<Event>, DomainError> {
    let sentence = custodial_in_custody(ctx, sentence_id, "release")?;
    super::not_before(
        "the release date",
        on,
        "the sentence date",
        sentence.sentenced_on,
    )?;
    check_release_type(ctx, sentence, release_type, on)?;
    Ok(vec![Released {
        sentence_id,
        released_on: on,
        release_type,
        licence_expiry_date: sentence.dates.licence_expiry_date,
    }
    .into()])
}

/// T26 (seed 002 l.53): the licence ends for a sentence on licence, and not while a recall is
/// open (BR-I3: the recall decides whether the person goes back to custody).
fn end_licence(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
) -> Result<Vec<Event>, DomainError> {
    let action = "end the licence";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    if sentence.status != SentenceStatus::ReleasedOnLicence {
        return Err(ctx.refuse(
            action,
            format!("sentence {} is not on licence", sentence_id.0),
        ));
    }
    if let Some(recall) = ctx.state.open_recall() {
        return Err(ctx.refuse(
            action,
            format!("recall {recall} is open; conclude it first"),
        ));
    }
    Ok(vec![LicenceEnded {
        sentence_id,
        ended_on: on,
    }
    .into()])
}

/// BR-F11, PSS-1 (seed 002 l.53; Offender Rehabilitation Act 2014): post-sentence supervision
/// follows the end of the licence of a sentence it applies to, until the TUSED.
fn start_post_sentence_supervision(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
) -> Result<Vec<Event>, DomainError> {
    let action = "start post-sentence supervision";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    if sentence.status != SentenceStatus::SupervisionEnded
        || sentence.releases.is_empty()
        || sentence.post_sentence_supervision_ends_on.is_some()
    {
        return Err(ctx.refuse(
            action,
            format!("post-sentence supervision follows the end of the licence, and sentence {} is not at that point", sentence_id.0),
        ));
    }
    if let Err(why) = sentence.post_sentence_supervision() {
        return Err(ctx.rule(action, why, "PSS-1, BR-F11, seed 002 l.53"));
    }
    let Some(ends_on) = sentence.top_up_supervision_expiry().filter(|d| *d > on) else {
        return Err(ctx.rule(
            action,
            "the top-up supervision expiry date (12 months after release) has passed",
            "PSS-1, BR-F11, seed 002 l.53",
        ));
    };
    Ok(vec![PostSentenceSupervisionStarted {
        sentence_id,
        started_on: on,
        ends_on,
    }
    .into()])
}

/// BR-F11, PSS-1 (seed 002 l.53): post-sentence supervision ends for a sentence on it.
fn end_post_sentence_supervision(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
) -> Result<Vec<Event>, DomainError> {
    let action = "end post-sentence supervision";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    if sentence.status != SentenceStatus::PostSentenceSupervision {
        return Err(ctx.refuse(
            action,
            format!(
                "sentence {} is not on post-sentence supervision",
                sentence_id.0
            ),
        ));
    }
    Ok(vec![PostSentenceSupervisionEnded {
        sentence_id,
        ended_on: on,
    }
    .into()])
}

/// Recall (BR-I3, seed 003 l.2914; enforcement-and-workload.md §2 "recall allowed from B"):
/// only from licence, one open at a time; post-sentence supervision non-compliance goes back to
/// court as a breach instead.
fn raise_recall(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    why: &Text,
) -> Result<Vec<Event>, DomainError> {
    let action = "raise a recall";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    match sentence.status {
        SentenceStatus::ReleasedOnLicence => {}
        SentenceStatus::PostSentenceSupervision => {
            return Err(ctx.rule(
                action,
                "post-sentence supervision cannot be recalled; non-compliance goes back to court as a breach",
                "enforcement-and-workload.md §2",
            ))
        }
        _ => {
            return Err(ctx.rule(
                action,
                format!("sentence {} is not on licence", sentence_id.0),
                "BR-I3, seed 003 l.2914",
            ))
        }
    }
    if let Some(open) = ctx.state.open_recall() {
        return Err(ctx.refuse(action, format!("recall {open} is already open")));
    }
    let id = next_id(
        ctx,
        ctx.state.recalls.len(),
        BREACHES_PER_CASE_MAX,
        "recalls",
    )?;
    Ok(vec![RecallRaised {
        recall_id: u16::try_from(id).unwrap_or(u16::MAX),
        sentence_id,
        raised_on: on,
        reason: why.clone(),
        decision: ctx.decision(reason::RISK_UNMANAGEABLE),
    }
    .into()])
}

/// Recall (BR-I3, seed 003 l.2914): a recall is concluded once, not before it was raised, with
/// its outcome.
fn conclude_recall(
    ctx: &Ctx<'_>,
    on: Date,
    recall_id: u16,
    outcome: RecallOutcome,
) -> Result<Vec<Event>, DomainError> {
    let action = "conclude the recall";
    let Some(recall) = ctx.state.recalls.get(&recall_id) else {
        return Err(DomainError::UnknownItem {
            crn: ctx.crn.clone(),
            what: "recall",
            id: u32::from(recall_id),
        });
    };
    if let Some((date, _)) = recall.concluded {
        return Err(ctx.refuse(
            action,
            format!("recall {recall_id} was concluded on {date}"),
        ));
    }
    super::not_before(
        "the conclusion date",
        on,
        "the recall date",
        recall.raised_on,
    )?;
    Ok(vec![RecallConcluded {
        recall_id,
        concluded_on: on,
        outcome,
        recalled: outcome.is_recall(),
        decision: ctx.decision(reason::RECALL_OUTCOME),
    }
    .into()])
}

/// LAPSE-1 (seed 002 l.53: licence for the remainder of the sentence, then post-sentence
/// supervision where it applies): the engine ends the period of supervision a sentence is in on
/// its own date — the licence at its expiry date, post-sentence supervision at the TUSED, an
/// order at its end date — as its own decision. A licence that PSS-1 follows turns into
/// post-sentence supervision until the TUSED in the same fact. Refused on any other date, and
/// while a recall or breach on the sentence is open.
fn lapse(ctx: &Ctx<'_>, on: Date, sentence_id: SentenceId) -> Result<Vec<Event>, DomainError> {
    let action = "end supervision on its date";
    let sentence = ctx.active_sentence(sentence_id, action)?;
    let Some((period, date)) = sentence.lapse() else {
        return Err(ctx.refuse(
            action,
            format!(
                "sentence {} is not in a period of supervision with an end date",
                sentence_id.0
            ),
        ));
    };
    if on != date {
        return Err(ctx.rule(
            action,
            format!("sentence {}'s supervision ends on {date}", sentence_id.0),
            "LAPSE-1, seed 002 l.53",
        ));
    }
    if let Some(why) = ctx.state.lapse_held_by(sentence_id) {
        return Err(ctx.refuse(action, why));
    }
    let until = match period {
        SupervisionPeriod::Licence => sentence.top_up_supervision_expiry().filter(|t| *t > on),
        _ => None,
    };
    let code = match period {
        SupervisionPeriod::Licence => reason::LICENCE_EXPIRY_DATE_REACHED,
        SupervisionPeriod::PostSentenceSupervision => {
            reason::TOP_UP_SUPERVISION_EXPIRY_DATE_REACHED
        }
        SupervisionPeriod::Order => reason::ORDER_END_DATE_REACHED,
    };
    Ok(vec![SupervisionLapsed {
        sentence_id,
        lapsed_on: on,
        period,
        post_sentence_supervision_until: until,
        decision: ctx.decision(code),
    }
    .into()])
}

/// Release types by sentence (seed 002 l.53–57; HDC BR-F8, seed 003 l.1015).
fn check_release_type(
    ctx: &Ctx<'_>,
    sentence: &SentenceState,
    release_type: ReleaseType,
    on: jiff::civil::Date,
) -> Result<(), DomainError> {
    let action = "release";
    let indeterminate = sentence.sentence_type == SentenceType::IndeterminateCustody;
    match release_type {
        ReleaseType::Automatic if indeterminate => Err(ctx.rule(
            action,
            "an indeterminate sentence is released only by the Parole Board",
            "seed 002 l.57",
        )),
        ReleaseType::HomeDetentionCurfew => match sentence.dates.home_detention_curfew_eligibility_date {
            None => Err(ctx.rule(action, "the sentence has no HDC eligibility date (HDCED)", "BR-F8, seed 003 l.1015")),
            Some(hdced) if on < hdced => Err(ctx.rule(
                action,
                format!("release on HDC is possible from the HDCED {hdced}"),
                "BR-F8, seed 003 l.1015",
            )),
            Some(_) => Ok(()),
        },
        ReleaseType::Parole if !indeterminate && sentence.dates.parole_eligibility_date.is_none() => {
            Err(ctx.rule(
                action,
                "a determinate sentence without a parole eligibility date (PED) is not released by the Parole Board",
                "seed 002 l.57",
            ))
        }
        _ => Ok(()),
    }
}
