//! Which events change an input of the handover or tier calculators, and the reason code a
//! recalculation records.

use crate::event::Event;

/// Does this event change an input of the handover calculator? Sentence dates, MAPPA
/// registration, risk assessment, registrations, provider allocation, breach and recall
/// (handover-rules.md §3.1 lists the inputs). RoSH is an input however it changes: an
/// assessment, the NPS's escalation decision (seed 001 l.55–68) or a correction that retracts
/// either (COR-1).
pub fn triggers_handover(event: &Event) -> bool {
    matches!(
        event,
        Event::SentenceImposed(_)
            | Event::SentenceDatesRecalculated(_)
            | Event::MappaLevelSet(_)
            | Event::RegistrationAdded(_)
            | Event::RegistrationRemoved(_)
            | Event::RiskAssessed(_)
            | Event::CaseAllocatedToProvider(_)
            | Event::CaseTransferredToNps(_)
            | Event::CaseTransferredToUnifiedService(_)
            | Event::CaseTransferredBetweenPdus(_)
            | Event::RecallRaised(_)
            | Event::RecallConcluded(_)
            | Event::BreachRaised(_)
            | Event::BreachConcluded(_)
            | Event::RiskEscalationDecided(_)
            | Event::EventCorrected(_)
    )
}

/// Does this event trigger a tier recalculation? (tier-rules.md §9: case created,
/// registration added/removed, requirement terminated, sentence added/amended/terminated,
/// breach and recall raised/concluded, OASys assessment scores.) RoSH is a tier input however
/// it changes (§9 "RoSH change"): the NPS's escalation decision (seed 001 l.55–68) and a
/// correction that retracts an assessment or registration (COR-1) trigger it too. An order
/// that ends on its date (LAPSE-1) is a sentence terminated.
pub fn triggers_tier(event: &Event) -> bool {
    matches!(
        event,
        Event::CaseOpened(_)
            | Event::CaseReopened(_)
            | Event::SentenceImposed(_)
            | Event::SentenceDatesRecalculated(_)
            | Event::SentenceTerminated(_)
            | Event::SupervisionLapsed(crate::event::SupervisionLapsed {
                period: crate::event::SupervisionPeriod::Order,
                ..
            })
            | Event::RegistrationAdded(_)
            | Event::RegistrationRemoved(_)
            | Event::RequirementCompleted(_)
            | Event::RequirementTerminated(_)
            | Event::BreachRaised(_)
            | Event::BreachConcluded(_)
            | Event::RecallRaised(_)
            | Event::RecallConcluded(_)
            | Event::RiskAssessed(_)
            | Event::PredictorScoresAssessed(_)
            | Event::RiskEscalationDecided(_)
            | Event::EventCorrected(_)
    )
}

/// `SentenceImposed` → `sentence_imposed`: the reason code of a recalculation names its
/// trigger (tier-rules.md §9: "each stored result should carry … the change reason").
pub fn trigger_reason(event: &Event) -> String {
    let mut out = String::new();
    for (i, c) in event.event_type().chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ReasonCode;
    use crate::identity::Text;
    use jiff::civil::date;

    #[test]
    fn trigger_reasons_are_snake_case_event_names() {
        let e: Event = crate::event::CaseClosed {
            closed_on: date(2020, 1, 1),
            reason: Text::new("order ended").unwrap(),
        }
        .into();
        assert_eq!(trigger_reason(&e), "case_closed");
        assert!(ReasonCode::new(trigger_reason(&e)).is_ok());
    }

    /// tier-rules.md §9: closing a case is not a tier trigger, and nothing about it changes a
    /// handover input (handover-rules.md §3.1).
    #[test]
    fn tier_9_case_closed_triggers_neither_calculator() {
        let e: Event = crate::event::CaseClosed {
            closed_on: date(2020, 1, 1),
            reason: Text::new("order ended").unwrap(),
        }
        .into();
        assert!(!triggers_tier(&e));
        assert!(!triggers_handover(&e));
    }
}
