//! The only place the PostgreSQL backend touches the shared codec, hash chain and input
//! validation, so records are byte-identical across backends.
//!
//! TEMPORARY: until the store branch (codec.rs, hash.rs) is merged, these are stand-ins with
//! the same shape; they are replaced by calls to `crate::codec` / `crate::hash` at the merge.

use sha2::{Digest, Sha256};

use crate::{NewEvent, RecordedEvent, StoreError, EVENTS_PER_APPEND_MAX, EVENT_PAYLOAD_BYTES_MAX};

/// Canonical bytes of a whole record (version byte first).
pub(crate) fn encode(record: &RecordedEvent) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![1u8];
    out.extend(bincode::serialize(record).map_err(|e| StoreError::Codec(e.to_string()))?);
    Ok(out)
}

/// Inverse of [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    match bytes.split_first() {
        Some((1, rest)) => bincode::deserialize(rest).map_err(|e| StoreError::Codec(e.to_string())),
        Some((v, _)) => Err(StoreError::Codec(format!("unknown record version {v}"))),
        None => Err(StoreError::Codec("empty record".into())),
    }
}

/// SHA-256 over every field but `hash`.
pub(crate) fn record_hash(record: &RecordedEvent) -> [u8; 32] {
    let mut unhashed = record.clone();
    unhashed.hash = [0; 32];
    let bytes = bincode::serialize(&unhashed).unwrap_or_default();
    Sha256::digest(&bytes).into()
}

/// The checks every backend makes before writing anything.
pub(crate) fn validate(events: &[NewEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Err(StoreError::EmptyAppend);
    }
    if events.len() > EVENTS_PER_APPEND_MAX {
        return Err(StoreError::TooManyEvents {
            count: events.len(),
            max: EVENTS_PER_APPEND_MAX,
        });
    }
    for (index, e) in events.iter().enumerate() {
        if e.payload.len() > EVENT_PAYLOAD_BYTES_MAX {
            return Err(StoreError::EventTooLarge {
                index,
                bytes: e.payload.len(),
                max: EVENT_PAYLOAD_BYTES_MAX,
            });
        }
        if e.event_type.is_empty() {
            return Err(StoreError::InvalidEvent {
                index,
                reason: "event type is empty".into(),
            });
        }
    }
    Ok(())
}
