//! Test support. `VecStore` is a stand-in for `caseledger_store::MemoryStore` until the store
//! branch lands on this branch; it keeps the EventStore contract (gapless positions,
//! non-decreasing recorded_at) but no hash chain.
#![allow(dead_code)]

use std::sync::Mutex;

use async_trait::async_trait;
use caseledger_store::{
    AppendResult, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError, StreamId,
    VerifyReport,
};
use uuid::Uuid;

pub struct VecStore {
    records: Mutex<Vec<RecordedEvent>>,
    head: tokio::sync::watch::Sender<u64>,
}

impl Default for VecStore {
    fn default() -> Self {
        Self {
            records: Mutex::new(Vec::new()),
            head: tokio::sync::watch::channel(0).0,
        }
    }
}

impl VecStore {
    /// Append one event with explicit times (test helper).
    pub fn push(
        &self,
        stream: &str,
        event_type: &str,
        payload: Vec<u8>,
        recorded_at_us: i64,
        effective_at_us: i64,
    ) -> u64 {
        let mut records = self.records.lock().unwrap();
        let position = records.len() as u64 + 1;
        let stream_version = records.iter().filter(|r| r.stream_id == stream).count() as u64 + 1;
        records.push(RecordedEvent {
            position,
            stream_id: stream.to_owned(),
            stream_version,
            recorded_at_us,
            event_id: Uuid::nil(),
            event_type: event_type.to_owned(),
            schema_version: 1,
            effective_at_us,
            actor: Default::default(),
            command_id: Uuid::nil(),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload,
            previous_hash: [0; 32],
            hash: [0; 32],
        });
        self.head.send_replace(position);
        position
    }
}

#[async_trait]
impl EventStore for VecStore {
    async fn append(
        &self,
        stream: &StreamId,
        _expected: ExpectedVersion,
        events: Vec<NewEvent>,
        _idempotency_key: Option<Uuid>,
    ) -> Result<AppendResult, StoreError> {
        let mut first = 0;
        let mut last = 0;
        for e in events {
            last = self.push(
                stream.as_str(),
                &e.event_type,
                e.payload,
                e.effective_at_us,
                e.effective_at_us,
            );
            if first == 0 {
                first = last;
            }
        }
        Ok(AppendResult {
            first_position: first,
            last_position: last,
            stream_version: 0,
            recorded_at_us: 0,
            deduplicated: false,
        })
    }
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.stream_id == stream.as_str() && r.stream_version >= from_version)
            .cloned()
            .collect())
    }
    async fn read_all(
        &self,
        from_position: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let records = self.records.lock().unwrap();
        let start = from_position.max(1) as usize - 1;
        Ok(records
            .iter()
            .skip(start)
            .take(max_count as usize)
            .cloned()
            .collect())
    }
    async fn head(&self) -> Result<u64, StoreError> {
        Ok(self.records.lock().unwrap().len() as u64)
    }
    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.head.subscribe()
    }
    async fn verify(
        &self,
        from_position: u64,
        to_position: Option<u64>,
    ) -> Result<VerifyReport, StoreError> {
        Ok(VerifyReport {
            from_position,
            to_position: to_position.unwrap_or(0),
            records_checked: 0,
            first_bad: None,
        })
    }
}
pub mod history;
