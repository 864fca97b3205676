//! The ONE codec of caseledger: how records (and, for the crates above, payloads) become bytes.
//!
//! bincode is pinned at `=1.3.3` (the 3.0.0 release on the registry is a deliberate compile
//! error and the crate is unmaintained, so 1.3.3 is final). Everything bincode-specific lives
//! in this module behind ONE explicitly configured options value, [`options`]; no other module
//! may call bincode.
//!
//! Stored record layout, fixed for the life of the log:
//!
//! ```text
//! byte 0      format/codec version (RECORD_FORMAT_V1 = 1)
//! bytes 1..   bincode(RecordedEvent) with options(): fixed-width integers, little endian,
//!             u64 length prefixes, no trailing bytes, at most RECORD_BYTES_MAX bytes
//! ```
//!
//! A future codec gets a new version byte; decoders dispatch on it record by record, so old
//! records stay readable forever. Golden byte fixtures under `fixtures/golden/` pin v1.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{RecordedEvent, StoreError, RECORD_BYTES_MAX};

/// Version byte of the first (and so far only) record format.
pub const RECORD_FORMAT_V1: u8 = 1;

/// The ONE bincode configuration. Every setting is spelled out rather than left to bincode's
/// defaults, so that an upgrade of bincode cannot silently change the bytes:
/// - fixed-width integers (`u64` is always 8 bytes; no varint surprises),
/// - little endian,
/// - a size limit of [`RECORD_BYTES_MAX`], so a corrupt length prefix fails instead of
///   allocating without bound,
/// - trailing bytes rejected, so a record is exactly its encoding.
pub fn options() -> impl Options + Copy {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(RECORD_BYTES_MAX)
        .reject_trailing_bytes()
}

/// Encode a record for storage: version byte + bincode body.
pub fn encode_record(record: &RecordedEvent) -> Result<Vec<u8>, StoreError> {
    let body_len = options()
        .serialized_size(record)
        .map_err(|e| StoreError::Codec(format!("record at position {}: {e}", record.position)))?;
    // serialized_size is bounded by RECORD_BYTES_MAX, which fits in usize on every target we
    // build for; fall back to no pre-allocation rather than panic.
    let mut bytes = Vec::with_capacity(usize::try_from(body_len).unwrap_or(0).saturating_add(1));
    bytes.push(RECORD_FORMAT_V1);
    options()
        .serialize_into(&mut bytes, record)
        .map_err(|e| StoreError::Codec(format!("record at position {}: {e}", record.position)))?;
    Ok(bytes)
}

/// Decode a stored record. Corrupt, truncated, over-long or unknown-version bytes return
/// [`StoreError::Codec`]; this function never panics on any input.
pub fn decode_record(bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Codec("empty record: no format version byte".into()))?;
    match version {
        RECORD_FORMAT_V1 => options()
            .deserialize::<RecordedEvent>(body)
            .map_err(|e| StoreError::Codec(format!("record format v1: {e}"))),
        other => Err(StoreError::Codec(format!(
            "unknown record format version {other}; this build reads version {RECORD_FORMAT_V1}: \
             upgrade caseledger to read this log"
        ))),
    }
}

/// Encode a domain payload with the same options (no version byte: the envelope's
/// `event_type` + `schema_version` say how to read it).
pub fn encode_payload<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    options()
        .serialize(value)
        .map_err(|e| StoreError::Codec(format!("payload: {e}")))
}

/// Decode a domain payload written by [`encode_payload`]. Never panics on any input.
pub fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    options()
        .deserialize(bytes)
        .map_err(|e| StoreError::Codec(format!("payload: {e}")))
}

/// Stream `value` with the ONE options into `writer` (used by the hash to feed SHA-256
/// without an intermediate buffer).
pub(crate) fn serialize_into<W: std::io::Write, T: Serialize>(
    writer: W,
    value: &T,
) -> Result<(), StoreError> {
    options()
        .serialize_into(writer, value)
        .map_err(|e| StoreError::Codec(format!("canonical encoding: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Actor;
    use uuid::Uuid;

    fn sample() -> RecordedEvent {
        RecordedEvent {
            position: 7,
            stream_id: "X123456".into(),
            stream_version: 3,
            recorded_at_us: 1_700_000_000_000_000,
            event_id: Uuid::from_u128(1),
            event_type: "SentenceImposed".into(),
            schema_version: 1,
            effective_at_us: 1_699_000_000_000_000,
            actor: Actor {
                id: "court-1".into(),
                role: "Court".into(),
                organisation: "HMCTS".into(),
            },
            command_id: Uuid::from_u128(2),
            correlation_id: Uuid::from_u128(3),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload: vec![1, 2, 3],
            previous_hash: [9; 32],
            hash: [8; 32],
        }
    }

    #[test]
    fn record_round_trips_and_starts_with_version_byte() {
        let record = sample();
        let bytes = encode_record(&record).unwrap();
        assert_eq!(bytes[0], RECORD_FORMAT_V1);
        // Fixed-width little-endian: the position is the first body field.
        assert_eq!(&bytes[1..9], &7u64.to_le_bytes());
        assert_eq!(decode_record(&bytes).unwrap(), record);
    }

    #[test]
    fn unknown_version_empty_truncated_and_trailing_bytes_are_errors() {
        let bytes = encode_record(&sample()).unwrap();
        let mut wrong_version = bytes.clone();
        wrong_version[0] = 2;
        let err = decode_record(&wrong_version).unwrap_err();
        assert!(err.to_string().contains("unknown record format version 2"));
        assert!(matches!(decode_record(&[]), Err(StoreError::Codec(_))));
        for cut in [1, 2, 9, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(
                decode_record(&bytes[..cut]),
                Err(StoreError::Codec(_))
            ));
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            decode_record(&trailing),
            Err(StoreError::Codec(_))
        ));
    }

    #[test]
    fn huge_length_prefix_is_refused_without_allocating() {
        let mut bytes = encode_record(&sample()).unwrap();
        // stream_id length prefix sits after the position (8 bytes): claim u64::MAX bytes.
        bytes[9..17].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(decode_record(&bytes), Err(StoreError::Codec(_))));
    }

    #[test]
    fn payloads_round_trip_with_the_same_options() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct P {
            crn: String,
            level: u8,
        }
        let p = P {
            crn: "X1".into(),
            level: 2,
        };
        let bytes = encode_payload(&p).unwrap();
        assert_eq!(decode_payload::<P>(&bytes).unwrap(), p);
        assert!(decode_payload::<P>(&bytes[..bytes.len() - 1]).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = decode_record(&bytes);
        }

        #[test]
        fn decoding_a_mutated_record_never_panics(index in 0usize..400, value in proptest::prelude::any::<u8>(), cut in 0usize..400) {
            let mut bytes = encode_record(&sample()).unwrap();
            let i = index % bytes.len();
            bytes[i] = value;
            let _ = decode_record(&bytes);
            let c = cut % bytes.len();
            proptest::prop_assert!(decode_record(&bytes[..c]).is_err());
        }
    }
}
