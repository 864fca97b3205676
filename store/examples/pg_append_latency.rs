//! Single-writer append latency on PostgreSQL, split into what the server's WAL flush costs
//! and what the rest costs: the same appends with `Flush` (synchronous_commit on) and with
//! `Buffered` (off). Prints percentiles; asserts nothing (numbers are for docs/benchmarks.md).
//!
//! `cargo run -p caseledger-store --example pg_append_latency [appends]`
//! (`CASELEDGER_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`; a schema of its
//! own, dropped afterwards).

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger_store::{
    Actor, Durability, EventStore, ExpectedVersion, NewEvent, StreamId, SystemClock,
};
use uuid::Uuid;

/// Most appends one run may ask for: the probe is for a quick look, not a soak test.
const APPENDS_MAX: u32 = 10_000;

fn event(n: u32) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "LatencyProbe".into(),
        schema_version: 1,
        effective_at_us: 1_711_929_600_000_000,
        actor: Actor {
            id: "officer-1".into(),
            role: "COM".into(),
            organisation: "N07".into(),
        },
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: vec![(n % 251) as u8; 200],
    }
}

async fn drop_schema(url: &str, schema: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL reachable");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop schema");
}

async fn run(url: &str, durability: Durability, appends: u32) -> Vec<Duration> {
    let schema = format!("caseledger_latency_{}", std::process::id());
    drop_schema(url, &schema).await;
    let config = PostgresConfig::from_url(url)
        .and_then(|c| c.with_schema(&schema))
        .expect("URL");
    let store = PostgresStore::open(
        config,
        Arc::new(SystemClock),
        PostgresOptions {
            durability,
            ..PostgresOptions::default()
        },
    )
    .await
    .expect("open");
    let stream = StreamId::new("LATENCY-1").unwrap();
    let mut samples = Vec::with_capacity(appends as usize);
    for n in 0..appends {
        let started = Instant::now();
        store
            .append(
                &stream,
                ExpectedVersion::Exact(u64::from(n)),
                vec![event(n)],
                None,
            )
            .await
            .expect("append");
        samples.push(started.elapsed());
    }
    drop(store);
    drop_schema(url, &schema).await;
    samples.sort();
    samples
}

fn print(name: &str, samples: &[Duration]) {
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e3;
    println!(
        "{name:<34} mean {mean:6.2} ms  p50 {:6.2}  p90 {:6.2}  p99 {:6.2}  (n = {})",
        at(0.5),
        at(0.9),
        at(0.99),
        samples.len()
    );
}

fn main() {
    let appends: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300)
        .clamp(10, APPENDS_MAX);
    let url = std::env::var("CASELEDGER_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let flush = run(&url, Durability::Flush, appends).await;
        let buffered = run(&url, Durability::Buffered, appends).await;
        print("Flush (synchronous_commit on)", &flush);
        print("Buffered (synchronous_commit off)", &buffered);
    });
}
