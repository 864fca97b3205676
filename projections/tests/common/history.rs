//! Hand-made histories: domain events folded through the real case projection.
#![allow(dead_code)]

use caseledger_domain::enforcement::{
    AccommodationStatus, AppointmentKind, AttendedOutcome, EmploymentStatus, StatusCheckpoint,
};
use caseledger_domain::event::*;
use caseledger_domain::identity::{
    Crn, Gender, Grade, InputsDigest, Person, PersonName, Practitioner, StaffCode, TeamCode, Text,
};
use caseledger_domain::reference::Pdu;
use caseledger_domain::ruleset::RulesetId;
use caseledger_domain::sentence::*;
use caseledger_domain::Event;
use caseledger_projections::case::CaseProjection;
use caseledger_projections::{fold_store, AsOf, MemoryReadModels, NoProgress};
use jiff::civil::Date;

pub fn d(s: &str) -> Date {
    s.parse().unwrap()
}

pub fn decision() -> Decision {
    Decision {
        ruleset_id: RulesetId::Unified2021,
        reason_code: ReasonCode::new("practitioner_decision").unwrap(),
    }
}

pub fn opened(crn: &str, on: &str) -> Event {
    Event::CaseOpened(CaseOpened {
        crn: Crn::new(crn).unwrap(),
        person: caseledger_domain::sealable::Sealable::Known(Person {
            name: PersonName::new("A Person").unwrap(),
            date_of_birth: d("1990-01-01"),
            gender: Gender::NotRecorded,
        }),
        pdu: Pdu::new(17).unwrap(),
        team: None,
        opened_on: d(on),
    })
}

pub fn sentenced(
    id: u16,
    t: SentenceType,
    on: &str,
    dates: SentenceDates,
    requirements: Vec<RequirementKind>,
) -> Event {
    Event::SentenceImposed(SentenceImposed {
        sentence_id: SentenceId(id),
        sentence_type: t,
        sentenced_on: d(on),
        court: Text::new("Leeds Magistrates").unwrap(),
        length_months: Some(12),
        dates,
        requirements: requirements
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Requirement {
                id: RequirementId(i as u16 + 1),
                kind,
            })
            .collect(),
    })
}

pub fn community(on: &str, requirements: Vec<RequirementKind>) -> Event {
    let expiry = d(on).checked_add(jiff::Span::new().months(12)).unwrap();
    sentenced(
        1,
        SentenceType::CommunityOrder,
        on,
        SentenceDates {
            sentence_expiry_date: Some(expiry),
            ..Default::default()
        },
        requirements,
    )
}

pub fn scheduled(id: u32, on: &str, kind: AppointmentKind, initial: bool) -> Event {
    Event::AppointmentScheduled(AppointmentScheduled {
        appointment_id: id,
        sentence_id: SentenceId(1),
        scheduled_for: d(on),
        kind,
        initial,
    })
}

pub fn attended(id: u32, on: &str) -> Event {
    Event::AppointmentAttended(AppointmentAttended {
        appointment_id: id,
        recorded_on: d(on),
        outcome: AttendedOutcome::Complied,
    })
}

/// Schedule and attend an appointment.
pub fn appointment(id: u32, on: &str, kind: AppointmentKind, initial: bool) -> Vec<Event> {
    vec![scheduled(id, on, kind, initial), attended(id, on)]
}

pub fn plan(on: &str) -> Event {
    Event::SentencePlanCreated(SentencePlanCreated {
        sentence_id: SentenceId(1),
        created_on: d(on),
        service_user_involved: true,
        working_days_since_sentence: None,
    })
}

pub fn allocated(on: &str, sentenced_on: &str) -> Event {
    Event::PractitionerAllocated(PractitionerAllocated {
        allocated_on: d(on),
        practitioner: Practitioner {
            staff_code: StaffCode::new("N01A001").unwrap(),
            name: PersonName::new("Sam Officer").unwrap(),
            grade: Grade::ProbationOfficer,
        },
        team: TeamCode::new("N01T01").unwrap(),
        inputs: PractitionerAllocationInputs {
            tier: None,
            rosh: None,
            provider: None,
            sentenced_on: d(sentenced_on),
            allocation_deadline_working_days: 5,
        },
        decision: decision(),
    })
}

pub fn released(on: &str) -> Event {
    Event::Released(Released {
        sentence_id: SentenceId(1),
        released_on: d(on),
        release_type: ReleaseType::Automatic,
        licence_expiry_date: None,
    })
}

pub fn accommodation(on: &str, status: AccommodationStatus) -> Event {
    Event::AccommodationStatusRecorded(AccommodationStatusRecorded {
        recorded_on: d(on),
        status,
        checkpoint: StatusCheckpoint::Change,
    })
}

pub fn employment(on: &str, status: EmploymentStatus) -> Event {
    Event::EmploymentStatusRecorded(EmploymentStatusRecorded {
        recorded_on: d(on),
        status,
        checkpoint: StatusCheckpoint::Change,
    })
}

pub fn credited(on: &str, minutes: u32) -> Event {
    Event::UnpaidWorkHoursCredited(UnpaidWorkHoursCredited {
        sentence_id: SentenceId(1),
        requirement_id: RequirementId(1),
        credited_on: d(on),
        minutes,
    })
}

pub fn completed(requirement: u16, on: &str) -> Event {
    Event::RequirementCompleted(RequirementCompleted {
        sentence_id: SentenceId(1),
        requirement_id: RequirementId(requirement),
        completed_on: d(on),
    })
}

pub fn handover(
    responsibility: Responsibility,
    start: Option<&str>,
    handover: Option<&str>,
) -> Event {
    Event::HandoverDatesCalculated(HandoverDatesCalculated {
        sentence_id: SentenceId(1),
        calculated_on: d("2024-01-01"),
        handover_era: caseledger_domain::handover::HandoverEra::for_date(
            d("2024-01-01"),
            caseledger_domain::reference::Nation::England,
        ),
        responsibility,
        start_date: start.map(d),
        handover_date: handover.map(d),
        handover_reason: ReasonCode::new("determinate").unwrap(),
        inputs_digest: InputsDigest::of(b"inputs"),
        decision: decision(),
    })
}

/// Append `cases` to a real `MemoryStore` (each case's events in order, one case after
/// another; recorded and effective at the position) and fold the case projection over it.
pub fn fold(cases: &[(&str, Vec<Event>)]) -> MemoryReadModels {
    let log = super::TestLog::memory();
    let mut at = 0;
    for (crn, events) in cases {
        for e in events {
            at += 1;
            log.push_event(crn, e, at, at);
        }
    }
    fold_log(&log, AsOf::Now)
}

/// Fold the case projection over `log` as of `as_of`.
pub fn fold_log(log: &super::TestLog, as_of: AsOf) -> MemoryReadModels {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(fold_store(
        &CaseProjection::default(),
        log.dyn_store(),
        as_of,
        &mut NoProgress,
    ))
    .unwrap()
}
