//! Any read model as of (R, E): the projections' MAPPA register, asked what
//! was known on a day about another day, changes with R when a decision is recorded late.

mod support;

use caseledger_replay::asof::{parse_bound, AsOf};
use caseledger_replay::read_models::report_as_of;
use serde_json::{json, Value};
use support::events::*;
use support::*;

fn as_of(recorded: &str, effective: &str) -> AsOf {
    AsOf {
        recorded_through_us: Some(parse_bound("r", recorded).expect("bound")),
        effective_through_us: Some(parse_bound("e", effective).expect("bound")),
    }
}

/// The MAPPA levels of the register, by CRN.
async fn levels(log: &TestLog, when: AsOf) -> Vec<(Value, Value)> {
    let table = report_as_of(
        log.store.as_ref(),
        &Default::default(),
        "mappa",
        when,
        date("2025-06-01"),
    )
    .await
    .expect("report");
    let crn = table.columns.iter().position(|c| *c == "crn").expect("crn");
    let level = table
        .columns
        .iter()
        .position(|c| *c == "level")
        .expect("level");
    table
        .rows
        .iter()
        .map(|row| (row[crn].clone(), row[level].clone()))
        .collect()
}

#[tokio::test]
async fn mappa_register_as_of_r_and_e_sees_a_late_recorded_level_only_once_recorded() {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    log.open_case("X000001", "2025-01-06", officer.clone())
        .await;
    log.append(
        "X000001",
        mappa_level_set("2025-01-08", 1),
        day_us("2025-01-08"),
        us("2025-01-08T09:00:00Z"),
        officer.clone(),
    )
    .await;
    // Level 3 from 20 January, recorded on 3 March.
    log.append(
        "X000001",
        mappa_level_set("2025-01-20", 3),
        day_us("2025-01-20"),
        us("2025-03-03T15:00:00Z"),
        officer,
    )
    .await;

    let known_1_march = levels(&log, as_of("2025-03-01", "2025-02-01")).await;
    let known_3_march = levels(&log, as_of("2025-03-03", "2025-02-01")).await;
    let in_effect_15_january = levels(&log, as_of("2025-03-03", "2025-01-15")).await;
    let before_any_level = levels(&log, as_of("2025-03-03", "2025-01-07")).await;
    assert_eq!(known_1_march, vec![(json!("X000001"), json!(1))]);
    assert_eq!(known_3_march, vec![(json!("X000001"), json!(3))]);
    assert_eq!(in_effect_15_january, vec![(json!("X000001"), json!(1))]);
    assert!(before_any_level.is_empty(), "{before_any_level:?}");
}
