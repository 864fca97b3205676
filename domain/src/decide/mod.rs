//! `decide`: the rules. Given the case state, a command, the ruleset in force and `today`,
//! return the events to record or a typed refusal. Pure and synchronous: no I/O, no clock.
//!
//! One rule family per submodule; each rule's doc comment cites its source and the unit test
//! beside it names the rule id.

mod case;
mod custody;
mod data_protection;
mod enforcement;
mod practitioner;
mod provider;
mod requirements;
mod risk;

use jiff::civil::Date;

use crate::command::DomainCommand;
use crate::error::DomainError;
use crate::event::{Decision, Event, ReasonCode};
use crate::ruleset::Ruleset;
use crate::sentence::SentenceId;
use crate::state::{CaseState, SentenceState};

/// Most sentences one case may hold (a long criminal career has dozens; 256 is far beyond).
pub const SENTENCES_PER_CASE_MAX: u32 = 256;
/// Most registrations one case may hold.
pub const REGISTRATIONS_PER_CASE_MAX: u32 = 1_024;
/// Most appointments one case may hold (weekly contact for 40 years is about 2,000).
pub const APPOINTMENTS_PER_CASE_MAX: u32 = 20_000;
/// Most breaches, and separately recalls, one case may hold.
pub const BREACHES_PER_CASE_MAX: u32 = 1_024;
/// Most pre-release contacts recorded for one custodial sentence.
pub const PRE_RELEASE_CONTACTS_MAX: u16 = 1_000;

/// Decide what a command means for this case.
///
/// Refusals are [`DomainError`]s whose message says why and what would make the command
/// acceptable. A refused command emits nothing.
pub fn decide(
    state: &CaseState,
    command: &DomainCommand,
    ruleset: &Ruleset,
    today: Date,
) -> Result<Vec<Event>, DomainError> {
    if let DomainCommand::OpenCase {
        crn,
        person,
        pdu,
        team,
        on,
    } = command
    {
        return case::open_case(state, crn, person, *pdu, team, *on, ruleset, today);
    }
    // Erasure names its CRN (an unknown case is refused naming it) and applies to a closed
    // case too: retention ends after closure.
    if let DomainCommand::ErasePersonalData { crn, on, reason } = command {
        return data_protection::erase_personal_data(state, crn, *on, reason, today);
    }
    let ctx = Ctx::new(state, ruleset, today, command)?;
    route(&ctx, command)
}

/// The rule family that decides `command` (one submodule each); opening a case that is open
/// is refused here.
fn route(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::OpenCase { .. } => Err(DomainError::CaseAlreadyOpen {
            crn: ctx.crn.clone(),
        }),
        // Decided in `decide` before the case checks; never routed here.
        C::ErasePersonalData { .. } => Err(ctx.refuse(
            "route the command",
            "an erasure is decided before the case checks",
        )),
        C::RequestPreSentenceReport { .. }
        | C::CompletePreSentenceReport { .. }
        | C::ImposeSentence { .. }
        | C::RecalculateSentenceDates { .. }
        | C::CreateSentencePlan { .. }
        | C::ReviewSentencePlan { .. }
        | C::RecordAccommodation { .. }
        | C::RecordEmployment { .. }
        | C::TransferCase { .. }
        | C::TerminateSentence { .. }
        | C::CloseCase { .. }
        | C::ReopenCase { .. }
        | C::CorrectEvent { .. } => case::decide(ctx, command),
        C::AssessRisk { .. }
        | C::AddRegistration { .. }
        | C::RemoveRegistration { .. }
        | C::ScreenForMappa { .. }
        | C::ReferToMappa { .. }
        | C::SetMappaLevel { .. }
        | C::RecordTier { .. }
        | C::RecordTierV3 { .. } => risk::decide(ctx, command),
        C::AllocateToProvider { .. }
        | C::RequestRiskEscalation { .. }
        | C::DecideRiskEscalation { .. }
        | C::UnifyProbationService { .. } => provider::decide(ctx, command),
        C::AllocatePractitioner { .. } | C::ReallocatePractitioner { .. } => {
            practitioner::decide(ctx, command)
        }
        C::AllocatePrisonOffenderManager { .. }
        | C::RecordHandoverDates { .. }
        | C::AllocateCommunityOffenderManager { .. }
        | C::TransferResponsibility { .. }
        | C::OverrideResponsibility { .. }
        | C::RecordHandoverMeeting { .. }
        | C::RecordPreReleaseContact { .. }
        | C::Release { .. }
        | C::EndLicence { .. }
        | C::StartPostSentenceSupervision { .. }
        | C::EndPostSentenceSupervision { .. }
        | C::LapseSupervision { .. }
        | C::RaiseRecall { .. }
        | C::ConcludeRecall { .. } => custody::decide(ctx, command),
        C::ScheduleAppointment { .. }
        | C::RecordAttendance { .. }
        | C::RecordAbsence { .. }
        | C::IssueWarning { .. }
        | C::RaiseBreach { .. }
        | C::ConcludeBreach { .. } => enforcement::decide(ctx, command),
        C::CreditUnpaidWork { .. }
        | C::CompleteRequirement { .. }
        | C::TerminateRequirement { .. } => requirements::decide(ctx, command),
    }
}

/// What every rule needs: the case (known to be open), its CRN and the ruleset. `today` is
/// checked once in [`Ctx::new`].
pub(crate) struct Ctx<'a> {
    pub state: &'a CaseState,
    pub ruleset: &'a Ruleset,
    pub crn: String,
}

impl<'a> Ctx<'a> {
    /// Checks shared by every command except `OpenCase`: the case is open, not closed (only a
    /// correction may follow closure), the ruleset is for the case's nation, and the command's
    /// date is not in the future and not before the case was opened.
    fn new(
        state: &'a CaseState,
        ruleset: &'a Ruleset,
        today: Date,
        command: &DomainCommand,
    ) -> Result<Ctx<'a>, DomainError> {
        let (Some(crn), Some(pdu), Some(opened_on)) = (&state.crn, state.pdu, state.opened_on)
        else {
            return Err(DomainError::CaseNotOpen);
        };
        let crn = crn.as_str().to_owned();
        // After closure only a correction, a new sentence or a reopening may be recorded: a
        // person who returns keeps one record (seed 003 l.2600).
        let may_follow_closure = matches!(
            command,
            DomainCommand::CorrectEvent { .. }
                | DomainCommand::ImposeSentence { .. }
                | DomainCommand::ReopenCase { .. }
        );
        if state.closed_on.is_some() && !may_follow_closure {
            return Err(DomainError::CaseClosed { crn });
        }
        if pdu.nation() != ruleset.nation {
            return Err(DomainError::RulesetNationMismatch {
                given: ruleset.nation.as_str(),
                case: pdu.nation().as_str(),
            });
        }
        let on = command.on();
        // Appointments are booked ahead; every other command records something that happened.
        if !matches!(command, DomainCommand::ScheduleAppointment { .. }) {
            not_future("the command's date", on, today)?;
        }
        not_before("the command's date", on, "the case opening date", opened_on)?;
        Ok(Ctx {
            state,
            ruleset,
            crn,
        })
    }

    pub fn decision(&self, code: &'static str) -> Decision {
        Decision {
            ruleset_id: self.ruleset.id,
            reason_code: ReasonCode::known(code),
        }
    }

    /// The sentence `id`, whatever its status.
    pub fn sentence(&self, id: SentenceId) -> Result<&'a SentenceState, DomainError> {
        self.state
            .sentences
            .get(&id)
            .ok_or_else(|| DomainError::UnknownSentence {
                crn: self.crn.clone(),
                sentence: id.0,
                count: u16::try_from(self.state.sentences.len()).unwrap_or(u16::MAX),
            })
    }

    /// The sentence `id`, which must not have ended.
    pub fn active_sentence(
        &self,
        id: SentenceId,
        action: &'static str,
    ) -> Result<&'a SentenceState, DomainError> {
        let sentence = self.sentence(id)?;
        if sentence.status.is_active() {
            Ok(sentence)
        } else {
            Err(DomainError::SentenceEnded {
                crn: self.crn.clone(),
                sentence: id.0,
                action,
            })
        }
    }

    /// The latest sentence that has not ended; refused when there is none.
    pub fn current_sentence(
        &self,
        action: &'static str,
    ) -> Result<(SentenceId, &'a SentenceState), DomainError> {
        self.state
            .current_sentence()
            .ok_or_else(|| DomainError::NoSentence {
                crn: self.crn.clone(),
                action,
            })
    }

    pub fn refuse(&self, action: &'static str, why: impl Into<String>) -> DomainError {
        DomainError::NotAllowedInState {
            crn: self.crn.clone(),
            action,
            why: why.into(),
        }
    }

    pub fn rule(
        &self,
        action: &'static str,
        why: impl Into<String>,
        rule: &'static str,
    ) -> DomainError {
        DomainError::RuleRefused {
            crn: self.crn.clone(),
            action,
            why: why.into(),
            rule,
        }
    }
}

pub(crate) fn not_future(what: &'static str, date: Date, today: Date) -> Result<(), DomainError> {
    if date > today {
        Err(DomainError::DateInFuture {
            what,
            date: date.to_string(),
            today: today.to_string(),
        })
    } else {
        Ok(())
    }
}

pub(crate) fn not_before(
    what: &'static str,
    date: Date,
    earlier_what: &'static str,
    earlier: Date,
) -> Result<(), DomainError> {
    if date < earlier {
        Err(DomainError::DateTooEarly {
            what,
            date: date.to_string(),
            earlier_what,
            earlier: earlier.to_string(),
        })
    } else {
        Ok(())
    }
}

/// Next sequence number after `count` existing items, refused at `max`.
pub(crate) fn next_id(
    ctx: &Ctx<'_>,
    count: usize,
    max: u32,
    what: &'static str,
) -> Result<u32, DomainError> {
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    if count >= max {
        return Err(DomainError::LimitReached {
            crn: ctx.crn.clone(),
            what,
            limit: max,
        });
    }
    Ok(count + 1)
}
