//! Golden payload bytes of every event type at every schema version
//! (fixtures/golden/payloads): the current version's bytes are what `encode` writes, and every
//! version decodes, through the upcasters, to the event its `.json` names.
//!
//! `<Type>.v<N>.bin` holds the payload bytes, `<Type>.v<N>.json` the event (current shape) it
//! must decode to. The `.bin` of an older version is never rewritten. After a deliberate change
//! of a current shape (a new version, docs/event-catalogue.md "Evolving an event"), run
//! `CASELEDGER_REGENERATE_GOLDEN_PAYLOADS=1 cargo test -p caseledger-payload --test golden`:
//! it writes the current version's `.bin` and every `.json`, and the test then fails until it
//! is run again without the variable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use caseledger_domain::event::PayloadVisitor;
use caseledger_domain::testing::{full_lifecycle, run};
use caseledger_domain::{Event, EVENT_TYPES};
use caseledger_payload::upcast::case_opened::CaseOpenedV3;
use caseledger_payload::{decode, encode, from_stored_json, seal, stored_json, V1_VARIANT_ORDER};
use caseledger_store::crypto::DataKey;
use caseledger_store::keystore::SubjectKey;
use serde_json::Value;

const REGENERATE: &str = "CASELEDGER_REGENERATE_GOLDEN_PAYLOADS";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/golden/payloads")
}

fn regenerating() -> bool {
    std::env::var_os(REGENERATE).is_some()
}

/// The first event of each type in the domain's sample life (which emits every type), its
/// personal data sealed with a fixed key so the sealed bytes are reproducible.
fn samples() -> BTreeMap<&'static str, Event> {
    let (_, events) = run(full_lifecycle());
    let mut samples = BTreeMap::new();
    let key = SubjectKey::Live(DataKey::from_bytes([0x42; 32]));
    for event in events {
        let sealed = seal(&event, "X123456", &key).expect("seals").into_owned();
        samples.entry(event.event_type()).or_insert(sealed);
    }
    assert_eq!(samples.len(), EVENT_TYPES.len(), "a type has no sample");
    samples
}

fn bin(event_type: &str, version: u16) -> PathBuf {
    dir().join(format!("{event_type}.v{version}.bin"))
}

fn read_bin(event_type: &str, version: u16) -> Vec<u8> {
    let path = bin(event_type, version);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The payload fields of `event` (its JSON without the enum's tag).
fn fields(event: &Event) -> Value {
    serde_json::to_value(event).expect("JSON")[event.event_type()].clone()
}

#[test]
fn golden_payloads_of_the_current_version_are_what_encode_writes() {
    for (event_type, sample) in samples() {
        let encoded = encode(&sample).expect("encodes");
        assert_eq!(encoded.event_type, event_type);
        assert_eq!(encoded.schema_version, sample.schema_version());
        if regenerating() {
            std::fs::write(bin(event_type, encoded.schema_version), &encoded.bytes).unwrap();
            continue;
        }
        assert_eq!(
            encoded.bytes,
            read_bin(event_type, encoded.schema_version),
            "{event_type} v{}: the payload bytes changed; a stored record's meaning would \
             change. Add a version instead (docs/event-catalogue.md \"Evolving an event\")",
            encoded.schema_version
        );
    }
    assert!(
        !regenerating(),
        "regenerated; run again without {REGENERATE}"
    );
}

#[test]
fn every_golden_payload_decodes_through_the_upcasters_to_its_expected_event() {
    if regenerating() {
        // The current version's bytes first: the tests run in parallel.
        for (event_type, sample) in samples() {
            let encoded = encode(&sample).expect("encodes");
            std::fs::write(bin(event_type, encoded.schema_version), &encoded.bytes).unwrap();
        }
    }
    for event_type in EVENT_TYPES {
        let current = Event::current_schema_version(event_type).expect("known type");
        for version in 1..=current {
            let bytes = read_bin(event_type, version);
            let event = decode(event_type, version, &bytes)
                .unwrap_or_else(|e| panic!("{event_type} v{version}: {e}"));
            assert_eq!(event.event_type(), *event_type);
            let json_path = bin(event_type, version).with_extension("json");
            if regenerating() {
                let text = serde_json::to_string_pretty(&fields(&event)).unwrap() + "\n";
                std::fs::write(&json_path, text).unwrap();
                continue;
            }
            let expected: Value =
                serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
            assert_eq!(fields(&event), expected, "{event_type} v{version}");
            // Export shows the stored shape and import writes back the very bytes.
            let json = stored_json(event_type, version, &bytes).unwrap();
            assert_eq!(from_stored_json(event_type, version, &json).unwrap(), bytes);
        }
    }
    assert!(
        !regenerating(),
        "regenerated; run again without {REGENERATE}"
    );
}

/// The u32 a legacy (version 1) payload starts with is the FROZEN table's index of its type,
/// whatever `Event`'s order is now; every legacy type is still an event type.
#[test]
fn the_frozen_v1_variant_order_matches_the_legacy_golden_payloads() {
    for (index, event_type) in V1_VARIANT_ORDER.iter().enumerate() {
        assert!(EVENT_TYPES.contains(event_type), "{event_type} is gone");
        let bytes = read_bin(event_type, 1);
        assert_eq!(bytes[..4], (index as u32).to_le_bytes(), "{event_type}");
    }
}

/// The payload struct alone, with the store codec's options: what a current payload must be.
struct StructAlone;

impl PayloadVisitor for StructAlone {
    type Output = Vec<u8>;
    fn visit<T: serde::Serialize>(self, payload: &T) -> Vec<u8> {
        caseledger_store::codec::encode_payload(payload).expect("encodes")
    }
}

/// The payload struct alone of `sample`; a case opening's through its stored shape (its
/// person is a sealable datum, which no binary format writes by itself).
fn struct_alone(sample: &Event) -> Vec<u8> {
    match sample {
        Event::CaseOpened(opened) => {
            caseledger_store::codec::encode_payload(&stored(opened)).expect("encodes")
        }
        _ => sample.visit_payload(StructAlone),
    }
}

fn stored(opened: &caseledger_domain::event::CaseOpened) -> CaseOpenedV3 {
    caseledger_payload::upcast::case_opened::to_stored(opened).expect("a sealed person")
}

/// An enum like `Event` with a variant inserted in the middle and the order changed.
#[derive(serde::Serialize)]
enum Reordered<'a> {
    SentencePlanCreated(&'a caseledger_domain::event::SentencePlanCreated),
    Inserted(u8),
    CaseOpened(&'a CaseOpenedV3),
}

/// Reordering `Event`'s variants or inserting one cannot change a stored record's meaning:
/// a current payload is its struct alone (no variant index anywhere in it), its envelope's
/// type name selects the decoder, and version 1 reads its index through the frozen table.
#[test]
fn reordering_or_inserting_event_variants_cannot_change_a_stored_payload() {
    let samples = samples();
    for (event_type, sample) in &samples {
        let encoded = encode(sample).unwrap();
        assert_eq!(encoded.bytes, struct_alone(sample), "{event_type}");
        if let Event::CaseOpened(opened) = sample {
            // The domain's event holds a sealable person: a binary format refuses it whole.
            assert!(caseledger_store::codec::encode_payload(sample).is_err());
            assert!(
                caseledger_store::codec::encode_payload(&Reordered::CaseOpened(&stored(opened)))
                    .is_ok()
            );
            continue;
        }
        let as_enum = caseledger_store::codec::encode_payload(sample).unwrap();
        assert_eq!(
            as_enum[4..],
            encoded.bytes[..],
            "{event_type}: only the index differs"
        );
    }
    // Under a reordered enum with an inserted variant the index moves; the payload does not.
    let (Event::SentencePlanCreated(plan), Event::CaseOpened(opened)) =
        (&samples["SentencePlanCreated"], &samples["CaseOpened"])
    else {
        panic!("samples");
    };
    let moved =
        caseledger_store::codec::encode_payload(&Reordered::CaseOpened(&stored(opened))).unwrap();
    assert_eq!(moved[..4], 2u32.to_le_bytes());
    assert_eq!(
        moved[4..],
        encode(&samples["CaseOpened"]).unwrap().bytes[..]
    );
    let first = caseledger_store::codec::encode_payload(&Reordered::SentencePlanCreated(plan));
    assert_eq!(first.unwrap()[..4], 0u32.to_le_bytes());
    let inserted = caseledger_store::codec::encode_payload(&Reordered::Inserted(0)).unwrap();
    assert_eq!(inserted[..4], 1u32.to_le_bytes());
    // A legacy payload read as another type is refused, not reinterpreted.
    let opened_v1 = read_bin("CaseOpened", 1);
    let err = decode("SentencePlanCreated", 1, &opened_v1).unwrap_err();
    assert!(
        err.to_string()
            .contains("variant index is 0 (CaseOpened), not 42 (SentencePlanCreated)"),
        "{err}"
    );
}
