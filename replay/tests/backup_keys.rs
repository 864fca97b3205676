//! The keys file of a backup (`replay::backup_keys`): it holds the key store's entries of the
//! exported cases only, and reads back entry by entry with every key checked — a key moved to
//! another person, a person named twice or a wrong count is refused at its line, and a load
//! puts the same entries into another store.

use std::sync::Arc;

use caseledger_replay::backup_keys::{
    check_keys, load_keys, write_keys, KeysReader, KEY_DESTROYED,
};
use caseledger_replay::ReplayError;
use caseledger_store::crypto::{DataKey, Kek};
use caseledger_store::keystore::DataKeyEntry;
use caseledger_store::{Actor, Clock, EventStore, ExpectedVersion, ManualClock, MemoryStore};
use caseledger_store::{NewEvent, StreamId};
use uuid::Uuid;

const EXPORT: &str = "root@2";

fn fact(event_id: u128) -> NewEvent {
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
        command_id: Uuid::from_u128(event_id),
        correlation_id: Uuid::nil(),
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: vec![1],
    }
}

fn memory() -> MemoryStore {
    MemoryStore::new(Arc::new(ManualClock::new(1_000)) as Arc<dyn Clock>)
}

fn subject(id: &str) -> StreamId {
    StreamId::new(id).unwrap()
}

/// A store with cases X000001 and X000002 (positions 1 and 2, the export) and X000003
/// (position 3, after it); all three keyed, X000002's key destroyed.
async fn source(kek: &Kek) -> MemoryStore {
    let store = memory();
    let keys = store.key_store();
    keys.claim_kek_id(kek.id()).await.unwrap();
    for (n, id) in ["X000001", "X000002", "X000003"].iter().enumerate() {
        let s = subject(id);
        store
            .append(
                &s,
                ExpectedVersion::Exact(0),
                vec![fact(n as u128 + 1)],
                None,
            )
            .await
            .unwrap();
        let wrapped = kek.wrap(id, &DataKey::generate());
        keys.insert_data_key(&s, &wrapped).await.unwrap();
    }
    keys.destroy_data_key(&subject("X000002")).await.unwrap();
    store
}

async fn keys_file(kek: &Kek) -> (MemoryStore, String) {
    let store = source(kek).await;
    let mut out = Vec::new();
    let written = write_keys(&store, EXPORT, 2, &mut out).await.unwrap();
    assert_eq!((written.live, written.destroyed), (1, 1));
    (store, String::from_utf8(out).unwrap())
}

fn refused_line(text: &str, kek: &Kek) -> u64 {
    let mut reader = KeysReader::open(text.as_bytes(), Some(kek), EXPORT).unwrap();
    match check_keys(&mut reader) {
        Err(ReplayError::KeysLine { line, .. }) => line,
        other => panic!("refused at a line expected: {other:?}\n{text}"),
    }
}

#[tokio::test]
async fn the_keys_of_the_exported_cases_round_trip_into_another_store() {
    let kek = Kek::ephemeral();
    let (source, text) = keys_file(&kek).await;
    assert!(!text.contains("X000003"), "a case after the export: {text}");
    assert!(text.contains(&format!(
        "\"subject\":\"X000002\",\"key\":\"{KEY_DESTROYED}\""
    )));

    let target = memory();
    target.key_store().claim_kek_id(kek.id()).await.unwrap();
    let mut reader = KeysReader::open(text.as_bytes(), Some(&kek), EXPORT).unwrap();
    load_keys(&target, &mut reader).await.unwrap();
    for id in ["X000001", "X000002"] {
        let (from, to) = (source.key_store(), target.key_store());
        assert_eq!(
            to.data_key(&subject(id)).await.unwrap(),
            from.data_key(&subject(id)).await.unwrap(),
            "{id}"
        );
    }
    assert_eq!(
        target
            .key_store()
            .data_key(&subject("X000003"))
            .await
            .unwrap(),
        DataKeyEntry::Absent
    );
    assert_eq!(
        target.head().await.unwrap(),
        0,
        "keys never write to the log"
    );
}

#[tokio::test]
async fn a_moved_key_a_repeated_person_or_a_wrong_count_is_refused_at_its_line() {
    let kek = Kek::ephemeral();
    let (_, text) = keys_file(&kek).await;
    let lines: Vec<&str> = text.lines().collect();

    // X000001's wrapped key under another person's name does not open.
    let moved = text.replace("\"subject\":\"X000001\"", "\"subject\":\"X000009\"");
    assert_eq!(refused_line(&moved, &kek), 2);

    // A person named twice, the count adjusted.
    let twice = [lines[0], lines[1], lines[1], lines[2], "{\"keys\":3}"].join("\n") + "\n";
    assert_eq!(refused_line(&twice, &kek), 3);

    // A count that does not match the lines before it.
    let short = [lines[0], lines[1], lines[3]].join("\n") + "\n";
    assert_eq!(refused_line(&short, &kek), 3);

    // Under another KEK, or for another export: refused at the header, naming both.
    let other = Kek::ephemeral();
    match KeysReader::open(text.as_bytes(), Some(&other), EXPORT) {
        Err(e @ ReplayError::KeysUnderAnotherKek { .. }) => {
            let said = e.to_string();
            assert!(said.contains(kek.id().as_str()) && said.contains(other.id().as_str()));
        }
        other => panic!("{:?}", other.err()),
    }
    assert!(matches!(
        KeysReader::open(text.as_bytes(), Some(&kek), "root@3"),
        Err(ReplayError::KeysForAnotherExport { .. })
    ));
}
