//! What sealing personal data costs, beside the same run's numbers for events without it
//! (docs/decisions/0009-crypto-shredding.md), in rounds that alternate their order so a
//! change of the machine's load falls on both sides of each ratio:
//!
//! 1. **import**: `caseledger import` (the release binary, durable) of
//!    `generate --people P --seed 11` into a new store, commands/s; beside it, the same
//!    number of person keys made by a keyring on a durable sled store of its own (generate,
//!    wrap under the KEK, durable insert) and of `CaseOpened` seal + encode calls alone: the
//!    share of the import's time that sealing takes;
//! 2. **payload**: encode of the log's `CaseOpened` events sealed (`encode_sealed` with the
//!    person's data key) against `encode` of as many events of the type without personal
//!    data whose payloads are closest in size; `decode` + `open` against `decode`;
//! 3. **rebuild**: the case projection folded in memory (`fold_store`) over the imported log
//!    with a fresh keyring (every person's key read from the key store, unwrapped, and every
//!    person opened) against `CaseProjection::default()` (persons withheld, nothing opened).
//!
//! Run with `cargo bench --bench encryption`; `PEOPLE=1000 ROUNDS=3 PAYLOAD_OPS=200000` are
//! the defaults. Each row shows the median round. Numbers: docs/benchmarks.md, "Encryption".

mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;
use support::{caseledger, env_or};

use caseledger::domain::Event;
use caseledger::payload;
use caseledger::projections::case::CaseProjection;
use caseledger::projections::{fold_store, AsOf, NoProgress};
use caseledger::store::crypto::{default_key_file, Kek};
use caseledger::store::keystore::SubjectKey;
use caseledger::store::{
    Durability, EventStore, Keyring, RecordedEvent, SledOptions, SledStore, StreamId,
};

/// Records per page when the bench reads the log itself.
const PAGE_RECORDS: u32 = 512;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

/// The seconds `run` takes.
fn timed(run: impl FnOnce()) -> f64 {
    let started = Instant::now();
    run();
    started.elapsed().as_secs_f64()
}

/// Two measurements taken in alternating order, round after round: (median a, median b).
fn interleaved(rounds: u32, mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> (f64, f64) {
    let (mut a_s, mut b_s) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            a_s.push(a());
            b_s.push(b());
        } else {
            b_s.push(b());
            a_s.push(a());
        }
    }
    (median(a_s), median(b_s))
}

fn sled(path: &Path, durability: Durability) -> Arc<SledStore> {
    let options = SledOptions {
        durability,
        ..SledOptions::default()
    };
    Arc::new(SledStore::open(path, options).expect("open the sled store"))
}

/// Every record of `store`, in position order.
async fn records(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut all = Vec::new();
    loop {
        let from = all.last().map_or(0, |r: &RecordedEvent| r.position + 1);
        let page = store.read_all(from, PAGE_RECORDS).await.expect("read");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// A case opening with its person known, its CRN and its key; and an event of another type.
struct Samples {
    opened: Vec<(Event, String, SubjectKey)>,
    plain: Vec<Event>,
    plain_type: String,
    /// Mean payload bytes in the log: (sealed `CaseOpened`, the other type).
    bytes_mean: (f64, f64),
}

/// The log's `CaseOpened` events opened with their keys, and as many events of the type
/// without personal data whose mean payload size is closest to theirs.
async fn samples(store: Arc<dyn EventStore>, kek: Kek) -> Samples {
    let keyring = Keyring::open(store.clone(), Some(kek), false)
        .await
        .expect("keyring");
    let all = records(store.as_ref()).await;
    let mut sizes: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for record in &all {
        let size = sizes.entry(&record.event_type).or_default();
        size.0 += 1;
        size.1 += record.payload.len() as u64;
    }
    let mean = |t: &str| sizes[t].1 as f64 / sizes[t].0 as f64;
    let people = sizes["CaseOpened"].0;
    let plain_type = sizes
        .iter()
        .filter(|(t, (n, _))| **t != "CaseOpened" && *n >= people)
        .map(|(t, _)| *t)
        .min_by(|a, b| {
            let distance = |t: &str| (mean(t) - mean("CaseOpened")).abs();
            distance(a).total_cmp(&distance(b))
        })
        .expect("a type without personal data, as frequent as case openings")
        .to_owned();
    let mut opened = Vec::new();
    let mut plain = Vec::new();
    for record in &all {
        if record.event_type == "CaseOpened" {
            let event = payload::decode_opened(
                &record.event_type,
                record.schema_version,
                &record.payload,
                &record.stream_id,
                Some(&keyring),
            )
            .expect("open");
            let stream = StreamId::new(record.stream_id.as_str()).expect("stream");
            let key = keyring.key_now(&stream).expect("key").expect("a key");
            opened.push((event, record.stream_id.clone(), key));
        } else if record.event_type == plain_type {
            let (t, v) = (&record.event_type, record.schema_version);
            plain.push(payload::decode(t, v, &record.payload).expect("decode"));
        }
    }
    plain.truncate(opened.len());
    Samples {
        bytes_mean: (mean("CaseOpened"), mean(&plain_type)),
        opened,
        plain,
        plain_type,
    }
}

/// Seconds of one `caseledger import` of `commands` into a new store under `work`.
fn import(work: &Path, commands: &Path, round: u32) -> f64 {
    let data = work.join(format!("import-{round}"));
    let (_, seconds) = support::peak_rss(
        caseledger(&data)
            .arg("import")
            .arg(commands)
            .stdout(Stdio::null()),
    );
    seconds
}

/// Seconds to make a key for each case opening on a new durable sled store (as the engine
/// does on a case's first command) and to seal and encode its event with it.
fn seal_alone(work: &Path, samples: &Samples, round: u32) -> f64 {
    let store: Arc<dyn EventStore> = sled(&work.join(format!("keys-{round}")), Durability::Flush);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let keyring = Keyring::open(store, Some(Kek::ephemeral()), true)
            .await
            .expect("keyring");
        let started = Instant::now();
        for (event, crn, _) in &samples.opened {
            let stream = StreamId::new(crn.as_str()).expect("stream");
            let key = keyring.key_for_sealing(&stream).await.expect("key");
            black_box(payload::encode_sealed(event, crn, &key).expect("seal"));
        }
        started.elapsed().as_secs_f64()
    })
}

/// Payload rows: seconds per operation of (sealed encode, plain encode, decode + open, decode).
fn payload_rows(samples: &Samples, ops: usize, rounds: u32) -> [f64; 4] {
    let opened = &samples.opened;
    let sealed: Vec<_> = opened
        .iter()
        .map(|(e, crn, key)| payload::encode_sealed(e, crn, key).expect("seal").bytes)
        .collect();
    let plain: Vec<_> = samples
        .plain
        .iter()
        .map(|e| payload::encode(e).expect("encode"))
        .collect();
    let per_op = |seconds: f64| seconds / ops as f64;
    let (seal_s, encode_s) = interleaved(
        rounds,
        || {
            timed(|| {
                for (event, crn, key) in opened.iter().cycle().take(ops) {
                    black_box(payload::encode_sealed(event, crn, key).expect("seal"));
                }
            })
        },
        || {
            timed(|| {
                for event in samples.plain.iter().cycle().take(ops) {
                    black_box(payload::encode(event).expect("encode"));
                }
            })
        },
    );
    let (open_s, decode_s) = interleaved(
        rounds,
        || {
            timed(|| {
                for (bytes, (_, crn, key)) in sealed.iter().zip(opened).cycle().take(ops) {
                    let event = payload::decode("CaseOpened", 3, bytes).expect("decode");
                    black_box(payload::open(event, crn, Some(key)).expect("open"));
                }
            })
        },
        || {
            timed(|| {
                for encoded in plain.iter().cycle().take(ops) {
                    let (t, v) = (encoded.event_type, encoded.schema_version);
                    black_box(payload::decode(t, v, &encoded.bytes).expect("decode"));
                }
            })
        },
    );
    [
        per_op(seal_s),
        per_op(encode_s),
        per_op(open_s),
        per_op(decode_s),
    ]
}

/// Seconds of an in-memory fold of the case projection over `store`.
async fn rebuild(store: &dyn EventStore, projection: &CaseProjection) -> f64 {
    let started = Instant::now();
    let models = fold_store(projection, store, AsOf::Now, &mut NoProgress)
        .await
        .expect("fold");
    black_box(models);
    started.elapsed().as_secs_f64()
}

/// Rebuild rows: seconds of (with keys, without).
fn rebuild_rows(store: Arc<dyn EventStore>, kek: &Kek, rounds: u32) -> (f64, f64) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    interleaved(
        rounds,
        || {
            runtime.block_on(async {
                // A fresh keyring: each key is read from the key store and unwrapped, as a
                // rebuild in a new process does.
                let keyring = Keyring::open(store.clone(), Some(kek.clone()), false)
                    .await
                    .expect("keyring");
                rebuild(
                    store.as_ref(),
                    &CaseProjection::with_keys(Arc::new(keyring)),
                )
                .await
            })
        },
        || runtime.block_on(rebuild(store.as_ref(), &CaseProjection::default())),
    )
}

fn generate(work: &Path, people: u64) -> (std::path::PathBuf, u64) {
    let commands = work.join("commands.jsonl");
    let file = std::fs::File::create(&commands).expect("create");
    let status = caseledger(&work.join("unused"))
        .args(["generate", "--people", &people.to_string(), "--seed", "11"])
        .stdout(file)
        .status()
        .expect("generate");
    assert!(status.success());
    let lines = std::fs::read_to_string(&commands)
        .expect("read")
        .lines()
        .count();
    (commands, lines as u64)
}

fn main() {
    let people: u64 = env_or("PEOPLE", 1_000);
    let rounds: u32 = env_or("ROUNDS", 3);
    let ops: usize = env_or("PAYLOAD_OPS", 200_000);
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let (commands, command_count) = generate(work, people);

    // The first import gives the log every later measurement reads.
    let mut import_s = vec![import(work, &commands, 0)];
    let source = work.join("import-0");
    let kek = Kek::load(&default_key_file(&source)).expect("the KEK import created");
    let store: Arc<dyn EventStore> = sled(&source, Durability::Buffered);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let samples = runtime.block_on(samples(store.clone(), kek.clone()));
    let events = runtime.block_on(store.head()).expect("head");
    drop(runtime);
    let mut seal_s = vec![seal_alone(work, &samples, 0)];
    for round in 1..rounds {
        if round % 2 == 0 {
            import_s.push(import(work, &commands, round));
            seal_s.push(seal_alone(work, &samples, round));
        } else {
            seal_s.push(seal_alone(work, &samples, round));
            import_s.push(import(work, &commands, round));
        }
    }
    let (import_s, seal_s) = (median(import_s), median(seal_s));
    let [sealed, encoded, opened, decoded] = payload_rows(&samples, ops, rounds);
    let (with_keys_s, without_s) = rebuild_rows(store, &kek, rounds);

    let opened_count = samples.opened.len();
    println!(
        "encryption, release build (people {people}, seed 11, {rounds} rounds, medians; \
         {opened_count} CaseOpened of {events} events)"
    );
    println!(
        "import       {command_count} commands {import_s:.2} s {:.0} commands/s; \
         {opened_count} keys made + sealed alone {seal_s:.3} s: {:.1}% of the import",
        command_count as f64 / import_s,
        100.0 * seal_s / import_s
    );
    let (sealed_bytes, plain_bytes) = samples.bytes_mean;
    println!(
        "payload      CaseOpened sealed {sealed_bytes:.0} bytes, {} {plain_bytes:.0} bytes (means)",
        samples.plain_type
    );
    println!(
        "encode       CaseOpened sealed {:.2} µs, {} {:.2} µs: ratio {:.2}",
        sealed * 1e6,
        samples.plain_type,
        encoded * 1e6,
        sealed / encoded
    );
    println!(
        "decode       CaseOpened + open {:.2} µs, {} {:.2} µs: ratio {:.2}",
        opened * 1e6,
        samples.plain_type,
        decoded * 1e6,
        opened / decoded
    );
    println!(
        "rebuild      with keys {with_keys_s:.2} s {:.0} events/s, persons withheld \
         {without_s:.2} s {:.0} events/s: ratio {:.2}",
        events as f64 / with_keys_s,
        events as f64 / without_s,
        with_keys_s / without_s
    );
}
