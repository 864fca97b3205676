//! The key store beside the log ([`crate::keystore`]): data keys are kept wrapped, inserted
//! once, destroyed for good (a tombstone, never a new key), and the KEK id is claimed once;
//! the [`Keyring`] refuses a missing or wrong KEK and reads a destroyed key as destroyed.

use super::*;
use crate::crypto::{DataKey, Kek};
use crate::keystore::{DataKeyEntry, Keyring, KeyringError, SubjectKey};

/// The key store contract on a fresh store.
pub async fn check_key_store(store: &SharedStore) {
    let keys = store.key_store();
    let kek = Kek::ephemeral();
    let subject = stream("X900001");
    assert_eq!(
        keys.kek_id().await.unwrap(),
        None,
        "a fresh store has no KEK id"
    );
    assert_eq!(&keys.claim_kek_id(kek.id()).await.unwrap(), kek.id());
    let other = Kek::ephemeral();
    assert_eq!(
        &keys.claim_kek_id(other.id()).await.unwrap(),
        kek.id(),
        "the first KEK id claimed stays"
    );
    assert_eq!(keys.kek_id().await.unwrap().as_ref(), Some(kek.id()));

    assert_eq!(keys.data_key(&subject).await.unwrap(), DataKeyEntry::Absent);
    let first = kek.wrap(subject.as_str(), &DataKey::generate());
    let stored = keys.insert_data_key(&subject, &first).await.unwrap();
    assert_eq!(stored, DataKeyEntry::Wrapped(first.clone()));
    let second = kek.wrap(subject.as_str(), &DataKey::generate());
    assert_eq!(
        keys.insert_data_key(&subject, &second).await.unwrap(),
        DataKeyEntry::Wrapped(first.clone()),
        "an existing key is never replaced"
    );
    assert_eq!(
        keys.data_key(&subject).await.unwrap(),
        DataKeyEntry::Wrapped(first)
    );

    assert!(
        keys.destroy_data_key(&subject).await.unwrap(),
        "a live key is destroyed"
    );
    assert_eq!(
        keys.data_key(&subject).await.unwrap(),
        DataKeyEntry::Destroyed
    );
    assert!(
        !keys.destroy_data_key(&subject).await.unwrap(),
        "destroying twice reports nothing destroyed"
    );
    assert_eq!(
        keys.insert_data_key(&subject, &second).await.unwrap(),
        DataKeyEntry::Destroyed,
        "no new key for an erased subject"
    );
    let never = stream("X900002");
    assert!(!keys.destroy_data_key(&never).await.unwrap());
    assert_eq!(
        keys.data_key(&never).await.unwrap(),
        DataKeyEntry::Destroyed
    );
    assert_eq!(
        head(store).await,
        0,
        "the key store never writes to the log"
    );
}

/// Every entry of the key store, listed in pages of `limit`: each subject once, keys and
/// tombstones, never the KEK id.
async fn all_data_keys(store: &SharedStore, limit: u32) -> Vec<(StreamId, DataKeyEntry)> {
    let mut all: Vec<(StreamId, DataKeyEntry)> = Vec::new();
    loop {
        let after = all.last().map(|(subject, _)| subject.clone());
        let page = store
            .key_store()
            .data_keys_page(after.as_ref(), limit)
            .await
            .unwrap();
        assert!(
            page.len() <= limit as usize,
            "a page holds at most its limit"
        );
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// The key store lists its entries page by page for a backup: every key and tombstone once,
/// whatever the page size; the KEK id is not an entry.
pub async fn check_data_keys_page(store: &SharedStore) {
    let keys = store.key_store();
    let kek = Kek::ephemeral();
    assert!(
        all_data_keys(store, 2).await.is_empty(),
        "a fresh store lists nothing"
    );
    keys.claim_kek_id(kek.id()).await.unwrap();
    assert!(
        all_data_keys(store, 2).await.is_empty(),
        "the KEK id is not an entry"
    );
    let mut expected = std::collections::BTreeMap::new();
    for n in 1..=5 {
        let subject = stream(&format!("X90010{n}"));
        let wrapped = kek.wrap(subject.as_str(), &DataKey::generate());
        keys.insert_data_key(&subject, &wrapped).await.unwrap();
        expected.insert(subject.as_str().to_owned(), DataKeyEntry::Wrapped(wrapped));
    }
    let erased = stream("X900103");
    keys.destroy_data_key(&erased).await.unwrap();
    expected.insert(erased.as_str().to_owned(), DataKeyEntry::Destroyed);
    let never_keyed = stream("X900199");
    keys.destroy_data_key(&never_keyed).await.unwrap();
    expected.insert(never_keyed.as_str().to_owned(), DataKeyEntry::Destroyed);
    for limit in [1, 2, 3, 100] {
        let listed = all_data_keys(store, limit).await;
        let as_map: std::collections::BTreeMap<_, _> = listed
            .iter()
            .map(|(s, e)| (s.as_str().to_owned(), e.clone()))
            .collect();
        assert_eq!(
            listed.len(),
            as_map.len(),
            "each subject once (page {limit})"
        );
        assert_eq!(as_map, expected, "page size {limit}");
    }
    assert!(keys.data_keys_page(None, 0).await.unwrap().is_empty());
}

/// The keyring over a fresh store: a KEK is recorded on first open; a missing or another KEK
/// is refused naming the expected id; keys are made once, open what they sealed, and read as
/// destroyed after the erasure.
pub async fn check_keyring(store: &SharedStore) {
    let kek = Kek::ephemeral();
    let subject = stream("X900003");
    let keyring = Keyring::open(store.clone(), Some(kek.clone()), true)
        .await
        .expect("a fresh store takes a KEK");
    assert_eq!(keyring.kek_id(), Some(kek.id()));
    let SubjectKey::Live(key) = keyring.key_for_sealing(&subject).await.unwrap() else {
        panic!("a new subject gets a live key")
    };
    let sealed = key.seal(subject.as_str(), b"Alex Example");

    let reopened = Keyring::open(store.clone(), Some(kek.clone()), true)
        .await
        .unwrap();
    let Some(SubjectKey::Live(again)) = reopened.key_for_reading(&subject).await.unwrap() else {
        panic!("the stored key is found")
    };
    assert_eq!(
        again.open(subject.as_str(), &sealed).unwrap(),
        b"Alex Example"
    );

    match Keyring::open(store.clone(), None, true).await {
        Err(KeyringError::MissingKek { expected }) => assert_eq!(&expected, kek.id()),
        other => panic!("a store with a KEK must refuse none, got {:?}", other.err()),
    }
    let wrong = Kek::ephemeral();
    match Keyring::open(store.clone(), Some(wrong.clone()), true).await {
        Err(e @ KeyringError::WrongKek { .. }) => {
            let message = e.to_string();
            assert!(message.contains(kek.id().as_str()), "{message}");
            assert!(message.contains(wrong.id().as_str()), "{message}");
        }
        other => panic!("a store must refuse another KEK, got {:?}", other.err()),
    }

    assert!(reopened.destroy(&subject).await.unwrap());
    assert!(!reopened.destroy(&subject).await.unwrap());
    assert!(matches!(
        reopened.key_for_reading(&subject).await.unwrap(),
        Some(SubjectKey::Destroyed)
    ));
    drop(keyring);
    let fresh = Keyring::open(store.clone(), Some(kek), true).await.unwrap();
    assert!(matches!(
        fresh.key_for_sealing(&subject).await.unwrap(),
        SubjectKey::Destroyed
    ));
}
