//! Derived decisions: when a command changes an input of the handover or tier calculators,
//! recalculate and record the result — only when it differs from the last one.
//!
//! Pure: [`derived_decisions`] reads the case state (after the command's own events), the
//! events that triggered it and `today`, and returns the decision events to append in the
//! same append as the command's events. Each result goes through `decide`
//! (`RecordHandoverDates`, `RecordTier`), so the domain's checks apply to it too.

use caseledger_domain::event::{Event, ReasonCode};
use caseledger_domain::handover::{self, CaseAllocation, HandoverInput};
use caseledger_domain::identity::{Gender as PersonGender, InputsDigest};
use caseledger_domain::reference::{Nation, Provider};
use caseledger_domain::ruleset::HandoverEra;
use caseledger_domain::sentence::{RequirementKind, SentenceId, SentenceType};
use caseledger_domain::state::{RequirementStatus, SentenceState, SentenceStatus};
use caseledger_domain::tier::{self, TierInput};
use caseledger_domain::tier_code::TierCode;
use caseledger_domain::{decide, evolve, CaseState, DomainCommand, Ruleset};
use jiff::civil::Date;

/// Days back a breach or recall outcome counts as previous enforcement (tier-rules.md §1,
/// `previous_enforcement`: "in the last 365 days").
pub const PREVIOUS_ENFORCEMENT_DAYS: i64 = 365;

/// Does this event change an input of the handover calculator? (issue 4 item 2: sentence
/// dates, MAPPA registration, risk assessment, registrations, provider allocation,
/// breach/recall; handover-rules.md §3.1 lists the inputs.)
pub fn triggers_handover(event: &Event) -> bool {
    matches!(
        event,
        Event::SentenceImposed(_)
            | Event::SentenceDatesRecalculated(_)
            | Event::MappaLevelSet(_)
            | Event::RegistrationAdded(_)
            | Event::RegistrationRemoved(_)
            | Event::RiskAssessed(_)
            | Event::CaseAllocatedToProvider(_)
            | Event::CaseTransferredToNps(_)
            | Event::CaseTransferredToUnifiedService(_)
            | Event::CaseTransferredBetweenPdus(_)
            | Event::RecallRaised(_)
            | Event::RecallConcluded(_)
            | Event::BreachRaised(_)
            | Event::BreachConcluded(_)
    )
}

/// Does this event trigger a tier recalculation? (tier-rules.md §9: case created,
/// registration added/removed, requirement terminated, sentence added/amended/terminated,
/// breach and recall raised/concluded, OASys assessment scores.)
pub fn triggers_tier(event: &Event) -> bool {
    matches!(
        event,
        Event::CaseOpened(_)
            | Event::SentenceImposed(_)
            | Event::SentenceDatesRecalculated(_)
            | Event::SentenceTerminated(_)
            | Event::RegistrationAdded(_)
            | Event::RegistrationRemoved(_)
            | Event::RequirementCompleted(_)
            | Event::RequirementTerminated(_)
            | Event::BreachRaised(_)
            | Event::BreachConcluded(_)
            | Event::RecallRaised(_)
            | Event::RecallConcluded(_)
            | Event::RiskAssessed(_)
    )
}

/// `SentenceImposed` → `sentence_imposed`: the reason code of a recalculation names its
/// trigger (tier-rules.md §9: "each stored result should carry … the change reason").
pub fn trigger_reason(event: &Event) -> String {
    let mut out = String::new();
    for (i, c) in event.event_type().chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The decision events that follow from `triggered_by` (the command's own events, already
/// folded into `state`), dated `today`.
///
/// Empty when nothing relevant changed, when a calculator cannot produce a result for this
/// case (e.g. outside OMiC), or when the result equals the last one recorded.
pub fn derived_decisions(state: &CaseState, triggered_by: &[Event], today: Date) -> Vec<Event> {
    let mut out = Vec::new();
    let Some(pdu) = state.pdu else {
        return out;
    };
    if state.closed_on.is_some() {
        return out;
    }
    let Ok(ruleset) = Ruleset::for_date(today, pdu.nation()) else {
        return out;
    };
    let mut state = state.clone();
    if let Some(trigger) = triggered_by.iter().find(|e| triggers_handover(e)) {
        let _ = trigger;
        let custodial: Vec<SentenceId> = state
            .sentences
            .iter()
            .filter(|(_, s)| is_custodial_in_custody(s))
            .map(|(id, _)| *id)
            .collect();
        for sentence_id in custodial {
            if let Some(event) = handover_decision(&state, &ruleset, sentence_id, today) {
                state = evolve(state, &event);
                out.push(event);
            }
        }
    }
    if let Some(trigger) = triggered_by.iter().find(|e| triggers_tier(e)) {
        if let Some(event) = tier_decision(&state, &ruleset, &trigger_reason(trigger), today) {
            out.push(event);
        }
    }
    out
}

fn is_custodial_in_custody(sentence: &SentenceState) -> bool {
    matches!(
        sentence.sentence_type,
        SentenceType::DeterminateCustody | SentenceType::IndeterminateCustody
    ) && sentence.status.in_custody()
}

/// Age in whole years on `today` (handover-rules.md §5: under 18 is outside OMiC).
fn age_years(date_of_birth: Date, today: Date) -> u32 {
    let mut years = i32::from(today.year()) - i32::from(date_of_birth.year());
    if (today.month(), today.day()) < (date_of_birth.month(), date_of_birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The handover calculator's input for one sentence, filled from the case state
/// (handover-rules.md §3.1; defaults where the case does not record the input: prison
/// estate, parole outcome, early allocation).
pub fn handover_input(
    state: &CaseState,
    sentence: &SentenceState,
    era: HandoverEra,
    today: Date,
) -> Option<HandoverInput> {
    let era = match era {
        HandoverEra::PreOmic => return None,
        HandoverEra::Omic2019 => handover::HandoverEra::Omic2019,
        HandoverEra::Omic2022 => handover::HandoverEra::Omic2022,
        HandoverEra::Omic2023 => handover::HandoverEra::Omic2023,
    };
    let mut input = HandoverInput::new(today);
    input.era = Some(era);
    if let Some(person) = &state.person {
        input.age = age_years(person.date_of_birth, today);
    }
    let d = &sentence.dates;
    input.sentence_start = Some(sentence.sentenced_on);
    input.crd = d.conditional_release_date;
    input.ard = d.automatic_release_date;
    input.ped = d.parole_eligibility_date;
    input.hdced = d.home_detention_curfew_eligibility_date;
    input.hdcad = d.home_detention_curfew_approved_date;
    input.ted = d.tariff_expiry_date;
    input.thd = d.target_hearing_date;
    input.indeterminate = sentence.sentence_type == SentenceType::IndeterminateCustody;
    input.recalled = sentence.status == SentenceStatus::Recalled;
    input.sentenced = true;
    input.case_allocation = match &state.provider {
        Some(Provider::Crc(_)) => CaseAllocation::Crc,
        _ => CaseAllocation::Nps,
    };
    input.mappa_level = state
        .active_mappa_registration()
        .map(|(_, level)| level)
        .or(state.mappa.level);
    input.welsh = state.pdu.is_some_and(|p| p.nation() == Nation::Wales);
    Some(input)
}

fn handover_decision(
    state: &CaseState,
    ruleset: &Ruleset,
    sentence_id: SentenceId,
    today: Date,
) -> Option<Event> {
    let sentence = state.sentences.get(&sentence_id)?;
    let input = handover_input(state, sentence, ruleset.handover_era, today)?;
    let result = handover::calculate(&input).ok()?;
    let responsibility = match result.responsibility {
        handover::Responsibility::CustodyOnly => {
            caseledger_domain::event::Responsibility::CustodyOnly
        }
        handover::Responsibility::CustodyWithCom => {
            caseledger_domain::event::Responsibility::CustodyWithCom
        }
        handover::Responsibility::Community => caseledger_domain::event::Responsibility::Community,
    };
    let reason = result.reason.as_str();
    // Only when the result differs from the last one (issue 4 item 2).
    if let Some(last) = &sentence.handover {
        let same = last.handover_era == ruleset.handover_era
            && last.start_date == result.start_date
            && last.handover_date == result.handover_date
            && last.handover_reason == reason
            && sentence.responsibility == Some(responsibility);
        if same {
            return None;
        }
    }
    let canonical = serde_json::to_vec(&input).ok()?;
    let command = DomainCommand::RecordHandoverDates {
        on: today,
        sentence_id,
        handover_era: ruleset.handover_era,
        responsibility,
        start_date: result.start_date,
        handover_date: result.handover_date,
        handover_reason: ReasonCode::new(reason).ok()?,
        inputs_digest: InputsDigest::of(&canonical),
    };
    let mut events = decide(state, &command, ruleset, today).ok()?;
    // RecordHandoverDates emits exactly one event; anything else is a domain change this
    // module must learn about, so record nothing rather than guess.
    if events.len() == 1 {
        events.pop()
    } else {
        None
    }
}

/// The tier calculator's input, filled from the case state (tier-rules.md §1).
pub fn tier_input(state: &CaseState, today: Date) -> TierInput {
    let mut input = TierInput::new(today);
    if let Some(person) = &state.person {
        input.gender = match person.gender {
            PersonGender::Female => tier::Gender::Female,
            PersonGender::Male | PersonGender::NotRecorded => tier::Gender::Male,
        };
    }
    input.rsr = state.risk.rsr.map(|r| f64::from(r.hundredths()) / 100.0);
    input.rosh = state.risk.rosh;
    input.ogrs = state.risk.ogrs.map(|o| o.get());
    input.registrations = state
        .registrations
        .values()
        .filter(|r| r.removed_on.is_none())
        .map(|r| {
            let registration = tier::Registration::new(r.kind.delius_code(), r.registered_on);
            match r.kind {
                caseledger_domain::risk::RegistrationKind::Mappa { category, level } => {
                    registration
                        .with_level(format!("M{}", level.get()))
                        .with_category(format!("M{}", category.get()))
                }
                _ => registration,
            }
        })
        .collect();
    if let Some(assessed_on) = state.risk.last_assessed_on {
        let mut assessment = tier::Assessment::new(assessed_on);
        for (need, severity) in &state.risk.needs {
            if let (Some(need), Some(severity)) = (map_need(*need), map_severity(*severity)) {
                assessment.needs.insert(need, severity);
            }
        }
        input.assessment = Some(assessment);
    }
    input.convictions = state
        .sentences
        .values()
        .map(|s| tier::Conviction {
            sentence_type: match s.sentence_type {
                SentenceType::CommunityOrder | SentenceType::SuspendedSentenceOrder => {
                    tier::SentenceType::Community
                }
                _ => tier::SentenceType::CustodialSc,
            },
            terminated: s.terminated.as_ref().map(|(on, _)| *on),
            requirements: s
                .requirements
                .values()
                .filter(|r| r.status == RequirementStatus::Active)
                .map(|r| requirement(r.kind))
                .collect(),
        })
        .collect();
    let since = today
        .checked_sub(jiff::Span::new().days(PREVIOUS_ENFORCEMENT_DAYS))
        .unwrap_or(today);
    input.previous_enforcement = state
        .breaches
        .values()
        .filter_map(|b| b.concluded.as_ref().map(|(on, _)| *on))
        .chain(
            state
                .recalls
                .values()
                .filter_map(|r| r.concluded.as_ref().map(|(on, _)| *on)),
        )
        .any(|on| on >= since && on <= today);
    input
}

/// Delius requirement category and restrictiveness (tier-rules.md §4.1: `W` unpaid work is
/// no mandate for change; restrictive requirements are none either).
fn requirement(kind: RequirementKind) -> tier::Requirement {
    let (category, restrictive) = match kind {
        RequirementKind::UnpaidWork { .. } => ("W", false),
        RequirementKind::Curfew { .. } => ("J", true),
        RequirementKind::Exclusion => ("L", true),
        RequirementKind::ProhibitedActivity => ("K", true),
        RequirementKind::ForeignTravelProhibition => ("FTP", true),
        RequirementKind::AlcoholAbstinenceMonitoring { .. } => ("AAM", true),
        RequirementKind::Residence => ("H", false),
        RequirementKind::RehabilitationActivity { .. } => ("F", false),
        RequirementKind::AccreditedProgramme { .. } => ("A", false),
        RequirementKind::StructuredIntervention => ("SI", false),
        RequirementKind::MentalHealthTreatment => ("E", false),
        RequirementKind::DrugRehabilitation => ("D", false),
        RequirementKind::AlcoholTreatment => ("C", false),
        RequirementKind::AttendanceCentre { .. } => ("AC", false),
    };
    tier::Requirement {
        category: category.to_owned(),
        restrictive,
    }
}

fn map_need(need: caseledger_domain::risk::Need) -> Option<tier::Need> {
    use caseledger_domain::risk::Need as N;
    Some(match need {
        N::Accommodation => tier::Need::Accommodation,
        N::EducationTrainingEmployability => tier::Need::EducationTrainingEmployability,
        N::Relationships => tier::Need::Relationships,
        N::LifestyleAndAssociates => tier::Need::LifestyleAndAssociates,
        N::DrugMisuse => tier::Need::DrugMisuse,
        N::AlcoholMisuse => tier::Need::AlcoholMisuse,
        N::ThinkingAndBehaviour => tier::Need::ThinkingAndBehaviour,
        N::Attitudes => tier::Need::Attitudes,
        N::FinancialManagement => tier::Need::FinancialManagement,
        N::EmotionalWellbeing => tier::Need::EmotionalWellbeing,
    })
}

fn map_severity(severity: caseledger_domain::risk::NeedSeverity) -> Option<tier::Severity> {
    use caseledger_domain::risk::NeedSeverity as S;
    Some(match severity {
        S::NoNeed => tier::Severity::NoNeed,
        S::Standard => tier::Severity::Standard,
        S::Severe => tier::Severity::Severe,
    })
}

fn tier_decision(state: &CaseState, ruleset: &Ruleset, reason: &str, today: Date) -> Option<Event> {
    let input = tier_input(state, today);
    let result = tier::calculate(&input).ok()?;
    let code = TierCode::new(result.tier.to_string()).ok()?;
    // Only when the result differs from the last one (issue 4 item 2; tier-rules.md §9
    // "changed").
    if state.tier.as_ref().is_some_and(|t| t.tier == code) {
        return None;
    }
    let canonical = serde_json::to_vec(&input).ok()?;
    let command = DomainCommand::RecordTier {
        on: today,
        tier: code,
        inputs_digest: InputsDigest::of(&canonical),
        reason_code: ReasonCode::new(reason).ok()?,
    };
    let mut events = decide(state, &command, ruleset, today).ok()?;
    if events.len() == 1 {
        events.pop()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn trigger_reasons_are_snake_case_event_names() {
        let e: Event = caseledger_domain::event::CaseClosed {
            closed_on: date(2020, 1, 1),
            reason: caseledger_domain::identity::Text::new("order ended").unwrap(),
        }
        .into();
        assert_eq!(trigger_reason(&e), "case_closed");
        assert!(ReasonCode::new(trigger_reason(&e)).is_ok());
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age_years(date(2000, 6, 15), date(2018, 6, 14)), 17);
        assert_eq!(age_years(date(2000, 6, 15), date(2018, 6, 15)), 18);
        assert_eq!(age_years(date(2030, 1, 1), date(2020, 1, 1)), 0);
    }

    #[test]
    fn an_empty_state_derives_nothing() {
        assert!(derived_decisions(&CaseState::default(), &[], date(2020, 1, 1)).is_empty());
    }
}
