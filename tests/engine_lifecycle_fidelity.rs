//! The lifecycle after a first order, through the Engine: enforcement that counts for a
//! woman's tier, returning people, young adults' workload and the V3 tier. Each test is named
//! by its rule and seed line.

mod engine_support;

use caseledger::domain::state::CaseState;
use caseledger::domain::tier::ProtectLevel;
use caseledger::replay::asof::AsOf;
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
    assert_eq!(
        rejected.tier.as_ref().unwrap().tier.protect,
        ProtectLevel::C
    );
    assert_eq!(upheld.tier.as_ref().unwrap().tier.protect, ProtectLevel::B);

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

/// A man on a community order with a rehabilitation activity requirement, assessed at RoSH
/// `rosh` with V3 predictors `predictors` (command JSON, hundredths of a percent).
async fn community_case_with_predictors(engine: &Engine, crn: &str, predictors: Value) {
    ok(
        engine,
        as_case_administrator(
            crn,
            "2024-06-03",
            open_case_for(crn, "2024-06-03", "1980-01-15", "male"),
        ),
    )
    .await;
    ok(
        engine,
        as_court_officer(
            crn,
            "2024-06-03",
            json!({
        "type": "impose_sentence", "on": "2024-06-03", "sentence_type": "community_order",
        "court": "Nottingham Magistrates' Court", "length_months": 12,
        "dates": {"sentence_expiry_date": "2025-06-02"},
        "requirements": [{"rehabilitation_activity": {"days": 20}}]}),
        ),
    )
    .await;
    let mut assessment = assess("2024-06-05", "initial", "high");
    assessment["predictors"] = predictors;
    ok(engine, as_probation_officer(crn, "2024-06-05", assessment)).await;
}

/// tier-rules.md §6.2, §8 (seed 003 l.769, allocation via the tier): an assessment carrying
/// ARP 91.50 % and CSRP 7.00 % records V3 tier `A` beside V2 `B…` on the same trigger
/// (`risk_assessed`); `explain` re-derives both from the case with matching digests and shows
/// the V3 steps; a later assessment without predictors keeps them and records no new V3 tier
/// when it is unchanged.
#[tokio::test]
async fn tier_6_2_v3_tier_recorded_beside_v2_and_explained_seed_003_l769() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    community_case_with_predictors(
        &engine,
        "V100001",
        json!({"arp": 9150, "arp_static": false, "csrp": 700, "csrp_static": false}),
    )
    .await;
    let case = state(&engine, "V100001").await;
    let v2 = case.tier.as_ref().expect("V2 tier");
    let v3 = case.tier_v3.as_ref().expect("V3 tier");
    assert_eq!(v2.tier.protect, ProtectLevel::B, "RoSH high: 20 points");
    assert_eq!(v3.tier.as_str(), "A", "ARP ≥ 90 and CSRP ≥ 6.9");
    assert!(!v3.provisional, "dynamic predictors and a known RoSH");
    assert_eq!(v3.reason_code, v2.reason_code);
    assert_eq!(v3.reason_code, "risk_assessed");

    let events = engine.case_events("V100001").await.unwrap();
    for event_type in ["TierCalculated", "TierV3Calculated"] {
        let decision = events
            .iter()
            .find(|e| e.event_type == event_type)
            .unwrap_or_else(|| panic!("{event_type} recorded"));
        let explanation = engine
            .explain(decision.event_id, date(2024, 7, 1))
            .await
            .unwrap();
        match &explanation.inputs_source {
            caseledger::replay::explain::InputsSource::RederivedFromCaseState {
                digest_matches,
                ..
            } => assert!(digest_matches, "{event_type}: {explanation:#?}"),
            other => panic!("{event_type}: {other:?}"),
        }
        assert!(
            explanation.reevaluation.as_ref().unwrap().same_as_recorded,
            "{event_type}: {explanation:#?}"
        );
        let calculation = explanation.calculation.as_ref().expect("calculation");
        if event_type == "TierV3Calculated" {
            assert_eq!(calculation["v3"], "A");
            assert_eq!(
                explanation.inputs.as_ref().unwrap()["v3"]["arp"],
                json!(91.5)
            );
            assert_eq!(calculation["breakdown"]["v3_steps"]["reoffending"], "A");
        } else {
            assert_eq!(explanation.inputs.as_ref().unwrap()["v3"], Value::Null);
        }
    }

    // A review without predictors: the V3 tier stands (same inputs), nothing new recorded.
    ok(
        &engine,
        as_probation_officer(
            "V100001",
            "2024-06-20",
            assess("2024-06-20", "review", "high"),
        ),
    )
    .await;
    let v3_events = engine
        .case_events("V100001")
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == "TierV3Calculated")
        .count();
    assert_eq!(v3_events, 1);
}

/// tier-rules.md §1 (`v3`) and §6.2: a predictor above 100 % and a medium DC-SRP below
/// 0.60 % are refused with the field named, and nothing is written to the case; a case
/// without predictors records no V3 tier (§6.1 gate 0).
#[tokio::test]
async fn tier_6_1_out_of_range_predictors_are_refused_and_no_predictors_means_no_v3() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    community_case_with_predictors(&engine, "V100002", Value::Null).await;
    let before = engine.case_events("V100002").await.unwrap().len();
    assert!(state(&engine, "V100002").await.tier_v3.is_none());
    assert!(state(&engine, "V100002").await.tier.is_some());

    let mut too_high = assess("2024-06-10", "review", "high");
    too_high["predictors"] = json!({"arp": 10001, "csrp": 700});
    let refused = engine
        .execute_json(&as_probation_officer("V100002", "2024-06-10", too_high))
        .await
        .expect_err("ARP above 100 % is refused");
    assert!(
        refused.to_string().contains("command.predictors.arp"),
        "{refused}"
    );

    let mut unsupported = assess("2024-06-10", "review", "high");
    unsupported["predictors"] =
        json!({"arp": 5000, "csrp": 300, "dc_srp_score": 59, "dc_srp_band": "medium"});
    let refused = engine
        .execute_json(&as_probation_officer("V100002", "2024-06-10", unsupported))
        .await
        .expect_err("a medium DC-SRP below 0.60 is refused");
    assert!(refused.to_string().contains("dc_srp_score"), "{refused}");
    assert_eq!(engine.case_events("V100002").await.unwrap().len(), before);
}

/// A case whose community order ended and which was closed on 1 March 2023.
async fn closed_case(engine: &Engine, crn: &str) {
    ok(
        engine,
        as_case_administrator(
            crn,
            "2022-03-01",
            open_case_for(crn, "2022-03-01", "1985-04-02", "male"),
        ),
    )
    .await;
    ok(
        engine,
        as_court_officer(crn, "2022-03-01", community_order("2022-03-01")),
    )
    .await;
    ok(
        engine,
        as_probation_officer(crn, "2022-03-03", assess("2022-03-03", "initial", "medium")),
    )
    .await;
    for body in [
        json!({"type": "terminate_sentence", "on": "2023-03-01", "sentence_id": 1, "reason": "expired"}),
        json!({"type": "close_case", "on": "2023-03-01", "reason": "all sentences ended"}),
    ] {
        ok(engine, as_court_officer(crn, "2023-03-01", body)).await;
    }
}

/// Seed 003 l.2600 (one record per person): a person who returns is sentenced on the same
/// record. `open_case` again is refused (naming `reopen_case`) and writes nothing; a new
/// sentence on the closed case appends `CaseReopened` (by the court officer who recorded the
/// sentence, reason `reopened_for_new_sentence`) and the sentence in one append, with a tier
/// derived again; after a second closure `reopen_case` reopens it explicitly. One stream holds
/// the whole history.
#[tokio::test]
async fn reopen_seed_003_l2600_a_returning_person_keeps_one_record() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    closed_case(&engine, "R100001").await;
    let before = engine.case_events("R100001").await.unwrap().len();

    let again = engine
        .execute_json(&as_case_administrator(
            "R100001",
            "2024-05-07",
            open_case_for("R100001", "2024-05-07", "1985-04-02", "male"),
        ))
        .await
        .expect_err("a case is not opened twice");
    assert!(again.to_string().contains("reopen_case"), "{again}");
    assert_eq!(engine.case_events("R100001").await.unwrap().len(), before);

    let receipt = ok(
        &engine,
        as_court_officer("R100001", "2024-05-07", community_order("2024-05-07")),
    )
    .await;
    assert_eq!(
        &receipt.event_types[..2],
        ["CaseReopened", "SentenceImposed"],
        "{receipt:?}"
    );
    let events = engine.case_events("R100001").await.unwrap();
    let reopened = events
        .iter()
        .find(|e| e.event_type == "CaseReopened")
        .unwrap();
    assert_eq!(reopened.actor.role, "court_officer");
    let case = state(&engine, "R100001").await;
    assert_eq!(case.closed_on, None);
    assert_eq!(case.sentences.len(), 2);
    assert_eq!(case.reopenings[0].reason_code, "reopened_for_new_sentence");
    assert_eq!(case.tier.as_ref().unwrap().calculated_on, date(2024, 5, 7));

    for body in [
        json!({"type": "terminate_sentence", "on": "2025-05-06", "sentence_id": 2, "reason": "expired"}),
        json!({"type": "close_case", "on": "2025-05-06", "reason": "all sentences ended"}),
    ] {
        ok(&engine, as_court_officer("R100001", "2025-05-06", body)).await;
    }
    ok(
        &engine,
        as_case_administrator(
            "R100001",
            "2025-06-02",
            json!({"type": "reopen_case", "on": "2025-06-02", "reason": "transferred in from another area"}),
        ),
    )
    .await;
    let case = state(&engine, "R100001").await;
    assert_eq!(case.closed_on, None);
    assert_eq!(case.reopenings.len(), 2);
    assert_eq!(case.reopenings[1].reason_code, "reopened_on_request");
    assert_eq!(case.reopenings[1].closed_on, date(2025, 5, 6));
}

/// A community order case (rehabilitation activity) assessed at RoSH high with OGRS 100:
/// tier B2 (protect 20 points; change 10 OGRS points + 1 need).
async fn community_b2_case(engine: &Engine, crn: &str, date_of_birth: &str) {
    ok(
        engine,
        as_case_administrator(
            crn,
            "2024-06-03",
            open_case_for(crn, "2024-06-03", date_of_birth, "male"),
        ),
    )
    .await;
    ok(
        engine,
        as_court_officer(
            crn,
            "2024-06-03",
            json!({
        "type": "impose_sentence", "on": "2024-06-03", "sentence_type": "community_order",
        "court": "Nottingham Magistrates' Court", "length_months": 12,
        "dates": {"sentence_expiry_date": "2025-06-02"},
        "requirements": [{"rehabilitation_activity": {"days": 20}}]}),
        ),
    )
    .await;
    ok(
        engine,
        as_probation_officer(
            crn,
            "2024-06-05",
            json!({
        "type": "assess_risk", "on": "2024-06-05", "kind": "initial", "rosh": "high",
        "rsr": null, "ogrs": 100, "needs": {"accommodation": "standard"}}),
        ),
    )
    .await;
}

/// The workload points of the only caseload group in the caseload read model on `today`.
async fn workload_points(engine: &Engine, today: jiff::civil::Date) -> Value {
    let table = engine
        .read_model_as_of("caseload", caseledger::replay::asof::AsOf::now(), today)
        .await
        .unwrap();
    let objects = table.objects();
    assert_eq!(objects.len(), 1, "{objects:?}");
    objects[0]["workload_points"].clone()
}

/// enforcement-and-workload.md §4.1–§4.2 with young adults 18–24 (seed 003 l.3119, l.1566,
/// l.3256): a 19-year-old's community B2 case is 48 points (T2A row), a 30-year-old's 115
/// (community row); the same person's case leaves the T2A row on their 25th birthday.
#[tokio::test]
async fn workload_4_1_a_young_adults_community_b2_case_is_48_points_seed_003_l3119() {
    let young = Engine::open(EngineConfig::memory()).unwrap();
    community_b2_case(&young, "Y100001", "2005-01-10").await;
    assert_eq!(
        state(&young, "Y100001").await.tier.unwrap().tier.as_str(),
        "B2"
    );
    assert_eq!(workload_points(&young, date(2024, 7, 1)).await, json!(48));

    let older = Engine::open(EngineConfig::memory()).unwrap();
    community_b2_case(&older, "Y100002", "1994-01-10").await;
    assert_eq!(workload_points(&older, date(2024, 7, 1)).await, json!(115));

    let turning = Engine::open(EngineConfig::memory()).unwrap();
    community_b2_case(&turning, "Y100003", "1999-07-01").await;
    assert_eq!(
        workload_points(&turning, date(2024, 6, 30)).await,
        json!(48)
    );
    assert_eq!(
        workload_points(&turning, date(2024, 7, 1)).await,
        json!(115)
    );
}

fn effective(d: jiff::civil::Date) -> caseledger::replay::asof::AsOf {
    let end_of_day = d
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_microsecond()
        + 86_400_000_000
        - 1;
    caseledger::replay::asof::AsOf {
        recorded_through_us: None,
        effective_through_us: Some(end_of_day),
    }
}

/// The caseload read model's rows (grouped by practitioner) on `today`.
async fn caseload(
    engine: &Engine,
    as_of: caseledger::replay::asof::AsOf,
    today: jiff::civil::Date,
) -> Vec<Value> {
    engine
        .read_model_as_of("caseload", as_of, today)
        .await
        .unwrap()
        .objects()
}

/// A man sentenced on 1 March 2023 to 12 months' custody (post-sentence supervision applies,
/// PSS-1), released automatically on 1 September 2023 with his licence to expire on 1 March
/// 2024; the TUSED is derived, 12 months after release: 1 September 2024.
async fn short_sentence_released(engine: &Engine, crn: &str) {
    ok(
        engine,
        as_case_administrator(
            crn,
            "2023-03-01",
            open_case_for(crn, "2023-03-01", "1980-02-03", "male"),
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
        "court": "Nottingham Crown Court", "length_months": 12,
        "dates": {"conditional_release_date": "2023-09-01", "licence_expiry_date": "2024-03-01",
                  "sentence_expiry_date": "2024-03-01"},
        "requirements": []}),
        ),
    )
    .await;
    ok(
        engine,
        as_probation_officer(
            crn,
            "2023-09-01",
            json!({"type": "release", "on": "2023-09-01", "sentence_id": 1, "release_type": "automatic"}),
        ),
    )
    .await;
}

/// The `SupervisionLapsed` records of a case: (role, reason code, lapsed_on, PSS until).
async fn lapses(engine: &Engine, crn: &str) -> Vec<(String, String, String, Value)> {
    engine
        .case_events(crn)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.event_type == "SupervisionLapsed")
        .map(|r| {
            let event: caseledger::domain::Event =
                caseledger::payload::decode(&r.event_type, r.schema_version, &r.payload).unwrap();
            let json = serde_json::to_value(&event).unwrap();
            let e = &json["SupervisionLapsed"];
            (
                r.actor.role.clone(),
                e["decision"]["reason_code"].as_str().unwrap().to_owned(),
                e["lapsed_on"].as_str().unwrap().to_owned(),
                e["post_sentence_supervision_until"].clone(),
            )
        })
        .collect()
}

/// LAPSE-1 (seed 002 l.53: the licence runs for the remainder of the sentence, then
/// post-sentence supervision where it applies): `advance_to` ends the licence on its expiry
/// date and starts post-sentence supervision to the derived TUSED in one `system` decision
/// (`licence_expiry_date_reached`), ends post-sentence supervision on the TUSED
/// (`top_up_supervision_expiry_date_reached`) and a community order on its end date
/// (`order_end_date_reached`), each once. The caseload drops each case from that date; as of
/// the day before it still holds it. An open recall holds a licence's end back.
#[tokio::test]
async fn lapse_1_licences_pss_and_orders_end_on_their_dates_seed_002_l53() {
    use caseledger::domain::sentence::SentenceId;
    use caseledger::domain::state::SentenceStatus;
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    short_sentence_released(&engine, "L100001").await;
    ok(
        &engine,
        as_case_administrator(
            "L100002",
            "2023-03-01",
            open_case_for("L100002", "2023-03-01", "1980-02-03", "male"),
        ),
    )
    .await;
    ok(
        &engine,
        as_court_officer(
            "L100002",
            "2023-03-01",
            json!({
        "type": "impose_sentence", "on": "2023-03-01", "sentence_type": "community_order",
        "court": "Nottingham Magistrates' Court", "length_months": 12,
        "dates": {"sentence_expiry_date": "2024-02-29"},
        "requirements": [{"rehabilitation_activity": {"days": 20}}]}),
        ),
    )
    .await;
    short_sentence_released(&engine, "L100003").await;
    ok(
        &engine,
        as_probation_officer(
            "L100003",
            "2024-02-01",
            json!({"type": "raise_recall", "on": "2024-02-01", "sentence_id": 1,
                   "reason": "risk unmanageable in the community"}),
        ),
    )
    .await;
    assert_eq!(
        caseload(&engine, AsOf::now(), date(2024, 2, 1)).await[0]["cases"],
        3
    );

    let first = engine.advance_to(date(2024, 6, 1)).await.unwrap();
    assert_eq!(
        lapses(&engine, "L100001").await,
        [(
            "system".to_owned(),
            "licence_expiry_date_reached".to_owned(),
            "2024-03-01".to_owned(),
            json!("2024-09-01")
        )]
    );
    let s = &state(&engine, "L100001").await.sentences[&SentenceId(1)];
    assert_eq!(s.status, SentenceStatus::PostSentenceSupervision);
    assert_eq!(s.post_sentence_supervision_ends_on, Some(date(2024, 9, 1)));
    assert_eq!(
        lapses(&engine, "L100002").await,
        [(
            "system".to_owned(),
            "order_end_date_reached".to_owned(),
            "2024-02-29".to_owned(),
            Value::Null
        )]
    );
    let order = &state(&engine, "L100002").await.sentences[&SentenceId(1)];
    assert_eq!(order.status, SentenceStatus::Terminated);
    assert!(lapses(&engine, "L100003").await.is_empty());
    assert!(
        first
            .blocked
            .iter()
            .any(|b| b.what.contains("L100003") && b.what.contains("recall 1 is open")),
        "{first:?}"
    );
    // Once: a second run records nothing new.
    let again = engine.advance_to(date(2024, 6, 1)).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");

    // The order left the caseload on its end date; the licence is post-sentence supervision.
    let rows = caseload(&engine, AsOf::now(), date(2024, 6, 1)).await;
    assert_eq!(rows[0]["cases"], 2, "{rows:?}");
    let before = caseload(&engine, effective(date(2024, 2, 28)), date(2024, 2, 28)).await;
    assert_eq!(before[0]["cases"], 3, "{before:?}");

    engine.advance_to(date(2024, 10, 1)).await.unwrap();
    let ends: Vec<_> = lapses(&engine, "L100001").await;
    assert_eq!(ends.len(), 2, "{ends:?}");
    assert_eq!(ends[1].1, "top_up_supervision_expiry_date_reached");
    assert_eq!(ends[1].2, "2024-09-01");
    let s = &state(&engine, "L100001").await.sentences[&SentenceId(1)];
    assert_eq!(s.status, SentenceStatus::SupervisionEnded);
    let rows = caseload(&engine, AsOf::now(), date(2024, 10, 1)).await;
    assert_eq!(rows[0]["cases"], 1, "only the recalled licence: {rows:?}");
    let before = caseload(&engine, effective(date(2024, 8, 31)), date(2024, 8, 31)).await;
    assert_eq!(before[0]["cases"], 2, "{before:?}");
}

fn as_senior_probation_officer(crn: &str, effective_at: &str, body: Value) -> String {
    command(crn, "senior_probation_officer", "nps", effective_at, body)
}

fn allocate(on: &str, staff_code: &str, team: &str) -> Value {
    json!({"type": "allocate_practitioner", "on": on, "team": team,
           "practitioner": {"staff_code": staff_code, "name": format!("Officer {staff_code}"), "grade": "PO"}})
}

/// The reason codes of the `PractitionerAllocated` events of a case, in order.
async fn allocation_reasons(engine: &Engine, crn: &str) -> Vec<String> {
    engine
        .case_events(crn)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.event_type == "PractitionerAllocated")
        .map(|r| {
            let event: caseledger::domain::Event =
                caseledger::payload::decode(&r.event_type, r.schema_version, &r.payload).unwrap();
            let json = serde_json::to_value(&event).unwrap();
            json["PractitionerAllocated"]["decision"]["reason_code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

async fn report(engine: &Engine, name: &str, today: jiff::civil::Date) -> Vec<Value> {
    engine
        .read_model_as_of(name, AsOf::now(), today)
        .await
        .unwrap()
        .objects()
}

/// ALLOC-1 (seed 003 l.775: allocated within five working days *of sentence*; BR-C3
/// continuity): a case whose order ended by its date gets a new order; the new order is
/// allocated afresh — the case has no practitioner and is in the allocation queue — and
/// allocating the same practitioner again is recorded with the reason `continuity`. The
/// allocation measure counts both sentences, each met.
#[tokio::test]
async fn alloc_1_a_new_order_after_one_ended_is_allocated_afresh_seed_003_l775() {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "A100001";
    community_b2_case(&engine, crn, "1980-02-03").await;
    ok(
        &engine,
        as_senior_probation_officer(
            crn,
            "2024-06-06",
            allocate("2024-06-06", "N07P001", "N07-T1"),
        ),
    )
    .await;
    engine.advance_to(date(2025, 6, 3)).await.unwrap();
    assert_eq!(
        lapses(&engine, crn).await[0].1,
        "order_end_date_reached",
        "the order ended on its date"
    );
    assert!(report(&engine, "allocations", date(2025, 6, 3))
        .await
        .is_empty());

    ok(
        &engine,
        as_court_officer(
            crn,
            "2025-07-01",
            json!({
        "type": "impose_sentence", "on": "2025-07-01", "sentence_type": "community_order",
        "court": "Nottingham Magistrates' Court", "length_months": 12,
        "dates": {"sentence_expiry_date": "2026-06-30"},
        "requirements": [{"rehabilitation_activity": {"days": 20}}]}),
        ),
    )
    .await;
    let case = state(&engine, crn).await;
    assert!(
        case.practitioner.is_none(),
        "the new order is allocated afresh"
    );
    let queue = report(&engine, "allocations", date(2025, 7, 2)).await;
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["crn"], crn);
    assert_eq!(queue[0]["sentenced_on"], "2025-07-01");

    ok(
        &engine,
        as_senior_probation_officer(
            crn,
            "2025-07-03",
            allocate("2025-07-03", "N07P001", "N07-T1"),
        ),
    )
    .await;
    assert_eq!(
        allocation_reasons(&engine, crn).await,
        ["allocated_on_tier", "continuity"]
    );
    let case = state(&engine, crn).await;
    let second = &case.sentences[&caseledger::domain::sentence::SentenceId(2)];
    assert_eq!(second.allocated_on, Some(date(2025, 7, 3)));
    assert!(report(&engine, "allocations", date(2025, 7, 3))
        .await
        .is_empty());
    let measures = report(&engine, "performance", date(2025, 8, 1)).await;
    let alloc: Vec<(Value, Value, Value)> = measures
        .iter()
        .filter(|r| r["measure"] == "ALLOC")
        .map(|r| {
            (
                r["month"].clone(),
                r["numerator"].clone(),
                r["denominator"].clone(),
            )
        })
        .collect();
    assert_eq!(
        alloc,
        [
            (json!("2024-06"), json!(1), json!(1)),
            (json!("2025-07"), json!(1), json!(1))
        ],
        "{measures:?}"
    );
}

/// XFER-1 (seed 003 l.2192: PDUs supervise their cases; l.2086, l.3494: one service across 12
/// regions including Wales): after a transfer the old practitioner's caseload no longer
/// counts the case and the receiving PDU's allocation queue lists it; a transfer from
/// England into Wales is accepted, and a CRC case moved into Wales in 2020 (Wales unified its
/// sentence management in December 2019, seed 003 l.216) joins the unified service on the
/// transfer day, while the English rules still had CRCs.
#[tokio::test]
async fn xfer_1_a_transfer_moves_the_case_out_of_the_old_caseload_and_into_the_receiving_queue_seed_003_l2192(
) {
    let engine = Engine::open(EngineConfig::memory()).unwrap();
    let crn = "T100001";
    community_b2_case(&engine, crn, "1980-02-03").await;
    ok(
        &engine,
        as_senior_probation_officer(
            crn,
            "2024-06-06",
            allocate("2024-06-06", "N07P001", "N07-T1"),
        ),
    )
    .await;
    let rows = caseload(&engine, AsOf::now(), date(2024, 6, 7)).await;
    assert_eq!(rows[0]["staff_code"], "N07P001", "{rows:?}");
    ok(
        &engine,
        as_senior_probation_officer(
            crn,
            "2024-07-01",
            json!({"type": "transfer_case", "on": "2024-07-01", "to_pdu": 106, "to_team": null,
                   "reason": "moved to Cardiff"}),
        ),
    )
    .await;
    let rows = caseload(&engine, AsOf::now(), date(2024, 7, 2)).await;
    assert!(
        rows.iter().all(|r| r["staff_code"] != "N07P001"),
        "the old practitioner no longer counts it: {rows:?}"
    );
    let queue = report(&engine, "allocations", date(2024, 7, 2)).await;
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["pdu"], "Cardiff and the Vale of Glamorgan");
    assert_eq!(queue[0]["region"], "H");
    // As of the day before, it was the old practitioner's.
    let before = caseload(&engine, effective(date(2024, 6, 30)), date(2024, 6, 30)).await;
    assert_eq!(before[0]["staff_code"], "N07P001", "{before:?}");
    ok(
        &engine,
        as_senior_probation_officer(
            crn,
            "2024-07-03",
            allocate("2024-07-03", "W06P001", "W06-T1"),
        ),
    )
    .await;
    assert_eq!(state(&engine, crn).await.pdu.unwrap().number(), 106);

    // A CRC case moved into Wales in 2020 joins the unified service on the transfer day.
    let crc = "T100002";
    ok(
        &engine,
        as_case_administrator(
            crc,
            "2020-03-02",
            open_case_for(crc, "2020-03-02", "1980-02-03", "male"),
        ),
    )
    .await;
    ok(
        &engine,
        as_court_officer(crc, "2020-03-02", community_order("2020-03-02")),
    )
    .await;
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
    ok(
        &engine,
        as_senior_probation_officer(
            crc,
            "2020-05-01",
            json!({"type": "transfer_case", "on": "2020-05-01", "to_pdu": 106, "to_team": null,
                   "reason": "moved to Cardiff"}),
        ),
    )
    .await;
    engine.advance_to(date(2020, 6, 1)).await.unwrap();
    let moved = state(&engine, crc).await;
    assert_eq!(moved.unified_on, Some(date(2020, 5, 1)));
    assert_eq!(moved.provider_name().as_deref(), Some("Probation Service"));
}
