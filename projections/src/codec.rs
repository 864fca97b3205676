//! Decoding event payloads from envelopes through `caseledger_payload`, the one codec of
//! domain events: the envelope's event type and schema version select the decoder.

use caseledger_domain::Event;
use caseledger_store::{Keyring, RecordedEvent};

use crate::ProjectionError;

/// Decode the domain event carried by `record` as its envelope's event type and schema
/// version say, its personal data opened with `keys` (withheld without).
pub fn decode_event(
    record: &RecordedEvent,
    keys: Option<&Keyring>,
) -> Result<Event, ProjectionError> {
    caseledger_payload::decode_opened(
        &record.event_type,
        record.schema_version,
        &record.payload,
        &record.stream_id,
        keys,
    )
    .map_err(|e| ProjectionError::UndecodableEvent {
        position: record.position,
        stream: record.stream_id.clone(),
        event_type: record.event_type.clone(),
        reason: e.to_string(),
    })
}
