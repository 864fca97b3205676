//! Append throughput and latency of the event log, next to raw sled doing the same writes.
//!
//! `cargo bench -p caseledger-store` (release). Prints one table; docs/benchmarks.md records a
//! run. Never a timed test: numbers are printed, not asserted.
//!
//! Fairness: for each writer count the engine runs first; then raw sled writes the very same
//! encoded record bytes, stream index and stream head entries into the same four trees, in
//! batches of the engine's observed mean group-commit size, one transaction and one flush per
//! batch (the engine's `Flush` durability). The difference is the engine's own cost: queueing,
//! deciding, encoding, hashing, waking callers.
//!
//! Columns are a list of [`Column`]s; the third is the same engine on PostgreSQL
//! (`CASELEDGER_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`, a schema of its
//! own dropped afterwards; synchronous_commit on, i.e. the server's WAL flush before each
//! acknowledgement). If no server answers, the column says so loudly and is left out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_store::sled_store::WriterStats;
use caseledger_store::{
    codec, Actor, Durability, EventStore, ExpectedVersion, NewEvent, SledOptions, SledStore,
    StreamId, SystemClock,
};
use sled::transaction::{ConflictableTransactionError, Transactional};
use uuid::Uuid;

/// (concurrent writers, appends per writer): sized so the whole bench takes well under a
/// minute on 2 cores.
const SCENARIOS: [(u32, u32); 3] = [(1, 1_000), (16, 300), (256, 200)];
/// Payload of each benchmark event, in bytes (a typical domain event).
const PAYLOAD_BYTES: usize = 200;

struct Measurement {
    events: u64,
    elapsed: Duration,
    batches: u64,
}

impl Measurement {
    fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
    fn micros_per_event(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e6 / self.events as f64
    }
}

fn event(writer: u32, n: u32) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "BenchmarkEvent".into(),
        schema_version: 1,
        effective_at_us: 1_711_929_600_000_000,
        actor: Actor {
            id: format!("officer-{writer}"),
            role: "COM".into(),
            organisation: "N07".into(),
        },
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: vec![(n % 251) as u8; PAYLOAD_BYTES],
    }
}

fn bench_dir() -> tempfile::TempDir {
    // Same filesystem as the build, not a tmpfs: the point is the disk.
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench dir")
}

/// The engine: `writers` tasks, each appending one event at a time to its own stream.
async fn engine(store: Arc<SledStore>, writers: u32, appends: u32) -> Measurement {
    let before: WriterStats = store.stats();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("BENCH-{w}")).unwrap();
            for n in 0..appends {
                store
                    .append(
                        &stream,
                        ExpectedVersion::Exact(u64::from(n)),
                        vec![event(w, n)],
                        None,
                    )
                    .await
                    .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let after = store.stats();
    Measurement {
        events: after.events - before.events,
        elapsed,
        batches: after.batches - before.batches,
    }
}

/// The same workload on PostgreSQL: one fresh schema per scenario.
async fn engine_postgres(url: &str, writers: u32, appends: u32) -> Result<Measurement, String> {
    use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
    let schema = format!("caseledger_bench_{}_{writers}", std::process::id());
    let config = PostgresConfig::from_url(url)
        .and_then(|c| c.with_schema(&schema))
        .map_err(|e| e.to_string())?;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("PostgreSQL not reachable at {}: {e}", config.describe()))?;
    tokio::spawn(connection);
    let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    client
        .batch_execute(&drop_schema)
        .await
        .map_err(|e| e.to_string())?;
    let store = PostgresStore::open(
        config,
        Arc::new(SystemClock),
        PostgresOptions {
            durability: Durability::Flush,
            ..PostgresOptions::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let store = Arc::new(store);
    let before = store.stats();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("BENCH-{w}")).unwrap();
            for n in 0..appends {
                store
                    .append(
                        &stream,
                        ExpectedVersion::Exact(u64::from(n)),
                        vec![event(w, n)],
                        None,
                    )
                    .await
                    .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let after = store.stats();
    let report = store.verify(1, None).await.map_err(|e| e.to_string())?;
    assert!(report.is_ok(), "{report:?}");
    drop(store);
    client
        .batch_execute(&drop_schema)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Measurement {
        events: after.events - before.events,
        elapsed,
        batches: after.batches - before.batches,
    })
}

/// Raw sled: the same bytes into the same trees, `batch` events per transaction + flush.
fn raw_sled(entries: &[Entry], batch: usize) -> Measurement {
    let dir = bench_dir();
    let db = sled::Config::new()
        .path(dir.path())
        .flush_every_ms(None)
        .open()
        .unwrap();
    let records = db.open_tree("records").unwrap();
    let index = db.open_tree("stream_index").unwrap();
    let heads = db.open_tree("stream_heads").unwrap();
    let keys = db.open_tree("idempotency").unwrap();
    let started = Instant::now();
    let mut batches = 0;
    for chunk in entries.chunks(batch.max(1)) {
        (&records, &index, &heads, &keys)
            .transaction(|(r, i, h, _k)| {
                for (position, record, index_key, stream_version) in chunk {
                    r.insert(position.as_slice(), record.as_slice())?;
                    i.insert(index_key.as_slice(), position.as_slice())?;
                    h.insert(&index_key[..index_key.len() - 9], stream_version.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .unwrap();
        db.flush().unwrap();
        batches += 1;
    }
    Measurement {
        events: entries.len() as u64,
        elapsed: started.elapsed(),
        batches,
    }
}

/// What the engine wrote, as raw key/value bytes for the raw-sled replay.
async fn written_entries(store: &SledStore) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let page = store.read_all(from, 4_096).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for r in page {
            let mut index_key = r.stream_id.as_bytes().to_vec();
            index_key.push(0);
            index_key.extend_from_slice(&r.stream_version.to_be_bytes());
            out.push((
                r.position.to_be_bytes().to_vec(),
                codec::encode_record(&r).unwrap(),
                index_key,
                r.stream_version.to_be_bytes().to_vec(),
            ));
        }
    }
    out
}

/// One event as raw sled writes it: (position key, record bytes, stream index key, version).
type Entry = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

/// One column of the table: a backend's measurement for a scenario.
struct Column {
    name: &'static str,
    measurement: Measurement,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("caseledger-store append benchmark: {PAYLOAD_BYTES}-byte payloads, durability Flush");
    println!(
        "{:>8} {:>8} | {:<14} {:>12} {:>10} {:>9} | {:>8}",
        "writers", "events", "backend", "events/s", "µs/event", "batch", "vs raw"
    );
    let pg_url = std::env::var("CASELEDGER_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut single_writer: Option<(f64, f64)> = None;
    for (writers, appends) in SCENARIOS {
        let dir = bench_dir();
        let store = Arc::new(
            SledStore::open(
                dir.path(),
                SledOptions {
                    durability: Durability::Flush,
                    clock: Arc::new(SystemClock),
                },
            )
            .unwrap(),
        );
        let engine_m = runtime.block_on(engine(Arc::clone(&store), writers, appends));
        let entries = runtime.block_on(written_entries(&store));
        drop(store);
        let mean_batch = (engine_m.events as f64 / engine_m.batches.max(1) as f64).round() as usize;
        let raw_m = raw_sled(&entries, mean_batch);
        let mut columns = vec![
            Column {
                name: "engine (sled)",
                measurement: engine_m,
            },
            Column {
                name: "raw sled",
                measurement: raw_m,
            },
        ];
        match runtime.block_on(engine_postgres(&pg_url, writers, appends)) {
            Ok(measurement) => columns.push(Column {
                name: "engine (pg)",
                measurement,
            }),
            Err(e) => println!("!!! PostgreSQL column LEFT OUT for {writers} writers: {e}"),
        }
        let raw_secs = columns[1].measurement.elapsed.as_secs_f64();
        for c in &columns {
            let m = &c.measurement;
            println!(
                "{:>8} {:>8} | {:<14} {:>12.0} {:>10.1} {:>9.1} | {:>7.2}×",
                writers,
                m.events,
                c.name,
                m.events_per_second(),
                m.micros_per_event(),
                m.events as f64 / m.batches.max(1) as f64,
                m.elapsed.as_secs_f64() / raw_secs
            );
        }
        if writers == 1 {
            single_writer = Some((
                columns[0].measurement.micros_per_event(),
                columns[1].measurement.micros_per_event(),
            ));
        }
    }
    if let Some((engine_us, raw_us)) = single_writer {
        println!(
            "single-writer append latency: {engine_us:.1} µs vs one raw sled insert+flush {raw_us:.1} µs ({:.2}×)",
            engine_us / raw_us
        );
    }
}
