//! `caseledger replay | explain | verify | export | import-log` through the real binary on a
//! real sled store.

mod cli_support;

use std::sync::Arc;

use caseledger::domain::event::{Decision, ReasonCode, RiskAssessed, RoshStatus};
use caseledger::domain::identity::{Crn, Gender, Person, PersonName};
use caseledger::domain::reference::{Organisation, Pdu};
use caseledger::domain::risk::{AssessmentKind, RoshLevel};
use caseledger::domain::ruleset::RulesetId;
use caseledger::domain::Event;
use caseledger::store::{
    Actor, Clock, Durability, EventStore, ExpectedVersion, ManualClock, NewEvent, SledOptions,
    SledStore, StreamId,
};
use cli_support::{caseledger, verify_root};
use serde_json::Value;
use uuid::Uuid;

fn us(instant: &str) -> i64 {
    instant
        .parse::<jiff::Timestamp>()
        .expect("instant")
        .as_microsecond()
}

fn assessed(on: &str, rosh: RoshLevel) -> Event {
    Event::RiskAssessed(RiskAssessed {
        assessed_on: on.parse().expect("date"),
        kind: AssessmentKind::Review,
        assessed_by: Organisation::Nps,
        rosh,
        rosh_status: RoshStatus::Confirmed,
        rsr: None,
        ogrs: None,
        needs: Default::default(),
        decision: Decision {
            ruleset_id: RulesetId::Unified2021,
            reason_code: ReasonCode::new("risk_reassessed").expect("reason"),
        },
    })
}

/// A sled store with one case: opened, assessed medium in January, then a January
/// reassessment (high) recorded only in March. Returns the id of the late assessment.
async fn write_case(data: &std::path::Path) -> Uuid {
    let clock = Arc::new(ManualClock::new(0));
    let store = SledStore::open(
        data,
        SledOptions {
            durability: Durability::Flush,
            clock: clock.clone() as Arc<dyn Clock>,
        },
    )
    .expect("open sled");
    let opened = Event::CaseOpened(caseledger::domain::event::CaseOpened {
        crn: Crn::new("X000001").expect("crn"),
        person: caseledger::domain::sealable::Sealable::Known(Person {
            name: PersonName::new("Alex Example").expect("name"),
            date_of_birth: "1990-05-17".parse().expect("date"),
            gender: Gender::Male,
        }),
        pdu: Pdu::new(1).expect("pdu"),
        team: None,
        opened_on: "2025-01-06".parse().expect("date"),
    });
    let events = [
        (opened, "2025-01-06T00:00:00Z", "2025-01-06T09:00:00Z", ""),
        (
            assessed("2025-01-10", RoshLevel::Medium),
            "2025-01-10T00:00:00Z",
            "2025-01-10T10:00:00Z",
            "unified-2021",
        ),
        (
            assessed("2025-01-20", RoshLevel::High),
            "2025-01-20T00:00:00Z",
            "2025-03-03T15:00:00Z",
            "unified-2021",
        ),
    ];
    let mut last = Uuid::nil();
    for (n, (event, effective, recorded, ruleset)) in events.into_iter().enumerate() {
        last = Uuid::from_u128(n as u128 + 1);
        clock.set(us(recorded));
        // A throwaway data key: these records are written around the engine.
        let key = caseledger::store::keystore::SubjectKey::Live(
            caseledger::store::crypto::DataKey::generate(),
        );
        let encoded = caseledger::payload::encode_sealed(&event, "X000001", &key).expect("payload");
        store
            .append(
                &StreamId::new("X000001").expect("stream"),
                ExpectedVersion::Exact(n as u64),
                vec![NewEvent {
                    event_id: last,
                    event_type: encoded.event_type.to_owned(),
                    schema_version: encoded.schema_version,
                    effective_at_us: us(effective),
                    actor: Actor {
                        id: "PO-0001".into(),
                        role: "probation_officer".into(),
                        organisation: "NPS".into(),
                    },
                    command_id: Uuid::from_u128(100 + n as u128),
                    correlation_id: Uuid::from_u128(200 + n as u128),
                    causation_id: Uuid::nil(),
                    ruleset_id: ruleset.into(),
                    payload: encoded.bytes,
                }],
                None,
            )
            .await
            .expect("append");
    }
    last
}

#[tokio::test]
async fn verify_export_import_replay_and_explain_through_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source");
    let late = write_case(&source).await;

    let (code, out, err) = caseledger(&source, &["verify"]).parts();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("chain intact: 3 records checked"), "{out}");
    let checkpoint = verify_root(&out);
    assert!(checkpoint.ends_with("@3"), "{checkpoint}");

    let (code, _, err) = caseledger(&source, &["verify", "--extends", &checkpoint]).parts();
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = caseledger(
        &source,
        &["verify", "--extends", &format!("{}@3", "0".repeat(64))],
    )
    .parts();
    assert_eq!(code, 1);
    assert!(out.contains("DIVERGES"), "{out}");
    let (code, _, err) = caseledger(&source, &["verify", "--extends", "nonsense"]).parts();
    assert_eq!(
        code, 2,
        "an --extends that is not ROOT@POSITION is an unusable argument"
    );
    assert!(err.contains("ROOT@POSITION"), "{err}");

    let (code, export, err) = caseledger(&source, &["export"]).parts();
    assert_eq!(code, 0, "{err}");
    assert_eq!(export.lines().count(), 4);
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &export).expect("write export");

    let target = dir.path().join("target");
    let (code, out, err) =
        caseledger(&target, &["import-log", file.to_str().expect("path")]).parts();
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = caseledger(&target, &["verify"]).parts();
    assert_eq!(code, 0);
    assert_eq!(verify_root(&out), checkpoint, "same root after import");

    // Into a store that is not empty: refused.
    let (code, _, err) = caseledger(&target, &["import-log", file.to_str().expect("path")]).parts();
    assert_eq!(code, 1);
    assert!(err.contains("not empty"), "{err}");

    // A tampered export: refused naming the line, nothing written.
    let tampered = export.replacen("\"rosh\":\"high\"", "\"rosh\":\"low\"", 1);
    assert_ne!(tampered, export);
    let bad = dir.path().join("tampered.jsonl");
    std::fs::write(&bad, &tampered).expect("write");
    let fresh = dir.path().join("fresh");
    let (code, _, err) = caseledger(&fresh, &["import-log", bad.to_str().expect("path")]).parts();
    assert_eq!(code, 3, "an altered export line is bad input");
    assert!(err.contains("import refused at line 4"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    let (_, out, _) = caseledger(&fresh, &["verify"]).parts();
    assert!(out.contains("head position 0"), "{out}");

    // Replay, as known on 1 March and as known now.
    let (code, out, err) = caseledger(
        &source,
        &[
            "replay",
            "X000001",
            "--as-of-recorded",
            "2025-03-01",
            "--as-of-effective",
            "2025-02-01",
            "--format",
            "json",
        ],
    )
    .parts();
    assert_eq!(code, 0, "{err}");
    let history: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        history.pointer("/state/risk/rosh"),
        Some(&Value::from("medium"))
    );
    assert_eq!(history.pointer("/recorded_later"), Some(&Value::from(1)));
    let (code, out, err) = caseledger(&source, &["replay", "X000001"]).parts();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("changed /risk/rosh: \"medium\" -> \"high\""),
        "{out}"
    );
    assert!(out.contains("recorded 2025-03-03T15:00:00Z"), "{out}");
    let (code, _, err) = caseledger(&source, &["replay", "X999999"]).parts();
    assert_eq!(code, 1);
    assert!(err.contains("no case X999999"), "{err}");
    let (code, _, err) = caseledger(
        &source,
        &["replay", "X000001", "--as-of-recorded", "yesterday"],
    )
    .parts();
    assert_eq!(
        code, 2,
        "an --as-of-recorded that is not an instant is an unusable argument"
    );
    assert!(err.contains("--as-of-recorded"), "{err}");

    // Explain the late assessment (a decision without a calculator: context, no re-run).
    let (code, out, err) = caseledger(
        &source,
        &["explain", &late.to_string(), "--today", "2026-11-22"],
    )
    .parts();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("decision RiskAssessed"), "{out}");
    assert!(out.contains("reason risk_reassessed"), "{out}");
    let (code, _, err) = caseledger(&source, &["explain", "not-a-uuid"]).parts();
    assert_eq!(
        code, 2,
        "an event id that is not a UUID is an unusable argument"
    );
    assert!(err.contains("not a UUID"), "{err}");
}
