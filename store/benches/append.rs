//! Append throughput and latency of the event log, next to raw sled doing the same writes.
//!
//! `cargo bench -p caseledger-store` (release). Prints one table; docs/benchmarks.md records a
//! run. Never a timed test: numbers are printed, not asserted.
//!
//! Fairness: for each writer count the engine runs first; then raw sled writes the very same
//! records the engine wrote, one key per record and one per stream version (`r`‖position,
//! `s`‖stream‖0‖version in the one `log` tree: layout 2's entries, the simplest way to store
//! them; the engine's layout 3 also seals records into blocks and rewrites index chunks), in
//! batches of the engine's observed mean group-commit size, one `apply_batch` and one flush
//! per batch (the engine's `Flush` durability). The difference is the engine's own cost: queueing, deciding,
//! encoding, hashing, waking callers. A second raw column writes the same entries the way
//! layout 1 did (four trees, one multi-tree transaction per batch) to show what the layout
//! change gained.
//!
//! The fourth column is the same engine on PostgreSQL (`PostgresStore`; server from
//! `CASELEDGER_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`, trust auth): same
//! writers, same events, `Flush` durability, which on PostgreSQL is `synchronous_commit = on`
//! (the server's WAL flush before each acknowledgement). Each PostgreSQL round uses a schema of
//! its own, dropped before and after; the chain is verified after the timed part. It runs in
//! the first [`PG_ROUNDS`] rounds only (a durable PostgreSQL commit costs milliseconds here,
//! five rounds would take minutes); its "vs raw" is paired with the raw sled run of the same
//! round. Its `cpu µs/ev` is this (client) process only, not the server's. If no server
//! answers, the column is left out and the table says so loudly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger_store::sled::{WriterStats, KEY_PREFIX_RECORD, KEY_PREFIX_STREAM_INDEX, TREE_LOG};
use caseledger_store::{
    codec, Actor, Durability, EventStore, ExpectedVersion, NewEvent, SledOptions, SledStore,
    StreamId, SystemClock,
};
use sled::transaction::{ConflictableTransactionError, Transactional};
use uuid::Uuid;

/// (concurrent writers, appends per writer): sized so the whole bench takes well under a
/// minute on 2 cores.
const SCENARIOS: [(u32, u32); 3] = [(1, 1_000), (16, 300), (256, 200)];
/// Rounds per scenario (engine, then both raw replays of what it wrote).
const ROUNDS: u32 = 5;
/// Rounds (the first ones) that also run the PostgreSQL column: 3 gives a true median and keeps
/// the PostgreSQL part near a minute when one durable commit costs ~3 ms.
const PG_ROUNDS: u32 = 3;
const _: () = assert!(PG_ROUNDS > 0 && PG_ROUNDS <= ROUNDS);
/// Server for the PostgreSQL column when `CASELEDGER_PG_URL` is not set.
const PG_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Columns of the table: engine (sled), raw sled 1 tree, raw sled 4 trees, engine (PostgreSQL).
const COLUMNS: usize = 4;
/// Index of the PostgreSQL column in [`COLUMNS`].
const COLUMN_PG: usize = 3;
/// Payload of each benchmark event, in bytes (a typical domain event).
const PAYLOAD_BYTES: usize = 200;

struct Measurement {
    events: u64,
    elapsed: Duration,
    batches: u64,
    /// Batches committed inline by the caller (engine only).
    inline_batches: u64,
    /// CPU time of the whole process (all threads, user + system) during the run.
    cpu: Duration,
}

impl Measurement {
    fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
    fn micros_per_event(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e6 / self.events as f64
    }
    fn cpu_micros_per_event(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.events as f64
    }
}

/// CPU time used by this process so far (user + system, all threads), from
/// `/proc/self/stat` in clock ticks of 10 ms; zero where that file does not exist. Shows
/// whether a backend is slower because it does more work or because it waits.
fn process_cpu() -> Duration {
    const TICKS_PER_SECOND: u64 = 100;
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let rest = stat.get(stat.rfind(')')? + 2..)?.to_owned();
            let fields: Vec<&str> = rest.split(' ').collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 1_000 / TICKS_PER_SECOND)
}

/// A typical event. Ids are derived from (writer, n) rather than drawn at random: a random
/// v4 UUID costs a `getrandom` system call each, and three per event would be charged to the
/// store, which only copies them.
fn event(writer: u32, n: u32) -> NewEvent {
    let id = |kind: u128| Uuid::from_u128(kind << 96 | u128::from(writer) << 32 | u128::from(n));
    NewEvent {
        event_id: id(1),
        event_type: "BenchmarkEvent".into(),
        schema_version: 1,
        effective_at_us: 1_711_929_600_000_000,
        actor: Actor {
            id: format!("officer-{writer}"),
            role: "COM".into(),
            organisation: "N07".into(),
        },
        command_id: id(2),
        correlation_id: id(3),
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: vec![(n % 251) as u8; PAYLOAD_BYTES],
    }
}

fn bench_dir() -> tempfile::TempDir {
    // Same filesystem as the build, not a tmpfs: the point is the disk.
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench dir")
}

/// `writers` tasks, each appending one event at a time to its own stream, on any backend;
/// returns (wall time, process CPU time), or the first refused append (so the PostgreSQL
/// column can still drop its schema).
async fn append_concurrently<S: EventStore + 'static>(
    store: Arc<S>,
    writers: u32,
    appends: u32,
) -> Result<(Duration, Duration), String> {
    let cpu_before = process_cpu();
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
                    .map_err(|e| format!("append {n} of writer {w}: {e}"))?;
            }
            Ok::<(), String>(())
        }));
    }
    let mut first_error = None;
    for t in tasks {
        let outcome = t.await.map_err(|e| e.to_string()).and_then(|r| r);
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok((started.elapsed(), process_cpu().saturating_sub(cpu_before))),
    }
}

fn measurement(
    before: WriterStats,
    after: WriterStats,
    (elapsed, cpu): (Duration, Duration),
) -> Measurement {
    Measurement {
        events: after.events - before.events,
        elapsed,
        batches: after.batches - before.batches,
        inline_batches: after.inline_batches - before.inline_batches,
        cpu,
    }
}

/// The engine on sled.
async fn engine(store: Arc<SledStore>, writers: u32, appends: u32) -> Measurement {
    let before = store.stats();
    let timing = append_concurrently(Arc::clone(&store), writers, appends)
        .await
        .expect("sled append");
    measurement(before, store.stats(), timing)
}

/// The engine on PostgreSQL, in a fresh schema `schema` that is dropped before and after (also
/// when the run fails part-way, as far as the server still answers).
async fn engine_postgres(
    url: &str,
    schema: &str,
    writers: u32,
    appends: u32,
) -> Result<Measurement, String> {
    let config = PostgresConfig::from_url(url)
        .and_then(|c| c.with_schema(schema))
        .map_err(|e| e.to_string())?;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("PostgreSQL not reachable at {}: {e}", config.describe()))?;
    let connection = tokio::spawn(connection);
    // `schema` passed `with_schema`'s validation (an identifier), so it is safe to splice.
    let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    client
        .batch_execute(&drop_schema)
        .await
        .map_err(|e| e.to_string())?;
    let run = async {
        let options = PostgresOptions {
            durability: Durability::Flush,
            ..PostgresOptions::default()
        };
        let store = PostgresStore::open(config, Arc::new(SystemClock), options)
            .await
            .map_err(|e| e.to_string())?;
        let store = Arc::new(store);
        let before = store.stats();
        let timing = append_concurrently(Arc::clone(&store), writers, appends).await?;
        let m = measurement(before, store.stats(), timing);
        let report = store.verify(1, None).await.map_err(|e| e.to_string())?;
        if !report.is_ok() || report.records_checked != m.events {
            return Err(format!(
                "PostgreSQL chain not intact after the run: {report:?}"
            ));
        }
        Ok(m)
    };
    let result = run.await;
    let dropped = client.batch_execute(&drop_schema).await;
    drop(client);
    let _ = connection.await;
    match (result, dropped) {
        (Ok(m), Ok(())) => Ok(m),
        (Ok(_), Err(e)) => Err(format!("could not drop schema {schema}: {e}")),
        (Err(e), _) => Err(e),
    }
}

fn prefixed(prefix: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(prefix);
    out.extend_from_slice(key);
    out
}

/// Raw sled as the engine writes (layout 2): the same keys and bytes into the one `log` tree,
/// `batch` events per `apply_batch` + flush.
fn raw_sled_one_tree(entries: &[Entry], batch: usize) -> Measurement {
    let dir = bench_dir();
    let db = sled::Config::new()
        .path(dir.path())
        .flush_every_ms(None)
        .open()
        .unwrap();
    let log = db.open_tree(TREE_LOG).unwrap();
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut batches = 0;
    for chunk in entries.chunks(batch.max(1)) {
        let mut writes = sled::Batch::default();
        for (position, record, index_key, _stream_version) in chunk {
            writes.insert(prefixed(KEY_PREFIX_RECORD, position), record.as_slice());
            writes.insert(
                prefixed(KEY_PREFIX_STREAM_INDEX, index_key),
                position.as_slice(),
            );
        }
        log.apply_batch(writes).unwrap();
        db.flush().unwrap();
        batches += 1;
    }
    Measurement {
        events: entries.len() as u64,
        elapsed: started.elapsed(),
        batches,
        inline_batches: 0,
        cpu: process_cpu().saturating_sub(cpu_before),
    }
}

/// Raw sled as layout 1 wrote: the same bytes into four trees, `batch` events per
/// multi-tree transaction + flush.
fn raw_sled_four_trees(entries: &[Entry], batch: usize) -> Measurement {
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
    let cpu_before = process_cpu();
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
        inline_batches: 0,
        cpu: process_cpu().saturating_sub(cpu_before),
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

/// Median of paired ratios (engine time / raw time of the same round).
fn median(mut ratios: Vec<f64>) -> f64 {
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
}

fn keep_best(best: &mut Option<Measurement>, m: Measurement) {
    if best.as_ref().is_none_or(|b| m.elapsed < b.elapsed) {
        *best = Some(m);
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pg_url = std::env::var("CASELEDGER_PG_URL").unwrap_or_else(|_| PG_URL_DEFAULT.to_owned());
    println!(
        "caseledger-store append benchmark: {PAYLOAD_BYTES}-byte payloads, durability Flush \
         (sled flush / PostgreSQL synchronous_commit on), {ROUNDS} rounds ({PG_ROUNDS} for \
         PostgreSQL): best round per column; \"vs raw\" = median over rounds of (time / raw \
         1-tree time of the same round); pg cpu = client process only"
    );
    println!(
        "{:>8} {:>8} | {:<22} {:>10} {:>9} {:>9} {:>7} {:>7} | {:>7}",
        "writers",
        "events",
        "backend",
        "events/s",
        "µs/event",
        "cpu µs/ev",
        "batch",
        "inline",
        "vs raw"
    );
    let names: [&str; COLUMNS] = [
        "engine (sled, 1 tree)",
        "raw sled 1 tree batch",
        "raw sled 4 trees tx",
        "engine (PostgreSQL)",
    ];
    let mut pg_failures: Vec<String> = Vec::new();
    let mut single_writer: Option<(f64, f64, f64)> = None;
    for (writers, appends) in SCENARIOS {
        // The machine is shared and its load drifts, so each round runs the engine and then
        // replays exactly what it wrote (same bytes, same batch size) on raw sled, back to
        // back, then (first rounds) the engine on PostgreSQL; ratios are taken within a round.
        let mut best: [Option<Measurement>; COLUMNS] = [None, None, None, None];
        let mut ratios: [Vec<f64>; COLUMNS] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        for round in 0..ROUNDS {
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
            let mean_batch =
                (engine_m.events as f64 / engine_m.batches.max(1) as f64).round() as usize;
            let raw_m = raw_sled_one_tree(&entries, mean_batch);
            let raw_v1_m = raw_sled_four_trees(&entries, mean_batch);
            let raw_secs = raw_m.elapsed.as_secs_f64();
            let pg_m = if round < PG_ROUNDS {
                let schema = format!("caseledger_bench_{}_{writers}_{round}", std::process::id());
                match runtime.block_on(engine_postgres(&pg_url, &schema, writers, appends)) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        pg_failures.push(format!("{writers} writers, round {round}: {e}"));
                        None
                    }
                }
            } else {
                None
            };
            let columns = [Some(engine_m), Some(raw_m), Some(raw_v1_m), pg_m];
            for (i, m) in columns.into_iter().enumerate() {
                if let Some(m) = m {
                    ratios[i].push(m.elapsed.as_secs_f64() / raw_secs);
                    keep_best(&mut best[i], m);
                }
            }
        }
        let mut medians = [f64::NAN; COLUMNS];
        for (i, name) in names.iter().enumerate() {
            let Some(m) = best[i].as_ref() else {
                assert_eq!(i, COLUMN_PG, "only the PostgreSQL column may be missing");
                println!("{writers:>8} {:>8} | {name:<22} LEFT OUT (see below)", "-");
                continue;
            };
            medians[i] = median(ratios[i].clone());
            println!(
                "{:>8} {:>8} | {:<22} {:>10.0} {:>9.1} {:>9.1} {:>7.1} {:>7} | {:>6.2}×",
                writers,
                m.events,
                name,
                m.events_per_second(),
                m.micros_per_event(),
                m.cpu_micros_per_event(),
                m.events as f64 / m.batches.max(1) as f64,
                m.inline_batches,
                medians[i]
            );
        }
        if writers == 1 {
            single_writer = Some((
                best[0].as_ref().expect("ROUNDS > 0").micros_per_event(),
                best[1].as_ref().expect("ROUNDS > 0").micros_per_event(),
                medians[0],
            ));
        }
    }
    if let Some((engine_us, raw_us, ratio)) = single_writer {
        println!(
            "single-writer append latency: best {engine_us:.1} µs vs one raw sled batch+flush best \
             {raw_us:.1} µs; median paired ratio {ratio:.2}×"
        );
    }
    for failure in &pg_failures {
        println!("!!! PostgreSQL column LEFT OUT for {failure}");
    }
}
