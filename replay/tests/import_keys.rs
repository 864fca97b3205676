//! Import rebuilds the idempotency index: which key each append gets, and
//! logs whose appends the handler would have keyed alike (written without keys) still import
//! byte-identical.

use std::sync::Arc;

use caseledger_replay::domain_payload::DomainPayloads;
use caseledger_replay::export::export_log;
use caseledger_replay::import::{handler_idempotency_key, stage_import};
use caseledger_store::{
    Actor, Clock, EventStore, ExpectedVersion, ManualClock, MemoryStore, NewEvent, RecordedEvent,
    StreamId,
};
use uuid::Uuid;

/// An event of a type the domain does not define: exported as hex bytes, no domain needed.
fn fact(event_id: u128, command_id: Uuid) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(event_id),
        event_type: "TestFact".into(),
        schema_version: 1,
        effective_at_us: 0,
        actor: Actor {
            id: "t".into(),
            role: "system".into(),
            organisation: "test".into(),
        },
        command_id,
        correlation_id: command_id,
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: vec![1, 2, 3],
    }
}

fn store() -> (Arc<MemoryStore>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000));
    (
        Arc::new(MemoryStore::new(clock.clone() as Arc<dyn Clock>)),
        clock,
    )
}

/// Append without a key, recorded `later_us` after the previous append.
async fn put(
    store: &MemoryStore,
    clock: &ManualClock,
    later_us: i64,
    stream: &str,
    events: Vec<NewEvent>,
) {
    clock.advance(later_us);
    store
        .append(
            &StreamId::new(stream).expect("stream"),
            ExpectedVersion::Any,
            events,
            None,
        )
        .await
        .expect("append");
}

fn record(stream: &str, event_type: &str, event_id: u128, command_id: Uuid) -> RecordedEvent {
    RecordedEvent {
        position: 1,
        stream_id: stream.into(),
        stream_version: 1,
        recorded_at_us: 0,
        event_id: Uuid::from_u128(event_id),
        event_type: event_type.into(),
        schema_version: 1,
        effective_at_us: 0,
        actor: Actor::default(),
        command_id,
        correlation_id: command_id,
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: Vec::new(),
        previous_hash: [0; 32],
        hash: [0; 32],
    }
}

#[test]
fn the_key_is_the_command_id_except_for_refusal_records_and_commandless_records() {
    let command = Uuid::from_u128(42);
    assert_eq!(
        handler_idempotency_key(&record("X123456", "CaseOpened", 7, command)),
        Some(command)
    );
    // commands/src/handler.rs record_refusal: key = event id = refusal_key(command id).
    assert_eq!(
        handler_idempotency_key(&record("audit-refusals", "CommandRefused", 7, command)),
        Some(Uuid::from_u128(7))
    );
    assert_eq!(
        handler_idempotency_key(&record("X123456", "CaseOpened", 7, Uuid::nil())),
        None
    );
}

/// A log written without idempotency keys in which one command id appears in two separate
/// appends of one stream and in an append of another stream: the first append keeps the key,
/// the others are imported without it, and the import is byte-identical.
#[tokio::test]
async fn appends_sharing_a_key_import_byte_identical_and_the_first_keeps_the_key() {
    let (source, clock) = store();
    let x = Uuid::from_u128(100);
    let y = Uuid::from_u128(200);
    put(
        &source,
        &clock,
        1_000,
        "A000001",
        vec![fact(1, x), fact(2, x)],
    )
    .await;
    put(&source, &clock, 1_000, "B000001", vec![fact(3, y)]).await;
    put(&source, &clock, 1_000, "A000001", vec![fact(4, x)]).await;
    put(&source, &clock, 1_000, "C000001", vec![fact(5, x)]).await;
    // Two commands recorded at the same instant on one stream, different command ids.
    put(
        &source,
        &clock,
        1_000,
        "B000001",
        vec![fact(6, Uuid::from_u128(300))],
    )
    .await;
    put(
        &source,
        &clock,
        0,
        "B000001",
        vec![fact(7, Uuid::from_u128(400))],
    )
    .await;
    // No command: no key.
    put(
        &source,
        &clock,
        1_000,
        "B000001",
        vec![fact(8, Uuid::nil())],
    )
    .await;

    let mut export = Vec::new();
    let exported = export_log(source.as_ref(), &DomainPayloads, &mut export)
        .await
        .expect("export");
    let (target, target_clock) = store();
    target_clock.set(0);
    let summary = stage_import(export.as_slice(), &DomainPayloads)
        .expect("stages")
        .commit(target.as_ref(), &target_clock, &DomainPayloads)
        .await
        .expect("imports");
    assert_eq!((summary.head, summary.root), (exported.head, exported.root));
    // x on A (first append), y, 300 and 400: four keys; the later x appends and the commandless
    // one are not keyed.
    assert_eq!(summary.appends_keyed, 4);
    let all = |s: Arc<MemoryStore>| async move { s.read_all(1, 100).await.expect("read") };
    assert_eq!(all(source).await, all(target.clone()).await);

    // The key x answers with the first append, positions 1..=2.
    let again = target
        .append(
            &StreamId::new("A000001").expect("stream"),
            ExpectedVersion::Any,
            vec![fact(9, x)],
            Some(x),
        )
        .await
        .expect("append");
    assert!(again.deduplicated);
    assert_eq!((again.first_position, again.last_position), (1, 2));
    // 300 and 400 were separate appends: each answers with its own position.
    for (key, position) in [(300u128, 6u64), (400, 7)] {
        let again = target
            .append(
                &StreamId::new("B000001").expect("stream"),
                ExpectedVersion::Any,
                vec![fact(10, Uuid::from_u128(key))],
                Some(Uuid::from_u128(key)),
            )
            .await
            .expect("append");
        assert!(again.deduplicated);
        assert_eq!(again.last_position, position);
    }
}
