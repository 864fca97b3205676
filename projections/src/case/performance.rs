//! Performance measure rows (seed 003 l.1840–1915; seed-digest §5b). Definitions and every
//! interpretation are in docs/performance-measures.md; each function cites its seed lines.

use caseledger_domain::enforcement::{AccommodationStatus, EmploymentStatus};
use caseledger_domain::ruleset::performance_measures_apply;
use jiff::civil::Date;

use super::facts::{CaseFacts, CaseView, RequirementFamily, SentenceFacts};
use super::rows::{
    accommodation_on, add_days, add_months, add_working_days, employment_on, families, month,
    MeasureKind, PerformanceRow, Place,
};
use caseledger_domain::sentence::SentenceId;

/// PM5: "initial appointment within one week of sentence" (seed 003 l.1856).
pub const FIRST_APPOINTMENT_DAYS_AFTER_SENTENCE: i32 = 7;
/// PM5: "… /24 hours of release for custodial sentences" (seed 003 l.1856).
pub const FIRST_APPOINTMENT_DAYS_AFTER_RELEASE: i32 = 1;
/// PM6: initial sentence plan "within 15 working days" (seed 003 l.1856).
pub const SENTENCE_PLAN_WORKING_DAYS: u32 = 15;
/// PM11: "determinate sentences with more than 10 months to serve" (seed 003 l.1866).
pub const HANDOVER_MEETING_MONTHS_TO_SERVE_MIN: i32 = 10;
/// PM15: UPW "assessment takes place within 10 working days" (seed 003 l.1874).
pub const UPW_ASSESSMENT_WORKING_DAYS: u32 = 10;
/// PM16: UPW "starts within a further five working days, i.e. within three weeks of
/// sentence" (seed 003 l.1874; seed-digest §8a item 8: 15 working days from sentence).
pub const UPW_START_WORKING_DAYS: u32 = 15;
/// PM18: UPW "completion within 12 months … measured at the 12 month point" (seed 003 l.1874).
pub const UPW_COMPLETION_MONTHS: i32 = 12;
/// PM23: settled accommodation "three months after commencement of supervision" (seed 003 l.1890).
pub const SETTLED_ACCOMMODATION_MONTHS: i32 = 3;
/// PM24: employment "at key points under supervision": release and 6 months (seed 003 l.1886, l.965).
pub const EMPLOYMENT_MONTHS: i32 = 6;
/// Allocation "within five working days" of sentence (BR-C2, seed 003 l.775).
pub const ALLOCATION_WORKING_DAYS: u32 = 5;

/// Targets the seeds state (percent): PM22 90% (seed 003 l.1888), PM23 80% (seed 003 l.1890).
pub fn target_percent(measure: &str) -> Option<u32> {
    match measure {
        "PM22" => Some(90),
        "PM23" => Some(80),
        _ => None,
    }
}

/// Every measure this read model computes, in report order.
pub const MEASURES: &[&str] = &[
    "ALLOC", "PM05", "PM06", "PM07", "PM08", "PM11", "PM12", "PM15", "PM16", "PM18", "PM19S",
    "PM19C", "PM20", "PM22", "PM23", "PM24R", "PM24M6",
];

struct Out<'a> {
    crn: &'a str,
    place: &'a Place,
    rows: Vec<PerformanceRow>,
}

impl Out<'_> {
    fn deadline(
        &mut self,
        measure: &str,
        subject: String,
        start: Date,
        due: Option<Date>,
        done: Option<Date>,
    ) {
        // A due date outside the working-day calendar cannot be judged: no row rather than a
        // guess; nor before the measures existed (PM-FROM).
        let Some(due) = due.filter(|_| performance_measures_apply(start)) else {
            return;
        };
        self.rows.push(PerformanceRow {
            measure: measure.to_owned(),
            crn: self.crn.to_owned(),
            subject,
            place: self.place.clone(),
            month: month(start),
            kind: MeasureKind::Deadline,
            start,
            due: Some(due),
            done,
            met: done.map(|d| d <= due),
            numerator: 0,
            denominator: 0,
        });
    }

    fn status(
        &mut self,
        measure: &str,
        subject: String,
        start: Date,
        due: Option<Date>,
        met: bool,
    ) {
        let Some(due) = due.filter(|_| performance_measures_apply(start)) else {
            return;
        };
        self.rows.push(PerformanceRow {
            measure: measure.to_owned(),
            crn: self.crn.to_owned(),
            subject,
            place: self.place.clone(),
            month: month(start),
            kind: MeasureKind::Status,
            start,
            due: Some(due),
            done: None,
            met: Some(met),
            numerator: 0,
            denominator: 0,
        });
    }
}

/// "Housed" on release: any accommodation other than none (no fixed abode) or custody
/// (interpretation; seed 003 l.1888 aligns with the prison metric without defining it).
fn housed(s: Option<AccommodationStatus>) -> bool {
    matches!(
        s,
        Some(
            AccommodationStatus::Settled
                | AccommodationStatus::Transient
                | AccommodationStatus::ApprovedPremises
                | AccommodationStatus::BailAccommodationSupportService
        )
    )
}

fn in_work(s: Option<EmploymentStatus>) -> bool {
    matches!(
        s,
        Some(
            EmploymentStatus::Employed
                | EmploymentStatus::SelfEmployed
                | EmploymentStatus::InEducationOrTraining
        )
    )
}

/// Status recorded within `[from, on]` (a status from before the supervision period does not
/// describe it).
fn accommodation_between(f: &CaseFacts, from: Date, on: Date) -> Option<AccommodationStatus> {
    accommodation_on(f, on).filter(|_| {
        f.accommodation
            .iter()
            .any(|(d, _, _)| *d >= from && *d <= on)
    })
}

fn employment_between(f: &CaseFacts, from: Date, on: Date) -> Option<EmploymentStatus> {
    employment_on(f, on).filter(|_| f.employment.iter().any(|(d, _, _)| *d >= from && *d <= on))
}

/// When supervision in the community starts: sentence for community orders, release for
/// custody (seed 003 l.1890 "those released from prison and those on community sentences").
fn supervision_start(s: &SentenceFacts) -> Option<Date> {
    if s.sentence_type.is_community() {
        Some(s.sentenced_on)
    } else {
        s.released_on
    }
}

pub fn derive(crn: &str, v: &CaseView, place: &Place) -> Vec<PerformanceRow> {
    let f = &v.facts;
    let mut out = Out {
        crn,
        place,
        rows: Vec::new(),
    };
    if v.case.opened_on.is_none() {
        return out.rows;
    }
    // Allocation within 5 working days of each sentence (BR-C2, ALLOC-1, seed 003 l.775): the
    // fold says when a practitioner took each sentence on, continuity included.
    for (id, s) in &v.case.sentences {
        out.deadline(
            "ALLOC",
            format!("s{}", id.0),
            s.sentenced_on,
            add_working_days(s.sentenced_on, ALLOCATION_WORKING_DAYS),
            s.allocated_on.map(|d| d.max(s.sentenced_on)),
        );
    }
    // PM7: monthly appointments attended (seed 003 l.1857).
    for (m, (attended, unacceptable)) in &f.appointments_by_month {
        let start = format!("{m}-01").parse::<Date>().ok();
        // A month counts once the measure is in force on any day of it (PM-FROM: from June
        // 2021, the month the unified model started).
        let in_force = start
            .map(|s| s.last_of_month())
            .is_some_and(performance_measures_apply);
        if let (Some(start), true) = (start, in_force) {
            out.rows.push(PerformanceRow {
                measure: "PM07".into(),
                crn: crn.to_owned(),
                subject: m.clone(),
                place: place.clone(),
                month: m.clone(),
                kind: MeasureKind::Count,
                start,
                due: None,
                done: None,
                met: None,
                numerator: *attended,
                denominator: attended.saturating_add(*unacceptable),
            });
        }
    }
    for (id, s) in &f.sentences {
        let sid = format!("s{id}");
        if s.sentence_type.is_community() {
            // PM5 (community): within one week of sentence (seed 003 l.1856).
            out.deadline(
                "PM05",
                sid.clone(),
                s.sentenced_on,
                add_days(s.sentenced_on, FIRST_APPOINTMENT_DAYS_AFTER_SENTENCE),
                s.first_appointment_on,
            );
            // PM6: initial sentence plan within 15 working days (seed 003 l.1856).
            out.deadline(
                "PM06",
                sid.clone(),
                s.sentenced_on,
                add_working_days(s.sentenced_on, SENTENCE_PLAN_WORKING_DAYS),
                s.plan_created_on,
            );
        }
        if s.sentence_type.is_custodial() {
            if let Some(released) = s.released_on {
                // PM5 (custody): within 24 hours of release (seed 003 l.1856).
                out.deadline(
                    "PM05",
                    format!("{sid}/release"),
                    released,
                    add_days(released, FIRST_APPOINTMENT_DAYS_AFTER_RELEASE),
                    s.first_appointment_after_release_on,
                );
                // PM22: housed on release (seed 003 l.1888).
                let at = add_days(released, FIRST_APPOINTMENT_DAYS_AFTER_RELEASE);
                let status = at.and_then(|at| accommodation_between(f, s.sentenced_on, at));
                out.status("PM22", sid.clone(), released, at, housed(status));
                // PM24 at release (seed 003 l.1886).
                let status = at.and_then(|at| employment_between(f, s.sentenced_on, at));
                out.status("PM24R", sid.clone(), released, at, in_work(status));
            }
            // PM12: pre-release sentence plan prepared prior to release (seed 003 l.1866).
            if let Some(release) = s.released_on.or(s.release_expected_on) {
                out.deadline(
                    "PM12",
                    sid.clone(),
                    s.sentenced_on,
                    Some(release),
                    s.pre_release_plan_on,
                );
            }
            // PM11: timely handover meeting, determinate, more than 10 months to serve
            // (seed 003 l.1866): held on or before the handover date.
            let long = match (
                s.release_expected_on,
                add_months(s.sentenced_on, HANDOVER_MEETING_MONTHS_TO_SERVE_MIN),
            ) {
                (Some(release), Some(ten)) => release > ten,
                _ => false,
            };
            if s.sentence_type == caseledger_domain::sentence::SentenceType::DeterminateCustody
                && long
            {
                let handover_on = v
                    .case
                    .sentences
                    .get(&SentenceId(*id))
                    .and_then(|s| s.handover.as_ref())
                    .and_then(|h| h.handover_date);
                if let Some(handover) = handover_on {
                    out.deadline(
                        "PM11",
                        sid.clone(),
                        s.sentenced_on,
                        Some(handover),
                        s.handover_meeting_on,
                    );
                }
            }
        }
        if let Some(start) = supervision_start(s) {
            // PM23: settled accommodation 3 months after supervision starts (seed 003 l.1890).
            let at = add_months(start, SETTLED_ACCOMMODATION_MONTHS);
            let status = at.and_then(|at| accommodation_between(f, start, at));
            out.status(
                "PM23",
                sid.clone(),
                start,
                at,
                status == Some(AccommodationStatus::Settled),
            );
            // PM24 at 6 months (seed 003 l.965, l.1886).
            let at = add_months(start, EMPLOYMENT_MONTHS);
            let status = at.and_then(|at| employment_between(f, start, at));
            out.status("PM24M6", sid.clone(), start, at, in_work(status));
        }
        for (rid, r) in families(s, RequirementFamily::UnpaidWork) {
            let subject = format!("{sid}/r{rid}");
            // PM15, PM16, PM18 (seed 003 l.1874).
            out.deadline(
                "PM15",
                subject.clone(),
                s.sentenced_on,
                add_working_days(s.sentenced_on, UPW_ASSESSMENT_WORKING_DAYS),
                r.assessed_on,
            );
            out.deadline(
                "PM16",
                subject.clone(),
                s.sentenced_on,
                add_working_days(s.sentenced_on, UPW_START_WORKING_DAYS),
                r.started_on,
            );
            out.deadline(
                "PM18",
                subject.clone(),
                s.sentenced_on,
                add_months(s.sentenced_on, UPW_COMPLETION_MONTHS),
                r.hours_done_on.or(r.completed_on),
            );
            // PM8: UPW delivered before the sentence expires (seed 003 l.1858).
            out.deadline(
                "PM08",
                subject,
                s.sentenced_on,
                s.expires_on,
                r.completed_on.or(r.hours_done_on),
            );
        }
        for (rid, r) in families(s, RequirementFamily::AccreditedProgramme) {
            let subject = format!("{sid}/r{rid}");
            // PM8 (seed 003 l.1858) and PM19 starts / completions (seed 003 l.1878).
            out.deadline(
                "PM08",
                subject.clone(),
                s.sentenced_on,
                s.expires_on,
                r.completed_on,
            );
            out.deadline(
                "PM19S",
                subject.clone(),
                s.sentenced_on,
                s.expires_on,
                r.started_on,
            );
            out.deadline(
                "PM19C",
                subject,
                s.sentenced_on,
                s.expires_on,
                r.completed_on,
            );
        }
        for (rid, r) in families(s, RequirementFamily::StructuredIntervention) {
            // PM20: Structured Intervention completion (seed 003 l.1880).
            out.deadline(
                "PM20",
                format!("{sid}/r{rid}"),
                s.sentenced_on,
                s.expires_on,
                r.completed_on,
            );
        }
    }
    out.rows
}
