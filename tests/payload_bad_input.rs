//! A stored payload this code cannot read — an unknown schema version, or bytes that are not
//! the version they claim — is a typed error naming the record's position, event type and
//! version from every reader of the real binary, never a panic.

mod cli_support;

use std::sync::Arc;

use caseledger::store::{
    Actor, Clock, Durability, EventStore, ExpectedVersion, ManualClock, NewEvent, SledOptions,
    SledStore, StreamId,
};
use cli_support::caseledger;
use uuid::Uuid;

fn opened() -> caseledger::domain::Event {
    use caseledger::domain::identity::{Crn, Gender, Person, PersonName};
    caseledger::domain::Event::CaseOpened(caseledger::domain::event::CaseOpened {
        crn: Crn::new("X000001").expect("crn"),
        person: caseledger::domain::sealable::Sealable::Known(Person {
            name: PersonName::new("Alex Example").expect("name"),
            date_of_birth: "1990-05-17".parse().expect("date"),
            gender: Gender::Male,
        }),
        pdu: caseledger::domain::reference::Pdu::new(1).expect("pdu"),
        team: None,
        opened_on: "2025-01-06".parse().expect("date"),
    })
}

/// A case whose second record is `event_type` v`schema_version` with `payload`.
async fn write(data: &std::path::Path, event_type: &str, schema_version: u16, payload: Vec<u8>) {
    let clock = Arc::new(ManualClock::new(1_736_150_400_000_000));
    let store = SledStore::open(
        data,
        SledOptions {
            durability: Durability::Flush,
            clock: clock as Arc<dyn Clock>,
        },
    )
    .expect("open sled");
    // A throwaway data key: these records are written around the engine.
    let key = caseledger::store::keystore::SubjectKey::Live(
        caseledger::store::crypto::DataKey::generate(),
    );
    let good = caseledger::payload::encode_sealed(&opened(), "X000001", &key).expect("payload");
    let record = |n: u128, event_type: &str, schema_version: u16, payload: Vec<u8>| NewEvent {
        event_id: Uuid::from_u128(n),
        event_type: event_type.to_owned(),
        schema_version,
        effective_at_us: 1_736_150_400_000_000,
        actor: Actor {
            id: "PO-0001".into(),
            role: "probation_officer".into(),
            organisation: "NPS".into(),
        },
        command_id: Uuid::from_u128(100 + n),
        correlation_id: Uuid::from_u128(200 + n),
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload,
    };
    let events = vec![
        record(1, good.event_type, good.schema_version, good.bytes),
        record(2, event_type, schema_version, payload),
    ];
    let stream = StreamId::new("X000001").expect("stream");
    store
        .append(&stream, ExpectedVersion::NoStream, events, None)
        .await
        .expect("append");
}

#[test]
fn an_unreadable_payload_is_an_error_naming_its_position_type_and_version() {
    let cases: [(&str, u16, Vec<u8>, &str); 3] = [
        (
            "SentencePlanCreated",
            9,
            vec![1, 2, 3],
            "SentencePlanCreated v9",
        ),
        (
            "SentencePlanCreated",
            2,
            vec![1, 2, 3],
            "SentencePlanCreated v2",
        ),
        ("RiskAssessed", 1, vec![0, 0, 0, 0], "RiskAssessed v1"),
    ];
    for (event_type, version, payload, named) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(write(&data, event_type, version, payload));
        for args in [
            vec!["case", "X000001"],
            vec!["replay", "X000001"],
            vec!["rebuild"],
        ] {
            let (code, _, err) = caseledger(&data, &args).parts();
            assert!(code != 0 && code != 101, "{args:?}: exit {code}: {err}");
            assert!(err.contains("position 2"), "{args:?}: {err}");
            assert!(err.contains(named), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{args:?}: {err}");
        }
    }
}
