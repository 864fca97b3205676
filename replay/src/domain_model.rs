//! [`CaseModel`] for the domain: its `Event`, `CaseState` and `evolve`.

use caseledger_domain::event::{Decision, Event};
use caseledger_domain::state::{evolve, CaseState};
use caseledger_store::RecordedEvent;
use serde_json::Value;
use uuid::Uuid;

use crate::domain_payload::decode_event;
use crate::model::{CaseModel, CorrectionOf, DecisionOf};

/// The domain's case lifecycle, as replay sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct DomainCase;

/// The ruleset and reason code of a decision event (design.md invariant 5: every decision
/// event carries them), read from its payload; `None` for facts that are not decisions.
pub fn decision_of(event: &Event) -> Option<&Decision> {
    use Event as E;
    Some(match event {
        E::BreachConcluded(e) => &e.decision,
        E::BreachRaised(e) => &e.decision,
        E::CaseAllocatedToProvider(e) => &e.decision,
        E::CaseTransferredToNps(e) => &e.decision,
        E::CaseTransferredToUnifiedService(e) => &e.decision,
        E::HandoverDatesCalculated(e) => &e.decision,
        E::MappaLevelSet(e) => &e.decision,
        E::MappaReferred(e) => &e.decision,
        E::PractitionerAllocated(e) => &e.decision,
        E::PractitionerReallocated(e) => &e.decision,
        E::PrisonOffenderManagerAllocated(e) => &e.decision,
        E::RecallConcluded(e) => &e.decision,
        E::RecallRaised(e) => &e.decision,
        E::ResponsibilityOverridden(e) => &e.decision,
        E::ResponsibilityTransferred(e) => &e.decision,
        E::RiskAssessed(e) => &e.decision,
        E::RiskEscalationDecided(e) => &e.decision,
        E::RiskEscalationRequested(e) => &e.decision,
        E::TierCalculated(e) => &e.decision,
        E::TierReviewTriggered(e) => &e.decision,
        E::WarningIssued(e) => &e.decision,
        _ => return None,
    })
}

impl CaseModel for DomainCase {
    type Event = Event;
    type State = CaseState;

    fn initial(&self) -> CaseState {
        CaseState::default()
    }

    fn decode(&self, record: &RecordedEvent) -> Result<Event, String> {
        decode_event(&record.event_type, record.schema_version, &record.payload)
    }

    fn apply(&self, state: CaseState, event: &Event) -> Result<CaseState, String> {
        Ok(evolve(state, event))
    }

    fn event_json(&self, event: &Event) -> Value {
        match serde_json::to_value(event) {
            Ok(Value::Object(mut tagged)) if tagged.len() == 1 => {
                tagged.remove(event.event_type()).unwrap_or(Value::Null)
            }
            Ok(other) => other,
            Err(e) => Value::String(format!("(cannot be shown as JSON: {e})")),
        }
    }

    fn state_json(&self, state: &CaseState) -> Value {
        serde_json::to_value(state)
            .unwrap_or_else(|e| Value::String(format!("(cannot be shown as JSON: {e})")))
    }

    fn correction(&self, event: &Event) -> Option<CorrectionOf> {
        match event {
            Event::EventCorrected(c) => Some(CorrectionOf {
                corrected_event_id: Uuid::parse_str(c.corrected_event_id.as_str())
                    .unwrap_or_default(),
                reason: c.reason.as_str().to_owned(),
            }),
            _ => None,
        }
    }

    fn decision(&self, event: &Event) -> Option<DecisionOf> {
        decision_of(event).map(|d| DecisionOf {
            ruleset_id: d.ruleset_id.as_str().to_owned(),
            reason_code: d.reason_code.as_str().to_owned(),
        })
    }
}
