//! The audit stream of refused commands: who tried what, when, and why it was refused.
//!
//! A refused command writes nothing to its case; the refusal is appended to the stream
//! [`REFUSALS_STREAM`] instead, once per command id (the refusal's idempotency key is derived
//! from the command id, so re-sending a refused command does not record it twice).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Stream id of the refusal audit trail (docs/commands.md, "Decisions already made").
pub const REFUSALS_STREAM: &str = "audit-refusals";
/// Event type of a refusal record in the envelope.
pub const COMMAND_REFUSED: &str = "CommandRefused";
/// Schema version of [`CommandRefused`].
pub const COMMAND_REFUSED_SCHEMA_VERSION: u16 = 1;
/// Longest refusal reason stored, in bytes; longer reasons are cut at a character boundary.
pub const REFUSAL_REASON_BYTES_MAX: usize = 2_048;

/// Stream of operator sessions: one record per run of a trusted operator shell (the CLI), naming
/// the operating-system user who ran it. Every event the run writes carries the session id as
/// its `correlation_id`, so each event leads to the person at the keyboard as well as to the
/// actor the command declared (docs/decisions/0006-operator-identity.md).
pub const SESSIONS_STREAM: &str = "audit-sessions";
/// Event type of a session record.
pub const OPERATOR_SESSION: &str = "OperatorSession";
/// Schema version of [`OperatorSession`].
pub const OPERATOR_SESSION_SCHEMA_VERSION: u16 = 1;

/// One run of the operator CLI (payload of an `OperatorSession` event on [`SESSIONS_STREAM`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSession {
    /// The `correlation_id` of every event and refusal this run writes.
    pub session_id: Uuid,
    /// The operating-system user the process ran as (effective uid, name from the password
    /// database; `uid:N` when it has no name).
    pub os_user: String,
    pub os_uid: u32,
    /// What ran (`caseledger import`, `caseledger exec`).
    pub program: String,
    /// SHA-256 of the `--actor-policy` file in force, if any.
    pub actor_policy_sha256: Option<String>,
}

/// Namespace of the idempotency keys of refusal records (UUID v5 over the command id).
const REFUSAL_KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6a0d_5f3e_8c1b_4e7a_9d2c_3b4a_5f60_7e81);

/// Why a command was refused, in families a reader can filter on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The actor's role may not send this command.
    Unauthorised,
    /// The command could not be read (bad JSON, a bad field).
    BadInput,
    /// The domain rules refused it for this case in its current state.
    Rule,
    /// Its command id already names another command (used on another case).
    IdempotencyConflict,
}

/// One refusal record (payload of a `CommandRefused` event on [`REFUSALS_STREAM`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRefused {
    pub command_id: Uuid,
    /// The CRN the command was addressed to, as written (may be malformed for bad input).
    pub crn: String,
    pub actor_id: String,
    pub actor_role: String,
    pub actor_organisation: String,
    /// Public command type (`assess_risk`), or what was written for bad input.
    pub command_type: String,
    /// The command's effective date, `YYYY-MM-DD`, when it could be read.
    pub effective_on: Option<String>,
    pub kind: RefusalKind,
    pub reason: String,
}

/// The idempotency key of the refusal record of `command_id`.
pub fn refusal_key(command_id: Uuid) -> Uuid {
    Uuid::new_v5(&REFUSAL_KEY_NAMESPACE, command_id.as_bytes())
}

/// Cut `reason` to at most [`REFUSAL_REASON_BYTES_MAX`] bytes at a character boundary.
pub fn bounded_reason(reason: &str) -> String {
    if reason.len() <= REFUSAL_REASON_BYTES_MAX {
        return reason.to_owned();
    }
    let mut end = REFUSAL_REASON_BYTES_MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_keys_differ_from_command_ids_and_are_stable() {
        let id = Uuid::from_u128(42);
        assert_ne!(refusal_key(id), id);
        assert_eq!(refusal_key(id), refusal_key(id));
        assert_ne!(refusal_key(id), refusal_key(Uuid::from_u128(43)));
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let long = "é".repeat(REFUSAL_REASON_BYTES_MAX);
        let cut = bounded_reason(&long);
        assert!(cut.len() <= REFUSAL_REASON_BYTES_MAX);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
