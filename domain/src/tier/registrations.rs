//! Registration handling (tier-rules.md §2; hmpps-tier `DeliusApiService.kt`,
//! `DeliusRegistration.kt`, `domain/enums/*.kt` @ affac98a).
//!
//! Turns the active Delius registrations into the facts the protect, change and V3 rules
//! read. RoSH is deliberately *not* derived here: it comes only from `TierInput::rosh`
//! (tier-rules.md §2, last paragraph; policy-cli-contract.md clarifications).

use serde::{Deserialize, Serialize};

use super::input::Registration;
use crate::risk::{MappaCategory, MappaLevel};

/// Historic registration: dropped before anything else (tier-rules.md §2.1).
pub const HISTORIC: &str = "HREG";
/// MAPPA registration; level `M0`–`M3`, category `M1`–`M4` (tier-rules.md §2.3).
pub const MAPPA: &str = "MAPP";
/// Integrated Offender Management nominal (tier-rules.md §2.3, change axis §4.3).
pub const IOM_NOMINAL: &str = "IIOM";
/// Lifer / IPP (tier-rules.md §2.3, V3 lifer step §6.2).
pub const LIFER: &str = "INLL";
/// Domestic abuse perpetrator codes (tier-rules.md §2.3).
pub const DOMESTIC_ABUSE: [&str; 2] = ["ADVP", "REG30"];
/// Stalking protection order (tier-rules.md §2.3).
pub const STALKING: &str = "SPO";
/// Child protection (tier-rules.md §2.3; also a complexity factor).
pub const CHILD_PROTECTION: &str = "RCPR";
/// Post-sentence unsupervised ("two-thirds") case: the `S` of a V2 tier (tier-rules.md §2.3, §5).
pub const UNSUPERVISED: &str = "PRC";

/// The ten complexity factors of the protect axis, 2 points each (tier-rules.md §2.3, §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplexityFactor {
    /// `RMDO`
    MentalHealth,
    /// `ALSH`
    AttemptedSuicideOrSelfHarm,
    /// `RVLN`
    Vulnerability,
    /// `RCCO`
    ChildConcerns,
    /// `RCPR`
    ChildProtection,
    /// `RCHD`
    RiskToChildren,
    /// `RPIR`
    PublicInterestCase,
    /// `RVAD`
    AdultAtRisk,
    /// `STRG`
    StreetGangs,
    /// `RTAO`
    TerrorismActOffender,
}

impl ComplexityFactor {
    pub const ALL: [ComplexityFactor; 10] = [
        ComplexityFactor::MentalHealth,
        ComplexityFactor::AttemptedSuicideOrSelfHarm,
        ComplexityFactor::Vulnerability,
        ComplexityFactor::ChildConcerns,
        ComplexityFactor::ChildProtection,
        ComplexityFactor::RiskToChildren,
        ComplexityFactor::PublicInterestCase,
        ComplexityFactor::AdultAtRisk,
        ComplexityFactor::StreetGangs,
        ComplexityFactor::TerrorismActOffender,
    ];

    /// The Delius register type code of the factor.
    pub fn code(self) -> &'static str {
        match self {
            ComplexityFactor::MentalHealth => "RMDO",
            ComplexityFactor::AttemptedSuicideOrSelfHarm => "ALSH",
            ComplexityFactor::Vulnerability => "RVLN",
            ComplexityFactor::ChildConcerns => "RCCO",
            ComplexityFactor::ChildProtection => "RCPR",
            ComplexityFactor::RiskToChildren => "RCHD",
            ComplexityFactor::PublicInterestCase => "RPIR",
            ComplexityFactor::AdultAtRisk => "RVAD",
            ComplexityFactor::StreetGangs => "STRG",
            ComplexityFactor::TerrorismActOffender => "RTAO",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        ComplexityFactor::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// What the registrations say, after tier-rules.md §2 steps 1–3.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationFacts {
    /// Level of the newest `MAPP` registration at `M1`–`M3` (§2.3).
    pub mappa_level: Option<MappaLevel>,
    /// Category of the newest `MAPP` registration, if `M1`–`M4` (§2.3).
    pub mappa_category: Option<MappaCategory>,
    /// Distinct complexity factors present, in [`ComplexityFactor`] order (§2.3).
    pub complexity_factors: Vec<ComplexityFactor>,
    pub iom_nominal: bool,
    pub lifer: bool,
    pub domestic_abuse: bool,
    pub stalking: bool,
    pub child_protection: bool,
    pub unsupervised: bool,
}

impl RegistrationFacts {
    /// "MAPPA present" for V3 means a MAPPA *category* exists (tier-rules.md §6.2).
    pub fn mappa_present(&self) -> bool {
        self.mappa_category.is_some()
    }
}

/// `M1`, `M2`, `M3` → the MAPPA level; `M0`, anything else or nothing → none
/// (tier-rules.md §2.3: `M0` and no level are skipped).
fn mappa_level(code: Option<&str>) -> Option<MappaLevel> {
    let level = match code? {
        "M1" => 1,
        "M2" => 2,
        "M3" => 3,
        _ => return None,
    };
    MappaLevel::new(level).ok()
}

/// `M1`–`M4` → the MAPPA category; anything else → none (tier-rules.md §2.3).
fn mappa_category(code: Option<&str>) -> Option<MappaCategory> {
    let category = match code? {
        "M1" => 1,
        "M2" => 2,
        "M3" => 3,
        "M4" => 4,
        _ => return None,
    };
    MappaCategory::new(category).ok()
}

/// Drop `HREG` (§2.1) and order the rest newest first, ties keeping input order (§2.2).
pub fn active_newest_first(registrations: &[Registration]) -> Vec<&Registration> {
    let mut active: Vec<&Registration> = registrations
        .iter()
        .filter(|r| r.code != HISTORIC)
        .collect();
    // `sort_by_key` is stable: equal dates keep their input order (tier-rules.md §2.2).
    active.sort_by_key(|r| std::cmp::Reverse(r.date));
    active
}

/// Derive the facts of tier-rules.md §2.3 from the active registrations.
pub fn derive(registrations: &[Registration]) -> RegistrationFacts {
    let ordered = active_newest_first(registrations);
    let has = |code: &str| ordered.iter().any(|r| r.code == code);

    // §2.3: newest MAPP with level M1–M3; an M0 or level-less MAPP is skipped, so an older
    // M2 still counts behind a newer M0.
    let mappa_level = ordered
        .iter()
        .filter(|r| r.code == MAPPA)
        .find_map(|r| mappa_level(r.level.as_deref()));
    // §2.3: category of the newest MAPP whatever its level, with no fall-back to older ones.
    let mappa_category = ordered
        .iter()
        .find(|r| r.code == MAPPA)
        .and_then(|r| mappa_category(r.category.as_deref()));

    let complexity_factors = ComplexityFactor::ALL
        .into_iter()
        .filter(|f| has(f.code()))
        .collect();

    RegistrationFacts {
        mappa_level,
        mappa_category,
        complexity_factors,
        iom_nominal: has(IOM_NOMINAL),
        lifer: has(LIFER),
        domestic_abuse: DOMESTIC_ABUSE.iter().any(|c| has(c)),
        stalking: has(STALKING),
        child_protection: has(CHILD_PROTECTION),
        unsupervised: has(UNSUPERVISED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn reg(code: &str, d: (i16, i8, i8)) -> Registration {
        Registration::new(code, date(d.0, d.1, d.2))
    }

    /// tier-rules.md §2.1: HREG is dropped whatever its level, so a historic MAPP-levelled
    /// HREG gives nothing.
    #[test]
    fn tier_2_1_historic_registrations_are_dropped() {
        let regs = vec![
            reg("HREG", (2024, 1, 1))
                .with_level("M3")
                .with_category("M1"),
            reg("RCCO", (2020, 1, 1)),
        ];
        assert_eq!(active_newest_first(&regs).len(), 1);
        let facts = derive(&regs);
        assert_eq!(facts.mappa_level, None);
        assert_eq!(facts.mappa_category, None);
        assert_eq!(
            facts.complexity_factors,
            vec![ComplexityFactor::ChildConcerns]
        );
        assert!(derive(&[reg("HREG", (2024, 1, 1))]) == RegistrationFacts::default());
    }

    /// tier-rules.md §2.2: newest first; equal dates keep input order.
    #[test]
    fn tier_2_2_newest_first_with_ties_in_input_order() {
        let regs = vec![
            reg("A", (2020, 1, 1)),
            reg("B", (2023, 5, 1)),
            reg("C", (2020, 1, 1)),
            reg("D", (2023, 5, 1)),
        ];
        let codes: Vec<&str> = active_newest_first(&regs)
            .iter()
            .map(|r| r.code.as_str())
            .collect();
        assert_eq!(codes, ["B", "D", "A", "C"]);
    }

    /// tier-rules.md §2.3: the newest MAPP at M1–M3 sets the level; a newer M0 (or no
    /// level) is skipped so an older M2 still counts.
    #[test]
    fn tier_2_3_mappa_m0_is_skipped_behind_an_older_m2() {
        let regs = vec![
            reg("MAPP", (2024, 1, 1)).with_level("M0"),
            reg("MAPP", (2023, 1, 1)),
            reg("MAPP", (2022, 1, 1)).with_level("M2"),
            reg("MAPP", (2021, 1, 1)).with_level("M3"),
        ];
        assert_eq!(derive(&regs).mappa_level, MappaLevel::new(2).ok());
    }

    /// Same-day MAPP registrations: the first in input order wins (§2.2 + §2.3).
    #[test]
    fn tier_2_3_mappa_same_day_tie_takes_the_first_in_input_order() {
        let regs = vec![
            reg("MAPP", (2024, 1, 1)).with_level("M1"),
            reg("MAPP", (2024, 1, 1)).with_level("M3"),
        ];
        assert_eq!(derive(&regs).mappa_level, MappaLevel::new(1).ok());
    }

    /// tier-rules.md §2.3: category is that of the newest MAPP whatever its level, with no
    /// fall-back to older ones.
    #[test]
    fn tier_2_3_mappa_category_comes_only_from_the_newest_mapp() {
        let regs = vec![
            reg("MAPP", (2024, 1, 1))
                .with_level("M0")
                .with_category("M2"),
            reg("MAPP", (2020, 1, 1))
                .with_level("M3")
                .with_category("M1"),
        ];
        assert_eq!(derive(&regs).mappa_category, MappaCategory::new(2).ok());
        let regs = vec![
            reg("MAPP", (2024, 1, 1))
                .with_level("M1")
                .with_category("X9"),
            reg("MAPP", (2020, 1, 1)).with_category("M1"),
        ];
        let facts = derive(&regs);
        assert_eq!(facts.mappa_category, None);
        assert!(!facts.mappa_present());
        assert_eq!(facts.mappa_level, MappaLevel::new(1).ok());
    }

    /// tier-rules.md §2.3: complexity factors are counted once per distinct code.
    #[test]
    fn tier_2_3_complexity_factors_are_distinct() {
        let regs = vec![
            reg("RMDO", (2024, 1, 1)),
            reg("RMDO", (2023, 1, 1)),
            reg("STRG", (2023, 1, 1)),
            reg("RVHR", (2023, 1, 1)),
        ];
        assert_eq!(
            derive(&regs).complexity_factors,
            vec![
                ComplexityFactor::MentalHealth,
                ComplexityFactor::StreetGangs
            ]
        );
    }

    /// tier-rules.md §2.3: the flag codes.
    #[test]
    fn tier_2_3_flags_from_codes() {
        let facts = derive(&[
            reg("IIOM", (2024, 1, 1)),
            reg("INLL", (2024, 1, 1)),
            reg("REG30", (2024, 1, 1)),
            reg("SPO", (2024, 1, 1)),
            reg("RCPR", (2024, 1, 1)),
            reg("PRC", (2024, 1, 1)),
        ]);
        assert!(facts.iom_nominal && facts.lifer && facts.domestic_abuse);
        assert!(facts.stalking && facts.child_protection && facts.unsupervised);
        assert!(derive(&[reg("ADVP", (2024, 1, 1))]).domestic_abuse);
        let none = derive(&[reg("XYZ", (2024, 1, 1))]);
        assert_eq!(none, RegistrationFacts::default());
    }
}
