//! What replay needs to know about a case's events and state, and nothing more: decode a
//! record, fold it into the state, show both as JSON, and say whether an event is a decision or
//! a correction. [`crate::domain_model::DomainCase`] implements it with the domain's `Event`,
//! `CaseState` and `evolve`; keeping the replay algorithms behind this trait keeps them small
//! and lets the benchmark and the tests run them on the real domain without knowing its shapes.

use caseledger_store::RecordedEvent;
use serde_json::Value;
use uuid::Uuid;

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
    /// The state after `event` (the domain's `evolve`: pure).
    fn apply(&self, state: Self::State, event: &Self::Event) -> Result<Self::State, String>;
    fn event_json(&self, event: &Self::Event) -> Value;
    fn state_json(&self, state: &Self::State) -> Value;
    fn correction(&self, event: &Self::Event) -> Option<CorrectionOf>;
    fn decision(&self, event: &Self::Event) -> Option<DecisionOf>;
}
