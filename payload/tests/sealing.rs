//! Personal data in payloads is sealed with the person's data key (docs/decisions/0009):
//! `encode` refuses a known person, `seal` seals it, `decode` gives it withheld and `open`
//! gives it known with a live key, erased with a destroyed one, withheld without one.

use caseledger_domain::event::CaseOpened;
use caseledger_domain::identity::{Crn, Gender, Person, PersonName};
use caseledger_domain::reference::Pdu;
use caseledger_domain::sealable::Sealable;
use caseledger_domain::Event;
use caseledger_payload::{decode, encode, is_sealed, needs_sealing, open, seal, stored_json};
use caseledger_store::crypto::DataKey;
use caseledger_store::keystore::SubjectKey;

fn opened() -> Event {
    Event::CaseOpened(CaseOpened {
        crn: Crn::new("X123456").unwrap(),
        person: Sealable::Known(Person {
            name: PersonName::new("Alex Example").unwrap(),
            date_of_birth: jiff::civil::date(1990, 5, 4),
            gender: Gender::Male,
        }),
        pdu: Pdu::new(1).unwrap(),
        team: None,
        opened_on: jiff::civil::date(2016, 3, 1),
    })
}

fn person(event: &Event) -> &Sealable<Person> {
    match event {
        Event::CaseOpened(e) => &e.person,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_known_person_is_never_written_in_plaintext() {
    let err = encode(&opened()).unwrap_err().to_string();
    assert!(err.contains("sealed with the person's data key"), "{err}");
    assert!(needs_sealing(&opened()));
}

#[test]
fn a_sealed_person_decodes_withheld_and_opens_only_with_the_live_key_of_its_case() {
    let key = SubjectKey::Live(DataKey::generate());
    let sealed = seal(&opened(), "X123456", &key).unwrap().into_owned();
    assert!(!needs_sealing(&sealed));
    let encoded = encode(&sealed).unwrap();
    assert_eq!(encoded.schema_version, 3);
    assert!(is_sealed(encoded.event_type, encoded.schema_version));
    let text = String::from_utf8_lossy(&encoded.bytes);
    assert!(!text.contains("Alex") && !text.contains("1990"), "{text}");
    let json = stored_json("CaseOpened", 3, &encoded.bytes)
        .unwrap()
        .to_string();
    assert!(!json.contains("Alex") && !json.contains("1990"), "{json}");

    let decoded = decode("CaseOpened", 3, &encoded.bytes).unwrap();
    assert_eq!(person(&decoded).state_name(), "withheld");
    let read = |key: Option<&SubjectKey>| open(decoded.clone(), "X123456", key);
    assert_eq!(read(Some(&key)).unwrap(), opened());
    assert_eq!(person(&read(None).unwrap()).state_name(), "withheld");
    let erased = read(Some(&SubjectKey::Destroyed)).unwrap();
    assert_eq!(person(&erased), &Sealable::Erased);
    // Another person's key, or the right key for another case: an error, never data.
    let other = SubjectKey::Live(DataKey::generate());
    assert!(read(Some(&other)).is_err());
    assert!(open(decoded.clone(), "X654321", Some(&key)).is_err());
}

#[test]
fn nothing_personal_is_sealed_again_for_an_erased_person() {
    let err = seal(&opened(), "X123456", &SubjectKey::Destroyed).unwrap_err();
    assert!(err.to_string().contains("erased"), "{err}");
}

/// The keys a reader must fetch: the subjects of the sealed records only, each once.
#[test]
fn sealed_subjects_are_those_of_the_sealed_records_each_once() {
    use caseledger_store::{Actor, RecordedEvent};
    let record = |stream: &str, event_type: &str, schema_version: u16| RecordedEvent {
        position: 1,
        stream_id: stream.into(),
        stream_version: 1,
        recorded_at_us: 0,
        event_id: Default::default(),
        event_type: event_type.into(),
        schema_version,
        effective_at_us: 0,
        actor: Actor::default(),
        command_id: Default::default(),
        correlation_id: Default::default(),
        causation_id: Default::default(),
        ruleset_id: String::new(),
        payload: Vec::new(),
        previous_hash: [0; 32],
        hash: [0; 32],
    };
    let records = [
        record("X000001", "CaseOpened", 3),
        record("X000002", "CaseOpened", 2),
        record("X000003", "TierCalculated", 1),
        record("X000004", "CaseOpened", 3),
        record("X000001", "CaseOpened", 3),
    ];
    let subjects = caseledger_payload::sealed_subjects(&records).unwrap();
    let names: Vec<&str> = subjects.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["X000001", "X000004"]);
}
