//! Decoding event payloads from envelopes.
//!
//! The store's codec (`caseledger_store::codec`) had not landed on this branch when this was
//! written; until it does, payloads are JSON of `caseledger_domain::Event` and this module is
//! the single place to switch to `caseledger_store::codec::decode_payload::<Event>`.

use caseledger_domain::Event;
use caseledger_store::RecordedEvent;

use crate::ProjectionError;

/// Decode the domain event carried by `record`, checking that the envelope's event type names
/// the same variant as the payload.
pub fn decode_event(record: &RecordedEvent) -> Result<Event, ProjectionError> {
    let bad = |reason: String| ProjectionError::UndecodableEvent {
        position: record.position,
        stream: record.stream_id.clone(),
        event_type: record.event_type.clone(),
        reason,
    };
    let event: Event = serde_json::from_slice(&record.payload).map_err(|e| bad(e.to_string()))?;
    if event.event_type() != record.event_type {
        return Err(bad(format!(
            "envelope says {} but the payload is {}",
            record.event_type,
            event.event_type()
        )));
    }
    Ok(event)
}

/// Encode an event the way [`decode_event`] reads it (tests, benchmarks).
pub fn encode_event(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).unwrap_or_default()
}
