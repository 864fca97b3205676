//! The risk family (`crate::event::risk`): assessments, registrations, MAPPA, tiers and TR
//! risk escalation. Every fact that bears on RoSH goes into `RiskState::facts` and the RoSH is
//! recomputed from them, so a correction can retract it (COR-1).

use crate::event::*;
use crate::identity::EventRef;
use crate::reference::Provider;
use crate::risk::RegistrationKind;
use crate::state::{
    AssessmentFact, CaseState, EscalationRecord, PendingEscalation, RegistrationState, RiskFact,
    TierState, TierV3State,
};

pub(super) fn assessed(state: &mut CaseState, event_id: Option<&EventRef>, e: &RiskAssessed) {
    state.risk.facts.push(RiskFact {
        event_id: event_id.cloned(),
        on: e.assessed_on,
        rosh: e.rosh,
        confirmed: e.rosh_status == RoshStatus::Confirmed,
        assessment: Some(AssessmentFact {
            rsr: e.rsr,
            ogrs: e.ogrs,
            needs: e.needs.clone(),
            by_nps: e.assessed_by == crate::reference::Organisation::Nps,
        }),
    });
    state.risk.recompute();
}

pub(super) fn registration_added(
    state: &mut CaseState,
    event_id: Option<&EventRef>,
    e: &RegistrationAdded,
) {
    state.registrations.insert(
        e.registration_id,
        RegistrationState {
            kind: e.kind,
            registered_on: e.registered_on,
            review_on: e.review_on,
            removed_on: None,
            event_id: event_id.cloned(),
        },
    );
    if let RegistrationKind::Mappa { category, level } = e.kind {
        state.mappa.category = Some(category);
        state.mappa.level = Some(level);
        state.mappa.set_on = Some(e.registered_on);
    }
}

pub(super) fn registration_removed(state: &mut CaseState, e: &RegistrationRemoved) {
    let was_mappa = match state.registrations.get_mut(&e.registration_id) {
        Some(r) => {
            r.removed_on = Some(e.removed_on);
            r.kind.is_mappa()
        }
        None => false,
    };
    if was_mappa {
        state.mappa_registration_ended();
    }
}

pub(super) fn mappa_screened(state: &mut CaseState, e: &MappaScreened) {
    state.mappa.screened_on = Some(e.screened_on);
    state.mappa.screened_eligible = Some(e.eligible);
}

pub(super) fn mappa_referred(state: &mut CaseState, e: &MappaReferred) {
    state.mappa.referred = Some((e.referred_on, e.level));
}

pub(super) fn mappa_level_set(state: &mut CaseState, e: &MappaLevelSet) {
    state.mappa.category = Some(e.category);
    state.mappa.level = Some(e.level);
    state.mappa.set_on = Some(e.set_on);
}

pub(super) fn tier_calculated(state: &mut CaseState, e: &TierCalculated) {
    state.tier = Some(TierState {
        tier: e.tier,
        calculated_on: e.calculated_on,
        reason_code: e.decision.reason_code.as_str().to_owned(),
        inputs_digest: e.inputs_digest.clone(),
        ruleset_id: e.decision.ruleset_id,
    });
    state.tier_review_due = false;
    state.reallocation_advised = e.reallocation_advised;
}

pub(super) fn tier_review_triggered(state: &mut CaseState) {
    state.tier_review_due = true;
}

pub(super) fn predictor_scores_assessed(state: &mut CaseState, e: &PredictorScoresAssessed) {
    state.risk.predictors = Some(e.predictors);
}

pub(super) fn tier_v3_calculated(state: &mut CaseState, e: &TierV3Calculated) {
    state.tier_v3 = Some(TierV3State {
        tier: e.tier,
        provisional: e.provisional,
        calculated_on: e.calculated_on,
        reason_code: e.decision.reason_code.as_str().to_owned(),
        inputs_digest: e.inputs_digest.clone(),
        ruleset_id: e.decision.ruleset_id,
    });
}

pub(super) fn escalation_requested(state: &mut CaseState, e: &RiskEscalationRequested) {
    state.pending_escalation = Some(PendingEscalation {
        requested_on: e.requested_on,
        proposed_rosh: e.proposed_rosh,
    });
}

pub(super) fn escalation_decided(
    state: &mut CaseState,
    event_id: Option<&EventRef>,
    e: &RiskEscalationDecided,
) {
    let requested_on = state
        .pending_escalation
        .take()
        .map_or(e.decided_on, |p| p.requested_on);
    state.escalations.push(EscalationRecord {
        requested_on,
        decided_on: e.decided_on,
        outcome: e.outcome,
        confirmed_rosh: e.inputs.confirmed_rosh,
    });
    // The NPS's decision is the case's RoSH (BR-A11, seed 001 l.55–68).
    state.risk.facts.push(RiskFact {
        event_id: event_id.cloned(),
        on: e.decided_on,
        rosh: e.inputs.confirmed_rosh,
        confirmed: true,
        assessment: None,
    });
    state.risk.recompute();
}

pub(super) fn transferred_to_nps(state: &mut CaseState, e: &CaseTransferredToNps) {
    state.provider = Some(Provider::Nps);
    state.nps_until_sentence_ends = Some(e.nps_until_sentence_ends);
    // A CRC practitioner does not move with the case.
    state.practitioner = None;
}
