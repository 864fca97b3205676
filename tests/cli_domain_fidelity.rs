//! Read models, corrections and derived decisions agree with the case state, through the real
//! binary on a real sled store: `exec`, `case`, `rebuild`, `report` (as-of too). One test per
//! rule, named by rule id and seed line (docs/rules.md).

mod cli_support;
mod engine_support;

use std::path::{Path, PathBuf};

use engine_support::*;
use serde_json::{json, Value};

/// Nottingham City (TOM Annex C), served by DLNR CRC in the TR era (seed 001 l.10).
const NOTTINGHAM_CITY: u8 = 79;
const CRC_DLNR: &str = "crc:DLNR CRC";

/// A fresh data directory, initialised, and the runs the tests make on it.
struct Ledger {
    _dir: tempfile::TempDir,
    data: PathBuf,
}

impl Ledger {
    fn new() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cli = Ledger { _dir: dir, data };
        let (code, _, err) = cli.run(&["init"], "");
        assert_eq!(code, 0, "{err}");
        cli
    }

    fn data(&self) -> &Path {
        &self.data
    }

    /// `caseledger --data DATA ARGS…` fed `stdin`: (exit code, stdout, stderr).
    fn run(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        cli_support::Cli::on(self.data())
            .input(stdin.as_bytes())
            .run(args)
            .parts()
    }

    fn exec(&self, line: String) -> Value {
        let (code, out, err) = self.run(&["exec"], &line);
        assert_eq!(code, 0, "{err}\n{line}");
        serde_json::from_str(&out).unwrap()
    }

    fn case(&self, crn: &str) -> Value {
        let (code, out, err) = self.run(&["case", crn], "");
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }

    /// `report NAME --format json` with `extra` options, after a rebuild.
    fn report(&self, name: &str, extra: &[&str]) -> Vec<Value> {
        let (code, _, err) = self.run(&["rebuild"], "");
        assert_eq!(code, 0, "{err}");
        let mut args = vec!["report", name, "--format", "json"];
        args.extend_from_slice(extra);
        let (code, out, err) = self.run(&args, "");
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }

    fn open_with_order(&self, crn: &str, on: &str) {
        self.exec(as_case_administrator(
            crn,
            on,
            open_case(crn, NOTTINGHAM_CITY, on),
        ));
        self.exec(as_court_officer(crn, on, community_order(on)));
    }
}

/// MAPPA-1 (seed 000 l.9; seed 003 l.755): `report mappa` drops a case whose MAPPA
/// registration was removed, after a rebuild too, and still lists it as of an earlier date.
#[test]
fn mappa_1_seed_000_l9_report_mappa_drops_a_removed_registration_from_its_date() {
    let cli = Ledger::new();
    let crn = "M200001";
    cli.open_with_order(crn, "2022-03-01");
    cli.exec(as_probation_officer(
        crn,
        "2022-03-02",
        assess("2022-03-02", "initial", "high"),
    ));
    cli.exec(as_probation_officer(
        crn,
        "2022-03-03",
        json!({"type": "add_registration", "on": "2022-03-03",
               "kind": {"mappa": {"category": 2, "level": 1}}, "review_on": "2022-09-01"}),
    ));
    assert_eq!(cli.report("mappa", &["--today", "2022-07-01"]).len(), 1);
    cli.exec(as_probation_officer(
        crn,
        "2022-06-03",
        json!({"type": "remove_registration", "on": "2022-06-01", "registration_id": 1,
               "reason": "review: no longer applies"}),
    ));
    assert!(cli.report("mappa", &["--today", "2022-07-01"]).is_empty());
    let before = cli.report(
        "mappa",
        &["--as-of-effective", "2022-05-31", "--today", "2022-07-01"],
    );
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["category"], 2);
    assert_eq!(before[0]["level"], 1);
}

/// ROSH-1 (seed 001 l.55–68; tier-rules.md §9): after the NPS confirms a higher RoSH,
/// `report caseload` counts the new RoSH and the recalculated tier and workload points.
#[test]
fn rosh_1_seed_001_l55_report_caseload_follows_the_nps_escalation_decision() {
    let cli = Ledger::new();
    let crn = "N200002";
    cli.open_with_order(crn, "2016-03-01");
    cli.exec(as_probation_officer(
        crn,
        "2016-03-02",
        assess("2016-03-02", "initial", "medium"),
    ));
    cli.exec(as_probation_officer(
        crn,
        "2016-03-03",
        json!({"type": "allocate_to_provider", "on": "2016-03-03", "crc": "DLNR CRC",
               "deportation_order": false, "notoriety": false}),
    ));
    let before = cli.report("caseload", &["--today", "2016-10-01"]);
    assert_eq!(before[0]["by_rosh"], "medium:1");
    cli.exec(command(
        crn,
        "probation_officer",
        CRC_DLNR,
        "2016-09-01",
        json!({"type": "request_risk_escalation", "on": "2016-09-01", "proposed_rosh": "high",
               "evidence": "new intelligence from police"}),
    ));
    cli.exec(as_probation_officer(
        crn,
        "2016-09-06",
        json!({"type": "decide_risk_escalation", "on": "2016-09-06", "confirmed_rosh": "high"}),
    ));
    let case = cli.case(crn);
    assert_eq!(case["risk"]["rosh"], "high");
    assert_eq!(case["tier"]["reason_code"], "risk_escalation_decided");
    let after = cli.report("caseload", &["--today", "2016-10-01"]);
    assert_eq!(after[0]["by_rosh"], "high:1");
    assert_eq!(
        after[0]["by_tier"],
        format!("{}:1", case["tier"]["tier"].as_str().unwrap())
    );
    assert_ne!(after[0]["workload_points"], before[0]["workload_points"]);
}

/// COR-1 (design.md invariant 1): `correct_event` retracts the assessment it names — the
/// case, its tier and `report caseload` stop using it — and `report --as-of-recorded` before
/// the correction shows what was believed then.
#[test]
fn cor_1_report_caseload_stops_counting_a_corrected_assessment_from_the_correction_on() {
    let cli = Ledger::new();
    let crn = "E200003";
    cli.open_with_order(crn, "2022-03-01");
    cli.exec(as_probation_officer(
        crn,
        "2022-03-02",
        assess("2022-03-02", "initial", "medium"),
    ));
    cli.exec(as_probation_officer(
        crn,
        "2022-03-10",
        assess("2022-03-10", "review", "very_high"),
    ));
    let wrong = cli.case(crn);
    let facts = wrong["risk"]["facts"].as_array().unwrap();
    let wrong_id = facts.last().unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let believed_until = jiff::Timestamp::now().to_string();
    std::thread::sleep(std::time::Duration::from_millis(5));
    cli.exec(command(
        crn,
        "senior_probation_officer",
        "nps",
        "2022-03-11",
        json!({"type": "correct_event", "on": "2022-03-11", "corrected_event_id": wrong_id,
               "corrected_event_type": "RiskAssessed", "reason": "RoSH entered on the wrong case"}),
    ));
    let case = cli.case(crn);
    assert_eq!(case["risk"]["rosh"], "medium");
    assert_eq!(case["tier"]["reason_code"], "event_corrected");
    assert_ne!(case["tier"]["tier"], wrong["tier"]["tier"]);
    let now = cli.report("caseload", &["--today", "2022-04-01"]);
    assert_eq!(now[0]["by_rosh"], "medium:1");
    let then = cli.report(
        "caseload",
        &["--as-of-recorded", &believed_until, "--today", "2022-04-01"],
    );
    assert_eq!(then[0]["by_rosh"], "very_high:1");
    assert_eq!(
        then[0]["by_tier"],
        format!("{}:1", wrong["tier"]["tier"].as_str().unwrap())
    );
}

/// ASOF-1: `report --as-of-effective D` counts a fact dated on or before D although the
/// command that recorded it carried a later `effective_at`.
#[test]
fn asof_1_report_as_of_effective_counts_a_fact_from_its_own_date() {
    let cli = Ledger::new();
    let crn = "E200004";
    cli.open_with_order(crn, "2022-03-01");
    cli.exec(as_probation_officer(
        crn,
        "2022-03-20",
        assess("2022-03-10", "initial", "high"),
    ));
    let row = cli.report(
        "caseload",
        &["--as-of-effective", "2022-03-15", "--today", "2022-04-01"],
    );
    assert_eq!(row[0]["by_rosh"], "high:1");
    let row = cli.report(
        "caseload",
        &["--as-of-effective", "2022-03-09", "--today", "2022-04-01"],
    );
    assert_eq!(row[0]["by_rosh"], "none:1");
}

/// CASELOAD-BY (seed 004 l.68; seed 000 l.8–9): `report caseload --by provider|pdu|team|
/// practitioner` in every format, as of an earlier date too; `--by` on another report or an
/// unknown grouping is an unusable argument (exit 2).
#[test]
fn caseload_by_seed_004_l68_report_caseload_by_provider_in_every_format() {
    let cli = Ledger::new();
    for (crn, rosh) in [("N200010", "high"), ("N200011", "low")] {
        cli.open_with_order(crn, "2016-03-01");
        cli.exec(as_probation_officer(
            crn,
            "2016-03-02",
            assess("2016-03-02", "initial", rosh),
        ));
    }
    // BR-A3/BR-A4: the NPS keeps the high-RoSH case, the low one goes to the CRC.
    for crn in ["N200010", "N200011"] {
        cli.exec(as_probation_officer(
            crn,
            "2016-03-03",
            json!({"type": "allocate_to_provider", "on": "2016-03-03", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
        ));
    }
    let rows = cli.report("caseload", &["--by", "provider", "--today", "2016-04-01"]);
    let got: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap(),
                r["cases"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![("CRC DLNR CRC", 1), ("NPS", 1)]);
    let rows = cli.report(
        "caseload",
        &[
            "--by",
            "provider",
            "--as-of-effective",
            "2016-03-02",
            "--today",
            "2016-04-01",
        ],
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["provider"], "(none)");
    assert_eq!(rows[0]["cases"], 2);
    let rows = cli.report("caseload", &["--by", "pdu", "--today", "2016-04-01"]);
    assert_eq!(rows[0]["pdu"], "Nottingham City");
    let rows = cli.report("caseload", &["--by", "team", "--today", "2016-04-01"]);
    assert_eq!(rows[0]["cases"], 2);
    let rows = cli.report(
        "caseload",
        &["--by", "practitioner", "--today", "2016-04-01"],
    );
    assert_eq!(rows[0]["staff_code"], "(unallocated)");
    for format in ["csv", "table"] {
        let (code, out, err) = cli.run(
            &[
                "report",
                "caseload",
                "--by",
                "provider",
                "--format",
                format,
                "--today",
                "2016-04-01",
            ],
            "",
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("CRC DLNR CRC") && out.contains("NPS"), "{out}");
    }
    let (code, _, err) = cli.run(&["report", "caseload", "--by", "region-ish"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--by"), "{err}");
    let (code, _, err) = cli.run(&["report", "mappa", "--by", "provider"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--by"), "{err}");
}

/// PM-FROM (seed 003 l.1844–1856, l.769–775): `report allocations` leaves `overdue` empty
/// for a 2016 sentence and `report performance` has no row for a month before June 2021.
#[test]
fn pm_from_seed_003_l1844_reports_measure_nothing_before_june_2021() {
    let cli = Ledger::new();
    cli.open_with_order("N200020", "2016-03-01");
    cli.open_with_order("E200021", "2022-03-01");
    let queue = cli.report("allocations", &["--today", "2022-06-01"]);
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0]["crn"], "N200020");
    assert_eq!(queue[0]["overdue"], Value::Null);
    assert_eq!(queue[1]["overdue"], true);
    let measures = cli.report("performance", &["--today", "2022-06-01"]);
    assert!(!measures.is_empty());
    assert!(
        measures
            .iter()
            .all(|r| r["month"].as_str().unwrap() >= "2021-06"),
        "{measures:?}"
    );
}

/// PSS-1 (seed 002 l.53; Offender Rehabilitation Act 2014): through the binary, a 12-month
/// sentence runs licence then PSS with the TUSED derived from the release (12 months later);
/// a 2-year sentence is refused PSS (exit 5) naming the rule.
#[test]
fn pss_1_seed_002_l53_licence_then_pss_through_the_binary() {
    let cli = Ledger::new();
    for (crn, length) in [("E200030", 12), ("E200031", 24)] {
        cli.exec(as_case_administrator(
            crn,
            "2022-03-01",
            open_case(crn, NOTTINGHAM_CITY, "2022-03-01"),
        ));
        cli.exec(as_court_officer(
            crn,
            "2022-03-01",
            json!({"type": "impose_sentence", "on": "2022-03-01", "sentence_type": "determinate_custody",
                   "court": "Nottingham Crown Court", "length_months": length,
                   "dates": {"conditional_release_date": "2022-09-01",
                             "sentence_expiry_date": "2023-03-01", "licence_expiry_date": "2023-03-01"},
                   "requirements": []}),
        ));
        cli.exec(command(
            crn,
            "prison_offender_manager",
            "prison",
            "2022-09-01",
            json!({"type": "release", "on": "2022-09-01", "sentence_id": 1, "release_type": "automatic"}),
        ));
        cli.exec(as_probation_officer(
            crn,
            "2023-03-01",
            json!({"type": "end_licence", "on": "2023-03-01", "sentence_id": 1}),
        ));
    }
    let start = |crn: &str| {
        as_probation_officer(
            crn,
            "2023-03-01",
            json!({"type": "start_post_sentence_supervision", "on": "2023-03-01", "sentence_id": 1}),
        )
    };
    cli.exec(start("E200030"));
    let case = cli.case("E200030");
    assert_eq!(
        case["sentences"]["1"]["status"],
        "post_sentence_supervision"
    );
    assert_eq!(
        case["sentences"]["1"]["post_sentence_supervision_ends_on"],
        "2023-09-01"
    );
    let (code, _, err) = cli.run(&["exec"], &start("E200031"));
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("PSS-1") && err.contains("under 2 years"),
        "{err}"
    );
    let rows = cli.report("caseload", &["--today", "2023-04-01"]);
    assert_eq!(rows[0]["cases"], 1);
    assert_eq!(rows[0]["licence"], 1);
}

/// RULES-1 (seed 003 l.358, l.386; handover-rules.md §4, §11): `tick` across 26 June 2021
/// moves an open CRC case into the unified service, and across 1 October 2022 recalculates a
/// prisoner's handover under OMiC 2022 — once: a second tick applies nothing.
#[test]
fn rules_1_seed_003_l358_tick_applies_rule_changes_to_cases_in_flight_once() {
    let cli = Ledger::new();
    let crc = "N200040";
    cli.open_with_order(crc, "2020-03-02");
    cli.exec(as_probation_officer(
        crc,
        "2020-03-03",
        assess("2020-03-03", "initial", "low"),
    ));
    cli.exec(as_probation_officer(
        crc,
        "2020-03-04",
        json!({"type": "allocate_to_provider", "on": "2020-03-04", "crc": "DLNR CRC",
               "deportation_order": false, "notoriety": false}),
    ));
    let prisoner = "N200041";
    cli.exec(as_case_administrator(
        prisoner,
        "2020-03-02",
        open_case(prisoner, NOTTINGHAM_CITY, "2020-03-02"),
    ));
    cli.exec(as_court_officer(
        prisoner,
        "2020-03-02",
        json!({"type": "impose_sentence", "on": "2020-03-02", "sentence_type": "determinate_custody",
               "court": "Nottingham Crown Court", "length_months": 96,
               "dates": {"conditional_release_date": "2024-03-01", "sentence_expiry_date": "2028-03-01"},
               "requirements": []}),
    ));
    let (code, out, err) = cli.run(&["tick", "--to", "2022-12-01", "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    let first: Value = serde_json::from_str(&out).unwrap();
    let case = cli.case(crc);
    assert_eq!(case["unified_on"], "2021-06-26");
    let case = cli.case(prisoner);
    assert_eq!(
        case["sentences"]["1"]["handover"]["handover_era"],
        "omic-2022"
    );
    assert_eq!(
        case["sentences"]["1"]["handover"]["calculated_on"],
        "2022-10-01"
    );
    assert_eq!(
        case["sentences"]["1"]["handover"]["ruleset_id"],
        "unified-2021"
    );
    let (code, out, err) = cli.run(&["tick", "--to", "2022-12-01", "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_ne!(first["applied"], again["applied"], "{first} {again}");
    assert_eq!(again["applied"], json!([]), "{again}");
    // explain shows both handover decisions and why the second replaced the first: the rules
    // changed (the reason names the era now in force and its first day).
    let (code, out, err) = cli.run(&["replay", prisoner, "--format", "json"], "");
    assert_eq!(code, 0, "{err}");
    let history: Value = serde_json::from_str(&out).unwrap();
    let handovers: Vec<String> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "HandoverDatesCalculated")
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(handovers.len(), 2, "{out}");
    let explain = |id: &str| {
        let (code, out, err) = cli.run(&["explain", id, "--today", "2022-12-01"], "");
        assert_eq!(code, 0, "{err}");
        out
    };
    let second = explain(&handovers[1]);
    for needle in [
        "reason rule_change_omic_2022_from_2022_10_01",
        &format!("replaces decision [{}]", handovers[0]),
        "handover era omic-2019",
        "why: the rules changed (reason rule_change_omic_2022_from_2022_10_01): omic-2022 replaced omic-2019",
    ] {
        assert!(second.contains(needle), "{needle}: {second}");
    }
    let first = explain(&handovers[0]);
    assert!(
        first.contains(&format!("replaced by decision [{}]", handovers[1])),
        "{first}"
    );
    assert!(first.contains("why: the rules changed"), "{first}");
    let rows = cli.report("caseload", &["--by", "provider", "--today", "2022-12-01"]);
    assert!(
        rows.iter()
            .any(|r| r["provider"] == "Probation Service" && r["cases"] == 1),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r["provider"] != "CRC DLNR CRC"),
        "{rows:?}"
    );
}
