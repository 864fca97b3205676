//! Older payload shapes and their upcasters: one module per event type whose shape changed,
//! holding each older shape frozen under a versioned name (`SentencePlanCreatedV1`) and one
//! `upcast_vN_to_vN1` per step, so a reader only ever sees the current shape.
//!
//! A (type, version) not listed in the three functions below has the current shape of its
//! type: every type's version 1 differs from version 2 only in its framing (the legacy
//! variant index, `crate::legacy`), except where listed. docs/event-catalogue.md "Evolving an
//! event" says how to add a version; the golden payloads of every type and version
//! (fixtures/golden/payloads) fail if an older shape stops decoding.

pub mod case_opened;
pub mod sentence_plan_created;

use caseledger_domain::Event;
use serde::Deserialize;
use serde_json::Value;

use crate::{from_bincode, read_current, to_bincode};

/// The event in a record of an older `version` of `event_type` (its body, after any legacy
/// framing), upcast to the current shape.
pub(crate) fn decode_older(event_type: &str, version: u16, body: &[u8]) -> Result<Event, String> {
    match (event_type, version) {
        ("SentencePlanCreated", 1) => {
            let v1 = from_bincode(body)?;
            Ok(sentence_plan_created::upcast_v1_to_v2(v1).into())
        }
        ("CaseOpened", 1 | 2) => {
            let v2 = from_bincode(body)?;
            Ok(case_opened::upcast_v2_to_v3(v2).into())
        }
        _ => read_current(event_type, body),
    }
}

/// The JSON of a stored shape that is not the domain event's own, where (`event_type`,
/// `version`) has one: an older shape, or a current one that holds sealed bytes.
pub(crate) fn older_json(
    event_type: &str,
    version: u16,
    body: &[u8],
) -> Option<Result<Value, String>> {
    match (event_type, version) {
        ("SentencePlanCreated", 1) => Some(
            from_bincode::<sentence_plan_created::SentencePlanCreatedV1>(body)
                .and_then(|v1| serde_json::to_value(v1).map_err(|e| e.to_string())),
        ),
        ("CaseOpened", 1 | 2) => Some(
            from_bincode::<case_opened::CaseOpenedV2>(body)
                .and_then(|v2| serde_json::to_value(v2).map_err(|e| e.to_string())),
        ),
        ("CaseOpened", 3) => Some(
            from_bincode::<case_opened::CaseOpenedV3>(body)
                .and_then(|v3| serde_json::to_value(v3).map_err(|e| e.to_string())),
        ),
        _ => None,
    }
}

/// The body of a stored shape from its JSON, where [`older_json`] gives one.
pub(crate) fn older_from_json(
    event_type: &str,
    version: u16,
    json: &Value,
) -> Option<Result<Vec<u8>, String>> {
    match (event_type, version) {
        ("SentencePlanCreated", 1) => Some(
            sentence_plan_created::SentencePlanCreatedV1::deserialize(json)
                .map_err(|e| e.to_string())
                .and_then(|v1| to_bincode(&v1)),
        ),
        ("CaseOpened", 1 | 2) => Some(
            case_opened::CaseOpenedV2::deserialize(json)
                .map_err(|e| e.to_string())
                .and_then(|v2| to_bincode(&v2)),
        ),
        ("CaseOpened", 3) => Some(
            case_opened::CaseOpenedV3::deserialize(json)
                .map_err(|e| e.to_string())
                .and_then(|v3| to_bincode(&v3)),
        ),
        _ => None,
    }
}
