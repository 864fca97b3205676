//! The decision every writer makes, written once: given the log's tip and the current stream
//! versions, accept or refuse each append of a group commit and build its sealed records.
//!
//! Pure apart from the [`Lookup`] it is handed (no clock: `now_us` is an argument), so the
//! memory and sled backends (and the PostgreSQL one) decide identically.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    hash, AppendResult, ExpectedVersion, IdempotencyKey, NewEvent, RecordedEvent, StoreError,
    StreamId, POSITION_MAX,
};

/// The end of the committed log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tip {
    pub head: u64,
    pub last_hash: [u8; 32],
    /// `i64::MIN` for an empty log.
    pub last_recorded_at_us: i64,
}

impl Tip {
    pub fn empty() -> Self {
        Tip {
            head: 0,
            last_hash: hash::GENESIS_HASH,
            last_recorded_at_us: i64::MIN,
        }
    }

    pub fn after(record: &RecordedEvent) -> Self {
        Tip {
            head: record.position,
            last_hash: record.hash,
            last_recorded_at_us: record.recorded_at_us,
        }
    }
}

/// What the idempotency index keeps per key: the stream and the original answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdempotencyEntry {
    pub stream_id: String,
    pub result: AppendResult,
    /// The fingerprint of the request that first used the key, when it gave one.
    pub fingerprint: Option<crate::Fingerprint>,
}

/// Committed state the planner needs to read.
pub(crate) trait Lookup {
    /// The committed version of `stream` (0 when it does not exist).
    fn stream_version(&mut self, stream: &str) -> Result<u64, StoreError>;
    /// The committed answer for idempotency key `key`, if any.
    fn idempotency(&mut self, key: &Uuid) -> Result<Option<IdempotencyEntry>, StoreError>;
}

/// One group commit being planned. Later appends in the batch see the effects of earlier ones.
pub(crate) struct Batch {
    tip: Tip,
    recorded_at_us: i64,
    heads: BTreeMap<String, u64>,
    keys: BTreeMap<Uuid, IdempotencyEntry>,
    records: Vec<RecordedEvent>,
    /// `encoded[i]` is the stored bytes of `records[i]` (`codec::encode_record`), produced
    /// while sealing so no backend serializes a record twice.
    encoded: Vec<Vec<u8>>,
    /// (stream, version, position) for the stream index.
    index: Vec<(String, u64, u64)>,
}

impl Batch {
    /// Start a batch on `tip`. Every record of the batch gets
    /// `recorded_at = max(now, last recorded_at)`: recorded_at never decreases in position
    /// order, so the records known at any instant are a prefix of the log (store.md).
    pub fn begin(tip: Tip, now_us: i64) -> Self {
        let recorded_at_us = now_us.max(tip.last_recorded_at_us);
        Batch {
            tip,
            recorded_at_us,
            heads: BTreeMap::new(),
            keys: BTreeMap::new(),
            records: Vec::new(),
            encoded: Vec::new(),
            index: Vec::new(),
        }
    }

    /// Decide one (already validated) append. On refusal nothing of it enters the batch.
    pub fn decide(
        &mut self,
        lookup: &mut impl Lookup,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        if let Some(IdempotencyKey {
            id: key,
            fingerprint,
        }) = idempotency_key
        {
            let earlier = match self.keys.get(&key) {
                Some(entry) => Some(entry.clone()),
                None => lookup.idempotency(&key)?,
            };
            if let Some(entry) = earlier {
                if entry.stream_id != stream.as_str() {
                    return Err(StoreError::IdempotencyKeyReused {
                        key,
                        original_stream: entry.stream_id,
                        stream: stream.to_string(),
                    });
                }
                // An entry without a fingerprint (given without one, or stored before they
                // were kept) cannot be told apart: it is answered as a repeat, as before.
                if let (Some(stored), Some(given)) = (entry.fingerprint, fingerprint) {
                    if stored != given {
                        return Err(StoreError::IdempotencyConflict {
                            key,
                            stream: entry.stream_id,
                            stored: hex::encode(stored),
                            given: hex::encode(given),
                        });
                    }
                }
                return Ok(AppendResult {
                    deduplicated: true,
                    ..entry.result
                });
            }
        }

        let actual = match self.heads.get(stream.as_str()) {
            Some(&version) => version,
            None => lookup.stream_version(stream.as_str())?,
        };
        let matches = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(version) => actual == version,
        };
        if !matches {
            return Err(StoreError::WrongExpectedVersion {
                stream: stream.to_string(),
                expected,
                actual,
            });
        }

        let count = events.len() as u64;
        assert!(count > 0, "validate_append refuses empty appends");
        if self.tip.head > POSITION_MAX - count || actual > POSITION_MAX - count {
            return Err(StoreError::Backend(format!(
                "the log has reached its last position ({POSITION_MAX}); it cannot grow"
            )));
        }

        let mut previous_hash = self.tip.last_hash;
        let mut sealed = Vec::with_capacity(events.len());
        let mut sealed_bytes = Vec::with_capacity(events.len());
        for (offset, event) in (1..=count).zip(events) {
            let mut record = RecordedEvent {
                position: self.tip.head + offset,
                stream_id: stream.to_string(),
                stream_version: actual + offset,
                recorded_at_us: self.recorded_at_us,
                event_id: event.event_id,
                event_type: event.event_type,
                schema_version: event.schema_version,
                effective_at_us: event.effective_at_us,
                actor: event.actor,
                command_id: event.command_id,
                correlation_id: event.correlation_id,
                causation_id: event.causation_id,
                ruleset_id: event.ruleset_id,
                payload: event.payload,
                previous_hash: [0; 32],
                hash: [0; 32],
            };
            sealed_bytes.push(hash::seal_and_encode(&mut record, previous_hash)?);
            previous_hash = record.hash;
            sealed.push(record);
        }

        let result = AppendResult {
            first_position: self.tip.head + 1,
            last_position: self.tip.head + count,
            stream_version: actual + count,
            recorded_at_us: self.recorded_at_us,
            deduplicated: false,
        };
        assert!(self.recorded_at_us >= self.tip.last_recorded_at_us);
        self.tip = Tip {
            head: result.last_position,
            last_hash: previous_hash,
            last_recorded_at_us: self.recorded_at_us,
        };
        for record in &sealed {
            self.index.push((
                record.stream_id.clone(),
                record.stream_version,
                record.position,
            ));
        }
        self.records.extend(sealed);
        self.encoded.extend(sealed_bytes);
        assert_eq!(self.records.len(), self.encoded.len());
        self.heads.insert(stream.to_string(), result.stream_version);
        if let Some(key) = idempotency_key {
            self.keys.insert(
                key.id,
                IdempotencyEntry {
                    stream_id: stream.to_string(),
                    result,
                    fingerprint: key.fingerprint,
                },
            );
        }
        Ok(result)
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    pub fn tip(&self) -> &Tip {
        &self.tip
    }
    pub fn records(&self) -> &[RecordedEvent] {
        &self.records
    }
    /// The stored bytes of each of [`Batch::records`], in the same order.
    pub fn encoded(&self) -> &[Vec<u8>] {
        &self.encoded
    }
    pub fn index(&self) -> &[(String, u64, u64)] {
        &self.index
    }
    pub fn keys(&self) -> &BTreeMap<Uuid, IdempotencyEntry> {
        &self.keys
    }
    pub fn into_parts(self) -> (Tip, Vec<RecordedEvent>) {
        (self.tip, self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Actor;

    #[derive(Default)]
    struct Empty;
    impl Lookup for Empty {
        fn stream_version(&mut self, _: &str) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn idempotency(&mut self, _: &Uuid) -> Result<Option<IdempotencyEntry>, StoreError> {
            Ok(None)
        }
    }

    fn events(n: u128) -> Vec<NewEvent> {
        (1..=n)
            .map(|i| NewEvent {
                event_id: Uuid::from_u128(i),
                event_type: "T".into(),
                schema_version: 1,
                effective_at_us: 0,
                actor: Actor::default(),
                command_id: Uuid::nil(),
                correlation_id: Uuid::nil(),
                causation_id: Uuid::nil(),
                ruleset_id: String::new(),
                payload: vec![],
            })
            .collect()
    }

    #[test]
    fn later_appends_in_a_batch_see_earlier_ones() {
        let s = StreamId::new("X1").unwrap();
        let mut batch = Batch::begin(Tip::empty(), 5);
        let first = batch
            .decide(&mut Empty, &s, ExpectedVersion::NoStream, events(2), None)
            .unwrap();
        assert_eq!((first.first_position, first.last_position), (1, 2));
        let stale = batch.decide(&mut Empty, &s, ExpectedVersion::NoStream, events(1), None);
        assert_eq!(
            stale,
            Err(StoreError::WrongExpectedVersion {
                stream: "X1".into(),
                expected: ExpectedVersion::NoStream,
                actual: 2
            })
        );
        let second = batch
            .decide(&mut Empty, &s, ExpectedVersion::Exact(2), events(1), None)
            .unwrap();
        assert_eq!((second.first_position, second.stream_version), (3, 3));
        let report = hash::verify_chain(None, batch.records());
        assert!(report.is_ok() && report.records_checked == 3);
    }

    #[test]
    fn recorded_at_never_goes_backwards() {
        let mut tip = Tip::empty();
        tip.last_recorded_at_us = 100;
        let batch = Batch::begin(tip, 50);
        assert_eq!(batch.recorded_at_us, 100);
    }

    #[test]
    fn same_key_in_the_same_batch_is_deduplicated() {
        let s = StreamId::new("X1").unwrap();
        let key = Some(Uuid::from_u128(9));
        let mut batch = Batch::begin(Tip::empty(), 5);
        let first = batch
            .decide(
                &mut Empty,
                &s,
                ExpectedVersion::Any,
                events(1),
                key.map(IdempotencyKey::from),
            )
            .unwrap();
        let again = batch
            .decide(
                &mut Empty,
                &s,
                ExpectedVersion::NoStream,
                events(1),
                key.map(IdempotencyKey::from),
            )
            .unwrap();
        assert!(again.deduplicated);
        assert_eq!(
            AppendResult {
                deduplicated: false,
                ..again
            },
            first
        );
        assert_eq!(batch.records().len(), 1);
        let other = StreamId::new("X2").unwrap();
        assert!(matches!(
            batch.decide(
                &mut Empty,
                &other,
                ExpectedVersion::Any,
                events(1),
                key.map(IdempotencyKey::from)
            ),
            Err(StoreError::IdempotencyKeyReused { .. })
        ));
    }
}
