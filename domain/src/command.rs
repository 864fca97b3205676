//! The domain's command vocabulary: what someone asks to happen to a case.
//!
//! No actor, no ids, no timestamps here: the commands crate wraps each `DomainCommand` with
//! `command_id`, `actor` and `effective_at`, authorises the actor's role, and chooses the
//! [`Ruleset`](crate::ruleset::Ruleset) from the effective date and the case's nation. Where a
//! rule depends on the acting *organisation* (e.g. only the NPS confirms RoSH in the TR era,
//! BR-A11), the command carries it in a `by` field that the commands crate fills from the
//! actor; `decide` checks it.
//!
//! Every command carries the date the fact happened (`on`); `decide` refuses facts dated after
//! `today`.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::enforcement::{
    Absence, AccommodationStatus, AppointmentKind, AttendedOutcome, BreachOutcome,
    EmploymentStatus, RecallOutcome, StatusCheckpoint, WarningKind,
};
use crate::event::{
    Attendee, EventTypeName, PomType, ReallocationReason, ReasonCode, Responsibility,
};
use crate::handover::HandoverEra;
use crate::identity::{Crn, EventRef, InputsDigest, Person, Practitioner, TeamCode, Text};
use crate::reference::{CrcName, Organisation, Pdu};
use crate::risk::{
    AssessmentKind, MappaCategory, MappaLevel, Need, NeedSeverity, OgrsScore, RegistrationKind,
    RoshLevel, RsrScore, V3Predictors,
};
use crate::sentence::{
    ReleaseType, RequirementId, RequirementKind, SentenceDates, SentenceId, SentenceType,
    TerminationReason,
};
use crate::tier::V2Tier;
use crate::tier::V3Tier;

/// A request to change a case. Serde: externally tagged (`{"OpenCase": {...}}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainCommand {
    OpenCase {
        crn: Crn,
        person: Person,
        pdu: Pdu,
        team: Option<TeamCode>,
        on: Date,
    },
    RequestPreSentenceReport {
        on: Date,
        court: Text,
        due_on: Option<Date>,
    },
    CompletePreSentenceReport {
        on: Date,
        proposal: Option<Text>,
    },
    ImposeSentence {
        on: Date,
        sentence_type: SentenceType,
        court: Text,
        length_months: Option<u16>,
        dates: SentenceDates,
        requirements: Vec<RequirementKind>,
    },
    RecalculateSentenceDates {
        on: Date,
        sentence_id: SentenceId,
        dates: SentenceDates,
        reason: Text,
    },
    AssessRisk {
        on: Date,
        kind: AssessmentKind,
        rosh: RoshLevel,
        rsr: Option<RsrScore>,
        ogrs: Option<OgrsScore>,
        needs: BTreeMap<Need, NeedSeverity>,
        /// The V3 predictor scores, when the assessment gave them (tier-rules.md §1 `v3`);
        /// optional in the command JSON.
        #[serde(default)]
        predictors: Option<V3Predictors>,
        by: Organisation,
    },
    AddRegistration {
        on: Date,
        kind: RegistrationKind,
        review_on: Option<Date>,
    },
    RemoveRegistration {
        on: Date,
        registration_id: u16,
        reason: Text,
    },
    ScreenForMappa {
        on: Date,
        eligible: bool,
        category: Option<MappaCategory>,
        recommended_level: Option<MappaLevel>,
    },
    ReferToMappa {
        on: Date,
        level: MappaLevel,
        by: Organisation,
    },
    SetMappaLevel {
        on: Date,
        category: MappaCategory,
        level: MappaLevel,
        by: Organisation,
    },
    /// TR era: the NPS allocates the case to itself or to the CRC for the area.
    AllocateToProvider {
        on: Date,
        /// The CRC serving the case's area, used when the case is lower risk.
        crc: CrcName,
        deportation_order: bool,
        notoriety: bool,
        by: Organisation,
    },
    AllocatePractitioner {
        on: Date,
        practitioner: Practitioner,
        team: TeamCode,
        by: Organisation,
    },
    ReallocatePractitioner {
        on: Date,
        practitioner: Practitioner,
        team: TeamCode,
        reason: ReallocationReason,
        by: Organisation,
    },
    /// Record the result of the tier calculator (`domain::tier`).
    RecordTier {
        on: Date,
        tier: V2Tier,
        inputs_digest: InputsDigest,
        reason_code: ReasonCode,
    },
    /// Record the V3 result of the tier calculator (`domain::tier`, tier-rules.md §6–§8).
    RecordTierV3 {
        on: Date,
        tier: V3Tier,
        provisional: bool,
        inputs_digest: InputsDigest,
        reason_code: ReasonCode,
    },
    RequestRiskEscalation {
        on: Date,
        proposed_rosh: RoshLevel,
        evidence: Option<Text>,
        by: Organisation,
    },
    DecideRiskEscalation {
        on: Date,
        confirmed_rosh: RoshLevel,
        by: Organisation,
    },
    /// Move a case open at the end of Transforming Rehabilitation into the unified service.
    UnifyProbationService {
        on: Date,
    },
    AllocatePrisonOffenderManager {
        on: Date,
        sentence_id: SentenceId,
        prison_offender_manager: Practitioner,
        pom_type: PomType,
    },
    /// Record the result of the handover calculator (`domain::handover`).
    RecordHandoverDates {
        on: Date,
        sentence_id: SentenceId,
        handover_era: HandoverEra,
        responsibility: Responsibility,
        start_date: Option<Date>,
        handover_date: Option<Date>,
        handover_reason: ReasonCode,
        inputs_digest: InputsDigest,
    },
    AllocateCommunityOffenderManager {
        on: Date,
        sentence_id: SentenceId,
        community_offender_manager: Practitioner,
        team: TeamCode,
    },
    TransferResponsibility {
        on: Date,
        sentence_id: SentenceId,
    },
    OverrideResponsibility {
        on: Date,
        sentence_id: SentenceId,
        to: Responsibility,
        reason: Text,
    },
    RecordHandoverMeeting {
        on: Date,
        sentence_id: SentenceId,
        attendees: Vec<Attendee>,
    },
    RecordPreReleaseContact {
        on: Date,
        sentence_id: SentenceId,
    },
    Release {
        on: Date,
        sentence_id: SentenceId,
        release_type: ReleaseType,
    },
    EndLicence {
        on: Date,
        sentence_id: SentenceId,
    },
    StartPostSentenceSupervision {
        on: Date,
        sentence_id: SentenceId,
    },
    EndPostSentenceSupervision {
        on: Date,
        sentence_id: SentenceId,
    },
    /// The engine ends a licence, post-sentence supervision or an order on its date (LAPSE-1).
    LapseSupervision {
        on: Date,
        sentence_id: SentenceId,
    },
    ScheduleAppointment {
        on: Date,
        sentence_id: SentenceId,
        kind: AppointmentKind,
        initial: bool,
    },
    RecordAttendance {
        on: Date,
        appointment_id: u32,
        outcome: AttendedOutcome,
    },
    RecordAbsence {
        on: Date,
        appointment_id: u32,
        absence: Absence,
    },
    IssueWarning {
        on: Date,
        sentence_id: SentenceId,
        kind: WarningKind,
        reason: Text,
    },
    RaiseBreach {
        on: Date,
        sentence_id: SentenceId,
        reason: Text,
    },
    ConcludeBreach {
        on: Date,
        breach_id: u16,
        outcome: BreachOutcome,
    },
    RaiseRecall {
        on: Date,
        sentence_id: SentenceId,
        reason: Text,
    },
    ConcludeRecall {
        on: Date,
        recall_id: u16,
        outcome: RecallOutcome,
    },
    CreditUnpaidWork {
        on: Date,
        sentence_id: SentenceId,
        requirement_id: RequirementId,
        minutes: u32,
    },
    CompleteRequirement {
        on: Date,
        sentence_id: SentenceId,
        requirement_id: RequirementId,
    },
    TerminateRequirement {
        on: Date,
        sentence_id: SentenceId,
        requirement_id: RequirementId,
        reason: Text,
    },
    CreateSentencePlan {
        on: Date,
        sentence_id: SentenceId,
        service_user_involved: bool,
    },
    ReviewSentencePlan {
        on: Date,
        sentence_id: SentenceId,
        service_user_involved: bool,
    },
    RecordAccommodation {
        on: Date,
        status: AccommodationStatus,
        checkpoint: StatusCheckpoint,
    },
    RecordEmployment {
        on: Date,
        status: EmploymentStatus,
        checkpoint: StatusCheckpoint,
    },
    TransferCase {
        on: Date,
        to_pdu: Pdu,
        to_team: Option<TeamCode>,
        reason: Text,
    },
    TerminateSentence {
        on: Date,
        sentence_id: SentenceId,
        reason: TerminationReason,
    },
    CloseCase {
        on: Date,
        reason: Text,
    },
    /// Reopen a closed case for a person who returns (seed 003 l.2600).
    ReopenCase {
        on: Date,
        reason: Text,
    },
    CorrectEvent {
        on: Date,
        corrected_event_id: EventRef,
        corrected_event_type: EventTypeName,
        reason: Text,
    },
    /// Erase the person's personal data on case `crn` (UK GDPR Art. 17; DPA 2018 s.47): the
    /// engine records `PersonalDataErased`, then destroys the person's data key
    /// (docs/decisions/0009-crypto-shredding.md). The CRN is named, as when opening, so a
    /// refusal can name the case even when there is none.
    ErasePersonalData {
        crn: Crn,
        on: Date,
        reason: Text,
    },
}

impl DomainCommand {
    /// The date the fact happened (or, for an appointment, is booked for).
    pub fn on(&self) -> Date {
        use DomainCommand::*;
        match self {
            OpenCase { on, .. }
            | RequestPreSentenceReport { on, .. }
            | CompletePreSentenceReport { on, .. }
            | ImposeSentence { on, .. }
            | RecalculateSentenceDates { on, .. }
            | AssessRisk { on, .. }
            | AddRegistration { on, .. }
            | RemoveRegistration { on, .. }
            | ScreenForMappa { on, .. }
            | ReferToMappa { on, .. }
            | SetMappaLevel { on, .. }
            | AllocateToProvider { on, .. }
            | AllocatePractitioner { on, .. }
            | ReallocatePractitioner { on, .. }
            | RecordTier { on, .. }
            | RecordTierV3 { on, .. }
            | RequestRiskEscalation { on, .. }
            | DecideRiskEscalation { on, .. }
            | UnifyProbationService { on }
            | AllocatePrisonOffenderManager { on, .. }
            | RecordHandoverDates { on, .. }
            | AllocateCommunityOffenderManager { on, .. }
            | TransferResponsibility { on, .. }
            | OverrideResponsibility { on, .. }
            | RecordHandoverMeeting { on, .. }
            | RecordPreReleaseContact { on, .. }
            | Release { on, .. }
            | EndLicence { on, .. }
            | StartPostSentenceSupervision { on, .. }
            | EndPostSentenceSupervision { on, .. }
            | LapseSupervision { on, .. }
            | ScheduleAppointment { on, .. }
            | RecordAttendance { on, .. }
            | RecordAbsence { on, .. }
            | IssueWarning { on, .. }
            | RaiseBreach { on, .. }
            | ConcludeBreach { on, .. }
            | RaiseRecall { on, .. }
            | ConcludeRecall { on, .. }
            | CreditUnpaidWork { on, .. }
            | CompleteRequirement { on, .. }
            | TerminateRequirement { on, .. }
            | CreateSentencePlan { on, .. }
            | ReviewSentencePlan { on, .. }
            | RecordAccommodation { on, .. }
            | RecordEmployment { on, .. }
            | TransferCase { on, .. }
            | TerminateSentence { on, .. }
            | CloseCase { on, .. }
            | ReopenCase { on, .. }
            | CorrectEvent { on, .. }
            | ErasePersonalData { on, .. } => *on,
        }
    }
}
