//! What replay needs from the store's codec: the canonical bytes of a record (the Merkle
//! leaf). Kept in one place so the rest of the crate never depends on how the store encodes;
//! the chain is checked by the store's `hash::ChainVerifier`.

use caseledger_store::{codec, RecordedEvent, StoreError};

/// Canonical bytes of the whole record, hash included: the store codec's record encoding
/// (version byte + body). The Merkle leaf input.
pub fn canonical_record_bytes(record: &RecordedEvent) -> Result<Vec<u8>, StoreError> {
    codec::encode_record(record)
}
