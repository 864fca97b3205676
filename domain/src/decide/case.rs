//! Case-level rules: opening, pre-sentence reports, sentencing, sentence plans, status
//! records, transfers, termination, closure and corrections.

use jiff::civil::Date;

use super::{next_id, not_before, not_future, Ctx, SENTENCES_PER_CASE_MAX};
use crate::command::DomainCommand;
use crate::error::DomainError;
use crate::event::*;
use crate::identity::{Crn, EventRef, Person, TeamCode, Text};
use crate::reference::Pdu;
use crate::ruleset::Ruleset;
use crate::sealable::Sealable;
use crate::sentence::{
    Requirement, RequirementId, SentenceDates, SentenceId, SentenceType, TerminationReason,
    REQUIREMENTS_PER_SENTENCE_MAX,
};
use crate::state::CaseState;

#[allow(clippy::too_many_arguments)]
pub(super) fn open_case(
    state: &CaseState,
    crn: &Crn,
    person: &Person,
    pdu: Pdu,
    team: &Option<TeamCode>,
    on: Date,
    ruleset: &Ruleset,
    today: Date,
) -> Result<Vec<Event>, DomainError> {
    if let (Some(existing), Some(closed_on)) = (&state.crn, state.closed_on) {
        // One record per person (seed 003 l.2600): a returning person's case is reopened,
        // not opened again under the same or a new CRN.
        return Err(DomainError::NotAllowedInState {
            crn: existing.as_str().to_owned(),
            action: "open the case",
            why: format!(
                "it was closed on {closed_on}; reopen it with reopen_case, or impose the new sentence on it, so the person's history stays one record (seed 003 l.2600)"
            ),
        });
    }
    if let Some(existing) = &state.crn {
        return Err(DomainError::CaseAlreadyOpen {
            crn: existing.as_str().to_owned(),
        });
    }
    not_future("the case opening date", on, today)?;
    if on < person.date_of_birth {
        // A refusal is kept in the log: it names the field, never the date of birth.
        return Err(DomainError::DateTooEarly {
            what: "the case opening date",
            date: on.to_string(),
            earlier_what: "the date of birth",
            earlier: "(command.person.date_of_birth; not repeated: personal data)".into(),
        });
    }
    if pdu.nation() != ruleset.nation {
        return Err(DomainError::RulesetNationMismatch {
            given: ruleset.nation.as_str(),
            case: pdu.nation().as_str(),
        });
    }
    Ok(vec![CaseOpened {
        crn: crn.clone(),
        person: Sealable::Known(person.clone()),
        pdu,
        team: team.clone(),
        opened_on: on,
    }
    .into()])
}

/// Key dates must not fall before the sentence date (they are all release, expiry or hearing
/// dates of that sentence, handover-rules.md §3.1).
fn check_dates(sentenced_on: Date, dates: &SentenceDates) -> Result<(), DomainError> {
    for (name, date) in dates.all() {
        if let Some(date) = date {
            not_before(name_of(name), date, "the sentence date", sentenced_on)?;
        }
    }
    Ok(())
}

/// Age of criminal responsibility in England and Wales: ten.
pub const AGE_OF_CRIMINAL_RESPONSIBILITY_YEARS: i16 = 10;

/// ACR-1: no child under ten can be guilty of an offence (Children and Young Persons Act 1933
/// s.50, as amended by the Children and Young Persons Act 1963 s.16). A sentence follows an
/// offence, so a sentence date less than ten years after the date of birth is a wrong date of
/// birth or a wrong sentence date: refused, naming both fields.
fn check_age_of_criminal_responsibility(
    ctx: &Ctx<'_>,
    sentenced_on: Date,
) -> Result<(), DomainError> {
    // An erased or withheld date of birth cannot be checked: the rule checks what is known.
    let Some(person) = ctx.state.person.as_ref().and_then(Sealable::known) else {
        return Ok(());
    };
    let born = person.date_of_birth;
    let tenth_birthday = born
        .checked_add(jiff::Span::new().years(AGE_OF_CRIMINAL_RESPONSIBILITY_YEARS))
        .unwrap_or(jiff::civil::Date::MAX);
    if sentenced_on >= tenth_birthday {
        return Ok(());
    }
    Err(ctx.rule(
        "impose the sentence",
        format!(
            "the sentence date (command.on) {sentenced_on} is less than \
             {AGE_OF_CRIMINAL_RESPONSIBILITY_YEARS} years after the date of birth \
             (person.date_of_birth, from open_case; not repeated: a refusal is kept in the \
             log), and no child under \
             {AGE_OF_CRIMINAL_RESPONSIBILITY_YEARS} can be guilty of an offence; check both \
             dates"
        ),
        "ACR-1, Children and Young Persons Act 1933 s.50",
    ))
}

fn name_of(abbreviation: &'static str) -> &'static str {
    match abbreviation {
        "CRD" => "the conditional release date (CRD)",
        "ARD" => "the automatic release date (ARD)",
        "PED" => "the parole eligibility date (PED)",
        "HDCED" => "the HDC eligibility date (HDCED)",
        "HDCAD" => "the HDC approved date (HDCAD)",
        "TED" => "the tariff expiry date (TED)",
        "THD" => "the target hearing date (THD)",
        "SED" => "the sentence expiry date (SED)",
        "LED" => "the licence expiry date (LED)",
        _ => "the top-up supervision expiry date (TUSED)",
    }
}

pub(super) fn decide(ctx: &Ctx<'_>, command: &DomainCommand) -> Result<Vec<Event>, DomainError> {
    use DomainCommand as C;
    match command {
        C::RequestPreSentenceReport { on, court, due_on } => {
            request_pre_sentence_report(*on, *due_on, court)
        }
        C::CompletePreSentenceReport { on, proposal } => {
            complete_pre_sentence_report(ctx, *on, proposal)
        }
        C::ImposeSentence {
            on,
            sentence_type,
            court,
            length_months,
            dates,
            requirements,
        } => reopen_and_impose(
            ctx,
            *on,
            *sentence_type,
            court,
            *length_months,
            dates,
            requirements,
        ),
        C::RecalculateSentenceDates {
            on,
            sentence_id,
            dates,
            reason,
        } => recalculate_sentence_dates(ctx, *on, *sentence_id, dates, reason),
        C::CreateSentencePlan {
            on,
            sentence_id,
            service_user_involved,
        } => create_sentence_plan(ctx, *on, *sentence_id, *service_user_involved),
        C::ReviewSentencePlan {
            on,
            sentence_id,
            service_user_involved,
        } => review_sentence_plan(ctx, *on, *sentence_id, *service_user_involved),
        C::RecordAccommodation {
            on,
            status,
            checkpoint,
        } => Ok(vec![AccommodationStatusRecorded {
            recorded_on: *on,
            status: *status,
            checkpoint: *checkpoint,
        }
        .into()]),
        C::RecordEmployment {
            on,
            status,
            checkpoint,
        } => Ok(vec![EmploymentStatusRecorded {
            recorded_on: *on,
            status: *status,
            checkpoint: *checkpoint,
        }
        .into()]),
        C::TransferCase {
            on,
            to_pdu,
            to_team,
            reason,
        } => transfer_case(ctx, *on, *to_pdu, to_team, reason),
        C::TerminateSentence {
            on,
            sentence_id,
            reason,
        } => terminate_sentence(ctx, *on, *sentence_id, *reason),
        C::CloseCase { on, reason } => close_case(ctx, *on, reason),
        C::ReopenCase { on, reason } => reopen_case(ctx, *on, reason),
        C::CorrectEvent {
            on,
            corrected_event_id,
            corrected_event_type,
            reason,
        } => correct_event(ctx, *on, corrected_event_id, corrected_event_type, reason),
        _ => Err(ctx.refuse("route the command", "it is not a case-level command")),
    }
}

/// A sentence imposed on a closed case reopens it first (seed 003 l.2600: a returning person
/// keeps one record), then [`impose_sentence`].
fn reopen_and_impose(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_type: SentenceType,
    court: &Text,
    length_months: Option<u16>,
    dates: &SentenceDates,
    requirements: &[crate::sentence::RequirementKind],
) -> Result<Vec<Event>, DomainError> {
    let mut events = reopen_if_closed(
        ctx,
        on,
        "a new sentence was imposed",
        reason::REOPENED_FOR_NEW_SENTENCE,
    )?;
    events.extend(impose_sentence(
        ctx,
        on,
        sentence_type,
        court,
        length_months,
        dates,
        requirements,
    )?);
    Ok(events)
}

/// T1: the court asks for a pre-sentence report, due on or after the request.
fn request_pre_sentence_report(
    on: Date,
    due_on: Option<Date>,
    court: &Text,
) -> Result<Vec<Event>, DomainError> {
    if let Some(due) = due_on {
        not_before("the report due date", due, "the request date", on)?;
    }
    Ok(vec![PreSentenceReportRequested {
        requested_on: on,
        court: court.clone(),
        due_on,
    }
    .into()])
}

/// T2: the pre-sentence report that was asked for is delivered, on or after the request.
fn complete_pre_sentence_report(
    ctx: &Ctx<'_>,
    on: Date,
    proposal: &Option<Text>,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let Some(open) = state
        .pre_sentence_reports
        .iter()
        .rev()
        .find(|p| p.completed_on.is_none())
    else {
        return Err(ctx.refuse(
            "complete a pre-sentence report",
            "no pre-sentence report has been requested",
        ));
    };
    not_before(
        "the completion date",
        on,
        "the request date",
        open.requested_on,
    )?;
    Ok(vec![PreSentenceReportCompleted {
        completed_on: on,
        proposal: proposal.clone(),
    }
    .into()])
}

/// An active sentence's key dates are recalculated, checked as at sentencing.
fn recalculate_sentence_dates(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    dates: &SentenceDates,
    reason: &Text,
) -> Result<Vec<Event>, DomainError> {
    let sentence = ctx.active_sentence(sentence_id, "recalculate sentence dates")?;
    check_dates(sentence.sentenced_on, dates)?;
    Ok(vec![SentenceDatesRecalculated {
        sentence_id,
        recalculated_on: on,
        dates: dates.clone(),
        reason: reason.clone(),
    }
    .into()])
}

/// BR-E2: the initial sentence plan of an active sentence, once, on or after its date.
fn create_sentence_plan(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    service_user_involved: bool,
) -> Result<Vec<Event>, DomainError> {
    let sentence = ctx.active_sentence(sentence_id, "create a sentence plan")?;
    if let Some(created) = sentence.sentence_plan_created_on {
        return Err(ctx.refuse(
            "create a sentence plan",
            format!(
                "sentence {} already has a plan created on {created}; review it instead",
                sentence_id.0
            ),
        ));
    }
    not_before(
        "the plan date",
        on,
        "the sentence date",
        sentence.sentenced_on,
    )?;
    Ok(vec![SentencePlanCreated {
        sentence_id,
        created_on: on,
        service_user_involved,
        // BR-E2: the count the 15-working-day deadline is measured in.
        working_days_since_sentence: crate::calendar::working_days_after(sentence.sentenced_on, on)
            .ok(),
    }
    .into()])
}

/// BR-E2: a review of a sentence plan that exists, on or after its creation.
fn review_sentence_plan(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    service_user_involved: bool,
) -> Result<Vec<Event>, DomainError> {
    let sentence = ctx.active_sentence(sentence_id, "review a sentence plan")?;
    let Some(created) = sentence.sentence_plan_created_on else {
        return Err(ctx.refuse(
            "review a sentence plan",
            format!(
                "sentence {} has no plan yet; create it first (BR-E2)",
                sentence_id.0
            ),
        ));
    };
    not_before("the review date", on, "the plan date", created)?;
    Ok(vec![SentencePlanReviewed {
        sentence_id,
        reviewed_on: on,
        service_user_involved,
    }
    .into()])
}

/// T27, XFER-1 (seed 003 l.2086, l.2192, l.3494): the case moves to another PDU, in England or
/// Wales.
fn transfer_case(
    ctx: &Ctx<'_>,
    on: Date,
    to_pdu: Pdu,
    to_team: &Option<TeamCode>,
    reason: &Text,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let Some(from_pdu) = state.pdu else {
        return Err(DomainError::CaseNotOpen);
    };
    if from_pdu == to_pdu {
        return Err(ctx.refuse(
            "transfer the case",
            format!("the case is already in {from_pdu}"),
        ));
    }
    // XFER-1: one service across 12 regions including Wales (seed 003 l.2086,
    // l.3494), so a case may move between England and Wales; from the transfer on, the
    // receiving nation's rules apply (`Ruleset::for_date` with the case's nation), and a
    // CRC case entering a nation whose CRC contracts have ended joins the unified
    // service on the transfer day (RULES-1, `commands::due::rule_changes`).
    Ok(vec![CaseTransferredBetweenPdus {
        transferred_on: on,
        from_pdu,
        to_pdu,
        to_team: to_team.clone(),
        between_regions: from_pdu.region() != to_pdu.region(),
        reason: reason.clone(),
    }
    .into()])
}

/// T29: an active sentence ends, on or after its date, once no breach or recall on it is open.
fn terminate_sentence(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_id: SentenceId,
    reason: TerminationReason,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    let sentence = ctx.active_sentence(sentence_id, "terminate it")?;
    not_before(
        "the termination date",
        on,
        "the sentence date",
        sentence.sentenced_on,
    )?;
    if let Some(breach) = state
        .breaches
        .iter()
        .find(|(_, b)| b.sentence_id == sentence_id && b.concluded.is_none())
    {
        return Err(ctx.refuse(
            "terminate the sentence",
            format!("breach {} is still open; conclude it first", breach.0),
        ));
    }
    if let Some(recall) = state
        .recalls
        .iter()
        .find(|(_, r)| r.sentence_id == sentence_id && r.concluded.is_none())
    {
        return Err(ctx.refuse(
            "terminate the sentence",
            format!("recall {} is still open; conclude it first", recall.0),
        ));
    }
    Ok(vec![SentenceTerminated {
        sentence_id,
        terminated_on: on,
        reason,
    }
    .into()])
}

/// The case is closed once no sentence is active.
fn close_case(ctx: &Ctx<'_>, on: Date, reason: &Text) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    if let Some((id, _)) = state.current_sentence() {
        return Err(ctx.refuse(
            "close the case",
            format!("sentence {} is still active; terminate it first", id.0),
        ));
    }
    Ok(vec![CaseClosed {
        closed_on: on,
        reason: reason.clone(),
    }
    .into()])
}

/// A closed case is reopened on request (seed 003 l.2600: one record per person).
fn reopen_case(ctx: &Ctx<'_>, on: Date, reason: &Text) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    if state.closed_on.is_none() {
        return Err(ctx.refuse(
            "reopen the case",
            "the case is open; reopen_case is for a closed case",
        ));
    }
    reopen_if_closed(ctx, on, reason.as_str(), reason::REOPENED_ON_REQUEST)
}

/// Design.md invariant 1, COR-1: an earlier event is named as wrong, once, with the reason.
fn correct_event(
    ctx: &Ctx<'_>,
    on: Date,
    corrected_event_id: &EventRef,
    corrected_event_type: &EventTypeName,
    reason: &Text,
) -> Result<Vec<Event>, DomainError> {
    let state = ctx.state;
    if state
        .corrections
        .iter()
        .any(|c| &c.corrected_event_id == corrected_event_id)
    {
        return Err(ctx.refuse(
            "correct the event",
            format!("event {corrected_event_id} has already been corrected"),
        ));
    }
    Ok(vec![EventCorrected {
        corrected_on: on,
        corrected_event_id: corrected_event_id.clone(),
        corrected_event_type: corrected_event_type.clone(),
        reason: reason.clone(),
    }
    .into()])
}

/// A closed case reopened on `on` (seed 003 l.2600: a returning person keeps one record, so
/// one stream): `CaseReopened` with `code` as its reason code, or nothing when the case is
/// open. The reopening may not be dated before the closure.
fn reopen_if_closed(
    ctx: &Ctx<'_>,
    on: Date,
    reason: &str,
    code: &'static str,
) -> Result<Vec<Event>, DomainError> {
    let Some(closed_on) = ctx.state.closed_on else {
        return Ok(Vec::new());
    };
    not_before("the reopening date", on, "the closure date", closed_on)?;
    Ok(vec![CaseReopened {
        reopened_on: on,
        closed_on,
        reason: crate::identity::Text::new(reason)?,
        decision: ctx.decision(code),
    }
    .into()])
}

/// Sentencing (T3, seed 003 l.1602, l.1448). Requirements belong to community orders and
/// suspended sentence orders (seed 003 l.1677); a custodial sentence has licence conditions
/// instead. A determinate custodial sentence needs a release date (CRD or ARD) because its
/// release is automatic (seed 002 l.53; BR-F11).
fn impose_sentence(
    ctx: &Ctx<'_>,
    on: Date,
    sentence_type: SentenceType,
    court: &crate::identity::Text,
    length_months: Option<u16>,
    dates: &SentenceDates,
    requirements: &[crate::sentence::RequirementKind],
) -> Result<Vec<Event>, DomainError> {
    let action = "impose the sentence";
    let id = next_id(
        ctx,
        ctx.state.sentences.len(),
        SENTENCES_PER_CASE_MAX,
        "sentences",
    )?;
    requirements_allowed(ctx, action, sentence_type, requirements)?;
    if sentence_type == SentenceType::DeterminateCustody
        && dates.conditional_release_date.is_none()
        && dates.automatic_release_date.is_none()
    {
        return Err(ctx.rule(
            action,
            "a determinate custodial sentence needs its conditional or automatic release date (CRD or ARD)",
            "BR-F11",
        ));
    }
    check_dates(on, dates)?;
    check_age_of_criminal_responsibility(ctx, on)?;
    let imposed = numbered_requirements(requirements)?;
    let sentence_id = SentenceId(u16::try_from(id).unwrap_or(u16::MAX));
    Ok(vec![SentenceImposed {
        sentence_id,
        sentence_type,
        sentenced_on: on,
        court: court.clone(),
        length_months,
        dates: dates.clone(),
        requirements: imposed,
    }
    .into()])
}

/// Requirements belong to community orders and suspended sentence orders (seed 003 l.1677),
/// at most [`REQUIREMENTS_PER_SENTENCE_MAX`] on one sentence.
fn requirements_allowed(
    ctx: &Ctx<'_>,
    action: &'static str,
    sentence_type: SentenceType,
    requirements: &[crate::sentence::RequirementKind],
) -> Result<(), DomainError> {
    if !requirements.is_empty() && !sentence_type.is_community() {
        return Err(ctx.rule(
            action,
            format!(
                "a {} has no requirements; requirements belong to community orders and suspended sentence orders",
                sentence_type.as_str()
            ),
            "seed 003 l.1677",
        ));
    }
    let count = u32::try_from(requirements.len()).unwrap_or(u32::MAX);
    if count > REQUIREMENTS_PER_SENTENCE_MAX {
        return Err(DomainError::LimitReached {
            crn: ctx.crn.clone(),
            what: "requirements on one sentence",
            limit: REQUIREMENTS_PER_SENTENCE_MAX,
        });
    }
    Ok(())
}

/// The requirements as imposed: each kind checked, numbered from 1 in the order given.
fn numbered_requirements(
    requirements: &[crate::sentence::RequirementKind],
) -> Result<Vec<Requirement>, DomainError> {
    let mut imposed = Vec::with_capacity(requirements.len());
    for (index, kind) in requirements.iter().enumerate() {
        let kind = kind.validate()?;
        let number = u16::try_from(index + 1).unwrap_or(u16::MAX);
        imposed.push(Requirement {
            id: RequirementId(number),
            kind,
        });
    }
    Ok(imposed)
}
