//! The lifecycle after a first order, through the Engine: enforcement that counts for a
//! woman's tier, returning people, young adults' workload and the V3 tier. Each test is named
//! by its rule and seed line.

mod engine_support;

use caseledger::domain::state::CaseState;
use caseledger::{Engine, EngineConfig};
use engine_support::*;
use jiff::civil::date;
use serde_json::{json, Value};

/// Nottingham City (England).
const NOTTINGHAM_CITY: u8 = 79;

async fn ok(engine: &Engine, line: String) -> caseledger::commands::Receipt {
    match engine.execute_json(&line).await {
        Ok(receipt) => receipt,
        Err(e) => panic!("command refused: {e}\n{line}"),
    }
}

async fn state(engine: &Engine, crn: &str) -> CaseState {
    engine.case(crn).await.unwrap().expect("the case exists")
}

fn open_case_for(crn: &str, on: &str, date_of_birth: &str, gender: &str) -> Value {
    json!({"type": "open_case", "crn": crn, "pdu": NOTTINGHAM_CITY, "team": null, "on": on,
           "person": {"name": "Sam Example", "date_of_birth": date_of_birth, "gender": gender}})
}

/// A woman released on licence from a 2-year custodial sentence, whose recall is concluded
/// with `outcome`, then assessed at RoSH medium with four complexity registrations (protect
/// 10 + 8 = 18 points, band C; previous enforcement adds 2, band B).
async fn woman_recall_concluded(engine: &Engine, crn: &str, outcome: &str) {
    ok(
        engine,
        as_case_administrator(
            crn,
            "2023-03-01",
            open_case_for(crn, "2023-03-01", "1990-06-01", "female"),
        ),
    )
    .await;
    ok(
        engine,
        as_court_officer(
            crn,
            "2023-03-01",
            json!({
        "type": "impose_sentence", "on": "2023-03-01", "sentence_type": "determinate_custody",
        "court": "Nottingham Crown Court", "length_months": 24,
        "dates": {"conditional_release_date": "2024-03-01", "sentence_expiry_date": "2025-03-01"},
        "requirements": []}),
        ),
    )
    .await;
    ok(
        engine,
        as_probation_officer(
            crn,
            "2024-03-01",
            json!({"type": "release", "on": "2024-03-01", "sentence_id": 1, "release_type": "automatic"}),
        ),
    )
    .await;
    ok(
        engine,
        as_probation_officer(
            crn,
            "2024-04-02",
            json!({"type": "raise_recall", "on": "2024-04-02", "sentence_id": 1,
                   "reason": "risk unmanageable in the community"}),
        ),
    )
    .await;
    ok(
        engine,
        as_probation_officer(
            crn,
            "2024-04-03",
            json!({"type": "conclude_recall", "on": "2024-04-03", "recall_id": 1, "outcome": outcome}),
        ),
    )
    .await;
    for kind in [
        "mental_health_issues",
        "attempted_suicide_or_self_harm",
        "vulnerability",
        "child_concerns",
    ] {
        ok(
            engine,
            as_probation_officer(
                crn,
                "2024-04-10",
                json!({"type": "add_registration", "on": "2024-04-10", "kind": kind, "review_on": null}),
            ),
        )
        .await;
    }
    ok(
        engine,
        as_probation_officer(crn, "2024-04-12", assess("2024-04-12", "review", "medium")),
    )
    .await;
}

/// tier-rules.md §3.4 (seed 003 l.2914, recall BR-I3): a recall the NPS rejected (`REC03`) is
/// not previous enforcement, so a woman's tier stays at protect C; a standard-term recall
/// (`REC02`) is, and raises it to B. `explain` of the last tier decision shows
/// `previous_enforcement: false`, the rejected recall with why it does not count, and the
/// female-factor points of the calculation.
#[tokio::test]
async fn tier_3_4_a_recall_rejected_by_the_nps_is_not_previous_enforcement_seed_003_l2914() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    woman_recall_concluded(&engine, "F100001", "REC03").await;
    woman_recall_concluded(&engine, "F100002", "REC02").await;

    let rejected = state(&engine, "F100001").await;
    let upheld = state(&engine, "F100002").await;
    assert_eq!(rejected.tier.as_ref().unwrap().tier.protect(), 'C');
    assert_eq!(upheld.tier.as_ref().unwrap().tier.protect(), 'B');

    let events = engine.case_events("F100001").await.unwrap();
    let last_tier = events
        .iter()
        .rev()
        .find(|e| e.event_type == "TierCalculated")
        .expect("a tier decision");
    let explanation = engine
        .explain(last_tier.event_id, date(2024, 5, 1))
        .await
        .unwrap();
    let inputs = explanation.inputs.as_ref().expect("inputs");
    assert_eq!(inputs["previous_enforcement"], json!(false), "{inputs:#}");
    let derivation = explanation.inputs_derivation.as_ref().expect("derivation");
    let considered = &derivation["previous_enforcement"][0];
    assert_eq!(considered["kind"], "recall");
    assert_eq!(considered["outcome"], "REC03");
    assert_eq!(considered["counts"], json!(false));
    let calculation = explanation.calculation.as_ref().expect("calculation");
    assert_eq!(
        calculation["breakdown"]["protect"]["female_factors"]["previous_enforcement"],
        json!(0),
        "{calculation:#}"
    );
    assert!(
        explanation.reevaluation.as_ref().unwrap().same_as_recorded,
        "{explanation:#?}"
    );
    match &explanation.inputs_source {
        caseledger::replay::explain::InputsSource::RederivedFromCaseState {
            digest_matches,
            ..
        } => assert!(digest_matches),
        other => panic!("{other:?}"),
    }
}
