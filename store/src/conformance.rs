//! The ONE conformance suite for [`EventStore`] implementations, written once and run against
//! every backend (memory and sled here; PostgreSQL from its own crate's tests).
//!
//! It is test support compiled into the library so other crates' tests can call it; each
//! check panics with a message naming the broken rule. Use it as
//!
//! ```ignore
//! conformance::run_all(|clock| async move { Arc::new(MemoryStore::new(clock)) as Arc<dyn EventStore> }).await;
//! ```
//!
//! where the factory returns a fresh, empty store using the given clock; durable backends also
//! call [`check_reopen`] with a factory that reopens one location.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::consumer::{ConsumerName, DurableSubscription, CONSUMERS_MAX};
use crate::subscription::EventStoreExt;
use crate::{
    hash, Actor, AppendResult, Clock, EventStore, ExpectedVersion, IdempotencyKey,
    IdempotencyRecord, ManualClock, NewEvent, RecordedEvent, StoreError, StreamId,
    EVENTS_PER_APPEND_MAX, EVENT_PAYLOAD_BYTES_MAX, POSITION_MAX, READ_ALL_PAGE_EVENTS_MAX,
};

/// Start time of the suite's manual clock: 2024-04-01T00:00:00Z in microseconds.
pub const CLOCK_START_US: i64 = 1_711_929_600_000_000;

/// Longest any single wait in the suite may take before it is declared stuck.
const WAIT_MAX: Duration = Duration::from_secs(20);

/// A store handle the suite works on.
pub type SharedStore = Arc<dyn EventStore>;

/// A deterministic event: ids derive from `seed` so tests can recognise them.
pub fn event(seed: u128) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(0xE000_0000_0000_0000_0000_0000_0000_0000 | seed),
        event_type: "ConformanceEvent".into(),
        schema_version: 1,
        effective_at_us: CLOCK_START_US - 86_400_000_000,
        actor: Actor {
            id: "officer-1".into(),
            role: "COM".into(),
            organisation: "N07".into(),
        },
        command_id: Uuid::from_u128(0xC000_0000_0000_0000_0000_0000_0000_0000 | seed),
        correlation_id: Uuid::from_u128(seed.wrapping_add(7)),
        causation_id: Uuid::nil(),
        ruleset_id: if seed & 1 == 0 {
            "omic-handover-2023-04".into()
        } else {
            String::new()
        },
        payload: seed.to_le_bytes().to_vec(),
    }
}

/// A valid stream id (panics only on a bad literal in the suite itself).
pub fn stream(id: &str) -> StreamId {
    StreamId::new(id).expect("conformance suite uses valid stream ids")
}

async fn head(store: &SharedStore) -> u64 {
    store.head().await.expect("head() must succeed")
}

async fn all(store: &SharedStore) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    let mut reader = store.read_all_from(1);
    while let Some(page) = reader.next_page().await.expect("read_all must succeed") {
        out.extend(page);
    }
    out
}

async fn append_ok(
    store: &SharedStore,
    s: &StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    key: Option<Uuid>,
) -> AppendResult {
    match store.append(s, expected, events, key).await {
        Ok(r) => r,
        Err(e) => panic!("append to {s} expecting {expected} must succeed, got: {e}"),
    }
}

/// Run every check, each on a fresh store from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = SharedStore>,
{
    let fresh = || async {
        let clock = Arc::new(ManualClock::new(CLOCK_START_US));
        let store = make(clock.clone()).await;
        (store, clock)
    };
    let (s, _) = fresh().await;
    check_empty_store(&s).await;
    let (s, c) = fresh().await;
    check_append_and_read_back(&s, &c).await;
    let (s, _) = fresh().await;
    check_expected_versions(&s).await;
    let (s, _) = fresh().await;
    check_idempotency(&s).await;
    let (s, _) = fresh().await;
    check_idempotency_fingerprints(&s).await;
    let (s, _) = fresh().await;
    check_bad_input_writes_nothing(&s).await;
    let (s, _) = fresh().await;
    check_read_paging(&s).await;
    let (s, c) = fresh().await;
    check_recorded_at_never_decreases(&s, &c).await;
    let (s, _) = fresh().await;
    check_hash_chain(&s).await;
    let (s, _) = fresh().await;
    check_subscription_catch_up_then_live(&s).await;
    let (s, _) = fresh().await;
    check_concurrent_appends(&s, 64, 8).await;
    let (s, _) = fresh().await;
    check_durable_consumers(&s).await;
}

/// An empty store: head 0, nothing to read, an empty chain verifies.
pub async fn check_empty_store(store: &SharedStore) {
    assert_eq!(head(store).await, 0, "an empty store has head 0");
    assert!(store.read_all(0, 10).await.unwrap().is_empty());
    assert!(store.read_all(1, 10).await.unwrap().is_empty());
    assert!(store
        .read_stream(&stream("X000001"), 1)
        .await
        .unwrap()
        .is_empty());
    let report = store.verify(1, None).await.unwrap();
    assert!(report.is_ok(), "empty store verifies: {report:?}");
    assert_eq!(report.records_checked, 0);
}

/// Appended events read back field for field, with positions, versions and recorded_at
/// assigned by the store (positions and versions 1-based and gapless).
pub async fn check_append_and_read_back(store: &SharedStore, clock: &ManualClock) {
    let a = stream("X000001");
    let b = stream("X000002");
    let r1 = append_ok(
        store,
        &a,
        ExpectedVersion::NoStream,
        vec![event(1), event(2)],
        None,
    )
    .await;
    assert_eq!(
        r1,
        AppendResult {
            first_position: 1,
            last_position: 2,
            stream_version: 2,
            recorded_at_us: CLOCK_START_US,
            deduplicated: false
        }
    );
    clock.advance(1_000);
    let r2 = append_ok(store, &b, ExpectedVersion::Any, vec![event(3)], None).await;
    assert_eq!(
        (r2.first_position, r2.last_position, r2.stream_version),
        (3, 3, 1)
    );
    assert_eq!(r2.recorded_at_us, CLOCK_START_US + 1_000);
    let r3 = append_ok(store, &a, ExpectedVersion::Exact(2), vec![event(4)], None).await;
    assert_eq!((r3.first_position, r3.stream_version), (4, 3));
    assert_eq!(head(store).await, 4);

    let records = all(store).await;
    let positions: Vec<u64> = records.iter().map(|r| r.position).collect();
    assert_eq!(positions, vec![1, 2, 3, 4], "positions are gapless from 1");
    for (record, seed) in records.iter().zip([1u128, 2, 3, 4]) {
        let sent = event(seed);
        assert_eq!(record.event_id, sent.event_id);
        assert_eq!(record.event_type, sent.event_type);
        assert_eq!(record.schema_version, sent.schema_version);
        assert_eq!(record.effective_at_us, sent.effective_at_us);
        assert_eq!(record.actor, sent.actor);
        assert_eq!(record.command_id, sent.command_id);
        assert_eq!(record.correlation_id, sent.correlation_id);
        assert_eq!(record.causation_id, sent.causation_id);
        assert_eq!(record.ruleset_id, sent.ruleset_id);
        assert_eq!(record.payload, sent.payload);
    }
    let a_events = store.read_stream(&a, 1).await.unwrap();
    let versions: Vec<(u64, u64)> = a_events
        .iter()
        .map(|r| (r.stream_version, r.position))
        .collect();
    assert_eq!(
        versions,
        vec![(1, 1), (2, 2), (3, 4)],
        "stream versions gapless"
    );
    assert!(a_events.iter().all(|r| r.stream_id == "X000001"));
    let from_two = store.read_stream(&a, 2).await.unwrap();
    assert_eq!(from_two.len(), 2);
    assert_eq!(from_two[0].stream_version, 2);
    assert_eq!(
        store.read_stream(&a, 0).await.unwrap().len(),
        3,
        "0 reads from the start"
    );
    assert!(store.read_stream(&a, 4).await.unwrap().is_empty());
    assert_eq!(records[2], store.read_stream(&b, 1).await.unwrap()[0]);
}

/// A stale expected version is a typed conflict naming stream, expected and actual versions,
/// and writes nothing.
pub async fn check_expected_versions(store: &SharedStore) {
    let s = stream("X000003");
    append_ok(store, &s, ExpectedVersion::Exact(0), vec![event(1)], None).await;
    let cases = [
        (ExpectedVersion::NoStream, 1),
        (ExpectedVersion::Exact(0), 1),
        (ExpectedVersion::Exact(2), 1),
        (ExpectedVersion::Exact(POSITION_MAX - 1), 1),
    ];
    for (expected, actual) in cases {
        let err = store
            .append(&s, expected, vec![event(10)], None)
            .await
            .expect_err("stale expected version must be refused");
        assert_eq!(
            err,
            StoreError::WrongExpectedVersion {
                stream: "X000003".into(),
                expected,
                actual
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("X000003") && message.contains("actual 1"),
            "{message}"
        );
        assert_eq!(head(store).await, 1, "a refused append writes nothing");
    }
    append_ok(store, &s, ExpectedVersion::Exact(1), vec![event(2)], None).await;
    append_ok(store, &s, ExpectedVersion::Any, vec![event(3)], None).await;
    assert_eq!(store.read_stream(&s, 1).await.unwrap().len(), 3);
    assert_eq!(head(store).await, 3);
}

/// Repeating an append with the same idempotency key returns the original result and writes
/// nothing, even with a now-stale expected version; reusing a key on another stream is refused.
/// A key keeps the fingerprint of its first request: the same fingerprint is a repeat, another
/// is `IdempotencyConflict` and writes nothing, and a key stored without one (as before
/// fingerprints were kept) is a repeat whatever the fingerprint.
pub async fn check_idempotency_fingerprints(store: &SharedStore) {
    let s = stream("X000014");
    let key = IdempotencyKey {
        id: Uuid::from_u128(0xF1),
        fingerprint: Some([1; 32]),
    };
    let first = store
        .append_fingerprinted(&s, ExpectedVersion::NoStream, vec![event(1)], key)
        .await
        .expect("first use");
    assert!(!first.deduplicated);
    let again = store
        .append_fingerprinted(&s, ExpectedVersion::NoStream, vec![event(1)], key)
        .await
        .expect("same fingerprint");
    assert_eq!(
        again,
        AppendResult {
            deduplicated: true,
            ..first
        }
    );
    let other = IdempotencyKey {
        fingerprint: Some([2; 32]),
        ..key
    };
    let err = store
        .append_fingerprinted(&s, ExpectedVersion::Any, vec![event(2)], other)
        .await
        .expect_err("another fingerprint");
    match &err {
        StoreError::IdempotencyConflict {
            key: k,
            stream,
            stored,
            given,
        } => {
            assert_eq!(*k, key.id);
            assert_eq!(stream, "X000014");
            assert_eq!(stored, &"01".repeat(32));
            assert_eq!(given, &"02".repeat(32));
        }
        other => panic!("expected IdempotencyConflict, got {other}"),
    }
    assert_eq!(head(store).await, 1, "a conflicting key writes nothing");
    assert_eq!(
        store.idempotency_record(key.id).await.unwrap(),
        Some(IdempotencyRecord {
            stream_id: "X000014".into(),
            fingerprint: Some([1; 32]),
        })
    );
    assert_eq!(
        store
            .idempotency_record(Uuid::from_u128(0xF9))
            .await
            .unwrap(),
        None
    );
    // Another stream is still `IdempotencyKeyReused`, fingerprint or not.
    let err = store
        .append_fingerprinted(
            &stream("X000015"),
            ExpectedVersion::Any,
            vec![event(3)],
            key,
        )
        .await
        .expect_err("key reused on another stream");
    assert!(
        matches!(err, StoreError::IdempotencyKeyReused { .. }),
        "{err}"
    );
    // A key stored without a fingerprint: unknown, so any fingerprint is a repeat.
    let bare = Uuid::from_u128(0xF2);
    let stored = append_ok(
        store,
        &s,
        ExpectedVersion::Exact(1),
        vec![event(4)],
        Some(bare),
    )
    .await;
    assert_eq!(
        store
            .idempotency_record(bare)
            .await
            .unwrap()
            .unwrap()
            .fingerprint,
        None
    );
    let repeat = store
        .append_fingerprinted(
            &s,
            ExpectedVersion::Any,
            vec![event(4)],
            IdempotencyKey {
                id: bare,
                fingerprint: Some([3; 32]),
            },
        )
        .await
        .expect("unknown fingerprint");
    assert_eq!(
        repeat,
        AppendResult {
            deduplicated: true,
            ..stored
        }
    );
    assert_eq!(head(store).await, 2);
}

pub async fn check_idempotency(store: &SharedStore) {
    let s = stream("X000004");
    let key = Uuid::from_u128(0x1D);
    let first = append_ok(
        store,
        &s,
        ExpectedVersion::NoStream,
        vec![event(1), event(2)],
        Some(key),
    )
    .await;
    assert!(!first.deduplicated);
    let again = append_ok(
        store,
        &s,
        ExpectedVersion::NoStream,
        vec![event(1), event(2)],
        Some(key),
    )
    .await;
    assert_eq!(
        again,
        AppendResult {
            deduplicated: true,
            ..first
        }
    );
    assert_eq!(head(store).await, 2, "a repeated key writes nothing");
    let err = store
        .append(
            &stream("X000005"),
            ExpectedVersion::Any,
            vec![event(3)],
            Some(key),
        )
        .await
        .expect_err("key reused on another stream");
    assert!(
        matches!(err, StoreError::IdempotencyKeyReused { .. }),
        "{err}"
    );
    // A refused append does not consume its key.
    let key2 = Uuid::from_u128(0x2D);
    assert!(store
        .append(&s, ExpectedVersion::Exact(7), vec![event(4)], Some(key2))
        .await
        .is_err());
    let later = append_ok(
        store,
        &s,
        ExpectedVersion::Exact(2),
        vec![event(4)],
        Some(key2),
    )
    .await;
    assert!(!later.deduplicated);
    assert_eq!(later.first_position, 3);
}

/// Every kind of bad input is a typed error and leaves the log untouched.
pub async fn check_bad_input_writes_nothing(store: &SharedStore) {
    let s = stream("X000006");
    append_ok(store, &s, ExpectedVersion::NoStream, vec![event(1)], None).await;
    let before = all(store).await;

    let mut too_big = event(2);
    too_big.payload = vec![0; EVENT_PAYLOAD_BYTES_MAX + 1];
    let mut nil_id = event(3);
    nil_id.event_id = Uuid::nil();
    let mut long_type = event(4);
    long_type.event_type = "T".repeat(1_000);
    let too_many: Vec<NewEvent> = (10..=(10 + EVENTS_PER_APPEND_MAX as u128))
        .map(event)
        .collect();
    let attempts: Vec<(ExpectedVersion, Vec<NewEvent>, &str)> = vec![
        (ExpectedVersion::Any, vec![], "empty append"),
        (
            ExpectedVersion::Any,
            vec![event(5), too_big],
            "oversized event",
        ),
        (ExpectedVersion::Any, too_many, "too many events"),
        (
            ExpectedVersion::Exact(u64::MAX),
            vec![event(6)],
            "invalid expected version",
        ),
        (ExpectedVersion::Any, vec![nil_id], "nil event id"),
        (
            ExpectedVersion::Any,
            vec![event(7), event(7)],
            "duplicate event id",
        ),
        (
            ExpectedVersion::Any,
            vec![long_type],
            "over-long event type",
        ),
    ];
    for (expected, events, what) in attempts {
        let result = store
            .append(&s, expected, events, Some(Uuid::from_u128(0xBAD)))
            .await;
        let err = match result {
            Ok(r) => panic!("{what} must be refused, got {r:?}"),
            Err(e) => e,
        };
        let typed = matches!(
            err,
            StoreError::EmptyAppend
                | StoreError::EventTooLarge { .. }
                | StoreError::TooManyEvents { .. }
                | StoreError::InvalidExpectedVersion { .. }
                | StoreError::InvalidEvent { .. }
        );
        assert!(typed, "{what}: unexpected error {err:?}");
        assert_eq!(all(store).await, before, "{what} wrote something");
    }
    // The refused key was never recorded: it works for a good append afterwards.
    let ok = append_ok(
        store,
        &s,
        ExpectedVersion::Exact(1),
        vec![event(8)],
        Some(Uuid::from_u128(0xBAD)),
    )
    .await;
    assert!(!ok.deduplicated);
}

/// `read_all` pages are bounded and ordered; reads past the head are empty.
pub async fn check_read_paging(store: &SharedStore) {
    let s = stream("X000007");
    let events: Vec<NewEvent> = (1..=25).map(event).collect();
    append_ok(store, &s, ExpectedVersion::NoStream, events, None).await;
    let page = store.read_all(1, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.position).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    let page = store.read_all(21, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.position).collect::<Vec<_>>(),
        (21..=25).collect::<Vec<_>>()
    );
    assert!(store.read_all(26, 10).await.unwrap().is_empty());
    assert!(store.read_all(u64::MAX, 10).await.unwrap().is_empty());
    assert!(
        store.read_all(1, 0).await.unwrap().is_empty(),
        "a page of 0 is empty"
    );
    let capped = store.read_all(1, u32::MAX).await.unwrap();
    assert!(capped.len() as u32 <= READ_ALL_PAGE_EVENTS_MAX);
    assert_eq!(capped.len(), 25);
    let mut reader = crate::ReadAll::new(Arc::clone(store), 3, 4);
    let mut seen = Vec::new();
    while let Some(page) = reader.next_page().await.unwrap() {
        assert!(page.len() <= 4, "ReadAll pages are bounded");
        seen.extend(page.into_iter().map(|r| r.position));
    }
    assert_eq!(seen, (3..=25).collect::<Vec<_>>());
}

/// recorded_at comes from the injected clock and never decreases in position order, even
/// when the clock goes backwards.
pub async fn check_recorded_at_never_decreases(store: &SharedStore, clock: &ManualClock) {
    let s = stream("X000008");
    let r1 = append_ok(store, &s, ExpectedVersion::Any, vec![event(1)], None).await;
    assert_eq!(r1.recorded_at_us, CLOCK_START_US);
    clock.advance(-60_000_000);
    let r2 = append_ok(store, &s, ExpectedVersion::Any, vec![event(2)], None).await;
    assert_eq!(
        r2.recorded_at_us, CLOCK_START_US,
        "clock went back; recorded_at held"
    );
    clock.set(CLOCK_START_US + 5);
    let r3 = append_ok(store, &s, ExpectedVersion::Any, vec![event(3)], None).await;
    assert_eq!(r3.recorded_at_us, CLOCK_START_US + 5);
    let records = all(store).await;
    assert!(records
        .windows(2)
        .all(|w| w[0].recorded_at_us <= w[1].recorded_at_us));
    assert!(store.verify(1, None).await.unwrap().is_ok());
}

/// Every record is chained: position 1 follows the zero hash, each record's previous_hash is
/// its predecessor's hash, each hash recomputes; verify agrees over any range.
pub async fn check_hash_chain(store: &SharedStore) {
    for n in 1..=5u128 {
        let s = stream(&format!("X00001{n}"));
        append_ok(
            store,
            &s,
            ExpectedVersion::Any,
            vec![event(n * 10), event(n * 10 + 1)],
            None,
        )
        .await;
    }
    let records = all(store).await;
    assert_eq!(records.len(), 10);
    assert_eq!(records[0].previous_hash, hash::GENESIS_HASH);
    for w in records.windows(2) {
        assert_eq!(
            w[1].previous_hash, w[0].hash,
            "chain link at {}",
            w[1].position
        );
    }
    for r in &records {
        assert_eq!(
            hash::record_hash(r).unwrap(),
            r.hash,
            "hash at {}",
            r.position
        );
    }
    let full = store.verify(1, None).await.unwrap();
    assert!(full.is_ok(), "{full:?}");
    assert_eq!(
        (full.from_position, full.to_position, full.records_checked),
        (1, 10, 10)
    );
    let middle = store.verify(4, Some(7)).await.unwrap();
    assert!(middle.is_ok(), "{middle:?}");
    assert_eq!(
        (
            middle.from_position,
            middle.to_position,
            middle.records_checked
        ),
        (4, 7, 4)
    );
    let beyond = store.verify(3, Some(1_000)).await.unwrap();
    assert_eq!((beyond.to_position, beyond.records_checked), (10, 8));
    let empty = store.verify(11, None).await.unwrap();
    assert_eq!(empty.records_checked, 0);
    assert!(hash::verify_chain(None, &records).is_ok());
}

/// A subscription catches up on the existing log, then follows live appends, each position
/// exactly once, in order.
pub async fn check_subscription_catch_up_then_live(store: &SharedStore) {
    let s = stream("X000009");
    append_ok(
        store,
        &s,
        ExpectedVersion::Any,
        (1..=5).map(event).collect(),
        None,
    )
    .await;
    let mut from_start = store.subscribe(0);
    let mut from_four = store.subscribe(4);
    for p in 1..=5 {
        assert_eq!(next_within(&mut from_start).await.position, p);
    }
    assert_eq!(next_within(&mut from_four).await.position, 4);
    assert_eq!(next_within(&mut from_four).await.position, 5);
    let writer = {
        let store = Arc::clone(store);
        let s = s.clone();
        tokio::spawn(async move {
            for n in 6..=25u128 {
                store
                    .append(&s, ExpectedVersion::Any, vec![event(n)], None)
                    .await
                    .expect("live append");
                tokio::task::yield_now().await;
            }
        })
    };
    for p in 6..=25 {
        assert_eq!(
            next_within(&mut from_start).await.position,
            p,
            "live, in order"
        );
        assert_eq!(next_within(&mut from_four).await.position, p);
    }
    writer.await.expect("writer task");
}

async fn next_within(subscription: &mut crate::Subscription) -> RecordedEvent {
    match tokio::time::timeout(WAIT_MAX, subscription.next()).await {
        Ok(Ok(record)) => record,
        Ok(Err(e)) => panic!("subscription failed: {e}"),
        Err(_) => panic!(
            "subscription waited {WAIT_MAX:?} for position {} that never came",
            subscription.next_position()
        ),
    }
}

async fn next_durable(subscription: &mut DurableSubscription) -> u64 {
    match tokio::time::timeout(WAIT_MAX, subscription.next()).await {
        Ok(Ok(record)) => record.position,
        Ok(Err(e)) => panic!("durable subscription failed: {e}"),
        Err(_) => panic!(
            "durable subscription waited {WAIT_MAX:?} for position {} that never came",
            subscription.next_position()
        ),
    }
}

async fn position_of(store: &SharedStore, name: &str) -> Option<u64> {
    let name = ConsumerName::new(name).expect("valid name");
    store
        .consumer_position(&name)
        .await
        .expect("read checkpoint")
}

/// Durable named consumers (`consumer` module): a new consumer starts at the beginning of the
/// log; its checkpoint moves only when it acknowledges, never past what it was delivered,
/// never past the head, never backwards; resubscribing resumes after the checkpoint (what was
/// delivered but not acknowledged comes again); names and the number of consumers are checked.
pub async fn check_durable_consumers(store: &SharedStore) {
    let s = stream("X000030");
    for n in 1..=5 {
        append_ok(store, &s, ExpectedVersion::Any, vec![event(n)], None).await;
    }
    assert_eq!(position_of(store, "conformance.relay").await, None);
    assert!(store.consumers().await.unwrap().is_empty());

    let mut relay = store.subscribe_durable("conformance.relay").await.unwrap();
    assert_eq!(relay.acknowledged(), 0, "a new consumer starts at 0");
    for p in 1..=3 {
        assert_eq!(
            next_durable(&mut relay).await,
            p,
            "from the start, in order"
        );
    }
    let err = relay.acknowledge(4).await.expect_err("4 was not delivered");
    assert!(
        matches!(
            err,
            StoreError::AcknowledgedUndelivered {
                position: 4,
                delivered: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        position_of(store, "conformance.relay").await,
        None,
        "refusal wrote nothing"
    );
    relay.acknowledge(2).await.unwrap();
    assert_eq!(position_of(store, "conformance.relay").await, Some(2));
    drop(relay);

    // A restart: resume after the checkpoint; 3 was delivered but not acknowledged, so again.
    let mut relay = store.subscribe_durable("conformance.relay").await.unwrap();
    assert_eq!(relay.acknowledged(), 2);
    for p in 3..=5 {
        assert_eq!(
            next_durable(&mut relay).await,
            p,
            "resumed after the checkpoint"
        );
    }
    relay.acknowledge(5).await.unwrap();
    let name = ConsumerName::new("conformance.relay").unwrap();
    let err = store
        .acknowledge(&name, 6)
        .await
        .expect_err("beyond the head");
    assert!(
        matches!(
            err,
            StoreError::CheckpointBeyondHead {
                position: 6,
                head: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        store.acknowledge(&name, 1).await.unwrap(),
        5,
        "never backwards"
    );
    assert_eq!(position_of(store, "conformance.relay").await, Some(5));

    // Live: the durable subscription follows appends after catching up.
    append_ok(store, &s, ExpectedVersion::Any, vec![event(6)], None).await;
    assert_eq!(next_durable(&mut relay).await, 6, "live append delivered");
    relay.acknowledge(6).await.unwrap();

    let projection = ConsumerName::new("conformance.projection").unwrap();
    assert_eq!(store.acknowledge(&projection, 0).await.unwrap(), 0);
    let listed: Vec<(String, u64)> = store
        .consumers()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name.to_string(), c.position))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("conformance.projection".to_owned(), 0),
            ("conformance.relay".to_owned(), 6)
        ],
        "every consumer listed by name with its checkpoint"
    );

    let err = store
        .subscribe_durable("not a name")
        .await
        .err()
        .expect("a name with spaces is refused");
    assert!(
        matches!(err, StoreError::InvalidConsumerName { .. }),
        "{err}"
    );

    for i in 2..CONSUMERS_MAX {
        let name = ConsumerName::new(format!("conformance.many-{i}")).unwrap();
        store.acknowledge(&name, 1).await.unwrap();
    }
    let one_more = ConsumerName::new("conformance.one-more").unwrap();
    let err = store
        .acknowledge(&one_more, 1)
        .await
        .expect_err("over the limit");
    assert!(matches!(err, StoreError::TooManyConsumers { .. }), "{err}");
    assert_eq!(store.consumers().await.unwrap().len(), CONSUMERS_MAX);
    assert_eq!(
        store.acknowledge(&name, 6).await.unwrap(),
        6,
        "a known consumer still acknowledges at the limit"
    );
}

/// `tasks` tasks append concurrently (each `appends_per_task` times), half to shared streams
/// with deliberately stale expected versions at known points, half to private streams.
/// Afterwards: positions 1..N gapless, every stream's versions gapless, no duplicate event
/// ids, conflicts exactly where expected versions were stale, and a subscriber started at 0
/// saw every position exactly once, in order.
pub async fn check_concurrent_appends(store: &SharedStore, tasks: u32, appends_per_task: u32) {
    assert!(tasks >= 2 && appends_per_task >= 1);
    let shared_streams: Vec<StreamId> = (0..4).map(|i| stream(&format!("SHARED-{i}"))).collect();

    let mut subscription = store.subscribe(0);
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = Arc::clone(store);
        let shared = shared_streams.clone();
        handles.push(tokio::spawn(async move {
            let private = stream(&format!("PRIVATE-{task}"));
            let mut ok_events = Vec::new();
            let mut stale_refused = 0u32;
            let mut conflicts_on_shared = 0u32;
            for n in 0..appends_per_task {
                let seed = (u128::from(task) << 32) | u128::from(n);
                let e = event(seed);
                let id = e.event_id;
                if task & 1 == 0 {
                    // Private stream, sole writer: the expected version is always right.
                    let r = store
                        .append(
                            &private,
                            ExpectedVersion::Exact(u64::from(n)),
                            vec![e],
                            None,
                        )
                        .await
                        .expect("private append with a correct expected version must succeed");
                    assert_eq!(r.stream_version, u64::from(n) + 1);
                    ok_events.push((private.to_string(), id));
                    // And a known-stale append: must conflict, naming the real version.
                    let stale = store
                        .append(
                            &private,
                            ExpectedVersion::NoStream,
                            vec![event(seed | (1 << 64))],
                            None,
                        )
                        .await;
                    match stale {
                        Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                            assert_eq!(actual, u64::from(n) + 1);
                            stale_refused += 1;
                        }
                        other => panic!("stale append on {private} must conflict: {other:?}"),
                    }
                } else {
                    // Shared stream: optimistic read-then-append with retries.
                    let s = &shared[(task as usize / 2) % shared.len()];
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        assert!(attempts <= 10_000, "retry loop must terminate");
                        let version = store.read_stream(s, 1).await.expect("read").len() as u64;
                        match store
                            .append(s, ExpectedVersion::Exact(version), vec![e.clone()], None)
                            .await
                        {
                            Ok(r) => {
                                assert_eq!(r.stream_version, version + 1);
                                ok_events.push((s.to_string(), id));
                                break;
                            }
                            Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                                assert!(actual > version, "a conflict means someone else moved on");
                                conflicts_on_shared += 1;
                            }
                            Err(other) => panic!("shared append failed: {other}"),
                        }
                    }
                }
            }
            (ok_events, stale_refused, conflicts_on_shared)
        }));
    }
    let mut expected_ids = BTreeSet::new();
    let mut stale_refused = 0u32;
    let mut per_stream: BTreeMap<String, u64> = BTreeMap::new();
    for handle in handles {
        let (ok, stale, _conflicts) = handle.await.expect("task must not panic");
        stale_refused += stale;
        for (s, id) in ok {
            assert!(expected_ids.insert(id), "event id {id} acknowledged twice");
            *per_stream.entry(s).or_default() += 1;
        }
    }
    let total = u64::from(tasks) * u64::from(appends_per_task);
    assert_eq!(expected_ids.len() as u64, total);
    assert_eq!(
        stale_refused,
        tasks.div_ceil(2) * appends_per_task,
        "every stale append refused"
    );
    assert_eq!(
        head(store).await,
        total,
        "only the good appends were written"
    );

    let records = all(store).await;
    let positions: Vec<u64> = records.iter().map(|r| r.position).collect();
    assert_eq!(
        positions,
        (1..=total).collect::<Vec<_>>(),
        "positions 1..N, no gap"
    );
    let ids: BTreeSet<Uuid> = records.iter().map(|r| r.event_id).collect();
    assert_eq!(
        ids, expected_ids,
        "exactly the acknowledged events, no duplicates"
    );
    for (s, count) in &per_stream {
        let versions: Vec<u64> = store
            .read_stream(&stream(s), 1)
            .await
            .unwrap()
            .iter()
            .map(|r| r.stream_version)
            .collect();
        assert_eq!(
            versions,
            (1..=*count).collect::<Vec<_>>(),
            "stream {s} versions gapless"
        );
    }
    for p in 1..=total {
        assert_eq!(
            next_within(&mut subscription).await.position,
            p,
            "subscriber saw each position once"
        );
    }
    assert!(store.verify(1, None).await.unwrap().is_ok());
}

/// For durable backends: what was appended survives closing and reopening the same location,
/// including the hash chain, the stream heads and the idempotency index, and appends continue
/// where they left off. `open` must open the same location each time; each store returned is
/// dropped before the next `open`.
pub async fn check_reopen<F, Fut>(open: F)
where
    F: Fn(Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = SharedStore>,
{
    let clock = Arc::new(ManualClock::new(CLOCK_START_US));
    let s = stream("X000020");
    let key = Uuid::from_u128(0x5EED);
    let (before, first) = {
        let store = open(clock.clone()).await;
        let first = append_ok(
            &store,
            &s,
            ExpectedVersion::NoStream,
            vec![event(1), event(2)],
            Some(key),
        )
        .await;
        append_ok(
            &store,
            &stream("X000021"),
            ExpectedVersion::Any,
            vec![event(3)],
            None,
        )
        .await;
        let name = ConsumerName::new("conformance.reopen").unwrap();
        assert_eq!(store.acknowledge(&name, 2).await.unwrap(), 2);
        (all(&store).await, first)
    };
    // The clock went back while the store was closed: recorded_at must still not decrease.
    clock.set(CLOCK_START_US - 1_000_000);
    let store = open(clock.clone()).await;
    assert_eq!(head(&store).await, 3, "head survives reopen");
    assert_eq!(
        position_of(&store, "conformance.reopen").await,
        Some(2),
        "a consumer's checkpoint survives reopen"
    );
    let mut resumed = store.subscribe_durable("conformance.reopen").await.unwrap();
    assert_eq!(
        next_durable(&mut resumed).await,
        3,
        "resumed after the checkpoint"
    );
    drop(resumed);
    assert_eq!(
        all(&store).await,
        before,
        "records survive reopen byte for byte"
    );
    let again = append_ok(
        &store,
        &s,
        ExpectedVersion::NoStream,
        vec![event(1), event(2)],
        Some(key),
    )
    .await;
    assert_eq!(
        again,
        AppendResult {
            deduplicated: true,
            ..first
        },
        "idempotency survives reopen"
    );
    let err = store
        .append(&s, ExpectedVersion::Exact(1), vec![event(4)], None)
        .await
        .expect_err("stream head survives reopen");
    assert!(matches!(
        err,
        StoreError::WrongExpectedVersion { actual: 2, .. }
    ));
    let next = append_ok(&store, &s, ExpectedVersion::Exact(2), vec![event(4)], None).await;
    assert_eq!((next.first_position, next.stream_version), (4, 3));
    assert_eq!(
        next.recorded_at_us, CLOCK_START_US,
        "recorded_at continues non-decreasing"
    );
    let report = store.verify(1, None).await.unwrap();
    assert!(report.is_ok() && report.records_checked == 4, "{report:?}");
}
