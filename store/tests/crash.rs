//! Crash test: a real child process appends in `Flush` mode and prints each acknowledged
//! position; we SIGKILL it at random moments, reopen, and check that every acknowledged event
//! is present at the same position and that the hash chain verifies (design invariant 4).

mod crash_support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crash_support::{run_and_kill, seed, Rng};

use caseledger_store::{EventStore, SledOptions, SledStore, StoreError};

const ROUNDS_MIN: u32 = 20;
const ROUNDS_MAX: u32 = 30;
/// The whole test stops starting new rounds after this long (it still needs ROUNDS_MIN).
const TEST_BUDGET: Duration = Duration::from_secs(15);
/// Longest we let a child run before killing it, in milliseconds.
const KILL_AFTER_MS_MAX: u64 = 150;

const WRITER: &str = env!("CARGO_BIN_EXE_caseledger-crash-writer");

#[test]
fn acknowledged_appends_survive_sigkill() {
    let seed = seed();
    println!("crash test seed {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // stream -> version -> position, over all rounds.
    let mut acknowledged: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    let started = Instant::now();
    let mut rounds = 0;
    let mut kills_with_acks = 0;
    while rounds < ROUNDS_MIN || (rounds < ROUNDS_MAX && started.elapsed() < TEST_BUDGET) {
        rounds += 1;
        let mut writer = Command::new(WRITER);
        writer.arg(&path);
        let killed = run_and_kill(writer, &mut rng, Duration::from_secs(10), KILL_AFTER_MS_MAX);
        assert!(
            killed.first.is_some(),
            "round {rounds}: the writer acknowledged nothing within 10 s (status {}): {}",
            killed.status,
            killed.stderr
        );
        let mut acks = 0;
        for line in killed.lines() {
            let line = line.strip_suffix('\n').unwrap_or(line);
            let parts: Vec<&str> = line.split(' ').collect();
            // Parse strictly; anything that is not a full ack line is ignored.
            if let ["ack", stream, version, position] = parts.as_slice() {
                let (Ok(version), Ok(position)) = (version.parse::<u64>(), position.parse::<u64>())
                else {
                    continue;
                };
                acknowledged
                    .entry(stream.to_string())
                    .or_default()
                    .insert(version, position);
                acks += 1;
            }
        }
        if acks > 0 {
            kills_with_acks += 1;
        }

        // Reopen and check every acknowledged event is there, at its position.
        let store = match SledStore::open(&path, SledOptions::default()) {
            Ok(s) => s,
            Err(StoreError::InUse { .. }) => panic!("round {rounds}: lock not released by kill"),
            Err(e) => panic!("round {rounds}: reopen after SIGKILL failed: {e}"),
        };
        runtime.block_on(async {
            let head = store.head().await.unwrap();
            for (stream, versions) in &acknowledged {
                let id = caseledger_store::StreamId::new(stream.as_str()).unwrap();
                let records = store.read_stream(&id, 1).await.unwrap();
                for (&version, &position) in versions {
                    let record = records.get((version - 1) as usize).unwrap_or_else(|| {
                        panic!(
                            "round {rounds} (seed {seed}): acknowledged {stream} v{version} at \
                             {position} is missing after SIGKILL (stream has {} events, head {head})",
                            records.len()
                        )
                    });
                    assert_eq!(record.stream_version, version);
                    assert_eq!(record.position, position, "{stream} v{version} moved");
                }
            }
            let report = store.verify(1, None).await.unwrap();
            assert!(report.is_ok(), "round {rounds} (seed {seed}): {report:?}");
            assert_eq!(report.records_checked, head, "every record is checked");
        });
        drop(store);
    }
    assert!(rounds >= ROUNDS_MIN);
    assert!(
        kills_with_acks >= ROUNDS_MIN,
        "every round killed a writer that had acknowledged appends"
    );
    let total: usize = acknowledged.values().map(|v| v.len()).sum();
    println!("{rounds} rounds, {total} acknowledged events checked");
}

/// A second process opening a store that is in use fails with `InUse`, naming the path.
#[test]
fn a_second_process_cannot_open_a_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), SledOptions::default()).unwrap();
    let output = Command::new(WRITER)
        .arg(dir.path())
        .output()
        .expect("run the writer");
    assert_eq!(output.status.code(), Some(3), "exit code 3 = in use");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
    drop(store);
}
