//! The upcaster of a real second version, and bad input: every unknown or damaged
//! (type, version, bytes) is a typed error naming the type and version, never a panic.

use caseledger_domain::event::SentencePlanCreated;
use caseledger_domain::sentence::SentenceId;
use caseledger_domain::testing::{full_lifecycle, run};
use caseledger_domain::{Event, EVENT_TYPES};
use caseledger_payload::upcast::sentence_plan_created::{upcast_v1_to_v2, SentencePlanCreatedV1};
use caseledger_payload::{
    decode, encode, encode_sealed, from_stored_json, stored_json, PayloadError,
};
use caseledger_store::crypto::DataKey;
use caseledger_store::keystore::SubjectKey;
use proptest::prelude::*;

fn v1_record(v1: &SentencePlanCreatedV1) -> Vec<u8> {
    // Version 1 as it was stored: the frozen variant index 42, then the struct.
    let mut bytes = 42u32.to_le_bytes().to_vec();
    bytes.extend(caseledger_store::codec::encode_payload(v1).unwrap());
    bytes
}

/// BR-E2 (seed 003 l.791): a plan recorded at version 1 reads as version 2 with no working
/// days since the sentence; one decided now records them.
#[test]
fn br_e2_a_version_1_sentence_plan_upcasts_to_version_2_without_working_days() {
    let v1 = SentencePlanCreatedV1 {
        sentence_id: SentenceId(3),
        created_on: jiff::civil::date(2019, 4, 1),
        service_user_involved: false,
    };
    let expected = SentencePlanCreated {
        sentence_id: SentenceId(3),
        created_on: jiff::civil::date(2019, 4, 1),
        service_user_involved: false,
        working_days_since_sentence: None,
    };
    assert_eq!(upcast_v1_to_v2(v1.clone()), expected);
    let stored = v1_record(&v1);
    assert_eq!(
        decode("SentencePlanCreated", 1, &stored).unwrap(),
        Event::SentencePlanCreated(expected.clone())
    );
    // Export shows version 1's own fields, and import writes the same bytes back.
    let json = stored_json("SentencePlanCreated", 1, &stored).unwrap();
    assert!(json.get("working_days_since_sentence").is_none(), "{json}");
    assert_eq!(
        from_stored_json("SentencePlanCreated", 1, &json).unwrap(),
        stored
    );
    // Version 2 bytes of the same plan are another shape: read as version 1 they are refused.
    let v2 = encode(&Event::SentencePlanCreated(expected)).unwrap();
    assert_eq!(v2.schema_version, 2);
    assert!(decode("SentencePlanCreated", 1, &v2.bytes).is_err());

    let (_, events) = run(full_lifecycle());
    let decided = events
        .iter()
        .find_map(|e| match e {
            Event::SentencePlanCreated(p) => Some(p),
            _ => None,
        })
        .expect("the sample life plans a sentence");
    assert!(decided.working_days_since_sentence.is_some(), "{decided:?}");
}

#[test]
fn unknown_types_and_versions_are_typed_errors_naming_them() {
    let err = decode("CaseOpenedd", 2, &[]).unwrap_err();
    assert!(matches!(err, PayloadError::UnknownType { .. }), "{err}");
    assert!(err.to_string().contains("CaseOpenedd v2"), "{err}");
    for version in [0, 4, u16::MAX] {
        let err = decode("CaseOpened", version, &[]).unwrap_err();
        assert!(
            matches!(err, PayloadError::UnknownVersion { current: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("CaseOpened v{version}")));
    }
    let err = decode("RiskAssessed", 1, &[1, 0]).unwrap_err();
    assert!(
        err.to_string()
            .contains("shorter than the 4-byte variant index"),
        "{err}"
    );
}

#[test]
fn truncated_or_extended_payloads_of_every_type_are_corrupt_not_a_panic() {
    let (_, events) = run(full_lifecycle());
    let key = SubjectKey::Live(DataKey::generate());
    for event in &events {
        let encoded = encode_sealed(event, "X123456", &key).unwrap();
        let mut longer = encoded.bytes.clone();
        longer.push(0);
        for bytes in [&encoded.bytes[..encoded.bytes.len() - 1], &longer[..]] {
            let err = decode(encoded.event_type, encoded.schema_version, bytes).unwrap_err();
            assert!(matches!(err, PayloadError::Corrupt { .. }), "{err}");
            assert!(err.to_string().starts_with(&format!(
                "{} v{}:",
                encoded.event_type, encoded.schema_version
            )));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_bytes_never_panic(
        type_index in 0usize..EVENT_TYPES.len(),
        version in 0u16..4,
        bytes in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let event_type = EVENT_TYPES[type_index];
        if let Ok(event) = decode(event_type, version, &bytes) {
            prop_assert_eq!(event.event_type(), event_type);
        }
        let _ = stored_json(event_type, version, &bytes);
    }
}
