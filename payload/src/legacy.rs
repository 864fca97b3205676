//! The frozen decoder of version 1: payloads written as `bincode(Event)` when every event
//! type was at schema version 1 — a u32 little-endian variant index of the enum as it was
//! then, followed by the payload struct.
//!
//! [`V1_VARIANT_ORDER`] is that enum's variant order, FROZEN: it is never edited again, whatever
//! happens to `Event`. A type not in it (added later) has no legacy framing at any version.

use crate::PayloadError;

/// The variant order of `Event` when payloads were `bincode(Event)`: index = the u32 a
/// version-1 payload of that type starts with. Frozen; checked against the version-1 golden
/// payloads (fixtures/golden/payloads/*.v1.bin) by `payload/tests/golden.rs`.
pub const V1_VARIANT_ORDER: [&str; 54] = [
    "CaseOpened",
    "PreSentenceReportRequested",
    "PreSentenceReportCompleted",
    "SentenceImposed",
    "SentenceDatesRecalculated",
    "RiskAssessed",
    "RegistrationAdded",
    "RegistrationRemoved",
    "MappaScreened",
    "MappaReferred",
    "MappaLevelSet",
    "CaseAllocatedToProvider",
    "PractitionerAllocated",
    "PractitionerReallocated",
    "TierCalculated",
    "TierReviewTriggered",
    "RiskEscalationRequested",
    "RiskEscalationDecided",
    "CaseTransferredToNps",
    "CaseTransferredToUnifiedService",
    "PrisonOffenderManagerAllocated",
    "HandoverDatesCalculated",
    "CommunityOffenderManagerAllocated",
    "ResponsibilityTransferred",
    "ResponsibilityOverridden",
    "HandoverMeetingHeld",
    "PreReleaseContactHeld",
    "Released",
    "LicenceEnded",
    "PostSentenceSupervisionStarted",
    "PostSentenceSupervisionEnded",
    "AppointmentScheduled",
    "AppointmentAttended",
    "AppointmentMissed",
    "WarningIssued",
    "BreachRaised",
    "BreachConcluded",
    "RecallRaised",
    "RecallConcluded",
    "UnpaidWorkHoursCredited",
    "RequirementCompleted",
    "RequirementTerminated",
    "SentencePlanCreated",
    "SentencePlanReviewed",
    "AccommodationStatusRecorded",
    "EmploymentStatusRecorded",
    "CaseTransferredBetweenPdus",
    "SentenceTerminated",
    "CaseClosed",
    "EventCorrected",
    "PredictorScoresAssessed",
    "TierV3Calculated",
    "CaseReopened",
    "SupervisionLapsed",
];

/// Bytes of the variant index in front of a version-1 payload.
const INDEX_BYTES: usize = 4;

/// The frozen index of `event_type` when its records at `schema_version` are legacy-framed.
fn legacy_index(event_type: &str, schema_version: u16) -> Option<u32> {
    if schema_version != 1 {
        return None;
    }
    let index = V1_VARIANT_ORDER.iter().position(|t| *t == event_type)?;
    u32::try_from(index).ok()
}

/// The payload struct's bytes: for a legacy-framed (type, version), after the variant index,
/// which must be the type's frozen index; otherwise all of `bytes`.
pub(crate) fn body<'a>(
    event_type: &str,
    schema_version: u16,
    bytes: &'a [u8],
) -> Result<&'a [u8], PayloadError> {
    let Some(expected) = legacy_index(event_type, schema_version) else {
        return Ok(bytes);
    };
    let Some((prefix, body)) = bytes.split_first_chunk::<INDEX_BYTES>() else {
        return Err(PayloadError::corrupt(
            event_type,
            schema_version,
            format!(
                "{} bytes, shorter than the {INDEX_BYTES}-byte variant index",
                bytes.len()
            ),
        ));
    };
    let found = u32::from_le_bytes(*prefix);
    if found != expected {
        let named = usize::try_from(found)
            .ok()
            .and_then(|i| V1_VARIANT_ORDER.get(i))
            .copied()
            .unwrap_or("no type");
        return Err(PayloadError::corrupt(
            event_type,
            schema_version,
            format!("the variant index is {found} ({named}), not {expected} ({event_type})"),
        ));
    }
    Ok(body)
}

/// `body` framed as a record of (`event_type`, `schema_version`) stores it.
pub(crate) fn framed(event_type: &str, schema_version: u16, body: Vec<u8>) -> Vec<u8> {
    match legacy_index(event_type, schema_version) {
        Some(index) => {
            let mut bytes = Vec::with_capacity(INDEX_BYTES + body.len());
            bytes.extend_from_slice(&index.to_le_bytes());
            bytes.extend_from_slice(&body);
            bytes
        }
        None => body,
    }
}
