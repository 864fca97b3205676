//! Appending and reading back: positions, versions, expected versions, bad input, the clock.

use super::*;

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

fn grouped(
    stream: &StreamId,
    expected: ExpectedVersion,
    seed: u128,
    key: Option<u128>,
    after: Option<usize>,
) -> crate::GroupedAppend {
    crate::GroupedAppend {
        stream: stream.clone(),
        expected,
        events: vec![event(seed)],
        key: key.map(|k| Uuid::from_u128(k).into()),
        after,
    }
}

/// A group is appended in its order with one answer per append; an append that names an
/// earlier one (`after`) is written only if that one was, never after a refused or
/// deduplicated one; a group that cannot be used writes nothing.
pub async fn check_append_group(store: &SharedStore) {
    let (a, b) = (stream("X000001"), stream("X000002"));
    let answers = store
        .append_group(vec![
            grouped(&a, ExpectedVersion::Exact(0), 1, Some(0xA1), None),
            grouped(&b, ExpectedVersion::NoStream, 2, None, None),
            grouped(&a, ExpectedVersion::Exact(1), 3, Some(0xA2), Some(0)),
            grouped(&a, ExpectedVersion::Exact(7), 4, None, None),
            grouped(&a, ExpectedVersion::Exact(3), 5, None, Some(3)),
        ])
        .await
        .expect("a usable group");
    let places: Vec<_> = answers
        .iter()
        .map(|r| r.as_ref().map(|r| (r.first_position, r.stream_version)))
        .collect();
    assert_eq!(places[..3], [Ok((1, 1)), Ok((2, 1)), Ok((3, 2))]);
    assert!(matches!(
        answers[3],
        Err(StoreError::WrongExpectedVersion { .. })
    ));
    assert!(
        matches!(
            answers[4],
            Err(StoreError::PrecedingAppendNotApplied { index: 3, .. })
        ),
        "{:?}",
        answers[4]
    );
    // A repeat is answered as one, and what was decided after it is not written.
    let answers = store
        .append_group(vec![
            grouped(&a, ExpectedVersion::Exact(0), 1, Some(0xA1), None),
            grouped(&a, ExpectedVersion::Exact(1), 6, Some(0xA3), Some(0)),
        ])
        .await
        .expect("a usable group");
    assert!(matches!(&answers[0], Ok(r) if r.deduplicated && r.first_position == 1));
    assert!(matches!(
        answers[1],
        Err(StoreError::PrecedingAppendNotApplied { index: 0, .. })
    ));
    let unusable = store
        .append_group(vec![
            grouped(&a, ExpectedVersion::Exact(2), 7, None, Some(1)),
            grouped(&a, ExpectedVersion::Exact(3), 8, None, None),
        ])
        .await;
    assert!(matches!(unusable, Err(StoreError::InvalidGroup { .. })));
    let crossed = store
        .append_group(vec![
            grouped(&a, ExpectedVersion::Exact(2), 7, None, None),
            grouped(&b, ExpectedVersion::Exact(1), 8, None, Some(0)),
        ])
        .await;
    assert!(matches!(crossed, Err(StoreError::InvalidGroup { .. })));
    assert_eq!(
        head(store).await,
        3,
        "only the written appends moved the head"
    );
    let positions: Vec<u64> = all(store).await.iter().map(|r| r.position).collect();
    assert_eq!(positions, vec![1, 2, 3]);
}
