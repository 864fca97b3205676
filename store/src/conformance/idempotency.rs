//! Idempotency keys: repeats answered with the original result, fingerprints compared.

use super::*;

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
