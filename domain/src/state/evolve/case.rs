//! The case family (`crate::event::case`): opening, pre-sentence reports, sentences and their
//! dates, transfers between PDUs, lapse, termination, closure, reopening, corrections and
//! erasure of personal data.

use crate::event::*;
use crate::sealable::Sealable;
use crate::sentence::{SentenceType, TerminationReason};
use crate::state::{
    CaseState, CorrectionRecord, PreSentenceReportState, ReopeningRecord, RequirementState,
    RequirementStatus, SentenceState, SentenceStatus, TransferRecord,
};

pub(super) fn opened(state: &mut CaseState, e: &CaseOpened) {
    state.crn = Some(e.crn.clone());
    state.person = Some(e.person.clone());
    state.pdu = Some(e.pdu);
    state.team = e.team.clone();
    state.opened_on = Some(e.opened_on);
}

pub(super) fn pre_sentence_report_requested(state: &mut CaseState, e: &PreSentenceReportRequested) {
    state.pre_sentence_reports.push(PreSentenceReportState {
        requested_on: e.requested_on,
        court: e.court.clone(),
        completed_on: None,
    });
}

pub(super) fn pre_sentence_report_completed(state: &mut CaseState, e: &PreSentenceReportCompleted) {
    if let Some(psr) = state
        .pre_sentence_reports
        .iter_mut()
        .rev()
        .find(|p| p.completed_on.is_none())
    {
        psr.completed_on = Some(e.completed_on);
    }
}

pub(super) fn sentence_imposed(state: &mut CaseState, e: &SentenceImposed) {
    let status = match e.sentence_type {
        SentenceType::CommunityOrder | SentenceType::SuspendedSentenceOrder => {
            SentenceStatus::Community
        }
        SentenceType::DeterminateCustody | SentenceType::IndeterminateCustody => {
            SentenceStatus::InCustody
        }
        SentenceType::Licence => SentenceStatus::ReleasedOnLicence,
        SentenceType::PostSentenceSupervision => SentenceStatus::PostSentenceSupervision,
    };
    let requirements = e
        .requirements
        .iter()
        .map(|r| {
            (
                r.id,
                RequirementState {
                    kind: r.kind,
                    status: RequirementStatus::Active,
                    unpaid_work_minutes_credited: 0,
                },
            )
        })
        .collect();
    let allocated_on = state.sentence_starts_supervision(e.sentenced_on);
    state.sentences.insert(
        e.sentence_id,
        SentenceState {
            sentence_type: e.sentence_type,
            sentenced_on: e.sentenced_on,
            court: e.court.clone(),
            length_months: e.length_months,
            dates: e.dates.clone(),
            requirements,
            status,
            responsibility: None,
            handover: None,
            prison_offender_manager: None,
            community_offender_manager: None,
            handover_meeting_held_on: None,
            pre_release_contacts: 0,
            releases: Vec::new(),
            post_sentence_supervision_ends_on: None,
            sentence_plan_created_on: None,
            sentence_plan_reviews: 0,
            terminated: None,
            allocated_on,
        },
    );
}

pub(super) fn sentence_dates_recalculated(state: &mut CaseState, e: &SentenceDatesRecalculated) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.dates = e.dates.clone();
    }
}

pub(super) fn supervision_lapsed(state: &mut CaseState, e: &SupervisionLapsed) {
    match (e.period, e.post_sentence_supervision_until) {
        (SupervisionPeriod::Licence, Some(until)) => {
            state.post_sentence_supervision_started(e.sentence_id, until);
        }
        (SupervisionPeriod::Licence | SupervisionPeriod::PostSentenceSupervision, _) => {
            state.supervision_ended(e.sentence_id);
        }
        (SupervisionPeriod::Order, _) => {
            state.sentence_terminated(e.sentence_id, e.lapsed_on, TerminationReason::Expired);
        }
    }
}

pub(super) fn transferred_between_pdus(state: &mut CaseState, e: &CaseTransferredBetweenPdus) {
    state.transfers.push(TransferRecord {
        transferred_on: e.transferred_on,
        from_pdu: e.from_pdu,
        to_pdu: e.to_pdu,
    });
    state.pdu = Some(e.to_pdu);
    state.team = e.to_team.clone();
    // The receiving PDU allocates its own practitioner (T27).
    state.practitioner = None;
}

pub(super) fn sentence_terminated(state: &mut CaseState, e: &SentenceTerminated) {
    state.sentence_terminated(e.sentence_id, e.terminated_on, e.reason);
}

pub(super) fn closed(state: &mut CaseState, e: &CaseClosed) {
    state.closed_on = Some(e.closed_on);
}

/// The person becomes erased for good; every other fact of the case stays (docs/decisions/
/// 0009-crypto-shredding.md).
pub(super) fn personal_data_erased(state: &mut CaseState, e: &PersonalDataErased) {
    if let Some(person) = &mut state.person {
        *person = Sealable::Erased;
    }
    state.personal_data_erased_on = Some(e.erased_on);
}

pub(super) fn reopened(state: &mut CaseState, e: &CaseReopened) {
    state.closed_on = None;
    state.reopenings.push(ReopeningRecord {
        closed_on: e.closed_on,
        reopened_on: e.reopened_on,
        reason_code: e.decision.reason_code.as_str().to_owned(),
    });
}

pub(super) fn corrected(state: &mut CaseState, e: &EventCorrected) {
    let retracted = state.retract(&e.corrected_event_id);
    state.corrections.push(CorrectionRecord {
        corrected_on: e.corrected_on,
        corrected_event_id: e.corrected_event_id.clone(),
        corrected_event_type: e.corrected_event_type.clone(),
        reason: e.reason.clone(),
        retracted,
    });
}
