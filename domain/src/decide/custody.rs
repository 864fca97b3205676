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
use crate::error::DomainError;
use crate::event::*;
use crate::handover::HandoverEra;
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
    let state = ctx.state;
    match command {
        C::AllocatePrisonOffenderManager {
            on,
            sentence_id,
            prison_offender_manager,
            pom_type,
        } => {
            let action = "allocate a Prison Offender Manager";
            custodial_in_custody(ctx, *sentence_id, action)?;
            if ctx.ruleset.handover_era == HandoverEra::PreOmic {
                return Err(DomainError::WrongEra {
                    crn: ctx.crn.clone(),
                    action,
                    what: "OMiC case management had not started",
                    ruleset: ctx.ruleset.handover_era.as_str(),
                    instead:
                        "before OMiC the community offender manager manages the custodial case",
                });
            }
            let Some(rosh) = state.risk.rosh else {
                return Err(ctx.rule(
                    action,
                    "the POM type depends on RoSH; assess risk first",
                    "BR-C11, seed 003 l.997",
                ));
            };
            let expected = if rosh.is_high_or_above() {
                PomType::Probation
            } else {
                PomType::Prison
            };
            if *pom_type != expected {
                return Err(ctx.rule(
                    action,
                    format!(
                        "RoSH is {rosh}, so the POM must be a {} POM",
                        if expected == PomType::Probation {
                            "probation"
                        } else {
                            "Band 4 prison"
                        }
                    ),
                    "BR-C11, seed 003 l.997",
                ));
            }
            let code = if expected == PomType::Probation {
                reason::HIGH_ROSH_PROBATION_POM
            } else {
                reason::LOWER_ROSH_PRISON_POM
            };
            Ok(vec![PrisonOffenderManagerAllocated {
                sentence_id: *sentence_id,
                allocated_on: *on,
                prison_offender_manager: prison_offender_manager.clone(),
                pom_type: *pom_type,
                rosh: Some(rosh),
                decision: ctx.decision(code),
            }
            .into()])
        }
        C::RecordHandoverDates {
            on,
            sentence_id,
            handover_era,
            responsibility,
            start_date,
            handover_date,
            handover_reason,
            inputs_digest,
        } => {
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
                    reason_code: handover_decision_reason(
                        sentence.handover.as_ref().map(|h| h.handover_era),
                        ctx.ruleset,
                        handover_reason,
                    ),
                },
            }
            .into()])
        }
        C::AllocateCommunityOffenderManager {
            on,
            sentence_id,
            community_offender_manager,
            team,
        } => {
            custodial_in_custody(ctx, *sentence_id, "allocate a Community Offender Manager")?;
            Ok(vec![CommunityOffenderManagerAllocated {
                sentence_id: *sentence_id,
                allocated_on: *on,
                community_offender_manager: community_offender_manager.clone(),
                team: team.clone(),
            }
            .into()])
        }
        C::TransferResponsibility { on, sentence_id } => {
            let action = "transfer responsibility to the community";
            let sentence = custodial_in_custody(ctx, *sentence_id, action)?;
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
                if *on < handover {
                    return Err(ctx.rule(
                        action,
                        format!("the handover date is {handover}"),
                        "handover-rules.md §1",
                    ));
                }
            }
            Ok(vec![ResponsibilityTransferred {
                sentence_id: *sentence_id,
                transferred_on: *on,
                from: sentence
                    .responsibility
                    .unwrap_or(Responsibility::CustodyOnly),
                to: Responsibility::Community,
                decision: ctx.decision(reason::HANDOVER_DATE_REACHED),
            }
            .into()])
        }
        C::OverrideResponsibility {
            on,
            sentence_id,
            to,
            reason,
        } => {
            let action = "override responsibility";
            let sentence = custodial_in_custody(ctx, *sentence_id, action)?;
            if sentence.responsibility == Some(*to) {
                return Err(ctx.refuse(action, "responsibility is already as requested"));
            }
            Ok(vec![ResponsibilityOverridden {
                sentence_id: *sentence_id,
                overridden_on: *on,
                from: sentence.responsibility,
                to: *to,
                reason: reason.clone(),
                decision: ctx.decision(reason::SENIOR_PROBATION_OFFICER_OVERRIDE),
            }
            .into()])
        }
        C::RecordHandoverMeeting {
            on,
            sentence_id,
            attendees,
        } => {
            let action = "record the handover meeting";
            let sentence = custodial_in_custody(ctx, *sentence_id, action)?;
            if sentence.community_offender_manager.is_none() {
                return Err(ctx.rule(
                    action,
                    "no Community Offender Manager is allocated",
                    "BR-F5, seed 003 l.1007",
                ));
            }
            let mut attendees = attendees.clone();
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
                sentence_id: *sentence_id,
                held_on: *on,
                attendees,
            }
            .into()])
        }
        C::RecordPreReleaseContact { on, sentence_id } => {
            let action = "record a pre-release contact";
            let sentence = custodial_in_custody(ctx, *sentence_id, action)?;
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
                sentence_id: *sentence_id,
                held_on: *on,
                contact_number: sentence.pre_release_contacts + 1,
            }
            .into()])
        }
        C::Release {
            on,
            sentence_id,
            release_type,
        } => {
            let action = "release";
            let sentence = custodial_in_custody(ctx, *sentence_id, action)?;
            super::not_before(
                "the release date",
                *on,
                "the sentence date",
                sentence.sentenced_on,
            )?;
            check_release_type(ctx, sentence, *release_type, *on)?;
            Ok(vec![Released {
                sentence_id: *sentence_id,
                released_on: *on,
                release_type: *release_type,
                licence_expiry_date: sentence.dates.licence_expiry_date,
            }
            .into()])
        }
        C::EndLicence { on, sentence_id } => {
            let action = "end the licence";
            let sentence = ctx.active_sentence(*sentence_id, action)?;
            if sentence.status != SentenceStatus::ReleasedOnLicence {
                return Err(ctx.refuse(
                    action,
                    format!("sentence {} is not on licence", sentence_id.0),
                ));
            }
            if let Some(recall) = state.open_recall() {
                return Err(ctx.refuse(
                    action,
                    format!("recall {recall} is open; conclude it first"),
                ));
            }
            Ok(vec![LicenceEnded {
                sentence_id: *sentence_id,
                ended_on: *on,
            }
            .into()])
        }
        C::StartPostSentenceSupervision { on, sentence_id } => {
            let action = "start post-sentence supervision";
            let sentence = ctx.active_sentence(*sentence_id, action)?;
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
            let Some(ends_on) = sentence.top_up_supervision_expiry().filter(|d| d > on) else {
                return Err(ctx.rule(
                    action,
                    "the top-up supervision expiry date (12 months after release) has passed",
                    "PSS-1, BR-F11, seed 002 l.53",
                ));
            };
            Ok(vec![PostSentenceSupervisionStarted {
                sentence_id: *sentence_id,
                started_on: *on,
                ends_on,
            }
            .into()])
        }
        C::EndPostSentenceSupervision { on, sentence_id } => {
            let action = "end post-sentence supervision";
            let sentence = ctx.active_sentence(*sentence_id, action)?;
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
                sentence_id: *sentence_id,
                ended_on: *on,
            }
            .into()])
        }
        C::LapseSupervision { on, sentence_id } => lapse(ctx, *on, *sentence_id),
        C::RaiseRecall {
            on,
            sentence_id,
            reason,
        } => {
            let action = "raise a recall";
            let sentence = ctx.active_sentence(*sentence_id, action)?;
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
            if let Some(open) = state.open_recall() {
                return Err(ctx.refuse(action, format!("recall {open} is already open")));
            }
            let id = next_id(ctx, state.recalls.len(), BREACHES_PER_CASE_MAX, "recalls")?;
            Ok(vec![RecallRaised {
                recall_id: u16::try_from(id).unwrap_or(u16::MAX),
                sentence_id: *sentence_id,
                raised_on: *on,
                reason: reason.clone(),
                decision: ctx.decision(reason::RISK_UNMANAGEABLE),
            }
            .into()])
        }
        C::ConcludeRecall {
            on,
            recall_id,
            outcome,
        } => {
            let action = "conclude the recall";
            let Some(recall) = state.recalls.get(recall_id) else {
                return Err(DomainError::UnknownItem {
                    crn: ctx.crn.clone(),
                    what: "recall",
                    id: u32::from(*recall_id),
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
                *on,
                "the recall date",
                recall.raised_on,
            )?;
            Ok(vec![RecallConcluded {
                recall_id: *recall_id,
                concluded_on: *on,
                outcome: *outcome,
                recalled: outcome.is_recall(),
                decision: ctx.decision(reason::RECALL_OUTCOME),
            }
            .into()])
        }
        _ => Err(ctx.refuse("route the command", "it is not a custody command")),
    }
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
