//! Planning one group-commit batch: pure code, no I/O.
//!
//! The writer task locks the head row, reads what the batch needs to know (head, current
//! versions of the streams involved, idempotency keys and event ids already stored), and hands
//! it here. [`plan_batch`] decides every request in queue order against that state *plus the
//! requests before it in the same batch*, assigns positions head+1, head+2, … to the accepted
//! ones, chains the hashes, and returns the rows to insert and one outcome per request. A
//! refused request (stale expected version, reused event id, bad input) writes nothing and does
//! not disturb the others.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::bridge;
use crate::{AppendResult, ExpectedVersion, NewEvent, RecordedEvent, StoreError, StreamId};

/// The head row: the last committed position, its hash, and its `recorded_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub position: u64,
    pub hash: [u8; 32],
    pub recorded_at_us: i64,
}

/// What the database already holds that the batch's checks depend on, read under the lock.
#[derive(Clone, Debug, Default)]
pub(crate) struct Known {
    /// Current version of each stream named in the batch (absent = 0).
    pub stream_versions: BTreeMap<String, u64>,
    /// Stored idempotency keys with the result first returned for them.
    pub keys: BTreeMap<Uuid, AppendResult>,
    /// Event ids of the batch that are already stored, with their position.
    pub event_ids: BTreeMap<Uuid, u64>,
}

/// One queued append.
pub(crate) struct Request<'a> {
    pub stream: &'a StreamId,
    pub expected: ExpectedVersion,
    pub events: &'a [NewEvent],
    pub key: Option<Uuid>,
}

/// The rows to write and the answer to each request.
pub(crate) struct Plan {
    /// New records in position order, each with its canonical encoding.
    pub records: Vec<(RecordedEvent, Vec<u8>)>,
    /// Idempotency keys to store (only for requests that wrote).
    pub keys: Vec<(Uuid, String, AppendResult)>,
    pub outcomes: Vec<Result<AppendResult, StoreError>>,
    pub head: Head,
}

/// Decide a batch. `now_us` is the clock reading taken under the lock.
///
/// `recorded_at` is `max(now_us, head.recorded_at_us)`: several service instances have
/// several clocks, and a log whose `recorded_at` went backwards along positions would make
/// "what was known at time T" (a prefix of the log) ill-defined.
pub(crate) fn plan_batch(head: Head, known: &Known, now_us: i64, requests: &[Request<'_>]) -> Plan {
    let recorded_at_us = now_us.max(head.recorded_at_us);
    let mut head = head;
    let mut versions = known.stream_versions.clone();
    let mut keys_seen: BTreeMap<Uuid, AppendResult> = BTreeMap::new();
    let mut ids_in_batch: BTreeMap<Uuid, u64> = BTreeMap::new();
    let mut plan = Plan {
        records: Vec::new(),
        keys: Vec::new(),
        outcomes: Vec::with_capacity(requests.len()),
        head,
    };
    for request in requests {
        let outcome = plan_one(
            &mut head,
            &mut versions,
            &mut keys_seen,
            &mut ids_in_batch,
            known,
            recorded_at_us,
            request,
            &mut plan,
        );
        plan.outcomes.push(outcome);
    }
    debug_assert_eq!(plan.outcomes.len(), requests.len());
    debug_assert!(plan
        .records
        .windows(2)
        .all(|w| w[1].0.position == w[0].0.position + 1 && w[1].0.previous_hash == w[0].0.hash));
    plan.head = head;
    plan
}

#[allow(clippy::too_many_arguments)]
fn plan_one(
    head: &mut Head,
    versions: &mut BTreeMap<String, u64>,
    keys_seen: &mut BTreeMap<Uuid, AppendResult>,
    ids_in_batch: &mut BTreeMap<Uuid, u64>,
    known: &Known,
    recorded_at_us: i64,
    request: &Request<'_>,
    plan: &mut Plan,
) -> Result<AppendResult, StoreError> {
    // A repeated idempotency key answers with the first result before any other check: the
    // retry of an append that succeeded carries an expected version that is now stale.
    if let Some(key) = request.key {
        if let Some(first) = known.keys.get(&key).or_else(|| keys_seen.get(&key)) {
            return Ok(AppendResult {
                deduplicated: true,
                ..*first
            });
        }
    }
    bridge::validate(request.events)?;
    let stream = request.stream.as_str();
    let actual = versions.get(stream).copied().unwrap_or(0);
    let matches = match request.expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual == 0,
        ExpectedVersion::Exact(v) => actual == v,
    };
    if !matches {
        return Err(StoreError::WrongExpectedVersion {
            stream: stream.to_owned(),
            expected: request.expected,
            actual,
        });
    }
    let mut ids_here = BTreeSet::new();
    for (index, event) in request.events.iter().enumerate() {
        let stored_at = known
            .event_ids
            .get(&event.event_id)
            .or_else(|| ids_in_batch.get(&event.event_id));
        if let Some(position) = stored_at {
            return Err(StoreError::InvalidEvent {
                index,
                reason: format!(
                    "event id {} is already stored at position {position}; give every event a fresh id",
                    event.event_id
                ),
            });
        }
        if !ids_here.insert(event.event_id) {
            return Err(StoreError::InvalidEvent {
                index,
                reason: format!(
                    "event id {} appears twice in this append; give every event a fresh id",
                    event.event_id
                ),
            });
        }
    }
    // Build every record before touching the batch state, so a codec failure leaves it intact.
    let mut records = Vec::with_capacity(request.events.len());
    let mut previous_hash = head.hash;
    for (offset, event) in request.events.iter().enumerate() {
        let offset = offset as u64;
        let mut record = RecordedEvent {
            position: head.position + 1 + offset,
            stream_id: stream.to_owned(),
            stream_version: actual + 1 + offset,
            recorded_at_us,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            effective_at_us: event.effective_at_us,
            actor: event.actor.clone(),
            command_id: event.command_id,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            ruleset_id: event.ruleset_id.clone(),
            payload: event.payload.clone(),
            previous_hash,
            hash: [0; 32],
        };
        record.hash = bridge::record_hash(&record);
        previous_hash = record.hash;
        let bytes = bridge::encode(&record)?;
        records.push((record, bytes));
    }
    let count = records.len() as u64;
    let result = AppendResult {
        first_position: head.position + 1,
        last_position: head.position + count,
        stream_version: actual + count,
        recorded_at_us,
        deduplicated: false,
    };
    for (record, _) in &records {
        ids_in_batch.insert(record.event_id, record.position);
    }
    *head = Head {
        position: result.last_position,
        hash: previous_hash,
        recorded_at_us,
    };
    versions.insert(stream.to_owned(), result.stream_version);
    if let Some(key) = request.key {
        keys_seen.insert(key, result);
        plan.keys.push((key, stream.to_owned(), result));
    }
    plan.records.extend(records);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Actor;

    fn event(n: u128) -> NewEvent {
        NewEvent {
            event_id: Uuid::from_u128(n),
            event_type: "SentenceImposed".into(),
            schema_version: 1,
            effective_at_us: 0,
            actor: Actor::default(),
            command_id: Uuid::from_u128(1_000 + n),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload: vec![n as u8],
        }
    }

    fn empty_head() -> Head {
        Head {
            position: 0,
            hash: [0; 32],
            recorded_at_us: i64::MIN,
        }
    }

    #[test]
    fn accepted_requests_get_consecutive_positions_and_a_chained_hash() {
        let a = StreamId::new("X123456").unwrap();
        let b = StreamId::new("Y123456").unwrap();
        let (ea, eb) = ([event(1), event(2)], [event(3)]);
        let requests = [
            Request {
                stream: &a,
                expected: ExpectedVersion::NoStream,
                events: &ea,
                key: None,
            },
            Request {
                stream: &b,
                expected: ExpectedVersion::Any,
                events: &eb,
                key: None,
            },
        ];
        let plan = plan_batch(empty_head(), &Known::default(), 50, &requests);
        let positions: Vec<u64> = plan.records.iter().map(|(r, _)| r.position).collect();
        assert_eq!(positions, [1, 2, 3]);
        assert_eq!(plan.records[0].0.previous_hash, [0; 32]);
        assert_eq!(plan.records[1].0.previous_hash, plan.records[0].0.hash);
        assert_eq!(plan.records[2].0.previous_hash, plan.records[1].0.hash);
        assert_eq!(plan.head.position, 3);
        assert_eq!(plan.head.hash, plan.records[2].0.hash);
        assert_eq!(plan.outcomes[1].as_ref().unwrap().stream_version, 1);
        for (record, bytes) in &plan.records {
            assert_eq!(&bridge::decode(bytes).unwrap(), record);
        }
    }

    #[test]
    fn a_stale_request_writes_nothing_and_does_not_disturb_the_batch() {
        let a = StreamId::new("X123456").unwrap();
        let (e1, e2, e3) = ([event(1)], [event(2)], [event(3)]);
        let mut known = Known::default();
        known.stream_versions.insert("X123456".into(), 4);
        let requests = [
            Request {
                stream: &a,
                expected: ExpectedVersion::Exact(4),
                events: &e1,
                key: None,
            },
            // Stale: the first request moved the stream to 5.
            Request {
                stream: &a,
                expected: ExpectedVersion::Exact(4),
                events: &e2,
                key: None,
            },
            Request {
                stream: &a,
                expected: ExpectedVersion::Exact(5),
                events: &e3,
                key: None,
            },
        ];
        let head = Head {
            position: 10,
            hash: [7; 32],
            recorded_at_us: 0,
        };
        let plan = plan_batch(head, &known, 1, &requests);
        assert_eq!(
            plan.outcomes[1],
            Err(StoreError::WrongExpectedVersion {
                stream: "X123456".into(),
                expected: ExpectedVersion::Exact(4),
                actual: 5
            })
        );
        let third = plan.outcomes[2].as_ref().unwrap();
        assert_eq!((third.first_position, third.stream_version), (12, 6));
        assert_eq!(plan.records.len(), 2);
        assert_eq!(plan.records[0].0.previous_hash, [7; 32]);
    }

    #[test]
    fn repeated_keys_return_the_first_result_in_and_across_batches() {
        let a = StreamId::new("X123456").unwrap();
        let (e1, e2) = ([event(1)], [event(2)]);
        let key = Uuid::from_u128(99);
        let requests = [
            Request {
                stream: &a,
                expected: ExpectedVersion::NoStream,
                events: &e1,
                key: Some(key),
            },
            Request {
                stream: &a,
                expected: ExpectedVersion::NoStream,
                events: &e2,
                key: Some(key),
            },
        ];
        let plan = plan_batch(empty_head(), &Known::default(), 5, &requests);
        let first = *plan.outcomes[0].as_ref().unwrap();
        assert_eq!(
            plan.outcomes[1],
            Ok(AppendResult {
                deduplicated: true,
                ..first
            })
        );
        assert_eq!(plan.records.len(), 1);
        assert_eq!(plan.keys.len(), 1);

        let mut known = Known::default();
        known.keys.insert(key, first);
        let again = plan_batch(plan.head, &known, 6, &requests[1..]);
        assert_eq!(
            again.outcomes[0],
            Ok(AppendResult {
                deduplicated: true,
                ..first
            })
        );
        assert!(again.records.is_empty());
    }

    #[test]
    fn reused_event_ids_are_refused() {
        let a = StreamId::new("X123456").unwrap();
        let twice = [event(1), event(1)];
        let once = [event(2)];
        let mut known = Known::default();
        known.event_ids.insert(Uuid::from_u128(2), 7);
        let requests = [
            Request {
                stream: &a,
                expected: ExpectedVersion::Any,
                events: &twice,
                key: None,
            },
            Request {
                stream: &a,
                expected: ExpectedVersion::Any,
                events: &once,
                key: None,
            },
        ];
        let plan = plan_batch(empty_head(), &known, 5, &requests);
        assert!(matches!(
            plan.outcomes[0],
            Err(StoreError::InvalidEvent { index: 1, .. })
        ));
        assert!(matches!(
            plan.outcomes[1],
            Err(StoreError::InvalidEvent { index: 0, .. })
        ));
        assert!(plan.records.is_empty());
        assert_eq!(plan.head, empty_head());
    }

    #[test]
    fn recorded_at_never_goes_back_along_positions() {
        let a = StreamId::new("X123456").unwrap();
        let e1 = [event(1)];
        let head = Head {
            position: 3,
            hash: [1; 32],
            recorded_at_us: 1_000,
        };
        let requests = [Request {
            stream: &a,
            expected: ExpectedVersion::Any,
            events: &e1,
            key: None,
        }];
        // This instance's clock is behind the one that wrote position 3.
        let plan = plan_batch(head, &Known::default(), 900, &requests);
        assert_eq!(plan.records[0].0.recorded_at_us, 1_000);
    }
}
