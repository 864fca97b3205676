//! The Engine on PostgreSQL, end to end against the real local server:
//! the seed 001 escalation story gives the same log as on sled, `advance_to` applies what
//! falls due once (also from a second engine sharing the log), and a projections rebuild over
//! the PostgreSQL log gives the same digests as over a sled log fed the same commands.
//!
//! The server is required: unreachable means these tests FAIL (see `pg_support`).

mod engine_support;
mod pg_support;

use std::sync::Arc;

use caseledger::projections::{rebuild_read_models, NoProgress};
use caseledger::store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger::store::{
    Durability, EventStore, ManualClock, RecordedEvent, SledOptions, SledStore,
};
use caseledger::{Engine, EngineConfig};
use engine_support::*;
use jiff::civil::date;
use pg_support::TestSchema;
use serde_json::json;
use uuid::Uuid;

/// Nottingham City (TOM Annex C), served by DLNR CRC in the TR era (seed 001 l.10).
const NOTTINGHAM_CITY: u8 = 79;
/// Both logs are recorded at this one instant, so that equal decisions give byte-equal
/// records (recorded_at is in every record and its hash).
const RECORDED_AT_US: i64 = 1_700_000_000_000_000;

/// What each command did: its event types, or the refusal text.
type Outcome = Result<Vec<String>, String>;

async fn postgres_engine(schema: &TestSchema) -> Engine {
    let config = PostgresConfig::from_url(&schema.url()).unwrap();
    let clock = Arc::new(ManualClock::new(RECORDED_AT_US));
    let store = PostgresStore::open(config, clock, PostgresOptions::default())
        .await
        .expect("open the PostgreSQL store");
    Engine::with_store(Arc::new(store))
}

fn sled_engine(dir: &std::path::Path) -> Engine {
    let options = SledOptions {
        durability: Durability::Flush,
        clock: Arc::new(ManualClock::new(RECORDED_AT_US)),
    };
    Engine::with_store(Arc::new(SledStore::open(dir, options).unwrap()))
}

async fn run(engine: &Engine, lines: &[String]) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        out.push(match engine.execute_json(line).await {
            Ok(receipt) => Ok(receipt.event_types),
            Err(e) => Err(e.to_string()),
        });
    }
    out
}

async fn whole_log(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut records = Vec::new();
    let mut from = 1;
    // Bounded: the logs here are a few hundred records.
    for _ in 0..1_000 {
        let page = store.read_all(from, 4_096).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        records.extend(page);
    }
    records
}

/// A command with a fixed id, so both backends see byte-equal commands.
fn line(
    id: u128,
    crn: &str,
    role: &str,
    organisation: &str,
    on: &str,
    body: serde_json::Value,
) -> String {
    command_with_id(Uuid::from_u128(id), crn, role, organisation, on, body)
}

/// Seed 001 l.55–68 (BR-A2, BR-A7–A11) for case `crn`; command ids from `base`.
fn escalation_story(base: u128, crn: &str) -> Vec<String> {
    let allocate = |on: &str| {
        json!({"type": "allocate_to_provider", "on": on, "crc": "DLNR CRC",
               "deportation_order": false, "notoriety": false})
    };
    vec![
        line(
            base,
            crn,
            "case_administrator",
            "nps",
            "2016-03-01",
            open_case(crn, NOTTINGHAM_CITY, "2016-03-01"),
        ),
        line(
            base + 1,
            crn,
            "court_officer",
            "court",
            "2016-03-01",
            community_order("2016-03-01"),
        ),
        line(
            base + 2,
            crn,
            "probation_officer",
            "nps",
            "2016-03-02",
            assess("2016-03-02", "initial", "medium"),
        ),
        line(
            base + 3,
            crn,
            "probation_officer",
            "nps",
            "2016-03-03",
            allocate("2016-03-03"),
        ),
        line(
            base + 4,
            crn,
            "probation_officer",
            "crc:DLNR CRC",
            "2016-09-01",
            json!({"type": "request_risk_escalation", "on": "2016-09-01", "proposed_rosh": "high",
                   "evidence": "new intelligence from police"}),
        ),
        // BR-A11: only the NPS decides; refused and recorded.
        line(
            base + 5,
            crn,
            "senior_probation_officer",
            "crc:DLNR CRC",
            "2016-09-05",
            json!({"type": "decide_risk_escalation", "on": "2016-09-05", "confirmed_rosh": "high"}),
        ),
        line(
            base + 6,
            crn,
            "probation_officer",
            "nps",
            "2016-09-06",
            json!({"type": "decide_risk_escalation", "on": "2016-09-06", "confirmed_rosh": "high"}),
        ),
        line(
            base + 7,
            crn,
            "probation_officer",
            "nps",
            "2017-02-01",
            assess("2017-02-01", "review", "medium"),
        ),
        // BR-A10: the case stays with the NPS until the order ends; refused.
        line(
            base + 8,
            crn,
            "probation_officer",
            "nps",
            "2017-02-02",
            allocate("2017-02-02"),
        ),
        line(
            base + 9,
            crn,
            "court_officer",
            "court",
            "2017-09-01",
            json!({"type": "terminate_sentence", "on": "2017-09-01", "sentence_id": 1, "reason": "expired"}),
        ),
        line(
            base + 10,
            crn,
            "court_officer",
            "court",
            "2018-01-10",
            community_order("2018-01-10"),
        ),
        line(
            base + 11,
            crn,
            "probation_officer",
            "nps",
            "2018-01-11",
            allocate("2018-01-11"),
        ),
    ]
}

/// A determinate custodial sentence in 2020 (OMiC 2019): handover-rules.md §7.3–7.4 put the
/// COM allocation at CRD − 7m15d and the responsibility transfer at CRD − 4m15d.
fn custodial_story(base: u128, crn: &str) -> Vec<String> {
    vec![
        line(
            base,
            crn,
            "court_officer",
            "court",
            "2020-03-02",
            open_case(crn, NOTTINGHAM_CITY, "2020-03-02"),
        ),
        line(
            base + 1,
            crn,
            "court_officer",
            "court",
            "2020-03-02",
            json!({"type": "impose_sentence", "on": "2020-03-02", "sentence_type": "determinate_custody",
                   "court": "Nottingham Crown Court", "length_months": 36,
                   "dates": {"conditional_release_date": "2021-08-30", "sentence_expiry_date": "2023-03-01"},
                   "requirements": []}),
        ),
        line(
            base + 2,
            crn,
            "probation_officer",
            "nps",
            "2020-03-03",
            assess("2020-03-03", "initial", "high"),
        ),
        // High RoSH: the NPS keeps the case (BR-A3) whichever CRC is named.
        line(
            base + 3,
            crn,
            "probation_officer",
            "nps",
            "2020-03-04",
            json!({"type": "allocate_to_provider", "on": "2020-03-04", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
        ),
        line(
            base + 4,
            crn,
            "senior_probation_officer",
            "nps",
            "2020-03-05",
            json!({"type": "allocate_practitioner", "on": "2020-03-05", "team": "N07-T1",
                   "practitioner": {"staff_code": "N07P001", "name": "Jo Officer", "grade": "PO"}}),
        ),
    ]
}

#[tokio::test]
async fn br_a10_seed_001_escalation_story_on_postgres_gives_the_same_log_as_on_sled() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let schema = TestSchema::new(&server);
    let sled_dir = tempfile::tempdir().unwrap();
    let crn = "N100001";
    let story = escalation_story(1_000, crn);

    let postgres = postgres_engine(&schema).await;
    let on_postgres = run(&postgres, &story).await;
    // Sealing with the PostgreSQL log's keys: the same keys give the same sealed bytes.
    let sled = Engine::with_store_and_keyring(
        sled_engine(sled_dir.path()).store().clone(),
        postgres.keyring().clone(),
    );
    let on_sled = run(&sled, &story).await;

    // The story's own checks, on PostgreSQL.
    assert!(
        on_postgres[5].as_ref().unwrap_err().contains("BR-A11"),
        "{:?}",
        on_postgres[5]
    );
    assert!(
        on_postgres[6]
            .as_ref()
            .unwrap()
            .iter()
            .any(|t| t == "CaseTransferredToNps"),
        "{:?}",
        on_postgres[6]
    );
    assert!(
        on_postgres[8].as_ref().unwrap_err().contains("BR-A10"),
        "{:?}",
        on_postgres[8]
    );
    let case = postgres.case(crn).await.unwrap().expect("the case exists");
    assert!(
        case.provider.as_ref().is_some_and(|p| p.is_crc()),
        "after the order ended: {:?}",
        case.provider
    );
    assert_eq!(postgres.refusals().await.unwrap().len(), 2);

    // The same outcome as on sled: every answer, the state, and the log byte for byte
    // (positions, versions, event ids, payloads, hash chain).
    assert_eq!(on_postgres, on_sled);
    assert_eq!(
        postgres.case(crn).await.unwrap(),
        sled.case(crn).await.unwrap()
    );
    assert_eq!(
        postgres.refusals().await.unwrap(),
        sled.refusals().await.unwrap()
    );
    let postgres_log = whole_log(postgres.store().as_ref()).await;
    let sled_log = whole_log(sled.store().as_ref()).await;
    assert!(postgres_log.len() >= 14, "{} records", postgres_log.len());
    assert_eq!(postgres_log, sled_log);
    assert!(postgres.store().verify(1, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn advance_to_on_postgres_applies_what_falls_due_once_from_any_engine_on_the_log() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let schema = TestSchema::new(&server);
    let crn = "C200001";
    // Opened the way a service does: from the URL, with the system clock and a KEK.
    let kek = caseledger::store::crypto::Kek::ephemeral();
    let config = EngineConfig::postgres(&schema.url()).unwrap();
    let first = Engine::open_async(config.clone().with_kek(kek.clone()))
        .await
        .unwrap();
    for outcome in run(&first, &custodial_story(2_000, crn)).await {
        outcome.expect("accepted");
    }
    let before = first.advance_to(date(2021, 1, 14)).await.unwrap();
    assert_eq!(before.cases, 1);
    assert!(
        before.applied.is_empty(),
        "nothing due before the start date: {before:?}"
    );

    // A second engine on the same log (another service instance) sees the case, applies
    // what is due, and the first engine's later tick finds it recorded.
    let second = Engine::open_async(config.with_kek(kek)).await.unwrap();
    let report = second.advance_to(date(2021, 5, 1)).await.unwrap();
    let applied: Vec<&str> = report
        .applied
        .iter()
        .flat_map(|r| r.event_types.iter().map(String::as_str))
        .collect();
    assert_eq!(
        applied,
        [
            "CommunityOffenderManagerAllocated",
            "ResponsibilityTransferred"
        ],
        "{report:?}"
    );
    let events = first.case_events(crn).await.unwrap();
    // A case opened later by the second engine is found by the first one's next tick: the
    // first engine's case index catches up from the shared log.
    for outcome in run(&second, &custodial_story(3_000, "C200002")).await {
        outcome.expect("accepted");
    }
    let again = first.advance_to(date(2021, 6, 1)).await.unwrap();
    assert_eq!(again.cases, 2);
    let applied_again: Vec<&str> = again.applied.iter().map(|r| r.crn.as_str()).collect();
    assert_eq!(
        applied_again,
        ["C200002", "C200002"],
        "only the new case: {again:?}"
    );
    assert_eq!(first.case_events(crn).await.unwrap().len(), events.len());
    assert!(first.store().verify(1, None).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_rebuild_over_the_postgres_log_gives_the_same_digests_as_over_sled() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let schema = TestSchema::new(&server);
    let dirs = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..3u32 {
        lines.extend(escalation_story(
            10_000 + u128::from(i) * 100,
            &format!("N1{:05}", i),
        ));
        lines.extend(custodial_story(
            20_000 + u128::from(i) * 100,
            &format!("C2{:05}", i),
        ));
    }
    let postgres = postgres_engine(&schema).await;
    let sled = sled_engine(&dirs.path().join("sled"));
    let mut digests = Vec::new();
    for engine in [&postgres, &sled] {
        run(engine, &lines).await;
        let tick = engine.advance_to(date(2021, 5, 1)).await.unwrap();
        assert_eq!(tick.cases, 6);
        assert_eq!(
            tick.applied.len(),
            6,
            "COM + transfer for each custodial case"
        );
    }
    for (engine, name) in [(&postgres, "pg-readmodels"), (&sled, "sled-readmodels")] {
        let reports = rebuild_read_models(
            engine.store().as_ref(),
            &engine.case_projection(),
            &dirs.path().join(name),
            Default::default(),
            &mut NoProgress,
        )
        .await
        .unwrap();
        let head = engine.store().head().await.unwrap();
        assert!(reports.iter().all(|r| r.checkpoint == head));
        digests.push(
            reports
                .into_iter()
                .map(|r| (r.projection, r.digests))
                .collect::<Vec<_>>(),
        );
    }
    assert!(!digests[0].is_empty() && !digests[0][0].1.is_empty());
    assert_eq!(digests[0], digests[1]);
}

/// On PostgreSQL as on sled: the store records the KEK an engine opens it with and refuses
/// another engine without it or with another (naming the id), and retention (RET-1) and
/// subject access read the shared log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kek_retention_and_subject_access_work_on_postgres() {
    use caseledger::store::crypto::Kek;
    use caseledger::store::KeyringError;
    let Some(server) = pg_support::server() else {
        return;
    };
    let schema = TestSchema::new(&server);
    let open = |kek: Option<Kek>| {
        let url = schema.url();
        async move {
            let config = PostgresConfig::from_url(&url).unwrap();
            let clock = Arc::new(ManualClock::new(RECORDED_AT_US));
            let store = PostgresStore::open(config, clock, PostgresOptions::default())
                .await
                .expect("open the PostgreSQL store");
            Engine::with_store_and_kek(Arc::new(store), kek).await
        }
    };
    let kek = Kek::ephemeral();
    let engine = open(Some(kek.clone()))
        .await
        .expect("a fresh schema takes a KEK");
    let crn = "P310001";
    let lines = [
        as_case_administrator(
            crn,
            "2016-03-01",
            open_case(crn, NOTTINGHAM_CITY, "2016-03-01"),
        ),
        as_court_officer(crn, "2016-03-01", community_order("2016-03-01")),
        as_court_officer(
            crn,
            "2017-09-01",
            json!({"type": "terminate_sentence", "on": "2017-09-01", "sentence_id": 1, "reason": "expired"}),
        ),
        as_court_officer(
            crn,
            "2017-09-01",
            json!({"type": "close_case", "on": "2017-09-01", "reason": "all sentences ended"}),
        ),
    ];
    for outcome in run(&engine, &lines).await {
        outcome.expect("every command applies");
    }
    let rule = caseledger::domain::retention::RetentionRule::years_after_closure(6).unwrap();
    let due = engine.retention_due(rule, date(2023, 9, 1)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].crn.as_str(), due[0].retention_ended_on),
        (crn, date(2023, 9, 1))
    );
    assert!(engine
        .retention_due(rule, date(2023, 8, 31))
        .await
        .unwrap()
        .is_empty());
    let access = engine
        .subject_access(crn)
        .await
        .unwrap()
        .expect("the case exists");
    assert_eq!(access.events[0].event_type, "CaseOpened");
    assert!(access.events.iter().any(|e| e.event_type == "CaseClosed"));
    assert_eq!(access.case.closed_on, Some(date(2017, 9, 1)));
    drop(engine);

    match open(None).await {
        Err(caseledger::engine::EngineError::Keyring(KeyringError::MissingKek { expected })) => {
            assert_eq!(&expected, kek.id())
        }
        other => panic!("no KEK must be refused, got {:?}", other.err()),
    }
    let wrong = Kek::ephemeral();
    match open(Some(wrong)).await {
        Err(caseledger::engine::EngineError::Keyring(KeyringError::WrongKek {
            expected, ..
        })) => {
            assert_eq!(&expected, kek.id())
        }
        other => panic!("another KEK must be refused, got {:?}", other.err()),
    }
    open(Some(kek)).await.expect("the right KEK opens");
}
