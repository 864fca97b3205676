//! Decoding event payloads from envelopes through `caseledger_payload`, the one codec of
//! domain events: the envelope's event type and schema version select the decoder.

use caseledger_domain::Event;
use caseledger_store::RecordedEvent;

use crate::ProjectionError;

/// Decode the domain event carried by `record` as its envelope's event type and schema
/// version say.
pub fn decode_event(record: &RecordedEvent) -> Result<Event, ProjectionError> {
    caseledger_payload::decode(&record.event_type, record.schema_version, &record.payload).map_err(
        |e| ProjectionError::UndecodableEvent {
            position: record.position,
            stream: record.stream_id.clone(),
            event_type: record.event_type.clone(),
            reason: e.to_string(),
        },
    )
}
