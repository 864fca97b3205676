//! A log written when every payload was `bincode(Event)` (fixtures/legacy-log, schema version
//! 1 of every type) opens with today's code and replays identically: the same head, Merkle
//! root and intact chain from `verify`, the same read-model digests from `rebuild`, the same
//! case states, and the same history — its sentence plans read through the version 1 → 2
//! upcaster, which supplies no working days since the sentence — and it exports and imports
//! into a copy with the same root.

mod cli_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use caseledger::store::codec::decode_record;
use caseledger::store::hash::ChainVerifier;
use caseledger::store::{
    Clock, Durability, EventStore, ExpectedVersion, ManualClock, RecordedEvent, SledOptions,
    SledStore, StreamId,
};
use cli_support::caseledger;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/legacy-log")
        .join(name)
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// The stored records, each a u32 little-endian length and the record's bytes, chain checked.
fn legacy_records() -> Vec<RecordedEvent> {
    let bytes = std::fs::read(fixture("records.bin")).expect("records.bin");
    let mut rest = &bytes[..];
    let mut chain = ChainVerifier::new();
    let mut records = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let (record, tail) = tail.split_at(u32::from_le_bytes(*len) as usize);
        let record = decode_record(record).expect("a stored record");
        chain.accept(&record).expect("the chain holds");
        records.push(record);
        rest = tail;
    }
    assert!(rest.is_empty());
    records
}

/// Put the records into a fresh sled store at `data`, each at its own position and recorded
/// time, and check the store holds exactly them (hashes included).
async fn write_store(data: &Path, records: &[RecordedEvent]) {
    let clock = Arc::new(ManualClock::new(0));
    let store = SledStore::open(
        data,
        SledOptions {
            durability: Durability::Flush,
            clock: clock.clone() as Arc<dyn Clock>,
        },
    )
    .expect("open sled");
    for r in records {
        clock.set(r.recorded_at_us);
        let event = r.as_appended();
        let stream = StreamId::new(r.stream_id.clone()).expect("stream");
        let expected = ExpectedVersion::Exact(r.stream_version - 1);
        let result = store
            .append(&stream, expected, vec![event], None)
            .await
            .expect("append");
        assert_eq!(result.first_position, r.position);
    }
    let mut stored = Vec::new();
    loop {
        let page = store
            .read_all(stored.len() as u64 + 1, 500)
            .await
            .expect("read");
        if page.is_empty() {
            break;
        }
        stored.extend(page);
    }
    assert_eq!(
        stored, records,
        "the store holds the legacy records byte for byte"
    );
}

/// `caseledger --data DATA ARGS…`'s stdout, insisting it exits 0.
fn cli(data: &Path, args: &[&str]) -> String {
    let (code, out, err) = caseledger(data, args).parts();
    assert_eq!(code, 0, "caseledger {args:?}: {err}");
    out
}

/// The history today's code shows: the legacy binary's, with the field version 2 of
/// `SentencePlanCreated` added, as the upcaster supplies it.
fn expected_replay() -> Value {
    let mut replay: Value = serde_json::from_str(&read_fixture("replay-A000004.json")).unwrap();
    let mut upcast = 0;
    for entry in replay["entries"].as_array_mut().expect("entries") {
        if entry["event_type"] == "SentencePlanCreated" {
            entry["payload"]["working_days_since_sentence"] = Value::Null;
            upcast += 1;
        }
    }
    assert!(upcast > 0, "the fixture case has a sentence plan");
    replay
}

#[test]
fn a_log_written_with_the_first_payload_encoding_opens_and_replays_identically() {
    let records = legacy_records();
    assert!(records.iter().all(|r| r.schema_version == 1));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(write_store(&data, &records));

    assert_eq!(cli(&data, &["verify"]), read_fixture("verify.txt"));
    let digests: String = cli(&data, &["rebuild", "--digest"])
        .lines()
        .filter(|l| !l.starts_with("rebuilt"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(digests, read_fixture("digests.txt"));
    for line in read_fixture("cases.jsonl").lines() {
        let expected: Value = serde_json::from_str(line).unwrap();
        let crn = expected["crn"].as_str().expect("crn");
        let now: Value = serde_json::from_str(&cli(&data, &["case", crn])).unwrap();
        assert_eq!(now, expected, "case {crn}");
    }
    let replay = cli(&data, &["replay", "A000004", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&replay).unwrap(),
        expected_replay()
    );

    // Export shows each record in its own version's shape; import writes back the same bytes.
    let export = dir.path().join("log.jsonl");
    std::fs::write(&export, cli(&data, &["export"])).unwrap();
    let copy = dir.path().join("copy");
    cli(&copy, &["import-log", export.to_str().unwrap()]);
    assert_eq!(cli(&copy, &["verify"]), read_fixture("verify.txt"));
}
