//! Errors of the projection layer. Every variant says what to do next.

use caseledger_store::StoreError;

#[derive(thiserror::Error, Debug)]
pub enum ProjectionError {
    #[error("event at position {position} (stream {stream}, type {event_type}) cannot be folded: {reason}; this version of caseledger does not understand it — upgrade caseledger or check the log with `caseledger verify`")]
    UndecodableEvent {
        position: u64,
        stream: String,
        event_type: String,
        reason: String,
    },
    #[error("the log skipped from position {checkpoint} to {got}; positions must be gapless — check the log with `caseledger verify`")]
    LogGap { checkpoint: u64, got: u64 },
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// A person's data key cannot be read (docs/operations.md "Key management").
    #[error(transparent)]
    Keyring(#[from] caseledger_store::KeyringError),
    /// An event cannot be encoded as a payload (synthetic logs); nothing was written.
    #[error(transparent)]
    Payload(#[from] caseledger_payload::PayloadError),
    #[error("read-model database: {0}; if it is damaged, delete the readmodels directory and run `caseledger rebuild`")]
    Database(String),
    #[error("read-model database is in use by another process ({path}); stop it or use another --data directory")]
    DatabaseInUse { path: String },
    #[error("stored {what} is corrupt: {reason}; run `caseledger rebuild`")]
    Corrupt { what: String, reason: String },
    #[error("projection {projection:?} has no read model {model:?}; known: {known}")]
    UnknownModel {
        projection: String,
        model: String,
        known: String,
    },
    #[error("{0}")]
    InvalidArgument(String),
}

impl From<sled::Error> for ProjectionError {
    fn from(e: sled::Error) -> Self {
        ProjectionError::Database(e.to_string())
    }
}
