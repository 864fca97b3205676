//! Byte encodings of the sled log's keys and of its idempotency-index values.

use super::*;

/// The stored value of the idempotency index (versioned through the codec like records):
/// format 2 keeps the request's fingerprint; format 1 entries, written before fingerprints
/// were kept, still decode (fingerprint unknown).
#[derive(Serialize, Deserialize)]
pub(super) struct StoredIdempotency {
    pub(super) format: u8,
    pub(super) entry: IdempotencyEntry,
}

/// Format 1 of the idempotency index value.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredIdempotencyV1 {
    pub(super) format: u8,
    pub(super) stream_id: String,
    pub(super) result: AppendResult,
}

/// The format byte of an idempotency index value that keeps the fingerprint.
pub(super) const IDEMPOTENCY_FORMAT_V2: u8 = 2;

pub(super) fn backend(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {e}"))
}

pub(super) fn record_key(position: u64) -> [u8; 9] {
    let mut key = [KEY_PREFIX_RECORD; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

pub(super) fn stream_index_key(stream: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + stream.len() + 9);
    key.push(KEY_PREFIX_STREAM_INDEX);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

pub(super) fn idempotency_key(command_id: &Uuid) -> [u8; 17] {
    let mut key = [KEY_PREFIX_IDEMPOTENCY; 17];
    key[1..].copy_from_slice(command_id.as_bytes());
    key
}

pub(super) fn u64_from(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        position: 0,
        reason: format!("{what} is {} bytes, expected 8", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}

/// The position in a record key (`r` ‖ u64 BE).
pub(super) fn position_of_record_key(key: &[u8]) -> Result<u64, StoreError> {
    match key.split_first() {
        Some((&KEY_PREFIX_RECORD, position)) => u64_from(position, "record key"),
        _ => Err(StoreError::Corrupt {
            position: 0,
            reason: format!("{key:?} is not a record key"),
        }),
    }
}

/// Decode the record stored under `key_position`, insisting it says the same position.
pub(super) fn decode_at(key_position: u64, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    let record = codec::decode_record(bytes).map_err(|e| StoreError::Corrupt {
        position: key_position,
        reason: e.to_string(),
    })?;
    if record.position != key_position {
        return Err(StoreError::Corrupt {
            position: key_position,
            reason: format!(
                "record stored under position {key_position} says {}",
                record.position
            ),
        });
    }
    Ok(record)
}

pub(super) fn encode_idempotency(entry: &IdempotencyEntry) -> Result<Vec<u8>, StoreError> {
    codec::encode_payload(&StoredIdempotency {
        format: IDEMPOTENCY_FORMAT_V2,
        entry: entry.clone(),
    })
}

pub(super) fn decode_idempotency(bytes: &[u8]) -> Result<IdempotencyEntry, StoreError> {
    let codec_error = |e: StoreError| StoreError::Codec(format!("idempotency index entry: {e}"));
    match bytes.first().copied() {
        Some(codec::RECORD_FORMAT_V1) => {
            let stored: StoredIdempotencyV1 = codec::decode_payload(bytes).map_err(codec_error)?;
            Ok(IdempotencyEntry {
                stream_id: stored.stream_id,
                result: stored.result,
                fingerprint: None,
            })
        }
        Some(IDEMPOTENCY_FORMAT_V2) => {
            let stored: StoredIdempotency = codec::decode_payload(bytes).map_err(codec_error)?;
            Ok(stored.entry)
        }
        other => Err(StoreError::Codec(format!(
            "idempotency index entry has format {other:?}; this build reads 1 and 2"
        ))),
    }
}

/// The version in a stream index key (`s` ‖ stream ‖ 0x00 ‖ version BE).
pub(super) fn version_of_stream_index_key(key: &[u8]) -> Result<u64, StoreError> {
    u64_from(
        key.get(key.len().saturating_sub(8)..).unwrap_or_default(),
        "stream index key version",
    )
}
