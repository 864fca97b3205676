//! `CaseOpened`: versions 1 and 2 stored the person (name, date of birth, gender) in plaintext;
//! version 3 stores it sealed with the person's data key (docs/decisions/0009-crypto-shredding.md).
//! The domain sees the person as a [`Sealable`] datum, whose serde refuses binary formats, so
//! this module is the one place the person is written into a payload and read out of one.

use caseledger_domain::event::CaseOpened;
use caseledger_domain::identity::{Crn, Person, TeamCode};
use caseledger_domain::reference::Pdu;
use caseledger_domain::sealable::{Sealable, Sealed};
use caseledger_store::keystore::SubjectKey;
use jiff::civil::Date;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{from_bincode, to_bincode};

/// `CaseOpened` as schema versions 1 and 2 store it (version 1 behind the legacy variant
/// index): the person in plaintext. Frozen: never edited again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseOpenedV2 {
    pub crn: Crn,
    pub person: Person,
    pub pdu: Pdu,
    pub team: Option<TeamCode>,
    pub opened_on: Date,
}

/// `CaseOpened` as schema version 3 stores it: the person sealed with their data key (the
/// sealed bincode of [`Person`], `caseledger_store::crypto` format), the rest in plaintext.
/// JSON shows the sealed bytes as hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseOpenedV3 {
    pub crn: Crn,
    #[serde(with = "sealed_bytes")]
    pub person_sealed: Vec<u8>,
    pub pdu: Pdu,
    pub team: Option<TeamCode>,
    pub opened_on: Date,
}

/// Version 1 or 2 upcast to the current shape: the plaintext person is known.
pub fn upcast_v2_to_v3(stored: CaseOpenedV2) -> CaseOpened {
    CaseOpened {
        crn: stored.crn,
        person: Sealable::Known(stored.person),
        pdu: stored.pdu,
        team: stored.team,
        opened_on: stored.opened_on,
    }
}

/// The stored shape of a case opening. Only a sealed person is written: a known one must be
/// sealed first ([`seal_person`]); an erased or bare withheld one has nothing to write.
pub fn to_stored(event: &CaseOpened) -> Result<CaseOpenedV3, String> {
    let person_sealed = match &event.person {
        Sealable::Withheld(sealed) if !sealed.as_bytes().is_empty() => sealed.as_bytes().to_vec(),
        Sealable::Known(_) => {
            return Err(
                "the person is known: it is sealed with the person's data key before \
                 it is written (caseledger_payload::seal), never written in plaintext"
                    .into(),
            )
        }
        other => {
            return Err(format!(
                "the person is {} without sealed bytes: there is nothing to write",
                other.state_name()
            ))
        }
    };
    Ok(CaseOpenedV3 {
        crn: event.crn.clone(),
        person_sealed,
        pdu: event.pdu,
        team: event.team.clone(),
        opened_on: event.opened_on,
    })
}

/// The case opening a version 3 payload records: its person withheld until opened.
pub fn from_stored(stored: CaseOpenedV3) -> CaseOpened {
    CaseOpened {
        crn: stored.crn,
        person: Sealable::Withheld(Sealed::new(stored.person_sealed)),
        pdu: stored.pdu,
        team: stored.team,
        opened_on: stored.opened_on,
    }
}

/// `person` sealed for `subject` (the case stream) with `key`; anything not known stays as
/// it is. A destroyed key refuses: nothing personal is recorded again for an erased person.
pub fn seal_person(
    person: &Sealable<Person>,
    subject: &str,
    key: &SubjectKey,
) -> Result<Sealable<Person>, String> {
    let Sealable::Known(known) = person else {
        return Ok(person.clone());
    };
    match key {
        SubjectKey::Live(key) => {
            let plaintext = to_bincode(known)?;
            Ok(Sealable::Withheld(Sealed::new(
                key.seal(subject, &plaintext),
            )))
        }
        SubjectKey::Destroyed => Err(format!(
            "{subject}'s personal data was erased: a person is not recorded for it again"
        )),
    }
}

/// `person` opened for `subject` with `key`: known with a live key, erased with a destroyed
/// one, withheld without one. A sealed value that does not open with its key is an error
/// (altered bytes, or a key of another person), never shown as data.
pub fn open_person(
    person: Sealable<Person>,
    subject: &str,
    key: Option<&SubjectKey>,
) -> Result<Sealable<Person>, String> {
    let Sealable::Withheld(sealed) = &person else {
        return Ok(person);
    };
    if sealed.as_bytes().is_empty() {
        return Ok(person);
    }
    match key {
        None => Ok(person),
        Some(SubjectKey::Destroyed) => Ok(Sealable::Erased),
        Some(SubjectKey::Live(key)) => {
            let plaintext = key
                .open(subject, sealed.as_bytes())
                .map_err(|e| format!("the sealed person of {subject}: {e}"))?;
            from_bincode(&plaintext).map(Sealable::Known)
        }
    }
}

/// Sealed bytes: hex in JSON (export), plain bytes in bincode.
mod sealed_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&hex::encode(bytes))
        } else {
            serializer.serialize_bytes(bytes)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            hex::decode(text).map_err(serde::de::Error::custom)
        } else {
            Vec::<u8>::deserialize(deserializer)
        }
    }
}
