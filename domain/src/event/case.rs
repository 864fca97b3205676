//! Case-level events: opening, pre-sentence reports, sentences, transfers, termination,
//! closure and corrections.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Decision, EventTypeName};
use crate::identity::{Crn, EventRef, Person, TeamCode, Text};
use crate::reference::Pdu;
use crate::sealable::Sealable;
use crate::sentence::{Requirement, SentenceDates, SentenceId, SentenceType, TerminationReason};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseOpened {
    pub crn: Crn,
    /// Name, date of birth and gender: stored sealed with the person's data key (schema
    /// version 3, docs/decisions/0009-crypto-shredding.md).
    pub person: Sealable<Person>,
    pub pdu: Pdu,
    pub team: Option<TeamCode>,
    pub opened_on: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreSentenceReportRequested {
    pub requested_on: Date,
    pub court: Text,
    pub due_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreSentenceReportCompleted {
    pub completed_on: Date,
    pub proposal: Option<Text>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceImposed {
    pub sentence_id: SentenceId,
    pub sentence_type: SentenceType,
    pub sentenced_on: Date,
    pub court: Text,
    /// Length of the order or custodial term in months, where the court gives one.
    pub length_months: Option<u16>,
    pub dates: SentenceDates,
    pub requirements: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceDatesRecalculated {
    pub sentence_id: SentenceId,
    pub recalculated_on: Date,
    pub dates: SentenceDates,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTransferredBetweenPdus {
    pub transferred_on: Date,
    pub from_pdu: Pdu,
    pub to_pdu: Pdu,
    pub to_team: Option<TeamCode>,
    /// The receiving PDU is in another region.
    pub between_regions: bool,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceTerminated {
    pub sentence_id: SentenceId,
    pub terminated_on: Date,
    pub reason: TerminationReason,
}

/// A closed case is reopened for a person who returns (seed 003 l.2600: one record per person,
/// so one stream): by a new sentence (`reopened_for_new_sentence`, appended just before its
/// `SentenceImposed`) or on request (`reopened_on_request`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReopened {
    pub reopened_on: Date,
    /// The closure this reopening ends.
    pub closed_on: Date,
    pub reason: Text,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseClosed {
    pub closed_on: Date,
    pub reason: Text,
}

/// The person's personal data on this case is erased (UK GDPR Art. 17; Data Protection Act
/// 2018 Part 3 s.47): recorded first, then the person's data key is destroyed, so what was
/// sealed with it can never be opened again (docs/decisions/0009-crypto-shredding.md). It
/// holds no personal data: the CRN, the day and the operator's reason, which names the rule
/// that ended the retention (e.g. "retention ended (RET-1)"), never the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    pub crn: Crn,
    pub erased_on: Date,
    pub reason: Text,
}

/// Names an earlier event on this case as wrong and says why. The corrected fact, if any, is
/// re-stated by a new event of its own type; both stay visible (design.md invariant 1). The
/// corrected event's id is envelope metadata, so the command passes it and this payload
/// carries it: `evolve` never reads envelopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCorrected {
    pub corrected_on: Date,
    pub corrected_event_id: EventRef,
    pub corrected_event_type: EventTypeName,
    pub reason: Text,
}

/// The period of supervision a [`SupervisionLapsed`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionPeriod {
    /// The licence, at its licence expiry date (seed 002 l.53).
    Licence,
    /// Post-sentence supervision, at the top-up supervision expiry date (PSS-1).
    PostSentenceSupervision,
    /// A community order or suspended sentence order, at its end date: the sentence expires.
    Order,
}

/// LAPSE-1: a period of supervision reached its end date and ended by itself, decided by the
/// engine when its clock passed the date (seed 002 l.53: the licence runs for the remainder of
/// the sentence, then post-sentence supervision where it applies). A licence followed by
/// post-sentence supervision names its end (the TUSED, PSS-1) in the same fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionLapsed {
    pub sentence_id: SentenceId,
    pub lapsed_on: Date,
    pub period: SupervisionPeriod,
    /// Post-sentence supervision starts on `lapsed_on` and runs until this date (TUSED).
    pub post_sentence_supervision_until: Option<Date>,
    pub decision: Decision,
}
