//! Reading the log: `read_all` paging, the hash chain, and subscriptions.

use super::*;

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

pub(super) async fn next_within(subscription: &mut crate::Subscription) -> RecordedEvent {
    match tokio::time::timeout(WAIT_MAX, subscription.next()).await {
        Ok(Ok(record)) => record,
        Ok(Err(e)) => panic!("subscription failed: {e}"),
        Err(_) => panic!(
            "subscription waited {WAIT_MAX:?} for position {} that never came",
            subscription.next_position()
        ),
    }
}
