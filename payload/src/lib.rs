//! The one place a domain [`Event`] becomes stored payload bytes and back.
//!
//! A record's envelope names its `event_type` and `schema_version`; together they select how
//! its payload bytes are read (docs/decisions/0010-payload-per-type.md):
//!
//! - the **current version** of a type (`Event::schema_version`) is bincode of its payload
//!   struct alone (the store codec's options), with no enum variant index: reordering or
//!   inserting variants of [`Event`] cannot change what stored bytes mean;
//! - **version 1** of the types that existed when every payload was `bincode(Event)` is read by
//!   a frozen decoder (`legacy.rs`): the 4-byte variant index is checked against a frozen table
//!   of that enum's order, the rest is the type's version-1 struct;
//! - an **older shape** is kept frozen under a versioned name and turned into the current shape
//!   by one upcaster per type and version (`upcast/`), so every reader — fold, projections,
//!   replay, explain, the relay — sees only the current shape.
//!
//! Personal data is written sealed with the person's data key (docs/decisions/0009): a writer
//! [`seal`]s an event before [`encode`] (which refuses a known person), and [`decode`] gives
//! the sealed datum withheld until a reader holding the key [`open`]s it. Both stay
//! synchronous and pure; the key is fetched before, at the edge (`caseledger_store::Keyring`).
//!
//! [`stored_json`] and [`from_stored_json`] show a payload as JSON in the shape of its own
//! version and back, byte for byte: export and import carry records unchanged, so an old
//! record keeps its bytes and its hash.

mod legacy;
pub mod upcast;

use std::borrow::Cow;

use caseledger_domain::event::{CaseOpened, PayloadReader, PayloadVisitor};
use caseledger_domain::Event;
use caseledger_store::codec::{decode_payload, encode_payload};
use caseledger_store::keystore::SubjectKey;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use legacy::V1_VARIANT_ORDER;

/// A domain event as a stored payload: the envelope's event type and schema version, and the
/// payload bytes they describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub event_type: &'static str,
    pub schema_version: u16,
    pub bytes: Vec<u8>,
}

/// Why a payload cannot be encoded or decoded. Every variant names the event type and the
/// schema version it was read as; the caller adds the record's position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("{event_type} v{schema_version}: not an event type this version of caseledger knows; upgrade caseledger")]
    UnknownType {
        event_type: String,
        schema_version: u16,
    },
    #[error("{event_type} v{schema_version}: this version of caseledger reads {event_type} versions 1 to {current}; upgrade caseledger")]
    UnknownVersion {
        event_type: String,
        schema_version: u16,
        current: u16,
    },
    #[error("{event_type} v{schema_version}: the payload is not a {event_type} v{schema_version}: {reason}")]
    Corrupt {
        event_type: String,
        schema_version: u16,
        reason: String,
    },
    #[error("{event_type} v{schema_version}: the payload cannot be written: {reason}")]
    Unencodable {
        event_type: String,
        schema_version: u16,
        reason: String,
    },
}

/// Why a record's sealed personal data cannot be opened (docs/operations.md "Key management").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Keyring(#[from] caseledger_store::KeyringError),
}

/// The event a record holds, its personal data opened with the subject's key from `keys`
/// (read without waiting: from the keyring's cache or a key store that answers at once;
/// a network key store's keys are fetched first with `Keyring::prefetch`). Without `keys`
/// the personal data stays withheld. The one synchronous "decode and open" of every reader
/// that is not the command handler (which fetches its key before it folds).
pub fn decode_opened(
    event_type: &str,
    schema_version: u16,
    bytes: &[u8],
    subject: &str,
    keys: Option<&caseledger_store::Keyring>,
) -> Result<Event, OpenError> {
    let event = decode(event_type, schema_version, bytes)?;
    let Some(keys) = keys.filter(|_| is_sealed(event_type, schema_version)) else {
        return Ok(event);
    };
    let stream = caseledger_store::StreamId::new(subject).map_err(|e| {
        PayloadError::corrupt(
            event_type,
            schema_version,
            format!("subject {subject:?}: {e}"),
        )
    })?;
    let key = keys.key_now(&stream)?;
    Ok(open(event, subject, key.as_ref())?)
}

impl PayloadError {
    fn corrupt(event_type: &str, schema_version: u16, reason: impl ToString) -> PayloadError {
        PayloadError::Corrupt {
            event_type: event_type.to_owned(),
            schema_version,
            reason: reason.to_string(),
        }
    }
}

/// The payload of `event` at its type's current schema version, with the event type and
/// schema version to record beside it.
pub fn encode(event: &Event) -> Result<Encoded, PayloadError> {
    let event_type = event.event_type();
    let schema_version = event.schema_version();
    let bytes = current_bytes(event).map_err(|e| PayloadError::Unencodable {
        event_type: event_type.to_owned(),
        schema_version,
        reason: e.to_string(),
    })?;
    Ok(Encoded {
        event_type,
        schema_version,
        bytes,
    })
}

/// The event a record of `event_type` at `schema_version` holds in `bytes`, in the current
/// shape of its type. Never panics on any input.
pub fn decode(event_type: &str, schema_version: u16, bytes: &[u8]) -> Result<Event, PayloadError> {
    let current = current_version(event_type, schema_version)?;
    let body = legacy::body(event_type, schema_version, bytes)?;
    let decoded = if schema_version == current {
        read_current(event_type, body)
    } else {
        upcast::decode_older(event_type, schema_version, body)
    };
    decoded.map_err(|reason| PayloadError::corrupt(event_type, schema_version, reason))
}

/// Does a record of `event_type` at `schema_version` hold sealed personal data? A reader
/// that needs it fetches the subject's key ([`caseledger_store::Keyring`]) and [`open`]s the
/// decoded event.
pub fn is_sealed(event_type: &str, schema_version: u16) -> bool {
    event_type == "CaseOpened" && schema_version >= 3
}

/// The subjects (case streams) whose keys a reader of `records` needs to open them: those of
/// the records that hold sealed personal data ([`is_sealed`]), each once, in the order first
/// seen. The one answer to "which keys to fetch" for every reader that folds records.
pub fn sealed_subjects(
    records: &[caseledger_store::RecordedEvent],
) -> Result<Vec<caseledger_store::StreamId>, caseledger_store::StoreError> {
    let mut seen = std::collections::HashSet::new();
    records
        .iter()
        .filter(|r| is_sealed(&r.event_type, r.schema_version))
        .filter(|r| seen.insert(r.stream_id.as_str()))
        .map(|r| caseledger_store::StreamId::new(r.stream_id.as_str()))
        .collect()
}

/// `event` with its personal data sealed for `subject` (its case stream id) with `key`,
/// ready for [`encode`]; an event without personal data comes back as it is. A destroyed key
/// refuses: nothing personal is recorded again for an erased person.
pub fn seal<'a>(
    event: &'a Event,
    subject: &str,
    key: &SubjectKey,
) -> Result<Cow<'a, Event>, PayloadError> {
    match event {
        Event::CaseOpened(opened) if opened.person.known().is_some() => {
            let person = upcast::case_opened::seal_person(&opened.person, subject, key).map_err(
                |reason| PayloadError::Unencodable {
                    event_type: event.event_type().to_owned(),
                    schema_version: event.schema_version(),
                    reason,
                },
            )?;
            Ok(Cow::Owned(Event::CaseOpened(CaseOpened {
                person,
                ..opened.clone()
            })))
        }
        _ => Ok(Cow::Borrowed(event)),
    }
}

/// [`seal`] then [`encode`]: the payload of `event` with its personal data sealed for
/// `subject` with `key`.
pub fn encode_sealed(
    event: &Event,
    subject: &str,
    key: &SubjectKey,
) -> Result<Encoded, PayloadError> {
    encode(seal(event, subject, key)?.as_ref())
}

/// Does `event` hold personal data that [`seal`] must seal before it is written?
pub fn needs_sealing(event: &Event) -> bool {
    matches!(event, Event::CaseOpened(opened) if opened.person.known().is_some())
}

/// `event` with its sealed personal data opened for `subject` with `key`: known with a live
/// key, erased with a destroyed one, left withheld without one (`None`: no key was ever
/// made, or the reader was given none). A sealed value that does not open is an error, never
/// data.
pub fn open(event: Event, subject: &str, key: Option<&SubjectKey>) -> Result<Event, PayloadError> {
    match event {
        Event::CaseOpened(opened) => {
            let person = upcast::case_opened::open_person(opened.person, subject, key)
                .map_err(|reason| PayloadError::corrupt("CaseOpened", 3, reason))?;
            Ok(Event::CaseOpened(CaseOpened { person, ..opened }))
        }
        other => Ok(other),
    }
}

/// The payload as JSON in the shape of its own schema version (the fields of the struct that
/// version wrote): what export shows, and what [`from_stored_json`] turns back into the same
/// bytes.
pub fn stored_json(
    event_type: &str,
    schema_version: u16,
    bytes: &[u8],
) -> Result<Value, PayloadError> {
    current_version(event_type, schema_version)?;
    let body = legacy::body(event_type, schema_version, bytes)?;
    let json = match upcast::older_json(event_type, schema_version, body) {
        Some(json) => json,
        None => read_current(event_type, body)
            .and_then(|event| event.visit_payload(Json).map_err(|e| e.to_string())),
    };
    json.map_err(|reason| PayloadError::corrupt(event_type, schema_version, reason))
}

/// The bytes of a record of `event_type` at `schema_version` whose payload [`stored_json`]
/// showed as `json`.
pub fn from_stored_json(
    event_type: &str,
    schema_version: u16,
    json: &Value,
) -> Result<Vec<u8>, PayloadError> {
    current_version(event_type, schema_version)?;
    let body = match upcast::older_from_json(event_type, schema_version, json) {
        Some(body) => body,
        None => Event::read_payload(event_type, FromJson(json))
            .unwrap_or_else(|| Err(format!("{event_type} is not an event type")))
            .and_then(|event| current_bytes(&event)),
    }
    .map_err(|reason| PayloadError::corrupt(event_type, schema_version, reason))?;
    Ok(legacy::framed(event_type, schema_version, body))
}

/// The current schema version of `event_type`, checking `schema_version` is one this code
/// reads (1 to current).
fn current_version(event_type: &str, schema_version: u16) -> Result<u16, PayloadError> {
    let current =
        Event::current_schema_version(event_type).ok_or_else(|| PayloadError::UnknownType {
            event_type: event_type.chars().take(64).collect(),
            schema_version,
        })?;
    if schema_version == 0 || schema_version > current {
        return Err(PayloadError::UnknownVersion {
            event_type: event_type.to_owned(),
            schema_version,
            current,
        });
    }
    Ok(current)
}

/// The payload bytes of `event` in its type's current shape. A case opening is written
/// through its stored shape (`upcast::case_opened`): its person is a sealable datum, which no
/// binary format writes by itself, and only a sealed one is written ([`seal`]).
fn current_bytes(event: &Event) -> Result<Vec<u8>, String> {
    match event {
        Event::CaseOpened(opened) => to_bincode(&upcast::case_opened::to_stored(opened)?),
        _ => event.visit_payload(Bincode),
    }
}

/// The payload struct of `event_type` in its current shape, from bincode.
pub(crate) fn read_current(event_type: &str, body: &[u8]) -> Result<Event, String> {
    if event_type == "CaseOpened" {
        return from_bincode(body).map(|stored| upcast::case_opened::from_stored(stored).into());
    }
    Event::read_payload(event_type, FromBincode(body))
        .unwrap_or_else(|| Err(format!("{event_type} is not an event type")))
}

/// bincode of a payload struct with the store codec's options.
pub(crate) fn to_bincode<T: Serialize>(payload: &T) -> Result<Vec<u8>, String> {
    encode_payload(payload).map_err(|e| e.to_string())
}

/// A payload struct from bincode with the store codec's options (size-limited, no trailing
/// bytes).
pub(crate) fn from_bincode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    decode_payload(body).map_err(|e| e.to_string())
}

struct Bincode;

impl PayloadVisitor for Bincode {
    type Output = Result<Vec<u8>, String>;
    fn visit<T: Serialize>(self, payload: &T) -> Self::Output {
        to_bincode(payload)
    }
}

struct Json;

impl PayloadVisitor for Json {
    type Output = Result<Value, serde_json::Error>;
    fn visit<T: Serialize>(self, payload: &T) -> Self::Output {
        serde_json::to_value(payload)
    }
}

struct FromBincode<'a>(&'a [u8]);

impl PayloadReader for FromBincode<'_> {
    type Error = String;
    fn read<T: DeserializeOwned>(self) -> Result<T, String> {
        from_bincode(self.0)
    }
}

struct FromJson<'a>(&'a Value);

impl PayloadReader for FromJson<'_> {
    type Error = String;
    fn read<T: DeserializeOwned>(self) -> Result<T, String> {
        T::deserialize(self.0).map_err(|e| e.to_string())
    }
}
