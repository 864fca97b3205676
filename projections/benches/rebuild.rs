//! Full rebuild of every read model over a synthetic log.
//!
//! `cargo bench -p caseledger-projections --bench rebuild` (release). For each log size
//! (default 250,000, 1,000,000 and 2,000,000 events; override with
//! `REBUILD_BENCH_SIZES=100000,400000`) it writes valid domain events — decided by the
//! domain's own `decide`, deterministic RNG — for a cohort that grows with the log
//! (`REBUILD_BENCH_EVENTS_PER_CASE`, default 100 events per case, so 10,000 cases at
//! 1,000,000 events) or, with `REBUILD_BENCH_CASES=N`, a fixed cohort whose histories grow,
//! to a `SledStore` in `Buffered` mode in a temporary directory. Then it runs each
//! measurement in a fresh child process, so that its peak RSS (VmHWM) is its own:
//! - **read**: page through the log only — the store's share;
//! - **memory**: fold the whole log into read models held in memory (`fold_store`: every
//!   row derived and kept, digests);
//! - **persisted**: full rebuild into a new sled read-model database (`rebuild_with`, one
//!   pass), digests;
//! - **bounded**: the same with at most `REBUILD_BENCH_STREAMS_PER_PASS` (default 2,500)
//!   cases and `REBUILD_BENCH_EVENTS_PER_PASS` (default 250,000) events of those cases in
//!   memory at once, in several passes.
//!
//! Each measurement runs `REBUILD_BENCH_RUNS` times (default 3); the table shows the median
//! and best time, the highest peak RSS, and the RSS right after opening the log (sled's page
//! table: the store's share, resident whatever the process then does). The measurements open
//! the log with `SLED_CACHE_CAPACITY_BYTES_ONE_PASS` (16 MiB; `REBUILD_BENCH_LOG_CACHE_MIB`)
//! and the read models with `READ_MODEL_CACHE_BYTES_DEFAULT` (16 MiB;
//! `REBUILD_BENCH_READ_MODEL_CACHE_MIB`). Nothing is asserted: numbers go to
//! docs/benchmarks.md.
//!
//! The binary uses mimalloc, as the `caseledger` CLI does, and the persisted and bounded
//! modes run with `MIMALLOC_PURGE_DELAY=0`, as `caseledger rebuild` does. Other knobs:
//! `REBUILD_BENCH_MODES=bounded` (which modes), `REBUILD_BENCH_KEEP=1` (keep each generated
//! log as `$TMPDIR/caseledger-rebuild-bench-<events>` and measure nothing),
//! `REBUILD_BENCH_REUSE=1` (measure such a kept log instead of generating one),
//! `REBUILD_BENCH_TRACE_PASSES=1` (print the RSS as each pass of a rebuild ends its fold),
//! `REBUILD_BENCH_READ_TIMES=N` (the read mode reads the log N times, printing the RSS),
//! `REBUILD_BENCH_PHASES_LOG=<dir>` (profile one log by phase), and the `system-allocator`
//! feature (glibc malloc, so heaptrack and massif see every allocation).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use caseledger_projections::case::CaseProjection;
use caseledger_projections::synthetic::Cohort;
use caseledger_projections::{
    fold_store, rebuild_with, AsOf, ReadModelDb, RebuildOptions, RowSource,
};
use caseledger_store::{
    Durability, EventStore, ExpectedVersion, NewEvent, SledOptions, SledStore, StreamId,
    SLED_CACHE_CAPACITY_BYTES_ONE_PASS,
};

/// The same allocator as the `caseledger` binary (src/main.rs), unless the
/// `system-allocator` feature asks for the system's, which heap profilers can see into.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Appends in flight at once while filling the log (each to a different case).
const APPENDS_IN_FLIGHT_MAX: u32 = 512;

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    match std::env::var(name) {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => default.to_vec(),
    }
}

/// Cases in memory at once in the `bounded` mode.
fn streams_per_pass() -> u64 {
    env_list("REBUILD_BENCH_STREAMS_PER_PASS", &[2_500])[0].max(1)
}

/// Events (of the cases held) folded per pass in the `bounded` mode.
fn events_per_pass() -> u64 {
    env_list("REBUILD_BENCH_EVENTS_PER_PASS", &[250_000])[0].max(1)
}

/// The log's sled page cache in the measurements (`REBUILD_BENCH_LOG_CACHE_MIB`).
fn log_cache_bytes() -> u64 {
    env_list(
        "REBUILD_BENCH_LOG_CACHE_MIB",
        &[SLED_CACHE_CAPACITY_BYTES_ONE_PASS >> 20],
    )[0] << 20
}

/// The read models' sled page cache (`REBUILD_BENCH_READ_MODEL_CACHE_MIB`).
fn read_model_cache_bytes() -> u64 {
    env_list(
        "REBUILD_BENCH_READ_MODEL_CACHE_MIB",
        &[caseledger_projections::READ_MODEL_CACHE_BYTES_DEFAULT >> 20],
    )[0] << 20
}

/// A `kB` field of `/proc/self/status` (`VmHWM`: peak RSS, `VmRSS`: RSS now), in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM")
}

fn rss_kib() -> u64 {
    status_kib("VmRSS")
}

/// Bytes the heap holds in live allocations now (glibc's `mallinfo2`: `uordblks` plus the
/// `hblkhd` of mmapped chunks), with the `system-allocator` feature; `None` under mimalloc.
/// Beside the RSS it tells memory the program holds from memory the allocator keeps.
#[cfg(feature = "system-allocator")]
fn live_heap_bytes() -> Option<u64> {
    #[repr(C)]
    struct Mallinfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }
    extern "C" {
        fn mallinfo2() -> Mallinfo2;
    }
    // SAFETY: glibc's mallinfo2 takes no arguments and returns a plain struct.
    let info = unsafe { mallinfo2() };
    Some((info.uordblks + info.hblkhd) as u64)
}

#[cfg(not(feature = "system-allocator"))]
fn live_heap_bytes() -> Option<u64> {
    None
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Write `events` valid domain events for `cases` cases to a new sled log at `path`.
fn generate(path: &Path, events: u64, cases: u32) {
    let rt = runtime();
    let _context = rt.enter();
    let store = std::sync::Arc::new(
        SledStore::open(
            path,
            SledOptions {
                durability: Durability::Buffered,
                ..SledOptions::default()
            },
        )
        .unwrap(),
    );
    let mut cohort = Cohort::new(2026, 0, cases).unwrap();
    let mut written: u64 = 0;
    let mut id: u128 = 0;
    let mut next_case: u32 = 0;
    let started = Instant::now();
    while written < events {
        // One round: distinct cases, so no two appends in flight share a stream.
        let mut round = tokio::task::JoinSet::new();
        for _ in 0..APPENDS_IN_FLIGHT_MAX.min(cases) {
            if written >= events {
                break;
            }
            let (crn, step) = cohort.step(next_case).unwrap();
            next_case = (next_case + 1) % cases;
            if step.is_empty() {
                continue;
            }
            let take = usize::try_from((events - written).min(step.len() as u64)).unwrap();
            written += take as u64;
            let batch: Vec<NewEvent> = step[..take]
                .iter()
                .map(|e| {
                    id += 1;
                    // A throwaway data key: these records are written around the engine.
                    let key = caseledger_store::keystore::SubjectKey::Live(
                        caseledger_store::crypto::DataKey::generate(),
                    );
                    let encoded = caseledger_payload::encode_sealed(e, crn.as_str(), &key)
                        .expect("payload encodes");
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
            round.spawn(async move {
                store
                    .append(
                        &StreamId::new(crn).unwrap(),
                        ExpectedVersion::Any,
                        batch,
                        None,
                    )
                    .await
                    .unwrap()
            });
        }
        rt.block_on(async {
            while let Some(r) = round.join_next().await {
                r.unwrap();
            }
        });
    }
    rt.block_on(store.flush()).unwrap();
    let head = rt.block_on(store.head()).unwrap();
    assert_eq!(head, events);
    eprintln!(
        "  generated {events} events for {cases} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Child process: one measurement; prints
/// `result <events> <seconds> <peak kiB> <digest> <kiB resident after opening the log>`.
fn child(mode: &str, log: &Path, readmodels: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A rebuild pages through the log once: a small page cache bounds its memory.
    let store = SledStore::open_with_cache(log, SledOptions::default(), log_cache_bytes()).unwrap();
    let head = rt.block_on(store.head()).unwrap();
    // sled loads its page table for the whole log when it opens: the store's own share,
    // resident for as long as the log is open, whatever the process then does.
    let opened_kib = rss_kib();
    let started = Instant::now();
    let mut measured_s = 0.0;
    let digests = match mode {
        "memory" => {
            // `fold_store`: the log read a page ahead on a helper thread while the fold runs,
            // then rows derived on two threads; digests timed apart.
            // The last progress report comes when the fold has reached the head: the time
            // from there to the return is deriving the rows.
            let mut folded_s = 0.0;
            let mut folded_rss_kib = 0;
            let mut progress = |_: &str, position: u64, head: u64| {
                if position == head {
                    folded_s = started.elapsed().as_secs_f64();
                    folded_rss_kib = rss_kib();
                }
            };
            let models = rt
                .block_on(fold_store(
                    &CaseProjection::default(),
                    &store,
                    AsOf::Now,
                    &mut progress,
                ))
                .unwrap();
            let fold_s = started.elapsed().as_secs_f64();
            eprintln!(
                "  memory phases: read+decode+fold {folded_s:.2} s (RSS then {} MiB), rows {:.2} s",
                folded_rss_kib / 1024,
                fold_s - folded_s
            );
            let t = Instant::now();
            let digests = models.digests().unwrap();
            let digest_s = t.elapsed().as_secs_f64();
            // Timing ends here: what follows only describes the read models.
            measured_s = started.elapsed().as_secs_f64();
            let mut sizes = Vec::new();
            for (i, name) in models.models().iter().enumerate() {
                let (mut rows, mut bytes) = (0u64, 0u64);
                models
                    .for_each_row(i as u8, &mut |k, v| {
                        rows += 1;
                        bytes += (k.len() + v.len()) as u64;
                        Ok(())
                    })
                    .unwrap();
                sizes.push(format!("{name} {rows} rows {} KiB", bytes / 1024));
            }
            eprintln!("  read models: {}", sizes.join(", "));
            eprintln!(
                "  memory phases: read+fold+rows {fold_s:.2} s, digests {digest_s:.2} s, \
                 peak RSS {} MiB",
                peak_rss_kib() / 1024
            );
            digests
        }
        "persisted" | "bounded" => {
            // `bounded`: at most REBUILD_BENCH_STREAMS_PER_PASS cases in memory at once.
            let (streams_per_pass_max, events_per_pass_max) = if mode == "bounded" {
                (
                    usize::try_from(streams_per_pass()).unwrap(),
                    events_per_pass(),
                )
            } else {
                (usize::MAX, u64::MAX)
            };
            let db = ReadModelDb::open_with_cache(readmodels, read_model_cache_bytes()).unwrap();
            // `REBUILD_BENCH_TRACE_PASSES=1`: the RSS each time a pass has folded the log up
            // to the head (before it writes), to stderr — whether memory climbs pass by pass.
            let trace_passes = std::env::var_os("REBUILD_BENCH_TRACE_PASSES").is_some();
            let mut pass = 0u32;
            let mut trace = |_: &str, position: u64, head: u64| {
                if trace_passes && position == head {
                    pass += 1;
                    let heap = live_heap_bytes()
                        .map_or_else(String::new, |b| format!(", live heap {} MiB", b >> 20));
                    eprintln!(
                        "  pass {pass}: folded, RSS {} MiB{heap}, {:.1} s",
                        rss_kib() / 1024,
                        started.elapsed().as_secs_f64()
                    );
                }
            };
            let report = rt
                .block_on(rebuild_with(
                    &store,
                    &db,
                    &CaseProjection::default(),
                    RebuildOptions {
                        streams_per_pass_max,
                        events_per_pass_max,
                    },
                    &mut trace,
                ))
                .unwrap();
            db.flush().unwrap();
            eprintln!("  {mode}: {} pass(es)", report.passes);
            report.digests
        }
        "read" => {
            // Only page through the log: the store's own share of time and memory.
            // `REBUILD_BENCH_READ_TIMES=N` reads it N times, printing the RSS after each —
            // whether reading alone, pass after pass, makes memory climb.
            let times = env_list("REBUILD_BENCH_READ_TIMES", &[1])[0].max(1);
            for time in 1..=times {
                let mut next = 1;
                while next <= head {
                    let page = rt
                        .block_on(store.read_all(next, caseledger_store::READ_ALL_PAGE_EVENTS_MAX))
                        .unwrap();
                    next += page.len() as u64;
                }
                if times > 1 {
                    eprintln!("  read {time}: RSS {} MiB", rss_kib() / 1024);
                }
            }
            BTreeMap::new()
        }
        "phases" => {
            phases(&rt, &store, head);
            return;
        }
        other => panic!("unknown mode {other}"),
    };
    let seconds = if measured_s > 0.0 {
        measured_s
    } else {
        started.elapsed().as_secs_f64()
    };
    // The first 16 hex digits of the performance model's digest, "-" when not computed.
    let digest: String = digests
        .get("performance")
        .map_or_else(|| "-".to_owned(), |d| d.chars().take(16).collect());
    println!(
        "result {head} {seconds} {} {digest} {opened_kib}",
        peak_rss_kib()
    );
}

/// Where the in-memory fold spends its time: read pages, + decode payloads, + fold facts,
/// + derive rows and digest (printed to stderr).
fn phases(rt: &tokio::runtime::Runtime, store: &SledStore, head: u64) {
    use caseledger_projections::codec::decode_event;
    use caseledger_projections::{MemoryFold, Projection};
    let page_size = caseledger_store::READ_ALL_PAGE_EVENTS_MAX;
    for phase in ["read", "read+decode", "read+decode+fold", "all+rows+digest"] {
        let started = Instant::now();
        let mut next = 1;
        let cases = CaseProjection::default();
        let mut fold = MemoryFold::new(&cases).unwrap();
        let mut states: std::collections::BTreeMap<String, caseledger_projections::case::CaseView> =
            Default::default();
        while next <= head {
            let page = rt.block_on(store.read_all(next, page_size)).unwrap();
            next += page.len() as u64;
            for r in &page {
                match phase {
                    "read" => {}
                    "read+decode" => {
                        decode_event(r, None).unwrap();
                    }
                    "read+decode+fold" => {
                        let state = states.entry(r.stream_id.clone()).or_default();
                        CaseProjection::default()
                            .decode_and_apply(state, r)
                            .unwrap();
                    }
                    _ => fold.fold(r).unwrap(),
                }
            }
        }
        if phase == "all+rows+digest" {
            fold.finish().unwrap().digests().unwrap();
        }
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "  phase {phase:<18} {seconds:>7.2} s  {:>10.0} events/s",
            head as f64 / seconds
        );
    }
}

/// One measurement in a fresh child process: (events, seconds, peak KiB, digest, KiB
/// resident after opening the log).
fn measure(mode: &str, log: &Path, readmodels: &Path) -> (u64, f64, u64, String, u64) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if matches!(mode, "persisted" | "bounded") {
        // As `caseledger rebuild` does (src/main.rs, `return_freed_memory_at_once`).
        command.env("MIMALLOC_PURGE_DELAY", "0");
    }
    let output = command
        .args(["--child", mode])
        .arg(log)
        .arg(readmodels)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout.lines().find(|l| l.starts_with("result ")).unwrap();
    let f: Vec<&str> = line.split(' ').collect();
    (
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
        f[4].to_owned(),
        f[5].parse().unwrap(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        child(
            &args[at + 1],
            Path::new(&args[at + 2]),
            Path::new(&args[at + 3]),
        );
        return;
    }
    if let Ok(log) = std::env::var("REBUILD_BENCH_PHASES_LOG") {
        // Profile an existing log: `REBUILD_BENCH_PHASES_LOG=<dir> cargo bench …`.
        child("phases", Path::new(&log), Path::new("/nonexistent"));
        return;
    }
    let sizes = env_list("REBUILD_BENCH_SIZES", &[250_000, 1_000_000, 2_000_000]);
    // Cases grow with the log (a constant number of events per case), so the read models'
    // size per case is the same at every log size and memory can be compared fairly.
    let events_per_case = env_list("REBUILD_BENCH_EVENTS_PER_CASE", &[100])[0].max(1);
    println!(
        "full rebuild of all read models (case projection, 6 read models), {}, \
         log page cache {} MiB, bounded mode {} cases / {} events per pass",
        match std::env::var("REBUILD_BENCH_CASES") {
            Ok(fixed) => format!("a fixed cohort of {} cases", fixed.trim()),
            Err(_) => format!("{events_per_case} events per case"),
        },
        SLED_CACHE_CAPACITY_BYTES_ONE_PASS / (1024 * 1024),
        streams_per_pass(),
        events_per_pass()
    );
    println!(
        "{:>10} | {:<9} | {:>9} | {:>12} | {:>12} | {:>13} | {:>9} | digest(perf)",
        "events", "mode", "median s", "median ev/s", "best ev/s", "peak RSS MiB", "open MiB"
    );
    let modes: Vec<String> = match std::env::var("REBUILD_BENCH_MODES") {
        Ok(list) => list.split(',').map(|m| m.trim().to_owned()).collect(),
        Err(_) => ["read", "memory", "persisted", "bounded"]
            .map(String::from)
            .to_vec(),
    };
    let runs = env_list("REBUILD_BENCH_RUNS", &[3])[0].max(1);
    for events in sizes {
        // REBUILD_BENCH_CASES fixes the cohort instead: the log grows by longer histories.
        let cases = match std::env::var("REBUILD_BENCH_CASES") {
            Ok(fixed) => fixed.trim().parse().unwrap(),
            Err(_) => u32::try_from((events / events_per_case).max(1)).unwrap(),
        };
        let dir = tempfile::tempdir().unwrap();
        let kept = std::env::temp_dir().join(format!("caseledger-rebuild-bench-{events}"));
        // REBUILD_BENCH_REUSE: measure a log kept by an earlier REBUILD_BENCH_KEEP run.
        let reuse = std::env::var("REBUILD_BENCH_REUSE").is_ok() && kept.exists();
        let log = if reuse {
            eprintln!("  reusing {}", kept.display());
            kept.clone()
        } else {
            let log = dir.path().join("log");
            generate(&log, events, cases);
            log
        };
        if !reuse && std::env::var("REBUILD_BENCH_KEEP").is_ok() {
            let _ = std::fs::remove_dir_all(&kept);
            std::fs::rename(&log, &kept).unwrap();
            eprintln!("  log kept at {}", kept.display());
            continue;
        }
        for mode in modes.iter().map(String::as_str) {
            // Each measurement `runs` times, in fresh processes: this machine's speed varies
            // by a third from one run to the next, so the median and the best are printed.
            let mut seconds = Vec::new();
            let (mut head, mut peak_kib, mut digest, mut open_kib) = (0, 0, String::new(), 0);
            for run in 0..runs {
                let readmodels = dir.path().join(format!("readmodels-{mode}-{run}"));
                let (h, s, p, d, o) = measure(mode, &log, &readmodels);
                let _ = std::fs::remove_dir_all(&readmodels);
                assert!(
                    digest.is_empty() || digest == d,
                    "digests differ between runs"
                );
                (head, peak_kib, digest, open_kib) = (h, peak_kib.max(p), d, open_kib.max(o));
                seconds.push(s);
            }
            seconds.sort_by(f64::total_cmp);
            let median = seconds[seconds.len() / 2];
            println!(
                "{head:>10} | {mode:<9} | {median:>9.2} | {:>12.0} | {:>12.0} | {:>13.1} | {:>9.1} | {digest}",
                head as f64 / median,
                head as f64 / seconds[0],
                peak_kib as f64 / 1024.0,
                open_kib as f64 / 1024.0
            );
        }
    }
}
