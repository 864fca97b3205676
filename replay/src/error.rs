//! Errors of the replay crate. Every message says what is wrong and what to do about it.

use caseledger_store::StoreError;

/// Anything that stops a replay, verification, export or import.
#[derive(thiserror::Error, Debug)]
pub enum ReplayError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the log cannot be read at {range} ({reason}); the records before position {first} are intact on disk: `caseledger export --salvage` writes them, and `caseledger import-log` builds a new store from that")]
    Damaged {
        /// The first position that cannot be read.
        first: u64,
        /// `positions F..=L`, or `positions F onwards` when the damage runs past what was probed.
        range: String,
        reason: String,
    },
    #[error("read models: {0}")]
    Projection(#[from] caseledger_projections::ProjectionError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("checkpoint {input:?} is not ROOT@POSITION: {reason} (ROOT is 64 hex digits as printed by `caseledger verify`, POSITION a whole number ≥ 0)")]
    BadCheckpoint { input: String, reason: String },
    #[error("{option} {input:?}: {reason}")]
    BadAsOf {
        option: String,
        input: String,
        reason: String,
    },
    #[error("the store returned position {actual} where position {expected} was due; the log is not gapless — run `caseledger verify`")]
    PositionGap { expected: u64, actual: u64 },
    #[error("the log is not intact at position {position}: {reason}; nothing was exported — run `caseledger verify` and investigate before exporting")]
    LogNotIntact { position: u64, reason: String },
    #[error("the log moved while it was being read (root over positions 1..={head} changed between two passes); retry when writers are idle")]
    LogChangedDuringRead { head: u64 },
    #[error("payload of the record at position {position} ({event_type} v{schema_version}) cannot be shown as JSON: {reason}")]
    PayloadNotExportable {
        position: u64,
        event_type: String,
        schema_version: u16,
        reason: String,
    },
    #[error("the record at position {position} cannot be replayed: {reason}")]
    Undecodable { position: u64, reason: String },
    #[error("case {stream_id} has {events} events; replay handles at most {max} per case")]
    CaseTooLong {
        stream_id: String,
        events: u64,
        max: u64,
    },
    #[error("no case {stream_id} in the log; check the CRN")]
    NoSuchCase { stream_id: String },
    #[error("no event {event_id} in the log; check the id (as shown by `caseledger replay`)")]
    NoSuchEvent { event_id: String },
    #[error("event {event_id} is a {event_type}, which is a fact, not a decision; explain works on decision events (allocation, tier, escalation outcome, handover dates, breach or recall decision, override)")]
    NotADecision {
        event_id: String,
        event_type: String,
    },
    #[error("import refused at line {line}: {reason}; nothing was imported")]
    ImportLine { line: u64, reason: String },
    #[error("import refused: the target store is not empty (head position {head}); import only into a new, empty store; nothing was imported")]
    TargetNotEmpty { head: u64 },
    #[error("keys file refused at line {line}: {reason}; nothing was imported")]
    KeysLine { line: u64, reason: String },
    #[error("keys file refused: its keys are wrapped under key-encryption key {keys_kek}, but the new store is opened with key {store_kek}: name the file of key {keys_kek} with --key-file (or CASELEDGER_KEY_FILE) and import into a new store; nothing was imported")]
    KeysUnderAnotherKek { keys_kek: String, store_kek: String },
    #[error("keys file refused: it belongs to the export {keys_export}, not to this one ({export}); use the keys file written by the same `caseledger export --keys` run; nothing was imported")]
    KeysForAnotherExport { keys_export: String, export: String },
    #[error("keys file refused at line {line}: case {subject} is not in the export; use the keys file written with this export; nothing was imported")]
    KeysSubjectNotInExport { line: u64, subject: String },
    #[error("import stopped after writing {written} records: {reason}; the target store is incomplete — delete it and import again")]
    ImportWriteFailed { written: u64, reason: String },
}
