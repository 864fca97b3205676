//! The case's events: one externally tagged enum of typed, versioned payloads.
//!
//! Encoding rules (`caseledger_payload` writes each payload struct with bincode 1.3.3; export
//! writes JSON): externally tagged enums only, no `tag` / `untagged` / `flatten` /
//! `skip_serializing_if`, nothing that needs `deserialize_any`, no `usize`, no `HashMap`. Every
//! event has a stable name ([`Event::event_type`]) and the schema version of its current
//! payload shape ([`Event::schema_version`]); `caseledger_payload` writes both to the envelope
//! and reads every older version (docs/event-catalogue.md "Evolving an event").
//!
//! `evolve` reads only payloads: every event carries the dates it needs. Decision events carry
//! a [`Decision`] (ruleset id + reason code) and the inputs they used (design.md invariant 5);
//! the actor is envelope metadata.
//!
//! The list of types is generated with the enum by one macro, so [`EVENT_TYPES`] cannot drift
//! from the enum; `docs/event-catalogue.md` is checked against it by a test.

mod allocation;
mod case;
mod custody;
mod risk;
mod supervision;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValueError;
use crate::identity::string_newtype;
use crate::ruleset::RulesetId;

pub use allocation::*;
pub use case::*;
pub use custody::*;
pub use risk::*;
pub use supervision::*;

string_newtype!(
    /// Stable snake_case reason code of a decision (1..=64 of `a-z`, `0-9`, `_`). Codes the
    /// domain emits are constants in [`reason`]; calculators (tier, handover) pass their own.
    ReasonCode,
    |s| {
        if s.is_empty() {
            return Err(ValueError::Empty { field: "reason code" });
        }
        if s.len() > 64 {
            return Err(ValueError::TooLong {
                field: "reason code",
                len: u32::try_from(s.len()).unwrap_or(u32::MAX),
                max: 64,
            });
        }
        match s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
            Some(found) => Err(ValueError::BadCharacter {
                field: "reason code",
                found,
                allowed: "lowercase ASCII letters, digits and '_'",
            }),
            None => Ok(()),
        }
    }
);

impl ReasonCode {
    /// A reason code the domain itself emits (a constant of [`reason`], checked by a test).
    pub(crate) fn known(code: &'static str) -> ReasonCode {
        debug_assert!(ReasonCode::new(code).is_ok(), "bad reason code {code}");
        ReasonCode(code.to_owned())
    }
}

/// Ruleset and reason of a decision event (design.md invariant 5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub ruleset_id: RulesetId,
    pub reason_code: ReasonCode,
}

/// Reason codes emitted by `decide`. Stable: they are stored.
pub mod reason {
    pub const ROSH_HIGH_OR_ABOVE: &str = "rosh_high_or_above";
    pub const MAPPA_ELIGIBLE: &str = "mappa_eligible";
    pub const DEPORTATION_ORDER: &str = "deportation_order";
    pub const NOTORIETY: &str = "notoriety";
    pub const LOWER_RISK_TO_CRC: &str = "lower_risk_to_crc";
    pub const NPS_UNTIL_ORDER_ENDS: &str = "nps_until_order_ends";
    pub const UNIFIED_MODEL_ALL_NPS: &str = "unified_model_all_nps";
    pub const CRC_ASSESSED_ROSH_HIGH: &str = "crc_assessed_rosh_high";
    pub const CRC_CONCERN: &str = "crc_concern";
    pub const NPS_CONFIRMED: &str = "nps_confirmed";
    pub const ROSH_CONFIRMED_HIGH: &str = "rosh_confirmed_high";
    pub const ROSH_NOT_HIGH: &str = "rosh_not_high";
    pub const CRC_CONTRACTS_ENDED: &str = "crc_contracts_ended";
    pub const ALLOCATED_ON_TIER: &str = "allocated_on_tier";
    pub const ALLOCATED_WITHIN_PROVIDER: &str = "allocated_within_provider";
    pub const RISK_REASSESSED: &str = "risk_reassessed";
    pub const PSO_CANNOT_HOLD_HIGH_ROSH: &str = "pso_cannot_hold_high_rosh";
    pub const HIGH_ROSH_PROBATION_POM: &str = "high_rosh_probation_pom";
    pub const LOWER_ROSH_PRISON_POM: &str = "lower_rosh_prison_pom";
    pub const HANDOVER_DATE_REACHED: &str = "handover_date_reached";
    pub const SENIOR_PROBATION_OFFICER_OVERRIDE: &str = "senior_probation_officer_override";
    pub const NPS_REFERRAL: &str = "nps_referral";
    pub const PANEL_DECISION: &str = "panel_decision";
    pub const PRACTITIONER_DECISION: &str = "practitioner_decision";
    pub const FAILURES_TO_COMPLY: &str = "failures_to_comply";
    pub const RISK_UNMANAGEABLE: &str = "risk_unmanageable_in_community";
    pub const COURT_OUTCOME: &str = "court_outcome";
    pub const RECALL_OUTCOME: &str = "recall_outcome";
    pub const WALES_SENTENCE_MANAGEMENT_UNIFIED: &str = "wales_sentence_management_unified";
    pub const REOPENED_FOR_NEW_SENTENCE: &str = "reopened_for_new_sentence";
    pub const REOPENED_ON_REQUEST: &str = "reopened_on_request";
    pub const LICENCE_EXPIRY_DATE_REACHED: &str = "licence_expiry_date_reached";
    pub const TOP_UP_SUPERVISION_EXPIRY_DATE_REACHED: &str =
        "top_up_supervision_expiry_date_reached";
    pub const ORDER_END_DATE_REACHED: &str = "order_end_date_reached";
    pub const CONTINUITY: &str = "continuity";

    /// Every code above, for the test that checks they are valid.
    pub const ALL: &[&str] = &[
        ROSH_HIGH_OR_ABOVE,
        MAPPA_ELIGIBLE,
        DEPORTATION_ORDER,
        NOTORIETY,
        LOWER_RISK_TO_CRC,
        NPS_UNTIL_ORDER_ENDS,
        UNIFIED_MODEL_ALL_NPS,
        CRC_ASSESSED_ROSH_HIGH,
        CRC_CONCERN,
        NPS_CONFIRMED,
        ROSH_CONFIRMED_HIGH,
        ROSH_NOT_HIGH,
        CRC_CONTRACTS_ENDED,
        ALLOCATED_ON_TIER,
        ALLOCATED_WITHIN_PROVIDER,
        RISK_REASSESSED,
        PSO_CANNOT_HOLD_HIGH_ROSH,
        HIGH_ROSH_PROBATION_POM,
        LOWER_ROSH_PRISON_POM,
        HANDOVER_DATE_REACHED,
        SENIOR_PROBATION_OFFICER_OVERRIDE,
        NPS_REFERRAL,
        PANEL_DECISION,
        PRACTITIONER_DECISION,
        FAILURES_TO_COMPLY,
        RISK_UNMANAGEABLE,
        COURT_OUTCOME,
        RECALL_OUTCOME,
        WALES_SENTENCE_MANAGEMENT_UNIFIED,
        REOPENED_FOR_NEW_SENTENCE,
        REOPENED_ON_REQUEST,
        LICENCE_EXPIRY_DATE_REACHED,
        TOP_UP_SUPERVISION_EXPIRY_DATE_REACHED,
        ORDER_END_DATE_REACHED,
        CONTINUITY,
    ];
}

/// Receives the payload struct of an [`Event`] ([`Event::visit_payload`]).
pub trait PayloadVisitor {
    type Output;
    fn visit<T: Serialize>(self, payload: &T) -> Self::Output;
}

/// Reads the payload struct of an event type ([`Event::read_payload`]).
pub trait PayloadReader {
    type Error;
    fn read<T: serde::de::DeserializeOwned>(self) -> Result<T, Self::Error>;
}

macro_rules! events {
    ($($(#[$doc:meta])* $name:ident = $version:literal),+ $(,)?) => {
        /// Every fact recorded on a case.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Event {
            $($(#[$doc])* $name($name),)+
        }

        /// Every event type name, in declaration order.
        pub const EVENT_TYPES: &[&str] = &[$(stringify!($name)),+];

        impl Event {
            /// Stable name of the event type (the variant name), written to the envelope.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Event::$name(_) => stringify!($name),)+
                }
            }

            /// Schema version of the payload's current shape: what new records are written
            /// at. Bump it when the payload's shape changes, and teach `caseledger_payload` the
            /// old one (docs/event-catalogue.md "Evolving an event").
            pub fn schema_version(&self) -> u16 {
                match self {
                    $(Event::$name(_) => $version,)+
                }
            }

            /// The current schema version of the type named `event_type`; `None` for a name
            /// that is not an event type.
            pub fn current_schema_version(event_type: &str) -> Option<u16> {
                match event_type {
                    $(stringify!($name) => Some($version),)+
                    _ => None,
                }
            }

            /// Give the payload struct inside to `visitor` (the payload codec writes it as its
            /// own value, never through this enum).
            pub fn visit_payload<V: PayloadVisitor>(&self, visitor: V) -> V::Output {
                match self {
                    $(Event::$name(payload) => visitor.visit(payload),)+
                }
            }

            /// Read the payload struct of the type named `event_type` with `reader`; `None`
            /// for a name that is not an event type.
            pub fn read_payload<R: PayloadReader>(
                event_type: &str,
                reader: R,
            ) -> Option<Result<Event, R::Error>> {
                match event_type {
                    $(stringify!($name) => Some(reader.read::<$name>().map(Event::$name)),)+
                    _ => None,
                }
            }
        }

        $(impl From<$name> for Event {
            fn from(payload: $name) -> Event {
                Event::$name(payload)
            }
        })+
    };
}

events! {
    /// A case is opened for a person under a CRN.
    CaseOpened = 3,
    /// The court asks for a pre-sentence report (T1).
    PreSentenceReportRequested = 2,
    /// The pre-sentence report is delivered (T2).
    PreSentenceReportCompleted = 2,
    /// A sentence is imposed, with requirements and key dates (T3).
    SentenceImposed = 2,
    /// Key dates of a sentence are recalculated.
    SentenceDatesRecalculated = 2,
    /// A risk assessment (RoSH, RSR, OGRS, needs) is recorded (BR-A2, BR-A6, BR-D1).
    RiskAssessed = 2,
    /// A registration (risk flag) is added.
    RegistrationAdded = 2,
    /// A registration is removed.
    RegistrationRemoved = 2,
    /// MAPPA screening done (BR-D4).
    MappaScreened = 2,
    /// Referral to a MAPPA level 2 or 3 panel (BR-A12).
    MappaReferred = 2,
    /// MAPPA category and level set (BR-D3).
    MappaLevelSet = 2,
    /// TR era: case allocated to NPS or a CRC (BR-A2–A5).
    CaseAllocatedToProvider = 2,
    /// Case allocated to a practitioner (BR-C1–C5).
    PractitionerAllocated = 2,
    /// Case moved to another practitioner, with the reason (BR-C6–C7).
    PractitionerReallocated = 2,
    /// A tier result is recorded (BR-C1, BR-C6).
    TierCalculated = 2,
    /// A reassessment calls for a tier review (BR-C6).
    TierReviewTriggered = 2,
    /// TR era: a CRC asks the NPS to take a case whose risk rose (BR-A7–A8).
    RiskEscalationRequested = 2,
    /// TR era: the NPS decides an escalation (BR-A9, BR-A11).
    RiskEscalationDecided = 2,
    /// TR era: the case moves to the NPS until the order ends (BR-A9–A10).
    CaseTransferredToNps = 2,
    /// Unified model: an open CRC case joins the unified service on 26 Jun 2021.
    CaseTransferredToUnifiedService = 2,
    /// A Prison Offender Manager is allocated (BR-C11).
    PrisonOffenderManagerAllocated = 2,
    /// OMiC handover dates and responsibility are recorded.
    HandoverDatesCalculated = 2,
    /// A Community Offender Manager is allocated.
    CommunityOffenderManagerAllocated = 2,
    /// Responsibility moves from prison to community at handover (T20).
    ResponsibilityTransferred = 2,
    /// Responsibility is overridden, with the reason.
    ResponsibilityOverridden = 2,
    /// The OMiC handover meeting is held (BR-F5, BR-F6).
    HandoverMeetingHeld = 2,
    /// A pre-release contact by the COM (BR-F5).
    PreReleaseContactHeld = 2,
    /// Released from custody onto licence (T24).
    Released = 2,
    /// The licence period ends (T26).
    LicenceEnded = 2,
    /// Post-sentence supervision starts (BR-F11).
    PostSentenceSupervisionStarted = 2,
    /// Post-sentence supervision ends.
    PostSentenceSupervisionEnded = 2,
    /// An appointment is booked.
    AppointmentScheduled = 2,
    /// An appointment was attended (complied or failed to comply).
    AppointmentAttended = 2,
    /// An appointment was missed (acceptable or unacceptable absence).
    AppointmentMissed = 2,
    /// A warning is issued (BR-I1).
    WarningIssued = 2,
    /// Breach proceedings start (BR-I1).
    BreachRaised = 2,
    /// Breach proceedings end with an outcome.
    BreachConcluded = 2,
    /// A recall is started (BR-I3).
    RecallRaised = 2,
    /// A recall ends with an outcome.
    RecallConcluded = 2,
    /// Unpaid work time is credited (BR-G5).
    UnpaidWorkHoursCredited = 2,
    /// A requirement is completed (BR-E10).
    RequirementCompleted = 2,
    /// A requirement is terminated early.
    RequirementTerminated = 2,
    /// The initial sentence plan is created (BR-E2).
    SentencePlanCreated = 2,
    /// The sentence plan is reviewed (BR-E2).
    SentencePlanReviewed = 2,
    /// Accommodation status recorded (PM22–PM25).
    AccommodationStatusRecorded = 2,
    /// Employment status recorded (PM24).
    EmploymentStatusRecorded = 2,
    /// The case moves to another PDU (and maybe region) (T27).
    CaseTransferredBetweenPdus = 2,
    /// A sentence ends (T29).
    SentenceTerminated = 2,
    /// The case is closed.
    CaseClosed = 2,
    /// An earlier event is named as wrong, with the reason (design.md invariant 1).
    EventCorrected = 2,
    /// An assessment's V3 predictor scores (tier-rules.md §1 `v3`).
    PredictorScoresAssessed = 2,
    /// A tier V3 result is recorded (tier-rules.md §6–§8).
    TierV3Calculated = 2,
    /// A closed case is reopened: a new sentence or an explicit request (seed 003 l.2600).
    CaseReopened = 2,
    /// Licence, post-sentence supervision or an order ends by itself on its date (LAPSE-1).
    SupervisionLapsed = 2,
    /// The person's personal data is erased: their data key is destroyed (UK GDPR Art. 17,
    /// DPA 2018 s.47; docs/decisions/0009).
    PersonalDataErased = 1,
}

impl Event {
    /// The date the fact itself happened, as its payload states it (`on` of the command that
    /// recorded it): what "effective as of D" compares with D (docs/rules.md ASOF-1), whatever
    /// `effective_at` the command carried. `None` where the payload has no such date: a
    /// booking (its date is the appointment's, ahead of the booking) and a correction (a
    /// wrong fact was never true, so a correction applies at every effective time).
    pub fn fact_date(&self) -> Option<jiff::civil::Date> {
        match self {
            Event::CaseAllocatedToProvider(e) => Some(e.allocated_on),
            Event::PractitionerAllocated(e) => Some(e.allocated_on),
            Event::PractitionerReallocated(e) => Some(e.reallocated_on),
            Event::CaseTransferredToUnifiedService(e) => Some(e.transferred_on),
            Event::CaseOpened(e) => Some(e.opened_on),
            Event::PreSentenceReportRequested(e) => Some(e.requested_on),
            Event::PreSentenceReportCompleted(e) => Some(e.completed_on),
            Event::SentenceImposed(e) => Some(e.sentenced_on),
            Event::SentenceDatesRecalculated(e) => Some(e.recalculated_on),
            Event::CaseTransferredBetweenPdus(e) => Some(e.transferred_on),
            Event::SentenceTerminated(e) => Some(e.terminated_on),
            Event::CaseClosed(e) => Some(e.closed_on),
            Event::PrisonOffenderManagerAllocated(e) => Some(e.allocated_on),
            Event::HandoverDatesCalculated(e) => Some(e.calculated_on),
            Event::CommunityOffenderManagerAllocated(e) => Some(e.allocated_on),
            Event::ResponsibilityTransferred(e) => Some(e.transferred_on),
            Event::ResponsibilityOverridden(e) => Some(e.overridden_on),
            Event::HandoverMeetingHeld(e) => Some(e.held_on),
            Event::PreReleaseContactHeld(e) => Some(e.held_on),
            Event::Released(e) => Some(e.released_on),
            Event::LicenceEnded(e) => Some(e.ended_on),
            Event::PostSentenceSupervisionStarted(e) => Some(e.started_on),
            Event::PostSentenceSupervisionEnded(e) => Some(e.ended_on),
            Event::RiskAssessed(e) => Some(e.assessed_on),
            Event::RegistrationAdded(e) => Some(e.registered_on),
            Event::RegistrationRemoved(e) => Some(e.removed_on),
            Event::MappaScreened(e) => Some(e.screened_on),
            Event::MappaReferred(e) => Some(e.referred_on),
            Event::MappaLevelSet(e) => Some(e.set_on),
            Event::TierCalculated(e) => Some(e.calculated_on),
            Event::TierReviewTriggered(e) => Some(e.triggered_on),
            Event::RiskEscalationRequested(e) => Some(e.requested_on),
            Event::RiskEscalationDecided(e) => Some(e.decided_on),
            Event::CaseTransferredToNps(e) => Some(e.transferred_on),
            Event::AppointmentAttended(e) => Some(e.recorded_on),
            Event::AppointmentMissed(e) => Some(e.recorded_on),
            Event::WarningIssued(e) => Some(e.issued_on),
            Event::BreachRaised(e) => Some(e.raised_on),
            Event::BreachConcluded(e) => Some(e.concluded_on),
            Event::RecallRaised(e) => Some(e.raised_on),
            Event::RecallConcluded(e) => Some(e.concluded_on),
            Event::UnpaidWorkHoursCredited(e) => Some(e.credited_on),
            Event::RequirementCompleted(e) => Some(e.completed_on),
            Event::RequirementTerminated(e) => Some(e.terminated_on),
            Event::SentencePlanCreated(e) => Some(e.created_on),
            Event::SentencePlanReviewed(e) => Some(e.reviewed_on),
            Event::AccommodationStatusRecorded(e) => Some(e.recorded_on),
            Event::EmploymentStatusRecorded(e) => Some(e.recorded_on),
            Event::PredictorScoresAssessed(e) => Some(e.assessed_on),
            Event::TierV3Calculated(e) => Some(e.calculated_on),
            Event::CaseReopened(e) => Some(e.reopened_on),
            Event::SupervisionLapsed(e) => Some(e.lapsed_on),
            Event::PersonalDataErased(e) => Some(e.erased_on),
            Event::AppointmentScheduled(_) | Event::EventCorrected(_) => None,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event_type())
    }
}

string_newtype!(
    /// Name of an event type; only names in [`EVENT_TYPES`] can be constructed.
    EventTypeName,
    |s| {
        if EVENT_TYPES.contains(&s) {
            Ok(())
        } else {
            Err(ValueError::UnknownCode {
                what: "event type",
                code: s.chars().take(64).collect(),
            })
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_snake_case() {
        for code in reason::ALL {
            assert!(ReasonCode::new(*code).is_ok(), "{code}");
        }
        assert!(ReasonCode::new("Rosh").is_err());
        assert!(ReasonCode::new("").is_err());
        assert!(ReasonCode::new("a".repeat(65)).is_err());
    }

    #[test]
    fn event_type_names_are_unique_and_known() {
        let mut names: Vec<&str> = EVENT_TYPES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EVENT_TYPES.len());
        assert!(EventTypeName::new("SentenceImposed").is_ok());
        assert!(EventTypeName::new("SentenceImposedd").is_err());
    }
}
