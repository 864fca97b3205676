//! The two things replay needs from the store's codec: the canonical bytes of a record (the
//! Merkle leaf) and the record hash (the chain). Kept in one place so the rest of the crate
//! never depends on how the store encodes.
//!
//! TEMPORARY until the store branch lands its codec: a local stand-in so the crate builds.

use caseledger_store::{RecordedEvent, StoreError};
use sha2::{Digest, Sha256};

use crate::merkle::Hash32;

/// Canonical bytes of the whole record (hash included): the Merkle leaf input.
pub fn canonical_record_bytes(record: &RecordedEvent) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Recompute `record.hash` from every other field.
pub fn recompute_hash(record: &RecordedEvent) -> Result<Hash32, StoreError> {
    let mut copy = record.clone();
    copy.hash = [0; 32];
    Ok(Sha256::digest(canonical_record_bytes(&copy)?).into())
}
