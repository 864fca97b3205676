//! The group-commit writer: one task per process owns one connection and turns every batch of
//! queued appends into one transaction.
//!
//! Each transaction, in order:
//! 1. `SELECT … FROM head FOR UPDATE`: the single head row is the cross-process writer lock.
//!    A second writer (another process, or this one after a reconnect) blocks here until the
//!    holder commits or rolls back, and then reads the head *that commit left*.
//! 2. Under the lock: read the current versions of the batch's streams, and the stored
//!    idempotency keys and event ids the batch mentions (three pipelined queries).
//! 3. The shared planner (`crate::planner::Batch`, the one sled and memory use) decides each
//!    append and assigns positions head+1, head+2, …; this module adds only the check that an
//!    event id is not already stored (the unique index would otherwise fail the whole batch).
//! 4. Insert the events and keys, move the head row, `pg_notify` the new head.
//! 5. COMMIT. Rows and head become visible at once; the lock is released only after that, so
//!    no later position can become visible before an earlier one (docs/operations.md).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement, Transaction};
use uuid::Uuid;

use super::config::PostgresConfig;
use super::migrations::{backend, describe_error};
use crate::codec;
use crate::planner::{Batch, IdempotencyEntry, Lookup, Tip};
use crate::{
    AppendResult, Clock, Durability, ExpectedVersion, NewEvent, StoreError, StreamId,
    BATCH_APPENDS_MAX, BATCH_EVENTS_MAX,
};

/// What the writer has done, for [`super::PostgresStore::stats`].
#[derive(Default)]
pub(crate) struct Counters {
    batches: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> crate::WriterStats {
        crate::WriterStats {
            batches: self.batches.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
        }
    }
}

/// One queued append and where to send its answer.
pub(crate) struct AppendRequest {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub key: Option<Uuid>,
    pub reply: oneshot::Sender<Result<AppendResult, StoreError>>,
}

/// The writer's connection and its prepared statements.
struct WriteConnection {
    client: Client,
    statements: Statements,
}

struct Statements {
    lock_head: Statement,
    stream_versions: Statement,
    stored_keys: Statement,
    stored_event_ids: Statement,
    insert_events: Statement,
    insert_keys: Statement,
    move_head: Statement,
}

impl WriteConnection {
    async fn open(config: &PostgresConfig, durability: Durability) -> Result<Self, StoreError> {
        let client = super::connect(config).await?;
        let s = &config.schema;
        // The connection is this writer's alone, so its durability is a session setting.
        // Flush and Fsync both wait for the WAL flush on the server (PostgreSQL's fsync);
        // Buffered acknowledges before it (bulk import only).
        let synchronous_commit = match durability {
            Durability::Flush | Durability::Fsync => "on",
            Durability::Buffered => "off",
        };
        client
            .batch_execute(&format!(
                "SET synchronous_commit TO {synchronous_commit}; \
                 SET default_transaction_isolation TO 'read committed'"
            ))
            .await
            .map_err(backend("configure the writer connection"))?;
        let prepare = |sql: String| {
            let client = &client;
            async move {
                client
                    .prepare(&sql)
                    .await
                    .map_err(backend("prepare a writer statement"))
            }
        };
        let statements = Statements {
            lock_head: prepare(format!(
                "SELECT position, hash, recorded_at_us FROM {s}.head WHERE singleton FOR UPDATE"
            ))
            .await?,
            stream_versions: prepare(format!(
                "SELECT stream_id, max(stream_version) FROM {s}.events \
                 WHERE stream_id = ANY($1::text[]) GROUP BY stream_id"
            ))
            .await?,
            stored_keys: prepare(format!(
                "SELECT key, stream_id, first_position, last_position, stream_version, \
                 recorded_at_us FROM {s}.idempotency WHERE key = ANY($1::uuid[])"
            ))
            .await?,
            stored_event_ids: prepare(format!(
                "SELECT event_id, position FROM {s}.events WHERE event_id = ANY($1::uuid[])"
            ))
            .await?,
            insert_events: prepare(format!(
                "INSERT INTO {s}.events (position, stream_id, stream_version, event_id, \
                 event_type, recorded_at_us, hash, record) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], \
                 $5::text[], $6::bigint[], $7::bytea[], $8::bytea[])"
            ))
            .await?,
            insert_keys: prepare(format!(
                "INSERT INTO {s}.idempotency (key, stream_id, first_position, last_position, \
                 stream_version, recorded_at_us) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], \
                 $5::bigint[], $6::bigint[])"
            ))
            .await?,
            move_head: prepare(format!(
                "WITH moved AS (UPDATE {s}.head SET position = $1, hash = $2, recorded_at_us = $3 \
                 WHERE singleton RETURNING position) \
                 SELECT pg_notify($4, position::text) FROM moved"
            ))
            .await?,
        };
        Ok(WriteConnection { client, statements })
    }
}

/// Run until every sender is dropped (the store was dropped).
pub(crate) async fn run(
    config: PostgresConfig,
    durability: Durability,
    clock: Arc<dyn Clock>,
    mut queue: mpsc::Receiver<AppendRequest>,
    head: Arc<watch::Sender<u64>>,
    counters: Arc<Counters>,
) {
    let mut connection: Option<WriteConnection> = None;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let mut events = batch[0].events.len();
        while batch.len() < BATCH_APPENDS_MAX && events < BATCH_EVENTS_MAX {
            match queue.try_recv() {
                Ok(next) => {
                    events += next.events.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let usable = matches!(&connection, Some(c) if !c.client.is_closed());
        if !usable {
            connection = None;
            match WriteConnection::open(&config, durability).await {
                Ok(c) => connection = Some(c),
                Err(e) => {
                    for request in batch {
                        let _ = request.reply.send(Err(e.clone()));
                    }
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let (replies, appends): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|r| (r.reply, (r.stream, r.expected, r.events, r.key)))
            .unzip();
        let outcomes = commit(conn, &config, clock.as_ref(), appends).await;
        debug_assert_eq!(outcomes.len(), replies.len());
        let mut highest = 0;
        let mut written = 0;
        counters
            .appends
            .fetch_add(replies.len() as u64, Ordering::Relaxed);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            if let Ok(result) = &outcome {
                highest = highest.max(result.last_position);
                if !result.deduplicated {
                    written += result.last_position + 1 - result.first_position;
                }
            }
            // The caller may have given up waiting; the append stands regardless.
            let _ = reply.send(outcome);
        }
        if written > 0 {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.events.fetch_add(written, Ordering::Relaxed);
        }
        super::raise_head(&head, highest);
    }
}

type Append = (StreamId, ExpectedVersion, Vec<NewEvent>, Option<Uuid>);
type Outcome = Result<AppendResult, StoreError>;

/// One transaction for `appends`; one outcome per append, in order. If the transaction
/// fails, every append it accepted gets the error (nothing of it is acknowledged) and the
/// refusals keep their own reasons.
async fn commit(
    conn: &mut WriteConnection,
    config: &PostgresConfig,
    clock: &dyn Clock,
    appends: Vec<Append>,
) -> Vec<Outcome> {
    let count = appends.len();
    let WriteConnection { client, statements } = conn;
    let tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(e) => {
            let e = backend("begin an append transaction")(e);
            return vec![Err(e); count];
        }
    };
    match decide_and_write(&tx, statements, config, clock, appends).await {
        Ok((outcomes, false)) => {
            // Nothing to write (all refused or deduplicated): just release the lock.
            let _ = tx.rollback().await;
            outcomes
        }
        Ok((outcomes, true)) => match tx.commit().await {
            Ok(()) => outcomes,
            Err(e) => {
                let e = StoreError::Backend(format!(
                    "PostgreSQL: COMMIT of an append batch failed ({}); it may or may not be \
                     stored: retry with the same idempotency key, or read the stream to check",
                    describe_error(&e)
                ));
                fail_accepted(outcomes, e)
            }
        },
        Err((outcomes, e)) => {
            // Release the head lock now, not whenever the dropped transaction's ROLLBACK gets
            // sent: other processes are waiting for it.
            let _ = tx.rollback().await;
            match outcomes {
                Some(outcomes) => fail_accepted(outcomes, e),
                None => vec![Err(e); count],
            }
        }
    }
}

fn fail_accepted(outcomes: Vec<Outcome>, e: StoreError) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| match o {
            Ok(r) if !r.deduplicated => Err(e.clone()),
            other => other,
        })
        .collect()
}

/// The committed state the planner asks about, read in bulk under the lock.
struct Prefetched {
    /// Current version of every stream the batch names (absent: 0).
    versions: BTreeMap<String, u64>,
    keys: BTreeMap<Uuid, IdempotencyEntry>,
}

impl Lookup for Prefetched {
    fn stream_version(&mut self, stream: &str) -> Result<u64, StoreError> {
        Ok(self.versions.get(stream).copied().unwrap_or(0))
    }
    fn idempotency(&mut self, key: &Uuid) -> Result<Option<IdempotencyEntry>, StoreError> {
        Ok(self.keys.get(key).cloned())
    }
}

type Decided = (Vec<Outcome>, bool);
type Failed = (Option<Vec<Outcome>>, StoreError);

/// Everything between BEGIN and COMMIT. Returns each append's outcome and whether any row was
/// written (if not, the caller rolls back instead of committing).
async fn decide_and_write(
    tx: &Transaction<'_>,
    statements: &Statements,
    config: &PostgresConfig,
    clock: &dyn Clock,
    appends: Vec<Append>,
) -> Result<Decided, Failed> {
    let mut stream_ids: Vec<&str> = appends.iter().map(|a| a.0.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    let keys: Vec<Uuid> = appends.iter().filter_map(|a| a.3).collect();
    let event_ids: Vec<Uuid> = appends
        .iter()
        .flat_map(|a| a.2.iter().map(|e| e.event_id))
        .collect();

    let head_row = tx
        .query_one(&statements.lock_head, &[])
        .await
        .map_err(|e| (None, backend("lock the head row")(e)))?;
    let tip = Tip {
        head: to_u64(head_row.get::<_, i64>(0), "head position").map_err(|e| (None, e))?,
        last_hash: to_hash(head_row.get::<_, &[u8]>(1)).map_err(|e| (None, e))?,
        last_recorded_at_us: head_row.get(2),
    };
    let p_streams: [&(dyn ToSql + Sync); 1] = [&stream_ids];
    let p_keys: [&(dyn ToSql + Sync); 1] = [&keys];
    let p_ids: [&(dyn ToSql + Sync); 1] = [&event_ids];
    let (version_rows, key_rows, id_rows) = futures_util::try_join!(
        tx.query(&statements.stream_versions, &p_streams),
        tx.query(&statements.stored_keys, &p_keys),
        tx.query(&statements.stored_event_ids, &p_ids),
    )
    .map_err(|e| {
        (
            None,
            backend("read stream versions and idempotency keys")(e),
        )
    })?;
    let prefetch = || -> Result<(Prefetched, BTreeMap<Uuid, u64>), StoreError> {
        let mut known = Prefetched {
            versions: BTreeMap::new(),
            keys: BTreeMap::new(),
        };
        for row in &version_rows {
            known
                .versions
                .insert(row.get(0), to_u64(row.get(1), "stream version")?);
        }
        for row in &key_rows {
            let result = AppendResult {
                first_position: to_u64(row.get(2), "idempotency first position")?,
                last_position: to_u64(row.get(3), "idempotency last position")?,
                stream_version: to_u64(row.get(4), "idempotency stream version")?,
                recorded_at_us: row.get(5),
                deduplicated: false,
            };
            let stream_id = row.get(1);
            known
                .keys
                .insert(row.get(0), IdempotencyEntry { stream_id, result });
        }
        let mut stored_ids = BTreeMap::new();
        for row in &id_rows {
            stored_ids.insert(row.get(0), to_u64(row.get(1), "event position")?);
        }
        Ok((known, stored_ids))
    };
    let (mut known, mut stored_ids) = prefetch().map_err(|e| (None, e))?;

    // The clock is read under the lock, so recorded_at follows the lock (= position) order.
    let mut batch = Batch::begin(tip, clock.now_us());
    let mut outcomes = Vec::with_capacity(appends.len());
    for (stream, expected, events, key) in appends {
        // A repeated key is answered by the planner before anything else (its events are
        // stored already, under the first call); otherwise no event id may be stored twice.
        let repeated =
            key.is_some_and(|k| known.keys.contains_key(&k) || batch.keys().contains_key(&k));
        if !repeated {
            if let Some(refusal) = reused_event_id(&events, &stored_ids) {
                outcomes.push(Err(refusal));
                continue;
            }
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let outcome = batch.decide(&mut known, &stream, expected, events, key);
        if let Ok(result) = &outcome {
            if !result.deduplicated {
                for (offset, id) in (0..).zip(ids) {
                    stored_ids.insert(id, result.first_position + offset);
                }
            }
        }
        outcomes.push(outcome);
    }
    if batch.is_empty() {
        return Ok((outcomes, false));
    }
    match write_batch(tx, statements, config, &batch).await {
        Ok(()) => Ok((outcomes, true)),
        Err(e) => Err((Some(outcomes), e)),
    }
}

/// The first event of `events` whose id is already stored, as the refusal to return.
fn reused_event_id(events: &[NewEvent], stored: &BTreeMap<Uuid, u64>) -> Option<StoreError> {
    events.iter().enumerate().find_map(|(index, event)| {
        stored
            .get(&event.event_id)
            .map(|position| StoreError::InvalidEvent {
                index,
                reason: format!(
                    "event id {} is already stored at position {position}; give every event a \
                 fresh id (a retry of the same command should reuse its idempotency key)",
                    event.event_id
                ),
            })
    })
}

async fn write_batch(
    tx: &Transaction<'_>,
    statements: &Statements,
    config: &PostgresConfig,
    batch: &Batch,
) -> Result<(), StoreError> {
    let records = batch.records();
    let n = records.len();
    let mut positions = Vec::with_capacity(n);
    let mut streams = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut recorded = Vec::with_capacity(n);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(n);
    let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(n);
    for record in records {
        positions.push(to_i64(record.position)?);
        streams.push(record.stream_id.as_str());
        versions.push(to_i64(record.stream_version)?);
        ids.push(record.event_id);
        types.push(record.event_type.as_str());
        recorded.push(record.recorded_at_us);
        hashes.push(&record.hash[..]);
        encoded.push(codec::encode_record(record)?);
    }
    let mut key_ids = Vec::new();
    let mut key_streams = Vec::new();
    let mut key_first = Vec::new();
    let mut key_last = Vec::new();
    let mut key_versions = Vec::new();
    let mut key_recorded = Vec::new();
    for (key, entry) in batch.keys() {
        key_ids.push(*key);
        key_streams.push(entry.stream_id.as_str());
        key_first.push(to_i64(entry.result.first_position)?);
        key_last.push(to_i64(entry.result.last_position)?);
        key_versions.push(to_i64(entry.result.stream_version)?);
        key_recorded.push(entry.result.recorded_at_us);
    }
    let tip = batch.tip();
    let head_position = to_i64(tip.head)?;
    let head_hash = &tip.last_hash[..];
    let channel = config.channel();
    let event_params: [&(dyn ToSql + Sync); 8] = [
        &positions, &streams, &versions, &ids, &types, &recorded, &hashes, &encoded,
    ];
    let key_params: [&(dyn ToSql + Sync); 6] = [
        &key_ids,
        &key_streams,
        &key_first,
        &key_last,
        &key_versions,
        &key_recorded,
    ];
    let head_params: [&(dyn ToSql + Sync); 4] = [
        &head_position,
        &head_hash,
        &tip.last_recorded_at_us,
        &channel,
    ];
    let (inserted, _, moved) = futures_util::try_join!(
        tx.execute(&statements.insert_events, &event_params),
        tx.execute(&statements.insert_keys, &key_params),
        tx.execute(&statements.move_head, &head_params),
    )
    .map_err(backend("insert the events"))?;
    if inserted != n as u64 || moved != 1 {
        return Err(StoreError::Backend(format!(
            "PostgreSQL: inserted {inserted} of {n} events and moved {moved} head rows; \
             the transaction was rolled back"
        )));
    }
    Ok(())
}

pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| {
        StoreError::Backend(format!(
            "position or version {value} exceeds PostgreSQL bigint"
        ))
    })
}

pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| {
        StoreError::Backend(format!(
            "PostgreSQL holds a negative {what} ({value}); the schema was changed by hand"
        ))
    })
}

pub(crate) fn to_hash(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| {
        StoreError::Backend(format!(
            "PostgreSQL holds a {}-byte hash; expected 32",
            bytes.len()
        ))
    })
}
