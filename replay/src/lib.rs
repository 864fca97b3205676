//! caseledger-replay: audit replay of the caseledger log (issue 6).
//!
//! - [`merkle`]: RFC 6962 tree hash over the records, streaming, bounded memory.
pub mod merkle;
