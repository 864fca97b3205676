//! End-to-end stories through the Engine: seed 001's escalation, seed 000's Herefordshire
//! split, and refused commands.

mod engine_support;

use caseledger::commands::{CommandError, RefusalKind};
use caseledger::domain::reference::Provider;
use caseledger::{Engine, EngineConfig, EngineError};
use engine_support::*;
use serde_json::json;

const CRC_DLNR: &str = "crc:DLNR CRC";
/// Nottingham City (TOM Annex C), served by DLNR CRC in the TR era (seed 001 l.10).
const NOTTINGHAM_CITY: u8 = 79;
/// Herefordshire, Shropshire and Telford, served by People Plus (West Mercia CRC), seed 000 l.7.
const HEREFORDSHIRE: u8 = 78;

async fn ok(engine: &Engine, line: String) -> caseledger::commands::Receipt {
    match engine.execute_json(&line).await {
        Ok(receipt) => receipt,
        Err(e) => panic!("command refused: {e}\n{line}"),
    }
}

async fn allocate_to_provider(engine: &Engine, crn: &str, on: &str, crc: &str) -> Provider {
    ok(
        engine,
        as_probation_officer(
            crn,
            on,
            json!({"type": "allocate_to_provider", "on": on, "crc": crc,
                   "deportation_order": false, "notoriety": false}),
        ),
    )
    .await;
    engine
        .case(crn)
        .await
        .unwrap()
        .unwrap()
        .provider
        .expect("allocated")
}

/// Seed 001 l.55–68 (BR-A2, A7–A11): a CRC case whose RoSH rises to high is escalated, the NPS
/// confirms, the case moves to the NPS, RoSH later falls to medium and the case stays with the
/// NPS until the order ends.
#[tokio::test]
async fn br_a10_seed_001_escalation_story_case_stays_with_nps_until_order_ends() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "N100001";
    ok(
        &engine,
        as_case_administrator(
            crn,
            "2016-03-01",
            open_case(crn, NOTTINGHAM_CITY, "2016-03-01"),
        ),
    )
    .await;
    ok(
        &engine,
        as_court_officer(crn, "2016-03-01", community_order("2016-03-01")),
    )
    .await;
    // BR-A2: the NPS does the initial assessment; medium RoSH goes to the CRC (BR-A3, BR-A5).
    ok(
        &engine,
        as_probation_officer(crn, "2016-03-02", assess("2016-03-02", "initial", "medium")),
    )
    .await;
    let provider = allocate_to_provider(&engine, crn, "2016-03-03", "DLNR CRC").await;
    assert!(matches!(provider, Provider::Crc(ref name) if name.as_str() == "DLNR CRC"));

    // BR-A7/A8: the CRC believes RoSH has risen to high and escalates.
    ok(
        &engine,
        command(
            crn,
            "probation_officer",
            CRC_DLNR,
            "2016-09-01",
            json!({"type": "request_risk_escalation", "on": "2016-09-01", "proposed_rosh": "high",
               "evidence": "new intelligence from police"}),
        ),
    )
    .await;
    // BR-A11: only the NPS decides; the CRC's own decision is refused and recorded.
    let refused = engine
        .execute_json(&command(
            crn,
            "senior_probation_officer",
            CRC_DLNR,
            "2016-09-05",
            json!({"type": "decide_risk_escalation", "on": "2016-09-05", "confirmed_rosh": "high"}),
        ))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("BR-A11"), "{refused}");
    // BR-A9: the NPS confirms high; the case transfers to the NPS.
    let receipt = ok(
        &engine,
        as_probation_officer(
            crn,
            "2016-09-06",
            json!({"type": "decide_risk_escalation", "on": "2016-09-06", "confirmed_rosh": "high"}),
        ),
    )
    .await;
    assert!(
        receipt
            .event_types
            .iter()
            .any(|t| t == "CaseTransferredToNps"),
        "{receipt:?}"
    );
    let case = engine.case(crn).await.unwrap().unwrap();
    assert_eq!(case.provider, Some(Provider::Nps));

    // RoSH later falls to medium: the case stays with the NPS (BR-A10, seed 001 l.67).
    ok(
        &engine,
        as_probation_officer(crn, "2017-02-01", assess("2017-02-01", "review", "medium")),
    )
    .await;
    let case = engine.case(crn).await.unwrap().unwrap();
    assert_eq!(case.risk.rosh.map(|r| r.as_str()), Some("medium"));
    assert_eq!(case.provider, Some(Provider::Nps));
    let back_to_crc = engine
        .execute_json(&as_probation_officer(
            crn,
            "2017-02-02",
            json!({"type": "allocate_to_provider", "on": "2017-02-02", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
        ))
        .await
        .unwrap_err();
    assert!(back_to_crc.to_string().contains("BR-A10"), "{back_to_crc}");

    // The order ends; a new order assessed medium may go to the CRC again.
    ok(&engine, as_court_officer(crn,"2017-09-01",
        json!({"type": "terminate_sentence", "on": "2017-09-01", "sentence_id": 1, "reason": "expired"}))).await;
    ok(
        &engine,
        as_court_officer(crn, "2018-01-10", community_order("2018-01-10")),
    )
    .await;
    let provider = allocate_to_provider(&engine, crn, "2018-01-11", "DLNR CRC").await;
    assert!(
        provider.is_crc(),
        "after the order ended the ratchet is released: {provider:?}"
    );
}

/// Seed 000 l.8–9 (BR-A3, BR-A4): in Herefordshire the NPS assesses at court and allocates
/// lower-risk cases to the CRC; high RoSH and MAPPA-eligible cases stay with the NPS.
#[tokio::test]
async fn br_a3_br_a4_seed_000_herefordshire_split() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crc = "People Plus (West Mercia CRC)";
    let cases = [
        ("H100001", "low", false, true),
        ("H100002", "medium", false, true),
        ("H100003", "high", false, false),
        ("H100004", "medium", true, false),
    ];
    for (crn, rosh, mappa, to_crc) in cases {
        ok(
            &engine,
            as_court_officer(
                crn,
                "2016-12-06",
                open_case(crn, HEREFORDSHIRE, "2016-12-06"),
            ),
        )
        .await;
        ok(
            &engine,
            as_court_officer(crn, "2016-12-06", community_order("2016-12-06")),
        )
        .await;
        ok(
            &engine,
            as_probation_officer(crn, "2016-12-06", assess("2016-12-06", "initial", rosh)),
        )
        .await;
        if mappa {
            ok(
                &engine,
                as_probation_officer(
                    crn,
                    "2016-12-06",
                    json!({"type": "screen_for_mappa", "on": "2016-12-06", "eligible": true,
                       "category": 2, "recommended_level": 1}),
                ),
            )
            .await;
        }
        let provider = allocate_to_provider(&engine, crn, "2016-12-07", crc).await;
        assert_eq!(
            provider.is_crc(),
            to_crc,
            "{crn} RoSH {rosh} MAPPA {mappa}: {provider:?}"
        );
        let events = engine.case_events(crn).await.unwrap();
        let allocation = events
            .iter()
            .find(|e| e.event_type == "CaseAllocatedToProvider")
            .unwrap();
        // Invariant 5: the decision carries its actor and ruleset.
        assert_eq!(allocation.ruleset_id, "tr-2014");
        assert_eq!(allocation.actor.organisation, "nps");
    }
}

async fn assert_refused_writes_nothing(
    engine: &Engine,
    crn: &str,
    line: String,
    kind: RefusalKind,
) {
    let before = engine.case_events(crn).await.unwrap();
    let refusals_before = engine.refusals().await.unwrap().len();
    let error = engine.execute_json(&line).await.unwrap_err();
    let after = engine.case_events(crn).await.unwrap();
    assert_eq!(
        before, after,
        "a refused command wrote to the case: {error}"
    );
    let refusals = engine.refusals().await.unwrap();
    assert_eq!(
        refusals.len(),
        refusals_before + 1,
        "refusal not recorded: {error}"
    );
    let last = refusals.last().unwrap();
    assert_eq!(last.kind, kind, "{error}");
    assert_eq!(last.crn, crn);
    assert!(!last.reason.is_empty());
    // Re-sending the same refused command records nothing more (idempotent by command id).
    let _ = engine.execute_json(&line).await.unwrap_err();
    assert_eq!(engine.refusals().await.unwrap().len(), refusals_before + 1);
}

#[tokio::test]
async fn refused_commands_write_nothing_to_the_case_and_are_recorded() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "N100002";
    ok(
        &engine,
        as_case_administrator(
            crn,
            "2022-03-01",
            open_case(crn, NOTTINGHAM_CITY, "2022-03-01"),
        ),
    )
    .await;
    ok(
        &engine,
        as_court_officer(crn, "2022-03-01", community_order("2022-03-01")),
    )
    .await;

    // Wrong role: an inspector may read but never write.
    assert_refused_writes_nothing(
        &engine,
        crn,
        command(
            crn,
            "inspector",
            "hmi_probation",
            "2022-03-02",
            assess("2022-03-02", "initial", "low"),
        ),
        RefusalKind::Unauthorised,
    )
    .await;
    // Wrong role: only a senior probation officer overrides responsibility.
    assert_refused_writes_nothing(
        &engine,
        crn,
        as_probation_officer(
            crn,
            "2022-03-02",
            json!({"type": "override_responsibility", "on": "2022-03-02", "sentence_id": 1,
                   "to": "community", "reason": "moved to open prison"}),
        ),
        RefusalKind::Unauthorised,
    )
    .await;
    // Wrong state: no escalation in the unified era; no second opening.
    assert_refused_writes_nothing(
        &engine,
        crn,
        as_probation_officer(
            crn,
            "2022-03-02",
            json!({"type": "decide_risk_escalation", "on": "2022-03-02", "confirmed_rosh": "high"}),
        ),
        RefusalKind::Rule,
    )
    .await;
    assert_refused_writes_nothing(
        &engine,
        crn,
        as_case_administrator(
            crn,
            "2022-03-02",
            open_case(crn, NOTTINGHAM_CITY, "2022-03-02"),
        ),
        RefusalKind::Rule,
    )
    .await;
    // Bad input: a RoSH that does not exist; a fact dated after the command's effective date.
    assert_refused_writes_nothing(
        &engine,
        crn,
        as_probation_officer(
            crn,
            "2022-03-02",
            assess("2022-03-02", "initial", "extreme"),
        ),
        RefusalKind::BadInput,
    )
    .await;
    assert_refused_writes_nothing(
        &engine,
        crn,
        as_probation_officer(crn, "2022-03-02", assess("2022-04-02", "initial", "low")),
        RefusalKind::Rule,
    )
    .await;

    let error = engine
        .execute_json(&as_probation_officer(
            crn,
            "2022-03-02",
            assess("2022-03-02", "initial", "extreme"),
        ))
        .await
        .unwrap_err();
    match error {
        EngineError::BadCommand {
            error,
            audit_position,
        } => {
            assert_eq!(error.field, "command.rosh");
            assert!(audit_position.is_some());
        }
        other => panic!("expected a bad command, got {other}"),
    }
}

#[tokio::test]
async fn a_command_id_is_applied_once() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "N100003";
    let line = as_case_administrator(
        crn,
        "2022-03-01",
        open_case(crn, NOTTINGHAM_CITY, "2022-03-01"),
    );
    let first = ok(&engine, line.clone()).await;
    let second = ok(&engine, line).await;
    assert!(!first.deduplicated);
    assert!(second.deduplicated);
    assert_eq!(first.first_position, second.first_position);
    assert_eq!(first.last_position, second.last_position);
    assert_eq!(
        engine.case_events(crn).await.unwrap().len() as u64,
        first.stream_version
    );
}

#[tokio::test]
async fn an_unknown_case_is_none_and_a_bad_crn_is_an_error() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    assert!(engine.case("X999999").await.unwrap().is_none());
    assert!(matches!(
        engine.case("nonsense").await,
        Err(EngineError::BadCrn(_))
    ));
    let refused = engine
        .execute_json(&as_probation_officer(
            "X999999",
            "2022-03-02",
            assess("2022-03-02", "initial", "low"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, EngineError::Command(CommandError::Refused(_))),
        "{refused}"
    );
    assert!(engine.case("X999999").await.unwrap().is_none());
}
