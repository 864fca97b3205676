//! caseledger-domain: the functional core.
//!
//! Value types, events, case state, `decide` / `evolve`, the policy calculators (handover,
//! tier, workload, compliance), rulesets by era and the working-day calendar.
//!
//! This crate does no I/O, has no async and never reads a clock: `today` is always an
//! argument, so the same inputs always give the same outputs (design.md, "Layout").
//! Dates are `jiff::civil::Date`; month arithmetic clamps to the end of the month
//! (handover-rules.md §2 D2), which is jiff's behaviour for `Span` months.
//!
//! Lifecycle map: [`identity`], [`reference`], [`risk`], [`sentence`] and [`enforcement`]
//! hold the value types, and the calculators own theirs ([`handover::HandoverEra`],
//! [`handover::Responsibility`], [`tier::V2Tier`]); [`event`] the events; [`state`] the case
//! state and [`evolve`]; [`command`] the domain commands; [`decide`] the rules; [`ruleset`]
//! the eras.

pub mod calendar;
pub mod command;
pub mod compliance;
pub mod decide;
pub mod derived;
pub mod enforcement;
pub mod error;
pub mod event;
pub mod handover;
pub mod identity;
pub mod reference;
pub mod retention;
pub mod risk;
pub mod ruleset;
pub mod sealable;
pub mod sentence;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tier;
pub mod workload;

pub use command::DomainCommand;
pub use decide::decide;
pub use error::{DomainError, ValueError};
pub use event::{Event, EVENT_TYPES};
pub use ruleset::Ruleset;
pub use state::{evolve, evolve_recorded, CaseState};
