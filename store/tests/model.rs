//! Proptest model test: random appends (right, stale, `Any`, `NoStream`), idempotent retries,
//! reads and reopens against both backends, compared step by step with a simple model.

use std::collections::BTreeMap;
use std::sync::Arc;

use caseledger_store::{
    conformance, AppendResult, Durability, EventStore, ExpectedVersion, ManualClock, SledOptions,
    SledStore, StoreError,
};
use proptest::prelude::*;
use uuid::Uuid;

const STREAMS: [&str; 3] = ["X000001", "X000002", "AUDIT"];

#[derive(Clone, Debug)]
enum Expect {
    Correct,
    Stale,
    Any,
    NoStream,
}

#[derive(Clone, Debug)]
enum Op {
    Append {
        stream: usize,
        expect: Expect,
        events: u8,
        key: Option<u8>,
    },
    ReadStream {
        stream: usize,
        from: u64,
    },
    ReadAll {
        from: u64,
        max: u32,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let expect = prop_oneof![
        Just(Expect::Correct),
        Just(Expect::Stale),
        Just(Expect::Any),
        Just(Expect::NoStream)
    ];
    prop_oneof![
        5 => (0..STREAMS.len(), expect, 1u8..4, proptest::option::of(0u8..6)).prop_map(
            |(stream, expect, events, key)| Op::Append { stream, expect, events, key }
        ),
        2 => (0..STREAMS.len(), 0u64..6).prop_map(|(stream, from)| Op::ReadStream { stream, from }),
        2 => (0u64..30, 0u32..10).prop_map(|(from, max)| Op::ReadAll { from, max }),
        1 => Just(Op::Reopen),
    ]
}

/// The model: the log as (stream, version, event id), plus idempotency answers.
#[derive(Default)]
struct Model {
    log: Vec<(String, u64, Uuid)>,
    keys: BTreeMap<u8, (String, AppendResult)>,
}

impl Model {
    fn version(&self, stream: &str) -> u64 {
        self.log.iter().filter(|(s, _, _)| s == stream).count() as u64
    }
}

enum Backend {
    Memory,
    Sled(tempfile::TempDir),
}

fn open(backend: &Backend, clock: &Arc<ManualClock>) -> Arc<dyn EventStore> {
    match backend {
        Backend::Memory => Arc::new(caseledger_store::MemoryStore::new(clock.clone())),
        Backend::Sled(dir) => Arc::new(
            SledStore::open(
                dir.path(),
                SledOptions {
                    durability: Durability::Flush,
                    clock: clock.clone(),
                },
            )
            .expect("open"),
        ),
    }
}

async fn run(backend: Backend, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = Arc::new(ManualClock::new(conformance::CLOCK_START_US));
    let mut store = open(&backend, &clock);
    let mut model = Model::default();
    let mut next_event = 1u128;
    for op in ops {
        match op {
            Op::Append {
                stream,
                expect,
                events,
                key,
            } => {
                let s = conformance::stream(STREAMS[stream]);
                let current = model.version(s.as_str());
                let expected = match expect {
                    Expect::Correct => ExpectedVersion::Exact(current),
                    Expect::Stale => ExpectedVersion::Exact(current + 1),
                    Expect::Any => ExpectedVersion::Any,
                    Expect::NoStream => ExpectedVersion::NoStream,
                };
                let batch: Vec<_> = (0..events)
                    .map(|_| {
                        next_event += 1;
                        conformance::event(next_event)
                    })
                    .collect();
                let ids: Vec<Uuid> = batch.iter().map(|e| e.event_id).collect();
                let key_uuid = key.map(|k| Uuid::from_u128(0xAB00 + u128::from(k)));
                let got = store.append(&s, expected, batch, key_uuid).await;
                // What the model says.
                let want: Result<AppendResult, &str> = match key.and_then(|k| model.keys.get(&k)) {
                    Some((original, result)) if original == s.as_str() => Ok(AppendResult {
                        deduplicated: true,
                        ..*result
                    }),
                    Some(_) => Err("key reused"),
                    None => {
                        let ok = match expected {
                            ExpectedVersion::Any => true,
                            ExpectedVersion::NoStream => current == 0,
                            ExpectedVersion::Exact(v) => v == current,
                        };
                        if ok {
                            let first = model.log.len() as u64 + 1;
                            for (i, id) in ids.iter().enumerate() {
                                model.log.push((s.to_string(), current + 1 + i as u64, *id));
                            }
                            let result = AppendResult {
                                first_position: first,
                                last_position: model.log.len() as u64,
                                stream_version: current + ids.len() as u64,
                                recorded_at_us: conformance::CLOCK_START_US,
                                deduplicated: false,
                            };
                            if let Some(k) = key {
                                model.keys.insert(k, (s.to_string(), result));
                            }
                            Ok(result)
                        } else {
                            Err("conflict")
                        }
                    }
                };
                match (&got, want) {
                    (Ok(g), Ok(w)) => prop_assert_eq!(*g, w),
                    (Err(StoreError::WrongExpectedVersion { actual, .. }), Err("conflict")) => {
                        prop_assert_eq!(*actual, current)
                    }
                    (Err(StoreError::IdempotencyKeyReused { .. }), Err("key reused")) => {}
                    (g, w) => prop_assert!(false, "store said {:?}, model {:?}", g, w),
                }
            }
            Op::ReadStream { stream, from } => {
                let s = conformance::stream(STREAMS[stream]);
                let got: Vec<(u64, Uuid)> = store
                    .read_stream(&s, from)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.stream_version, r.event_id))
                    .collect();
                let want: Vec<(u64, Uuid)> = model
                    .log
                    .iter()
                    .filter(|(st, v, _)| st == s.as_str() && *v >= from.max(1))
                    .map(|(_, v, id)| (*v, *id))
                    .collect();
                prop_assert_eq!(got, want);
            }
            Op::ReadAll { from, max } => {
                let got: Vec<(u64, String, u64, Uuid)> = store
                    .read_all(from, max)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.position, r.stream_id, r.stream_version, r.event_id))
                    .collect();
                let want: Vec<(u64, String, u64, Uuid)> = model
                    .log
                    .iter()
                    .enumerate()
                    .map(|(i, (s, v, id))| (i as u64 + 1, s.clone(), *v, *id))
                    .filter(|(p, ..)| *p >= from.max(1))
                    .take(max as usize)
                    .collect();
                prop_assert_eq!(got, want);
            }
            Op::Reopen => {
                // A memory store has nothing to reopen: it is the same log until dropped.
                if let Backend::Sled(_) = backend {
                    drop(store);
                    store = open(&backend, &clock);
                }
            }
        }
        prop_assert_eq!(store.head().await.unwrap(), model.log.len() as u64);
    }
    let report = store.verify(1, None).await.unwrap();
    prop_assert!(report.is_ok(), "{:?}", report);
    prop_assert_eq!(report.records_checked, model.log.len() as u64);
    Ok(())
}

fn block_on<F: std::future::Future<Output = Result<(), TestCaseError>>>(
    f: F,
) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// On a multi-threaded runtime an uncontended sled append commits inline on the caller's
/// thread instead of going through the writer thread (store/src/sled/writer.rs): both paths must match
/// the model.
fn block_on_multi_thread<F: std::future::Future<Output = Result<(), TestCaseError>>>(
    f: F,
) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn memory_store_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        block_on(run(Backend::Memory, ops))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn sled_store_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        block_on(run(Backend::Sled(tempfile::tempdir().unwrap()), ops))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn sled_store_committing_inline_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        block_on_multi_thread(run(Backend::Sled(tempfile::tempdir().unwrap()), ops))?;
    }
}
