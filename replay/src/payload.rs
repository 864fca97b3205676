//! Showing a payload as JSON and back. The store keeps payloads as opaque bytes; only the
//! domain knows what an event type means, so the conversion is a trait implemented next to the
//! domain's events (see [`crate::domain_payload`]).

use serde_json::Value;

/// Converts stored payload bytes of an event type / schema version to JSON and back.
///
/// `payload_from_json(payload_to_json(bytes)) == bytes` must hold for every payload the log holds; export
/// checks it for every record before writing a line.
pub trait PayloadJson {
    /// True for the event types this converter shows as JSON; the others are exported as
    /// their stored bytes in hex.
    fn knows(&self, event_type: &str) -> bool;
    fn payload_to_json(
        &self,
        event_type: &str,
        schema_version: u16,
        payload: &[u8],
    ) -> Result<Value, String>;
    fn payload_from_json(
        &self,
        event_type: &str,
        schema_version: u16,
        json: &Value,
    ) -> Result<Vec<u8>, String>;
}
