//! [`PayloadJson`] for the domain's events: a payload is `caseledger_payload`'s encoding of one
//! [`Event`]; as JSON it is the event's fields, the variant name being the envelope's
//! `event_type` (design.md "The stored record").

use caseledger_domain::Event;
use serde_json::{Map, Value};

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

    fn payload_to_json(
        &self,
        event_type: &str,
        schema_version: u16,
        payload: &[u8],
    ) -> Result<Value, String> {
        let event = decode_event(event_type, schema_version, payload)?;
        // `Event` is externally tagged: `{"RiskAssessed": {…}}`. The tag is already the
        // envelope's event_type, so only the fields are shown.
        match serde_json::to_value(&event).map_err(|e| e.to_string())? {
            Value::Object(mut tagged) if tagged.len() == 1 => tagged
                .remove(event_type)
                .ok_or_else(|| format!("the JSON form of the event is not tagged {event_type}")),
            other => Err(format!("unexpected JSON form of an event: {other}")),
        }
    }

    fn payload_from_json(
        &self,
        event_type: &str,
        schema_version: u16,
        json: &Value,
    ) -> Result<Vec<u8>, String> {
        let mut tagged = Map::new();
        tagged.insert(event_type.to_owned(), json.clone());
        let event: Event =
            serde_json::from_value(Value::Object(tagged)).map_err(|e| e.to_string())?;
        let encoded = caseledger_payload::encode(&event).map_err(|e| e.to_string())?;
        if encoded.event_type != event_type || encoded.schema_version != schema_version {
            return Err(format!(
                "the JSON holds a {} v{}, the line says {event_type} v{schema_version}",
                encoded.event_type, encoded.schema_version
            ));
        }
        Ok(encoded.bytes)
    }
}
