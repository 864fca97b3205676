//! caseledger-replay: audit replay of the caseledger log.
//!
//! - [`merkle`]: RFC 6962 tree hash over the records, streaming, bounded memory.
//! - [`verify`]: the hash chain and the Merkle root over the whole log; `--extends` checks.
//! - [`export`] / [`import`]: self-describing JSON Lines, and import that refuses any
//!   tampered line before writing anything.

pub mod asof;
pub mod backup_keys;
pub mod diff;
pub mod domain_model;
pub mod domain_payload;
pub mod error;
pub mod explain;
pub mod export;
pub mod history;
pub mod import;
pub mod merkle;
pub mod model;
pub mod payload;
pub mod read_models;
pub mod redecide;
pub mod render;
mod store_glue;
pub mod verify;

pub use error::ReplayError;
