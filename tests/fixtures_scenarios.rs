//! The hand-written scenarios of `fixtures/scenarios/` replayed through the Engine: every
//! command accepted (or refused where the file says so) and every expected outcome held.

use caseledger::commands::CommandError;
use caseledger::fixtures::scenarios::{self, Scenario};
use caseledger::{Engine, EngineConfig, EngineError};

fn scenario(name: &str) -> Scenario {
    scenarios::all()
        .expect("scenarios parse")
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

async fn replay(name: &str) {
    let s = scenario(name);
    let engine = Engine::open(EngineConfig::memory()).expect("engine");
    for (line, json) in &s.commands {
        let id = serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|v| v["command_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let result = engine.execute_json(json).await;
        if s.expect_refused.contains(&id) {
            match result {
                Err(EngineError::Command(CommandError::Refused(_))) => {}
                other => panic!("{name}:{line}: expected a refusal, got {other:?}"),
            }
        } else if let Err(e) = result {
            panic!("{name}:{line}: refused: {e}");
        }
    }
    assert_eq!(
        engine.refusals().await.expect("refusals").len(),
        s.expect_refused.len(),
        "{name}: only the expected refusals are recorded"
    );
    for e in &s.expectations {
        let state = engine
            .case(&e.crn)
            .await
            .expect("case")
            .unwrap_or_else(|| panic!("{name}:{}: no case {}", e.line, e.crn));
        let json = serde_json::to_value(&state).expect("state JSON");
        let actual = json.pointer(&e.pointer);
        assert_eq!(
            actual,
            Some(&e.value),
            "{name}:{}: {} {} — state was {}",
            e.line,
            e.crn,
            e.pointer,
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    }
}

/// Seed 000 l.7–9: the NPS assesses at court and allocates lower risk to the CRC.
#[tokio::test]
async fn br_a2_a4_seed_000_herefordshire_nps_crc_allocation() {
    replay("herefordshire_nps_crc_allocation.jsonl").await;
}

/// Seed 001 l.55–68: CRC escalation, NPS decision, stays with the NPS until the order ends.
#[tokio::test]
async fn br_a7_a11_seed_001_nottingham_escalation_and_nps_ratchet() {
    replay("nottingham_escalation_nps_ratchet.jsonl").await;
}

/// handover-rules.md §7: omic-2019, COM 7.5 months and responsibility 4.5 months before CRD.
#[tokio::test]
async fn omic_2019_handover_7_5_months_before_release() {
    replay("handover_7_5_months.jsonl").await;
}

/// Seed 002 l.61: warnings, then a breach back to court and a re-sentence.
#[tokio::test]
async fn br_i1_breach_returned_to_court_and_resentenced() {
    replay("breach_returned_to_court.jsonl").await;
}

/// Seed 003 l.2914: recall from licence, fixed term, re-release, then PSS.
#[tokio::test]
async fn br_i3_recall_from_licence_and_re_release() {
    replay("recall.jsonl").await;
}

/// The scenario files are also import files: without their `#` header lines they are
/// command JSON Lines the public parser reads line by line.
#[test]
fn scenario_commands_are_public_command_json() {
    for s in scenarios::all().expect("parse") {
        for (line, json) in &s.commands {
            caseledger::commands::parse_command(json)
                .unwrap_or_else(|e| panic!("{}:{line}: {e}", s.name));
        }
    }
}
