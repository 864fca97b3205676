//! The V2 tier as the workload tables use it: protect level A–D, change level 0–3, and the
//! unsupervised flag (`…S`), e.g. `B2`, `D0S` (enforcement-and-workload.md §4.2).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::WorkloadError;

/// Protect level, A highest (risk of serious harm) to D lowest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProtectLevel {
    A,
    B,
    C,
    D,
}

impl ProtectLevel {
    fn from_letter(c: char) -> Option<Self> {
        match c {
            'A' => Some(ProtectLevel::A),
            'B' => Some(ProtectLevel::B),
            'C' => Some(ProtectLevel::C),
            'D' => Some(ProtectLevel::D),
            _ => None,
        }
    }
    fn letter(self) -> char {
        match self {
            ProtectLevel::A => 'A',
            ProtectLevel::B => 'B',
            ProtectLevel::C => 'C',
            ProtectLevel::D => 'D',
        }
    }
    fn index(self) -> u8 {
        match self {
            ProtectLevel::A => 0,
            ProtectLevel::B => 1,
            ProtectLevel::C => 2,
            ProtectLevel::D => 3,
        }
    }
}

/// Highest change level (0–3).
pub const CHANGE_LEVEL_MAX: u8 = 3;

/// Number of seeded tier columns, tier_1 … tier_16 (§4.2).
pub const TIER_COLUMNS_COUNT: usize = 16;

/// A parsed V2 tier. Construct with [`WorkloadTier::new`] or [`WorkloadTier::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkloadTier {
    protect: ProtectLevel,
    change: u8,
    unsupervised: bool,
}

impl WorkloadTier {
    pub fn new(
        protect: ProtectLevel,
        change: u8,
        unsupervised: bool,
    ) -> Result<Self, WorkloadError> {
        if change > CHANGE_LEVEL_MAX {
            return Err(WorkloadError::Tier(format!("{}{change}", protect.letter())));
        }
        Ok(WorkloadTier {
            protect,
            change,
            unsupervised,
        })
    }

    /// Parse `A3` … `D0`, with an optional trailing `S` for unsupervised (`B2S`).
    pub fn parse(s: &str) -> Result<Self, WorkloadError> {
        let bad = || WorkloadError::Tier(s.chars().take(8).collect());
        let mut chars = s.chars();
        let protect = chars
            .next()
            .and_then(ProtectLevel::from_letter)
            .ok_or_else(bad)?;
        let change = chars
            .next()
            .and_then(|c| c.to_digit(10))
            .and_then(|d| u8::try_from(d).ok())
            .filter(|d| *d <= CHANGE_LEVEL_MAX)
            .ok_or_else(bad)?;
        let unsupervised = match (chars.next(), chars.next()) {
            (None, _) => false,
            (Some('S'), None) => true,
            _ => return Err(bad()),
        };
        Ok(WorkloadTier {
            protect,
            change,
            unsupervised,
        })
    }

    pub fn protect(self) -> ProtectLevel {
        self.protect
    }
    pub fn change(self) -> u8 {
        self.change
    }
    pub fn is_unsupervised(self) -> bool {
        self.unsupervised
    }

    /// Column in the seeded points table: tier_1 … tier_16 map to A3, A2, A1, A0, B3, …, D0
    /// (§4.2), returned 0-based.
    pub fn column(self) -> usize {
        let column = self.protect.index() * 4 + (CHANGE_LEVEL_MAX - self.change);
        debug_assert!(usize::from(column) < TIER_COLUMNS_COUNT);
        usize::from(column)
    }
}

impl fmt::Display for WorkloadTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.protect.letter(), self.change)?;
        if self.unsupervised {
            f.write_str("S")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for WorkloadTier {
    type Error = WorkloadError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        WorkloadTier::parse(&s)
    }
}

impl From<WorkloadTier> for String {
    fn from(t: WorkloadTier) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// §4.2: tier_1 … tier_16 map to A3 … D0.
    #[test]
    fn workload_4_2_tier_columns() {
        let order = [
            "A3", "A2", "A1", "A0", "B3", "B2", "B1", "B0", "C3", "C2", "C1", "C0", "D3", "D2",
            "D1", "D0",
        ];
        for (i, s) in order.iter().enumerate() {
            assert_eq!(WorkloadTier::parse(s).unwrap().column(), i, "{s}");
        }
    }

    #[test]
    fn parses_unsupervised_and_round_trips() {
        let t = WorkloadTier::parse("B2S").unwrap();
        assert_eq!(
            (t.protect(), t.change(), t.is_unsupervised()),
            (ProtectLevel::B, 2, true)
        );
        assert_eq!(t.to_string(), "B2S");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"B2S\"");
        assert_eq!(serde_json::from_str::<WorkloadTier>(&json).unwrap(), t);
    }

    #[test]
    fn rejects_bad_tiers_with_a_typed_error() {
        for s in [
            "", "E1", "A4", "a1", "B", "B2X", "B2SS", "B22", "2B", "B-1", "Ä1",
        ] {
            assert!(
                matches!(WorkloadTier::parse(s), Err(WorkloadError::Tier(_))),
                "{s:?}"
            );
        }
        assert!(WorkloadTier::new(ProtectLevel::C, 4, false).is_err());
        let msg = WorkloadTier::parse("E9").unwrap_err().to_string();
        assert!(msg.contains("E9") && msg.contains("A3"), "{msg}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,6}") {
            if let Ok(t) = WorkloadTier::parse(&s) {
                prop_assert_eq!(t.to_string(), s);
            }
        }
    }
}
