//! Shared by the import fault tests: a cohort file, and what a log says about each case
//! (every case stream's records without the fields that differ between two honest runs:
//! positions, commit times, hashes and the operator session in `correlation_id`). Two stores
//! seal a person with different data keys, so a sealed payload is compared opened.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use caseledger::commands::audit::CommandRefused;
use caseledger::store::codec::decode_payload;
use caseledger::store::{EventStore, Keyring, RecordedEvent};
use uuid::Uuid;

/// One record of a case stream, as two runs of the same commands must agree on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseRecord {
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u16,
    pub effective_at_us: i64,
    pub actor: (String, String, String),
    pub command_id: Uuid,
    pub causation_id: Uuid,
    pub ruleset_id: String,
    /// The payload bytes, or for a sealed payload the JSON of the event opened.
    pub payload: Vec<u8>,
}

impl CaseRecord {
    async fn of(r: &RecordedEvent, keys: &Keyring) -> CaseRecord {
        let payload = if caseledger::payload::is_sealed(&r.event_type, r.schema_version) {
            let stream = caseledger::store::StreamId::new(r.stream_id.as_str()).unwrap();
            keys.prefetch(&[&stream]).await.expect("the key is read");
            let event = caseledger::payload::decode_opened(
                &r.event_type,
                r.schema_version,
                &r.payload,
                &r.stream_id,
                Some(keys),
            )
            .expect("the sealed payload opens");
            serde_json::to_vec(&event).unwrap()
        } else {
            r.payload.clone()
        };
        CaseRecord {
            stream_version: r.stream_version,
            event_id: r.event_id,
            event_type: r.event_type.clone(),
            schema_version: r.schema_version,
            effective_at_us: r.effective_at_us,
            actor: (
                r.actor.id.clone(),
                r.actor.role.clone(),
                r.actor.organisation.clone(),
            ),
            command_id: r.command_id,
            causation_id: r.causation_id,
            ruleset_id: r.ruleset_id.clone(),
            payload,
        }
    }
}

/// What a log holds: every case stream, and every refusal (command id, kind, reason).
#[derive(Debug, PartialEq, Eq)]
pub struct LogContents {
    pub cases: BTreeMap<String, Vec<CaseRecord>>,
    pub refusals: BTreeMap<Uuid, String>,
}

/// Read the whole log, opening sealed payloads with `keys`.
pub async fn contents(store: &dyn EventStore, keys: &Keyring) -> LogContents {
    let mut cases: BTreeMap<String, Vec<CaseRecord>> = BTreeMap::new();
    let mut refusals = BTreeMap::new();
    let mut from = 1;
    loop {
        let page = store.read_all(from, 4096).await.expect("read the log");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for record in &page {
            match record.stream_id.as_str() {
                caseledger::commands::SESSIONS_STREAM => {}
                caseledger::commands::REFUSALS_STREAM => {
                    let refused: CommandRefused = decode_payload(&record.payload).unwrap();
                    refusals.insert(
                        refused.command_id,
                        format!("{:?}: {}", refused.kind, refused.reason),
                    );
                }
                stream => cases
                    .entry(stream.to_owned())
                    .or_default()
                    .push(CaseRecord::of(record, keys).await),
            }
        }
    }
    LogContents { cases, refusals }
}

/// Write a synthetic cohort of `people` (fixtures, seed 7) to `path`; returns its line count.
pub fn write_cohort(path: &Path, people: u64) -> usize {
    let mut bytes = Vec::new();
    caseledger::fixtures::generate(people, 7, &mut bytes).expect("generate");
    std::fs::write(path, &bytes).unwrap();
    bytes.iter().filter(|b| **b == b'\n').count()
}

/// Assert two logs hold the same cases and refusals, naming the first case that differs.
pub fn assert_same(clean: &LogContents, other: &LogContents) {
    assert_eq!(
        clean.cases.keys().collect::<Vec<_>>(),
        other.cases.keys().collect::<Vec<_>>(),
        "the same cases"
    );
    for (crn, records) in &clean.cases {
        let theirs = &other.cases[crn];
        for (a, b) in records.iter().zip(theirs) {
            assert_eq!(a, b, "case {crn}, version {}", a.stream_version);
        }
        assert_eq!(records.len(), theirs.len(), "case {crn}: number of events");
    }
    assert_eq!(clean.refusals, other.refusals, "the same refusals");
}
