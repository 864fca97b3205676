//! caseledger-domain: the functional core.
//!
//! Value types, events, case state, `decide` / `evolve`, the policy calculators (handover,
//! tier, workload, compliance), rulesets by era and the working-day calendar.
//!
//! This crate does no I/O, has no async and never reads a clock: `today` is always an
//! argument, so the same inputs always give the same outputs (design.md, "Layout").
//! Dates are `jiff::civil::Date`; month arithmetic clamps to the end of the month
//! (handover-rules.md §2 D2), which is jiff's behaviour for `Span` months.

pub mod calendar;
pub mod compliance;
pub mod handover;
pub mod risk;
pub mod tier;
pub mod workload;
