//! Peak resident memory of `caseledger replay` on one case with a long history: the real
//! binary as a child process, its peak RSS from `wait4` (`ru_maxrss`). Target: a 20,000-event
//! case under 256 MiB (docs/benchmarks.md "Replay of a long case"). The case is the worst one
//! for anything that costs the state per event: every appointment stays in the case state
//! (`projections::synthetic::long_case`). Run with
//! `cargo bench --bench replay_memory` (release build); `REPLAY_MEMORY_EVENTS=5000,20000`
//! chooses the lengths.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use caseledger::projections::synthetic::{append_case, long_case};
use caseledger::store::{Durability, SledOptions, SledStore, SystemClock};

const CRN: &str = "L100001";
/// Events the case opening and its sentence write before the appointments (two each).
const FIRST_EVENTS: u32 = 4;
const TARGET_MIB: f64 = 256.0;

/// A store holding one case of `events` events (4 + 2 per appointment).
fn build(data: &Path, events: u32) -> u64 {
    let appointments = (events - FIRST_EVENTS) / 2;
    let history = long_case(CRN, appointments).expect("long case");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let options = SledOptions {
            durability: Durability::Buffered,
            clock: Arc::new(SystemClock),
        };
        let store = SledStore::open(data, options).expect("open");
        let version = append_case(&store, CRN, &history).await.expect("append");
        store.flush().await.expect("flush");
        version
    })
}

/// Run the binary to the end, output discarded; (peak RSS in MiB, seconds).
fn peak_rss(data: &Path, args: &[&str]) -> (f64, f64) {
    support::peak_rss(
        Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .arg("--data")
            .arg(data)
            .args(args)
            .stdout(Stdio::null()),
    )
}

fn main() {
    let lengths: Vec<u32> = std::env::var("REPLAY_MEMORY_EVENTS")
        .unwrap_or_else(|_| "5000,10000,20000".into())
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("REPLAY_MEMORY_EVENTS: comma-separated numbers")
        })
        .collect();
    println!(
        "caseledger replay of one case (appointments kept in its state); peak RSS of the process"
    );
    println!(
        "{:>8}  {:<28} {:>10} {:>8}",
        "events", "command", "peak MiB", "seconds"
    );
    let mut worst = 0.0f64;
    for events in lengths {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = build(dir.path(), events);
        for (label, args) in [
            ("replay (text)", vec!["replay", CRN]),
            (
                "replay --format json",
                vec!["replay", CRN, "--format", "json"],
            ),
        ] {
            let (mib, seconds) = peak_rss(dir.path(), &args);
            worst = worst.max(mib);
            println!("{written:>8}  {label:<28} {mib:>10.1} {seconds:>8.2}");
        }
    }
    println!(
        "worst peak {worst:.1} MiB; target under {TARGET_MIB} MiB: {}",
        if worst < TARGET_MIB { "met" } else { "NOT met" }
    );
}
