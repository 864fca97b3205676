//! Bad input through the Engine: dates outside 1900..=2100 (INPUT-DATE), the nil UUID as
//! command id (INPUT-ID) and a sentence before the age of criminal responsibility (ACR-1) are
//! refused with the field named, and nothing is written to the case.

mod engine_support;

use caseledger::commands::audit::RefusalKind;
use caseledger::commands::handler::CommandError;
use caseledger::{Engine, EngineConfig, EngineError};
use engine_support::*;
use serde_json::json;
use uuid::Uuid;

const NOTTINGHAM_CITY: u8 = 79;

fn open_line(crn: &str, on: &str, born: &str) -> String {
    as_case_administrator(crn, on, open_case(crn, NOTTINGHAM_CITY, on)).replace("1985-04-02", born)
}

/// The field a bad command was refused for, and whether its refusal was recorded.
async fn bad_field(engine: &Engine, line: &str) -> (String, bool) {
    match engine.execute_json(line).await {
        Err(EngineError::BadCommand {
            error,
            audit_position,
        }) => (error.field, audit_position.is_some()),
        other => panic!("expected bad input, got {other:?}"),
    }
}

#[tokio::test]
async fn input_date_every_date_field_is_bounded_and_named() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "X510001";
    let (field, recorded) = bad_field(&engine, &open_line(crn, "2022-03-01", "1899-12-31")).await;
    assert_eq!(field, "command.person.date_of_birth");
    assert!(recorded, "the refusal is recorded under the command's id");
    let early = as_case_administrator(
        crn,
        "1899-03-01",
        open_case(crn, NOTTINGHAM_CITY, "1899-03-01"),
    );
    assert_eq!(bad_field(&engine, &early).await.0, "effective_at");
    assert!(engine.case(crn).await.unwrap().is_none());

    engine
        .execute_json(&open_line(crn, "2022-03-01", "1900-01-01"))
        .await
        .expect("1900-01-01 is in bounds");
    let mut order = community_order("2022-03-01");
    order["dates"]["sentence_expiry_date"] = json!("2101-01-01");
    let line = as_court_officer(crn, "2022-03-01", order.clone());
    assert_eq!(
        bad_field(&engine, &line).await.0,
        "command.dates.sentence_expiry_date"
    );
    order["dates"]["sentence_expiry_date"] = json!("2100-12-31");
    engine
        .execute_json(&as_court_officer(crn, "2022-03-01", order))
        .await
        .expect("2100-12-31 is in bounds");
}

#[tokio::test]
async fn input_id_the_nil_uuid_is_bad_input_and_not_recorded() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let line = command_with_id(
        Uuid::nil(),
        "X510101",
        "case_administrator",
        "nps",
        "2022-03-01",
        open_case("X510101", NOTTINGHAM_CITY, "2022-03-01"),
    );
    let (field, recorded) = bad_field(&engine, &line).await;
    assert_eq!(field, "command_id");
    assert!(!recorded);
    assert!(engine.refusals().await.unwrap().is_empty());
    assert!(engine.case("X510101").await.unwrap().is_none());
}

#[tokio::test]
async fn acr_1_children_and_young_persons_act_1933_s50_no_sentence_before_the_tenth_birthday() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "X510201";
    engine
        .execute_json(&open_line(crn, "2021-03-01", "2011-05-01"))
        .await
        .unwrap();
    let sentence = |on: &str| as_court_officer(crn, on, community_order(on));
    let refusal = match engine.execute_json(&sentence("2021-04-30")).await {
        Err(EngineError::Command(CommandError::Refused(r))) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refusal.kind, RefusalKind::Rule);
    assert!(
        refusal.reason.contains("command.on") && refusal.reason.contains("person.date_of_birth"),
        "{}",
        refusal.reason
    );
    assert!(refusal.reason.contains("ACR-1"), "{}", refusal.reason);
    let state = engine.case(crn).await.unwrap().unwrap();
    assert!(state.sentences.is_empty(), "nothing is written");
    engine
        .execute_json(&sentence("2021-05-01"))
        .await
        .expect("on the tenth birthday");
}
