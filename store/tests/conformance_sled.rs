//! The conformance suite against `SledStore`, plus what only a durable backend has: reopen,
//! the in-use lock, and corrupt stored bytes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use caseledger_store::{
    conformance, Durability, EventStore, ExpectedVersion, SledOptions, SledStore, StoreError,
};

fn open(
    path: &std::path::Path,
    clock: Arc<dyn caseledger_store::Clock>,
    durability: Durability,
) -> SledStore {
    SledStore::open(path, SledOptions { durability, clock }).expect("open sled store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicU32::new(0);
    let root = dir.path().to_path_buf();
    conformance::run_all(|clock| {
        let path = root.join(format!("store-{}", counter.fetch_add(1, Ordering::SeqCst)));
        async move { Arc::new(open(&path, clock, Durability::Flush)) as Arc<dyn EventStore> }
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn sled_store_passes_the_conformance_suite_on_a_single_threaded_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicU32::new(0);
    let root = dir.path().to_path_buf();
    conformance::run_all(|clock| {
        let path = root.join(format!("store-{}", counter.fetch_add(1, Ordering::SeqCst)));
        async move { Arc::new(open(&path, clock, Durability::Buffered)) as Arc<dyn EventStore> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_survives_reopen_in_every_durability_mode() {
    for durability in [Durability::Flush, Durability::Fsync, Durability::Buffered] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        conformance::check_reopen(|clock| {
            let path = path.clone();
            async move { Arc::new(open(&path, clock, durability)) as Arc<dyn EventStore> }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_tasks_append_concurrently_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(caseledger_store::ManualClock::new(
        conformance::CLOCK_START_US,
    ));
    let store: Arc<dyn EventStore> = Arc::new(open(dir.path(), clock, Durability::Flush));
    conformance::check_concurrent_appends(&store, 64, 8).await;
}

#[test]
fn a_second_open_of_the_same_path_is_refused_as_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let first = SledStore::open(dir.path(), SledOptions::default()).unwrap();
    let second = SledStore::open(dir.path(), SledOptions::default());
    match second {
        Err(StoreError::InUse { path }) => {
            assert_eq!(path, dir.path().display().to_string());
        }
        Err(other) => panic!("expected InUse, got {other}"),
        Ok(_) => panic!("a second open of {} must be refused", dir.path().display()),
    }
    drop(first);
    SledStore::open(dir.path(), SledOptions::default()).expect("reopen after close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_appends_are_durable_after_an_explicit_flush() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(caseledger_store::ManualClock::new(
        conformance::CLOCK_START_US,
    ));
    let store = open(dir.path(), clock, Durability::Buffered);
    let s = conformance::stream("X100001");
    let r = store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![conformance::event(1)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.last_position, 1);
    store.flush().await.unwrap();
    assert_eq!(store.stats().events, 1);
    assert_eq!(store.stats().batches, 1);
}

/// Overwrite the stored bytes of one record behind the store's back (as disk corruption
/// would), then reopen: reads report `Corrupt` naming the position, verify names it as the
/// first bad position, and nothing is written by a refused append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_stored_bytes_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let clock = Arc::new(caseledger_store::ManualClock::new(
        conformance::CLOCK_START_US,
    ));
    {
        let store = open(&path, clock.clone(), Durability::Flush);
        let s = conformance::stream("X100002");
        let events = (1..=5).map(conformance::event).collect();
        store
            .append(&s, ExpectedVersion::NoStream, events, None)
            .await
            .unwrap();
    }
    // Corrupt position 3: first flip a payload byte (decodes, but the hash no longer matches).
    {
        let db = sled::open(&path).unwrap();
        let records = db.open_tree("records").unwrap();
        let mut bytes = records.get(3u64.to_be_bytes()).unwrap().unwrap().to_vec();
        let len = bytes.len();
        bytes[len - 70] ^= 0xFF; // inside the payload, before the two 32-byte hashes
        records.insert(3u64.to_be_bytes(), bytes).unwrap();
        db.flush().unwrap();
    }
    {
        let store = open(&path, clock.clone(), Durability::Flush);
        let report = store.verify(1, None).await.unwrap();
        let (position, reason) = report.first_bad.expect("altered record must be found");
        assert_eq!(position, 3, "{reason}");
        // Ranges that do not include position 3 are intact: 4 links to 3's stored hash.
        assert!(store.verify(1, Some(2)).await.unwrap().is_ok());
        assert!(store.verify(4, None).await.unwrap().is_ok());
    }
    // Now truncate it: undecodable bytes.
    {
        let db = sled::open(&path).unwrap();
        let records = db.open_tree("records").unwrap();
        records.insert(3u64.to_be_bytes(), vec![1u8, 2, 3]).unwrap();
        db.flush().unwrap();
    }
    let store = open(&path, clock, Durability::Flush);
    let err = store.read_all(1, 10).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { position: 3, .. }),
        "{err}"
    );
    let report = store.verify(1, None).await.unwrap();
    assert_eq!(report.first_bad.map(|b| b.0), Some(3));
    assert_eq!(report.records_checked, 2);
    assert_eq!(
        store
            .read_stream(&conformance::stream("X100002"), 4)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_corrupt_last_record_fails_open_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let db = sled::open(&path).unwrap();
        db.open_tree("records")
            .unwrap()
            .insert(1u64.to_be_bytes(), vec![9u8; 5])
            .unwrap();
        db.flush().unwrap();
    }
    match SledStore::open(&path, SledOptions::default()) {
        Err(StoreError::Corrupt { position: 1, .. }) => {}
        Err(other) => panic!("expected Corrupt at 1, got {other}"),
        Ok(_) => panic!("a corrupt tip must not open silently"),
    }
}
