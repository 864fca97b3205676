//! The caseload, MAPPA, handover, enforcement and allocation reports on hand-made histories:
//! commands decided by the domain's own `decide`, appended to a real store, folded by the case
//! projection, read through the report functions — at the boundaries of each rule.

mod common;

use caseledger_domain::calendar;
use caseledger_domain::command::DomainCommand as C;
use caseledger_domain::enforcement::{Absence, AppointmentKind};
use caseledger_domain::event::{ReasonCode, Responsibility};
use caseledger_domain::handover::HandoverEra;
use caseledger_domain::identity::{Grade, InputsDigest};
use caseledger_domain::reference::{Nation, Organisation};
use caseledger_domain::risk::{
    AssessmentKind, MappaCategory, MappaLevel, RegistrationKind, RoshLevel,
};
use caseledger_domain::sentence::{RequirementKind, SentenceId};
use caseledger_domain::testing::{
    assess, community_order, crc, determinate_custody, practitioner, team, text,
};
use caseledger_domain::tier::V2Tier;
use caseledger_projections::report::{self, CaseloadBy, Table};
use caseledger_projections::{rebuild, AsOf, NoProgress, ReadModelDb, RowSource};
use common::history::{d, fold_log};
use common::script::{append_cases, Case};
use common::{Backend, TestLog};
use serde_json::Value;

const S1: SentenceId = SentenceId(1);

fn models(cases: &[&Case]) -> caseledger_projections::MemoryReadModels {
    let log = TestLog::memory();
    append_cases(&log, cases);
    fold_log(&log, AsOf::Now)
}

/// Rows of `table` as JSON objects whose `key` column equals `value`.
fn rows_where(table: &Table, key: &str, value: &str) -> Vec<Value> {
    table
        .objects()
        .into_iter()
        .filter(|r| r[key] == value)
        .collect()
}

/// Allocate a practitioner; a tier comes first (BR-C1, seed 003 l.769), C2 if none yet.
fn allocate(case: &mut Case, on: &str, staff: &str) {
    if case.state.tier.is_none() {
        case.run(C::RecordTier {
            on: d(on),
            tier: V2Tier::new("C2").unwrap(),
            inputs_digest: InputsDigest::of(b"tier inputs"),
            reason_code: ReasonCode::new("case_created").unwrap(),
        });
    }
    case.run(C::AllocatePractitioner {
        on: d(on),
        practitioner: practitioner(staff, Grade::ProbationOfficer),
        team: team("N01T01"),
        by: Organisation::Nps,
    });
}

fn handover_dates(case: &mut Case, on: &str, responsibility: Responsibility, handover: &str) {
    case.run(C::RecordHandoverDates {
        on: d(on),
        sentence_id: S1,
        handover_era: HandoverEra::for_date(d(on), Nation::England),
        responsibility,
        start_date: None,
        handover_date: Some(d(handover)),
        handover_reason: ReasonCode::new("determinate").unwrap(),
        inputs_digest: InputsDigest::of(b"handover inputs"),
    });
}

fn custody_case(crn: &str) -> Case {
    let mut case = Case::open(crn, 17, d("2024-01-08"));
    case.run(determinate_custody(d("2024-01-10"), 18));
    case
}

/// Status of `crn` in the handover report on `today`, if listed.
fn handover_status(cases: &[&Case], crn: &str, today: &str) -> Option<String> {
    let table = report::handovers(&models(cases), d(today)).unwrap();
    rows_where(&table, "crn", crn)
        .first()
        .map(|r| r["status"].as_str().unwrap().to_owned())
}

/// handover-rules.md §11 "upcoming handover": `custody_only` and
/// `handover − 56 days ≤ today < handover`.
#[test]
fn handover_upcoming_window_opens_56_days_before_and_closes_on_the_handover_date() {
    let mut case = custody_case("A000001");
    handover_dates(
        &mut case,
        "2024-02-01",
        Responsibility::CustodyOnly,
        "2024-09-30",
    );
    // 2024-09-30 − 56 days = 2024-08-05.
    assert_eq!(handover_status(&[&case], "A000001", "2024-08-04"), None);
    assert_eq!(
        handover_status(&[&case], "A000001", "2024-08-05").as_deref(),
        Some("upcoming")
    );
    assert_eq!(
        handover_status(&[&case], "A000001", "2024-09-29").as_deref(),
        Some("upcoming")
    );
    assert_eq!(handover_status(&[&case], "A000001", "2024-09-30"), None);
}

/// handover-rules.md §11 "COM allocation overdue": handover in progress, no COM, and
/// `today ≥ handover + 2 days` (MO-1208).
#[test]
fn com_allocation_overdue_from_handover_plus_2_days_until_a_com_is_allocated() {
    let mut case = custody_case("A000002");
    handover_dates(
        &mut case,
        "2024-02-01",
        Responsibility::Community,
        "2024-02-01",
    );
    assert_eq!(
        handover_status(&[&case], "A000002", "2024-02-02").as_deref(),
        Some("in_progress")
    );
    assert_eq!(
        handover_status(&[&case], "A000002", "2024-02-03").as_deref(),
        Some("com_allocation_overdue")
    );
    case.run(C::AllocateCommunityOffenderManager {
        on: d("2024-02-05"),
        sentence_id: S1,
        community_offender_manager: practitioner("N01C001", Grade::ProbationOfficer),
        team: team("N01T02"),
    });
    assert_eq!(
        handover_status(&[&case], "A000002", "2024-02-05").as_deref(),
        Some("in_progress")
    );
    let table = report::handovers(&models(&[&case]), d("2024-02-05")).unwrap();
    assert_eq!(
        rows_where(&table, "crn", "A000002")[0]["community_offender_manager"],
        "Practitioner N01C001"
    );
}

/// BR-C2 (seed 003 l.775): allocation within 5 working days of sentence. Sentenced Thu 28 Mar
/// 2024; Good Friday (29 Mar) and Easter Monday (1 Apr) are bank holidays, so the 5th working
/// day is Mon 8 Apr and the case is overdue from Tue 9 Apr.
#[test]
fn br_c2_allocation_overdue_beyond_5_working_days_across_easter_bank_holidays() {
    let mut waiting = Case::open("A000003", 17, d("2024-03-28"));
    waiting.run(community_order(d("2024-03-28"), vec![]));
    let mut allocated = Case::open("A000004", 17, d("2024-03-28"));
    allocated.run(community_order(d("2024-03-28"), vec![]));
    allocate(&mut allocated, "2024-04-02", "N01A001");
    let m = models(&[&waiting, &allocated]);
    let on = |today: &str| {
        let table = report::allocations(&m, d(today)).unwrap();
        assert!(rows_where(&table, "crn", "A000004").is_empty(), "allocated");
        let row = rows_where(&table, "crn", "A000003").remove(0);
        (
            row["working_days_since_sentence"].as_u64().unwrap(),
            row["overdue"].as_bool().unwrap(),
        )
    };
    assert_eq!(
        on("2024-03-29"),
        (0, false),
        "Good Friday is not a working day"
    );
    assert_eq!(on("2024-04-02"), (1, false), "Easter Monday is not either");
    assert_eq!(on("2024-04-08"), (5, false));
    assert_eq!(on("2024-04-09"), (6, true));
    assert_eq!(
        calendar::add_working_days(d("2024-03-28"), 5).unwrap(),
        d("2024-04-08")
    );
}

fn missed(case: &mut Case, id: u32, on: &str) {
    case.run(C::ScheduleAppointment {
        on: d(on),
        sentence_id: S1,
        kind: AppointmentKind::FaceToFace,
        initial: false,
    });
    case.run(C::RecordAbsence {
        on: d(on),
        appointment_id: id,
        absence: Absence::Unacceptable,
    });
}

fn enforcement_row(case: &Case, today: &str) -> Value {
    let table = report::enforcement(&models(&[case]), d(today)).unwrap();
    rows_where(&table, "crn", &case.crn).remove(0)
}

/// enforcement-and-workload.md §5.5: `pending-breach` when failures to comply reach the
/// sentence type's limit (2 for a community order, National Standards 2015); one fewer is
/// `failure-to-comply`; a breach raised is in progress (`in-breach`).
#[test]
fn pending_breach_when_failures_to_comply_reach_the_limit() {
    let mut case = Case::open("A000005", 17, d("2024-01-08"));
    case.run(community_order(d("2024-01-10"), vec![]));
    missed(&mut case, 1, "2024-02-01");
    let row = enforcement_row(&case, "2024-02-10");
    assert_eq!(
        (
            &row["status"],
            &row["failures_to_comply"],
            &row["limit"],
            &row["breach_suggested"]
        ),
        (
            &Value::from("failure-to-comply"),
            &Value::from(1),
            &Value::from(2),
            &Value::from(false)
        )
    );
    missed(&mut case, 2, "2024-02-08");
    let row = enforcement_row(&case, "2024-02-10");
    assert_eq!(
        (
            &row["status"],
            &row["failures_to_comply"],
            &row["breach_suggested"]
        ),
        (
            &Value::from("pending-breach"),
            &Value::from(2),
            &Value::from(true)
        )
    );
    // As of before the second failure was recorded, the case was not yet pending breach.
    let log = TestLog::memory();
    append_cases(&log, &[&case]);
    let before = fold_log(&log, AsOf::Recorded(i64::try_from(log.head()).unwrap() - 2));
    let table = report::enforcement(&before, d("2024-02-10")).unwrap();
    assert_eq!(
        rows_where(&table, "crn", "A000005")[0]["status"],
        "failure-to-comply"
    );
    case.run(C::RaiseBreach {
        on: d("2024-02-12"),
        sentence_id: S1,
        reason: text("second unacceptable absence"),
    });
    let row = enforcement_row(&case, "2024-02-12");
    assert_eq!(row["status"], "in-breach");
    assert_eq!(row["breaches_in_progress"], 1);
}

fn tr_era_case(crn: &str, rosh: RoshLevel) -> Case {
    let mut case = Case::open(crn, 17, d("2016-03-01"));
    case.run(assess(
        d("2016-03-01"),
        rosh,
        AssessmentKind::Initial,
        Organisation::Nps,
    ));
    case.run(community_order(d("2016-03-02"), vec![]));
    case.run(C::AllocateToProvider {
        on: d("2016-03-03"),
        crc: crc("DLNR CRC"),
        deportation_order: false,
        notoriety: false,
        by: Organisation::Nps,
    });
    case
}

fn add_mappa(case: &mut Case, on: &str, category: u8, level: u8) {
    case.run(C::AddRegistration {
        on: d(on),
        kind: RegistrationKind::Mappa {
            category: MappaCategory::new(category).unwrap(),
            level: MappaLevel::new(level).unwrap(),
        },
        review_on: Some(d("2016-09-01")),
    });
}

/// BR-A4 (seed 000 l.9): in the Transforming Rehabilitation era every MAPPA case is managed by
/// the NPS; the register flags one a CRC holds. Also: category × level, review date and
/// screening status on the register.
#[test]
fn br_a4_tr_era_mappa_case_held_by_a_crc_is_flagged_on_the_register() {
    let mut crc_case = tr_era_case("A000006", RoshLevel::Low);
    crc_case.run(C::ScreenForMappa {
        on: d("2016-03-10"),
        eligible: true,
        category: Some(MappaCategory::new(2).unwrap()),
        recommended_level: Some(MappaLevel::new(1).unwrap()),
    });
    add_mappa(&mut crc_case, "2016-03-11", 2, 1);
    let mut nps_case = tr_era_case("A000007", RoshLevel::High);
    add_mappa(&mut nps_case, "2016-03-11", 1, 2);
    let table = report::mappa(&models(&[&crc_case, &nps_case])).unwrap();
    let crc_row = rows_where(&table, "crn", "A000006").remove(0);
    assert!(
        crc_row["provider"].as_str().unwrap().contains("CRC"),
        "{crc_row:?}"
    );
    assert_eq!(crc_row["not_managed_by_nps"], true);
    assert_eq!(
        (&crc_row["category"], &crc_row["level"]),
        (&Value::from(2), &Value::from(1))
    );
    assert_eq!(crc_row["review_on"], "2016-09-01");
    assert_eq!(crc_row["screened_on"], "2016-03-10");
    assert_eq!(crc_row["screened_eligible"], true);
    let nps_row = rows_where(&table, "crn", "A000007").remove(0);
    assert_eq!(nps_row["not_managed_by_nps"], false);
    assert_eq!(
        (&nps_row["category"], &nps_row["level"]),
        (&Value::from(1), &Value::from(2))
    );
}

/// In the unified service (from 26 Jun 2021) there is no CRC: nothing is flagged.
#[test]
fn unified_era_mappa_case_is_not_flagged() {
    let mut case = Case::open("A000008", 17, d("2022-03-01"));
    case.run(community_order(d("2022-03-02"), vec![]));
    case.run(C::AddRegistration {
        on: d("2022-03-03"),
        kind: RegistrationKind::Mappa {
            category: MappaCategory::new(1).unwrap(),
            level: MappaLevel::new(1).unwrap(),
        },
        review_on: None,
    });
    let table = report::mappa(&models(&[&case])).unwrap();
    assert_eq!(
        rows_where(&table, "crn", "A000008")[0]["not_managed_by_nps"],
        false
    );
}

/// Caseload (enforcement-and-workload.md §1–4): active cases by case type, tier and RoSH per
/// practitioner with workload points; a closed case leaves the caseload.
#[test]
fn caseload_by_practitioner_counts_case_types_tiers_and_rosh_and_drops_closed_cases() {
    let tier = |case: &mut Case, on: &str, code: &str| {
        case.run(C::RecordTier {
            on: d(on),
            tier: V2Tier::new(code).unwrap(),
            inputs_digest: InputsDigest::of(b"tier inputs"),
            reason_code: ReasonCode::new("case_created").unwrap(),
        });
    };
    let mut a = Case::open("A000009", 17, d("2024-01-08"));
    a.run(assess(
        d("2024-01-08"),
        RoshLevel::Medium,
        AssessmentKind::Initial,
        Organisation::Nps,
    ));
    a.run(community_order(
        d("2024-01-10"),
        vec![RequirementKind::UnpaidWork { hours: 60 }],
    ));
    tier(&mut a, "2024-01-11", "B2");
    allocate(&mut a, "2024-01-11", "N01A001");
    let mut b = custody_case("A000010");
    tier(&mut b, "2024-01-11", "A1");
    allocate(&mut b, "2024-01-12", "N01A001");
    let mut closed = Case::open("A000011", 17, d("2024-01-08"));
    closed.run(community_order(d("2024-01-10"), vec![]));
    allocate(&mut closed, "2024-01-11", "N01A001");
    let mut other = Case::open("A000012", 17, d("2024-01-08"));
    other.run(community_order(d("2024-01-10"), vec![]));
    allocate(&mut other, "2024-01-11", "N01A002");

    let m = models(&[&a, &b, &closed, &other]);
    let table = report::caseload(&m, CaseloadBy::Practitioner, d("2024-02-01")).unwrap();
    let first = rows_where(&table, "staff_code", "N01A001").remove(0);
    assert_eq!(first["cases"], 3);
    assert_eq!(
        (&first["community"], &first["custody"]),
        (&Value::from(2), &Value::from(1))
    );
    assert_eq!(first["by_tier"], "A1:1 B2:1 C2:1");
    assert_eq!(
        first["by_rosh"],
        "MEDIUM:1 none:2".replace("MEDIUM", RoshLevel::Medium.as_str())
    );
    assert!(first["workload_points"].as_u64().unwrap() > 0, "{first:?}");
    assert!(first["capacity"].is_string(), "{first:?}");
    assert_eq!(rows_where(&table, "staff_code", "N01A002")[0]["cases"], 1);

    closed.run(C::TerminateSentence {
        on: d("2024-02-02"),
        sentence_id: S1,
        reason: caseledger_domain::sentence::TerminationReason::Revoked,
    });
    closed.run(C::CloseCase {
        on: d("2024-02-02"),
        reason: text("order revoked"),
    });
    let m = models(&[&a, &b, &closed, &other]);
    let table = report::caseload(&m, CaseloadBy::Practitioner, d("2024-02-03")).unwrap();
    assert_eq!(rows_where(&table, "staff_code", "N01A001")[0]["cases"], 2);
    // The same cases grouped by region: all four PDU-17 cases minus the closed one.
    let by_region = report::caseload(&m, CaseloadBy::Region, d("2024-02-03")).unwrap();
    assert_eq!(by_region.objects().len(), 1);
    assert_eq!(by_region.objects()[0]["cases"], 3);
}

/// A recall in progress is listed on the licence it belongs to.
#[test]
fn recall_in_progress_is_listed_on_the_licence() {
    let mut case = custody_case("A000013");
    handover_dates(
        &mut case,
        "2024-02-01",
        Responsibility::Community,
        "2024-06-01",
    );
    case.run(C::AllocateCommunityOffenderManager {
        on: d("2024-02-05"),
        sentence_id: S1,
        community_offender_manager: practitioner("N01C001", Grade::ProbationOfficer),
        team: team("N01T02"),
    });
    case.run(C::Release {
        on: d("2024-07-10"),
        sentence_id: S1,
        release_type: caseledger_domain::sentence::ReleaseType::Automatic,
    });
    case.run(C::RaiseRecall {
        on: d("2024-08-01"),
        sentence_id: S1,
        reason: text("licence conditions breached"),
    });
    let row = enforcement_row(&case, "2024-08-02");
    assert_eq!(row["recalls_in_progress"], 1);
    assert!(
        handover_status(&[&case], "A000013", "2024-08-02").is_none(),
        "released"
    );
}

/// The reports read the same from the persisted read models (sled log, sled read models) as
/// from the in-memory fold.
#[test]
fn persisted_and_in_memory_reports_agree_on_a_sled_log() {
    let mut a = tr_era_case("A000014", RoshLevel::Low);
    add_mappa(&mut a, "2016-03-11", 2, 1);
    let mut b = custody_case("A000015");
    handover_dates(
        &mut b,
        "2024-02-01",
        Responsibility::Community,
        "2024-02-01",
    );
    let mut c = Case::open("A000016", 17, d("2024-03-28"));
    c.run(community_order(d("2024-03-28"), vec![]));
    missed(&mut c, 1, "2024-04-03");
    let log = TestLog::new(Backend::Sled);
    append_cases(&log, &[&a, &b, &c]);
    let memory = fold_log(&log, AsOf::Now);
    let dir = tempfile::tempdir().unwrap();
    let db = ReadModelDb::open(dir.path()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let built = rt
        .block_on(rebuild(
            log.dyn_store(),
            &db,
            &caseledger_projections::case::CaseProjection::default(),
            &mut NoProgress,
        ))
        .unwrap();
    assert_eq!(built.digests, memory.digests().unwrap());
    let view = db
        .view(&caseledger_projections::case::CaseProjection::default())
        .unwrap()
        .unwrap();
    for name in report::REPORTS {
        let today = d("2024-04-10");
        assert_eq!(
            report::run(name, &view, today).unwrap(),
            report::run(name, &memory, today).unwrap(),
            "{name}"
        );
        assert!(
            !report::run(name, &view, today)
                .unwrap()
                .objects()
                .is_empty(),
            "{name} is empty"
        );
    }
}
