//! Time-driven events: what falls due on a case by a date.
//!
//! Pure: [`due_commands`] reads the case state and a date and returns the commands the engine
//! should execute, each with a command id derived from the case, the sentence, the kind and
//! the due date, so running the clock forward twice (or replaying) records each once.

use caseledger_domain::derived::handover_command;
use caseledger_domain::event::{Responsibility, SupervisionPeriod};
use caseledger_domain::handover::{HandoverEra, OMIC_2022_START, OMIC_2023_START};
use caseledger_domain::identity::Crn;
use caseledger_domain::reference::Nation;
use caseledger_domain::ruleset::{UNIFIED_START, WALES_UNIFIED_START};
use caseledger_domain::sentence::SentenceType;
use caseledger_domain::{CaseState, DomainCommand};
use jiff::civil::Date;
use uuid::Uuid;

/// Namespace of the command ids of time-driven commands (UUID v5).
const DUE_COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0x2c6e_91b4_07d3_4f58_a1e2_5b3c_4d6e_7f80);

/// A command that has fallen due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueCommand {
    /// Deterministic: the same due item always has the same id (idempotency key).
    pub command_id: Uuid,
    /// The date it fell due; it is executed as of that date.
    pub on: Date,
    pub command: DomainCommand,
}

/// Something due that cannot be done automatically, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub on: Date,
    pub what: String,
}

fn due_id(crn: &Crn, sentence: u16, kind: &str, on: Date) -> Uuid {
    Uuid::new_v5(
        &DUE_COMMAND_NAMESPACE,
        format!("{crn}/{sentence}/{kind}/{on}").as_bytes(),
    )
}

/// What is due on `crn` by `up_to` (inclusive), earliest first.
///
/// - COM allocation at the handover start date (handover-rules.md §1: "the COM should be
///   allocated" on `start_date`). The COM is the case's allocated practitioner; without one
///   the allocation is reported as [`Blocked`].
/// - Responsibility transfer at the handover date (handover-rules.md §1, §2 D5: handed over
///   when `today ≥ handover_date`), once a COM is allocated.
/// - Rule changes that reach cases in flight (RULES-1, [`rule_changes`]).
/// - Periods of supervision that end on their date (LAPSE-1, [`lapses`]).
pub fn due_commands(crn: &Crn, state: &CaseState, up_to: Date) -> (Vec<DueCommand>, Vec<Blocked>) {
    let mut due = Vec::new();
    let mut blocked = Vec::new();
    if state.closed_on.is_some() {
        return (due, blocked);
    }
    rule_changes(crn, state, up_to, &mut due);
    lapses(crn, state, up_to, &mut due, &mut blocked);
    for (sentence_id, sentence) in &state.sentences {
        let custodial = matches!(
            sentence.sentence_type,
            SentenceType::DeterminateCustody | SentenceType::IndeterminateCustody
        );
        if !custodial || !sentence.status.in_custody() {
            continue;
        }
        let Some(handover) = &sentence.handover else {
            continue;
        };
        if sentence.responsibility == Some(Responsibility::Community) {
            continue;
        }
        let com_allocated = sentence.community_offender_manager.is_some();
        if let Some(start) = handover.start_date.filter(|d| *d <= up_to) {
            if !com_allocated {
                match &state.practitioner {
                    Some(allocation) => due.push(DueCommand {
                        command_id: due_id(crn, sentence_id.0, "com", start),
                        on: start,
                        command: DomainCommand::AllocateCommunityOffenderManager {
                            on: start,
                            sentence_id: *sentence_id,
                            community_offender_manager: allocation.practitioner.clone(),
                            team: allocation.team.clone(),
                        },
                    }),
                    None => blocked.push(Blocked {
                        on: start,
                        what: format!(
                            "{crn}: a Community Offender Manager is due for sentence {} but the case has no practitioner; allocate one",
                            sentence_id.0
                        ),
                    }),
                }
            }
        }
        if let Some(handover_date) = handover.handover_date.filter(|d| *d <= up_to) {
            // The transfer waits for the COM (decide refuses it without one); when the COM
            // allocation is due in the same run it is executed first (earliest first).
            if com_allocated || handover.start_date.is_some_and(|s| s <= up_to) {
                due.push(DueCommand {
                    command_id: due_id(crn, sentence_id.0, "responsibility", handover_date),
                    on: handover_date,
                    command: DomainCommand::TransferResponsibility {
                        on: handover_date,
                        sentence_id: *sentence_id,
                    },
                });
            }
        }
    }
    due.sort_by_key(|d| d.on);
    (due, blocked)
}

/// LAPSE-1 (seed 002 l.53): a licence, post-sentence supervision or an order whose end date
/// the clock has passed ends on that date, once, as the engine's decision (`system`): the
/// domain says which period a sentence is in and when it ends (`SentenceState::lapse`). A
/// licence that post-sentence supervision follows becomes PSS until the TUSED, whose end then
/// falls due in turn. An open recall or breach holds the end back, reported as [`Blocked`].
pub fn lapses(
    crn: &Crn,
    state: &CaseState,
    up_to: Date,
    due: &mut Vec<DueCommand>,
    blocked: &mut Vec<Blocked>,
) {
    for (sentence_id, sentence) in &state.sentences {
        let Some((period, on)) = sentence.lapse().filter(|(_, on)| *on <= up_to) else {
            continue;
        };
        if let Some(why) = state.lapse_held_by(*sentence_id) {
            blocked.push(Blocked {
                on,
                what: format!(
                    "{crn}: sentence {} reached its end date {on} but {why}",
                    sentence_id.0
                ),
            });
            continue;
        }
        let kind = match period {
            SupervisionPeriod::Licence => "lapse-licence",
            SupervisionPeriod::PostSentenceSupervision => "lapse-pss",
            SupervisionPeriod::Order => "lapse-order",
        };
        due.push(DueCommand {
            command_id: due_id(crn, sentence_id.0, kind, on),
            on,
            command: DomainCommand::LapseSupervision {
                on,
                sentence_id: *sentence_id,
            },
        });
    }
}

/// The day the unified model replaced Transforming Rehabilitation in `nation` (seed 003
/// l.358, l.386; Wales l.216).
fn unification_day(nation: Nation) -> Date {
    match nation {
        Nation::England => UNIFIED_START,
        Nation::Wales => WALES_UNIFIED_START,
    }
}

/// OMiC era boundaries after the first era (handover-rules.md §4).
const OMIC_BOUNDARIES: [Date; 2] = [OMIC_2022_START, OMIC_2023_START];

/// RULES-1: when the clock crosses a date on which the rules change, every open case the
/// change affects gets it, once, as a decision of the engine (`system`) under the new ruleset
/// on that date (the due id names case, sentence, kind and date):
///
/// - Transforming Rehabilitation → unified service (seed 003 l.358, l.386; Wales l.216): an
///   open case a CRC holds joins the unified service on that day (reason
///   `crc_contracts_ended`), not when someone remembers to send a command; a CRC case
///   transferred from England into Wales after Wales's day joins on the transfer day (XFER-1).
/// - OMiC eras (handover-rules.md §4 and §11: handover dates are recalculated under the rules
///   of the day): a sentence in custody whose handover was calculated under an earlier era is
///   recalculated under the new one on its first day (2022-10-01, 2023-04-01), one era at a
///   time, with the calculator's reason code and the era recorded.
pub fn rule_changes(crn: &Crn, state: &CaseState, up_to: Date, due: &mut Vec<DueCommand>) {
    let Some(pdu) = state.pdu else {
        return;
    };
    let nation = pdu.nation();
    let unified = unification_day(nation);
    // XFER-1: a case that came from the other nation joins on the day it arrived.
    let arrived = state
        .transfers
        .iter()
        .rev()
        .find(|t| t.from_pdu.nation() != t.to_pdu.nation())
        .map(|t| t.transferred_on);
    let on = [state.opened_on, arrived]
        .into_iter()
        .flatten()
        .fold(unified, Date::max);
    if state.held_by_crc() && on <= up_to {
        due.push(DueCommand {
            command_id: due_id(crn, 0, "unify", on),
            on,
            command: DomainCommand::UnifyProbationService { on },
        });
    }
    for (sentence_id, sentence) in &state.sentences {
        if !sentence.status.in_custody() {
            continue;
        }
        let Some(handover) = &sentence.handover else {
            continue;
        };
        let next = OMIC_BOUNDARIES.into_iter().find(|b| {
            handover.calculated_on < *b
                && *b <= up_to
                && HandoverEra::for_date(*b, nation) != handover.handover_era
        });
        let Some(boundary) = next else {
            continue;
        };
        let era = HandoverEra::for_date(boundary, nation);
        if let Ok(command) = handover_command(state, *sentence_id, era, boundary) {
            due.push(DueCommand {
                command_id: due_id(crn, sentence_id.0, era.as_str(), boundary),
                on: boundary,
                command,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_without_handover_dates_has_nothing_due() {
        let crn = Crn::new("X123456").unwrap();
        let (due, blocked) =
            due_commands(&crn, &CaseState::default(), jiff::civil::date(2030, 1, 1));
        assert!(due.is_empty() && blocked.is_empty());
    }

    #[test]
    fn due_ids_are_deterministic_and_distinct() {
        let crn = Crn::new("X123456").unwrap();
        let d = jiff::civil::date(2021, 1, 1);
        assert_eq!(due_id(&crn, 1, "com", d), due_id(&crn, 1, "com", d));
        assert_ne!(
            due_id(&crn, 1, "com", d),
            due_id(&crn, 1, "responsibility", d)
        );
        assert_ne!(due_id(&crn, 1, "com", d), due_id(&crn, 2, "com", d));
    }
}
