//! Custody and release events: POM and COM, handover, responsibility, release, licence and
//! post-sentence supervision.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Decision, ReasonCode};
use crate::handover::HandoverEra;
use crate::identity::{InputsDigest, Practitioner, TeamCode, Text};
use crate::risk::RoshLevel;
use crate::sentence::{ReleaseType, SentenceId};

/// Kind of Prison Offender Manager (BR-C11, seed 003 l.997).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PomType {
    /// Probation POM: all high RoSH cases.
    Probation,
    /// Band 4 prison POM: low and medium RoSH cases.
    Prison,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrisonOffenderManagerAllocated {
    pub sentence_id: SentenceId,
    pub allocated_on: Date,
    pub prison_offender_manager: Practitioner,
    pub pom_type: PomType,
    /// The RoSH that chose the POM type.
    pub rosh: Option<RoshLevel>,
    pub decision: Decision,
}

/// Who is responsible for a custodial case (handover-rules.md §1): the calculator's type,
/// recorded as the calculator gives it.
pub use crate::handover::Responsibility;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverDatesCalculated {
    pub sentence_id: SentenceId,
    pub calculated_on: Date,
    pub handover_era: HandoverEra,
    pub responsibility: Responsibility,
    pub start_date: Option<Date>,
    pub handover_date: Option<Date>,
    /// Reason code of the calculator (handover-rules.md §12).
    pub handover_reason: ReasonCode,
    pub inputs_digest: InputsDigest,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityOffenderManagerAllocated {
    pub sentence_id: SentenceId,
    pub allocated_on: Date,
    pub community_offender_manager: Practitioner,
    pub team: TeamCode,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsibilityTransferred {
    pub sentence_id: SentenceId,
    pub transferred_on: Date,
    pub from: Responsibility,
    pub to: Responsibility,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsibilityOverridden {
    pub sentence_id: SentenceId,
    pub overridden_on: Date,
    pub from: Option<Responsibility>,
    pub to: Responsibility,
    pub reason: Text,
    pub decision: Decision,
}

/// Who attended a handover meeting (BR-F6, seed 003 l.1866).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendee {
    CommunityOffenderManager,
    PrisonOffenderManager,
    Individual,
    OtherAgency,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverMeetingHeld {
    pub sentence_id: SentenceId,
    pub held_on: Date,
    pub attendees: Vec<Attendee>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreReleaseContactHeld {
    pub sentence_id: SentenceId,
    pub held_on: Date,
    /// 1, 2, 3, …: the COM must make at least 3 (BR-F5, seed 003 l.1007).
    pub contact_number: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    pub sentence_id: SentenceId,
    pub released_on: Date,
    pub release_type: ReleaseType,
    pub licence_expiry_date: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceEnded {
    pub sentence_id: SentenceId,
    pub ended_on: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostSentenceSupervisionStarted {
    pub sentence_id: SentenceId,
    pub started_on: Date,
    pub ends_on: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostSentenceSupervisionEnded {
    pub sentence_id: SentenceId,
    pub ended_on: Date,
}
