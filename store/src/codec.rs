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
        RECORD_FORMAT_V1 => {
            decode_v1(body).map_err(|e| StoreError::Codec(format!("record format v1: {e}")))
        }
        other => Err(StoreError::Codec(format!(
            "unknown record format version {other}; this build reads version {RECORD_FORMAT_V1}: \
             upgrade caseledger to read this log"
        ))),
    }
}

/// Decode a v1 record body by hand.
///
/// Why not `options().deserialize`: serde drives bincode one element at a time for `Vec<u8>`
/// and `[u8; 32]` (the payload and both hashes), which made decoding the largest share of
/// reading the log (`cargo bench -p caseledger-projections --bench rebuild`, docs/benchmarks.md).
/// The v1 layout is fixed for the life of the log, so it is spelled out here field by field,
/// in `RecordedEvent`'s declaration order: fixed-width little-endian integers; `String` and
/// `Vec<u8>` as a u64 length then the bytes (strings must be UTF-8); `Uuid` as bytes (a u64
/// length that must be 16, then 16 bytes); `[u8; 32]` as 32 bytes with no length. A body
/// longer than [`RECORD_BYTES_MAX`] or with bytes left over is refused, exactly as the
/// configured bincode refuses it. `decoding_by_hand_agrees_with_bincode` (property test) holds
/// this decoder to bincode's answer on valid, mutated and arbitrary bytes.
fn decode_v1(body: &[u8]) -> Result<RecordedEvent, String> {
    if body.len() as u64 > RECORD_BYTES_MAX {
        return Err(format!(
            "{} bytes, more than the limit of {RECORD_BYTES_MAX}",
            body.len()
        ));
    }
    let mut r = Reader(body);
    let record = RecordedEvent {
        position: r.u64()?,
        stream_id: r.string()?,
        stream_version: r.u64()?,
        recorded_at_us: r.i64()?,
        event_id: r.uuid()?,
        event_type: r.string()?,
        schema_version: u16::from_le_bytes(r.array::<2>()?),
        effective_at_us: r.i64()?,
        actor: crate::Actor {
            id: r.string()?,
            role: r.string()?,
            organisation: r.string()?,
        },
        command_id: r.uuid()?,
        correlation_id: r.uuid()?,
        causation_id: r.uuid()?,
        ruleset_id: r.string()?,
        payload: r.bytes()?.to_vec(),
        previous_hash: r.array::<32>()?,
        hash: r.array::<32>()?,
    };
    if !r.0.is_empty() {
        return Err(format!("{} trailing bytes", r.0.len()));
    }
    Ok(record)
}

/// The unread rest of a v1 body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| format!("length {n} does not fit in memory"))?;
        if n > self.0.len() {
            return Err(format!(
                "truncated: {n} bytes wanted, {} left",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self.take(N as u64)?;
        // `take` returned exactly N bytes.
        bytes
            .try_into()
            .map_err(|_| "internal: short read".to_owned())
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array::<8>()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array::<8>()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u64()?;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, String> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| format!("string is not UTF-8: {e}"))
    }

    fn uuid(&mut self) -> Result<uuid::Uuid, String> {
        let bytes = self.bytes()?;
        uuid::Uuid::from_slice(bytes).map_err(|e| format!("uuid: {e}"))
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
        fn decoding_by_hand_agrees_with_bincode(
            index in 0usize..400,
            value in proptest::prelude::any::<u8>(),
            cut in 0usize..400,
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            stream in "[A-Z][0-9]{0,8}",
            role in "\\PC{0,6}",
        ) {
            let mut record = sample();
            record.payload = payload;
            record.stream_id = stream;
            record.actor.role = role;
            let by_serde = |b: &[u8]| options().deserialize::<RecordedEvent>(b).ok();
            let bytes = encode_record(&record).unwrap();
            let body = &bytes[1..];
            proptest::prop_assert_eq!(decode_v1(body).ok(), Some(record));
            // Mutated, truncated and extended bodies: the same answer as bincode.
            let mut mutated = body.to_vec();
            let i = index % mutated.len();
            mutated[i] = value;
            proptest::prop_assert_eq!(decode_v1(&mutated).ok(), by_serde(&mutated));
            let c = cut % body.len();
            proptest::prop_assert_eq!(decode_v1(&body[..c]).ok(), by_serde(&body[..c]));
            let mut extended = body.to_vec();
            extended.push(value);
            proptest::prop_assert_eq!(decode_v1(&extended).ok(), by_serde(&extended));
        }

        #[test]
        fn decoding_arbitrary_bytes_by_hand_agrees_with_bincode(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            proptest::prop_assert_eq!(
                decode_v1(&bytes).ok(),
                options().deserialize::<RecordedEvent>(&bytes).ok()
            );
        }

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
