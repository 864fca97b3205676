//! Derived decisions (recalculate handover dates and tier when an input changed) now live in
//! the domain, `caseledger_domain::derived`, so replay's explain rebuilds inputs with the very
//! builder the handler uses. Re-exported here for the handler and existing callers.

pub use caseledger_domain::derived::*;
