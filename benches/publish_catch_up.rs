//! Catching up the NATS JetStream relay: `caseledger publish` (the release binary, a child
//! process) from position 0 of a sled log of `PUBLISH_BENCH_EVENTS` events (default 500,000)
//! to a fresh stream on the NATS server at `PUBLISH_BENCH_NATS` (default
//! nats://127.0.0.1:4222), in `PUBLISH_BENCH_ROUNDS` rounds (default 3). Target: ≥ 20,000
//! events/s (docs/benchmarks.md "Publishing domain events").
//!
//! The log is a synthetic cohort (`projections::synthetic::Cohort`, every event from the
//! domain's `decide`, 100 events a case) appended in `Buffered` mode to a temporary directory.
//! Each round publishes the whole log under a consumer name of its own (so it starts at 0),
//! checks the stream holds exactly the messages the relay reported, and deletes the stream.
//! Run with `cargo bench --bench publish_catch_up`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;
use support::env_or;

use caseledger::projections::synthetic::Cohort;
use caseledger::store::{
    Durability, EventStore, ExpectedVersion, NewEvent, SledOptions, SledStore, StreamId,
};

const EVENTS_PER_CASE: u64 = 100;
/// Appends in flight while the log is written (distinct cases each round).
const APPENDS_IN_FLIGHT: u32 = 256;
const TARGET_EVENTS_PER_S: f64 = 20_000.0;

/// Write `events` domain events of a synthetic cohort to a new sled log at `path`.
fn build_log(rt: &tokio::runtime::Runtime, path: &Path, events: u64) {
    let _context = rt.enter();
    let options = SledOptions {
        durability: Durability::Buffered,
        ..SledOptions::default()
    };
    let store = std::sync::Arc::new(SledStore::open(path, options).expect("open the log"));
    let cases = u32::try_from(events.div_ceil(EVENTS_PER_CASE)).expect("cases");
    let mut cohort = Cohort::new(2026, 0, cases).expect("cohort");
    let (mut written, mut id, mut next_case) = (0u64, 0u128, 0u32);
    while written < events {
        let mut round = tokio::task::JoinSet::new();
        for _ in 0..APPENDS_IN_FLIGHT.min(cases) {
            let (crn, step) = cohort.step(next_case).expect("step");
            next_case = (next_case + 1) % cases;
            let take = usize::try_from((events - written).min(step.len() as u64)).unwrap();
            if take == 0 {
                continue;
            }
            written += take as u64;
            let batch: Vec<NewEvent> = step[..take]
                .iter()
                .map(|e| {
                    id += 1;
                    // A throwaway data key: these records are written around the engine.
                    let key = caseledger::store::keystore::SubjectKey::Live(
                        caseledger::store::crypto::DataKey::generate(),
                    );
                    let encoded =
                        caseledger::payload::encode_sealed(e, crn.as_str(), &key).expect("encode");
                    NewEvent {
                        event_id: uuid::Uuid::from_u128(id),
                        event_type: encoded.event_type.to_owned(),
                        schema_version: encoded.schema_version,
                        effective_at_us: 0,
                        actor: Default::default(),
                        command_id: uuid::Uuid::from_u128(id | 1 << 64),
                        correlation_id: uuid::Uuid::nil(),
                        causation_id: uuid::Uuid::nil(),
                        ruleset_id: String::new(),
                        payload: encoded.bytes,
                    }
                })
                .collect();
            let store = store.clone();
            let stream = StreamId::new(crn).expect("stream");
            round.spawn(async move {
                store
                    .append(&stream, ExpectedVersion::Any, batch, None)
                    .await
                    .expect("append")
            });
        }
        rt.block_on(async {
            while let Some(r) = round.join_next().await {
                r.expect("append task");
            }
        });
    }
    rt.block_on(store.flush()).expect("flush");
    assert_eq!(rt.block_on(store.head()).expect("head"), events);
}

/// Messages in `stream`, then delete it.
async fn count_and_delete(url: &str, stream: &str) -> u64 {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
    let messages = js
        .get_stream(stream)
        .await
        .expect("the relay created the stream")
        .info()
        .await
        .expect("stream info")
        .state
        .messages;
    js.delete_stream(stream).await.expect("delete the stream");
    messages
}

fn main() {
    let events: u64 = env_or("PUBLISH_BENCH_EVENTS", 500_000);
    let rounds: u32 = env_or("PUBLISH_BENCH_ROUNDS", 3);
    let url = std::env::var("PUBLISH_BENCH_NATS").unwrap_or("nats://127.0.0.1:4222".into());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let started = Instant::now();
    build_log(&rt, &data, events);
    println!(
        "log: {events} events in {} cases, written in {:.1} s",
        events.div_ceil(EVENTS_PER_CASE),
        started.elapsed().as_secs_f64()
    );
    println!("round |  published | withheld |  seconds |  events/s | log records/s");
    let mut rates = Vec::new();
    for round in 1..=rounds {
        let tag = format!("{}{round}", std::process::id());
        let stream = format!("CL_BENCH_{tag}");
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .arg("--data")
            .arg(&data)
            .args(["publish", "--nats", &url, "--stream", &stream])
            .args(["--subject-prefix", &format!("clbench{tag}")])
            .args(["--consumer", &format!("bench.{tag}")])
            .output()
            .expect("run caseledger publish");
        let seconds = started.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // "published N domain events (F already …, D duplicates …, W events not publishable); …"
        let number = |after: &str| -> u64 {
            let rest = &stdout[stdout.find(after).expect(after) + after.len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .and_then(|s| s.parse().ok())
                .expect("a number")
        };
        let published = number("published ");
        let withheld = number("duplicates dropped by the broker, ");
        let stored = rt.block_on(count_and_delete(&url, &stream));
        assert_eq!(
            stored, published,
            "the stream holds what the relay reported"
        );
        let rate = published as f64 / seconds;
        println!(
            "{round:>5} | {published:>10} | {withheld:>8} | {seconds:>8.2} | {rate:>9.0} | {:>13.0}",
            events as f64 / seconds
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "median {median:.0} events/s published (target ≥ {TARGET_EVENTS_PER_S:.0}): {}",
        if median >= TARGET_EVENTS_PER_S {
            "met"
        } else {
            "NOT met"
        }
    );
}
