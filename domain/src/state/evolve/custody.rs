//! The custody family (`crate::event::custody`): POM and COM allocation, OMiC handover and
//! responsibility, release, licence and post-sentence supervision.

use crate::event::*;
use crate::state::{CaseState, HandoverState, ReleaseRecord, SentenceStatus};

pub(super) fn pom_allocated(state: &mut CaseState, e: &PrisonOffenderManagerAllocated) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.prison_offender_manager = Some((e.prison_offender_manager.clone(), e.pom_type));
        if s.responsibility.is_none() {
            s.responsibility = Some(Responsibility::CustodyOnly);
        }
    }
}

pub(super) fn handover_dates_calculated(state: &mut CaseState, e: &HandoverDatesCalculated) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.handover = Some(HandoverState {
            calculated_on: e.calculated_on,
            handover_era: e.handover_era,
            start_date: e.start_date,
            handover_date: e.handover_date,
            handover_reason: e.handover_reason.as_str().to_owned(),
            inputs_digest: e.inputs_digest.clone(),
            ruleset_id: e.decision.ruleset_id,
        });
        s.responsibility = Some(e.responsibility);
    }
}

pub(super) fn com_allocated(state: &mut CaseState, e: &CommunityOffenderManagerAllocated) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.community_offender_manager = Some((e.community_offender_manager.clone(), e.team.clone()));
        if s.responsibility == Some(Responsibility::CustodyOnly) {
            s.responsibility = Some(Responsibility::CustodyWithCom);
        }
    }
}

pub(super) fn responsibility_transferred(state: &mut CaseState, e: &ResponsibilityTransferred) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.responsibility = Some(e.to);
    }
}

pub(super) fn responsibility_overridden(state: &mut CaseState, e: &ResponsibilityOverridden) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.responsibility = Some(e.to);
    }
}

pub(super) fn handover_meeting_held(state: &mut CaseState, e: &HandoverMeetingHeld) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.handover_meeting_held_on = Some(e.held_on);
    }
}

pub(super) fn pre_release_contact_held(state: &mut CaseState, e: &PreReleaseContactHeld) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.pre_release_contacts = e.contact_number;
    }
}

pub(super) fn released(state: &mut CaseState, e: &Released) {
    if let Some(s) = state.sentences.get_mut(&e.sentence_id) {
        s.status = SentenceStatus::ReleasedOnLicence;
        s.releases.push(ReleaseRecord {
            released_on: e.released_on,
            release_type: e.release_type,
        });
        if e.licence_expiry_date.is_some() {
            s.dates.licence_expiry_date = e.licence_expiry_date;
        }
        s.responsibility = Some(Responsibility::Community);
    }
}

pub(super) fn licence_ended(state: &mut CaseState, e: &LicenceEnded) {
    state.supervision_ended(e.sentence_id);
}

pub(super) fn pss_started(state: &mut CaseState, e: &PostSentenceSupervisionStarted) {
    state.post_sentence_supervision_started(e.sentence_id, e.ends_on);
}

pub(super) fn pss_ended(state: &mut CaseState, e: &PostSentenceSupervisionEnded) {
    state.supervision_ended(e.sentence_id);
}
