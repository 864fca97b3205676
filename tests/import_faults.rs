//! `import` under store failures on sled: a case's commands stop at its first failure that is
//! not a refusal, the import exits with an error naming the line, and re-running converges to
//! exactly what a clean import writes. The failures are injected by a wrapper around the real
//! sled store (both kinds a real backend has: refused before writing, and written but not
//! acknowledged).

mod fault_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use caseledger::cli_identity::Operator;
use caseledger::cli_ops;
use caseledger::store::{
    AppendResult, ConsumerCheckpoint, ConsumerName, EventStore, ExpectedVersion, IdempotencyKey,
    IdempotencyRecord, NewEvent, RecordedEvent, SledStore, StoreError, StreamId, VerifyReport,
};
use caseledger::{Engine, EngineConfig};
use fault_support::*;
use uuid::Uuid;

/// The real sled store, with every `every`-th append to a case stream failing (at most
/// `faults_max` times): odd faults before anything is written, even ones after the append
/// committed (as when a connection drops before the answer arrives). The next append to the
/// stream that failed fails too, before writing: the pipelined import retries a command that
/// was not written as decided through the one-command path, and a store that is still failing
/// must then stop the case.
struct FailingStore {
    inner: Arc<SledStore>,
    every: u64,
    faults_max: u64,
    appends: AtomicU64,
    faults: AtomicU64,
    failed_stream: Mutex<Option<StreamId>>,
}

impl FailingStore {
    fn new(inner: Arc<SledStore>, every: u64, faults_max: u64) -> FailingStore {
        FailingStore {
            inner,
            every,
            faults_max,
            appends: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            failed_stream: Mutex::new(None),
        }
    }

    fn fault_now(&self, stream: &StreamId) -> Option<bool> {
        if stream.as_str().starts_with("audit-") {
            return None;
        }
        let mut failed_stream = self.failed_stream.lock().unwrap();
        if failed_stream.as_ref() == Some(stream) {
            *failed_stream = None;
            return Some(false);
        }
        let n = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        if !n.is_multiple_of(self.every) {
            return None;
        }
        let fault = self.faults.fetch_add(1, Ordering::SeqCst) + 1;
        if fault > self.faults_max {
            return None;
        }
        *failed_stream = Some(stream.clone());
        Some(fault.is_multiple_of(2))
    }
}

#[async_trait]
impl EventStore for FailingStore {
    async fn append_keyed(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        match self.fault_now(stream) {
            None => self.inner.append_keyed(stream, expected, events, key).await,
            Some(false) => Err(StoreError::Backend(
                "injected: refused before writing".into(),
            )),
            Some(true) => {
                self.inner
                    .append_keyed(stream, expected, events, key)
                    .await?;
                Err(StoreError::Backend("injected: written, answer lost".into()))
            }
        }
    }
    async fn idempotency_record(&self, key: Uuid) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(key).await
    }
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, from).await
    }
    async fn read_all(&self, from: u64, max: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(from, max).await
    }
    async fn head(&self) -> Result<u64, StoreError> {
        self.inner.head().await
    }
    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.watch_head()
    }
    async fn verify(&self, from: u64, to: Option<u64>) -> Result<VerifyReport, StoreError> {
        self.inner.verify(from, to).await
    }
    async fn consumer_position(&self, name: &ConsumerName) -> Result<Option<u64>, StoreError> {
        self.inner.consumer_position(name).await
    }
    async fn acknowledge(&self, name: &ConsumerName, position: u64) -> Result<u64, StoreError> {
        self.inner.acknowledge(name, position).await
    }
    async fn consumers(&self) -> Result<Vec<ConsumerCheckpoint>, StoreError> {
        self.inner.consumers().await
    }

    fn key_store(&self) -> &dyn caseledger_store::KeyStore {
        self.inner.key_store()
    }
}

async fn import_once(engine: &mut Engine, file: &std::path::Path) -> Result<(), cli_ops::Failure> {
    let operator = Operator::begin(engine, "test import", None).await?;
    let mut err = Vec::new();
    cli_ops::import(engine, &operator, file, None, &mut err)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn store_failures_stop_the_case_and_reruns_converge_to_the_clean_import() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cohort.jsonl");
    let lines = write_cohort(&file, 40);
    assert!(lines > 1_000, "{lines} commands");

    let clean = {
        let mut engine = Engine::open(EngineConfig::sled(dir.path().join("clean"))).unwrap();
        import_once(&mut engine, &file).await.expect("clean import");
        contents(engine.store().as_ref(), engine.keyring()).await
    };

    let sled = Arc::new(
        SledStore::open(dir.path().join("faulty"), Default::default()).expect("open sled"),
    );
    let failing = Arc::new(FailingStore::new(sled.clone(), 97, 12));
    let mut failed_runs = 0;
    loop {
        let mut engine = Engine::with_store(failing.clone());
        match import_once(&mut engine, &file).await {
            Ok(()) => break,
            Err(failure) => {
                failed_runs += 1;
                assert_eq!(failure.exit_code(), 1, "{}", failure.message());
                let message = failure.message();
                let prefix = format!("{}:", file.display());
                let line: u64 = message
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.split(':').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("the failure names the line: {message}"));
                assert!(line >= 1 && line <= lines as u64, "{message}");
                assert!(message.contains("injected"), "{message}");
                // Each fault fails at most two runs: its own, and the next if the import
                // stopped before retrying that case.
                assert!(failed_runs <= 2 * 12 + 1, "the import does not converge");
            }
        }
    }
    assert!(failed_runs >= 3, "faults were injected: {failed_runs}");
    let faulty = contents(
        failing.as_ref(),
        Engine::with_store(failing.clone()).keyring(),
    )
    .await;
    assert_same(&clean, &faulty);
}
