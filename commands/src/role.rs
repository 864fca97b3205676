//! Actor roles and the authorisation matrix: which role may send which command.
//!
//! The matrix answers "may a person in this role ask for this at all?". Rules that depend on
//! the acting *organisation* (only the NPS confirms RoSH in the TR era, BR-A11 seed 001 l.68;
//! only the CRC managing a case escalates it, BR-A7 seed 000 l.8) are checked by `decide`,
//! which receives the organisation in the command's `by` field.

use std::fmt;

use caseledger_domain::DomainCommand;
use serde::{Deserialize, Serialize};

/// The role of the person or system sending a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Probation Officer (PO), a probation practitioner (seed-digest §1, seed 003 l.817).
    ProbationOfficer,
    /// Probation Services Officer (PSO), a probation practitioner (seed 003 l.817).
    ProbationServicesOfficer,
    /// Senior Probation Officer (SPO): leads a team, oversees tier changes and reallocation
    /// (seed 003 l.777, l.857).
    SeniorProbationOfficer,
    /// Case administrator of a Probation Operational Delivery group (seed 003 l.857).
    CaseAdministrator,
    /// Court officer: records what the court asked for and decided (BR-A1, seed 001 l.16).
    CourtOfficer,
    /// Prison Offender Manager (POM) in the prison's Offender Management Unit (BR-C11).
    PrisonOffenderManager,
    /// MAPPA coordinator: records the level a MAPPA panel set (BR-D3).
    MappaCoordinator,
    /// The engine itself: derived decisions and time-driven commands. Never accepted from a
    /// caller (`envelope::VerifiedActor` refuses it); only the handler's engine path uses it.
    System,
    /// HM Inspectorate of Probation: reads and replays, never writes (seed 003 l.3460).
    Inspector,
    /// A regulator or auditor (OSAG): reads and replays, never writes (seed 003 l.3475).
    Regulator,
    /// An integrated HMPPS service feeding the engine (court and prison systems, the
    /// allocation service, the tiering service asking for a recalculation, the national
    /// unification run). It may ask for tier and handover results, but the engine checks them
    /// against its own derivation and records them as its own.
    Service,
    /// Data protection officer: erases a person's personal data when its retention has ended
    /// (UK GDPR Art. 17; DPA 2018 s.47; docs/decisions/0009-crypto-shredding.md). The only
    /// role that may, and it records nothing else about a case.
    DataProtectionOfficer,
}

impl Role {
    pub const ALL: [Role; 12] = [
        Role::ProbationOfficer,
        Role::ProbationServicesOfficer,
        Role::SeniorProbationOfficer,
        Role::CaseAdministrator,
        Role::CourtOfficer,
        Role::PrisonOffenderManager,
        Role::MappaCoordinator,
        Role::System,
        Role::Inspector,
        Role::Regulator,
        Role::Service,
        Role::DataProtectionOfficer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ProbationOfficer => "probation_officer",
            Role::ProbationServicesOfficer => "probation_services_officer",
            Role::SeniorProbationOfficer => "senior_probation_officer",
            Role::CaseAdministrator => "case_administrator",
            Role::CourtOfficer => "court_officer",
            Role::PrisonOffenderManager => "prison_offender_manager",
            Role::MappaCoordinator => "mappa_coordinator",
            Role::System => "system",
            Role::Inspector => "inspector",
            Role::Regulator => "regulator",
            Role::Service => "service",
            Role::DataProtectionOfficer => "data_protection_officer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Inspectors and regulators may read and replay but never write (design.md "users").
    pub fn is_read_only(self) -> bool {
        matches!(self, Role::Inspector | Role::Regulator)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles as a bit mask (one bit per [`Role`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles(u16);

impl Roles {
    const fn of(roles: &[Role]) -> Roles {
        let mut mask = 0u16;
        let mut i = 0;
        while i < roles.len() {
            mask |= 1 << (roles[i] as u16);
            i += 1;
        }
        Roles(mask)
    }
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }
    pub fn names(self) -> Vec<&'static str> {
        Role::ALL
            .into_iter()
            .filter(|r| self.contains(*r))
            .map(Role::as_str)
            .collect()
    }
}

use Role::*;

/// Probation practitioners: PO, PSO and their SPO (BR-A6, seed 001 l.56: both grades assess
/// and manage).
const PRACTITIONERS: Roles = Roles::of(&[
    ProbationOfficer,
    ProbationServicesOfficer,
    SeniorProbationOfficer,
]);
const PRACTITIONERS_AND_ADMIN: Roles = Roles::of(&[
    ProbationOfficer,
    ProbationServicesOfficer,
    SeniorProbationOfficer,
    CaseAdministrator,
]);
/// Case records (opening a case, sentence facts) are entered by court staff, case
/// administrators and practitioners, or fed by an integrated system.
const CASE_RECORDS: Roles = Roles::of(&[
    ProbationOfficer,
    ProbationServicesOfficer,
    SeniorProbationOfficer,
    CaseAdministrator,
    CourtOfficer,
    System,
    Service,
]);
/// Only a Senior Probation Officer (handover-rules.md §13 "manual responsibility override …
/// can be removed by an SPO"; seed 003 l.777 SPO oversight of reallocation and tier changes).
const SENIOR_ONLY: Roles = Roles::of(&[SeniorProbationOfficer]);
/// Allocation of a practitioner: the SPO or the allocation service (seed-digest §4
/// `CaseAllocatedToPractitioner`: "SPO / allocation service"; BR-C1–C6).
const SENIOR_OR_SYSTEM: Roles = Roles::of(&[SeniorProbationOfficer, System, Service]);
/// Calculator results (tier, handover dates) are the engine's: a person asks for the inputs to
/// change and the engine recalculates (design.md invariant 5). An integrated service may ask
/// for a recalculation; the handler accepts it only when it equals the engine's own
/// derivation from the case (`handler::plan`) and records it with the engine as actor.
/// Unification is a national change applied by the engine or the service that ran it.
const ENGINE_OR_SERVICE: Roles = Roles::of(&[System, Service]);
/// Prison-side facts: the prison's Offender Management Unit or the prison system (BR-C11).
const PRISON: Roles = Roles::of(&[PrisonOffenderManager, System, Service]);
/// Prison-side facts also entered by probation case administration (release, licence).
const PRISON_AND_PROBATION: Roles = Roles::of(&[
    PrisonOffenderManager,
    ProbationOfficer,
    ProbationServicesOfficer,
    SeniorProbationOfficer,
    CaseAdministrator,
    System,
    Service,
]);
/// The handover meeting and pre-release contacts involve the COM and the POM (BR-F5–F6).
const HANDOVER_CONTACTS: Roles = Roles::of(&[
    ProbationOfficer,
    ProbationServicesOfficer,
    SeniorProbationOfficer,
    PrisonOffenderManager,
]);
/// Escalation decisions and MAPPA referrals are for qualified officers (BR-A11, BR-A12).
const OFFICERS: Roles = Roles::of(&[ProbationOfficer, SeniorProbationOfficer]);
/// MAPPA levels are set by the panel, recorded by its coordinator or an officer (BR-D3).
const MAPPA_LEVEL: Roles = Roles::of(&[ProbationOfficer, SeniorProbationOfficer, MappaCoordinator]);
/// Erasure of a person's personal data is a data protection decision, not a case-work one
/// (UK GDPR Art. 17; DPA 2018 s.47): only the data protection officer. Destroying the data
/// key cannot be undone, so no other role may, the engine included.
const DATA_PROTECTION: Roles = Roles::of(&[DataProtectionOfficer]);
/// Court outcomes of breach and termination are recorded by the court officer too.
const COURT_OUTCOMES: Roles = Roles::of(&[
    ProbationOfficer,
    SeniorProbationOfficer,
    CaseAdministrator,
    CourtOfficer,
    System,
    Service,
]);

/// The public name of a domain command's type (`snake_case`, as in the command JSON) and the
/// roles allowed to send it.
pub fn permission(command: &DomainCommand) -> (&'static str, Roles) {
    use DomainCommand as C;
    match command {
        C::OpenCase { .. } => ("open_case", CASE_RECORDS),
        C::RequestPreSentenceReport { .. } => ("request_pre_sentence_report", CASE_RECORDS),
        // Court work, including reports, is the NPS's (BR-A1, seed 001 l.16).
        C::CompletePreSentenceReport { .. } => ("complete_pre_sentence_report", PRACTITIONERS),
        C::ImposeSentence { .. } => ("impose_sentence", CASE_RECORDS),
        C::RecalculateSentenceDates { .. } => ("recalculate_sentence_dates", PRISON_AND_PROBATION),
        C::AssessRisk { .. } => ("assess_risk", PRACTITIONERS),
        C::AddRegistration { .. } => ("add_registration", PRACTITIONERS),
        C::RemoveRegistration { .. } => ("remove_registration", PRACTITIONERS),
        C::ScreenForMappa { .. } => ("screen_for_mappa", OFFICERS),
        C::ReferToMappa { .. } => ("refer_to_mappa", OFFICERS),
        C::SetMappaLevel { .. } => ("set_mappa_level", MAPPA_LEVEL),
        C::AllocateToProvider { .. } => ("allocate_to_provider", PRACTITIONERS_AND_ADMIN),
        C::AllocatePractitioner { .. } => ("allocate_practitioner", SENIOR_OR_SYSTEM),
        C::ReallocatePractitioner { .. } => ("reallocate_practitioner", SENIOR_OR_SYSTEM),
        C::RecordTier { .. } => ("record_tier", ENGINE_OR_SERVICE),
        C::RecordTierV3 { .. } => ("record_tier_v3", ENGINE_OR_SERVICE),
        C::RequestRiskEscalation { .. } => ("request_risk_escalation", PRACTITIONERS),
        C::DecideRiskEscalation { .. } => ("decide_risk_escalation", OFFICERS),
        C::UnifyProbationService { .. } => ("unify_probation_service", ENGINE_OR_SERVICE),
        C::AllocatePrisonOffenderManager { .. } => ("allocate_prison_offender_manager", PRISON),
        C::RecordHandoverDates { .. } => ("record_handover_dates", ENGINE_OR_SERVICE),
        C::AllocateCommunityOffenderManager { .. } => {
            ("allocate_community_offender_manager", SENIOR_OR_SYSTEM)
        }
        C::TransferResponsibility { .. } => ("transfer_responsibility", SENIOR_OR_SYSTEM),
        C::OverrideResponsibility { .. } => ("override_responsibility", SENIOR_ONLY),
        C::RecordHandoverMeeting { .. } => ("record_handover_meeting", HANDOVER_CONTACTS),
        C::RecordPreReleaseContact { .. } => ("record_pre_release_contact", HANDOVER_CONTACTS),
        C::Release { .. } => ("release", PRISON_AND_PROBATION),
        C::EndLicence { .. } => ("end_licence", PRISON_AND_PROBATION),
        C::StartPostSentenceSupervision { .. } => {
            ("start_post_sentence_supervision", PRISON_AND_PROBATION)
        }
        C::EndPostSentenceSupervision { .. } => {
            ("end_post_sentence_supervision", PRISON_AND_PROBATION)
        }
        // A date reached is the engine's decision (LAPSE-1).
        C::LapseSupervision { .. } => ("lapse_supervision", ENGINE_OR_SERVICE),
        C::ScheduleAppointment { .. } => ("schedule_appointment", PRACTITIONERS_AND_ADMIN),
        C::RecordAttendance { .. } => ("record_attendance", PRACTITIONERS_AND_ADMIN),
        C::RecordAbsence { .. } => ("record_absence", PRACTITIONERS_AND_ADMIN),
        // Enforcement decisions are the practitioner's (BR-I1).
        C::IssueWarning { .. } => ("issue_warning", PRACTITIONERS),
        C::RaiseBreach { .. } => ("raise_breach", PRACTITIONERS),
        C::ConcludeBreach { .. } => ("conclude_breach", COURT_OUTCOMES),
        // Recall is for officers (BR-I3).
        C::RaiseRecall { .. } => ("raise_recall", OFFICERS),
        C::ConcludeRecall { .. } => ("conclude_recall", COURT_OUTCOMES),
        C::CreditUnpaidWork { .. } => ("credit_unpaid_work", PRACTITIONERS_AND_ADMIN),
        C::CompleteRequirement { .. } => ("complete_requirement", PRACTITIONERS_AND_ADMIN),
        C::TerminateRequirement { .. } => ("terminate_requirement", COURT_OUTCOMES),
        C::CreateSentencePlan { .. } => ("create_sentence_plan", PRACTITIONERS),
        C::ReviewSentencePlan { .. } => ("review_sentence_plan", PRACTITIONERS),
        C::RecordAccommodation { .. } => ("record_accommodation", PRACTITIONERS_AND_ADMIN),
        C::RecordEmployment { .. } => ("record_employment", PRACTITIONERS_AND_ADMIN),
        // Transfers between PDUs are agreed by SPOs (seed-digest §4 `CaseTransferred`).
        C::TransferCase { .. } => ("transfer_case", SENIOR_ONLY),
        C::TerminateSentence { .. } => ("terminate_sentence", COURT_OUTCOMES),
        C::CloseCase { .. } => ("close_case", COURT_OUTCOMES),
        // Reopening is a case record, like opening (seed 003 l.2600).
        C::ReopenCase { .. } => ("reopen_case", CASE_RECORDS),
        // A correction names a wrong record: management oversight (seed 003 l.3466).
        C::CorrectEvent { .. } => ("correct_event", SENIOR_ONLY),
        C::ErasePersonalData { .. } => ("erase_personal_data", DATA_PROTECTION),
    }
}

/// Why a role may not send a command.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AuthorisationError {
    #[error("role {role} may read and replay cases but never change them")]
    ReadOnly { role: Role },
    #[error("role {role} may not {command}; allowed roles: {allowed}")]
    NotAllowed {
        role: Role,
        command: &'static str,
        allowed: String,
    },
}

/// May `role` send `command`?
pub fn authorise(role: Role, command: &DomainCommand) -> Result<(), AuthorisationError> {
    if role.is_read_only() {
        return Err(AuthorisationError::ReadOnly { role });
    }
    let (name, roles) = permission(command);
    // Read-only roles appear in no row of the matrix; a change to the table that let one in
    // would be caught above, but keep the table honest too.
    debug_assert!(!roles.contains(Role::Inspector) && !roles.contains(Role::Regulator));
    if roles.contains(role) {
        Ok(())
    } else {
        Err(AuthorisationError::NotAllowed {
            role,
            command: name,
            allowed: roles.names().join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn override_command() -> DomainCommand {
        DomainCommand::OverrideResponsibility {
            on: date(2020, 1, 1),
            sentence_id: caseledger_domain::sentence::SentenceId(1),
            to: caseledger_domain::event::Responsibility::Community,
            reason: caseledger_domain::identity::Text::new("moved to open prison").unwrap(),
        }
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("Probation_Officer"), None);
    }

    #[test]
    fn inspectors_and_regulators_may_read_but_never_write() {
        for role in [Role::Inspector, Role::Regulator] {
            assert_eq!(
                authorise(role, &override_command()),
                Err(AuthorisationError::ReadOnly { role })
            );
            let open = DomainCommand::UnifyProbationService {
                on: date(2021, 6, 26),
            };
            assert!(authorise(role, &open).is_err());
        }
    }

    #[test]
    fn handover_rules_only_a_senior_probation_officer_overrides_responsibility() {
        assert_eq!(
            authorise(Role::SeniorProbationOfficer, &override_command()),
            Ok(())
        );
        for role in Role::ALL
            .into_iter()
            .filter(|r| *r != Role::SeniorProbationOfficer)
        {
            assert!(authorise(role, &override_command()).is_err(), "{role}");
        }
        let message = authorise(Role::ProbationOfficer, &override_command())
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "role probation_officer may not override_responsibility; allowed roles: senior_probation_officer"
        );
    }

    #[test]
    fn erase_1_only_the_data_protection_officer_erases_personal_data() {
        let erase = DomainCommand::ErasePersonalData {
            crn: caseledger_domain::identity::Crn::new("X123456").unwrap(),
            on: date(2026, 12, 6),
            reason: caseledger_domain::identity::Text::new("retention ended (RET-1)").unwrap(),
        };
        assert_eq!(authorise(Role::DataProtectionOfficer, &erase), Ok(()));
        for role in Role::ALL
            .into_iter()
            .filter(|r| *r != Role::DataProtectionOfficer)
        {
            assert!(authorise(role, &erase).is_err(), "{role}");
        }
        assert_eq!(
            authorise(Role::SeniorProbationOfficer, &erase)
                .unwrap_err()
                .to_string(),
            "role senior_probation_officer may not erase_personal_data; allowed roles: \
             data_protection_officer"
        );
    }

    #[test]
    fn br_a11_escalation_decisions_need_an_officer_role() {
        let decide = DomainCommand::DecideRiskEscalation {
            on: date(2016, 1, 1),
            confirmed_rosh: caseledger_domain::risk::RoshLevel::High,
            by: caseledger_domain::reference::Organisation::Nps,
        };
        assert!(authorise(Role::ProbationOfficer, &decide).is_ok());
        assert!(authorise(Role::CaseAdministrator, &decide).is_err());
        assert!(authorise(Role::PrisonOffenderManager, &decide).is_err());
    }
}
