//! The lifecycle after a first order, through the real `caseledger` binary on a sled store:
//! commands imported as JSON Lines, then `case`, `replay`, `explain` and the read models. Each
//! test is named by its rule and seed line.

mod cli_support;
mod engine_support;

use std::path::Path;

use cli_support::{caseledger, Cli, Ran};
use engine_support::*;
use serde_json::{json, Value};

/// The event ids of `event_type` on the case, in stream order.
fn event_ids(data: &Path, crn: &str, event_type: &str) -> Vec<String> {
    let history = caseledger(data, &["replay", crn, "--format", "json"]).json();
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

fn explain(data: &Path, event_id: &str, today: &str) -> Value {
    caseledger(
        data,
        &["explain", event_id, "--today", today, "--format", "json"],
    )
    .json()
}

fn woman_with_recall(crn: &str, outcome: &str) -> Vec<String> {
    let mut lines = vec![
        as_case_administrator(
            crn,
            "2023-03-01",
            json!({"type": "open_case", "crn": crn, "pdu": 79, "team": null, "on": "2023-03-01",
                   "person": {"name": "Jo Example", "date_of_birth": "1990-06-01", "gender": "female"}}),
        ),
        as_court_officer(
            crn,
            "2023-03-01",
            json!({
            "type": "impose_sentence", "on": "2023-03-01", "sentence_type": "determinate_custody",
            "court": "Nottingham Crown Court", "length_months": 24,
            "dates": {"conditional_release_date": "2024-03-01", "sentence_expiry_date": "2025-03-01"},
            "requirements": []}),
        ),
        as_probation_officer(
            crn,
            "2024-03-01",
            json!({"type": "release", "on": "2024-03-01", "sentence_id": 1, "release_type": "automatic"}),
        ),
        as_probation_officer(
            crn,
            "2024-04-02",
            json!({"type": "raise_recall", "on": "2024-04-02", "sentence_id": 1,
                   "reason": "risk unmanageable in the community"}),
        ),
        as_probation_officer(
            crn,
            "2024-04-03",
            json!({"type": "conclude_recall", "on": "2024-04-03", "recall_id": 1, "outcome": outcome}),
        ),
    ];
    for kind in [
        "mental_health_issues",
        "attempted_suicide_or_self_harm",
        "vulnerability",
        "child_concerns",
    ] {
        lines.push(as_probation_officer(
            crn,
            "2024-04-10",
            json!({"type": "add_registration", "on": "2024-04-10", "kind": kind, "review_on": null}),
        ));
    }
    lines.push(as_probation_officer(
        crn,
        "2024-04-12",
        assess("2024-04-12", "review", "medium"),
    ));
    lines
}

/// tier-rules.md §3.4 (seed 003 l.2914, recall BR-I3): through the binary, a woman whose
/// recall the NPS rejected (`REC03`) keeps protect C and `explain` shows
/// `previous_enforcement: false` with the rejected recall and why it does not count; with a
/// standard-term recall (`REC02`) she is at protect B, and the caseload read model agrees.
#[test]
fn tier_3_4_a_rejected_recall_does_not_raise_a_womans_tier_seed_003_l2914() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut lines = woman_with_recall("F200001", "REC03");
    lines.extend(woman_with_recall("F200002", "REC02"));
    Cli::on(&data).import_none_refused(dir.path(), "commands.jsonl", &lines);

    assert_eq!(Cli::on(&data).case("F200001")["tier"]["tier"], "C1");
    assert_eq!(Cli::on(&data).case("F200002")["tier"]["tier"], "B1");

    let tiers = event_ids(&data, "F200001", "TierCalculated");
    let explanation = explain(&data, tiers.last().unwrap(), "2024-05-01");
    assert_eq!(explanation["inputs"]["previous_enforcement"], json!(false));
    let considered = &explanation["inputs_derivation"]["previous_enforcement"][0];
    assert_eq!(considered["outcome"], "REC03", "{explanation:#}");
    assert_eq!(considered["counts"], json!(false));
    assert_eq!(
        explanation["calculation"]["breakdown"]["protect"]["female_factors"]
            ["previous_enforcement"],
        json!(0)
    );
    assert_eq!(
        explanation["inputs_source"]["digest_matches"],
        json!(true),
        "{explanation:#}"
    );

    caseledger(&data, &["rebuild"]).succeeded("rebuild");
    let out = caseledger(
        &data,
        &[
            "report",
            "caseload",
            "--today",
            "2024-05-01",
            "--format",
            "json",
        ],
    )
    .succeeded("report")
    .stdout;
    assert!(out.contains("B1:1") && out.contains("C1:1"), "{out}");
}

/// Run `caseledger exec` with one command line on stdin.
fn exec(data: &Path, line: &str) -> Ran {
    let input = format!("{line}\n");
    Cli::on(data).input(input.as_bytes()).run(&["exec"])
}

fn community_case_with_predictors(crn: &str, predictors: Value) -> Vec<String> {
    let mut assessment = assess("2024-06-05", "initial", "high");
    assessment["predictors"] = predictors;
    let mut lines = sentenced_on_2024_06_03(crn, "1980-01-15");
    lines.push(as_probation_officer(crn, "2024-06-05", assessment));
    lines
}

/// tier-rules.md §6.2, §8 (seed 003 l.769): through the binary, `assess_risk` with V3
/// predictors records V3 `A` beside V2, the case shows both, and `explain` of the V3 decision
/// re-derives its inputs (digest matches) and shows the V3 steps; an ARP above 100 % is
/// refused at the door (exit 3, field named) and writes nothing.
#[test]
fn tier_6_2_v3_tier_through_the_binary_seed_003_l769() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Cli::on(&data).import_none_refused(
        dir.path(),
        "commands.jsonl",
        &community_case_with_predictors(
            "V200001",
            json!({"arp": 9150, "arp_static": false, "csrp": 700, "csrp_static": false}),
        ),
    );
    let case_json = Cli::on(&data).case("V200001");
    assert_eq!(case_json["tier_v3"]["tier"], "A", "{case_json:#}");
    assert_eq!(case_json["tier_v3"]["provisional"], json!(false));
    assert_eq!(
        case_json["tier"]["tier"].as_str().unwrap().chars().next(),
        Some('B')
    );
    assert_eq!(case_json["risk"]["predictors"]["arp"], json!(9150));

    let v3 = event_ids(&data, "V200001", "TierV3Calculated");
    assert_eq!(v3.len(), 1);
    let explanation = explain(&data, &v3[0], "2024-07-01");
    assert_eq!(explanation["inputs_source"]["digest_matches"], json!(true));
    assert_eq!(explanation["inputs"]["v3"]["csrp"], json!(7.0));
    assert_eq!(explanation["calculation"]["v3"], "A");
    assert_eq!(explanation["reevaluation"]["same_as_recorded"], json!(true));

    let events_before = event_ids(&data, "V200001", "RiskAssessed").len();
    let mut too_high = assess("2024-06-10", "review", "high");
    too_high["predictors"] = json!({"arp": 10001});
    let (code, out, err) = exec(
        &data,
        &as_probation_officer("V200001", "2024-06-10", too_high),
    )
    .parts();
    assert_eq!(code, 3, "bad input: {out}{err}");
    assert!(err.contains("command.predictors.arp"), "{err}");
    assert_eq!(
        event_ids(&data, "V200001", "RiskAssessed").len(),
        events_before
    );
}

/// Seed 003 l.2600 (one record per person): through the binary, a closed case leaves the
/// caseload; `open_case` again is refused (exit 5, naming `reopen_case`); a new sentence on
/// the closed case reopens it — `replay` shows `CaseReopened` before the new `SentenceImposed`
/// on the one stream — and the rebuilt caseload counts it again.
#[test]
fn reopen_seed_003_l2600_a_returning_person_is_sentenced_on_the_same_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let crn = "R200001";
    let mut lines = vec![
        as_case_administrator(
            crn,
            "2022-03-01",
            json!({"type": "open_case", "crn": crn, "pdu": 79, "team": null, "on": "2022-03-01",
                   "person": {"name": "Sam Example", "date_of_birth": "1985-04-02", "gender": "male"}}),
        ),
        as_court_officer(crn, "2022-03-01", community_order("2022-03-01")),
        as_probation_officer(crn, "2022-03-03", assess("2022-03-03", "initial", "medium")),
    ];
    for body in [
        json!({"type": "terminate_sentence", "on": "2023-03-01", "sentence_id": 1, "reason": "expired"}),
        json!({"type": "close_case", "on": "2023-03-01", "reason": "all sentences ended"}),
    ] {
        lines.push(as_court_officer(crn, "2023-03-01", body));
    }
    Cli::on(&data).import_none_refused(dir.path(), "first.jsonl", &lines);
    let caseload = |data: &Path| {
        caseledger(data, &["rebuild"]).succeeded("rebuild");
        let out = caseledger(
            data,
            &[
                "report",
                "caseload",
                "--today",
                "2024-06-01",
                "--format",
                "json",
            ],
        )
        .succeeded("report")
        .stdout;
        let rows: Value = serde_json::from_str(&out).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["cases"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(caseload(&data), 0, "closed: not on a caseload");

    let (code, out, err) = exec(
        &data,
        &as_case_administrator(
            crn,
            "2024-05-07",
            json!({"type": "open_case", "crn": crn, "pdu": 79, "team": null, "on": "2024-05-07",
                   "person": {"name": "Sam Example", "date_of_birth": "1985-04-02", "gender": "male"}}),
        ),
    ).parts();
    assert_eq!(code, 5, "refused: {out}{err}");
    assert!(err.contains("reopen_case"), "{err}");

    Cli::on(&data).import_none_refused(
        dir.path(),
        "return.jsonl",
        &[as_court_officer(
            crn,
            "2024-05-07",
            community_order("2024-05-07"),
        )],
    );
    let out = caseledger(&data, &["replay", crn, "--format", "json"])
        .succeeded("replay")
        .stdout;
    let history: Value = serde_json::from_str(&out).unwrap();
    let types: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    let reopened = types.iter().position(|t| *t == "CaseReopened").unwrap();
    assert_eq!(types[reopened + 1], "SentenceImposed", "{types:?}");
    assert!(types[..reopened].contains(&"CaseClosed"), "{types:?}");
    assert_eq!(Cli::on(&data).case(crn)["closed_on"], Value::Null);
    assert_eq!(caseload(&data), 1, "open again: on a caseload");
}

/// enforcement-and-workload.md §4.1–§4.2 with young adults 18–24 (seed 003 l.3119, l.1566,
/// l.3256): through the binary, the rebuilt caseload read model scores a 19-year-old's
/// community B2 case at 48 points (T2A row); on the day after their 25th birthday the same
/// case is 115 (community row).
#[test]
fn workload_4_1_young_adult_t2a_row_through_the_binary_seed_003_l3119() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let lines = young_adult_on_a_community_order("Y200001");
    Cli::on(&data).import_none_refused(dir.path(), "commands.jsonl", &lines);
    caseledger(&data, &["rebuild"]).succeeded("rebuild");
    let points = |today: &str| {
        let out = caseledger(
            &data,
            &["report", "caseload", "--today", today, "--format", "json"],
        )
        .succeeded("report")
        .stdout;
        let rows: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 1, "{out}");
        assert_eq!(rows[0]["by_tier"], "B2:1", "{out}");
        rows[0]["workload_points"].clone()
    };
    assert_eq!(points("2024-07-01"), json!(48), "19 years old: T2A row");
    assert_eq!(
        points("2030-01-10"),
        json!(115),
        "25th birthday: community row"
    );
}

/// `report caseload --format json --today TODAY` with `extra` options, after a rebuild.
fn caseload_report(data: &Path, today: &str, extra: &[&str]) -> Vec<Value> {
    caseledger(data, &["rebuild"]).succeeded("rebuild");
    let mut args = vec!["report", "caseload", "--today", today, "--format", "json"];
    args.extend_from_slice(extra);
    let out = caseledger(data, &args).succeeded("report").stdout;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("report JSON: {e}\n{out}"))
}

fn tick(data: &Path, to: &str) -> Value {
    let out = caseledger(data, &["tick", "--to", to, "--format", "json"])
        .succeeded("tick")
        .stdout;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("tick JSON: {e}\n{out}"))
}

/// LAPSE-1 (seed 002 l.53): through the binary, `tick` past a licence expiry date turns a
/// short sentence's licence into post-sentence supervision to the derived TUSED, and past a
/// community order's end date ends the order — once; the rebuilt caseload drops the order from
/// its end date and keeps it as of the day before; past the TUSED the case leaves the caseload.
#[test]
fn lapse_1_tick_ends_licences_pss_and_orders_on_their_dates_seed_002_l53() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (licence, order) = ("L200001", "L200002");
    let open = |crn: &str| {
        as_case_administrator(
            crn,
            "2023-03-01",
            json!({"type": "open_case", "crn": crn, "pdu": 79, "team": null, "on": "2023-03-01",
                   "person": {"name": "Sam Example", "date_of_birth": "1980-02-03", "gender": "male"}}),
        )
    };
    let lines = vec![
        open(licence),
        as_court_officer(
            licence,
            "2023-03-01",
            json!({
            "type": "impose_sentence", "on": "2023-03-01", "sentence_type": "determinate_custody",
            "court": "Nottingham Crown Court", "length_months": 12,
            "dates": {"conditional_release_date": "2023-09-01", "licence_expiry_date": "2024-03-01",
                      "sentence_expiry_date": "2024-03-01"},
            "requirements": []}),
        ),
        as_probation_officer(
            licence,
            "2023-09-01",
            json!({"type": "release", "on": "2023-09-01", "sentence_id": 1, "release_type": "automatic"}),
        ),
        open(order),
        as_court_officer(
            order,
            "2023-03-01",
            json!({
            "type": "impose_sentence", "on": "2023-03-01", "sentence_type": "community_order",
            "court": "Nottingham Magistrates' Court", "length_months": 12,
            "dates": {"sentence_expiry_date": "2024-02-29"},
            "requirements": [{"rehabilitation_activity": {"days": 20}}]}),
        ),
    ];
    Cli::on(&data).import_none_refused(dir.path(), "commands.jsonl", &lines);

    let first = tick(&data, "2024-06-01");
    assert_eq!(first["applied"].as_array().unwrap().len(), 2, "{first}");
    let s = &Cli::on(&data).case(licence)["sentences"]["1"];
    assert_eq!(s["status"], "post_sentence_supervision", "{s}");
    assert_eq!(s["post_sentence_supervision_ends_on"], "2024-09-01");
    assert_eq!(
        Cli::on(&data).case(order)["sentences"]["1"]["status"],
        "terminated"
    );
    let lapsed = event_ids(&data, licence, "SupervisionLapsed");
    let explanation = explain(&data, &lapsed[0], "2024-06-01");
    assert!(
        explanation
            .to_string()
            .contains("licence_expiry_date_reached"),
        "{explanation:#}"
    );
    assert_eq!(tick(&data, "2024-06-01")["applied"], json!([]));

    let now = caseload_report(&data, "2024-06-01", &[]);
    assert_eq!(now[0]["cases"], 1, "{now:?}");
    let before = caseload_report(&data, "2024-02-28", &["--as-of-effective", "2024-02-28"]);
    assert_eq!(before[0]["cases"], 2, "{before:?}");

    tick(&data, "2024-10-01");
    assert_eq!(
        Cli::on(&data).case(licence)["sentences"]["1"]["status"],
        "supervision_ended"
    );
    let after = caseload_report(&data, "2024-10-01", &[]);
    assert!(
        after.iter().all(|r| r["cases"] == 0),
        "nobody left on the caseload: {after:?}"
    );
    let before = caseload_report(&data, "2024-08-31", &["--as-of-effective", "2024-08-31"]);
    assert_eq!(before[0]["cases"], 1, "{before:?}");
}

fn report(data: &Path, name: &str, today: &str) -> Vec<Value> {
    caseledger(data, &["rebuild"]).succeeded("rebuild");
    let out = caseledger(
        data,
        &["report", name, "--today", today, "--format", "json"],
    )
    .succeeded(&format!("report {name}"))
    .stdout;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("report JSON: {e}\n{out}"))
}

fn as_senior_probation_officer(crn: &str, effective_at: &str, body: Value) -> String {
    command(crn, "senior_probation_officer", "nps", effective_at, body)
}

fn community_case_allocated(crn: &str) -> Vec<String> {
    let mut lines = sentenced_on_2024_06_03(crn, "1980-02-03");
    lines.push(as_probation_officer(
        crn,
        "2024-06-05",
        assess("2024-06-05", "initial", "medium"),
    ));
    lines.push(as_senior_probation_officer(
        crn,
        "2024-06-06",
        json!({"type": "allocate_practitioner", "on": "2024-06-06", "team": "N07-T1",
               "practitioner": {"staff_code": "N07P001", "name": "Jo Officer", "grade": "PO"}}),
    ));
    lines
}

/// ALLOC-1 (seed 003 l.775): through the binary, an order that ended on its date (`tick`) is
/// followed by a new order: the rebuilt allocation queue lists the case, allocating the same
/// practitioner again is recorded with the reason `continuity` (`explain`), and the
/// performance report counts the allocation of both sentences.
#[test]
fn alloc_1_a_new_order_reaches_the_allocation_queue_and_the_measure_seed_003_l775() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let crn = "A200001";
    Cli::on(&data).import_none_refused(dir.path(), "first.jsonl", &community_case_allocated(crn));
    tick(&data, "2025-06-03");
    Cli::on(&data).import_none_refused(
        dir.path(),
        "second.jsonl",
        &[as_court_officer(
            crn,
            "2025-07-01",
            json!({
            "type": "impose_sentence", "on": "2025-07-01", "sentence_type": "community_order",
            "court": "Nottingham Magistrates' Court", "length_months": 12,
            "dates": {"sentence_expiry_date": "2026-06-30"},
            "requirements": [{"rehabilitation_activity": {"days": 20}}]}),
        )],
    );
    assert_eq!(Cli::on(&data).case(crn)["practitioner"], Value::Null);
    let queue = report(&data, "allocations", "2025-07-02");
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["sentenced_on"], "2025-07-01");

    Cli::on(&data).import_none_refused(
        dir.path(),
        "third.jsonl",
        &[as_senior_probation_officer(
            crn,
            "2025-07-03",
            json!({"type": "allocate_practitioner", "on": "2025-07-03", "team": "N07-T1",
                   "practitioner": {"staff_code": "N07P001", "name": "Jo Officer", "grade": "PO"}}),
        )],
    );
    let allocations = event_ids(&data, crn, "PractitionerAllocated");
    assert_eq!(allocations.len(), 2);
    let explanation = explain(&data, &allocations[1], "2025-07-03");
    assert!(
        explanation.to_string().contains("\"continuity\""),
        "{explanation:#}"
    );
    assert!(report(&data, "allocations", "2025-07-03").is_empty());
    let measures = report(&data, "performance", "2025-08-01");
    let alloc: Vec<&Value> = measures
        .iter()
        .filter(|r| r["measure"] == "ALLOC")
        .collect();
    assert_eq!(alloc.len(), 2, "{measures:?}");
    assert!(
        alloc
            .iter()
            .all(|r| r["numerator"] == 1 && r["denominator"] == 1),
        "{alloc:?}"
    );
}

/// XFER-1 (seed 003 l.2192, l.2086, l.3494): through the binary, a case transferred from
/// Nottingham into Cardiff (Wales) is accepted; the rebuilt caseload no longer counts it for
/// its old practitioner and the allocation queue lists it in the receiving PDU.
#[test]
fn xfer_1_a_transfer_into_wales_through_the_binary_seed_003_l2086() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let crn = "T200001";
    let mut lines = community_case_allocated(crn);
    lines.push(as_senior_probation_officer(
        crn,
        "2024-07-01",
        json!({"type": "transfer_case", "on": "2024-07-01", "to_pdu": 106, "to_team": null,
               "reason": "moved to Cardiff"}),
    ));
    Cli::on(&data).import_none_refused(dir.path(), "commands.jsonl", &lines);
    let rows = caseload_report(&data, "2024-07-02", &[]);
    assert!(
        rows.iter().all(|r| r["staff_code"] != "N07P001"),
        "{rows:?}"
    );
    let queue = report(&data, "allocations", "2024-07-02");
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["pdu"], "Cardiff and the Vale of Glamorgan");
    let before = caseload_report(&data, "2024-06-30", &["--as-of-effective", "2024-06-30"]);
    assert_eq!(before[0]["staff_code"], "N07P001", "{before:?}");
}
