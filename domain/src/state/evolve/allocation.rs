//! The allocation family (`crate::event::allocation`): provider and practitioner allocation
//! and the move into the unified service.

use crate::event::*;
use crate::reference::Provider;
use crate::state::{CaseState, PractitionerAllocation};

pub(super) fn to_provider(state: &mut CaseState, e: &CaseAllocatedToProvider) {
    state.provider = Some(e.provider.clone());
    state.provider_sentence = Some(e.inputs.sentence_id);
    state.nps_until_sentence_ends = e.nps_until_sentence_ends;
}

pub(super) fn practitioner_allocated(state: &mut CaseState, e: &PractitionerAllocated) {
    state.practitioner = Some(PractitionerAllocation {
        practitioner: e.practitioner.clone(),
        team: e.team.clone(),
        since: e.allocated_on,
    });
    state.previous_practitioner = None;
    state.reallocation_advised = false;
    for s in state.sentences.values_mut() {
        if s.status.is_supervised() && s.allocated_on.is_none() {
            s.allocated_on = Some(e.allocated_on);
        }
    }
}

pub(super) fn practitioner_reallocated(state: &mut CaseState, e: &PractitionerReallocated) {
    state.practitioner = Some(PractitionerAllocation {
        practitioner: e.practitioner.clone(),
        team: e.team.clone(),
        since: e.reallocated_on,
    });
    state.reallocation_advised = false;
}

pub(super) fn to_unified_service(state: &mut CaseState, e: &CaseTransferredToUnifiedService) {
    state.provider = Some(Provider::Nps);
    state.unified_on = Some(e.transferred_on);
    state.nps_until_sentence_ends = None;
    state.pending_escalation = None;
}
