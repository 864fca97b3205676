//! Verification end to end: chain recomputed, RFC 6962 root printed with the
//! head, and `--extends ROOT@POSITION` answered for an earlier published checkpoint.

mod support;

use caseledger_domain::risk::RoshLevel;
use caseledger_domain::ruleset::RulesetId;
use caseledger_replay::merkle::MerkleAccumulator;
use caseledger_replay::verify::{verify_log, Checkpoint, Extension};
use caseledger_replay::ReplayError;
use caseledger_store::codec::encode_record;
use caseledger_store::hash::ChainVerifier;
use caseledger_store::EventStore;
use support::events::*;
use support::*;

async fn log_of(events: u32) -> TestLog {
    let mut log = new_log();
    log.open_case("X000001", "2025-01-06", actor("PO-1", "probation_officer"))
        .await;
    for i in 1..events {
        log.append(
            "X000001",
            risk_assessed("2025-01-10", RoshLevel::Medium, RulesetId::Unified2021),
            day_us("2025-01-10"),
            us("2025-01-10T10:00:00Z") + i64::from(i),
            actor("PO-1", "probation_officer"),
        )
        .await;
    }
    log
}

#[tokio::test]
async fn verify_reports_head_and_the_rfc6962_root_of_the_records() {
    let log = log_of(11).await;
    let outcome = verify_log(log.store.as_ref(), None).await.expect("verify");
    assert!(outcome.is_ok());
    assert_eq!(outcome.head, 11);
    assert_eq!(outcome.records_checked, 11);
    // The root is the tree hash of the stored records' canonical bytes, in position order.
    let mut expected = MerkleAccumulator::new();
    for record in log.store.read_all(1, 100).await.expect("read") {
        expected.push_leaf_bytes(&encode_record(&record).expect("encode"));
    }
    assert_eq!(outcome.root, expected.root());
    assert_eq!(
        outcome.checkpoint().to_string(),
        format!("{}@11", hex::encode(expected.root()))
    );
}

#[tokio::test]
async fn empty_log_verifies_with_the_empty_tree_root() {
    let log = new_log();
    let outcome = verify_log(log.store.as_ref(), None).await.expect("verify");
    assert!(outcome.is_ok());
    assert_eq!(outcome.head, 0);
    assert_eq!(
        hex::encode(outcome.root),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[tokio::test]
async fn a_grown_log_extends_its_earlier_checkpoint_and_not_a_forged_one() {
    let mut log = log_of(5).await;
    let published = verify_log(log.store.as_ref(), None)
        .await
        .expect("verify")
        .checkpoint();
    for i in 0..4 {
        log.append(
            "Y000002",
            registration_added(i, "2025-02-01"),
            day_us("2025-02-01"),
            us("2025-02-01T10:00:00Z"),
            actor("PO-2", "probation_officer"),
        )
        .await;
    }
    let later = verify_log(log.store.as_ref(), Some(published))
        .await
        .expect("verify");
    assert_eq!(later.head, 9);
    assert_ne!(later.root, published.root);
    assert_eq!(later.extension, Some((published, Extension::Extends)));
    assert!(later.is_ok());

    let mut forged = published;
    forged.root[0] ^= 1;
    let diverges = verify_log(log.store.as_ref(), Some(forged))
        .await
        .expect("verify");
    assert_eq!(
        diverges.extension,
        Some((
            forged,
            Extension::Diverges {
                root_now: published.root
            }
        ))
    );
    assert!(!diverges.is_ok());

    let beyond = Checkpoint {
        root: published.root,
        position: 50,
    };
    let shorter = verify_log(log.store.as_ref(), Some(beyond))
        .await
        .expect("verify");
    assert_eq!(
        shorter.extension,
        Some((beyond, Extension::ShorterThanCheckpoint { head: 9 }))
    );

    let genesis = Checkpoint {
        root: caseledger_replay::merkle::empty_root(),
        position: 0,
    };
    let from_start = verify_log(log.store.as_ref(), Some(genesis))
        .await
        .expect("verify");
    assert_eq!(from_start.extension, Some((genesis, Extension::Extends)));
}

#[tokio::test]
async fn chain_verifier_names_each_kind_of_damage() {
    let log = log_of(4).await;
    let records = log.store.read_all(1, 10).await.expect("read");
    let walk = |records: &[caseledger_store::RecordedEvent]| {
        let mut walker = ChainVerifier::new();
        for record in records {
            if let Err(reason) = walker.accept(record) {
                return Some((record.position, reason));
            }
        }
        None
    };
    assert_eq!(walk(&records), None);

    let mut altered = records.clone();
    altered[2].payload[0] ^= 1;
    let (position, reason) = walk(&altered).expect("altered payload found");
    assert_eq!(position, 3);
    assert!(reason.contains("recomputed"), "{reason}");

    let mut relinked = records.clone();
    relinked[1].previous_hash = [7; 32];
    let (position, reason) = walk(&relinked).expect("broken link found");
    assert_eq!(position, 2);
    assert!(reason.contains("previous_hash"), "{reason}");

    let mut gap = records.clone();
    gap.remove(1);
    let (position, reason) = walk(&gap).expect("gap found");
    assert_eq!(position, 3);
    assert!(reason.contains("position 2 was due"), "{reason}");

    let mut backwards = records;
    backwards[3].recorded_at_us = backwards[2].recorded_at_us - 1;
    let (position, reason) = walk(&backwards).expect("time going back found");
    assert_eq!(position, 4);
    assert!(reason.contains("must not decrease"), "{reason}");
}

#[test]
fn checkpoint_parses_what_verify_prints_and_refuses_the_rest() {
    let text = format!("{}@42", "ab".repeat(32));
    let checkpoint: Checkpoint = text.parse().expect("parses");
    assert_eq!(checkpoint.position, 42);
    assert_eq!(checkpoint.to_string(), text);
    for bad in [
        "",
        "abc@1",
        &"ab".repeat(32),
        &format!("{}@x", "ab".repeat(32)),
        &format!("{}@-1", "ab".repeat(32)),
        &format!("{}@1", "zz".repeat(32)),
    ] {
        let error = bad.parse::<Checkpoint>().expect_err(bad);
        assert!(
            matches!(error, ReplayError::BadCheckpoint { .. }),
            "{bad}: {error}"
        );
        assert!(error.to_string().contains("ROOT@POSITION"), "{error}");
    }
}

proptest::proptest! {
    #[test]
    fn checkpoint_parsing_never_panics(text in ".{0,100}") {
        let _ = text.parse::<Checkpoint>();
    }
}
