//! caseledger: an event-sourced case lifecycle engine for probation in England and Wales.
//!
//! This root crate is the facade that services embed ([`Engine`]) and the home of the
//! `caseledger` command-line interface (the `cli` feature, on by default; an embedder that needs
//! only the Engine depends on it with `default-features = false`).
//!
//! The layers beneath, re-exported here:
//! - [`domain`]: the pure functional core (events, state, decide/evolve, policy calculators);
//! - [`store`]: the append-only, hash-chained event log;
//! - [`commands`], [`projections`], [`replay`], [`fixtures`].

pub use caseledger_commands as commands;
pub use caseledger_domain as domain;
pub use caseledger_fixtures as fixtures;
pub use caseledger_payload as payload;
pub use caseledger_projections as projections;
pub use caseledger_replay as replay;
pub use caseledger_store as store;

#[cfg(feature = "cli")]
pub mod cli_consumers;
#[cfg(feature = "cli")]
pub mod cli_data_protection;
#[cfg(feature = "cli")]
pub mod cli_demo;
#[cfg(feature = "cli")]
pub mod cli_identity;
#[cfg(feature = "cli")]
pub mod cli_ops;
#[cfg(feature = "cli")]
pub mod cli_publish;
#[cfg(feature = "cli")]
pub mod cli_replay;
#[cfg(feature = "cli")]
pub mod cli_report;
#[cfg(feature = "serve")]
pub mod cli_serve;
pub mod domain_event;
pub mod engine;
pub mod engine_audit;
pub mod engine_data_protection;
pub mod engine_import;
pub mod engine_read_models;
#[cfg(feature = "cli")]
pub mod policy_cli;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "serve")]
pub mod serve;

pub use caseledger_commands::VerifiedActor;
pub use engine::{Engine, EngineConfig, EngineError, StoreConfig, TickReport};

/// The README's embedding example is compiled and run as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
