//! A personal datum as the domain sees it once the log stores it sealed with the person's data
//! key (docs/decisions/0009-crypto-shredding.md): known, erased (the key was destroyed), or
//! withheld (sealed, and not opened: read without the key). `decide` and `evolve` stay pure:
//! an erased or withheld datum is a state, never a fake value. A withheld datum carries its
//! sealed bytes, so whoever holds the key can open it later (`caseledger_payload::open`).
//!
//! Its serde writes and reads human-readable formats only (JSON: the value itself, or
//! `{"sealed": "erased"}` / `{"sealed": "withheld"}`; JSON never carries the sealed bytes, so a
//! withheld datum read from JSON has none and can no longer be opened). A non-human-readable format (bincode,
//! the store's codec) is refused, so a personal datum can never reach the log, a read model
//! or a snapshot in plaintext by accident: the payload codec seals it explicitly.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A personal datum that the log stores sealed with the person's data key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sealable<T> {
    /// The datum, opened with the person's key (or given by a command).
    Known(T),
    /// The person's data key was destroyed: the datum is gone for good.
    Erased,
    /// The datum is sealed and was not opened (read without the person's key).
    Withheld(Sealed),
}

/// A sealed datum's bytes as the log stores them (`caseledger_store::crypto`: format byte,
/// nonce, ciphertext, tag). Opaque to the domain; never shown.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    pub fn new(bytes: Vec<u8>) -> Sealed {
        Sealed(bytes)
    }
    /// The stored bytes; empty when the datum was shown without them (JSON).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl<T> Sealable<T> {
    /// The datum when it is known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Sealable::Known(value) => Some(value),
            Sealable::Erased | Sealable::Withheld(_) => None,
        }
    }

    /// The state's name when the datum is not known.
    pub fn state_name(&self) -> &'static str {
        match self {
            Sealable::Known(_) => "known",
            Sealable::Erased => "erased",
            Sealable::Withheld(_) => "withheld",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Hidden {
    Erased,
    Withheld,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    sealed: Hidden,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Shown<T> {
    Marker(Marker),
    Value(T),
}

const NOT_HUMAN_READABLE: &str = "a personal datum is written only sealed, never by a binary serde format (docs/decisions/0009-crypto-shredding.md)";

impl<T: Serialize> Serialize for Sealable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return Err(serde::ser::Error::custom(NOT_HUMAN_READABLE));
        }
        match self {
            Sealable::Known(value) => value.serialize(serializer),
            Sealable::Erased => Marker {
                sealed: Hidden::Erased,
            }
            .serialize(serializer),
            Sealable::Withheld(_) => Marker {
                sealed: Hidden::Withheld,
            }
            .serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sealable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Err(serde::de::Error::custom(NOT_HUMAN_READABLE));
        }
        Ok(match Shown::deserialize(deserializer)? {
            Shown::Marker(Marker {
                sealed: Hidden::Erased,
            }) => Sealable::Erased,
            Shown::Marker(Marker {
                sealed: Hidden::Withheld,
            }) => Sealable::Withheld(Sealed::default()),
            Shown::Value(value) => Sealable::Known(value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Sealable, Sealed};
    use crate::identity::{Gender, Person, PersonName};

    fn person() -> Person {
        Person {
            name: PersonName::new("Jo Example").unwrap(),
            date_of_birth: jiff::civil::date(1990, 1, 2),
            gender: Gender::Female,
        }
    }

    #[test]
    fn json_shows_the_value_or_the_state_and_reads_it_back() {
        for value in [
            Sealable::Known(person()),
            Sealable::Erased,
            Sealable::Withheld(Sealed::default()),
        ] {
            let json = serde_json::to_value(&value).unwrap();
            let back: Sealable<Person> = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back, value, "{json}");
        }
        let erased = serde_json::to_value(Sealable::<Person>::Erased).unwrap();
        assert_eq!(erased, serde_json::json!({"sealed": "erased"}));
    }

    #[test]
    fn a_binary_format_cannot_write_or_read_a_personal_datum() {
        let err = caseledger_bincode_probe(&Sealable::Known(person()));
        assert!(err.contains("never by a binary serde format"), "{err}");
    }

    fn caseledger_bincode_probe(value: &Sealable<Person>) -> String {
        bincode::serialize(value).unwrap_err().to_string()
    }
}
