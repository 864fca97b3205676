//! [`PayloadJson`] for the domain's events: a payload is `caseledger_payload`'s encoding of one
//! [`Event`] at the envelope's `event_type` and `schema_version`; as JSON it is the fields of
//! that version's payload struct (design.md "The stored record").

use caseledger_domain::Event;
use serde_json::Value;

use crate::payload::PayloadJson;

/// Payload conversion for every event in `caseledger_domain::EVENT_TYPES`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DomainPayloads;

/// Decode a stored payload as the event type and schema version of its envelope.
pub fn decode_event(
    event_type: &str,
    schema_version: u16,
    payload: &[u8],
) -> Result<Event, String> {
    caseledger_payload::decode(event_type, schema_version, payload).map_err(|e| e.to_string())
}

impl PayloadJson for DomainPayloads {
    fn knows(&self, event_type: &str) -> bool {
        caseledger_domain::EVENT_TYPES.contains(&event_type)
    }

    /// The payload in the shape of the record's own schema version, so that import writes
    /// back the very bytes (an old record keeps its bytes and its hash); readers of the
    /// event see the current shape through [`decode_event`].
    fn payload_to_json(
        &self,
        event_type: &str,
        schema_version: u16,
        payload: &[u8],
    ) -> Result<Value, String> {
        caseledger_payload::stored_json(event_type, schema_version, payload)
            .map_err(|e| e.to_string())
    }

    fn payload_from_json(
        &self,
        event_type: &str,
        schema_version: u16,
        json: &Value,
    ) -> Result<Vec<u8>, String> {
        caseledger_payload::from_stored_json(event_type, schema_version, json)
            .map_err(|e| e.to_string())
    }
}
