//! `MemoryStore`: the event log in memory, for tests and embedding without persistence.
//! It decides appends with the same planner as the durable backends, so the conformance
//! suite holds it to exactly the same behaviour; it simply forgets everything on drop.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::watch;
use uuid::Uuid;

use crate::consumer::{check_acknowledgement, ConsumerCheckpoint, ConsumerName};
use crate::crypto::{KekId, WrappedKey};
use crate::keystore::{DataKeyEntry, KeyStore};
use crate::planner::{Batch, IdempotencyEntry, Lookup, Tip};
use crate::validate::validate_append;
use crate::{
    AppendResult, Clock, EventStore, ExpectedVersion, IdempotencyKey, IdempotencyRecord, NewEvent,
    RecordedEvent, StoreError, StreamId, READ_ALL_PAGE_EVENTS_MAX,
};

#[derive(Debug)]
struct State {
    /// `records[i]` has position `i + 1`.
    records: Vec<RecordedEvent>,
    /// Positions of each stream's events; `streams[s][v - 1]` is version `v`.
    streams: BTreeMap<String, Vec<u64>>,
    keys: BTreeMap<Uuid, IdempotencyEntry>,
    tip: Tip,
    /// Durable consumers' checkpoints (durable for the life of the store).
    consumers: BTreeMap<ConsumerName, u64>,
    /// The key store: data keys by subject (`None`: destroyed) and the KEK id.
    data_keys: BTreeMap<String, Option<WrappedKey>>,
    kek_id: Option<KekId>,
}

impl Lookup for State {
    fn stream_version(&mut self, stream: &str) -> Result<u64, StoreError> {
        Ok(self.streams.get(stream).map_or(0, |p| p.len() as u64))
    }
    fn idempotency(&mut self, key: &Uuid) -> Result<Option<IdempotencyEntry>, StoreError> {
        Ok(self.keys.get(key).cloned())
    }
}

/// The in-memory event log.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    head: watch::Sender<u64>,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            clock,
            state: Mutex::new(State {
                records: Vec::new(),
                streams: BTreeMap::new(),
                keys: BTreeMap::new(),
                tip: Tip::empty(),
                consumers: BTreeMap::new(),
                data_keys: BTreeMap::new(),
                kek_id: None,
            }),
            head: watch::channel(0).0,
        }
    }

    /// One append, decided by the shared planner under the state lock.
    fn append_now(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        validate_append(stream, expected, &events)?;
        let mut state = self.state();
        let mut batch = Batch::begin(state.tip.clone(), self.clock.now_us());
        let result = batch.decide(&mut *state, stream, expected, events, idempotency_key)?;
        for (key, entry) in batch.keys() {
            state.keys.insert(*key, entry.clone());
        }
        let (tip, records) = batch.into_parts();
        for record in records {
            assert_eq!(record.position, state.records.len() as u64 + 1);
            state
                .streams
                .entry(record.stream_id.clone())
                .or_default()
                .push(record.position);
            state.records.push(record);
        }
        state.tip = tip;
        let head = state.tip.head;
        drop(state);
        self.head.send_replace(head);
        Ok(result)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a broken internal assertion; the
        // state is only mutated after all checks pass, so it is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn append_keyed(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        self.append_now(stream, expected, events, key)
    }

    async fn idempotency_record(&self, key: Uuid) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.state().keys.get(&key).map(|e| IdempotencyRecord {
            stream_id: e.stream_id.clone(),
            fingerprint: e.fingerprint,
        }))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let state = self.state();
        let Some(positions) = state.streams.get(stream.as_str()) else {
            return Ok(Vec::new());
        };
        let skip = usize::try_from(from_version.saturating_sub(1)).unwrap_or(usize::MAX);
        Ok(positions
            .iter()
            .skip(skip)
            .map(|&p| state.records[(p - 1) as usize].clone())
            .collect())
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let state = self.state();
        let from = usize::try_from(from_position.max(1) - 1).unwrap_or(usize::MAX);
        let count = max_count.min(READ_ALL_PAGE_EVENTS_MAX) as usize;
        Ok(state
            .records
            .iter()
            .skip(from)
            .take(count)
            .cloned()
            .collect())
    }

    async fn head(&self) -> Result<u64, StoreError> {
        Ok(self.state().tip.head)
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn consumer_position(&self, name: &ConsumerName) -> Result<Option<u64>, StoreError> {
        Ok(self.state().consumers.get(name).copied())
    }

    async fn acknowledge(&self, name: &ConsumerName, position: u64) -> Result<u64, StoreError> {
        let mut state = self.state();
        let known = state.consumers.contains_key(name);
        check_acknowledgement(name, position, state.tip.head, known, state.consumers.len())?;
        let stored = state.consumers.entry(name.clone()).or_insert(0);
        *stored = (*stored).max(position);
        Ok(*stored)
    }

    async fn consumers(&self) -> Result<Vec<ConsumerCheckpoint>, StoreError> {
        Ok(self
            .state()
            .consumers
            .iter()
            .map(|(name, &position)| ConsumerCheckpoint {
                name: name.clone(),
                position,
            })
            .collect())
    }

    fn key_store(&self) -> &dyn KeyStore {
        self
    }
}

/// The key store of a memory log: a map beside it (`None`: destroyed), gone on drop.
#[async_trait]
impl KeyStore for MemoryStore {
    async fn kek_id(&self) -> Result<Option<KekId>, StoreError> {
        Ok(self.state().kek_id.clone())
    }

    async fn claim_kek_id(&self, id: &KekId) -> Result<KekId, StoreError> {
        Ok(self
            .state()
            .kek_id
            .get_or_insert_with(|| id.clone())
            .clone())
    }

    async fn data_key(&self, subject: &StreamId) -> Result<DataKeyEntry, StoreError> {
        Ok(match self.state().data_keys.get(subject.as_str()) {
            None => DataKeyEntry::Absent,
            Some(None) => DataKeyEntry::Destroyed,
            Some(Some(wrapped)) => DataKeyEntry::Wrapped(wrapped.clone()),
        })
    }

    async fn insert_data_key(
        &self,
        subject: &StreamId,
        wrapped: &WrappedKey,
    ) -> Result<DataKeyEntry, StoreError> {
        self.state()
            .data_keys
            .entry(subject.as_str().to_owned())
            .or_insert_with(|| Some(wrapped.clone()));
        self.data_key(subject).await
    }

    async fn destroy_data_key(&self, subject: &StreamId) -> Result<bool, StoreError> {
        let before = self
            .state()
            .data_keys
            .insert(subject.as_str().to_owned(), None);
        Ok(matches!(before, Some(Some(_))))
    }

    async fn data_keys_page(
        &self,
        after: Option<&StreamId>,
        limit: u32,
    ) -> Result<Vec<(StreamId, DataKeyEntry)>, StoreError> {
        use std::ops::Bound;
        let state = self.state();
        let from = after.map_or(Bound::Unbounded, |s| Bound::Excluded(s.as_str().to_owned()));
        state
            .data_keys
            .range((from, Bound::Unbounded))
            .take(limit as usize)
            .map(|(subject, key)| {
                let entry = key
                    .clone()
                    .map_or(DataKeyEntry::Destroyed, DataKeyEntry::Wrapped);
                Ok((StreamId::new(subject.clone())?, entry))
            })
            .collect()
    }
}
