//! `caseledger policy handover|tier`: the JSON Lines contract of
//! `docs/policy-cli-contract.md`.
//!
//! Each line is parsed and validated here (the shell), then handed to the pure calculators
//! in `caseledger_domain::{handover, tier}` (the core). One output line per input line, in
//! order; a bad line yields `{"id": ..., "error": "<field>: <why>"}` and processing continues.

pub mod common;
pub mod handover;
pub mod tier;
