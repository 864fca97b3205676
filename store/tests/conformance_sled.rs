//! The conformance suite against `SledStore`, plus what only a durable backend has: reopen,
//! the in-use lock, and corrupt stored bytes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use caseledger_store::sled::layout::{BlockView, KEY_PREFIX_BLOCK};
use caseledger_store::sled::{
    KEY_PREFIX_RECORD, KEY_PREFIX_STREAM_INDEX, LAYOUT_V2, LAYOUT_V3, META_FORMAT_KEY,
    META_LAYOUT_KEY, META_UPGRADING_KEY, TREE_LOG,
};
use caseledger_store::{
    conformance, Durability, EventStore, ExpectedVersion, SledOptions, SledStore, StoreError,
};

/// The key of an unsealed record at `position` (`r` ‖ position BE).
fn record_key(position: u64) -> Vec<u8> {
    let mut key = vec![KEY_PREFIX_RECORD];
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// The key of the block starting at `position` (`b` ‖ position BE).
fn block_key(position: u64) -> Vec<u8> {
    let mut key = vec![KEY_PREFIX_BLOCK];
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// The key of a stream index chunk (`s` ‖ stream ‖ 0x00 ‖ first version BE).
fn chunk_key(stream: &str, first_version: u64) -> Vec<u8> {
    let mut key = vec![KEY_PREFIX_STREAM_INDEX];
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key.extend_from_slice(&first_version.to_be_bytes());
    key
}

/// Append `count` events to `stream` in appends of `per_append`.
async fn append_events(store: &SledStore, stream: &str, count: u64, per_append: u64) {
    let s = conformance::stream(stream);
    let mut written = 0;
    while written < count {
        let n = per_append.min(count - written);
        let events = (written + 1..=written + n)
            .map(|i| conformance::event(u128::from(i)))
            .collect();
        store
            .append(&s, ExpectedVersion::Exact(written), events, None)
            .await
            .unwrap();
        written += n;
    }
}

/// Open the store's sled database directly, as a tool outside caseledger would. A store that
/// was just dropped can still hold sled's file lock for a moment (sled's flusher thread lets
/// go on its next tick), so retry a lock failure for up to two seconds, as `SledStore::open`
/// does, instead of failing the test on a race with that thread.
fn raw_sled(path: &std::path::Path) -> sled::Db {
    let mut waited_ms: u64 = 0;
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(sled::Error::Io(io))
                if io.to_string().contains("could not acquire lock") && waited_ms < 2_000 =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
                waited_ms += 10;
            }
            Err(other) => panic!("opening {} with sled: {other}", path.display()),
        }
    }
}

/// Change the store's one tree behind its back (as disk corruption, or an older build, would)
/// and flush.
fn alter_log(path: &std::path::Path, change: impl FnOnce(&sled::Tree)) {
    let db = raw_sled(path);
    change(&db.open_tree(TREE_LOG).unwrap());
    db.flush().unwrap();
}

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

/// A store opened with the smallest page cache (and one asking for less, which is clamped)
/// behaves exactly like one with the default cache: the cache is a memory bound, not a
/// semantic (operations.md "Memory").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_with_the_smallest_page_cache_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicU32::new(0);
    let root = dir.path().to_path_buf();
    conformance::run_all(|clock| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let path = root.join(format!("store-{n}"));
        // Alternate between exactly the minimum and a request below it (clamped up).
        let cache_capacity_bytes = if n.is_multiple_of(2) {
            caseledger_store::SLED_CACHE_CAPACITY_BYTES_MIN
        } else {
            1
        };
        async move {
            let options = SledOptions {
                durability: Durability::Buffered,
                clock,
            };
            Arc::new(SledStore::open_with_cache(&path, options, cache_capacity_bytes).unwrap())
                as Arc<dyn EventStore>
        }
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
    alter_log(&path, |log| {
        let mut bytes = log.get(record_key(3)).unwrap().unwrap().to_vec();
        let len = bytes.len();
        bytes[len - 70] ^= 0xFF; // inside the payload, before the two 32-byte hashes
        log.insert(record_key(3), bytes).unwrap();
    });
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
    alter_log(&path, |log| {
        log.insert(record_key(3), vec![1u8, 2, 3]).unwrap();
    });
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
    drop(SledStore::open(&path, SledOptions::default()).unwrap());
    alter_log(&path, |log| {
        log.insert(record_key(1), vec![9u8; 5]).unwrap();
    });
    match SledStore::open(&path, SledOptions::default()) {
        Err(StoreError::Corrupt { position: 1, .. }) => {}
        Err(other) => panic!("expected Corrupt at 1, got {other}"),
        Ok(_) => panic!("a corrupt tip must not open silently"),
    }
}

/// Every entry of the store's one tree, as raw bytes: to show a refused open wrote nothing.
fn raw_entries(path: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = raw_sled(path);
    let mut out = Vec::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        for entry in tree.iter() {
            let (k, v) = entry.unwrap();
            let mut key = name.to_vec();
            key.push(b'/');
            key.extend_from_slice(&k);
            out.push((key, v.to_vec()));
        }
    }
    out
}

/// Layout 3 is one tree with prefixed keys; a new store records it. Records stay under their
/// own keys until a block is full, then move into one block key in the same commit; a
/// stream's index is chunks of up to 32 positions (operations.md, "On-disk layout").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_store_writes_layout_three_with_blocks_and_index_chunks_in_one_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let clock = Arc::new(caseledger_store::ManualClock::new(
        conformance::CLOCK_START_US,
    ));
    {
        let store = open(&path, clock.clone(), Durability::Flush);
        let s = conformance::stream("X100003");
        let events = (1..=3).map(conformance::event).collect();
        store
            .append(
                &s,
                ExpectedVersion::NoStream,
                events,
                Some(uuid::Uuid::from_u128(77)),
            )
            .await
            .unwrap();
    }
    {
        let db = raw_sled(&path);
        let names: Vec<Vec<u8>> = db.tree_names().iter().map(|n| n.to_vec()).collect();
        assert!(names.contains(&TREE_LOG.as_bytes().to_vec()), "{names:?}");
        for legacy in [
            "records",
            "stream_index",
            "stream_heads",
            "idempotency",
            "meta",
        ] {
            assert!(
                !names.contains(&legacy.as_bytes().to_vec()),
                "{legacy} tree created"
            );
        }
        let log = db.open_tree(TREE_LOG).unwrap();
        assert_eq!(
            log.get(META_LAYOUT_KEY).unwrap().unwrap().as_ref(),
            [LAYOUT_V3]
        );
        // Three records: fewer than a block, so each under its own key.
        assert_eq!(log.scan_prefix([KEY_PREFIX_RECORD]).count(), 3);
        assert_eq!(log.scan_prefix([KEY_PREFIX_BLOCK]).count(), 0);
        // One chunk keyed by version 1 holding positions 1, 2, 3.
        let index: Vec<(Vec<u8>, Vec<u8>)> = log
            .scan_prefix([KEY_PREFIX_STREAM_INDEX])
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        let positions: Vec<u8> = (1u64..=3).flat_map(|p| p.to_be_bytes()).collect();
        assert_eq!(index, vec![(chunk_key("X100003", 1), positions)]);
        let kinds: std::collections::BTreeSet<u8> = log.iter().map(|e| e.unwrap().0[0]).collect();
        assert_eq!(kinds, [b'i', b'm', b'r', b's'].into_iter().collect());
        let mut key = vec![b'i'];
        key.extend_from_slice(uuid::Uuid::from_u128(77).as_bytes());
        assert!(
            log.get(key).unwrap().is_some(),
            "idempotency entry under i ‖ command id"
        );
    }
    // 40 more events, one append at a time: 43 records are two blocks of 16 and 11 unsealed;
    // 43 versions are chunks at versions 1 and 33.
    {
        let store = open(&path, clock.clone(), Durability::Flush);
        let s = conformance::stream("X100003");
        for version in 3..43u64 {
            store
                .append(
                    &s,
                    ExpectedVersion::Exact(version),
                    vec![conformance::event(u128::from(version) + 1)],
                    None,
                )
                .await
                .unwrap();
        }
    }
    let db = raw_sled(&path);
    let log = db.open_tree(TREE_LOG).unwrap();
    let blocks: Vec<Vec<u8>> = log
        .scan_prefix([KEY_PREFIX_BLOCK])
        .map(|e| e.unwrap().0.to_vec())
        .collect();
    assert_eq!(blocks, vec![block_key(1), block_key(17)]);
    let second = log.get(block_key(17)).unwrap().unwrap();
    let block = BlockView::parse(17, &second).unwrap();
    assert_eq!((block.len(), block.last_position()), (16, 32));
    let unsealed: Vec<Vec<u8>> = log
        .scan_prefix([KEY_PREFIX_RECORD])
        .map(|e| e.unwrap().0.to_vec())
        .collect();
    assert_eq!(unsealed, (33..=43).map(record_key).collect::<Vec<_>>());
    let chunks: Vec<Vec<u8>> = log
        .scan_prefix([KEY_PREFIX_STREAM_INDEX])
        .map(|e| e.unwrap().0.to_vec())
        .collect();
    assert_eq!(
        chunks,
        vec![chunk_key("X100003", 1), chunk_key("X100003", 33)]
    );
}

/// Rewrite the store at `path` in layout 2, as builds before layout 3 wrote it: every record
/// under its own key, one index entry per stream version, layout byte 2.
fn downgrade_to_layout_two(path: &std::path::Path, records: &[caseledger_store::RecordedEvent]) {
    alter_log(path, |log| {
        log.clear().unwrap();
        log.insert(META_FORMAT_KEY, &[1u8][..]).unwrap();
        log.insert(META_LAYOUT_KEY, &[LAYOUT_V2][..]).unwrap();
        for record in records {
            log.insert(
                record_key(record.position),
                caseledger_store::codec::encode_record(record).unwrap(),
            )
            .unwrap();
            log.insert(
                chunk_key(&record.stream_id, record.stream_version),
                &record.position.to_be_bytes()[..],
            )
            .unwrap();
        }
    });
}

/// A layout-2 log is upgraded in place on open: the same records, streams and hash chain,
/// now in blocks and chunks, and appends go on from where it was. An open interrupted
/// during the upgrade (marker still there, layout byte already 3) is finished by the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_two_log_is_upgraded_in_place_and_reads_the_same() {
    for interrupted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let clock = Arc::new(caseledger_store::ManualClock::new(
            conformance::CLOCK_START_US,
        ));
        let (all, stream_a, stream_b) = {
            let store = open(&path, clock.clone(), Durability::Flush);
            append_events(&store, "X200001", 70, 3).await;
            append_events(&store, "X200002", 9, 1).await;
            let all = store.read_all(1, 1_000).await.unwrap();
            let a = store
                .read_stream(&conformance::stream("X200001"), 1)
                .await
                .unwrap();
            let b = store
                .read_stream(&conformance::stream("X200002"), 1)
                .await
                .unwrap();
            (all, a, b)
        };
        assert_eq!(all.len(), 79);
        downgrade_to_layout_two(&path, &all);
        if interrupted {
            // As a crash right after the upgrade was marked would leave it.
            alter_log(&path, |log| {
                log.insert(META_LAYOUT_KEY, &[LAYOUT_V3][..]).unwrap();
                log.insert(META_UPGRADING_KEY, &[LAYOUT_V2][..]).unwrap();
            });
        }
        {
            let store = open(&path, clock.clone(), Durability::Flush);
            assert_eq!(store.read_all(1, 1_000).await.unwrap(), all);
            assert_eq!(
                store
                    .read_stream(&conformance::stream("X200001"), 1)
                    .await
                    .unwrap(),
                stream_a
            );
            assert_eq!(
                store
                    .read_stream(&conformance::stream("X200001"), 40)
                    .await
                    .unwrap(),
                stream_a[39..].to_vec()
            );
            assert_eq!(
                store
                    .read_stream(&conformance::stream("X200002"), 1)
                    .await
                    .unwrap(),
                stream_b
            );
            assert!(store.verify(1, None).await.unwrap().is_ok());
            // Appends continue: the stream version and the chain carry on.
            store
                .append(
                    &conformance::stream("X200002"),
                    ExpectedVersion::Exact(9),
                    vec![conformance::event(10)],
                    None,
                )
                .await
                .unwrap();
            assert!(store.verify(1, None).await.unwrap().is_ok());
        }
        let db = raw_sled(&path);
        let log = db.open_tree(TREE_LOG).unwrap();
        assert_eq!(
            log.get(META_LAYOUT_KEY).unwrap().unwrap().as_ref(),
            [LAYOUT_V3]
        );
        assert!(
            log.get(META_UPGRADING_KEY).unwrap().is_none(),
            "marker removed"
        );
        // 80 records: five full blocks of 16, nothing unsealed.
        assert_eq!(log.scan_prefix([KEY_PREFIX_BLOCK]).count(), 5);
        assert_eq!(log.scan_prefix([KEY_PREFIX_RECORD]).count(), 0);
        // 70 versions → chunks at 1, 33, 65; 10 versions → one chunk.
        let chunks: Vec<Vec<u8>> = log
            .scan_prefix([KEY_PREFIX_STREAM_INDEX])
            .map(|e| e.unwrap().0.to_vec())
            .collect();
        assert_eq!(
            chunks,
            vec![
                chunk_key("X200001", 1),
                chunk_key("X200001", 33),
                chunk_key("X200001", 65),
                chunk_key("X200002", 1),
            ]
        );
    }
}

/// A sealed record altered inside its block is found by verify at its own position; a block
/// that no longer parses is reported as `Corrupt`, not a panic, by every reader (a broken
/// LAST block fails the open instead, as a broken last record does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_blocks_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let clock = Arc::new(caseledger_store::ManualClock::new(
        conformance::CLOCK_START_US,
    ));
    {
        let store = open(&path, clock.clone(), Durability::Flush);
        append_events(&store, "X100009", 60, 5).await;
    }
    // Flip a payload byte of position 20 (the fourth record of the block at 17).
    alter_log(&path, |log| {
        let value = log.get(block_key(17)).unwrap().unwrap();
        let block = BlockView::parse(17, &value).unwrap();
        let record = block.record(20).unwrap();
        let offset = record.as_ptr() as usize - value.as_ptr() as usize;
        let mut bytes = value.to_vec();
        bytes[offset + record.len() - 70] ^= 0xFF;
        log.insert(block_key(17), bytes).unwrap();
    });
    {
        let store = open(&path, clock.clone(), Durability::Flush);
        let report = store.verify(1, None).await.unwrap();
        assert_eq!(report.first_bad.map(|b| b.0), Some(20));
        assert!(store.verify(21, None).await.unwrap().is_ok());
        assert!(store.verify(1, Some(19)).await.unwrap().is_ok());
    }
    // Truncate the block: it no longer parses.
    alter_log(&path, |log| {
        log.insert(block_key(17), vec![1u8, 0, 0, 0, 9]).unwrap();
    });
    let store = open(&path, clock, Durability::Flush);
    let err = store.read_all(1, 100).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { position: 17, .. }),
        "{err}"
    );
    let err = store
        .read_stream(&conformance::stream("X100009"), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { position: 17, .. }),
        "{err}"
    );
    let report = store.verify(1, None).await.unwrap();
    assert_eq!(report.first_bad.map(|b| b.0), Some(17));
    assert_eq!(report.records_checked, 16);
    // The records after the broken block still read.
    assert_eq!(store.read_all(33, 100).await.unwrap().len(), 28);
}

/// A store in layout 1 (four sled trees) is refused with a typed error naming both layouts,
/// and opening it writes nothing.
#[test]
fn a_layout_one_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let db = raw_sled(&path);
        db.open_tree("meta")
            .unwrap()
            .insert(b"format", &[1u8][..])
            .unwrap();
        db.open_tree("records")
            .unwrap()
            .insert(1u64.to_be_bytes(), vec![1u8; 40])
            .unwrap();
        db.flush().unwrap();
    }
    let before = raw_entries(&path);
    match SledStore::open(&path, SledOptions::default()) {
        Err(e @ StoreError::UnknownLayout { .. }) => {
            let StoreError::UnknownLayout {
                ref found,
                supported,
                ..
            } = e
            else {
                unreachable!()
            };
            assert!(found.starts_with('1'), "{found}");
            assert_eq!(supported, LAYOUT_V3);
            assert!(
                e.to_string().contains("another directory"),
                "actionable: {e}"
            );
        }
        Err(other) => panic!("expected UnknownLayout, got {other}"),
        Ok(_) => panic!("a layout 1 store must not open"),
    }
    assert_eq!(raw_entries(&path), before, "a refused open writes nothing");
}

/// An unknown layout byte, and entries without any layout byte, are refused the same way.
#[test]
fn an_unknown_or_missing_layout_version_is_refused() {
    for (layout, found) in [(Some(9u8), "[9]"), (None, "none")] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let db = raw_sled(&path);
            let log = db.open_tree(TREE_LOG).unwrap();
            log.insert(record_key(1), vec![1u8; 40]).unwrap();
            if let Some(layout) = layout {
                log.insert(META_LAYOUT_KEY, &[layout][..]).unwrap();
            }
            db.flush().unwrap();
        }
        let before = raw_entries(&path);
        match SledStore::open(&path, SledOptions::default()) {
            Err(StoreError::UnknownLayout { found: f, .. }) => {
                assert!(f.starts_with(found), "{f}")
            }
            Err(other) => panic!("expected UnknownLayout, got {other}"),
            Ok(_) => panic!("layout {layout:?} must not open"),
        }
        assert_eq!(raw_entries(&path), before, "a refused open writes nothing");
    }
}

/// An uncontended append on a multi-threaded runtime commits inline (no hop to the writer
/// thread); on a single-threaded runtime it always goes through the writer thread, so tasks
/// can queue behind a flush and share it. Both give the same log.
#[test]
fn uncontended_appends_commit_inline_only_on_a_multi_threaded_runtime() {
    for (multi_thread, inline_expected) in [(true, 5), (false, 0)] {
        let runtime = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(caseledger_store::ManualClock::new(
            conformance::CLOCK_START_US,
        ));
        let store = open(dir.path(), clock, Durability::Flush);
        runtime.block_on(async {
            let s = conformance::stream("X100004");
            for n in 0..5u64 {
                let r = store
                    .append(
                        &s,
                        ExpectedVersion::Exact(n),
                        vec![conformance::event(u128::from(n) + 1)],
                        None,
                    )
                    .await
                    .unwrap();
                assert_eq!(r.last_position, n + 1);
            }
            assert!(store.verify(1, None).await.unwrap().is_ok());
        });
        let stats = store.stats();
        assert_eq!((stats.batches, stats.events), (5, 5));
        assert_eq!(
            stats.inline_batches, inline_expected,
            "multi_thread {multi_thread}"
        );
    }
}
