//! The group-commit writer: one task per process owns one connection and turns every batch of
//! queued appends into one transaction.
//!
//! Each transaction, in order, in TWO network round trips (requests pipelined on the one
//! connection; the server still runs them one after another, in order):
//!
//! Round trip 1 — `BEGIN`, then
//! 1. `SELECT … FROM head FOR UPDATE`: the single head row is the cross-process writer lock.
//!    A second writer (another process, or this one after a reconnect) blocks here until the
//!    holder commits or rolls back, and then reads the head *that commit left*.
//! 2. Under the lock: read the current versions of the batch's streams, and the stored
//!    idempotency keys and event ids the batch mentions. Each is a READ COMMITTED statement
//!    that starts only after step 1 was granted, so it sees the previous holder's commit.
//!
//! Between the round trips, in this process:
//! 3. The shared planner (`crate::planner::Batch`, the one sled and memory use) decides each
//!    append and assigns positions head+1, head+2, …; this module adds only the check that an
//!    event id is not already stored (the unique index would otherwise fail the whole batch).
//!
//! Round trip 2 —
//! 4. ONE statement inserts the events and keys, moves the head row (only if every row went
//!    in) and `pg_notify`s the new head; then
//! 5. `COMMIT`. Rows and head become visible at once; the lock is released only after that, so
//!    no later position can become visible before an earlier one (docs/operations.md). If
//!    step 4 failed, the transaction is aborted and this COMMIT rolls it back.
//!
//! Until 2026-11 this took five round trips (BEGIN, lock, reads, writes, COMMIT each
//! awaited); on a loaded 2-core host every round trip is also a wake-up of the server
//! process and of this task, which is what made single-writer latency several times the
//! WAL flush (docs/benchmarks.md).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::config::PostgresConfig;
use super::migrations::{backend, describe_error};
use crate::codec;
use crate::planner::{Batch, IdempotencyEntry, Lookup, Tip};
use crate::{
    AppendResult, Clock, Durability, ExpectedVersion, IdempotencyKey, NewEvent, StoreError,
    StreamId, BATCH_APPENDS_MAX, BATCH_EVENTS_MAX,
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
            // The PostgreSQL writer always commits through its writer task.
            inline_batches: 0,
        }
    }
}

/// One queued append, or a group of them ([`crate::EventStore::append_group`]), and where
/// to send the answers (one per append, in order). A request is never split between
/// transactions.
pub(crate) struct AppendRequest {
    pub appends: Vec<Append>,
    pub reply: oneshot::Sender<Vec<Outcome>>,
}

/// One append as the writer decides it.
pub(crate) struct Append {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub key: Option<IdempotencyKey>,
    /// The earlier append of the same transaction that must have been written (its index in
    /// the transaction, its index in its group): [`crate::GroupedAppend::after`].
    pub after: Option<(usize, usize)>,
    /// Why it was refused before reaching the writer (bad arguments), if it was.
    pub refused: Option<StoreError>,
}

/// The head row, locked: the cross-process writer lock (step 1 of the module comment).
pub const LOCK_HEAD_SQL: &str =
    "SELECT position, hash, recorded_at_us FROM {schema}.head WHERE singleton FOR UPDATE";

// The three reads below are per-key lookups, one index probe per key, whatever the planner's
// statistics say. `col = ANY($1)` over the whole table was the earlier shape: on a table that
// was never analysed (autovacuum off, or a bulk load before its next analyse) the planner
// multiplied its default selectivity by the array length and chose a sequential scan per
// batch, which made import quadratic in the log (docs/operations.md "Query plans"). A LATERAL
// subquery with LIMIT cannot be flattened into a join, so it runs once per key as a
// parameterised scan, and for a one-row lookup the index is the cheapest path at any
// estimated table size; the test `postgres_plans` EXPLAINs each of them on a 100,000-event,
// never-analysed table.

/// Current version of each stream named in `$1` (absent streams give no row): the newest row
/// of the `(stream_id, stream_version)` unique index, read backwards.
pub const STREAM_VERSIONS_SQL: &str = "SELECT k.stream_id, v.stream_version \
     FROM unnest($1::text[]) AS k(stream_id) \
     CROSS JOIN LATERAL (SELECT e.stream_version FROM {schema}.events e \
         WHERE e.stream_id = k.stream_id ORDER BY e.stream_version DESC LIMIT 1) v";

/// Stored idempotency entries for the keys in `$1`, through the primary key.
pub const STORED_KEYS_SQL: &str = "SELECT i.key, i.stream_id, i.first_position, \
     i.last_position, i.stream_version, i.recorded_at_us, i.fingerprint \
     FROM unnest($1::uuid[]) AS k(key) \
     CROSS JOIN LATERAL (SELECT * FROM {schema}.idempotency i0 \
         WHERE i0.key = k.key LIMIT 1) i";

/// Positions of the event ids in `$1` already stored, through `events_event_id_unique`.
pub const STORED_EVENT_IDS_SQL: &str = "SELECT e.event_id, e.position \
     FROM unnest($1::uuid[]) AS k(event_id) \
     CROSS JOIN LATERAL (SELECT e0.event_id, e0.position FROM {schema}.events e0 \
         WHERE e0.event_id = k.event_id LIMIT 1) e";

/// One statement for every write of a batch, so it succeeds or fails as a whole (no partial
/// batch can reach the pipelined COMMIT). The head moves only if every event and key row was
/// inserted; otherwise its position is set to NULL, which the NOT NULL constraint turns into
/// an error that aborts the transaction.
pub const WRITE_BATCH_SQL: &str = "WITH inserted_events AS ( \
         INSERT INTO {schema}.events (position, stream_id, stream_version, event_id, \
         event_type, recorded_at_us, hash, record) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], \
         $5::text[], $6::bigint[], $7::bytea[], $8::bytea[]) RETURNING 1), \
     inserted_keys AS ( \
         INSERT INTO {schema}.idempotency (key, stream_id, first_position, \
         last_position, stream_version, recorded_at_us, fingerprint) \
         SELECT * FROM UNNEST($9::uuid[], $10::text[], $11::bigint[], \
         $12::bigint[], $13::bigint[], $14::bigint[], $19::bytea[]) RETURNING 1), \
     moved AS ( \
         UPDATE {schema}.head SET \
         position = CASE WHEN (SELECT count(*) FROM inserted_events) \
                              = cardinality($1::bigint[]) \
                          AND (SELECT count(*) FROM inserted_keys) \
                              = cardinality($9::uuid[]) \
                     THEN $15::bigint END, \
         hash = $16, recorded_at_us = $17 \
         WHERE singleton RETURNING position) \
     SELECT pg_notify($18, position::text) FROM moved";

/// Every statement the writer prepares, by name, for tests that check their plans.
pub const WRITER_STATEMENTS: &[(&str, &str)] = &[
    ("lock_head", LOCK_HEAD_SQL),
    ("stream_versions", STREAM_VERSIONS_SQL),
    ("stored_keys", STORED_KEYS_SQL),
    ("stored_event_ids", STORED_EVENT_IDS_SQL),
    ("write_batch", WRITE_BATCH_SQL),
];

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
    write_batch: Statement,
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
        let prepare = |template: &'static str| {
            let client = &client;
            let sql = super::statements::sql(template, s);
            async move {
                client
                    .prepare(&sql)
                    .await
                    .map_err(backend("prepare a writer statement"))
            }
        };
        let statements = Statements {
            lock_head: prepare(LOCK_HEAD_SQL).await?,
            stream_versions: prepare(STREAM_VERSIONS_SQL).await?,
            stored_keys: prepare(STORED_KEYS_SQL).await?,
            stored_event_ids: prepare(STORED_EVENT_IDS_SQL).await?,
            write_batch: prepare(WRITE_BATCH_SQL).await?,
        };
        Ok(WriteConnection { client, statements })
    }
}

/// Events written since the last `ANALYZE` after which the writer starts another, at least;
/// see [`Analyser`].
pub const ANALYZE_AFTER_EVENTS_MIN: u64 = 50_000;
/// ... and at least this fraction (1/n) of the log, so a long log is not analysed constantly.
pub const ANALYZE_AFTER_LOG_FRACTION_DIVISOR: u64 = 10;

/// Keeps the planner statistics of the event tables fresh after bulk writes (an import),
/// where autovacuum is off or has not caught up yet. The writer's own lookups do not need
/// them (see [`STREAM_VERSIONS_SQL`]); other readers of the tables do. `ANALYZE` runs on its
/// own connection and task, so the writer never waits for it, and takes a lock that does not
/// conflict with inserts.
struct Analyser {
    after_events_min: Option<u64>,
    since_last: u64,
    running: Arc<std::sync::atomic::AtomicBool>,
}

impl Analyser {
    fn new(after_events_min: Option<u64>) -> Self {
        Analyser {
            after_events_min,
            since_last: 0,
            running: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    fn written(&mut self, events: u64, head: u64, config: &PostgresConfig) {
        let Some(after_events_min) = self.after_events_min else {
            return;
        };
        self.since_last += events;
        let due = after_events_min.max(head / ANALYZE_AFTER_LOG_FRACTION_DIVISOR);
        if self.since_last < due || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.since_last = 0;
        let running = self.running.clone();
        let config = config.clone();
        tokio::spawn(async move {
            // A failed ANALYZE costs nothing but fresh statistics; the next one retries.
            if let Ok(client) = super::connect(&config).await {
                let _ = super::migrations::analyze(&client, &config.schema).await;
            }
            running.store(false, Ordering::Release);
        });
    }
}

/// Run until every sender is dropped (the store was dropped).
pub(crate) async fn run(
    config: PostgresConfig,
    durability: Durability,
    analyze_after_events_min: Option<u64>,
    clock: Arc<dyn Clock>,
    mut queue: mpsc::Receiver<AppendRequest>,
    head: Arc<watch::Sender<u64>>,
    counters: Arc<Counters>,
) {
    let mut connection: Option<WriteConnection> = None;
    let mut analyser = Analyser::new(analyze_after_events_min);
    while let Some(first) = queue.recv().await {
        let mut requests = vec![first];
        let mut appends = requests[0].appends.len();
        let mut events: usize = requests[0].appends.iter().map(|a| a.events.len()).sum();
        while appends < BATCH_APPENDS_MAX && events < BATCH_EVENTS_MAX {
            match queue.try_recv() {
                Ok(next) => {
                    appends += next.appends.len();
                    events += next.appends.iter().map(|a| a.events.len()).sum::<usize>();
                    requests.push(next);
                }
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(requests.len());
        let mut batch: Vec<Append> = Vec::with_capacity(appends);
        for request in requests {
            // `after` indices are the request's; in the transaction they follow its offset.
            let offset = batch.len();
            replies.push((request.reply, request.appends.len()));
            for mut append in request.appends {
                append.after = append.after.map(|(_, i)| (offset + i, i));
                batch.push(append);
            }
        }
        let usable = matches!(&connection, Some(c) if !c.client.is_closed());
        if !usable {
            connection = None;
            match WriteConnection::open(&config, durability).await {
                Ok(c) => connection = Some(c),
                Err(e) => {
                    for (reply, count) in replies {
                        let _ = reply.send(vec![Err(e.clone()); count]);
                    }
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let (outcomes, usable) = commit(conn, &config, clock.as_ref(), batch).await;
        if !usable {
            connection = None;
        }
        debug_assert_eq!(outcomes.len(), appends);
        let mut highest = 0;
        let mut written = 0;
        counters
            .appends
            .fetch_add(outcomes.len() as u64, Ordering::Relaxed);
        for result in outcomes.iter().flatten() {
            highest = highest.max(result.last_position);
            if !result.deduplicated {
                written += result.last_position + 1 - result.first_position;
            }
        }
        let mut outcomes = outcomes.into_iter();
        for (reply, count) in replies {
            // The caller may have given up waiting; the append stands regardless.
            let _ = reply.send(outcomes.by_ref().take(count).collect());
        }
        if written > 0 {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.events.fetch_add(written, Ordering::Relaxed);
            analyser.written(written, highest, &config);
        }
        super::raise_head(&head, highest);
    }
}

pub(crate) type Outcome = Result<AppendResult, StoreError>;

/// One transaction for `appends`, in two round trips (see the module comment); one outcome
/// per append, in order, and whether the connection may be used again. If the transaction
/// fails, every append it accepted gets the error (nothing of it is acknowledged) and the
/// refusals keep their own reasons.
async fn commit(
    conn: &mut WriteConnection,
    config: &PostgresConfig,
    clock: &dyn Clock,
    appends: Vec<Append>,
) -> (Vec<Outcome>, bool) {
    let count = appends.len();
    let WriteConnection { client, statements } = conn;
    match decide_and_write(client, statements, config, clock, appends).await {
        Ok((outcomes, Ended::Committed)) => (outcomes, true),
        Ok((outcomes, Ended::Open)) => {
            // Nothing to write (all refused or deduplicated): just release the lock.
            let usable = client.batch_execute("ROLLBACK").await.is_ok();
            (outcomes, usable)
        }
        Err(Failed {
            outcomes,
            error,
            ended,
        }) => {
            let usable = match ended {
                // Release the head lock now: other processes are waiting for it. A
                // connection that cannot even roll back is dropped, so the next batch starts
                // on a fresh one rather than inside a stale transaction.
                Ended::Open => client.batch_execute("ROLLBACK").await.is_ok(),
                Ended::Committed => true,
            };
            let outcomes = match outcomes {
                Some(outcomes) => fail_accepted(outcomes, error),
                None => vec![Err(error); count],
            };
            (outcomes, usable)
        }
    }
}

/// How a transaction was left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// Still open (BEGIN sent, no COMMIT): the caller must send ROLLBACK.
    Open,
    /// COMMIT was sent (whether it committed or, after a failed statement, rolled back).
    Committed,
}

/// A transaction that did not store its batch.
struct Failed {
    /// Each append's decision, when the failure came after deciding.
    outcomes: Option<Vec<Outcome>>,
    error: StoreError,
    ended: Ended,
}

impl Failed {
    fn before_deciding(error: StoreError) -> Failed {
        Failed {
            outcomes: None,
            error,
            ended: Ended::Open,
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

type Decided = (Vec<Outcome>, Ended);

/// Everything from BEGIN to COMMIT, in two round trips. Returns each append's outcome and
/// how the transaction ended: `Committed` when rows were written and committed, `Open` when
/// there was nothing to write (the caller rolls back).
async fn decide_and_write(
    client: &Client,
    statements: &Statements,
    config: &PostgresConfig,
    clock: &dyn Clock,
    appends: Vec<Append>,
) -> Result<Decided, Failed> {
    let mut stream_ids: Vec<&str> = appends.iter().map(|a| a.stream.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    let keys: Vec<Uuid> = appends.iter().filter_map(|a| a.key.map(|k| k.id)).collect();
    let event_ids: Vec<Uuid> = appends
        .iter()
        .flat_map(|a| a.events.iter().map(|e| e.event_id))
        .collect();

    // Round trip 1: BEGIN, lock the head row, read what the planner needs. The five requests
    // go out together (tokio-postgres sends them in the order `join!` first polls them) and
    // the server runs them in that order: each read is a READ COMMITTED statement that starts
    // after the lock was granted, so it sees everything the previous lock holder committed.
    let p_streams: [&(dyn ToSql + Sync); 1] = [&stream_ids];
    let p_keys: [&(dyn ToSql + Sync); 1] = [&keys];
    let p_ids: [&(dyn ToSql + Sync); 1] = [&event_ids];
    let (began, locked, version_rows, key_rows, id_rows) = futures_util::join!(
        client.batch_execute("BEGIN"),
        client.query_one(&statements.lock_head, &[]),
        client.query(&statements.stream_versions, &p_streams),
        client.query(&statements.stored_keys, &p_keys),
        client.query(&statements.stored_event_ids, &p_ids),
    );
    began.map_err(|e| Failed::before_deciding(backend("begin an append transaction")(e)))?;
    let head_row = locked.map_err(|e| Failed::before_deciding(backend("lock the head row")(e)))?;
    let read = |e| Failed::before_deciding(backend("read stream versions and idempotency keys")(e));
    let (version_rows, key_rows, id_rows) = (
        version_rows.map_err(read)?,
        key_rows.map_err(read)?,
        id_rows.map_err(read)?,
    );
    let tip = Tip {
        head: to_u64(head_row.get::<_, i64>(0), "head position")
            .map_err(Failed::before_deciding)?,
        last_hash: to_hash(head_row.get::<_, &[u8]>(1)).map_err(Failed::before_deciding)?,
        last_recorded_at_us: head_row.get(2),
    };
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
            let fingerprint = match row.get::<_, Option<&[u8]>>(6) {
                None => None,
                Some(bytes) => Some(<crate::Fingerprint>::try_from(bytes).map_err(|_| {
                    StoreError::Corrupt {
                        position: result.first_position,
                        reason: format!("idempotency fingerprint is {} bytes, not 32", bytes.len()),
                    }
                })?),
            };
            known.keys.insert(
                row.get(0),
                IdempotencyEntry {
                    stream_id,
                    result,
                    fingerprint,
                },
            );
        }
        let mut stored_ids = BTreeMap::new();
        for row in &id_rows {
            stored_ids.insert(row.get(0), to_u64(row.get(1), "event position")?);
        }
        Ok((known, stored_ids))
    };
    let (mut known, mut stored_ids) = prefetch().map_err(Failed::before_deciding)?;

    // The clock is read under the lock, so recorded_at follows the lock (= position) order.
    let mut batch = Batch::begin(tip, clock.now_us());
    let mut outcomes = Vec::with_capacity(appends.len());
    for append in appends {
        let Append {
            stream,
            expected,
            events,
            key,
            after,
            refused,
        } = append;
        let refused = refused.or_else(|| {
            after
                .and_then(|(at, index)| crate::not_written_before(&stream, index, outcomes.get(at)))
        });
        if let Some(refused) = refused {
            outcomes.push(Err(refused));
            continue;
        }
        // A repeated key is answered by the planner before anything else (its events are
        // stored already, under the first call); otherwise no event id may be stored twice.
        let repeated =
            key.is_some_and(|k| known.keys.contains_key(&k.id) || batch.keys().contains_key(&k.id));
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
        return Ok((outcomes, Ended::Open));
    }
    match write_and_commit(client, statements, config, &batch).await {
        Ok(()) => Ok((outcomes, Ended::Committed)),
        Err((error, ended)) => Err(Failed {
            outcomes: Some(outcomes),
            error,
            ended,
        }),
    }
}

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

/// Round trip 2: the one write statement (events, keys, head, NOTIFY) and COMMIT, sent
/// together. If the write fails the transaction is aborted and the pipelined COMMIT rolls it
/// back, so "write failed, COMMIT answered" means nothing was stored. Only a failed COMMIT
/// leaves the outcome unknown.
async fn write_and_commit(
    client: &Client,
    statements: &Statements,
    config: &PostgresConfig,
    batch: &Batch,
) -> Result<(), (StoreError, Ended)> {
    let records = batch.records();
    let n = records.len();
    let not_sent = |e| (e, Ended::Open);
    let mut positions = Vec::with_capacity(n);
    let mut streams = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut recorded = Vec::with_capacity(n);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(n);
    let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(n);
    for record in records {
        positions.push(to_i64(record.position).map_err(not_sent)?);
        streams.push(record.stream_id.as_str());
        versions.push(to_i64(record.stream_version).map_err(not_sent)?);
        ids.push(record.event_id);
        types.push(record.event_type.as_str());
        recorded.push(record.recorded_at_us);
        hashes.push(&record.hash[..]);
        encoded.push(codec::encode_record(record).map_err(not_sent)?);
    }
    let mut key_ids = Vec::new();
    let mut key_streams = Vec::new();
    let mut key_first = Vec::new();
    let mut key_last = Vec::new();
    let mut key_versions = Vec::new();
    let mut key_recorded = Vec::new();
    let mut key_fingerprints: Vec<Option<&[u8]>> = Vec::new();
    for (key, entry) in batch.keys() {
        key_fingerprints.push(entry.fingerprint.as_ref().map(|f| &f[..]));
        key_ids.push(*key);
        key_streams.push(entry.stream_id.as_str());
        key_first.push(to_i64(entry.result.first_position).map_err(not_sent)?);
        key_last.push(to_i64(entry.result.last_position).map_err(not_sent)?);
        key_versions.push(to_i64(entry.result.stream_version).map_err(not_sent)?);
        key_recorded.push(entry.result.recorded_at_us);
    }
    let tip = batch.tip();
    let head_position = to_i64(tip.head).map_err(not_sent)?;
    let head_hash = &tip.last_hash[..];
    let channel = config.channel();
    let params: [&(dyn ToSql + Sync); 19] = [
        &positions,
        &streams,
        &versions,
        &ids,
        &types,
        &recorded,
        &hashes,
        &encoded,
        &key_ids,
        &key_streams,
        &key_first,
        &key_last,
        &key_versions,
        &key_recorded,
        &head_position,
        &head_hash,
        &tip.last_recorded_at_us,
        &channel,
        &key_fingerprints,
    ];
    let (written, committed) = futures_util::join!(
        client.execute(&statements.write_batch, &params),
        client.batch_execute("COMMIT"),
    );
    match (written, committed) {
        (Ok(1), Ok(())) => Ok(()),
        (_, Err(e)) => Err((
            StoreError::Backend(format!(
                "PostgreSQL: COMMIT of an append batch failed ({}); it may or may not be \
                 stored: retry with the same idempotency key, or read the stream to check",
                describe_error(&e)
            )),
            Ended::Committed,
        )),
        // The server refused the statement: the transaction was aborted and the pipelined
        // COMMIT rolled it back.
        (Err(e), Ok(())) if e.as_db_error().is_some() => Err((
            StoreError::Backend(format!(
                "PostgreSQL: could not write an append batch ({}); nothing of it was stored",
                describe_error(&e)
            )),
            Ended::Committed,
        )),
        // A client-side failure: most likely before the statement was sent (then the COMMIT
        // only released the lock), but the answer may also have been lost after it ran.
        (Err(e), Ok(())) => Err((
            StoreError::Backend(format!(
                "PostgreSQL: writing an append batch failed in the client ({}); it may or may \
                 not be stored: retry with the same idempotency key, or read the stream to check",
                describe_error(&e)
            )),
            Ended::Committed,
        )),
        (Ok(moved), Ok(())) => {
            // The head row is locked by this transaction since round trip 1, so it cannot
            // be missing; if it somehow were, the events are committed without their head.
            debug_assert_eq!(moved, 1);
            Err((
                StoreError::Backend(format!(
                    "PostgreSQL: the append batch moved {moved} head rows instead of 1; the \
                     head row of schema {} was changed by hand: stop writers and run verify",
                    config.schema
                )),
                Ended::Committed,
            ))
        }
    }
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
