//! Issue 5 "must show": a crash in the middle of a rebuild leaves the previous read models in
//! service, and the next rebuild completes. A real child process
//! (`caseledger-rebuild-crash`) rebuilds from a sled log and is SIGKILLed at a random moment
//! mid-rebuild, several rounds; after each, the previous generation is still in service with
//! its old digest. Finally a rebuild completes and gives the from-scratch digest.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caseledger_projections::case::CaseProjection;
use caseledger_projections::synthetic::{Cohort, Rng};
use caseledger_projections::{fold_store, rebuild, AsOf, NoProgress, ReadModelDb, RowSource};
use caseledger_store::{
    Durability, EventStore, ExpectedVersion, NewEvent, SledOptions, SledStore, StreamId,
};

/// Events in the log: enough for several committed batches per rebuild.
const LOG_EVENTS_MIN: u64 = 16_000;
/// Events in the log when the first generation is built (its digest must differ).
const FIRST_GENERATION_EVENTS: u64 = 2_000;
/// SIGKILL rounds.
const ROUNDS: u32 = 5;
/// The whole test gives up after this long (it normally takes seconds).
const TEST_SECONDS_MAX: u64 = 120;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Append synthetic domain events to `store` until its head reaches `until`.
fn fill(rt: &tokio::runtime::Runtime, store: &SledStore, cohort: &mut Cohort, until: u64) {
    let mut n: u128 = rt.block_on(store.head()).unwrap().into();
    while rt.block_on(store.head()).unwrap() < until {
        let (crn, events) = cohort.step_random().unwrap();
        if events.is_empty() {
            continue;
        }
        let batch = events
            .iter()
            .map(|e| {
                n += 1;
                // A throwaway data key: these records are written around the engine.
                let key = caseledger_store::keystore::SubjectKey::Live(
                    caseledger_store::crypto::DataKey::generate(),
                );
                let encoded = caseledger_payload::encode_sealed(e, crn.as_str(), &key)
                    .expect("payload encodes");
                NewEvent {
                    event_id: uuid::Uuid::from_u128(n),
                    event_type: encoded.event_type.to_owned(),
                    schema_version: encoded.schema_version,
                    effective_at_us: 0,
                    actor: Default::default(),
                    command_id: uuid::Uuid::from_u128(n | 1 << 64),
                    correlation_id: uuid::Uuid::nil(),
                    causation_id: uuid::Uuid::nil(),
                    ruleset_id: String::new(),
                    payload: encoded.bytes,
                }
            })
            .collect();
        rt.block_on(store.append(
            &StreamId::new(crn).unwrap(),
            ExpectedVersion::Any,
            batch,
            None,
        ))
        .unwrap();
    }
}

fn in_service(readmodels: &Path) -> (Option<u64>, BTreeMap<String, String>, Vec<u64>) {
    let db = ReadModelDb::open(readmodels).unwrap();
    let generation = db.current_generation("cases").unwrap();
    let digests = db
        .view(&CaseProjection::default())
        .unwrap()
        .unwrap()
        .digests()
        .unwrap();
    (generation, digests, db.generations("cases"))
}

#[test]
fn sigkill_mid_rebuild_leaves_the_previous_generation_in_service_and_the_next_rebuild_completes() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let readmodels = dir.path().join("readmodels");
    let rt = runtime();
    let mut cohort = Cohort::new(42, 0, 300).unwrap();

    // Generation 1 from the first part of the log; then the log grows.
    // Buffered: filling the log is set-up, not under test; dropping the store flushes it.
    let store = SledStore::open(
        &log,
        SledOptions {
            durability: Durability::Buffered,
            ..SledOptions::default()
        },
    )
    .unwrap();
    fill(&rt, &store, &mut cohort, FIRST_GENERATION_EVENTS);
    {
        let db = ReadModelDb::open(&readmodels).unwrap();
        rt.block_on(rebuild(
            &store,
            &db,
            &CaseProjection::default(),
            &mut NoProgress,
        ))
        .unwrap();
        db.flush().unwrap();
    }
    fill(&rt, &store, &mut cohort, LOG_EVENTS_MIN);
    let head = rt.block_on(store.head()).unwrap();
    let from_scratch = rt
        .block_on(fold_store(
            &CaseProjection::default(),
            &store,
            AsOf::Now,
            &mut NoProgress,
        ))
        .unwrap()
        .digests()
        .unwrap();
    // The child must be able to take the store's lock.
    drop(store);
    eprintln!("set-up took {:?}", started.elapsed());
    let (first_generation, old_digests, _) = in_service(&readmodels);
    assert_eq!(first_generation, Some(1));
    assert_ne!(old_digests, from_scratch, "the log grew after generation 1");

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Rng::new(seed);
    let mut killed_mid_rebuild = 0;
    for round in 0..ROUNDS {
        assert!(
            started.elapsed() < Duration::from_secs(TEST_SECONDS_MAX),
            "crash test ran too long (seed {seed})"
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_caseledger-rebuild-crash"))
            .arg(&log)
            .arg(&readmodels)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Kill after a random number of committed batches (0 = as soon as it has started),
        // plus a random delay of up to 20 ms, so the kill lands anywhere in a batch.
        let batches = rng.below(4);
        let delay_ms = u64::from(rng.below(20));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        let mut position = 0;
        while seen < batches {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("progress ") {
                position = rest.split(' ').next().unwrap().parse().unwrap();
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        eprintln!(
            "round {round}: killed after {seen} batches + {delay_ms} ms at {:?}",
            started.elapsed()
        );
        let (generation, digests, _) = in_service(&readmodels);
        if status.success() {
            // It finished before the kill landed: then it is the new generation, complete.
            assert_eq!(digests, from_scratch, "round {round} (seed {seed})");
            panic!("round {round}: the rebuild of {head} events finished before SIGKILL; make the log bigger (seed {seed})");
        }
        killed_mid_rebuild += 1;
        assert_eq!(
            generation,
            Some(1),
            "round {round}: killed after {seen} batches (position {position} of {head}); the previous generation must stay in service (seed {seed})"
        );
        assert_eq!(
            digests, old_digests,
            "round {round}: the generation in service changed under a crash (seed {seed})"
        );
    }
    assert_eq!(killed_mid_rebuild, ROUNDS);

    // The next rebuild completes (in a child, to completion) and gives the from-scratch digest.
    let output = Command::new(env!("CARGO_BIN_EXE_caseledger-rebuild-crash"))
        .arg(&log)
        .arg(&readmodels)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let generation: u64 = last.strip_prefix("done ").unwrap().parse().unwrap();
    // A new generation (a number handed to a killed rebuild may be handed out again: its
    // abandoned tree is dropped before the number is reused).
    assert!(generation > 1);
    let (in_service_now, digests, generations) = in_service(&readmodels);
    assert_eq!(in_service_now, Some(generation));
    assert_eq!(digests, from_scratch);
    assert_eq!(
        generations,
        vec![generation],
        "abandoned generations and the previous one are dropped"
    );
    let db = ReadModelDb::open(&readmodels).unwrap();
    assert_eq!(
        db.view(&CaseProjection::default())
            .unwrap()
            .unwrap()
            .checkpoint(),
        head
    );
}
