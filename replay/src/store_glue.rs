//! The two things replay needs from the store's codec: the canonical bytes of a record (the
//! Merkle leaf) and the record hash (the chain). Kept in one place so the rest of the crate
//! never depends on how the store encodes.

use caseledger_store::{codec, hash, RecordedEvent, StoreError};

use crate::merkle::Hash32;

/// Canonical bytes of the whole record, hash included: the store codec's record encoding
/// (version byte + body). The Merkle leaf input.
pub fn canonical_record_bytes(record: &RecordedEvent) -> Result<Vec<u8>, StoreError> {
    codec::encode_record(record)
}

/// Recompute `record.hash` from every other field, as the store does when it appends.
pub fn recompute_hash(record: &RecordedEvent) -> Result<Hash32, StoreError> {
    hash::record_hash(record)
}
