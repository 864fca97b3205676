//! The one place a domain [`Event`] becomes stored payload bytes and back.
//!
//! A stored record's envelope names its `event_type` and `schema_version`; [`decode`] takes
//! both with the payload bytes and returns the event. [`encode`] gives the bytes with the type
//! and version to write beside them. Nothing else in the workspace encodes or decodes a domain
//! event (docs/architecture.md "Payloads").

use caseledger_domain::Event;
use caseledger_store::codec::{decode_payload, encode_payload};

/// A domain event as a stored payload: the envelope's event type and schema version, and the
/// payload bytes they describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub event_type: &'static str,
    pub schema_version: u16,
    pub bytes: Vec<u8>,
}

/// Why a payload cannot be encoded or decoded. Every variant names the event type and the
/// schema version it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("{event_type} v{schema_version}: payload does not decode: {reason}")]
    Corrupt {
        event_type: String,
        schema_version: u16,
        reason: String,
    },
    #[error("{event_type} v{schema_version}: the payload holds a {found_type} v{found_version}")]
    Mismatch {
        event_type: String,
        schema_version: u16,
        found_type: &'static str,
        found_version: u16,
    },
    #[error("{event_type} v{schema_version}: payload does not encode: {reason}")]
    Unencodable {
        event_type: &'static str,
        schema_version: u16,
        reason: String,
    },
}

/// The payload of `event`, with the event type and schema version to record beside it.
pub fn encode(event: &Event) -> Result<Encoded, PayloadError> {
    let event_type = event.event_type();
    let schema_version = event.schema_version();
    let bytes = encode_payload(event).map_err(|e| PayloadError::Unencodable {
        event_type,
        schema_version,
        reason: e.to_string(),
    })?;
    Ok(Encoded {
        event_type,
        schema_version,
        bytes,
    })
}

/// The event a record of `event_type` at `schema_version` holds in `bytes`. Never panics on
/// any input.
pub fn decode(event_type: &str, schema_version: u16, bytes: &[u8]) -> Result<Event, PayloadError> {
    let event: Event = decode_payload(bytes).map_err(|e| PayloadError::Corrupt {
        event_type: event_type.to_owned(),
        schema_version,
        reason: e.to_string(),
    })?;
    if event.event_type() != event_type || event.schema_version() != schema_version {
        return Err(PayloadError::Mismatch {
            event_type: event_type.to_owned(),
            schema_version,
            found_type: event.event_type(),
            found_version: event.schema_version(),
        });
    }
    Ok(event)
}
