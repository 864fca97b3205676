//! The group-commit writer: one task per process owns one connection and turns every batch of
//! queued appends into one transaction.
//!
//! Each transaction, in order:
//! 1. `SELECT … FROM head FOR UPDATE` — the single head row is the cross-process writer lock.
//!    A second writer (another process, or this one after a reconnect) blocks here until the
//!    holder commits or rolls back, and then reads the head *that commit left*.
//! 2. Under the lock: read the current versions of the batch's streams, the stored
//!    idempotency keys and event ids the batch mentions.
//! 3. [`plan_batch`] decides each request and assigns positions head+1… (pure code).
//! 4. Insert the events and keys, move the head row, `pg_notify` the new head.
//! 5. COMMIT. Positions, hashes and the head row become visible together, at once; the lock
//!    is released only after that, so no later position can become visible first.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::config::PostgresConfig;
use super::migrations::{backend, describe_error};
use super::plan::{plan_batch, Head, Known, Plan, Request};
use crate::{AppendResult, Clock, Durability, ExpectedVersion, NewEvent, StoreError, StreamId};

/// Most appends folded into one transaction. Bounds the transaction's size and the latency a
/// queued append can add to the ones before it.
pub const APPENDS_PER_BATCH_MAX: usize = 256;
/// Most events folded into one transaction (a batch stops growing at whichever limit first).
pub const EVENTS_PER_BATCH_MAX: usize = 8_192;

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
                "SELECT key, first_position, last_position, stream_version, recorded_at_us \
                 FROM {s}.idempotency WHERE key = ANY($1::uuid[])"
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
) {
    let mut connection: Option<WriteConnection> = None;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let mut events = batch[0].events.len();
        while batch.len() < APPENDS_PER_BATCH_MAX && events < EVENTS_PER_BATCH_MAX {
            match queue.try_recv() {
                Ok(next) => {
                    events += next.events.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        if connection.as_ref().map_or(true, |c| c.client.is_closed()) {
            connection = match WriteConnection::open(&config, durability).await {
                Ok(c) => Some(c),
                Err(e) => {
                    for request in batch {
                        let _ = request.reply.send(Err(e.clone()));
                    }
                    continue;
                }
            };
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let outcomes = match commit(conn, &config, clock.as_ref(), &batch).await {
            Ok(outcomes) => outcomes,
            Err(e) if batch.len() > 1 && !conn.client.is_closed() => {
                // One request broke the shared transaction (a database-side refusal the plan
                // did not foresee); give each its own so the others still land.
                let _ = e;
                let mut outcomes = Vec::with_capacity(batch.len());
                for request in &batch {
                    let single =
                        commit(conn, &config, clock.as_ref(), std::slice::from_ref(request))
                            .await
                            .map(|mut o| o.pop().unwrap_or(Err(StoreError::Closed)))
                            .unwrap_or_else(Err);
                    outcomes.push(single);
                }
                outcomes
            }
            Err(e) => vec![Err(e); batch.len()],
        };
        debug_assert_eq!(outcomes.len(), batch.len());
        let mut highest = 0;
        for (request, outcome) in batch.into_iter().zip(outcomes) {
            if let Ok(result) = &outcome {
                highest = highest.max(result.last_position);
            }
            // The caller may have given up waiting; the append stands regardless.
            let _ = request.reply.send(outcome);
        }
        super::raise_head(&head, highest);
    }
}

/// One transaction for `batch`. `Ok` means COMMIT succeeded (or nothing needed writing);
/// the vector holds each request's own outcome.
async fn commit(
    conn: &mut WriteConnection,
    config: &PostgresConfig,
    clock: &dyn Clock,
    batch: &[AppendRequest],
) -> Result<Vec<Result<AppendResult, StoreError>>, StoreError> {
    let mut stream_ids: Vec<&str> = batch.iter().map(|r| r.stream.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    let keys: Vec<Uuid> = batch.iter().filter_map(|r| r.key).collect();
    let event_ids: Vec<Uuid> = batch
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.event_id))
        .collect();

    let WriteConnection { client, statements } = conn;
    let tx = client
        .transaction()
        .await
        .map_err(backend("begin an append transaction"))?;
    match decide_and_write(
        &tx,
        statements,
        config,
        clock,
        batch,
        &stream_ids,
        &keys,
        &event_ids,
    )
    .await
    {
        Ok((outcomes, wrote)) => {
            if wrote {
                tx.commit().await.map_err(|e| {
                    StoreError::Backend(format!(
                        "PostgreSQL: COMMIT of an append batch failed ({}); it may or may not be \
                         stored: retry with the same idempotency key, or read the stream to check",
                        describe_error(&e)
                    ))
                })?;
            } else {
                // Nothing to write (all refused or deduplicated): just release the lock.
                tx.rollback()
                    .await
                    .map_err(backend("end a read-only append"))?;
            }
            Ok(outcomes)
        }
        Err(e) => {
            // Release the head lock now, not whenever the dropped transaction's ROLLBACK
            // gets sent: other processes are waiting for it.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Everything between BEGIN and COMMIT. Returns each request's outcome and whether any row was
/// written (if not, the caller rolls back instead of committing).
#[allow(clippy::too_many_arguments)]
async fn decide_and_write(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &Statements,
    config: &PostgresConfig,
    clock: &dyn Clock,
    batch: &[AppendRequest],
    stream_ids: &Vec<&str>,
    keys: &Vec<Uuid>,
    event_ids: &Vec<Uuid>,
) -> Result<(Vec<Result<AppendResult, StoreError>>, bool), StoreError> {
    let head_row = tx
        .query_one(&statements.lock_head, &[])
        .await
        .map_err(backend("lock the head row"))?;
    let head = Head {
        position: to_u64(head_row.get::<_, i64>(0), "head position")?,
        hash: to_hash(head_row.get::<_, &[u8]>(1))?,
        recorded_at_us: head_row.get(2),
    };
    // Three independent reads, pipelined on the one connection.
    let (p_streams, p_keys, p_ids): (
        [&(dyn ToSql + Sync); 1],
        [&(dyn ToSql + Sync); 1],
        [&(dyn ToSql + Sync); 1],
    ) = ([stream_ids], [keys], [event_ids]);
    let (version_rows, key_rows, id_rows) = futures_util::try_join!(
        tx.query(&statements.stream_versions, &p_streams),
        tx.query(&statements.stored_keys, &p_keys),
        tx.query(&statements.stored_event_ids, &p_ids),
    )
    .map_err(backend("read stream versions and idempotency keys"))?;
    let mut known = Known::default();
    for row in &version_rows {
        known
            .stream_versions
            .insert(row.get(0), to_u64(row.get(1), "stream version")?);
    }
    for row in &key_rows {
        known.keys.insert(
            row.get(0),
            AppendResult {
                first_position: to_u64(row.get(1), "idempotency first position")?,
                last_position: to_u64(row.get(2), "idempotency last position")?,
                stream_version: to_u64(row.get(3), "idempotency stream version")?,
                recorded_at_us: row.get(4),
                deduplicated: false,
            },
        );
    }
    for row in &id_rows {
        known
            .event_ids
            .insert(row.get(0), to_u64(row.get(1), "event position")?);
    }

    // The clock is read under the lock, so recorded_at follows the lock (= position) order.
    let now_us = clock.now_us();
    let requests: Vec<Request<'_>> = batch
        .iter()
        .map(|r| Request {
            stream: &r.stream,
            expected: r.expected,
            events: &r.events,
            key: r.key,
        })
        .collect();
    let plan = plan_batch(head, &known, now_us, &requests);
    if plan.records.is_empty() {
        return Ok((plan.outcomes, false));
    }
    write_plan(tx, statements, config, &plan).await?;
    Ok((plan.outcomes, true))
}

async fn write_plan(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &Statements,
    config: &PostgresConfig,
    plan: &Plan,
) -> Result<(), StoreError> {
    let n = plan.records.len();
    let mut positions = Vec::with_capacity(n);
    let mut streams = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut recorded = Vec::with_capacity(n);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(n);
    let mut bytes: Vec<&[u8]> = Vec::with_capacity(n);
    for (record, encoded) in &plan.records {
        positions.push(to_i64(record.position)?);
        streams.push(record.stream_id.as_str());
        versions.push(to_i64(record.stream_version)?);
        ids.push(record.event_id);
        types.push(record.event_type.as_str());
        recorded.push(record.recorded_at_us);
        hashes.push(&record.hash[..]);
        bytes.push(encoded.as_slice());
    }
    let mut key_ids = Vec::new();
    let mut key_streams = Vec::new();
    let mut key_first = Vec::new();
    let mut key_last = Vec::new();
    let mut key_versions = Vec::new();
    let mut key_recorded = Vec::new();
    for (key, stream, result) in &plan.keys {
        key_ids.push(*key);
        key_streams.push(stream.as_str());
        key_first.push(to_i64(result.first_position)?);
        key_last.push(to_i64(result.last_position)?);
        key_versions.push(to_i64(result.stream_version)?);
        key_recorded.push(result.recorded_at_us);
    }
    let head_position = to_i64(plan.head.position)?;
    let head_hash = &plan.head.hash[..];
    let channel = config.channel();
    let event_params: [&(dyn ToSql + Sync); 8] = [
        &positions, &streams, &versions, &ids, &types, &recorded, &hashes, &bytes,
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
        &plan.head.recorded_at_us,
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
