//! What replay needs to know about a case's events and state, and nothing more: decode a
//! record, fold it into the state, show both as JSON, and say whether an event is a decision or
//! a correction. [`crate::domain_model::DomainCase`] implements it with the domain's `Event`,
//! `CaseState` and `evolve`; keeping the replay algorithms behind this trait keeps them small
//! and lets the benchmark and the tests run them on the real domain without knowing its shapes.

use caseledger_store::RecordedEvent;
use serde_json::Value;
use uuid::Uuid;

use crate::diff::{diff, Change};

/// A correction names the event it corrects and says why (design.md invariant 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrectionOf {
    pub corrected_event_id: Uuid,
    pub reason: String,
}

/// Ruleset and reason code carried by a decision event (design.md invariant 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionOf {
    pub ruleset_id: String,
    pub reason_code: String,
}

pub trait CaseModel {
    type Event;
    type State: Clone;

    /// The state of a case before its first event.
    fn initial(&self) -> Self::State;
    /// The record's payload as an event; an error names what is wrong with it.
    fn decode(&self, record: &RecordedEvent) -> Result<Self::Event, String>;
    /// The state after `event`, stored as `record` (the domain's `evolve_recorded`: pure).
    fn apply(
        &self,
        state: Self::State,
        record: &RecordedEvent,
        event: &Self::Event,
    ) -> Result<Self::State, String>;
    /// Does `event`, stored as `record`, apply as of the effective instant `at_us`?
    fn effective_by(&self, record: &RecordedEvent, event: &Self::Event, at_us: i64) -> bool {
        let _ = event;
        record.effective_at_us <= at_us
    }
    fn event_json(&self, event: &Self::Event) -> Value;
    fn state_json(&self, state: &Self::State) -> Value;
    /// What changed from `before` to `after`, as [`diff`] of their JSON forms would say (the
    /// same changes; their order may differ). This default turns both states whole into JSON,
    /// which costs the size of the state for every event; a model that can compare its parts
    /// directly should, so that replaying a long case does not cost its length squared.
    fn changes(&self, before: &Self::State, after: &Self::State) -> Vec<Change> {
        diff(&self.state_json(before), &self.state_json(after))
    }
    fn correction(&self, event: &Self::Event) -> Option<CorrectionOf>;
    fn decision(&self, event: &Self::Event) -> Option<DecisionOf>;
}
