//! Test support: a real event log (`caseledger_store::MemoryStore` or `SledStore`) with a
//! manual clock, so each test chooses `recorded_at` and `effective_at` exactly.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use caseledger_domain::Event;
use caseledger_store::{
    Durability, EventStore, ExpectedVersion, ManualClock, MemoryStore, NewEvent, SledOptions,
    SledStore, StreamId,
};
use uuid::Uuid;

pub mod history;
pub mod script;

/// Which backend a test log uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sled,
}

/// A real event log plus what a test needs to write to it synchronously.
pub struct TestLog {
    pub store: Arc<dyn EventStore>,
    clock: Arc<ManualClock>,
    next_event: AtomicU64,
    /// Drives appends made from synchronous test code.
    rt: tokio::runtime::Runtime,
    /// Keeps a sled store's directory alive for as long as the log.
    _dir: Option<tempfile::TempDir>,
}

impl TestLog {
    pub fn memory() -> Self {
        Self::new(Backend::Memory)
    }

    pub fn sled() -> Self {
        Self::new(Backend::Sled)
    }

    pub fn new(backend: Backend) -> Self {
        let clock = Arc::new(ManualClock::new(0));
        let (store, dir): (Arc<dyn EventStore>, _) = match backend {
            Backend::Memory => (Arc::new(MemoryStore::new(clock.clone())), None),
            Backend::Sled => {
                let dir = tempfile::tempdir().unwrap();
                let store = SledStore::open(
                    dir.path().join("log"),
                    SledOptions {
                        // Tests need visibility, not durability; each append still waits for
                        // the writer's commit.
                        durability: Durability::Buffered,
                        clock: clock.clone(),
                    },
                )
                .unwrap();
                (Arc::new(store), Some(dir))
            }
        };
        Self {
            store,
            clock,
            next_event: AtomicU64::new(1),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    pub fn dyn_store(&self) -> &dyn EventStore {
        &*self.store
    }

    fn new_event(
        &self,
        event_type: &str,
        schema_version: u16,
        payload: Vec<u8>,
        effective_at_us: i64,
    ) -> NewEvent {
        let n = self.next_event.fetch_add(1, Ordering::Relaxed);
        NewEvent {
            event_id: Uuid::from_u128(u128::from(n)),
            event_type: event_type.to_owned(),
            schema_version,
            effective_at_us,
            actor: Default::default(),
            command_id: Uuid::from_u128(u128::from(n) | 1 << 64),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload,
        }
    }

    /// Append one event at recorded instant `recorded_at_us` (from async code).
    pub async fn append(
        &self,
        stream: &str,
        event_type: &str,
        payload: Vec<u8>,
        recorded_at_us: i64,
        effective_at_us: i64,
    ) -> u64 {
        self.append_versioned(
            stream,
            event_type,
            1,
            payload,
            recorded_at_us,
            effective_at_us,
        )
        .await
    }

    async fn append_versioned(
        &self,
        stream: &str,
        event_type: &str,
        schema_version: u16,
        payload: Vec<u8>,
        recorded_at_us: i64,
        effective_at_us: i64,
    ) -> u64 {
        self.clock.set(recorded_at_us);
        let event = self.new_event(event_type, schema_version, payload, effective_at_us);
        self.store
            .append(
                &StreamId::new(stream).unwrap(),
                ExpectedVersion::Any,
                vec![event],
                None,
            )
            .await
            .unwrap()
            .last_position
    }

    /// Append one event at recorded instant `recorded_at_us` (from synchronous code).
    pub fn push(
        &self,
        stream: &str,
        event_type: &str,
        payload: Vec<u8>,
        recorded_at_us: i64,
        effective_at_us: i64,
    ) -> u64 {
        self.rt
            .block_on(self.append(stream, event_type, payload, recorded_at_us, effective_at_us))
    }

    /// Append one domain event in the store's codec.
    pub fn push_event(
        &self,
        stream: &str,
        event: &Event,
        recorded_at_us: i64,
        effective_at_us: i64,
    ) -> u64 {
        // A throwaway data key: these records are written around the engine.
        let key = caseledger_store::keystore::SubjectKey::Live(
            caseledger_store::crypto::DataKey::generate(),
        );
        let encoded =
            caseledger_payload::encode_sealed(event, stream, &key).expect("payload encodes");
        self.rt.block_on(self.append_versioned(
            stream,
            encoded.event_type,
            encoded.schema_version,
            encoded.bytes,
            recorded_at_us,
            effective_at_us,
        ))
    }

    /// Append `events` to `stream` in ONE append (as a command's events are), recorded at
    /// `recorded_at_us` and effective at `effective_at_us`.
    pub fn push_events(
        &self,
        stream: &str,
        events: &[Event],
        recorded_at_us: i64,
        effective_at_us: i64,
    ) -> u64 {
        self.clock.set(recorded_at_us);
        // A throwaway data key: these records are written around the engine.
        let key = caseledger_store::keystore::SubjectKey::Live(
            caseledger_store::crypto::DataKey::generate(),
        );
        let batch = events
            .iter()
            .map(|e| {
                let encoded =
                    caseledger_payload::encode_sealed(e, stream, &key).expect("payload encodes");
                self.new_event(
                    encoded.event_type,
                    encoded.schema_version,
                    encoded.bytes,
                    effective_at_us,
                )
            })
            .collect();
        self.rt
            .block_on(self.store.append(
                &StreamId::new(stream).unwrap(),
                ExpectedVersion::Any,
                batch,
                None,
            ))
            .unwrap()
            .last_position
    }

    pub fn head(&self) -> u64 {
        self.rt.block_on(self.store.head()).unwrap()
    }
}
