//! caseledger-commands: the public command JSON, actor roles and authorisation, and the
//! handler that turns a command into events.
//!
//! | module | job |
//! |---|---|
//! | [`envelope`] | the command JSON (`command_id`, `crn`, `actor`, `effective_at`, `command`) and its strict parser |
//! | [`bounds`] | bounds every command's values keep: dates in 1900–2100, a command id that is not the nil UUID |
//! | [`role`] | actor roles and the authorisation matrix |
//! | [`cache`] | bounded least-recently-used case states, so a command folds only what it has not seen |
//! | [`handler`] | authorise → load → decide → derived decisions → append with expected version |
//! | [`derived`] | re-export of `caseledger_domain::derived`: recalculate handover dates and tier when an input changed |
//! | [`due`] | pure: time-driven commands (COM allocation, responsibility transfer) |
//! | [`audit`] | the `audit-refusals` stream of refused commands |

pub mod audit;
pub mod bounds;
pub mod cache;
pub mod derived;
pub mod due;
pub mod envelope;
pub mod handler;
pub mod role;

pub use audit::{CommandRefused, OperatorSession, RefusalKind, REFUSALS_STREAM, SESSIONS_STREAM};
pub use derived::derived_decisions;
pub use due::{due_commands, Blocked, DueCommand};
pub use envelope::{
    parse_command, parse_command_as, parse_command_with_header, CommandActor, CommandEnvelope,
    EffectiveAt, ParseError, PartialHeader, VerifiedActor, ENGINE_ACTOR_ID,
};
pub use handler::{load_case, CommandError, Handler, Receipt, Refusal};
pub use role::{authorise, AuthorisationError, Role};
