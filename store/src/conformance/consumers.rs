//! Durable named consumers: checkpoints kept in the store.

use super::*;

pub(super) async fn next_durable(subscription: &mut DurableSubscription) -> u64 {
    match tokio::time::timeout(WAIT_MAX, subscription.next()).await {
        Ok(Ok(record)) => record.position,
        Ok(Err(e)) => panic!("durable subscription failed: {e}"),
        Err(_) => panic!(
            "durable subscription waited {WAIT_MAX:?} for position {} that never came",
            subscription.next_position()
        ),
    }
}

pub(super) async fn position_of(store: &SharedStore, name: &str) -> Option<u64> {
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
