//! Decoding event payloads from envelopes.
//!
//! Payloads are `caseledger_domain::Event` in the store's codec
//! (`caseledger_store::codec`: bincode 1.3.3 behind a version byte).

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
    let event: Event =
        caseledger_store::codec::decode_payload(&record.payload).map_err(|e| bad(e.to_string()))?;
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
    caseledger_store::codec::encode_payload(event).unwrap_or_default()
}
