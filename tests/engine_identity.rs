//! Identity through the Engine: duplicate keys, the engine's own identity, forged derived
//! decisions, and the authenticated-actor API (`Engine::execute_as` with a `VerifiedActor`).

mod engine_support;

use caseledger::commands::audit::RefusalKind;
use caseledger::commands::handler::CommandError;
use caseledger::commands::{CommandActor, Role};
use caseledger::domain::derived::tier_command;
use caseledger::domain::event::ReasonCode;
use caseledger::{Engine, EngineConfig, EngineError, VerifiedActor};
use engine_support::*;
use serde_json::{json, Value};

const CRN: &str = "X200001";

async fn engine_with_a_case() -> Engine {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    for line in [
        as_case_administrator(CRN, "2022-03-01", open_case(CRN, 79, "2022-03-01")),
        as_court_officer(CRN, "2022-03-01", community_order("2022-03-01")),
        as_probation_officer(CRN, "2022-03-02", assess("2022-03-02", "initial", "high")),
    ] {
        engine.execute_json(&line).await.expect("accepted");
    }
    engine
}

fn bad_field(result: Result<caseledger::commands::Receipt, EngineError>) -> String {
    match result {
        Err(EngineError::BadCommand { error, .. }) => error.field,
        other => panic!("expected bad input, got {other:?}"),
    }
}

#[tokio::test]
async fn a_role_given_twice_is_refused_not_read_two_ways() {
    let engine = engine_with_a_case().await;
    let line = as_probation_officer(CRN, "2022-03-03", assess("2022-03-03", "review", "low"))
        .replace(
            "\"role\":\"probation_officer\"",
            "\"role\":\"inspector\",\"role\":\"senior_probation_officer\"",
        );
    assert!(line.contains("\"role\":\"inspector\",\"role\""), "{line}");
    let before = engine.case_events(CRN).await.unwrap().len();
    assert_eq!(bad_field(engine.execute_json(&line).await), "actor.role");
    assert_eq!(engine.case_events(CRN).await.unwrap().len(), before);
}

#[tokio::test]
async fn the_engines_own_identity_cannot_be_supplied_from_outside() {
    let engine = engine_with_a_case().await;
    let tier = json!({"type": "record_tier", "on": "2022-03-03", "tier": "A3",
        "inputs_digest": "0".repeat(64), "reason_code": "risk_assessed"});
    // In the JSON: the role `system` and the engine's actor id are bad input.
    let as_system = command(CRN, "system", "hmpps", "2022-03-03", tier.clone());
    assert_eq!(
        bad_field(engine.execute_json(&as_system).await),
        "actor.role"
    );
    let mut as_engine: Value = serde_json::from_str(&command(
        CRN,
        "service",
        "hmpps",
        "2022-03-03",
        tier.clone(),
    ))
    .unwrap();
    as_engine["actor"]["id"] = json!("caseledger");
    assert_eq!(
        bad_field(engine.execute_json(&as_engine.to_string()).await),
        "actor.id"
    );
    // Built in code, bypassing the parser: refused by the handler and recorded.
    let mut envelope =
        caseledger::commands::parse_command(&command(CRN, "service", "hmpps", "2022-03-03", tier))
            .unwrap();
    envelope.actor = CommandActor {
        id: "caseledger".into(),
        role: Role::System,
        organisation: "hmpps".into(),
    };
    let refusal = match engine.execute(&envelope).await {
        Err(CommandError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refusal.kind, RefusalKind::Unauthorised);
    assert!(
        refusal.reason.contains("engine's own"),
        "{}",
        refusal.reason
    );
    let refusals = engine.refusals().await.unwrap();
    assert_eq!(refusals.last().unwrap().command_id, envelope.command_id);
}

#[tokio::test]
async fn a_forged_tier_with_an_all_zero_digest_is_refused_and_the_engines_own_is_recorded_as_the_engines(
) {
    let engine = engine_with_a_case().await;
    let before = engine.case_events(CRN).await.unwrap().len();
    let forged = command(
        CRN,
        "service",
        "hmpps",
        "2022-03-03",
        json!({"type": "record_tier", "on": "2022-03-03", "tier": "D0",
               "inputs_digest": "0".repeat(64), "reason_code": "risk_assessed"}),
    );
    let refusal = match engine.execute_json(&forged).await {
        Err(EngineError::Command(CommandError::Refused(r))) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refusal.kind, RefusalKind::Rule);
    assert!(
        refusal.reason.contains("not what the engine derives"),
        "{}",
        refusal.reason
    );
    assert_eq!(engine.case_events(CRN).await.unwrap().len(), before);

    // What the engine derives itself is accepted from an integrated service, and recorded
    // with the engine as actor.
    let state = engine.case(CRN).await.unwrap().unwrap();
    let today = jiff::civil::date(2022, 3, 3);
    let derived = tier_command(&state, ReasonCode::new("review_due").unwrap(), today).unwrap();
    let mut envelope = caseledger::commands::parse_command(&forged).unwrap();
    envelope.command_id = uuid::Uuid::new_v4();
    envelope.command = derived;
    let receipt = engine.execute(&envelope).await.expect("accepted");
    assert_eq!(receipt.event_types, ["TierCalculated"]);
    let events = engine.case_events(CRN).await.unwrap();
    let recorded = events.last().unwrap();
    assert_eq!(recorded.actor.id, "caseledger");
    assert_eq!(recorded.actor.role, "system");
}

#[tokio::test]
async fn an_authenticated_caller_acts_only_as_itself() {
    let engine = engine_with_a_case().await;
    let actor = VerifiedActor::new("jsmith", Role::ProbationOfficer, "nps").unwrap();
    let mut body: Value = serde_json::from_str(&as_probation_officer(
        CRN,
        "2022-03-04",
        assess("2022-03-04", "review", "medium"),
    ))
    .unwrap();
    // The body names an actor: refused, recorded under the authenticated one.
    match engine.execute_as(&actor, &body.to_string()).await {
        Err(EngineError::BadCommand {
            error,
            audit_position,
        }) => {
            assert_eq!(error.field, "actor");
            assert!(audit_position.is_some());
        }
        other => panic!("expected bad input, got {other:?}"),
    }
    let refusal = engine.refusals().await.unwrap().pop().unwrap();
    assert_eq!(refusal.actor_id, "jsmith");

    body.as_object_mut().unwrap().remove("actor");
    body["command_id"] = json!(uuid::Uuid::new_v4().to_string());
    let receipt = engine.execute_as(&actor, &body.to_string()).await.unwrap();
    assert_eq!(receipt.event_types[0], "RiskAssessed");
    let events = engine.case_events(CRN).await.unwrap();
    let own = events
        .iter()
        .find(|e| e.position == receipt.first_position)
        .unwrap();
    assert_eq!(
        (own.actor.id.as_str(), own.actor.role.as_str()),
        ("jsmith", "probation_officer")
    );

    // The host cannot mint the engine's identity either.
    assert!(VerifiedActor::new("anyone", Role::System, "hmpps").is_err());
    assert!(VerifiedActor::new("caseledger", Role::Service, "hmpps").is_err());
}
