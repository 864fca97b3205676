//! Allocation events: TR-era provider allocation, practitioner allocation and reallocation,
//! and the move of open CRC cases into the unified service.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::Decision;
use crate::identity::{Practitioner, StaffCode, TeamCode};
use crate::reference::Provider;
use crate::risk::{MappaLevel, RoshLevel};
use crate::sentence::SentenceId;
use crate::tier::V2Tier;

/// What the provider allocation looked at (BR-A3–A4, seed 000 l.8–9, 001 l.25).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAllocationInputs {
    pub confirmed_rosh: RoshLevel,
    pub mappa_eligible: bool,
    pub mappa_level: Option<MappaLevel>,
    pub deportation_order: bool,
    pub notoriety: bool,
    pub sentence_id: SentenceId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseAllocatedToProvider {
    pub allocated_on: Date,
    pub provider: Provider,
    pub inputs: ProviderAllocationInputs,
    /// Set when the provider is the NPS: the case stays with the NPS until this order ends
    /// (BR-A10, seed 001 l.67).
    pub nps_until_sentence_ends: Option<SentenceId>,
    pub decision: Decision,
}

/// What a practitioner allocation looked at (BR-C1–C4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PractitionerAllocationInputs {
    pub tier: Option<V2Tier>,
    pub rosh: Option<RoshLevel>,
    pub provider: Option<Provider>,
    /// Date of the latest sentence: the allocation deadline counts from it (BR-C2).
    pub sentenced_on: Date,
    pub allocation_deadline_working_days: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PractitionerAllocated {
    pub allocated_on: Date,
    pub practitioner: Practitioner,
    pub team: TeamCode,
    pub inputs: PractitionerAllocationInputs,
    pub decision: Decision,
}

/// Why a case moves to another practitioner (seed-digest §4 `CaseReallocated`; BR-C5–C8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReallocationReason {
    TierChange,
    RiskChange,
    SkillsOrSpecialistTeam,
    PractitionerUnavailable,
    FemalePractitionerRequested,
    WorkloadBalance,
    TransferIn,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PractitionerReallocated {
    pub reallocated_on: Date,
    pub from: StaffCode,
    pub practitioner: Practitioner,
    pub team: TeamCode,
    pub reason: ReallocationReason,
    pub inputs: PractitionerAllocationInputs,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTransferredToUnifiedService {
    pub transferred_on: Date,
    /// The provider before unification (a CRC, or the NPS).
    pub from_provider: Provider,
    pub decision: Decision,
}
