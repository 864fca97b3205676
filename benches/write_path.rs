//! The sled write path, row by row, in one run (so the rows are read as ratios on one
//! machine at one load):
//!
//! 1. `caseledger import` (the release binary, durable) of `generate --people P --seed 11`:
//!    commands/s and the process's peak RSS;
//! 2. `caseledger import-log` of that store's export: records/s, and import's time over it;
//!    then raw sled writing the very keys and values the import left in its store, in as many
//!    batches as the export has recorded instants (one group commit each), one `apply_batch`
//!    per batch and one `flush`: what sled alone costs for what import-log writes;
//! 3. the next command on a case of 20,000 events against one on a case of 10 events (the
//!    library, warm: the case was loaded once), mean of `COMMANDS` commands each;
//! 4. one command on a warm store (`Engine::execute_json`, durable) against one raw durable
//!    sled append of one event.
//!
//! Run with `cargo bench --bench write_path`; `PEOPLE=3000 COMMANDS=200` are the defaults.
//!
//! Numbers and how to read them: docs/benchmarks.md, "Write path".

mod support;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;
use support::{caseledger, env_or};

use caseledger::projections::synthetic::{append_case, long_case};
use caseledger::store::{
    Actor, Durability, EventStore, ExpectedVersion, NewEvent, SledOptions, SledStore, StreamId,
    SystemClock,
};
use caseledger::{Engine, EngineConfig};
use serde_json::json;
use uuid::Uuid;

const LONG_CRN: &str = "L100001";
const SHORT_CRN: &str = "L100002";

fn lines_of(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).expect("read");
    text.lines().count() as u64
}

/// The number of distinct `recorded_at` values in an export: import-log's group commits.
fn recorded_instants(export: &Path) -> usize {
    let text = std::fs::read_to_string(export).expect("read export");
    let instants: std::collections::HashSet<String> = text
        .lines()
        .skip(1)
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("record line");
            value["recorded_at"]
                .as_str()
                .expect("recorded_at")
                .to_owned()
        })
        .collect();
    instants.len()
}

/// Seconds for raw sled to write the entries of the sled store at `restored` into a fresh
/// database at `raw`, in `batches` batches of one `apply_batch` each and one `flush` at the end
/// (import-log writes buffered and flushes once, as nothing is acknowledged before). Records and
/// blocks go in position order, a slice per batch, as the writer appends them; stream index
/// chunks and idempotency entries are spread over the batches by a hash of their key, as a
/// group commit touches many streams and random command ids.
fn raw_sled_seconds(restored: &Path, raw: &Path, batches: usize) -> f64 {
    let source = sled::open(restored).expect("open the restored store with sled");
    let log = source.open_tree("log").expect("log tree");
    let mut by_position: Vec<(sled::IVec, sled::IVec)> = Vec::new();
    let mut scattered: Vec<Vec<(sled::IVec, sled::IVec)>> = vec![Vec::new(); batches];
    for entry in log.iter() {
        let (key, value) = entry.expect("entry");
        match key.first() {
            Some(b'r' | b'b') => by_position.push((key, value)),
            _ => {
                let at = key
                    .iter()
                    .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(*b));
                scattered[(at % batches as u64) as usize].push((key, value));
            }
        }
    }
    drop(log);
    drop(source);
    let per_batch = by_position.len().div_ceil(batches).max(1);
    let mut positions = by_position.chunks(per_batch);
    let prepared: Vec<sled::Batch> = scattered
        .into_iter()
        .map(|others| {
            let mut batch = sled::Batch::default();
            for (key, value) in positions.next().into_iter().flatten().chain(&others) {
                batch.insert(key.clone(), value.clone());
            }
            batch
        })
        .collect();
    let target = sled::Config::new()
        .path(raw)
        .flush_every_ms(None)
        .open()
        .expect("open raw sled");
    let tree = target.open_tree("log").expect("raw tree");
    let started = Instant::now();
    for batch in prepared {
        tree.apply_batch(batch).expect("apply_batch");
    }
    target.flush().expect("flush");
    started.elapsed().as_secs_f64()
}

/// Rows 1 and 2: (commands, import s, import peak MiB, records, import-log s).
fn import_rows(work: &Path, people: u64) -> (u64, f64, f64, u64, f64) {
    let commands = work.join("commands.jsonl");
    let file = std::fs::File::create(&commands).expect("create");
    let status = caseledger(&work.join("unused"))
        .args(["generate", "--people", &people.to_string(), "--seed", "11"])
        .stdout(file)
        .status()
        .expect("generate");
    assert!(status.success());
    let source = work.join("source");
    let (import_mib, import_s) = support::peak_rss(
        caseledger(&source)
            .arg("import")
            .arg(&commands)
            .stdout(Stdio::null()),
    );
    let export = work.join("export.jsonl");
    let file = std::fs::File::create(&export).expect("create");
    let status = caseledger(&source)
        .arg("export")
        .stdout(file)
        .status()
        .expect("export");
    assert!(status.success());
    let (_, restore_s) = support::peak_rss(
        caseledger(&work.join("restored"))
            .arg("import-log")
            .arg(&export)
            .stdout(Stdio::null()),
    );
    (
        lines_of(&commands),
        import_s,
        import_mib,
        lines_of(&export),
        restore_s,
    )
}

fn schedule(crn: &str, n: u32) -> String {
    json!({
        "command_id": Uuid::new_v4().to_string(),
        "crn": crn,
        "actor": {"id": "po-1", "role": "probation_officer", "organisation": "nps"},
        "effective_at": "2024-12-01",
        "command": {"type": "schedule_appointment", "on": "2024-12-01", "sentence_id": 1,
                    "kind": "face_to_face", "initial": n == 0},
    })
    .to_string()
}

/// Mean seconds per command of `count` commands on `crn`, after one that loads the case.
async fn per_command(engine: &Engine, crn: &str, count: u32) -> f64 {
    engine
        .execute_json(&schedule(crn, 1))
        .await
        .expect("the first command on the case");
    let started = Instant::now();
    for n in 0..count {
        engine
            .execute_json(&schedule(crn, n + 2))
            .await
            .unwrap_or_else(|e| panic!("{crn}: {e}"));
    }
    started.elapsed().as_secs_f64() / f64::from(count)
}

/// Mean seconds of one durable append of one event, sequentially.
async fn raw_append(store: &SledStore, count: u32) -> f64 {
    let stream = StreamId::new("bench-raw").expect("stream");
    let started = Instant::now();
    for n in 0..count {
        let event = NewEvent {
            event_id: Uuid::new_v4(),
            event_type: "BenchEvent".into(),
            schema_version: 1,
            effective_at_us: 0,
            actor: Actor {
                id: "bench".into(),
                role: "operator".into(),
                organisation: "bench".into(),
            },
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload: n.to_be_bytes().to_vec(),
        };
        store
            .append(&stream, ExpectedVersion::Any, vec![event], None)
            .await
            .expect("append");
    }
    started.elapsed().as_secs_f64() / f64::from(count)
}

/// Rows 3 and 4: (long case s, short case s, engine command s, raw append s).
fn command_rows(work: &Path, count: u32) -> (f64, f64, f64, f64) {
    let data = work.join("cases");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        {
            let options = SledOptions {
                durability: Durability::Buffered,
                clock: Arc::new(SystemClock),
            };
            let store = SledStore::open(&data, options).expect("open");
            // 4 + 2 × 9,998 = 20,000 events; 4 + 2 × 3 = 10 events.
            for (crn, appointments) in [(LONG_CRN, 9_998), (SHORT_CRN, 3)] {
                let history = long_case(crn, appointments).expect("long case");
                append_case(&store, crn, &history).await.expect("append");
            }
            store.flush().await.expect("flush");
        }
        let engine = Engine::open(EngineConfig::sled(&data)).expect("engine");
        let long = per_command(&engine, LONG_CRN, count).await;
        let short = per_command(&engine, SHORT_CRN, count).await;
        drop(engine);
        let options = SledOptions {
            durability: Durability::Flush,
            clock: Arc::new(SystemClock),
        };
        let store = SledStore::open(work.join("raw"), options).expect("open raw");
        let raw = raw_append(&store, count).await;
        (long, short, short, raw)
    })
}

fn main() {
    let people: u64 = env_or("PEOPLE", 3_000);
    let count: u32 = env_or("COMMANDS", 200);
    let work = tempfile::tempdir().expect("tempdir");
    let (commands, import_s, import_mib, records, restore_s) = import_rows(work.path(), people);
    let instants = recorded_instants(&work.path().join("export.jsonl"));
    let raw_sled_s = raw_sled_seconds(
        &work.path().join("restored"),
        &work.path().join("raw-sled"),
        instants,
    );
    let (long, short, command, raw) = command_rows(work.path(), count);
    println!("sled write path, release build, durable (people {people}, seed 11)");
    println!(
        "import      {commands:>9} commands {import_s:>8.1} s {:>10.0} commands/s  peak RSS {import_mib:.0} MiB",
        commands as f64 / import_s
    );
    println!(
        "import-log  {records:>9} records  {restore_s:>8.1} s {:>10.0} records/s   import / import-log time {:.2}",
        records as f64 / restore_s,
        import_s / restore_s
    );
    println!(
        "raw sled    {records:>9} records  {raw_sled_s:>8.1} s {:>10.0} records/s   the same entries in {instants} batches; import-log / raw sled time {:.2}",
        records as f64 / raw_sled_s,
        restore_s / raw_sled_s
    );
    println!(
        "next command on a 20,000-event case {:.3} ms, on a 10-event case {:.3} ms: ratio {:.2}",
        long * 1e3,
        short * 1e3,
        long / short
    );
    println!(
        "one command on a warm store {:.3} ms, one raw durable append {:.3} ms: ratio {:.2}",
        command * 1e3,
        raw * 1e3,
        command / raw
    );
}
