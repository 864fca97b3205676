//! Golden byte fixtures: encoded records committed under `fixtures/golden/` must decode to
//! the same envelope, re-encode to the same bytes and keep their hashes — forever. If this
//! test fails, the on-disk format or the hash changed: that breaks every existing log. Add a
//! new format version instead (see `codec.rs`).
//!
//! The fixtures were written once with `CASELEDGER_BLESS_GOLDEN=1 cargo test -p
//! caseledger-store --test golden`; never re-bless existing files.

use std::path::PathBuf;

use caseledger_store::{codec, hash, Actor, RecordedEvent};
use uuid::Uuid;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/golden")
}

/// The records the fixtures hold: position 1 with empty optional fields, position 2 with every
/// field used (non-ASCII text in actor fields, negative effective time, a decision ruleset).
fn expected_records() -> Vec<RecordedEvent> {
    let mut first = RecordedEvent {
        position: 1,
        stream_id: "X123456".into(),
        stream_version: 1,
        recorded_at_us: 1_711_929_600_000_000,
        event_id: Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0001),
        event_type: "SentenceImposed".into(),
        schema_version: 1,
        effective_at_us: 1_711_843_200_000_000,
        actor: Actor {
            id: "court-B01EF".into(),
            role: "Court".into(),
            organisation: "HMCTS".into(),
        },
        command_id: Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0002),
        correlation_id: Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0003),
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: Vec::new(),
        previous_hash: [0; 32],
        hash: [0; 32],
    };
    hash::seal(&mut first, hash::GENESIS_HASH).unwrap();
    let mut second = RecordedEvent {
        position: 2,
        stream_id: "X123456".into(),
        stream_version: 2,
        recorded_at_us: 1_711_929_600_000_001,
        event_id: Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0004),
        event_type: "HandoverDatesCalculated".into(),
        schema_version: 3,
        effective_at_us: -86_400_000_000,
        actor: Actor {
            id: "pom-Zoë".into(),
            role: "POM".into(),
            organisation: "HMP Brixton (BXI)".into(),
        },
        command_id: Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0005),
        correlation_id: Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0003),
        causation_id: Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0001),
        ruleset_id: "omic-handover-2023-04".into(),
        payload: (0u8..=255).collect(),
        previous_hash: [0; 32],
        hash: [0; 32],
    };
    hash::seal(&mut second, first.hash).unwrap();
    vec![first, second]
}

#[test]
fn golden_records_decode_reencode_and_keep_their_hashes_forever() {
    let dir = golden_dir();
    let bless = std::env::var("CASELEDGER_BLESS_GOLDEN").is_ok_and(|v| v == "1");
    let expected = expected_records();
    for record in &expected {
        let file = dir.join(format!("record-v1-position-{}.bin", record.position));
        let hash_file = dir.join(format!("record-v1-position-{}.sha256", record.position));
        if bless && !file.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, codec::encode_record(record).unwrap()).unwrap();
            std::fs::write(&hash_file, hex::encode(record.hash) + "\n").unwrap();
        }
        let bytes = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("golden fixture {} missing ({e})", file.display()));
        assert_eq!(
            bytes[0],
            codec::RECORD_FORMAT_V1,
            "leading format version byte"
        );
        let decoded = codec::decode_record(&bytes).expect("golden bytes decode");
        assert_eq!(
            &decoded,
            record,
            "golden record {} decodes to the envelope",
            file.display()
        );
        assert_eq!(
            codec::encode_record(&decoded).unwrap(),
            bytes,
            "re-encoding is byte-identical"
        );
        let stored_hash = std::fs::read_to_string(&hash_file).unwrap();
        assert_eq!(stored_hash.trim(), hex::encode(decoded.hash));
        assert_eq!(
            hash::record_hash(&decoded).unwrap(),
            decoded.hash,
            "hash recomputes"
        );
    }
    let report = hash::verify_chain(None, &expected);
    assert!(report.is_ok() && report.records_checked == 2);
}
