//! The projection framework on a toy projection: incremental with restarts, full rebuild and
//! in-memory fold agree; generations switch atomically; bad events write nothing.

mod common;

use std::collections::BTreeMap;

use caseledger_projections::{
    catch_up, fold_store, rebuild, rebuild_stream, rebuild_with, run_live, AsOf, NoProgress,
    Projection, ProjectionError, ReadModelDb, RebuildOptions, RowSource, Rows,
    READ_MODEL_CACHE_BYTES_MIN,
};
use caseledger_store::{RecordedEvent, StreamId};
use common::{Backend, TestLog};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// Counts events per stream and per event type; a payload of `[0xFF]` is "undecodable".
struct Toy;

#[derive(Clone, Default, Serialize, Deserialize)]
struct ToyState {
    events: u64,
    by_type: BTreeMap<String, u64>,
    closed: bool,
}

impl Projection for Toy {
    type State = ToyState;
    fn name(&self) -> &'static str {
        "toy"
    }
    fn models(&self) -> &'static [&'static str] {
        &["streams", "types"]
    }
    type Decoded = ();
    fn decode(&self, record: &RecordedEvent) -> Result<(), ProjectionError> {
        if record.payload == [0xFF] {
            return Err(ProjectionError::UndecodableEvent {
                position: record.position,
                stream: record.stream_id.clone(),
                event_type: record.event_type.clone(),
                reason: "toy payload 0xFF".into(),
            });
        }
        Ok(())
    }
    fn apply(
        &self,
        state: &mut ToyState,
        record: &RecordedEvent,
        (): (),
    ) -> Result<(), ProjectionError> {
        state.events += 1;
        *state.by_type.entry(record.event_type.clone()).or_default() += 1;
        state.closed = record.event_type == "Closed";
        Ok(())
    }
    fn rows(&self, _stream: &str, state: &ToyState, out: &mut Rows) {
        // A closed stream contributes no rows: exercises row deletion.
        if state.closed {
            return;
        }
        out.put(0, Vec::new(), state.events.to_be_bytes());
        for (t, n) in &state.by_type {
            out.put(1, t.as_bytes(), n.to_be_bytes());
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const TYPES: [&str; 4] = ["Opened", "Noted", "Moved", "Closed"];

fn fill(store: &TestLog, events: &[(u8, u8)]) {
    for (i, (stream, kind)) in events.iter().enumerate() {
        let t = TYPES[usize::from(*kind) % TYPES.len()];
        store.push(&format!("X{stream}"), t, vec![*kind], i as i64, i as i64);
    }
}

fn memory_digests(store: &TestLog) -> BTreeMap<String, String> {
    runtime()
        .block_on(fold_store(
            &Toy,
            store.dyn_store(),
            AsOf::Now,
            &mut NoProgress,
        ))
        .unwrap()
        .digests()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Issue 5 "must show": incremental projection with restarts at random checkpoints and a
    /// full rebuild give identical digests (and equal the in-memory fold).
    #[test]
    fn incremental_with_restarts_equals_full_rebuild(
        events in proptest::collection::vec((0u8..6, 0u8..4), 1..300),
        cuts in proptest::collection::vec(0usize..300, 0..5),
        on_sled in any::<bool>(),
    ) {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let store = TestLog::new(if on_sled { Backend::Sled } else { Backend::Memory });
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % events.len()).collect();
        cuts.push(events.len());
        cuts.sort_unstable();
        let mut done = 0;
        for cut in cuts {
            fill(&store, &events[done..cut]);
            done = cut;
            // A restart: a fresh handle on the same database each time.
            let db = ReadModelDb::open(dir.path().join("rm")).unwrap();
            rt.block_on(catch_up(store.dyn_store(), &db, &Toy, &mut NoProgress)).unwrap();
        }
        let db = ReadModelDb::open(dir.path().join("rm")).unwrap();
        let incremental = db.view(&Toy).unwrap().unwrap().digests().unwrap();
        let fresh = ReadModelDb::open(dir.path().join("fresh")).unwrap();
        let full = rt.block_on(rebuild(store.dyn_store(), &fresh, &Toy, &mut NoProgress)).unwrap();
        prop_assert_eq!(&incremental, &full.digests);
        prop_assert_eq!(&incremental, &memory_digests(&store));
        // And a rebuild over the incrementally built database switches to the same rows.
        let again = rt.block_on(rebuild(store.dyn_store(), &db, &Toy, &mut NoProgress)).unwrap();
        prop_assert_eq!(&again.digests, &incremental);
    }
}

#[test]
fn rows_of_a_closed_stream_are_deleted_incrementally() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = TestLog::memory();
    let db = ReadModelDb::open(dir.path()).unwrap();
    store.push("A", "Opened", vec![0], 0, 0);
    store.push("B", "Opened", vec![0], 0, 0);
    rt.block_on(catch_up(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap();
    let view = db.view(&Toy).unwrap().unwrap();
    let mut streams = Vec::new();
    view.for_each_row(0, &mut |k, _| {
        streams.push(k.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(streams, vec![b"A\0".to_vec(), b"B\0".to_vec()]);
    store.push("A", "Closed", vec![3], 1, 1);
    assert_eq!(
        rt.block_on(catch_up(store.dyn_store(), &db, &Toy, &mut NoProgress))
            .unwrap(),
        3
    );
    let mut streams = Vec::new();
    view.for_each_row(0, &mut |k, _| {
        streams.push(k.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(streams, vec![b"B\0".to_vec()]);
    assert_eq!(view.checkpoint(), 3);
}

#[test]
fn an_undecodable_event_is_a_typed_error_and_writes_nothing() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = TestLog::memory();
    let db = ReadModelDb::open(dir.path()).unwrap();
    store.push("A", "Opened", vec![0], 0, 0);
    rt.block_on(catch_up(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap();
    let before = db.view(&Toy).unwrap().unwrap().digests().unwrap();
    store.push("A", "Noted", vec![1], 0, 0);
    store.push("A", "Garbled", vec![0xFF], 0, 0);
    let err = rt
        .block_on(catch_up(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap_err();
    assert!(
        matches!(err, ProjectionError::UndecodableEvent { position: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("caseledger verify"));
    let view = db.view(&Toy).unwrap().unwrap();
    // The whole batch (position 2 included) was refused: rows and checkpoint unchanged.
    assert_eq!(view.checkpoint(), 1);
    assert_eq!(view.digests().unwrap(), before);
    // A rebuild over the same bad log fails too and leaves generation 1 in service.
    assert!(rt
        .block_on(rebuild(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .is_err());
    assert_eq!(db.current_generation("toy").unwrap(), Some(1));
    assert_eq!(db.view(&Toy).unwrap().unwrap().digests().unwrap(), before);
}

/// [`Toy`], counting the payloads it decodes.
#[derive(Default)]
struct CountingToy {
    decodes: std::sync::atomic::AtomicU64,
}

impl Projection for CountingToy {
    type State = ToyState;
    type Decoded = ();
    fn name(&self) -> &'static str {
        Toy.name()
    }
    fn models(&self) -> &'static [&'static str] {
        Toy.models()
    }
    fn decode(&self, record: &RecordedEvent) -> Result<(), ProjectionError> {
        self.decodes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Toy.decode(record)
    }
    fn apply(
        &self,
        state: &mut ToyState,
        record: &RecordedEvent,
        decoded: (),
    ) -> Result<(), ProjectionError> {
        Toy.apply(state, record, decoded)
    }
    fn rows(&self, stream: &str, state: &ToyState, out: &mut Rows) {
        Toy.rows(stream, state, out);
    }
}

/// Each pass of a bounded rebuild reads the whole log but decodes only the payloads of its
/// own streams, so every payload is decoded once however many passes there are; and an
/// undecodable payload is still found, by the pass that holds its stream.
#[test]
fn a_bounded_rebuild_decodes_each_payload_once_and_still_finds_a_bad_one() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = TestLog::memory();
    // 6 streams, interleaved, 60 events: 3 passes of 2 streams.
    let events: Vec<(u8, u8)> = (0..60u8).map(|i| (i % 6, i % 3)).collect();
    fill(&store, &events);
    let db = ReadModelDb::open(dir.path()).unwrap();
    let one_pass = rt
        .block_on(rebuild(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap();
    let bounded_options = RebuildOptions {
        streams_per_pass_max: 2,
        ..RebuildOptions::default()
    };
    let counting = CountingToy::default();
    let bounded = rt
        .block_on(rebuild_with(
            store.dyn_store(),
            &db,
            &counting,
            bounded_options,
            &mut NoProgress,
        ))
        .unwrap();
    assert_eq!(bounded.passes, 3);
    assert_eq!(bounded.digests, one_pass.digests);
    assert_eq!(
        counting.decodes.load(std::sync::atomic::Ordering::Relaxed),
        60,
        "each of the 60 payloads decoded once, not once per pass"
    );
    // A bad payload in a stream of the last pass (X5) fails the rebuild, naming its position,
    // and the generation in service stays.
    let in_service = db.current_generation("toy").unwrap();
    let bad = store.push("X5", "Garbled", vec![0xFF], 60, 60);
    let err = rt
        .block_on(rebuild_with(
            store.dyn_store(),
            &db,
            &CountingToy::default(),
            bounded_options,
            &mut NoProgress,
        ))
        .unwrap_err();
    assert!(
        matches!(err, ProjectionError::UndecodableEvent { position, .. } if position == bad),
        "{err}"
    );
    assert_eq!(db.current_generation("toy").unwrap(), in_service);
}

#[test]
fn rebuild_switches_generation_and_deletes_abandoned_ones() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = TestLog::memory();
    fill(&store, &[(1, 0), (2, 1), (1, 2)]);
    let db = ReadModelDb::open(dir.path()).unwrap();
    let first = rt
        .block_on(rebuild(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap();
    assert_eq!(
        (
            first.generation,
            first.previous_generation,
            first.checkpoint
        ),
        (1, None, 3)
    );
    let second = rt
        .block_on(rebuild(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap();
    assert_eq!(
        (second.generation, second.previous_generation),
        (2, Some(1))
    );
    assert_eq!(second.digests, first.digests);
    assert_eq!(db.generations("toy"), vec![2]);
    let mut seen = Vec::new();
    let mut progress = |p: &str, pos: u64, head: u64| seen.push((p.to_owned(), pos, head));
    rt.block_on(rebuild(store.dyn_store(), &db, &Toy, &mut progress))
        .unwrap();
    assert_eq!(seen, vec![("toy".to_owned(), 3, 3)]);
}

#[test]
fn single_stream_rebuild_repairs_only_that_stream() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = TestLog::memory();
    fill(&store, &[(1, 0), (2, 1), (1, 2), (2, 2)]);
    let db = ReadModelDb::open(dir.path()).unwrap();
    let built = rt
        .block_on(rebuild(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap();
    rt.block_on(rebuild_stream(
        store.dyn_store(),
        &db,
        &Toy,
        &StreamId::new("X1").unwrap(),
    ))
    .unwrap();
    assert_eq!(
        db.view(&Toy).unwrap().unwrap().digests().unwrap(),
        built.digests
    );
    // An event past the checkpoint is left to the runner, not folded twice.
    store.push("X1", "Noted", vec![1], 9, 9);
    rt.block_on(rebuild_stream(
        store.dyn_store(),
        &db,
        &Toy,
        &StreamId::new("X1").unwrap(),
    ))
    .unwrap();
    assert_eq!(
        db.view(&Toy).unwrap().unwrap().digests().unwrap(),
        built.digests
    );
    rt.block_on(catch_up(store.dyn_store(), &db, &Toy, &mut NoProgress))
        .unwrap();
    assert_eq!(
        db.view(&Toy).unwrap().unwrap().digests().unwrap(),
        memory_digests(&store)
    );
}

#[test]
fn as_of_recorded_is_a_prefix_and_as_of_effective_filters_by_world_time() {
    let rt = runtime();
    let store = TestLog::memory();
    // recorded 10, 20, 30; the third happened in the world at 5 (late recording).
    store.push("A", "Opened", vec![0], 10, 10);
    store.push("A", "Noted", vec![1], 20, 20);
    store.push("A", "Moved", vec![2], 30, 5);
    let at = |as_of| {
        rt.block_on(fold_store(&Toy, store.dyn_store(), as_of, &mut NoProgress))
            .unwrap()
    };
    assert_eq!(at(AsOf::Recorded(20)).events_folded(), 2);
    assert_eq!(at(AsOf::Recorded(9)).events_folded(), 0);
    let effective = at(AsOf::Effective(10));
    assert_eq!(
        effective.events_folded(),
        2,
        "Opened and the late-recorded Moved"
    );
    let mut types = Vec::new();
    effective
        .for_each_row(1, &mut |k, _| {
            types.push(String::from_utf8_lossy(k).into_owned());
            Ok(())
        })
        .unwrap();
    assert_eq!(types, vec!["A\0Moved", "A\0Opened"]);
}

/// The live runner follows the store's subscription on both backends, folds appends made
/// while it runs, follows a rebuild that switched generations under it, and stops on request.
#[test]
fn live_runner_follows_the_head_until_shut_down() {
    for backend in [Backend::Memory, Backend::Sled] {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = std::sync::Arc::new(TestLog::new(backend));
        let db = std::sync::Arc::new(ReadModelDb::open(dir.path()).unwrap());
        log.push("A", "Opened", vec![0], 0, 0);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let (store, d2) = (log.store.clone(), db.clone());
        let task =
            rt.spawn(async move { run_live(store, &d2, &Toy, shutdown, &mut NoProgress).await });
        // Wait (bounded: 5 s) until the runner has folded `position`.
        let wait_for = |position: u64| {
            rt.block_on(async {
                for _ in 0..500 {
                    if db
                        .view(&Toy)
                        .unwrap()
                        .is_some_and(|v| v.checkpoint() >= position)
                    {
                        return true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                false
            })
        };
        assert!(wait_for(1), "{backend:?}: first catch-up");
        for i in 0..20u8 {
            log.push(&format!("S{}", i % 3), "Noted", vec![1], 1, 1);
        }
        assert!(wait_for(21), "{backend:?}: live appends");
        // A rebuild switches generations under the runner; it keeps following the new one.
        rt.block_on(rebuild(log.dyn_store(), &db, &Toy, &mut NoProgress))
            .unwrap();
        log.push("A", "Closed", vec![3], 2, 2);
        assert!(wait_for(22), "{backend:?}: after a rebuild");
        stop.send_replace(true);
        let checkpoint = rt.block_on(task).unwrap().unwrap();
        assert_eq!(checkpoint, 22);
        assert_eq!(
            db.view(&Toy).unwrap().unwrap().digests().unwrap(),
            memory_digests(&log)
        );
        // The runner acknowledged what it folded under its durable consumer.
        let consumer =
            caseledger_store::ConsumerName::new(caseledger_projections::consumer_name("toy"))
                .unwrap();
        let stored = rt.block_on(log.dyn_store().consumer_position(&consumer));
        assert_eq!(stored.unwrap(), Some(22), "{backend:?}: durable checkpoint");
        // Restarted after appends made while it was down: resumes and acknowledges them.
        log.push("B", "Opened", vec![4], 3, 3);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let (store, d2) = (log.store.clone(), db.clone());
        let task =
            rt.spawn(async move { run_live(store, &d2, &Toy, shutdown, &mut NoProgress).await });
        assert!(wait_for(23), "{backend:?}: after a restart");
        log.push("B", "Moved", vec![5], 3, 3);
        assert!(wait_for(24), "{backend:?}: live after a restart");
        stop.send_replace(true);
        assert_eq!(rt.block_on(task).unwrap().unwrap(), 24);
        let stored = rt.block_on(log.dyn_store().consumer_position(&consumer));
        assert_eq!(
            stored.unwrap(),
            Some(24),
            "{backend:?}: resumed and acknowledged"
        );
    }
}

#[test]
fn a_read_model_database_held_open_is_reported_in_use_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let held = ReadModelDb::open(dir.path()).unwrap();
    let err = ReadModelDb::open(dir.path())
        .err()
        .expect("second open refused");
    assert!(
        matches!(err, ProjectionError::DatabaseInUse { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    drop(held);
    // Once the first handle is gone the database opens again.
    ReadModelDb::open(dir.path()).unwrap();
}

#[test]
fn a_read_model_cache_below_the_minimum_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("readmodels");
    let err = ReadModelDb::open_with_cache(&path, READ_MODEL_CACHE_BYTES_MIN - 1)
        .err()
        .expect("a cache below the minimum is refused");
    assert!(matches!(err, ProjectionError::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("minimum"), "{err}");
    assert!(!path.exists(), "nothing is created for a refused open");
    // The smallest cache accepted works like the default one.
    let db = ReadModelDb::open_with_cache(&path, READ_MODEL_CACHE_BYTES_MIN).unwrap();
    assert_eq!(db.current_generation("cases").unwrap(), None);
}

/// A store whose page reads are not ready on the first poll, like a network store
/// (PostgreSQL): the fold must await them instead of reading ahead on the helper thread.
struct SlowPages(std::sync::Arc<dyn caseledger_store::EventStore>);

#[async_trait::async_trait]
impl caseledger_store::EventStore for SlowPages {
    async fn append_keyed(
        &self,
        stream: &StreamId,
        expected: caseledger_store::ExpectedVersion,
        events: Vec<caseledger_store::NewEvent>,
        key: Option<caseledger_store::IdempotencyKey>,
    ) -> Result<caseledger_store::AppendResult, caseledger_store::StoreError> {
        self.0.append_keyed(stream, expected, events, key).await
    }
    async fn idempotency_record(
        &self,
        key: uuid::Uuid,
    ) -> Result<Option<caseledger_store::IdempotencyRecord>, caseledger_store::StoreError> {
        self.0.idempotency_record(key).await
    }
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, caseledger_store::StoreError> {
        self.0.read_stream(stream, from_version).await
    }
    async fn read_all(
        &self,
        from_position: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, caseledger_store::StoreError> {
        tokio::task::yield_now().await;
        self.0.read_all(from_position, max_count).await
    }
    async fn head(&self) -> Result<u64, caseledger_store::StoreError> {
        self.0.head().await
    }
    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.watch_head()
    }
    async fn verify(
        &self,
        from_position: u64,
        to_position: Option<u64>,
    ) -> Result<caseledger_store::VerifyReport, caseledger_store::StoreError> {
        self.0.verify(from_position, to_position).await
    }
    async fn consumer_position(
        &self,
        name: &caseledger_store::ConsumerName,
    ) -> Result<Option<u64>, caseledger_store::StoreError> {
        self.0.consumer_position(name).await
    }
    async fn acknowledge(
        &self,
        name: &caseledger_store::ConsumerName,
        position: u64,
    ) -> Result<u64, caseledger_store::StoreError> {
        self.0.acknowledge(name, position).await
    }
    async fn consumers(
        &self,
    ) -> Result<Vec<caseledger_store::ConsumerCheckpoint>, caseledger_store::StoreError> {
        self.0.consumers().await
    }

    fn key_store(&self) -> &dyn caseledger_store::KeyStore {
        self.0.key_store()
    }
}

/// Fold one record at a time, with no read-ahead: the reference for the paged fold.
fn sequential_digests(store: &dyn caseledger_store::EventStore) -> BTreeMap<String, String> {
    let rt = runtime();
    let head = rt.block_on(store.head()).unwrap();
    let mut fold = caseledger_projections::MemoryFold::new(&Toy).unwrap();
    for position in 1..=head {
        let page = rt.block_on(store.read_all(position, 1)).unwrap();
        fold.fold(&page[0]).unwrap();
    }
    fold.finish().unwrap().digests().unwrap()
}

/// The log is read a page ahead on a helper thread while the fold runs, and rows are derived
/// on several threads: over several `read_all` pages, on a store that reads synchronously and
/// on one that does not, the result equals a one-record-at-a-time fold; as-of cuts inside a
/// later page and a bad event in the last page behave as in a plain fold.
#[test]
fn a_fold_that_reads_ahead_equals_a_sequential_fold_over_many_pages() {
    let rt = runtime();
    let page = u64::from(caseledger_store::READ_ALL_PAGE_EVENTS_MAX);
    let events = 2 * page + page / 2;
    let store = TestLog::memory();
    for i in 0..events {
        let kind = (i * 7 % 4) as u8;
        let t = TYPES[usize::from(kind) % TYPES.len()];
        store.push(&format!("X{}", i % 97), t, vec![kind], i as i64, i as i64);
    }
    let slow = SlowPages(store.store.clone());
    let expected = sequential_digests(store.dyn_store());
    for source in [
        store.dyn_store(),
        &slow as &dyn caseledger_store::EventStore,
    ] {
        let models = rt
            .block_on(fold_store(&Toy, source, AsOf::Now, &mut NoProgress))
            .unwrap();
        assert_eq!(models.events_folded(), events);
        assert_eq!(models.digests().unwrap(), expected);
        // recorded_at of position p is p - 1: a cut in the middle of the second page.
        let cut = page + page / 3;
        let prefix = rt
            .block_on(fold_store(
                &Toy,
                source,
                AsOf::Recorded(cut as i64 - 1),
                &mut NoProgress,
            ))
            .unwrap();
        assert_eq!(prefix.events_folded(), cut);
        assert_eq!(prefix.checkpoint(), cut);
    }
    // An undecodable event in the last page stops the fold with its position.
    store.push("X1", "Noted", vec![0xFF], events as i64, events as i64);
    for source in [
        store.dyn_store(),
        &slow as &dyn caseledger_store::EventStore,
    ] {
        let err = rt
            .block_on(fold_store(&Toy, source, AsOf::Now, &mut NoProgress))
            .err()
            .unwrap();
        assert!(
            matches!(err, ProjectionError::UndecodableEvent { position, .. } if position == events + 1),
            "{err}"
        );
    }
}
