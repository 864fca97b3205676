//! Concurrent appends (one writer, no gaps) and reopening a durable store.

use super::*;

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
        keys_before_reopen(&store).await;
        (all(&store).await, first)
    };
    // The clock went back while the store was closed: recorded_at must still not decrease.
    clock.set(CLOCK_START_US - 1_000_000);
    let store = open(clock.clone()).await;
    assert_eq!(head(&store).await, 3, "head survives reopen");
    keys_after_reopen(&store).await;
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

/// The KEK id, a live key and a destroyed key, written before a reopen.
async fn keys_before_reopen(store: &SharedStore) {
    let kek = crate::crypto::Kek::ephemeral();
    let keys = store.key_store();
    keys.claim_kek_id(kek.id()).await.unwrap();
    let wrapped = kek.wrap("X000020", &crate::crypto::DataKey::generate());
    keys.insert_data_key(&stream("X000020"), &wrapped)
        .await
        .unwrap();
    let doomed = kek.wrap("X000021", &crate::crypto::DataKey::generate());
    keys.insert_data_key(&stream("X000021"), &doomed)
        .await
        .unwrap();
    assert!(keys.destroy_data_key(&stream("X000021")).await.unwrap());
}

/// What [`keys_before_reopen`] wrote is still there after the reopen.
async fn keys_after_reopen(store: &SharedStore) {
    use crate::keystore::DataKeyEntry;
    let keys = store.key_store();
    assert!(
        keys.kek_id().await.unwrap().is_some(),
        "the KEK id survives reopen"
    );
    assert!(
        matches!(
            keys.data_key(&stream("X000020")).await.unwrap(),
            DataKeyEntry::Wrapped(_)
        ),
        "a data key survives reopen"
    );
    assert_eq!(
        keys.data_key(&stream("X000021")).await.unwrap(),
        DataKeyEntry::Destroyed,
        "a destroyed key stays destroyed after reopen"
    );
}
