//! Erasure (ERASE-1; docs/operations.md "Erasure") through the Engine on every backend: the
//! memory store, sled and the real local PostgreSQL server. `PersonalDataErased` is recorded,
//! then the person's data key is destroyed; the data protection officer alone may; an erased
//! case is erased again as a no-op that destroys the key again (finishing an erasure
//! interrupted between the two); an unknown CRN is refused naming it; the chain stays
//! verifiable against a root taken before the erasure.
//!
//! PostgreSQL is required: unreachable means these tests FAIL (see `pg_support`).

mod engine_support;
mod pg_support;

use caseledger::commands::handler::CommandError;
use caseledger::commands::{parse_command, CommandEnvelope};
use caseledger::domain::sealable::Sealable;
use caseledger::replay::verify::Checkpoint;
use caseledger::store::crypto::Kek;
use caseledger::store::keystore::SubjectKey;
use caseledger::store::{DataKeyEntry, StreamId};
use caseledger::{Engine, EngineConfig};
use engine_support::*;
use serde_json::json;
use uuid::Uuid;

const CRN: &str = "E100001";

fn erase_line(id: u128, crn: &str, role: &str) -> String {
    command_with_id(
        Uuid::from_u128(id),
        crn,
        role,
        "nps",
        "2026-12-06",
        json!({"type": "erase_personal_data", "crn": crn, "on": "2026-12-06",
               "reason": "retention ended (RET-1)"}),
    )
}

fn envelope(line: &str) -> CommandEnvelope {
    parse_command(line).expect("a valid command")
}

async fn data_key(engine: &Engine, crn: &str) -> DataKeyEntry {
    let stream = StreamId::new(crn).unwrap();
    engine.store().key_store().data_key(&stream).await.unwrap()
}

/// A case opened and sentenced, whose person has a data key.
async fn case_with_a_data_key(engine: &Engine) {
    for line in [
        as_case_administrator(CRN, "2022-03-01", open_case(CRN, 79, "2022-03-01")),
        as_court_officer(CRN, "2022-03-01", community_order("2022-03-01")),
    ] {
        engine.execute_json(&line).await.expect("applied");
    }
    let stream = StreamId::new(CRN).unwrap();
    engine.keyring().key_for_sealing(&stream).await.unwrap();
    assert!(matches!(
        data_key(engine, CRN).await,
        DataKeyEntry::Wrapped(_)
    ));
}

async fn root_now(engine: &Engine) -> Checkpoint {
    let outcome = engine.verify(None).await.unwrap();
    assert!(outcome.is_ok());
    Checkpoint {
        root: outcome.root,
        position: outcome.head,
    }
}

/// The whole story on one engine (one backend).
async fn erasure_story(engine: &Engine) {
    case_with_a_data_key(engine).await;
    let before = engine.case(CRN).await.unwrap().expect("the case");
    let published = root_now(engine).await;

    // Another role: refused (403 over HTTP), nothing written to the case, the key lives.
    let refused = engine
        .execute(&envelope(&erase_line(1, CRN, "senior_probation_officer")))
        .await
        .unwrap_err();
    let CommandError::Refused(refusal) = &refused else {
        panic!("{refused:?}")
    };
    assert!(refusal.reason.contains("erase_personal_data"), "{refused}");
    assert!(matches!(
        data_key(engine, CRN).await,
        DataKeyEntry::Wrapped(_)
    ));
    assert_eq!(engine.case(CRN).await.unwrap().unwrap(), before);

    // The data protection officer: recorded, then the key is destroyed.
    let receipt = engine
        .execute(&envelope(&erase_line(2, CRN, "data_protection_officer")))
        .await
        .expect("erased");
    assert_eq!(receipt.event_types, ["PersonalDataErased"]);
    assert!(!receipt.deduplicated);
    assert_eq!(data_key(engine, CRN).await, DataKeyEntry::Destroyed);
    let stream = StreamId::new(CRN).unwrap();
    assert!(matches!(
        engine.keyring().key_for_reading(&stream).await.unwrap(),
        Some(SubjectKey::Destroyed)
    ));
    let after = engine.case(CRN).await.unwrap().unwrap();
    assert_eq!(after.person, Some(Sealable::Erased));
    assert_eq!(
        after.personal_data_erased_on,
        Some(jiff::civil::date(2026, 12, 6))
    );
    assert_eq!(after.sentences, before.sentences, "every other fact stays");
    assert_eq!(after.opened_on, before.opened_on);
    assert_eq!(after.version, before.version + 1);

    // The chain is intact and extends the root published before the erasure.
    let outcome = engine.verify(Some(published)).await.unwrap();
    assert!(outcome.is_ok(), "{:?}", outcome.first_bad);

    // Erased again (another command id): nothing written, the first erasure's receipt.
    let head = engine.store().head().await.unwrap();
    let again = engine
        .execute(&envelope(&erase_line(3, CRN, "data_protection_officer")))
        .await
        .expect("a no-op");
    assert!(again.deduplicated);
    assert_eq!(again.first_position, receipt.first_position);
    assert_eq!(
        engine.store().head().await.unwrap(),
        head,
        "nothing written"
    );

    // An unknown CRN: refused naming it, nothing erased, no case made.
    let unknown = engine
        .execute(&envelope(&erase_line(
            4,
            "E199999",
            "data_protection_officer",
        )))
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("E199999"), "{unknown}");
    assert!(engine.case("E199999").await.unwrap().is_none());
    assert_eq!(data_key(engine, "E199999").await, DataKeyEntry::Absent);
}

/// A crash between recording the erasure and destroying the key leaves the key live; the
/// next erase destroys it and writes nothing.
async fn an_interrupted_erasure_is_finished_by_the_next(engine: &Engine) {
    const CRASHED: &str = "E100002";
    for line in [as_case_administrator(
        CRASHED,
        "2022-03-01",
        open_case(CRASHED, 79, "2022-03-01"),
    )] {
        engine.execute_json(&line).await.expect("applied");
    }
    let stream = StreamId::new(CRASHED).unwrap();
    engine.keyring().key_for_sealing(&stream).await.unwrap();
    // The first step alone, as an erasure that stopped before the key was destroyed.
    engine
        .handler()
        .execute_erasure(&envelope(&erase_line(
            10,
            CRASHED,
            "data_protection_officer",
        )))
        .await
        .expect("recorded");
    assert!(matches!(
        data_key(engine, CRASHED).await,
        DataKeyEntry::Wrapped(_)
    ));
    let head = engine.store().head().await.unwrap();
    let finished = engine
        .execute(&envelope(&erase_line(
            11,
            CRASHED,
            "data_protection_officer",
        )))
        .await
        .expect("finished");
    assert!(finished.deduplicated);
    assert_eq!(data_key(engine, CRASHED).await, DataKeyEntry::Destroyed);
    assert_eq!(
        engine.store().head().await.unwrap(),
        head,
        "nothing written"
    );
}

#[tokio::test]
async fn erase_1_on_the_memory_store() {
    let engine = Engine::open_async(EngineConfig::memory()).await.unwrap();
    erasure_story(&engine).await;
    an_interrupted_erasure_is_finished_by_the_next(&engine).await;
}

#[tokio::test]
async fn erase_1_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig::sled(dir.path().join("data")).with_kek(Kek::ephemeral());
    let engine = Engine::open_async(config).await.unwrap();
    erasure_story(&engine).await;
    an_interrupted_erasure_is_finished_by_the_next(&engine).await;
}

#[tokio::test]
async fn erase_1_on_postgres() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let schema = pg_support::TestSchema::new(&server);
    let config = EngineConfig::postgres(&schema.url())
        .unwrap()
        .with_kek(Kek::ephemeral());
    let engine = Engine::open_async(config).await.unwrap();
    erasure_story(&engine).await;
    an_interrupted_erasure_is_finished_by_the_next(&engine).await;
}

/// Without a key-encryption key there is no data key to destroy: refused, saying so, and
/// nothing is recorded on the case.
#[tokio::test]
async fn erase_1_without_a_key_encryption_key_is_refused_saying_so() {
    let store = std::sync::Arc::new(caseledger::store::MemoryStore::new(std::sync::Arc::new(
        caseledger::store::SystemClock,
    )));
    // The case is written by an engine with keys; another engine over the same store has no
    // key-encryption key.
    let writer = Engine::with_store(store.clone());
    writer
        .execute_json(&as_case_administrator(
            CRN,
            "2022-03-01",
            open_case(CRN, 79, "2022-03-01"),
        ))
        .await
        .expect("applied");
    let before = writer.case(CRN).await.unwrap().unwrap();
    let engine = Engine::with_store_and_kek(store, None).await.unwrap();
    let e = engine
        .execute(&envelope(&erase_line(1, CRN, "data_protection_officer")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no key-encryption key"), "{e}");
    assert_eq!(writer.case(CRN).await.unwrap().unwrap(), before);
}
