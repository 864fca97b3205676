//! Risk events: assessments, registrations, MAPPA, tier, TR-era risk escalation.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::Decision;
use crate::identity::{InputsDigest, Text};
use crate::reference::{CrcName, Organisation};
use crate::risk::{
    AssessmentKind, MappaCategory, MappaLevel, Need, NeedSeverity, OgrsScore, RegistrationKind,
    RoshLevel, RsrScore, V3Predictors,
};
use crate::sentence::SentenceId;
use crate::tier::V2Tier;
use crate::tier::V3Tier;

/// Whether an assessed RoSH is the case's RoSH now. In the TR era a CRC's assessment of high
/// or very high RoSH waits for the NPS, which has the final word (BR-A11, seed 001 l.68).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoshStatus {
    Confirmed,
    AwaitingNpsConfirmation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessed {
    pub assessed_on: Date,
    pub kind: AssessmentKind,
    pub assessed_by: Organisation,
    pub rosh: RoshLevel,
    pub rosh_status: RoshStatus,
    pub rsr: Option<RsrScore>,
    pub ogrs: Option<OgrsScore>,
    pub needs: BTreeMap<Need, NeedSeverity>,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationAdded {
    pub registration_id: u16,
    pub kind: RegistrationKind,
    pub registered_on: Date,
    pub review_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRemoved {
    pub registration_id: u16,
    pub removed_on: Date,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappaScreened {
    pub screened_on: Date,
    pub eligible: bool,
    pub category: Option<MappaCategory>,
    pub recommended_level: Option<MappaLevel>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappaReferred {
    pub referred_on: Date,
    /// 2 or 3: referrals go to MAPPA level 2 and 3 panels (BR-A12, seed 000 l.9).
    pub level: MappaLevel,
    pub referred_by: Organisation,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappaLevelSet {
    pub set_on: Date,
    pub category: MappaCategory,
    pub level: MappaLevel,
    pub decision: Decision,
}

/// The V3 predictor scores an assessment recorded (tier-rules.md §1 `v3`), beside its
/// `RiskAssessed` (whose payload stays as it was first stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictorScoresAssessed {
    pub assessed_on: Date,
    pub predictors: V3Predictors,
}

/// A tier V3 result (tier-rules.md §6–§8), recorded beside V2 on the same triggers when it or
/// its provisional flag changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierV3Calculated {
    pub calculated_on: Date,
    /// `A`–`G`, `NOT_SUPERVISED` or `MISSING` (§8).
    pub tier: V3Tier,
    pub provisional: bool,
    pub previous_tier: Option<V3Tier>,
    /// Hex SHA-256 of the canonical tier inputs, `v3` included.
    pub inputs_digest: InputsDigest,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCalculated {
    pub calculated_on: Date,
    pub tier: V2Tier,
    pub previous_tier: Option<V2Tier>,
    /// Hex SHA-256 of the canonical tier inputs.
    pub inputs_digest: InputsDigest,
    /// The current practitioner's grade no longer suits the case (BR-C4, BR-C6): reallocation
    /// should be considered by the SPO.
    pub reallocation_advised: bool,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierReviewTriggered {
    pub triggered_on: Date,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskEscalationRequested {
    pub requested_on: Date,
    pub requested_by: CrcName,
    pub proposed_rosh: RoshLevel,
    pub evidence: Option<Text>,
    pub decision: Decision,
}

/// Outcome of an escalation (BR-A9, seed 001 l.65–66; MAPPA cases are NPS cases, BR-A4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationOutcome {
    /// RoSH confirmed high or very high, or the case is MAPPA-eligible: it transfers to the NPS.
    TransferToNps,
    /// Risk increased but not to high: the case stays with the CRC.
    RemainWithCrc,
}

/// What an escalation decision looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationInputs {
    pub proposed_rosh: RoshLevel,
    pub previous_confirmed_rosh: Option<RoshLevel>,
    pub confirmed_rosh: RoshLevel,
    pub mappa_eligible: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskEscalationDecided {
    pub decided_on: Date,
    pub outcome: EscalationOutcome,
    pub inputs: EscalationInputs,
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTransferredToNps {
    pub transferred_on: Date,
    pub from_crc: CrcName,
    /// The case stays with the NPS until this order ends (BR-A10, seed 001 l.67).
    pub nps_until_sentence_ends: SentenceId,
    pub decision: Decision,
}
