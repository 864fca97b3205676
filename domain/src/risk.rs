//! Risk value types shared by the lifecycle and the policy calculators: RoSH level, MAPPA
//! category and level. Invalid values cannot be constructed.
//!
//! Sources: RoSH levels low / medium / high / very high (seed-digest §1c, seed 001 l.57–67);
//! MAPPA categories 1–4 and levels 0–3 as coded by nDelius (`M1`–`M4`, `M0`–`M3`;
//! enforcement-and-workload.md §7; tier-rules.md §2).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Risk of Serious Harm level (OASys RoSH).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoshLevel {
    Low,
    Medium,
    High,
    VeryHigh,
}

impl RoshLevel {
    /// High or very high: the TR-era threshold for NPS management (BR-A4, seed 000 l.9).
    pub fn is_high_or_above(self) -> bool {
        matches!(self, RoshLevel::High | RoshLevel::VeryHigh)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RoshLevel::Low => "low",
            RoshLevel::Medium => "medium",
            RoshLevel::High => "high",
            RoshLevel::VeryHigh => "very_high",
        }
    }
    pub fn parse(s: &str) -> Result<Self, RiskValueError> {
        match s {
            "low" => Ok(RoshLevel::Low),
            "medium" => Ok(RoshLevel::Medium),
            "high" => Ok(RoshLevel::High),
            "very_high" => Ok(RoshLevel::VeryHigh),
            other => Err(RiskValueError::RoshLevel(other.to_owned())),
        }
    }
}

impl fmt::Display for RoshLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MAPPA level 0–3 (0 = nominal / unknown in nDelius coding `M0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct MappaLevel(u8);

impl MappaLevel {
    pub const MAX: u8 = 3;
    pub fn new(level: u8) -> Result<Self, RiskValueError> {
        if level <= Self::MAX {
            Ok(MappaLevel(level))
        } else {
            Err(RiskValueError::MappaLevel(level))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for MappaLevel {
    type Error = RiskValueError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        MappaLevel::new(v)
    }
}

impl From<MappaLevel> for u8 {
    fn from(v: MappaLevel) -> u8 {
        v.0
    }
}

/// MAPPA category 1–4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct MappaCategory(u8);

impl MappaCategory {
    pub fn new(category: u8) -> Result<Self, RiskValueError> {
        if (1..=4).contains(&category) {
            Ok(MappaCategory(category))
        } else {
            Err(RiskValueError::MappaCategory(category))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for MappaCategory {
    type Error = RiskValueError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        MappaCategory::new(v)
    }
}

impl From<MappaCategory> for u8 {
    fn from(v: MappaCategory) -> u8 {
        v.0
    }
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RiskValueError {
    #[error("RoSH level {0:?} is not one of low, medium, high, very_high")]
    RoshLevel(String),
    #[error("MAPPA level {0} is not 0, 1, 2 or 3")]
    MappaLevel(u8),
    #[error("MAPPA category {0} is not 1, 2, 3 or 4")]
    MappaCategory(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappa_values_outside_their_ranges_cannot_be_constructed() {
        assert!(MappaLevel::new(3).is_ok());
        assert_eq!(MappaLevel::new(4), Err(RiskValueError::MappaLevel(4)));
        assert!(MappaCategory::new(0).is_err());
        assert!(MappaCategory::new(5).is_err());
        assert_eq!(MappaCategory::new(4).unwrap().get(), 4);
    }

    #[test]
    fn rosh_round_trips_through_its_contract_spelling() {
        for r in [
            RoshLevel::Low,
            RoshLevel::Medium,
            RoshLevel::High,
            RoshLevel::VeryHigh,
        ] {
            assert_eq!(RoshLevel::parse(r.as_str()), Ok(r));
        }
        assert!(RoshLevel::parse("VERY_HIGH").is_err());
        assert!(RoshLevel::High.is_high_or_above() && !RoshLevel::Medium.is_high_or_above());
    }
}
