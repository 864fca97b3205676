//! The PostgreSQL backend: the same [`EventStore`] contract, envelope and hash chain as sled,
//! on a server that several service instances share.
//!
//! Layout (one rule family per module):
//! - [`config`]: URL + schema, validated before any SQL is written.
//! - [`migrations`]: versioned schema steps applied by the engine under an advisory lock.
//! - `writer`: the one writer task per process; one transaction per batch, serialised across
//!   processes by locking the head row; decisions by the shared planner, records by the shared
//!   codec and hash chain, so the bytes are those sled stores.
//! - `notify`: LISTEN/NOTIFY plus a slow poll feeding [`EventStore::watch_head`].
//!
//! Why positions are gapless and in commit order even with several writer processes is
//! argued in `docs/operations.md`, section "PostgreSQL".

pub mod config;
pub mod migrations;
pub mod statements;
pub mod tls;

mod data_keys;
mod notify;
mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

pub use config::{
    Environment, PostgresConfig, PostgresConfigError, SCHEMA_DEFAULT, SESSION_OPTIONS,
};
pub use tls::SslMode;
pub use writer::{ANALYZE_AFTER_EVENTS_MIN, ANALYZE_AFTER_LOG_FRACTION_DIVISOR};

use migrations::backend;
use writer::{to_i64, to_u64, Append, AppendRequest, Outcome};

use crate::consumer::{check_acknowledgement, ConsumerCheckpoint, ConsumerName, CONSUMERS_MAX};
use crate::hash::ChainVerifier;
use crate::validate::validate_append;
use crate::{
    codec, AppendResult, Clock, Durability, EventStore, ExpectedVersion, GroupedAppend,
    IdempotencyKey, IdempotencyRecord, NewEvent, RecordedEvent, StoreError, StreamId, VerifyReport,
    APPEND_QUEUE_DEPTH_MAX, POSITION_MAX, READ_ALL_PAGE_EVENTS_MAX,
};

/// Records read per round trip while verifying.
const VERIFY_PAGE_EVENTS: u32 = READ_ALL_PAGE_EVENTS_MAX;

/// How the store behaves beyond where it connects.
#[derive(Clone, Copy, Debug)]
pub struct PostgresOptions {
    /// `Flush` and `Fsync` wait for the server's WAL flush (synchronous_commit on);
    /// `Buffered` does not (bulk import only).
    pub durability: Durability,
    /// Appends that may wait for the writer at once (default [`APPEND_QUEUE_DEPTH_MAX`]);
    /// one more is refused with [`StoreError::QueueFull`] rather than queued without bound.
    pub append_queue_depth_max: usize,
    /// After this many events written by this process since its last `ANALYZE` (and at least
    /// a tenth of the log), the writer analyses the event tables on a connection of its own
    /// (default `Some(`[`ANALYZE_AFTER_EVENTS_MIN`]`)`); `None` never does. The
    /// store's own statements do not need it; operators' queries do.
    pub analyze_after_events_min: Option<u64>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            durability: Durability::Flush,
            append_queue_depth_max: APPEND_QUEUE_DEPTH_MAX,
            analyze_after_events_min: Some(writer::ANALYZE_AFTER_EVENTS_MIN),
        }
    }
}

/// The event log in a PostgreSQL schema.
pub struct PostgresStore {
    config: PostgresConfig,
    queue: mpsc::Sender<AppendRequest>,
    queue_depth_max: usize,
    reader: Reader,
    head: Arc<watch::Sender<u64>>,
    counters: Arc<writer::Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl PostgresStore {
    /// Connect, create or migrate the schema, and start the writer and the listener. Must be
    /// called inside a Tokio runtime.
    pub async fn open(
        config: PostgresConfig,
        clock: Arc<dyn Clock>,
        options: PostgresOptions,
    ) -> Result<Self, StoreError> {
        if options.append_queue_depth_max == 0 {
            return Err(StoreError::Backend(
                "append_queue_depth_max is 0; allow at least one queued append".into(),
            ));
        }
        let mut client = connect(&config).await?;
        migrations::migrate(&mut client, &config.schema).await?;
        drop(client);
        let reader = Reader::new(config.clone());
        let position = reader.head().await?;
        let (head_tx, _) = watch::channel(position);
        let head = Arc::new(head_tx);
        let (queue, queue_rx) = mpsc::channel(options.append_queue_depth_max);
        let counters = Arc::new(writer::Counters::default());
        let writer = tokio::spawn(writer::run(
            config.clone(),
            options.durability,
            options.analyze_after_events_min,
            clock,
            queue_rx,
            head.clone(),
            counters.clone(),
        ));
        let listener = tokio::spawn(notify::run(config.clone(), head.clone()));
        Ok(PostgresStore {
            config,
            queue,
            queue_depth_max: options.append_queue_depth_max,
            reader,
            head,
            counters,
            tasks: vec![writer, listener],
        })
    }

    /// Whether `config`'s schema holds a caseledger log (its head row table), without
    /// creating anything: for commands that must only read an existing log.
    pub async fn exists(config: &PostgresConfig) -> Result<bool, StoreError> {
        let client = connect(config).await?;
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("{}.head", config.schema)],
            )
            .await
            .map_err(backend("look for the log's tables"))?;
        Ok(row.get(0))
    }

    /// Open from a `postgres://…[?schema=name]` URL with default options.
    pub async fn open_url(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let config =
            PostgresConfig::from_url(url).map_err(|e| StoreError::Backend(e.to_string()))?;
        Self::open(config, clock, PostgresOptions::default()).await
    }

    pub fn config(&self) -> &PostgresConfig {
        &self.config
    }

    /// What this process's writer has done so far (for benchmarks and operators).
    pub fn stats(&self) -> crate::WriterStats {
        self.counters.snapshot()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // The writer ends by itself once the queue's senders are gone (after finishing the
        // batch in hand); the listener loops forever and must be stopped.
        for task in &self.tasks[1..] {
            task.abort();
        }
    }
}

impl PostgresStore {
    /// Queue one append for the group-commit writer and wait for its answer.
    async fn submit_append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        // Refuse bad input before it takes a queue slot (the writer checks again; cheap).
        validate_append(stream, expected, &events)?;
        let append = Append {
            stream: stream.clone(),
            expected,
            events,
            key: idempotency_key,
            after: None,
            refused: None,
        };
        let mut answers = self.submit(vec![append]).await?;
        answers.pop().ok_or(StoreError::Closed)?
    }

    /// Queue appends as one request (one transaction) and wait for their answers.
    async fn submit(&self, appends: Vec<Append>) -> Result<Vec<Outcome>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let count = appends.len();
        let request = AppendRequest { appends, reply };
        self.queue.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::QueueFull {
                depth_max: self.queue_depth_max,
            },
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })?;
        let answers = answer.await.map_err(|_| StoreError::Closed)?;
        assert_eq!(answers.len(), count, "one answer per append");
        Ok(answers)
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append_keyed(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        self.submit_append(stream, expected, events, key).await
    }

    /// The whole group is one request to the writer task, so one transaction (two round
    /// trips) commits it, in order, after whatever was queued before it.
    async fn append_group(&self, group: Vec<GroupedAppend>) -> Result<Vec<Outcome>, StoreError> {
        crate::check_group(&group)?;
        if group.is_empty() {
            return Ok(Vec::new());
        }
        let appends = group
            .into_iter()
            .map(|a| Append {
                refused: validate_append(&a.stream, a.expected, &a.events).err(),
                stream: a.stream,
                expected: a.expected,
                events: a.events,
                key: a.key,
                after: a.after.map(|i| (i, i)),
            })
            .collect();
        self.submit(appends).await
    }

    async fn idempotency_record(&self, key: Uuid) -> Result<Option<IdempotencyRecord>, StoreError> {
        let conn = self.reader.get().await?;
        let sql = statements::sql(statements::IDEMPOTENCY_RECORD_SQL, &self.config.schema);
        let row = conn
            .client
            .query_opt(&sql, &[&key])
            .await
            .map_err(backend("read an idempotency key"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let fingerprint = match row.get::<_, Option<&[u8]>>(1) {
            None => None,
            Some(bytes) => Some(<crate::Fingerprint>::try_from(bytes).map_err(|_| {
                StoreError::Codec(format!(
                    "idempotency key {key}: fingerprint is {} bytes, not 32",
                    bytes.len()
                ))
            })?),
        };
        Ok(Some(IdempotencyRecord {
            stream_id: row.get(0),
            fingerprint,
        }))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.reader.read_stream(stream, from_version, None).await
    }

    async fn read_stream_page(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.reader
            .read_stream(stream, from_version, Some(max_count))
            .await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.reader.read_all(from_position, max_count).await
    }

    async fn head(&self) -> Result<u64, StoreError> {
        let position = self.reader.head().await?;
        raise_head(&self.head, position);
        Ok(position)
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn consumer_position(&self, name: &ConsumerName) -> Result<Option<u64>, StoreError> {
        let conn = self.reader.get().await?;
        let sql = statements::sql(statements::CONSUMER_POSITION_SQL, &self.config.schema);
        let row = conn
            .client
            .query_opt(&sql, &[&name.as_str()])
            .await
            .map_err(backend("read a consumer checkpoint"))?;
        row.map(|row| to_u64(row.get(0), "consumer checkpoint"))
            .transpose()
    }

    async fn acknowledge(&self, name: &ConsumerName, position: u64) -> Result<u64, StoreError> {
        let schema = &self.config.schema;
        let conn = self.reader.get().await?;
        // The head only grows, so a position at or below it now stays in the log for good.
        let row = conn
            .client
            .query_one(
                &statements::sql(statements::CONSUMER_CHECK_SQL, schema),
                &[&name.as_str()],
            )
            .await
            .map_err(backend("read the head and the consumers"))?;
        let head = to_u64(row.get(0), "head position")?;
        let count = usize::try_from(row.get::<_, i64>(1)).unwrap_or(usize::MAX);
        check_acknowledgement(name, position, head, row.get(2), count)?;
        let row = conn
            .client
            .query_one(
                &statements::sql(statements::CONSUMER_ACKNOWLEDGE_SQL, schema),
                &[&name.as_str(), &to_i64(position)?],
            )
            .await
            .map_err(backend("write a consumer checkpoint"))?;
        to_u64(row.get(0), "consumer checkpoint")
    }

    async fn consumers(&self) -> Result<Vec<ConsumerCheckpoint>, StoreError> {
        let conn = self.reader.get().await?;
        let sql = statements::sql(statements::CONSUMERS_SQL, &self.config.schema);
        let rows = conn
            .client
            .query(&sql, &[&(CONSUMERS_MAX as i64)])
            .await
            .map_err(backend("read the consumers"))?;
        rows.iter()
            .map(|row| {
                Ok(ConsumerCheckpoint {
                    name: ConsumerName::new(row.get::<_, String>(0))?,
                    position: to_u64(row.get(1), "consumer checkpoint")?,
                })
            })
            .collect()
    }

    async fn verify(
        &self,
        from_position: u64,
        to_position: Option<u64>,
    ) -> Result<VerifyReport, StoreError> {
        self.reader.verify(from_position, to_position).await
    }

    fn key_store(&self) -> &dyn crate::keystore::KeyStore {
        self
    }
}

/// Open one connection and drive it on a background task.
pub(crate) async fn connect(config: &PostgresConfig) -> Result<Client, StoreError> {
    let (client, connection) = config
        .client
        .connect(config.tls_connector())
        .await
        .map_err(|e| {
            StoreError::Backend(format!(
                "PostgreSQL not reachable at {}: {}",
                config.describe(),
                migrations::describe_error(&e)
            ))
        })?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the owner notices through
        // `Client::is_closed` and reconnects.
        let _ = connection.await;
    });
    Ok(client)
}

/// Move the watched head up to `position` (never down: notifications, polls and the local
/// writer race, and a subscriber must never see the head go back).
pub(crate) fn raise_head(head: &watch::Sender<u64>, position: u64) {
    head.send_if_modified(|current| {
        if position > *current {
            *current = position;
            true
        } else {
            false
        }
    });
}

/// Decode a stored row and check the indexed column agrees with the canonical bytes.
fn decode_row(position: i64, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    let column = to_u64(position, "position")?;
    let record = codec::decode_record(bytes).map_err(|e| StoreError::Corrupt {
        position: column,
        reason: e.to_string(),
    })?;
    if record.position != column {
        return Err(StoreError::Corrupt {
            position: column,
            reason: format!(
                "row at position {column} holds the record of position {}",
                record.position
            ),
        });
    }
    Ok(record)
}

/// Reading connection(s): one pipelined client, reconnected when it closes.
struct Reader {
    config: PostgresConfig,
    current: tokio::sync::Mutex<Option<Arc<ReadConnection>>>,
}

struct ReadConnection {
    client: Client,
    read_all: Statement,
    read_stream: Statement,
    read_stream_page: Statement,
    head: Statement,
    record_at: Statement,
}

impl Reader {
    fn new(config: PostgresConfig) -> Self {
        Reader {
            config,
            current: tokio::sync::Mutex::new(None),
        }
    }

    async fn get(&self) -> Result<Arc<ReadConnection>, StoreError> {
        let mut current = self.current.lock().await;
        if let Some(conn) = current.as_ref() {
            if !conn.client.is_closed() {
                return Ok(conn.clone());
            }
        }
        let client = connect(&self.config).await?;
        let s = &self.config.schema;
        let prepare = |template: &'static str| {
            let client = &client;
            let sql = statements::sql(template, s);
            async move {
                client
                    .prepare(&sql)
                    .await
                    .map_err(backend("prepare a read statement"))
            }
        };
        let conn = Arc::new(ReadConnection {
            read_all: prepare(statements::READ_ALL_SQL).await?,
            read_stream: prepare(statements::READ_STREAM_SQL).await?,
            read_stream_page: prepare(statements::READ_STREAM_PAGE_SQL).await?,
            head: prepare(statements::HEAD_SQL).await?,
            record_at: prepare(statements::RECORD_AT_SQL).await?,
            client,
        });
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// `stream` from `from_version` on: all of it, or at most `max_count` records.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: Option<u32>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if from_version > POSITION_MAX || max_count == Some(0) {
            return Ok(Vec::new());
        }
        let conn = self.get().await?;
        let from = to_i64(from_version)?;
        let name = stream.as_str();
        let rows = match max_count {
            None => conn.client.query(&conn.read_stream, &[&name, &from]).await,
            Some(count) => {
                let count = i64::from(count);
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                    [&name, &from, &count];
                conn.client.query(&conn.read_stream_page, &params).await
            }
        }
        .map_err(backend("read a stream"))?;
        let records = rows
            .iter()
            .map(|row| decode_row(row.get(0), row.get(1)))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, record) in records.iter().enumerate() {
            let expected_version = from_version.max(1) + i as u64;
            if record.stream_id != stream.as_str() || record.stream_version != expected_version {
                return Err(StoreError::Corrupt {
                    position: record.position,
                    reason: format!(
                        "read stream {stream} version {expected_version} but the record holds {} version {}",
                        record.stream_id, record.stream_version
                    ),
                });
            }
        }
        Ok(records)
    }

    async fn head(&self) -> Result<u64, StoreError> {
        let conn = self.get().await?;
        let row = conn
            .client
            .query_one(&conn.head, &[])
            .await
            .map_err(backend("read the head"))?;
        to_u64(row.get(0), "head position")
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let from = from_position.max(1);
        let count = max_count.min(READ_ALL_PAGE_EVENTS_MAX);
        if count == 0 || from > POSITION_MAX {
            return Ok(Vec::new());
        }
        let conn = self.get().await?;
        let rows = conn
            .client
            .query(&conn.read_all, &[&to_i64(from)?, &i64::from(count)])
            .await
            .map_err(backend("read the log"))?;
        let records = rows
            .iter()
            .map(|row| decode_row(row.get(0), row.get(1)))
            .collect::<Result<Vec<_>, _>>()?;
        // Committed positions are a gapless prefix (docs/operations.md); a hole here means the
        // table was tampered with, and a subscriber must not skip over it silently.
        for (i, record) in records.iter().enumerate() {
            if record.position != from + i as u64 {
                return Err(StoreError::Corrupt {
                    position: from + i as u64,
                    reason: format!(
                        "position {} is missing: the log jumps to {}",
                        from + i as u64,
                        record.position
                    ),
                });
            }
        }
        Ok(records)
    }

    async fn verify(
        &self,
        from_position: u64,
        to_position: Option<u64>,
    ) -> Result<VerifyReport, StoreError> {
        let (from, to) =
            match crate::hash::verify_bounds(from_position, to_position, self.head().await?) {
                Ok(range) => range,
                Err(empty) => return Ok(empty),
            };
        let conn = self.get().await?;
        let previous = if from == 1 {
            Ok(None)
        } else {
            let row = conn
                .client
                .query_opt(&conn.record_at, &[&to_i64(from - 1)?])
                .await
                .map_err(backend("read the record before the verified range"))?;
            row.map(|row| decode_row(row.get(0), row.get(1)))
                .transpose()
                .map_err(|e| e.to_string())
        };
        let mut verifier = match ChainVerifier::for_range(from, to, previous) {
            Ok(verifier) => verifier,
            Err(report) => return Ok(report),
        };
        // Page through so memory stays bounded over any range.
        while verifier.next_position() <= to && !verifier.failed() {
            let next = verifier.next_position();
            let page = (to - next + 1).min(u64::from(VERIFY_PAGE_EVENTS));
            let rows = conn
                .client
                .query(&conn.read_all, &[&to_i64(next)?, &(page as i64)])
                .await
                .map_err(backend("read the log for verification"))?;
            if rows.is_empty() {
                verifier.mark_bad(next, "record is missing");
                break;
            }
            for row in &rows {
                let position: i64 = row.get(0);
                let record = match decode_row(position, row.get(1)) {
                    Ok(record) => record,
                    Err(e) => {
                        verifier.mark_bad(verifier.next_position(), e.to_string());
                        break;
                    }
                };
                let at = verifier.next_position();
                if !verifier.check(&record) {
                    break;
                }
                // The hash column is what operators and the head row see; it must agree.
                if row.get::<_, &[u8]>(2) != &record.hash[..] {
                    verifier.mark_bad(at, "hash column differs from the record's hash");
                    break;
                }
            }
        }
        Ok(verifier.finish(to))
    }
}
