//! Each performance measure on hand-made histories at its boundary.
//! Definitions: docs/performance-measures.md (seed 003 l.1840–1915; seed-digest §5b).

mod common;

use caseledger_domain::calendar;
use caseledger_domain::enforcement::{AccommodationStatus, AppointmentKind, EmploymentStatus};
use caseledger_domain::event::Responsibility;
use caseledger_domain::sentence::{
    AccreditedProgramme, RequirementKind, SentenceDates, SentenceType,
};
use caseledger_domain::Event;
use caseledger_projections::report;
use common::history::*;
use serde_json::Value;

/// (numerator, denominator, CRNs met) of `measure` summed over every group, on `today`.
fn measure(cases: &[(&str, Vec<Event>)], today: &str, measure: &str) -> (u64, u64, Vec<String>) {
    let models = fold(cases);
    let table = report::performance(&models, d(today)).unwrap();
    let (mut n, mut den, mut met) = (0, 0, Vec::new());
    for row in table.objects() {
        if row["measure"] == measure {
            n += row["numerator"].as_u64().unwrap();
            den += row["denominator"].as_u64().unwrap();
            for c in row["crns_met"].as_array().unwrap() {
                met.push(c.as_str().unwrap().to_owned());
            }
        }
    }
    (n, den, met)
}

fn case(crn: &str, mut events: Vec<Event>) -> (&str, Vec<Event>) {
    let mut all = vec![opened(crn, "2024-01-02")];
    all.append(&mut events);
    (crn, all)
}

#[test]
fn pm05_first_appointment_on_day_7_is_met_and_day_8_is_not() {
    let on_time = case(
        "A000001",
        [
            vec![community("2024-03-01", vec![])],
            appointment(1, "2024-03-08", AppointmentKind::FaceToFace, true),
        ]
        .concat(),
    );
    let late = case(
        "A000002",
        [
            vec![community("2024-03-01", vec![])],
            appointment(1, "2024-03-09", AppointmentKind::FaceToFace, true),
        ]
        .concat(),
    );
    assert_eq!(
        measure(&[on_time, late], "2024-04-01", "PM05"),
        (1, 2, vec!["A000001".into()])
    );
}

#[test]
fn pm05_custody_first_appointment_within_24_hours_of_release() {
    let custody = |crn, seen| {
        let dates = SentenceDates {
            conditional_release_date: Some(d("2024-06-03")),
            ..Default::default()
        };
        case(
            crn,
            [
                vec![
                    sentenced(
                        1,
                        SentenceType::DeterminateCustody,
                        "2024-01-10",
                        dates,
                        vec![],
                    ),
                    released("2024-06-03"),
                ],
                appointment(1, seen, AppointmentKind::FaceToFace, true),
            ]
            .concat(),
        )
    };
    assert_eq!(
        measure(
            &[
                custody("A000001", "2024-06-04"),
                custody("A000002", "2024-06-05")
            ],
            "2024-07-01",
            "PM05"
        )
        .0,
        1
    );
}

#[test]
fn pm05_is_pending_until_the_week_has_passed() {
    let waiting = case("A000001", vec![community("2024-03-01", vec![])]);
    assert_eq!(
        measure(std::slice::from_ref(&waiting), "2024-03-08", "PM05"),
        (0, 0, vec![])
    );
    assert_eq!(measure(&[waiting], "2024-03-09", "PM05"), (0, 1, vec![]));
}

#[test]
fn pm06_sentence_plan_on_15th_working_day_met_16th_not_across_easter_bank_holidays() {
    // Sentenced Wed 20 Mar 2024; Good Friday 29 Mar and Easter Monday 1 Apr are bank holidays,
    // so the 15th working day is Fri 12 Apr and the 16th Mon 15 Apr.
    assert_eq!(
        calendar::add_working_days(d("2024-03-20"), 15).unwrap(),
        d("2024-04-12")
    );
    let on_time = case(
        "A000001",
        vec![community("2024-03-20", vec![]), plan("2024-04-12")],
    );
    let late = case(
        "A000002",
        vec![community("2024-03-20", vec![]), plan("2024-04-15")],
    );
    assert_eq!(
        measure(&[on_time, late], "2024-05-01", "PM06"),
        (1, 2, vec!["A000001".into()])
    );
}

#[test]
fn br_c2_allocation_within_5_working_days_of_sentence() {
    // Sentenced Fri 1 Mar 2024: the 5th working day is Fri 8 Mar.
    let on_time = case(
        "A000001",
        vec![
            community("2024-03-01", vec![]),
            allocated("2024-03-08", "2024-03-01"),
        ],
    );
    let late = case(
        "A000002",
        vec![
            community("2024-03-01", vec![]),
            allocated("2024-03-11", "2024-03-01"),
        ],
    );
    assert_eq!(
        measure(&[on_time, late], "2024-04-01", "ALLOC"),
        (1, 2, vec!["A000001".into()])
    );
}

#[test]
fn pm07_monthly_appointments_attended_counts_unacceptable_absences_against() {
    let mut events = vec![community("2024-03-01", vec![])];
    events.extend(appointment(
        1,
        "2024-03-05",
        AppointmentKind::FaceToFace,
        true,
    ));
    events.extend(appointment(
        2,
        "2024-03-12",
        AppointmentKind::FaceToFace,
        false,
    ));
    events.push(scheduled(
        3,
        "2024-03-19",
        AppointmentKind::FaceToFace,
        false,
    ));
    events.push(Event::AppointmentMissed(
        caseledger_domain::event::AppointmentMissed {
            appointment_id: 3,
            recorded_on: d("2024-03-19"),
            absence: caseledger_domain::enforcement::Absence::Unacceptable,
        },
    ));
    events.push(scheduled(
        4,
        "2024-03-26",
        AppointmentKind::FaceToFace,
        false,
    ));
    events.push(Event::AppointmentMissed(
        caseledger_domain::event::AppointmentMissed {
            appointment_id: 4,
            recorded_on: d("2024-03-26"),
            absence: caseledger_domain::enforcement::Absence::Acceptable,
        },
    ));
    assert_eq!(
        measure(&[case("A000001", events)], "2024-04-01", "PM07").0,
        2
    );
    assert_eq!(
        measure(&[case("A000001", vec![])], "2024-04-01", "PM07").1,
        0
    );
}

fn upw(hours: u16) -> Vec<RequirementKind> {
    vec![RequirementKind::UnpaidWork { hours }]
}

#[test]
fn pm15_upw_assessment_within_10_working_days() {
    // Sentenced Mon 4 Mar 2024: 10th working day Mon 18 Mar.
    let on_time = case(
        "A000001",
        [
            vec![community("2024-03-04", upw(40))],
            appointment(1, "2024-03-18", AppointmentKind::UnpaidWorkSession, true),
        ]
        .concat(),
    );
    let late = case(
        "A000002",
        [
            vec![community("2024-03-04", upw(40))],
            appointment(1, "2024-03-19", AppointmentKind::UnpaidWorkSession, true),
        ]
        .concat(),
    );
    assert_eq!(
        measure(&[on_time, late], "2024-05-01", "PM15"),
        (1, 2, vec!["A000001".into()])
    );
}

#[test]
fn pm16_upw_start_within_15_working_days_across_the_may_bank_holiday() {
    // Sentenced Wed 24 Apr 2024; Mon 6 May is a bank holiday: 15th working day is Thu 16 May.
    assert_eq!(
        calendar::add_working_days(d("2024-04-24"), 15).unwrap(),
        d("2024-05-16")
    );
    let on_time = case(
        "A000001",
        [
            vec![community("2024-04-24", upw(40))],
            appointment(1, "2024-05-16", AppointmentKind::UnpaidWorkSession, false),
        ]
        .concat(),
    );
    let late = case(
        "A000002",
        [
            vec![community("2024-04-24", upw(40))],
            appointment(1, "2024-05-17", AppointmentKind::UnpaidWorkSession, false),
        ]
        .concat(),
    );
    assert_eq!(
        measure(&[on_time, late], "2024-06-01", "PM16"),
        (1, 2, vec!["A000001".into()])
    );
}

#[test]
fn pm18_upw_hours_completed_within_12_months_and_pm8_before_expiry() {
    let on_time = case(
        "A000001",
        vec![
            community("2024-03-04", upw(2)),
            credited("2024-06-01", 60),
            credited("2025-03-04", 60),
        ],
    );
    let late = case(
        "A000002",
        vec![
            community("2024-03-04", upw(2)),
            credited("2024-06-01", 60),
            credited("2025-03-05", 60),
        ],
    );
    let never = case(
        "A000003",
        vec![community("2024-03-04", upw(2)), credited("2024-06-01", 60)],
    );
    // On the 12-month point the late case is already known late; the one never done is pending.
    assert_eq!(
        measure(
            &[on_time.clone(), late.clone(), never.clone()],
            "2025-03-04",
            "PM18"
        ),
        (1, 2, vec!["A000001".into()])
    );
    assert_eq!(
        measure(&[on_time, late, never], "2025-04-01", "PM18"),
        (1, 3, vec!["A000001".into()])
    );
}

#[test]
fn pm08_pm19_pm20_programmes_and_interventions_completed_before_expiry() {
    let reqs = vec![
        RequirementKind::AccreditedProgramme {
            programme: AccreditedProgramme::ThinkingSkillsProgramme,
        },
        RequirementKind::StructuredIntervention,
    ];
    // Expiry 2025-03-04 (12 months). Programme started and completed on expiry day; SI after.
    let events = [
        vec![community("2024-03-04", reqs.clone())],
        appointment(1, "2024-04-01", AppointmentKind::ProgrammeSession, false),
        vec![completed(1, "2025-03-04"), completed(2, "2025-03-05")],
    ]
    .concat();
    let cases = [
        case("A000001", events),
        case("A000002", vec![community("2024-03-04", reqs)]),
    ];
    assert_eq!(
        measure(&cases, "2025-04-01", "PM19S"),
        (1, 2, vec!["A000001".into()])
    );
    assert_eq!(
        measure(&cases, "2025-04-01", "PM19C"),
        (1, 2, vec!["A000001".into()])
    );
    assert_eq!(measure(&cases, "2025-04-01", "PM20"), (0, 2, vec![]));
    assert_eq!(
        measure(&cases, "2025-04-01", "PM08"),
        (1, 2, vec!["A000001".into()])
    );
}

fn custody_case<'a>(crn: &'a str, release: &str, more: Vec<Event>) -> (&'a str, Vec<Event>) {
    let dates = SentenceDates {
        conditional_release_date: Some(d(release)),
        ..Default::default()
    };
    case(
        crn,
        [
            vec![sentenced(
                1,
                SentenceType::DeterminateCustody,
                "2023-01-10",
                dates,
                vec![],
            )],
            more,
        ]
        .concat(),
    )
}

#[test]
fn pm11_handover_meeting_on_the_handover_date_is_timely_the_day_after_is_not() {
    let meeting = |on: &str| {
        Event::HandoverMeetingHeld(caseledger_domain::event::HandoverMeetingHeld {
            sentence_id: caseledger_domain::sentence::SentenceId(1),
            held_on: d(on),
            attendees: vec![],
        })
    };
    let dates = handover(
        Responsibility::CustodyOnly,
        Some("2024-04-19"),
        Some("2024-04-19"),
    );
    let cases = [
        custody_case(
            "A000001",
            "2024-12-03",
            vec![dates.clone(), meeting("2024-04-19")],
        ),
        custody_case(
            "A000002",
            "2024-12-03",
            vec![dates.clone(), meeting("2024-04-20")],
        ),
    ];
    assert_eq!(
        measure(&cases, "2024-06-01", "PM11"),
        (1, 2, vec!["A000001".into()])
    );
    // Ten months or less to serve: not in scope (seed 003 l.1866 "more than 10 months").
    let dates_short = SentenceDates {
        conditional_release_date: Some(d("2023-11-10")),
        ..Default::default()
    };
    let short = case(
        "A000003",
        vec![
            sentenced(
                1,
                SentenceType::DeterminateCustody,
                "2023-01-10",
                dates_short,
                vec![],
            ),
            dates,
            meeting("2024-04-19"),
        ],
    );
    assert_eq!(measure(&[short], "2024-06-01", "PM11"), (0, 0, vec![]));
}

#[test]
fn pm12_pre_release_plan_before_release_not_after() {
    let plan_in_custody = custody_case(
        "A000001",
        "2024-06-03",
        vec![plan("2024-06-03"), released("2024-06-03")],
    );
    let plan_after = custody_case(
        "A000002",
        "2024-06-03",
        vec![released("2024-06-03"), plan("2024-06-04")],
    );
    assert_eq!(
        measure(&[plan_in_custody, plan_after], "2024-07-01", "PM12"),
        (1, 2, vec!["A000001".into()])
    );
}

#[test]
fn pm22_housed_on_release_and_pm24_employment_at_release() {
    let housed = custody_case(
        "A000001",
        "2024-06-03",
        vec![
            accommodation("2024-06-01", AccommodationStatus::ApprovedPremises),
            employment("2024-06-04", EmploymentStatus::Employed),
            released("2024-06-03"),
        ],
    );
    let homeless = custody_case(
        "A000002",
        "2024-06-03",
        vec![
            accommodation("2024-06-01", AccommodationStatus::NoFixedAbode),
            employment("2024-06-05", EmploymentStatus::Employed),
            released("2024-06-03"),
        ],
    );
    let cases = [housed, homeless];
    assert_eq!(
        measure(&cases, "2024-07-01", "PM22"),
        (1, 2, vec!["A000001".into()])
    );
    assert_eq!(
        measure(&cases, "2024-07-01", "PM24R"),
        (1, 2, vec!["A000001".into()])
    );
    let table = report::performance(&fold(&cases), d("2024-07-01")).unwrap();
    let pm22 = table
        .objects()
        .into_iter()
        .find(|r| r["measure"] == "PM22")
        .unwrap();
    assert_eq!(pm22["target_percent"], Value::from(90));
}

#[test]
fn pm23_settled_accommodation_three_months_after_supervision_starts_and_pm24_at_six() {
    let settled = case(
        "A000001",
        vec![
            community("2024-03-04", vec![]),
            accommodation("2024-06-04", AccommodationStatus::Settled),
            employment("2024-09-04", EmploymentStatus::InEducationOrTraining),
        ],
    );
    let too_late = case(
        "A000002",
        vec![
            community("2024-03-04", vec![]),
            accommodation("2024-06-05", AccommodationStatus::Settled),
            employment("2024-09-05", EmploymentStatus::Employed),
        ],
    );
    let cases = [settled, too_late];
    // Not yet counted the day before the 3-month point.
    assert_eq!(measure(&cases, "2024-06-03", "PM23"), (0, 0, vec![]));
    assert_eq!(
        measure(&cases, "2024-07-01", "PM23"),
        (1, 2, vec!["A000001".into()])
    );
    assert_eq!(
        measure(&cases, "2024-10-01", "PM24M6"),
        (1, 2, vec!["A000001".into()])
    );
}

#[test]
fn measures_group_by_region_pdu_and_month() {
    let a = case(
        "A000001",
        [
            vec![community("2024-03-01", vec![])],
            appointment(1, "2024-03-08", AppointmentKind::FaceToFace, true),
        ]
        .concat(),
    );
    let b = case(
        "A000002",
        [
            vec![community("2024-04-01", vec![])],
            appointment(1, "2024-04-02", AppointmentKind::FaceToFace, true),
        ]
        .concat(),
    );
    let table = report::performance(&fold(&[a, b]), d("2024-05-01")).unwrap();
    let pm5: Vec<Value> = table
        .objects()
        .into_iter()
        .filter(|r| r["measure"] == "PM05")
        .collect();
    assert_eq!(pm5.len(), 2);
    assert_eq!(pm5[0]["month"], "2024-03");
    assert_eq!(pm5[0]["region"], "B");
    assert_eq!(pm5[0]["pdu"], "Leeds");
    assert_eq!(pm5[1]["month"], "2024-04");
}
