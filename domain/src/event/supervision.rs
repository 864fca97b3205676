//! Supervision events: appointments, warnings, breach, recall, requirements, sentence plans,
//! accommodation and employment.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::Decision;
use crate::enforcement::{
    Absence, AccommodationStatus, AppointmentKind, AttendedOutcome, BreachOutcome,
    EmploymentStatus, RecallOutcome, StatusCheckpoint, WarningKind,
};
use crate::identity::Text;
use crate::sentence::{RequirementId, SentenceId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentScheduled {
    pub appointment_id: u32,
    pub sentence_id: SentenceId,
    pub scheduled_for: Date,
    pub kind: AppointmentKind,
    /// The first appointment of the sentence (BR-E1, seed 003 l.1856).
    pub initial: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentAttended {
    pub appointment_id: u32,
    pub recorded_on: Date,
    pub outcome: AttendedOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentMissed {
    pub appointment_id: u32,
    pub recorded_on: Date,
    pub absence: Absence,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarningIssued {
    pub sentence_id: SentenceId,
    pub issued_on: Date,
    pub kind: WarningKind,
    pub reason: Text,
    pub decision: Decision,
}

/// What a breach decision looked at (enforcement-and-workload.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachInputs {
    pub failures_to_comply: u32,
    pub unacceptable_absences: u32,
    pub warnings: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachRaised {
    pub breach_id: u16,
    pub sentence_id: SentenceId,
    pub raised_on: Date,
    pub reason: Text,
    pub inputs: BreachInputs,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachConcluded {
    pub breach_id: u16,
    pub concluded_on: Date,
    pub outcome: BreachOutcome,
    pub proven: bool,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallRaised {
    pub recall_id: u16,
    pub sentence_id: SentenceId,
    pub raised_on: Date,
    pub reason: Text,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallConcluded {
    pub recall_id: u16,
    pub concluded_on: Date,
    pub outcome: RecallOutcome,
    /// `true` for fixed-term and standard recalls: the person returns to custody.
    pub recalled: bool,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpaidWorkHoursCredited {
    pub sentence_id: SentenceId,
    pub requirement_id: RequirementId,
    pub credited_on: Date,
    /// Minutes credited; hours are credited in part-hours too.
    pub minutes: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementCompleted {
    pub sentence_id: SentenceId,
    pub requirement_id: RequirementId,
    pub completed_on: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementTerminated {
    pub sentence_id: SentenceId,
    pub requirement_id: RequirementId,
    pub terminated_on: Date,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentencePlanCreated {
    pub sentence_id: SentenceId,
    pub created_on: Date,
    /// The person's views were sought (seed 003 l.3405, l.3411).
    pub service_user_involved: bool,
    /// Working days from the sentence date to the plan: the initial plan is due within 15
    /// (BR-E2, seed 003 l.791; seed-digest §4 `SentencePlanCreated` "working days since
    /// sentence"). `None` when the dates fall outside the bank-holiday calendar, and on plans
    /// recorded at schema version 1, which did not record it (the upcaster's default,
    /// `caseledger_payload`).
    pub working_days_since_sentence: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentencePlanReviewed {
    pub sentence_id: SentenceId,
    pub reviewed_on: Date,
    pub service_user_involved: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccommodationStatusRecorded {
    pub recorded_on: Date,
    pub status: AccommodationStatus,
    pub checkpoint: StatusCheckpoint,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmploymentStatusRecorded {
    pub recorded_on: Date,
    pub status: EmploymentStatus,
    pub checkpoint: StatusCheckpoint,
}
