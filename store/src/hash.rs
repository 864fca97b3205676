//! The hash chain over the global log (design invariant 9).
//!
//! `hash = SHA-256(HASH_DOMAIN_V1 ‖ canonical encoding of the record without its hash field)`.
//! The canonical encoding is the v1 bincode encoding of the envelope fields in envelope order
//! with `hash` left out and `previous_hash` included, so each record commits to the whole log
//! before it. Position 1 has `previous_hash = [0; 32]`.
//!
//! Every backend (memory, sled, PostgreSQL) and `replay` use these functions, so a log moved
//! between backends verifies identically. The canonical encoding is fixed forever, even if a
//! later storage codec (a new format version byte) lays the record out differently.

use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{codec, Actor, RecordedEvent, StoreError, VerifyReport};

/// Domain-separation prefix: a hash of a caseledger record can never collide with a hash of
/// some other structure that happens to share its bytes.
pub const HASH_DOMAIN_V1: &[u8] = b"caseledger/record/v1\0";

/// `previous_hash` of position 1.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The fields that are hashed, borrowed, in envelope order (everything but `hash`).
#[derive(Serialize)]
struct HashInput<'a> {
    position: u64,
    stream_id: &'a str,
    stream_version: u64,
    recorded_at_us: i64,
    event_id: &'a Uuid,
    event_type: &'a str,
    schema_version: u16,
    effective_at_us: i64,
    actor: &'a Actor,
    command_id: &'a Uuid,
    correlation_id: &'a Uuid,
    causation_id: &'a Uuid,
    ruleset_id: &'a str,
    payload: &'a [u8],
    previous_hash: &'a [u8; 32],
}

/// Feeds serialized bytes straight into SHA-256.
struct HashWriter<'h>(&'h mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The hash a record must carry. Fails only for a record larger than the codec's size limit
/// (which the store never accepts).
pub fn record_hash(record: &RecordedEvent) -> Result<[u8; 32], StoreError> {
    let input = hash_input(record);
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN_V1);
    codec::serialize_into(HashWriter(&mut hasher), &input)?;
    Ok(hasher.finalize().into())
}

fn hash_input(record: &RecordedEvent) -> HashInput<'_> {
    HashInput {
        position: record.position,
        stream_id: &record.stream_id,
        stream_version: record.stream_version,
        recorded_at_us: record.recorded_at_us,
        event_id: &record.event_id,
        event_type: &record.event_type,
        schema_version: record.schema_version,
        effective_at_us: record.effective_at_us,
        actor: &record.actor,
        command_id: &record.command_id,
        correlation_id: &record.correlation_id,
        causation_id: &record.causation_id,
        ruleset_id: &record.ruleset_id,
        payload: &record.payload,
        previous_hash: &record.previous_hash,
    }
}

/// THE chain check, one record at a time in position order: positions gapless, each
/// `previous_hash` equal to the hash before it, `recorded_at` never decreasing, each `hash`
/// equal to the hash recomputed from the record. Constant size whatever the length of the
/// log. Backends' `verify` feed it pages ([`ChainVerifier::check`], which remembers the first
/// bad position); replay's verify, export and import use [`ChainVerifier::accept`], which
/// says why a record does not fit.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    from_position: u64,
    next_position: u64,
    previous_hash: [u8; 32],
    previous_recorded_at_us: i64,
    records_checked: u64,
    first_bad: Option<(u64, String)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// Start verifying at position 1.
    pub fn new() -> Self {
        Self::after(None)
    }

    /// Start verifying right after `previous` (the record at `from_position - 1`), or at
    /// position 1 when `previous` is `None`.
    pub fn after(previous: Option<&RecordedEvent>) -> Self {
        let (next_position, previous_hash, previous_recorded_at_us) = match previous {
            Some(p) => (p.position.saturating_add(1), p.hash, p.recorded_at_us),
            None => (1, GENESIS_HASH, i64::MIN),
        };
        ChainVerifier {
            from_position: next_position,
            next_position,
            previous_hash,
            previous_recorded_at_us,
            records_checked: 0,
            first_bad: None,
        }
    }

    /// A verifier for the range `from..=to` of a backend's `verify`, given what reading the
    /// record at `from - 1` gave (not read when `from` is 1): `Err` holds the report when that
    /// record is missing or unreadable, since the range's first link cannot be checked.
    pub fn for_range(
        from: u64,
        to: u64,
        previous: Result<Option<RecordedEvent>, String>,
    ) -> Result<ChainVerifier, VerifyReport> {
        if from <= 1 {
            return Ok(ChainVerifier::new());
        }
        let mut broken = ChainVerifier::new();
        match previous {
            Ok(Some(previous)) => return Ok(ChainVerifier::after(Some(&previous))),
            Ok(None) => broken.mark_bad(from - 1, "record is missing"),
            Err(reason) => broken.mark_bad(from - 1, reason),
        }
        Err(broken.finish(to))
    }

    /// The next position this verifier expects.
    pub fn next_position(&self) -> u64 {
        self.next_position
    }

    /// Records accepted so far.
    pub fn records_checked(&self) -> u64 {
        self.records_checked
    }

    /// Hash of the last record accepted (the start's `previous_hash` before the first).
    pub fn last_hash(&self) -> [u8; 32] {
        self.previous_hash
    }

    /// True once a bad record has been seen (later records are not checked).
    pub fn failed(&self) -> bool {
        self.first_bad.is_some()
    }

    /// Mark `position` bad for a reason found outside the chain (e.g. undecodable bytes).
    pub fn mark_bad(&mut self, position: u64, reason: impl Into<String>) {
        if self.first_bad.is_none() {
            self.first_bad = Some((position, reason.into()));
        }
    }

    /// Check the next record, remembering the first bad position. Returns false once the
    /// chain is broken.
    pub fn check(&mut self, record: &RecordedEvent) -> bool {
        if self.failed() {
            return false;
        }
        match self.accept(record) {
            Ok(()) => true,
            Err(reason) => {
                self.mark_bad(self.next_position, reason);
                false
            }
        }
    }

    /// Check `record` as the next one. On failure nothing changes and the reason says which
    /// check failed.
    pub fn accept(&mut self, record: &RecordedEvent) -> Result<(), String> {
        self.accept_hashed(record, record_hash(record))
    }

    /// [`ChainVerifier::accept`] with the hash already recomputed: `recomputed` is what
    /// [`record_hash`] gave for `record`, computed elsewhere (import computes it on a worker
    /// thread while this verifier, which must see records in order, stays on one). The
    /// checks and their order are the same, so a record with several faults is named for the
    /// same one whoever computed the hash.
    pub fn accept_hashed(
        &mut self,
        record: &RecordedEvent,
        recomputed: Result<[u8; 32], StoreError>,
    ) -> Result<(), String> {
        let due = self.next_position;
        if record.position != due {
            return Err(format!(
                "position is {}, position {due} was due (records missing, reordered or inserted)",
                record.position
            ));
        }
        if record.previous_hash != self.previous_hash {
            return Err(format!(
                "previous_hash {} does not match the hash {} of position {}",
                hex::encode(record.previous_hash),
                hex::encode(self.previous_hash),
                due.saturating_sub(1)
            ));
        }
        // Replay's "what did we know at instant R" needs the records known at R to be a prefix
        // of the log: recorded_at must never decrease (store.md, writer rule).
        if record.recorded_at_us < self.previous_recorded_at_us {
            return Err(format!(
                "recorded_at {} µs is earlier than the {} µs of position {} (recorded_at must not decrease)",
                record.recorded_at_us,
                self.previous_recorded_at_us,
                due.saturating_sub(1)
            ));
        }
        let recomputed =
            recomputed.map_err(|e| format!("the record cannot be encoded canonically: {e}"))?;
        if recomputed != record.hash {
            return Err(format!(
                "stored hash {} differs from the hash {} recomputed from the record's contents (the record was altered)",
                hex::encode(record.hash),
                hex::encode(recomputed)
            ));
        }
        self.previous_hash = record.hash;
        self.previous_recorded_at_us = record.recorded_at_us;
        self.next_position = due.saturating_add(1);
        self.records_checked += 1;
        Ok(())
    }

    /// The report for the range checked so far, ending at `to_position`.
    pub fn finish(self, to_position: u64) -> VerifyReport {
        VerifyReport {
            from_position: self.from_position,
            to_position,
            records_checked: self.records_checked,
            first_bad: self.first_bad,
        }
    }
}

/// The range every `verify` checks, shared by the trait's default and the backends' own: the
/// positions `from_position..=to_position` (`None`: to the head) clamped to `1..=head`; `Err`
/// holds the report of an empty range (nothing to check, nothing bad).
pub fn verify_bounds(
    from_position: u64,
    to_position: Option<u64>,
    head: u64,
) -> Result<(u64, u64), VerifyReport> {
    let from = from_position.max(1);
    let to = to_position.unwrap_or(head).min(head);
    if from > to {
        return Err(VerifyReport {
            from_position: from,
            to_position: to,
            records_checked: 0,
            first_bad: None,
        });
    }
    Ok((from, to))
}

/// Verify a contiguous run of records that starts right after `previous` (or at position 1).
pub fn verify_chain<'a>(
    previous: Option<&RecordedEvent>,
    records: impl IntoIterator<Item = &'a RecordedEvent>,
) -> VerifyReport {
    let mut verifier = ChainVerifier::after(previous);
    let mut last = previous.map_or(0, |p| p.position);
    for record in records {
        last = record.position;
        if !verifier.check(record) {
            break;
        }
    }
    verifier.finish(last)
}

/// Fill in `previous_hash` and `hash` of a record that follows `previous_hash`.
pub fn seal(record: &mut RecordedEvent, previous_hash: [u8; 32]) -> Result<(), StoreError> {
    record.previous_hash = previous_hash;
    record.hash = record_hash(record)?;
    Ok(())
}

/// [`seal`] and [`codec::encode_record`] in one pass: the stored v1 record is
/// `RECORD_FORMAT_V1 ‖ canonical encoding ‖ hash` (the envelope ends with `previous_hash`,
/// `hash`, and a `[u8; 32]` encodes as its 32 bytes), so the writer serializes each record
/// ONCE, hashes those bytes in one SHA-256 update, and appends the hash — instead of
/// serializing once into the hasher and again (twice, counting the size pass) for storage.
/// Returns the stored bytes, identical to `codec::encode_record(record)` (asserted in debug
/// builds and by `sealing_and_encoding_in_one_pass_gives_the_stored_bytes`).
pub fn seal_and_encode(
    record: &mut RecordedEvent,
    previous_hash: [u8; 32],
) -> Result<Vec<u8>, StoreError> {
    record.previous_hash = previous_hash;
    let mut bytes = Vec::with_capacity(record_bytes_estimate(record));
    bytes.push(codec::RECORD_FORMAT_V1);
    codec::serialize_into(&mut bytes, &hash_input(record))?;
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN_V1);
    hasher.update(&bytes[1..]);
    record.hash = hasher.finalize().into();
    bytes.extend_from_slice(&record.hash);
    if bytes.len() as u64 > crate::RECORD_BYTES_MAX + 1 {
        return Err(StoreError::Codec(format!(
            "record at position {} is {} bytes encoded; at most {} allowed",
            record.position,
            bytes.len(),
            crate::RECORD_BYTES_MAX
        )));
    }
    debug_assert_eq!(
        codec::encode_record(record).ok().as_deref(),
        Some(bytes.as_slice()),
        "one-pass encoding must equal the codec's"
    );
    Ok(bytes)
}

/// Upper bound of a v1 record's encoded size, so [`seal_and_encode`] allocates once: the
/// version byte, four 8-byte integers, the 2-byte schema version, four UUIDs (each encoded as
/// an 8-byte length and 16 bytes), seven 8-byte length prefixes and two 32-byte hashes, plus
/// the variable-length fields.
fn record_bytes_estimate(record: &RecordedEvent) -> usize {
    const FIXED_BYTES: usize = 1 + 8 * 4 + 2 + (8 + 16) * 4 + 8 * 7 + 32 * 2;
    FIXED_BYTES
        + record.stream_id.len()
        + record.event_type.len()
        + record.actor.id.len()
        + record.actor.role.len()
        + record.actor.organisation.len()
        + record.ruleset_id.len()
        + record.payload.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(position: u64, previous_hash: [u8; 32]) -> RecordedEvent {
        let mut r = RecordedEvent {
            position,
            stream_id: "X1".into(),
            stream_version: position,
            recorded_at_us: 10 * position as i64,
            event_id: Uuid::from_u128(position as u128),
            event_type: "T".into(),
            schema_version: 1,
            effective_at_us: 0,
            actor: Actor::default(),
            command_id: Uuid::nil(),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload: vec![position as u8],
            previous_hash: [0; 32],
            hash: [0; 32],
        };
        seal(&mut r, previous_hash).unwrap();
        r
    }

    fn chain(n: u64) -> Vec<RecordedEvent> {
        let mut out: Vec<RecordedEvent> = Vec::new();
        for p in 1..=n {
            let prev = out.last().map_or(GENESIS_HASH, |r| r.hash);
            out.push(record(p, prev));
        }
        out
    }

    #[test]
    fn sealing_and_encoding_in_one_pass_gives_the_stored_bytes() {
        for position in [1, 2, 300] {
            let mut one_pass = record(position, [7; 32]);
            one_pass.actor.organisation = "Probation Service — N07".into();
            one_pass.ruleset_id = "omic-handover-2023-04".into();
            one_pass.payload = vec![0xAB; 1_000];
            let mut two_pass = one_pass.clone();
            let bytes = seal_and_encode(&mut one_pass, [7; 32]).unwrap();
            seal(&mut two_pass, [7; 32]).unwrap();
            assert_eq!(one_pass, two_pass, "same previous_hash and hash");
            assert_eq!(bytes, codec::encode_record(&two_pass).unwrap());
            assert_eq!(
                bytes.len(),
                bytes.capacity(),
                "the estimate is exact: one allocation"
            );
        }
    }

    #[test]
    fn a_record_over_the_size_limit_is_refused_when_sealed() {
        let mut r = record(1, GENESIS_HASH);
        r.payload = vec![0; crate::RECORD_BYTES_MAX as usize + 1];
        assert!(matches!(
            seal_and_encode(&mut r, GENESIS_HASH),
            Err(StoreError::Codec(_))
        ));
    }

    #[test]
    fn a_sealed_chain_verifies_from_any_start() {
        let records = chain(5);
        let report = verify_chain(None, &records);
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.records_checked, 5);
        let report = verify_chain(Some(&records[1]), &records[2..]);
        assert!(report.is_ok());
        assert_eq!((report.from_position, report.to_position), (3, 5));
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = record(1, GENESIS_HASH);
        let mut variants = Vec::new();
        let mut r = base.clone();
        r.stream_id.push('x');
        variants.push(r);
        let mut r = base.clone();
        r.payload.push(0);
        variants.push(r);
        let mut r = base.clone();
        r.actor.role = "COM".into();
        variants.push(r);
        let mut r = base.clone();
        r.effective_at_us += 1;
        variants.push(r);
        let mut r = base.clone();
        r.ruleset_id = "x".into();
        variants.push(r);
        let mut r = base.clone();
        r.previous_hash[0] ^= 1;
        variants.push(r);
        for v in variants {
            assert_ne!(record_hash(&v).unwrap(), base.hash, "{v:?}");
        }
    }

    #[test]
    fn altered_record_broken_link_gap_and_backwards_clock_are_reported() {
        let mut records = chain(4);
        records[2].payload = vec![99];
        let report = verify_chain(None, &records);
        assert_eq!(report.first_bad.as_ref().unwrap().0, 3);
        assert!(report.first_bad.unwrap().1.contains("altered"));

        let mut records = chain(4);
        records.remove(1);
        let report = verify_chain(None, &records);
        assert_eq!(report.first_bad.unwrap().0, 2);

        let mut records = chain(3);
        records[1].recorded_at_us = 0;
        let prev = records[0].hash;
        seal(&mut records[1], prev).unwrap();
        let prev = records[1].hash;
        seal(&mut records[2], prev).unwrap();
        let report = verify_chain(None, &records);
        assert_eq!(report.first_bad.unwrap().0, 2);
    }
}
