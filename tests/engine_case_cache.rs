//! The handler's case cache (commands/src/cache.rs) only saves reading and folding: the log
//! written with it is byte for byte the log written without it, a repeat is still answered
//! as a repeat, and engines with caches of their own over one PostgreSQL log — as two
//! processes would be — never decide on a state another one has moved past. The pipelined
//! import (src/engine_import.rs), which decides commands ahead of their group commits, writes
//! the same log as the one-command path running the same commands one by one, on memory,
//! sled and PostgreSQL, a re-run included.

mod pg_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use caseledger::commands::load_case;
use caseledger::commands::parse_command_with_header;
use caseledger::engine_import::{ImportEnd, ImportItem, Imported};
use caseledger::fixtures::generate;
use caseledger::store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger::store::{
    EventStore, ManualClock, MemoryStore, RecordedEvent, SledOptions, SledStore, StreamId,
};
use caseledger::Engine;
use jiff::civil::date;
use pg_support::TestSchema;

const RECORDED_AT_US: i64 = 1_700_000_000_000_000;

fn cohort(people: u64, seed: u64) -> Vec<String> {
    let mut out = Vec::new();
    generate(people, seed, &mut out).expect("generate");
    String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn memory_engine() -> Engine {
    let clock = Arc::new(ManualClock::new(RECORDED_AT_US));
    Engine::with_store(Arc::new(MemoryStore::new(clock)))
}

/// `engine` over its own store, sealing with `keys_of`'s data keys: two logs compared byte
/// for byte hold the same sealed bytes only when they seal with the same keys.
fn sharing_keys(engine: Engine, keys_of: &Engine) -> Engine {
    Engine::with_store_and_keyring(engine.store().clone(), keys_of.keyring().clone())
}

/// What each command did: its receipt's event types and whether it was a repeat, or the
/// refusal text.
type Outcome = Result<(Vec<String>, bool), String>;

async fn run(engine: &Engine, lines: &[String]) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        out.push(match engine.execute_json(line).await {
            Ok(receipt) => Ok((receipt.event_types, receipt.deduplicated)),
            Err(e) => Err(e.to_string()),
        });
    }
    out
}

/// The cohort, then every fifth command again (repeats), then what falls due by 2031.
async fn cohort_run(engine: &Engine, lines: &[String]) -> Vec<Outcome> {
    let mut outcomes = run(engine, lines).await;
    let repeats: Vec<String> = lines.iter().step_by(5).cloned().collect();
    outcomes.extend(run(engine, &repeats).await);
    engine.advance_to(date(2031, 1, 1)).await.expect("advance");
    outcomes
}

async fn export(engine: &Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    engine.export(&mut bytes).await.expect("export");
    bytes
}

#[tokio::test]
async fn the_cached_and_uncached_paths_write_byte_identical_logs() {
    let lines = cohort(120, 7);
    let cached = memory_engine();
    let uncached = sharing_keys(memory_engine(), &cached).with_case_cache_bytes_max(0);
    let with_cache = cohort_run(&cached, &lines).await;
    let without_cache = cohort_run(&uncached, &lines).await;
    for ((line, cached), uncached) in lines.iter().zip(&with_cache).zip(&without_cache) {
        assert_eq!(cached, uncached, "{line}");
    }
    assert_eq!(with_cache.len(), without_cache.len());
    assert_eq!(
        with_cache[lines.len()..],
        without_cache[lines.len()..],
        "the repeats"
    );
    let repeats = &with_cache[lines.len()..];
    let originals = lines.iter().step_by(5).zip(with_cache.iter().step_by(5));
    for ((line, original), repeat) in originals.zip(repeats) {
        if let Ok((types, false)) = original {
            assert_eq!(repeat, &Ok((types.clone(), true)), "a repeat of {line}");
        }
    }
    assert!(
        with_cache.iter().filter(|o| o.is_ok()).count() > lines.len() / 2,
        "most of the cohort is accepted"
    );
    assert_eq!(export(&cached).await, export(&uncached).await);
}

#[tokio::test]
async fn a_cached_case_is_the_case_folded_from_its_whole_stream() {
    let lines = cohort(60, 3);
    let engine = memory_engine();
    cohort_run(&engine, &lines).await;
    let crns = engine.case_ids().await.expect("case ids");
    assert!(crns.len() >= 60);
    // Reading a case keeps it; every case is then held (each carries a person, which a
    // weighing by a binary serde format could not take), so what follows compares cached
    // states, not fresh folds.
    for crn in &crns {
        engine.case(crn).await.unwrap().expect("case exists");
    }
    let (_, cached_cases) = engine.handler().case_cache_usage();
    assert_eq!(cached_cases, crns.len(), "every case is in the cache");
    for crn in crns {
        let stream = StreamId::new(crn.as_str()).unwrap();
        let folded = load_case(engine.store().as_ref(), engine.keyring(), &stream)
            .await
            .unwrap();
        let cached = engine.case(&crn).await.unwrap().expect("case exists");
        assert_eq!(cached, folded.state, "{crn}");
    }
}

/// Two engines on one store take turns, command by command, so each one's cached case is
/// behind whenever the other wrote last: its appends meet version conflicts, and every fifth
/// command comes again as a repeat. A handler folds a command's events onto the cached state
/// before its append; a state folded for a command that was not written as decided must
/// never be kept, so every case each engine holds is the case folded from its stream.
#[tokio::test]
async fn a_state_decided_for_an_append_that_was_not_written_is_never_kept() {
    let lines = cohort(40, 13);
    let clock = Arc::new(ManualClock::new(RECORDED_AT_US));
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new(clock));
    let engines = [
        Engine::with_store(store.clone()),
        Engine::with_store(store.clone()),
    ];
    let repeats = lines.iter().step_by(5);
    for (index, line) in lines.iter().chain(repeats).enumerate() {
        run(&engines[index % 2], std::slice::from_ref(line)).await;
    }
    let single = memory_engine();
    run(&single, &lines).await;
    let crns = single.case_ids().await.expect("case ids");
    assert!(crns.len() >= 40);
    for crn in crns {
        let stream = StreamId::new(crn.as_str()).unwrap();
        let folded = load_case(store.as_ref(), engines[0].keyring(), &stream)
            .await
            .unwrap()
            .state;
        for engine in &engines {
            assert_eq!(
                engine.case(&crn).await.unwrap().as_ref(),
                Some(&folded),
                "{crn}"
            );
        }
        assert_eq!(single.case(&crn).await.unwrap(), Some(folded), "{crn}");
    }
}

async fn postgres_engine(schema: &TestSchema) -> Engine {
    let config = PostgresConfig::from_url(&schema.url()).unwrap();
    let clock = Arc::new(ManualClock::new(RECORDED_AT_US));
    let store = PostgresStore::open(config, clock, PostgresOptions::default())
        .await
        .expect("open the PostgreSQL store");
    Engine::with_store(Arc::new(store))
}

async fn whole_log(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut records = Vec::new();
    let mut from = 1;
    // Bounded: the logs here are a few thousand records.
    for _ in 0..1_000 {
        let page = store.read_all(from, 4_096).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        records.extend(page);
    }
    records
}

/// Two engines with caches of their own take turns, command by command, on one PostgreSQL
/// log: each one's cached case is behind whenever the other wrote last. The log must be the
/// one a single engine writes from the same commands — a decision taken on a stale state
/// (a refusal the current state would not give, a tier from an old assessment) would differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_taking_turns_on_one_postgres_log_decide_as_one_engine_would() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let lines = cohort(24, 11);
    let (turns_schema, single_schema) = (TestSchema::new(&server), TestSchema::new(&server));
    let first = postgres_engine(&turns_schema).await;
    let second = postgres_engine(&turns_schema).await;
    let single = sharing_keys(postgres_engine(&single_schema).await, &first);
    let mut taking_turns = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let engine = if index % 2 == 0 { &first } else { &second };
        taking_turns.extend(run(engine, std::slice::from_ref(line)).await);
    }
    let alone = run(&single, &lines).await;
    for ((line, turn), single) in lines.iter().zip(&taking_turns).zip(&alone) {
        assert_eq!(turn, single, "{line}");
    }
    let (a, b) = (
        whole_log(first.store().as_ref()).await,
        whole_log(single.store().as_ref()).await,
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "position {}", x.position);
    }
    drop((first, second, single));
}

/// Two engines write to the same cases at the same time: every accepted command is in its
/// case exactly once and each case's stream is gapless (no lost update).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_engines_on_the_same_cases_lose_no_update() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let lines = cohort(30, 5);
    let schema = TestSchema::new(&server);
    let (first, second) = (
        Arc::new(postgres_engine(&schema).await),
        Arc::new(postgres_engine(&schema).await),
    );
    // Each engine runs the whole cohort: every command twice, from both sides at once.
    let tasks: Vec<_> = [first.clone(), second.clone()]
        .into_iter()
        .map(|engine| {
            let lines = lines.clone();
            tokio::spawn(async move { run(&engine, &lines).await })
        })
        .collect();
    let mut applied = BTreeSet::new();
    for task in tasks {
        for (line, outcome) in lines.iter().zip(task.await.unwrap()) {
            if let Ok((_, false)) = outcome {
                assert!(applied.insert(line.clone()), "applied twice: {line}");
            }
        }
    }
    let log = whole_log(first.store().as_ref()).await;
    let mut versions = std::collections::BTreeMap::<String, u64>::new();
    let mut commands = BTreeSet::new();
    for record in &log {
        let version = versions.entry(record.stream_id.clone()).or_default();
        *version += 1;
        assert_eq!(
            record.stream_version, *version,
            "gapless {}",
            record.stream_id
        );
        if record.stream_id.starts_with("audit-") {
            continue;
        }
        commands.insert(record.command_id);
    }
    let applied_ids: BTreeSet<_> = applied
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            uuid::Uuid::parse_str(value["command_id"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert!(
        applied_ids.is_subset(&commands),
        "every acknowledged command is in the log"
    );
    for crn in first.case_ids().await.unwrap() {
        assert_eq!(
            first.case(&crn).await.unwrap(),
            second.case(&crn).await.unwrap(),
            "{crn}: both engines read the same case"
        );
    }
    drop((first, second));
}

/// The outcome of one command as [`run`] reports it.
fn outcome_of(imported: &Imported) -> Outcome {
    match &imported.outcome {
        Ok(receipt) => Ok((receipt.event_types.clone(), receipt.deduplicated)),
        Err(e) => Err(caseledger::EngineError::from(e.clone()).to_string()),
    }
}

/// `lines` through the pipelined import; every outcome in input order.
async fn import_pipelined(engine: &Engine, lines: &[String]) -> Vec<Outcome> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(lines.len().max(1));
    for (index, line) in lines.iter().enumerate() {
        let envelope = parse_command_with_header(line).expect("a command");
        let item = ImportItem {
            line: index as u64 + 1,
            envelope,
        };
        sender.send(item).await.unwrap();
    }
    drop(sender);
    let mut outcomes = Vec::new();
    let mut durable = |group: Vec<Imported>| -> Result<(), ()> {
        for (expected_line, imported) in (outcomes.len() as u64 + 1..).zip(&group) {
            assert_eq!(imported.line, expected_line, "outcomes come in input order");
        }
        outcomes.extend(group.iter().map(outcome_of));
        Ok(())
    };
    let end = engine
        .import_commands(&mut receiver, &|_| None, &mut durable)
        .await
        .unwrap();
    assert_eq!(end, ImportEnd::Completed);
    outcomes
}

/// The cohort through the one-command path on `one_by_one` and pipelined on `pipelined`, then
/// all of it again on both (repeats): the same outcomes and the same log, record for record.
async fn assert_pipelined_import_writes_the_one_command_log(
    one_by_one: &Engine,
    pipelined: &Engine,
    lines: &[String],
) {
    for round in ["first run", "re-run"] {
        let expected = run(one_by_one, lines).await;
        let imported = import_pipelined(pipelined, lines).await;
        assert_eq!(imported.len(), lines.len(), "{round}");
        for ((line, a), b) in lines.iter().zip(&expected).zip(&imported) {
            assert_eq!(a, b, "{round}: {line}");
        }
        if round == "re-run" {
            assert!(
                imported.iter().all(|o| !matches!(o, Ok((_, false)))),
                "a re-run writes nothing"
            );
        } else {
            assert!(
                imported.iter().any(|o| o.is_err()),
                "some commands are refused"
            );
        }
    }
    let (a, b) = (
        whole_log(one_by_one.store().as_ref()).await,
        whole_log(pipelined.store().as_ref()).await,
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "position {}", x.position);
    }
}

/// The cohort with every 25th command sent again under a fresh command id: the rules refuse
/// some (a case opened twice) and accept others (another appointment), so refusals land in
/// the middle of groups.
fn cohort_with_resends(people: u64, seed: u64) -> Vec<String> {
    let mut lines = Vec::new();
    for (index, line) in cohort(people, seed).into_iter().enumerate() {
        if index % 25 == 24 {
            let mut value: serde_json::Value = serde_json::from_str(&line).unwrap();
            value["command_id"] = uuid::Uuid::from_u128(0x5e_0000 + index as u128)
                .to_string()
                .into();
            lines.push(line);
            lines.push(value.to_string());
        } else {
            lines.push(line);
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipelined_import_writes_the_one_command_log_in_memory() {
    let lines = cohort_with_resends(120, 7);
    let one_by_one = memory_engine();
    let pipelined = sharing_keys(memory_engine(), &one_by_one);
    assert_pipelined_import_writes_the_one_command_log(&one_by_one, &pipelined, &lines).await;
    assert_eq!(export(&one_by_one).await, export(&pipelined).await);
}

fn sled_engine(dir: &std::path::Path) -> Engine {
    let options = SledOptions {
        clock: Arc::new(ManualClock::new(RECORDED_AT_US)),
        ..SledOptions::default()
    };
    Engine::with_store(Arc::new(SledStore::open(dir, options).expect("open sled")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipelined_import_writes_the_one_command_log_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let lines = cohort_with_resends(30, 7);
    let one_by_one = sled_engine(&dir.path().join("one"));
    let pipelined = sharing_keys(sled_engine(&dir.path().join("pipelined")), &one_by_one);
    assert_pipelined_import_writes_the_one_command_log(&one_by_one, &pipelined, &lines).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipelined_import_writes_the_one_command_log_on_postgres() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let lines = cohort_with_resends(24, 7);
    let (a, b) = (TestSchema::new(&server), TestSchema::new(&server));
    let one_by_one = postgres_engine(&a).await;
    let pipelined = sharing_keys(postgres_engine(&b).await, &one_by_one);
    assert_pipelined_import_writes_the_one_command_log(&one_by_one, &pipelined, &lines).await;
    drop((one_by_one, pipelined));
}
