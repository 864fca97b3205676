//! The V2 tier string, e.g. `B2`, `B2S` (tier-rules.md §5).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::change::ChangeLevel;
use super::protect::ProtectLevel;

/// Protect letter + change digit + `S` when unsupervised (a `PRC` registration), as in
/// tier-rules.md §5. Workload tables enumerate A3…D0 and A3S…D0S: 32 values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct V2Tier {
    pub protect: ProtectLevel,
    pub change: ChangeLevel,
    pub unsupervised: bool,
}

impl fmt::Display for V2Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.protect, self.change)?;
        if self.unsupervised {
            f.write_str("S")?;
        }
        Ok(())
    }
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("tier: {0:?} is not a V2 tier (A–D, then 0–3, then an optional S; e.g. B2 or B2S)")]
pub struct V2TierParseError(pub String);

impl FromStr for V2Tier {
    type Err = V2TierParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || V2TierParseError(s.to_owned());
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
        t.to_string()
    }
}

impl TryFrom<String> for V2Tier {
    type Error = V2TierParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tier-rules.md §5: every one of the 32 V2 tiers round-trips through its string.
    #[test]
    fn tier_5_v2_tier_strings_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for protect in ['A', 'B', 'C', 'D'] {
            for change in 0..=3u8 {
                for suffix in ["", "S"] {
                    let s = format!("{protect}{change}{suffix}");
                    let t: V2Tier = s.parse().unwrap();
                    assert_eq!(t.to_string(), s);
                    assert_eq!(t.unsupervised, suffix == "S");
                    seen.insert(t);
                }
            }
        }
        assert_eq!(seen.len(), 32);
        for bad in ["", "A", "E1", "A4", "a1", "A1s", "A1SS", "A10", "B2X"] {
            assert!(bad.parse::<V2Tier>().is_err(), "{bad}");
        }
    }
}
