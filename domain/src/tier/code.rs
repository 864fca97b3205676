//! The V2 tier, e.g. `B2`, `B2S` (tier-rules.md §5): the calculator's result, and the tier
//! the lifecycle records and stores (`TierCalculated`, `RecordTier`, the case state).
//!
//! Stored and sent as its string (`"B2"`, `"C1S"`); a string that is not a V2 tier is refused
//! with [`ValueError::Tier`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::change::ChangeLevel;
use super::protect::ProtectLevel;
use crate::error::ValueError;

/// Protect letter + change digit + `S` when unsupervised (a `PRC` registration), as in
/// tier-rules.md §5. Workload tables enumerate A3…D0 and A3S…D0S: 32 values. Ordered as its
/// string is (`A0` < `A0S` < `A1` …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct V2Tier {
    pub protect: ProtectLevel,
    pub change: ChangeLevel,
    pub unsupervised: bool,
}

/// The 32 spellings, indexed by protect × 8 + change × 2 + unsupervised.
const SPELLINGS: [&str; 32] = [
    "A0", "A0S", "A1", "A1S", "A2", "A2S", "A3", "A3S", //
    "B0", "B0S", "B1", "B1S", "B2", "B2S", "B3", "B3S", //
    "C0", "C0S", "C1", "C1S", "C2", "C2S", "C3", "C3S", //
    "D0", "D0S", "D1", "D1S", "D2", "D2S", "D3", "D3S",
];

impl V2Tier {
    /// Parse a V2 tier string (tier-rules.md §5); anything else is [`ValueError::Tier`].
    pub fn new(value: impl AsRef<str>) -> Result<V2Tier, ValueError> {
        value.as_ref().parse()
    }

    /// The tier's spelling, e.g. `B2`, `C1S`.
    pub fn as_str(&self) -> &'static str {
        let protect = match self.protect {
            ProtectLevel::A => 0,
            ProtectLevel::B => 1,
            ProtectLevel::C => 2,
            ProtectLevel::D => 3,
        };
        let index =
            protect * 8 + usize::from(self.change.digit()) * 2 + usize::from(self.unsupervised);
        SPELLINGS[index]
    }
}

impl fmt::Display for V2Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for V2Tier {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || ValueError::Tier(s.chars().take(16).collect());
        let mut chars = s.chars();
        let protect = chars
            .next()
            .and_then(ProtectLevel::from_letter)
            .ok_or_else(error)?;
        let change = chars
            .next()
            .and_then(|c| c.to_digit(10))
            .and_then(|d| ChangeLevel::from_digit(d as u8))
            .ok_or_else(error)?;
        let unsupervised = match (chars.next(), chars.next()) {
            (None, _) => false,
            (Some('S'), None) => true,
            _ => return Err(error()),
        };
        Ok(V2Tier {
            protect,
            change,
            unsupervised,
        })
    }
}

impl From<V2Tier> for String {
    fn from(t: V2Tier) -> String {
        t.as_str().to_owned()
    }
}

impl TryFrom<String> for V2Tier {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tier-rules.md §5: every one of the 32 V2 tiers round-trips through its string, in the
    /// string's order.
    #[test]
    fn tier_5_v2_tier_strings_round_trip() {
        let mut seen = Vec::new();
        for protect in ['A', 'B', 'C', 'D'] {
            for change in 0..=3u8 {
                for suffix in ["", "S"] {
                    let s = format!("{protect}{change}{suffix}");
                    let t: V2Tier = s.parse().unwrap();
                    assert_eq!(t.to_string(), s);
                    assert_eq!(t.as_str(), s);
                    assert_eq!(t.unsupervised, suffix == "S");
                    seen.push(t);
                }
            }
        }
        assert_eq!(seen.len(), 32);
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "ordered as the strings"
        );
        for bad in [
            "", "A", "E1", "A4", "a1", "A1s", "A1SS", "A10", "B2X", "B", "B22",
        ] {
            assert!(bad.parse::<V2Tier>().is_err(), "{bad}");
        }
    }

    /// The stored form is the string; a bad stored or sent tier is a typed refusal.
    #[test]
    fn tier_5_v2_tiers_are_stored_as_their_string() {
        let tier = V2Tier::new("C1S").unwrap();
        assert_eq!(serde_json::to_string(&tier).unwrap(), "\"C1S\"");
        assert_eq!(serde_json::from_str::<V2Tier>("\"C1S\"").unwrap(), tier);
        let refused = serde_json::from_str::<V2Tier>("\"E1\"").unwrap_err();
        assert!(
            refused.to_string().contains("\"E1\" is not a tier"),
            "{refused}"
        );
        assert_eq!(V2Tier::new("B2").unwrap().protect, ProtectLevel::B);
    }

    /// The workload tables' tier (enforcement-and-workload.md §4.2) is this type: `B2S` is
    /// protect B, change 2, unsupervised, and round-trips through its string and JSON.
    #[test]
    fn parses_unsupervised_and_round_trips() {
        let t = V2Tier::new("B2S").unwrap();
        assert_eq!(
            (t.protect, t.change.digit(), t.unsupervised),
            (ProtectLevel::B, 2, true)
        );
        assert_eq!(t.to_string(), "B2S");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"B2S\"");
        assert_eq!(serde_json::from_str::<V2Tier>(&json).unwrap(), t);
    }

    #[test]
    fn rejects_bad_tiers_with_a_typed_error() {
        for s in [
            "", "E1", "A4", "a1", "B", "B2X", "B2SS", "B22", "2B", "B-1", "Ä1",
        ] {
            assert!(matches!(V2Tier::new(s), Err(ValueError::Tier(_))), "{s:?}");
        }
        let msg = V2Tier::new("E9").unwrap_err().to_string();
        assert!(msg.contains("E9") && msg.contains("B2"), "{msg}");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,6}") {
            if let Ok(t) = V2Tier::new(&s) {
                proptest::prop_assert_eq!(t.to_string(), s);
            }
        }
    }
}
