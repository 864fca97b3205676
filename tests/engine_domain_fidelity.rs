//! Read models, corrections and derived decisions agree with the case state, through the
//! Engine: one test per rule, named by rule id and seed line (docs/rules.md).

mod engine_support;

use caseledger::replay::asof::AsOf;
use caseledger::{Engine, EngineConfig};
use engine_support::*;
use jiff::civil::{date, Date};
use serde_json::{json, Value};

/// Nottingham City (TOM Annex C), served by DLNR CRC in the TR era (seed 001 l.10).
const NOTTINGHAM_CITY: u8 = 79;
const CRC_DLNR: &str = "crc:DLNR CRC";

async fn ok(engine: &Engine, line: String) -> caseledger::commands::Receipt {
    match engine.execute_json(&line).await {
        Ok(receipt) => receipt,
        Err(e) => panic!("command refused: {e}\n{line}"),
    }
}

fn end_of_day_us(d: Date) -> i64 {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_microsecond()
        + 86_400_000_000
        - 1
}

fn effective(d: Date) -> AsOf {
    AsOf {
        recorded_through_us: None,
        effective_through_us: Some(end_of_day_us(d)),
    }
}

async fn report(engine: &Engine, name: &str, as_of: AsOf, today: Date) -> Vec<Value> {
    engine
        .read_model_as_of(name, as_of, today)
        .await
        .unwrap()
        .objects()
}

/// The caseload row (grouped by practitioner) that holds `crn`'s only case.
async fn caseload_row(engine: &Engine, as_of: AsOf, today: Date) -> Value {
    let rows = report(engine, "caseload", as_of, today).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

async fn open_with_order(engine: &Engine, crn: &str, on: &str) {
    ok(
        engine,
        as_case_administrator(crn, on, open_case(crn, NOTTINGHAM_CITY, on)),
    )
    .await;
    ok(engine, as_court_officer(crn, on, community_order(on))).await;
}

/// MAPPA-1 (seed 000 l.9; seed 003 l.755): removing a MAPPA registration takes the case off
/// the register from the removal's date; as of an earlier date it is still on it, at its
/// category and level.
#[tokio::test]
async fn mappa_1_seed_000_l9_a_removed_mappa_registration_leaves_the_register_from_its_date() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "M100001";
    open_with_order(&engine, crn, "2022-03-01").await;
    ok(
        &engine,
        as_probation_officer(crn, "2022-03-02", assess("2022-03-02", "initial", "high")),
    )
    .await;
    ok(
        &engine,
        as_probation_officer(
            crn,
            "2022-03-03",
            json!({"type": "add_registration", "on": "2022-03-03",
                   "kind": {"mappa": {"category": 2, "level": 1}}, "review_on": "2022-09-01"}),
        ),
    )
    .await;
    let today = date(2022, 7, 1);
    let on_register = report(&engine, "mappa", AsOf::now(), today).await;
    assert_eq!(on_register.len(), 1, "{on_register:?}");
    ok(
        &engine,
        as_probation_officer(
            crn,
            "2022-06-03",
            json!({"type": "remove_registration", "on": "2022-06-01", "registration_id": 1,
                   "reason": "review: no longer applies"}),
        ),
    )
    .await;
    let case = engine.case(crn).await.unwrap().unwrap();
    assert_eq!(case.mappa.category, None);
    assert!(report(&engine, "mappa", AsOf::now(), today)
        .await
        .is_empty());
    // As of the day before the removal (by the removal's own date, ASOF-1) it is still on.
    let before = report(&engine, "mappa", effective(date(2022, 5, 31)), today).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["category"], 2);
    assert_eq!(before[0]["level"], 1);
    assert!(report(&engine, "mappa", effective(date(2022, 6, 1)), today)
        .await
        .is_empty());
}

/// ROSH-1 (seed 001 l.55–68; tier-rules.md §9): the NPS's escalation decision is the case's
/// RoSH, and it reaches everything RoSH feeds: the caseload's RoSH, a tier recalculation
/// (reason `risk_escalation_decided`) and the workload points that follow from the tier.
#[tokio::test]
async fn rosh_1_seed_001_l55_an_nps_escalation_decision_reaches_tier_caseload_and_workload() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "N100002";
    open_with_order(&engine, crn, "2016-03-01").await;
    ok(
        &engine,
        as_probation_officer(crn, "2016-03-02", assess("2016-03-02", "initial", "medium")),
    )
    .await;
    ok(
        &engine,
        as_probation_officer(
            crn,
            "2016-03-03",
            json!({"type": "allocate_to_provider", "on": "2016-03-03", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
        ),
    )
    .await;
    let today = date(2016, 10, 1);
    let before = caseload_row(&engine, AsOf::now(), today).await;
    assert_eq!(before["by_rosh"], "medium:1");
    let tier_before = engine.case(crn).await.unwrap().unwrap().tier.unwrap().tier;
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
        receipt.event_types.iter().any(|t| t == "TierCalculated"),
        "{receipt:?}"
    );
    let case = engine.case(crn).await.unwrap().unwrap();
    assert_eq!(case.risk.rosh.map(|r| r.as_str()), Some("high"));
    let tier = case.tier.unwrap();
    assert_ne!(tier.tier, tier_before);
    assert_eq!(tier.reason_code, "risk_escalation_decided");
    let after = caseload_row(&engine, AsOf::now(), today).await;
    assert_eq!(after["by_rosh"], "high:1");
    assert_eq!(after["by_tier"], format!("{}:1", tier.tier.as_str()));
    assert_ne!(after["workload_points"], before["workload_points"]);
}

/// COR-1 (design.md invariant 1; seed 003 l.1844 data quality): a correction retracts the
/// assessment it names from the correction on — state, tier and caseload stop using the wrong
/// RoSH — while as of a recorded instant before it the read models show what was believed.
#[tokio::test]
async fn cor_1_a_correction_retracts_the_assessment_it_corrects_and_the_tier_follows() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "E100003";
    open_with_order(&engine, crn, "2022-03-01").await;
    ok(
        &engine,
        as_probation_officer(crn, "2022-03-02", assess("2022-03-02", "initial", "medium")),
    )
    .await;
    ok(
        &engine,
        as_probation_officer(
            crn,
            "2022-03-10",
            assess("2022-03-10", "review", "very_high"),
        ),
    )
    .await;
    let today = date(2022, 4, 1);
    let wrong = engine.case(crn).await.unwrap().unwrap();
    assert_eq!(wrong.risk.rosh.map(|r| r.as_str()), Some("very_high"));
    let wrong_tier = wrong.tier.clone().unwrap().tier;
    let believed_until = jiff::Timestamp::now().as_microsecond();
    let wrong_id = engine
        .case_events(crn)
        .await
        .unwrap()
        .iter()
        .rev()
        .find(|r| r.event_type == "RiskAssessed")
        .unwrap()
        .event_id;
    let receipt = ok(
        &engine,
        command(
            crn,
            "senior_probation_officer",
            "nps",
            "2022-03-11",
            json!({"type": "correct_event", "on": "2022-03-11",
                   "corrected_event_id": wrong_id.to_string(),
                   "corrected_event_type": "RiskAssessed",
                   "reason": "RoSH entered on the wrong case"}),
        ),
    )
    .await;
    assert!(
        receipt.event_types.iter().any(|t| t == "TierCalculated"),
        "{receipt:?}"
    );
    let case = engine.case(crn).await.unwrap().unwrap();
    assert_eq!(case.risk.rosh.map(|r| r.as_str()), Some("medium"));
    assert!(case.corrections[0].retracted);
    let tier = case.tier.unwrap();
    assert_ne!(tier.tier, wrong_tier);
    assert_eq!(tier.reason_code, "event_corrected");
    assert_eq!(
        caseload_row(&engine, AsOf::now(), today).await["by_rosh"],
        "medium:1"
    );
    // As recorded before the correction: what was believed then.
    let then = AsOf {
        recorded_through_us: Some(believed_until),
        effective_through_us: None,
    };
    let row = caseload_row(&engine, then, today).await;
    assert_eq!(row["by_rosh"], "very_high:1");
    assert_eq!(row["by_tier"], format!("{}:1", wrong_tier.as_str()));
    let state_then = engine
        .case_as_of(
            crn,
            Some(jiff::Timestamp::from_microsecond(believed_until).unwrap()),
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state_then.risk.rosh.map(|r| r.as_str()), Some("very_high"));
}

/// ASOF-1: effective time is the fact's own date — an assessment done on 10 March but sent
/// with `effective_at` 20 March counts as of 15 March.
#[tokio::test]
async fn asof_1_a_fact_counts_from_its_own_date_whatever_the_commands_effective_at() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "E100004";
    open_with_order(&engine, crn, "2022-03-01").await;
    ok(
        &engine,
        as_probation_officer(crn, "2022-03-20", assess("2022-03-10", "initial", "high")),
    )
    .await;
    let today = date(2022, 4, 1);
    let row = caseload_row(&engine, effective(date(2022, 3, 15)), today).await;
    assert_eq!(row["by_rosh"], "high:1");
    let row = caseload_row(&engine, effective(date(2022, 3, 9)), today).await;
    assert_eq!(row["by_rosh"], "none:1");
    let through = jiff::Timestamp::from_microsecond(end_of_day_us(date(2022, 3, 15))).unwrap();
    let state = engine
        .case_as_of(crn, None, Some(through))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.risk.rosh.map(|r| r.as_str()), Some("high"));
}

/// Two cases in the TR era: one with the NPS, one allocated to DLNR CRC (seed 000 l.8–9,
/// seed 001 l.25).
async fn nps_and_crc_cases(engine: &Engine) {
    for (crn, rosh) in [("N100010", "high"), ("N100011", "low")] {
        open_with_order(engine, crn, "2016-03-01").await;
        ok(
            engine,
            as_probation_officer(crn, "2016-03-02", assess("2016-03-02", "initial", rosh)),
        )
        .await;
    }
    // BR-A3/BR-A4: the NPS keeps the high-RoSH case, the low one goes to the CRC.
    for crn in ["N100010", "N100011"] {
        ok(
            engine,
            as_probation_officer(
                crn,
                "2016-03-03",
                json!({"type": "allocate_to_provider", "on": "2016-03-03", "crc": "DLNR CRC",
                       "deportation_order": false, "notoriety": false}),
            ),
        )
        .await;
    }
}

/// CASELOAD-BY (seed 004 l.68: NPS caseload counts; seed 000 l.8–9 NPS vs CRC): the caseload
/// is grouped by provider, PDU, team or practitioner, as of an earlier date too.
#[tokio::test]
async fn caseload_by_seed_004_l68_caseload_grouped_by_provider_pdu_team_and_practitioner() {
    use caseledger::projections::report::{CaseloadBy, ReportOptions};
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    nps_and_crc_cases(&engine).await;
    let today = date(2016, 4, 1);
    let by = |b| ReportOptions {
        caseload_by: Some(b),
    };
    let grouped = |rows: Vec<Value>, key: &str| -> Vec<(String, u64)> {
        rows.iter()
            .map(|r| {
                (
                    r[key].as_str().unwrap().to_owned(),
                    r["cases"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let t = engine
        .read_model_as_of_with("caseload", &by(CaseloadBy::Provider), AsOf::now(), today)
        .await
        .unwrap();
    assert_eq!(
        grouped(t.objects(), "provider"),
        vec![("CRC DLNR CRC".to_owned(), 1), ("NPS".to_owned(), 1)]
    );
    // As of the day before the CRC allocation both were with no provider yet.
    let t = engine
        .read_model_as_of_with(
            "caseload",
            &by(CaseloadBy::Provider),
            effective(date(2016, 3, 2)),
            today,
        )
        .await
        .unwrap();
    assert_eq!(
        grouped(t.objects(), "provider"),
        vec![("(none)".to_owned(), 2)]
    );
    let t = engine
        .read_model_as_of_with("caseload", &by(CaseloadBy::Pdu), AsOf::now(), today)
        .await
        .unwrap();
    assert_eq!(
        grouped(t.objects(), "pdu"),
        vec![("Nottingham City".to_owned(), 2)]
    );
    let t = engine
        .read_model_as_of_with("caseload", &by(CaseloadBy::Team), AsOf::now(), today)
        .await
        .unwrap();
    assert_eq!(grouped(t.objects(), "team"), vec![("(none)".to_owned(), 2)]);
    let t = engine
        .read_model_as_of_with(
            "caseload",
            &by(CaseloadBy::Practitioner),
            AsOf::now(),
            today,
        )
        .await
        .unwrap();
    assert_eq!(
        grouped(t.objects(), "staff_code"),
        vec![("(unallocated)".to_owned(), 2)]
    );
}

/// PM-FROM (seed 003 l.1844–1856, l.769–775: measures and the 5-working-day allocation
/// deadline apply from June 2021): a 2016 sentence has no measure rows and is never
/// "overdue" for allocation; a 2022 one is measured and overdue.
#[tokio::test]
async fn pm_from_seed_003_l1844_measures_apply_only_from_june_2021() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    open_with_order(&engine, "N100020", "2016-03-01").await;
    open_with_order(&engine, "E100021", "2022-03-01").await;
    let today = date(2022, 6, 1);
    let queue = report(&engine, "allocations", AsOf::now(), today).await;
    let overdue: Vec<(String, Value)> = queue
        .iter()
        .map(|r| (r["crn"].as_str().unwrap().to_owned(), r["overdue"].clone()))
        .collect();
    assert_eq!(
        overdue,
        vec![
            ("N100020".to_owned(), Value::Null),
            ("E100021".to_owned(), Value::Bool(true))
        ]
    );
    let measures = report(&engine, "performance", AsOf::now(), today).await;
    assert!(
        measures
            .iter()
            .all(|r| r["month"].as_str().unwrap() >= "2021-06"),
        "{measures:?}"
    );
    assert!(measures
        .iter()
        .any(|r| r["measure"] == "ALLOC" && r["month"] == "2022-03"));
}

/// A determinate custodial sentence of `length_months` imposed on `on`, released on `released`
/// with no TUSED given, its licence ended on `licence_ends`.
async fn released_and_licence_ended(
    engine: &Engine,
    crn: &str,
    on: &str,
    length_months: u16,
    crd: &str,
    released: &str,
    licence_ends: &str,
) {
    ok(
        engine,
        as_case_administrator(crn, on, open_case(crn, NOTTINGHAM_CITY, on)),
    )
    .await;
    ok(
        engine,
        as_court_officer(
            crn,
            on,
            json!({"type": "impose_sentence", "on": on, "sentence_type": "determinate_custody",
                   "court": "Nottingham Crown Court", "length_months": length_months,
                   "dates": {"conditional_release_date": crd, "sentence_expiry_date": licence_ends,
                             "licence_expiry_date": licence_ends},
                   "requirements": []}),
        ),
    )
    .await;
    ok(
        engine,
        command(
            crn,
            "prison_offender_manager",
            "prison",
            released,
            json!({"type": "release", "on": released, "sentence_id": 1, "release_type": "automatic"}),
        ),
    )
    .await;
    ok(
        engine,
        as_probation_officer(
            crn,
            licence_ends,
            json!({"type": "end_licence", "on": licence_ends, "sentence_id": 1}),
        ),
    )
    .await;
}

/// PSS-1 (seed 002 l.53; Offender Rehabilitation Act 2014): a sentence under 2 years for an
/// offence from 1 February 2015 runs licence then post-sentence supervision to a TUSED
/// derived as 12 months after release; a 2-year sentence, or one from before February 2015,
/// is refused PSS with a reason naming the rule.
#[tokio::test]
async fn pss_1_seed_002_l53_short_sentences_run_licence_then_pss_to_a_derived_tused() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "E100030";
    released_and_licence_ended(
        &engine,
        crn,
        "2022-03-01",
        12,
        "2022-09-01",
        "2022-09-01",
        "2023-03-01",
    )
    .await;
    let receipt = ok(
        &engine,
        as_probation_officer(
            crn,
            "2023-03-01",
            json!({"type": "start_post_sentence_supervision", "on": "2023-03-01", "sentence_id": 1}),
        ),
    )
    .await;
    assert_eq!(receipt.event_types[0], "PostSentenceSupervisionStarted");
    let case = engine.case(crn).await.unwrap().unwrap();
    let s = &case.sentences[&caseledger::domain::sentence::SentenceId(1)];
    assert_eq!(s.post_sentence_supervision_ends_on, Some(date(2023, 9, 1)));
    assert_eq!(s.top_up_supervision_expiry(), Some(date(2023, 9, 1)));
    // On the caseload as licence-type supervision until the PSS ends.
    let row = caseload_row(&engine, AsOf::now(), date(2023, 4, 1)).await;
    assert_eq!(row["licence"], 1);
    ok(
        &engine,
        as_probation_officer(
            crn,
            "2023-09-01",
            json!({"type": "end_post_sentence_supervision", "on": "2023-09-01", "sentence_id": 1}),
        ),
    )
    .await;
    assert!(report(&engine, "caseload", AsOf::now(), date(2023, 10, 1))
        .await
        .is_empty());

    for (crn, on, length, why) in [
        ("E100031", "2022-03-01", 24, "under 2 years"),
        ("N100032", "2014-12-01", 12, "1 February 2015"),
    ] {
        let crd = if on.starts_with("2014") {
            "2015-06-01"
        } else {
            "2023-03-01"
        };
        let released = crd;
        let ends = if on.starts_with("2014") {
            "2015-12-01"
        } else {
            "2024-03-01"
        };
        released_and_licence_ended(&engine, crn, on, length, crd, released, ends).await;
        let refused = engine
            .execute_json(&as_probation_officer(
                crn,
                ends,
                json!({"type": "start_post_sentence_supervision", "on": ends, "sentence_id": 1}),
            ))
            .await
            .unwrap_err();
        let text = refused.to_string();
        assert!(text.contains("PSS-1") && text.contains(why), "{text}");
        assert!(text.contains("Offender Rehabilitation Act 2014"), "{text}");
    }
}

/// RULES-1 (seed 003 l.358, l.386; handover-rules.md §4, §11): ticking across the end of
/// Transforming Rehabilitation moves an open CRC case into the unified service, and across
/// 2022-10-01 and 2023-04-01 recalculates a prisoner's handover under each new OMiC era —
/// each once, by the engine (`system`), under the new ruleset.
#[tokio::test]
async fn rules_1_seed_003_l358_rule_changes_reach_cases_in_flight_once() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    // A CRC case open on 26 June 2021.
    let crc = "N100040";
    open_with_order(&engine, crc, "2020-03-02").await;
    ok(
        &engine,
        as_probation_officer(crc, "2020-03-03", assess("2020-03-03", "initial", "low")),
    )
    .await;
    ok(
        &engine,
        as_probation_officer(
            crc,
            "2020-03-04",
            json!({"type": "allocate_to_provider", "on": "2020-03-04", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
        ),
    )
    .await;
    // A prisoner sentenced in 2020 (handover under OMiC 2019), released in 2024.
    let prisoner = "N100041";
    ok(
        &engine,
        as_case_administrator(
            prisoner,
            "2020-03-02",
            open_case(prisoner, NOTTINGHAM_CITY, "2020-03-02"),
        ),
    )
    .await;
    ok(
        &engine,
        as_court_officer(
            prisoner,
            "2020-03-02",
            json!({"type": "impose_sentence", "on": "2020-03-02", "sentence_type": "determinate_custody",
                   "court": "Nottingham Crown Court", "length_months": 96,
                   "dates": {"conditional_release_date": "2024-03-01", "sentence_expiry_date": "2028-03-01"},
                   "requirements": []}),
        ),
    )
    .await;
    let first = engine.case(prisoner).await.unwrap().unwrap();
    let h = first.sentences[&caseledger::domain::sentence::SentenceId(1)]
        .handover
        .clone()
        .unwrap();
    assert_eq!(h.handover_era.as_str(), "omic-2019");

    let report1 = engine.advance_to(date(2023, 5, 1)).await.unwrap();
    let crc_case = engine.case(crc).await.unwrap().unwrap();
    assert_eq!(crc_case.unified_on, Some(date(2021, 6, 26)));
    assert_eq!(
        crc_case.provider_name().as_deref(),
        Some("Probation Service")
    );
    let events = engine.case_events(prisoner).await.unwrap();
    let handovers: Vec<_> = events
        .iter()
        .filter(|r| r.event_type == "HandoverDatesCalculated")
        .collect();
    assert_eq!(handovers.len(), 3, "omic-2019, then 2022 and 2023");
    for (r, era_day) in handovers[1..].iter().zip(["2022-10-01", "2023-04-01"]) {
        assert_eq!(r.actor.role, "system");
        assert_eq!(r.ruleset_id, "unified-2021");
        let on: Date = era_day.parse().unwrap();
        assert_eq!(
            r.effective_at_us,
            caseledger::commands::EffectiveAt::from_date(on).instant_us
        );
    }
    let now = engine.case(prisoner).await.unwrap().unwrap();
    let h = now.sentences[&caseledger::domain::sentence::SentenceId(1)]
        .handover
        .clone()
        .unwrap();
    assert_eq!(h.handover_era.as_str(), "omic-2023");
    assert_eq!(h.calculated_on, date(2023, 4, 1));
    let unified = engine
        .case_events(crc)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.event_type == "CaseTransferredToUnifiedService")
        .unwrap();
    assert_eq!(unified.actor.role, "system");
    // Exactly once: ticking again changes nothing.
    let report2 = engine.advance_to(date(2023, 6, 1)).await.unwrap();
    assert!(report2.applied.is_empty(), "{report2:?}");
    assert!(report1.applied.len() >= 3, "{report1:?}");
    // Both decisions stay in the history and each is explained under its own ruleset.
    let explain = |i: usize| engine.explain(handovers[i].event_id, date(2023, 6, 1));
    let (old, middle, new) = (
        explain(0).await.unwrap(),
        explain(1).await.unwrap(),
        explain(2).await.unwrap(),
    );
    // Why each replaced the one before: the reason names the era now in force and its first
    // day, and each decision shows the one it replaced with that one's rules.
    assert_eq!(
        middle.reason_code.as_deref(),
        Some("rule_change_omic_2022_from_2022_10_01")
    );
    assert_eq!(
        new.reason_code.as_deref(),
        Some("rule_change_omic_2023_from_2023_04_01")
    );
    assert!(old.replaces.is_none() && new.replaced_by.is_none());
    let replaced = new
        .replaces
        .as_ref()
        .expect("the 2023 decision replaced one");
    assert_eq!(replaced.decision.event_id, handovers[1].event_id);
    assert_eq!(replaced.decision.handover_era, "omic-2022");
    assert_eq!(replaced.decision.decision_ruleset, "unified-2021");
    assert!(
        replaced.why.contains("the rules changed")
            && replaced.why.contains("omic-2023 replaced omic-2022"),
        "{}",
        replaced.why
    );
    let by = old
        .replaced_by
        .as_ref()
        .expect("the 2019 decision was replaced");
    assert_eq!(by.decision.event_id, handovers[1].event_id);
    assert_eq!(
        by.decision.reason_code,
        "rule_change_omic_2022_from_2022_10_01"
    );
    assert_eq!(by.decision.actor.role, "system");
    assert_eq!(
        middle
            .replaces
            .as_ref()
            .map(|r| r.decision.handover_era.as_str()),
        Some("omic-2019")
    );
    // A handover recalculated within one era keeps the calculator's reason.
    assert_ne!(old.reason_code, middle.reason_code);
    assert!(!old.reason_code.unwrap().starts_with("rule_change_"));
}
