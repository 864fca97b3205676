//! Identity value types: case reference (CRN), person, practitioner and grade, team, event
//! references and input digests. Invalid values cannot be constructed: every constructor
//! validates and every `Deserialize` goes through the same constructor (`try_from`).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::error::ValueError;

/// Longest person or practitioner name, in characters. Real names are far shorter; the limit
/// keeps a stored event bounded.
pub const NAME_CHARS_MAX: u32 = 100;
/// Longest staff or team code, in characters (nDelius staff codes are 7, team codes 6).
pub const CODE_CHARS_MAX: u32 = 16;
/// Longest free-text reason, note or court name, in characters.
pub const TEXT_CHARS_MAX: u32 = 500;

fn char_count(s: &str) -> u32 {
    u32::try_from(s.chars().count()).unwrap_or(u32::MAX)
}

fn check_text(field: &'static str, s: &str, max: u32) -> Result<(), ValueError> {
    if s.trim().is_empty() {
        return Err(ValueError::Empty { field });
    }
    let len = char_count(s);
    if len > max {
        return Err(ValueError::TooLong { field, len, max });
    }
    if let Some(found) = s.chars().find(|c| c.is_control()) {
        return Err(ValueError::BadCharacter {
            field,
            found,
            allowed: "printable characters (no control characters or line breaks)",
        });
    }
    Ok(())
}

fn check_code(field: &'static str, s: &str) -> Result<(), ValueError> {
    if s.is_empty() {
        return Err(ValueError::Empty { field });
    }
    let len = char_count(s);
    if len > CODE_CHARS_MAX {
        return Err(ValueError::TooLong {
            field,
            len,
            max: CODE_CHARS_MAX,
        });
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(ValueError::BadCharacter {
            field,
            found,
            allowed: "ASCII letters, digits and '-'",
        });
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $check:expr) => {
        $(#[$meta])*
        #[derive(
            Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, $crate::error::ValueError> {
                let value = value.into();
                let check: fn(&str) -> Result<(), $crate::error::ValueError> = $check;
                check(&value)?;
                Ok($name(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::error::ValueError;
            fn try_from(value: String) -> Result<Self, $crate::error::ValueError> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use string_newtype;

string_newtype!(
    /// Case Reference Number: one capital letter then six digits (nDelius CRN, e.g. `X123456`).
    Crn,
    |s| {
        let bytes = s.as_bytes();
        let ok = bytes.len() == 7
            && bytes[0].is_ascii_uppercase()
            && bytes[1..].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(())
        } else {
            Err(ValueError::Crn(s.chars().take(32).collect()))
        }
    }
);

string_newtype!(
    /// A person's or practitioner's name as recorded (1..=[`NAME_CHARS_MAX`] printable characters).
    PersonName,
    |s| check_text("name", s, NAME_CHARS_MAX)
);

string_newtype!(
    /// Staff code of a practitioner (nDelius staff code style: ASCII letters, digits, '-').
    StaffCode,
    |s| check_code("staff code", s)
);

string_newtype!(
    /// Team code (ASCII letters, digits, '-').
    TeamCode,
    |s| check_code("team code", s)
);

string_newtype!(
    /// Free text: a reason, a note, a court name (1..=[`TEXT_CHARS_MAX`] printable characters).
    Text,
    |s| check_text("text", s, TEXT_CHARS_MAX)
);

string_newtype!(
    /// Id of an earlier event on this case, as the store's envelope gives it (UUID, hyphenated
    /// lowercase). Event ids are envelope metadata that `evolve` never sees, so a correction
    /// names the corrected event by this value carried in its own payload.
    EventRef,
    |s| {
        let b = s.as_bytes();
        let ok = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
            });
        if ok {
            Ok(())
        } else {
            Err(ValueError::EventId(s.chars().take(40).collect()))
        }
    }
);

impl EventRef {
    /// The reference of the event whose envelope id is the UUID `id` (its 128 bits, big
    /// endian): always valid, so folds over stored records cannot fail on it.
    pub fn from_u128(id: u128) -> EventRef {
        let hex = format!("{id:032x}");
        EventRef(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }
}

string_newtype!(
    /// Hex SHA-256 of the canonical inputs of a calculation (tier, handover), so a regulator can
    /// check which inputs a stored decision used (design.md invariant 5).
    InputsDigest,
    |s| {
        let ok = s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if ok {
            Ok(())
        } else {
            Err(ValueError::InputsDigest(s.chars().take(70).collect()))
        }
    }
);

impl InputsDigest {
    /// Digest of `canonical` bytes: the caller supplies the canonical encoding of its inputs.
    pub fn of(canonical: &[u8]) -> InputsDigest {
        use sha2::{Digest, Sha256};
        InputsDigest(hex::encode(Sha256::digest(canonical)))
    }
}

/// Gender as recorded; the tier calculation applies female-only factors (tier-rules.md §3.4)
/// and women are offered a female practitioner (BR-C5, seed 003 l.771).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
    NotRecorded,
}

/// The person on probation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: PersonName,
    pub date_of_birth: Date,
    pub gender: Gender,
}

/// Practitioner grade (enforcement-and-workload.md §3 grade codes: `PSQ` PSO, `PSP` PQiP,
/// `PSM` PO, `PSC` SPO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// Probation Officer.
    #[serde(rename = "PO")]
    ProbationOfficer,
    /// Probation Services Officer.
    #[serde(rename = "PSO")]
    ProbationServicesOfficer,
    /// Senior Probation Officer.
    #[serde(rename = "SPO")]
    SeniorProbationOfficer,
    /// Professional Qualification in Probation trainee.
    #[serde(rename = "PQiP")]
    ProfessionalQualificationInProbation,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::ProbationOfficer => "PO",
            Grade::ProbationServicesOfficer => "PSO",
            Grade::SeniorProbationOfficer => "SPO",
            Grade::ProfessionalQualificationInProbation => "PQiP",
        }
    }
}

/// A probation practitioner (Community Offender Manager, Prison Offender Manager, or the
/// practitioner a community case is allocated to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Practitioner {
    pub staff_code: StaffCode,
    pub name: PersonName,
    pub grade: Grade,
}

#[cfg(test)]
mod tests {
    use super::EventRef as Ref;

    #[test]
    fn an_event_ref_from_a_uuid_is_its_hyphenated_lowercase_text() {
        let r = Ref::from_u128(0x0f8f_ad5b_d9cb_469f_a165_7086_7728_950e);
        assert_eq!(r.as_str(), "0f8fad5b-d9cb-469f-a165-70867728950e");
        assert!(Ref::new(Ref::from_u128(u128::MAX).as_str()).is_ok());
        assert!(Ref::new(Ref::from_u128(0).as_str()).is_ok());
    }

    use super::*;

    #[test]
    fn crn_is_one_capital_letter_and_six_digits() {
        assert!(Crn::new("X123456").is_ok());
        for bad in [
            "",
            "x123456",
            "X12345",
            "X1234567",
            "1234567",
            "XX23456",
            "X12345A",
            "X12345६",
        ] {
            assert_eq!(
                Crn::new(bad),
                Err(ValueError::Crn(bad.chars().take(32).collect())),
                "{bad}"
            );
        }
    }

    #[test]
    fn crn_deserialisation_validates() {
        let ok: Crn = serde_json::from_str("\"A000001\"").unwrap();
        assert_eq!(ok.as_str(), "A000001");
        assert!(serde_json::from_str::<Crn>("\"A00001\"").is_err());
    }

    #[test]
    fn names_and_codes_are_bounded_and_printable() {
        assert!(PersonName::new("Jo Bloggs").is_ok());
        assert_eq!(
            PersonName::new("  "),
            Err(ValueError::Empty { field: "name" })
        );
        assert!(matches!(
            PersonName::new("a".repeat(101)),
            Err(ValueError::TooLong { .. })
        ));
        assert!(matches!(
            PersonName::new("a\nb"),
            Err(ValueError::BadCharacter { .. })
        ));
        assert!(StaffCode::new("N07P123").is_ok());
        assert!(StaffCode::new("N07 P123").is_err());
        assert!(TeamCode::new("").is_err());
    }

    #[test]
    fn event_refs_are_hyphenated_lowercase_uuids() {
        assert!(EventRef::new("0f8fad5b-d9cb-469f-a165-70867728950e").is_ok());
        assert!(EventRef::new("0F8FAD5B-D9CB-469F-A165-70867728950E").is_err());
        assert!(EventRef::new("0f8fad5bd9cb469fa16570867728950e").is_err());
    }

    #[test]
    fn inputs_digest_is_hex_sha256() {
        let d = InputsDigest::of(b"abc");
        assert_eq!(
            d.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(InputsDigest::new(d.as_str().to_uppercase()).is_err());
        assert!(InputsDigest::new("abc").is_err());
    }
}
