//! V2 protect axis, A–D (tier-rules.md §3; hmpps-tier `ProtectLevelCalculator.kt`,
//! `AdditionalFactorsForWomen.kt`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::{Gender, TierInput, RSR_UNKNOWN};
use super::registrations::{ComplexityFactor, RegistrationFacts};
use crate::risk::RoshLevel;

/// Protect level: A is the highest risk of harm (tier-rules.md §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProtectLevel {
    A,
    B,
    C,
    D,
}

/// Lowest total scoring A (tier-rules.md §3.3).
pub const PROTECT_A_POINTS_MIN: u16 = 150;
/// Lowest total scoring B (tier-rules.md §3.3).
pub const PROTECT_B_POINTS_MIN: u16 = 20;
/// Lowest total scoring C (tier-rules.md §3.3).
pub const PROTECT_C_POINTS_MIN: u16 = 10;

impl ProtectLevel {
    /// Bands of tier-rules.md §3.3: ≥ 150 A, 20–149 B, 10–19 C, 0–9 D.
    pub fn from_points(points: u16) -> Self {
        if points >= PROTECT_A_POINTS_MIN {
            ProtectLevel::A
        } else if points >= PROTECT_B_POINTS_MIN {
            ProtectLevel::B
        } else if points >= PROTECT_C_POINTS_MIN {
            ProtectLevel::C
        } else {
            ProtectLevel::D
        }
    }
    pub fn letter(self) -> char {
        match self {
            ProtectLevel::A => 'A',
            ProtectLevel::B => 'B',
            ProtectLevel::C => 'C',
            ProtectLevel::D => 'D',
        }
    }
    pub fn from_letter(c: char) -> Option<Self> {
        match c {
            'A' => Some(ProtectLevel::A),
            'B' => Some(ProtectLevel::B),
            'C' => Some(ProtectLevel::C),
            'D' => Some(ProtectLevel::D),
            _ => None,
        }
    }
}

impl fmt::Display for ProtectLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// Female-only factors (tier-rules.md §3.4); all zero for a man.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FemaleFactorPoints {
    /// OASys 6.9 parenting responsibilities answered Yes: 2.
    pub parenting_responsibilities: u8,
    /// OASys 11.2 impulsivity or 11.4 temper control above 0: 2, once even if both.
    pub impulsivity_or_temper_control: u8,
    /// Breach or recall outcome in the last 365 days: 2, once.
    pub previous_enforcement: u8,
}

impl FemaleFactorPoints {
    pub fn total(self) -> u8 {
        self.parenting_responsibilities
            + self.impulsivity_or_temper_control
            + self.previous_enforcement
    }
}

/// Where the protect points came from, so a reader can see why (tier-rules.md §3.1–§3.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectBreakdown {
    pub rsr_points: u8,
    pub rosh_points: u8,
    /// The lower of RSR and RoSH points, which does not count (tier-rules.md §3.2).
    pub rsr_rosh_discarded_points: u8,
    pub mappa_points: u8,
    pub complexity_factors: Vec<ComplexityFactor>,
    pub complexity_points: u8,
    pub female_factors: FemaleFactorPoints,
    pub total: u16,
}

/// Points per complexity factor (tier-rules.md §3.1).
pub const COMPLEXITY_FACTOR_POINTS: u8 = 2;
/// Points per female-only factor (tier-rules.md §3.4).
pub const FEMALE_FACTOR_POINTS: u8 = 2;

/// RSR points (tier-rules.md §3.1): ≥ 7 → 20, ≥ 3 → 10, else 0; unknown (999.99) or
/// none → 0. Plain thresholds, not hmpps-tier's `BigDecimal(double)` ones (§3.5).
pub fn rsr_points(rsr: Option<f64>) -> u8 {
    match rsr {
        None => 0,
        #[allow(clippy::float_cmp)]
        Some(score) if score == RSR_UNKNOWN => 0,
        Some(score) if score >= 7.0 => 20,
        Some(score) if score >= 3.0 => 10,
        Some(_) => 0,
    }
}

/// RoSH points (tier-rules.md §3.1): very high 150, high 20, medium 10, low or none 0.
pub fn rosh_points(rosh: Option<RoshLevel>) -> u8 {
    match rosh {
        Some(RoshLevel::VeryHigh) => 150,
        Some(RoshLevel::High) => 20,
        Some(RoshLevel::Medium) => 10,
        Some(RoshLevel::Low) | None => 0,
    }
}

/// MAPPA points (tier-rules.md §3.1): M2 or M3 → 150, M1 → 5, none → 0.
pub fn mappa_points(facts: &RegistrationFacts) -> u8 {
    match facts.mappa_level.map(|l| l.get()) {
        Some(2..) => 150,
        Some(1) => 5,
        _ => 0,
    }
}

/// Female-only factors (tier-rules.md §3.4). The first two need an assessment;
/// previous enforcement counts without one.
pub fn female_factor_points(input: &TierInput) -> FemaleFactorPoints {
    if input.gender != Gender::Female {
        return FemaleFactorPoints::default();
    }
    let mut points = FemaleFactorPoints::default();
    if let Some(a) = &input.assessment {
        if a.parenting_responsibilities {
            points.parenting_responsibilities = FEMALE_FACTOR_POINTS;
        }
        if a.impulsivity > 0 || a.temper_control > 0 {
            points.impulsivity_or_temper_control = FEMALE_FACTOR_POINTS;
        }
    }
    if input.previous_enforcement {
        points.previous_enforcement = FEMALE_FACTOR_POINTS;
    }
    points
}

/// The protect total (tier-rules.md §3.2):
/// `RSR + RoSH + MAPPA + complexity + female factors − min(RSR, RoSH)`.
pub fn protect(input: &TierInput, facts: &RegistrationFacts) -> (ProtectLevel, ProtectBreakdown) {
    let rsr = rsr_points(input.rsr);
    let rosh = rosh_points(input.rosh);
    let discarded = rsr.min(rosh);
    let mappa = mappa_points(facts);
    // At most 10 distinct factors (§2.3), so at most 20 points: no overflow.
    debug_assert!(facts.complexity_factors.len() <= ComplexityFactor::ALL.len());
    let complexity = facts.complexity_factors.len() as u8 * COMPLEXITY_FACTOR_POINTS;
    let female = female_factor_points(input);
    let total = u16::from(rsr.max(rosh))
        + u16::from(mappa)
        + u16::from(complexity)
        + u16::from(female.total());
    // Largest possible: 150 + 150 + 20 + 6.
    debug_assert!(total <= 326);
    let breakdown = ProtectBreakdown {
        rsr_points: rsr,
        rosh_points: rosh,
        rsr_rosh_discarded_points: discarded,
        mappa_points: mappa,
        complexity_factors: facts.complexity_factors.clone(),
        complexity_points: complexity,
        female_factors: female,
        total,
    };
    (ProtectLevel::from_points(total), breakdown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::input::{Assessment, Registration};
    use crate::tier::registrations::derive;
    use jiff::civil::date;

    fn today() -> jiff::civil::Date {
        date(2025, 6, 15)
    }

    fn points(input: &TierInput) -> u16 {
        protect(input, &derive(&input.registrations)).1.total
    }

    /// tier-rules.md §3.1: RSR boundaries 7.0 / 6.9 / 3.0 / 2.9 and 999.99 unknown.
    #[test]
    fn tier_3_1_rsr_band_edges() {
        assert_eq!(rsr_points(Some(7.0)), 20);
        assert_eq!(rsr_points(Some(6.9)), 10);
        assert_eq!(rsr_points(Some(3.0)), 10);
        assert_eq!(rsr_points(Some(2.9)), 0);
        assert_eq!(rsr_points(Some(100.0)), 20);
        assert_eq!(rsr_points(Some(0.0)), 0);
        assert_eq!(rsr_points(Some(999.99)), 0);
        assert_eq!(rsr_points(None), 0);
    }

    /// tier-rules.md §3.5: plain thresholds, unlike hmpps-tier's BigDecimal(double) ones.
    #[test]
    fn tier_3_5_plain_thresholds_between_6_99_and_7() {
        assert_eq!(rsr_points(Some(6.995)), 10);
        assert_eq!(rsr_points(Some(99.99)), 20);
    }

    /// tier-rules.md §3.1: RoSH points.
    #[test]
    fn tier_3_1_rosh_points() {
        assert_eq!(rosh_points(Some(RoshLevel::VeryHigh)), 150);
        assert_eq!(rosh_points(Some(RoshLevel::High)), 20);
        assert_eq!(rosh_points(Some(RoshLevel::Medium)), 10);
        assert_eq!(rosh_points(Some(RoshLevel::Low)), 0);
        assert_eq!(rosh_points(None), 0);
    }

    /// tier-rules.md §3.2: only the higher of RSR and RoSH counts.
    #[test]
    fn tier_3_2_only_the_higher_of_rsr_and_rosh_counts() {
        let mut input = TierInput::new(today());
        input.rsr = Some(7.0);
        input.rosh = Some(RoshLevel::Medium);
        let (_, b) = protect(&input, &derive(&[]));
        assert_eq!((b.rsr_points, b.rosh_points), (20, 10));
        assert_eq!(b.rsr_rosh_discarded_points, 10);
        assert_eq!(b.total, 20);
        input.rosh = Some(RoshLevel::VeryHigh);
        assert_eq!(points(&input), 150);
    }

    /// tier-rules.md §3.1: MAPPA M3/M2 150, M1 5; complexity 2 each.
    #[test]
    fn tier_3_1_mappa_and_complexity_points() {
        let mut input = TierInput::new(today());
        for (level, want) in [("M3", 150), ("M2", 150), ("M1", 5), ("M0", 0)] {
            input.registrations = vec![Registration::new("MAPP", today()).with_level(level)];
            assert_eq!(points(&input), want, "{level}");
        }
        input.registrations = ComplexityFactor::ALL
            .iter()
            .map(|f| Registration::new(f.code(), today()))
            .collect();
        assert_eq!(points(&input), 20);
    }

    /// tier-rules.md §3.3: band edges 150/149, 20/19, 10/9.
    #[test]
    fn tier_3_3_protect_band_edges() {
        assert_eq!(ProtectLevel::from_points(150), ProtectLevel::A);
        assert_eq!(ProtectLevel::from_points(149), ProtectLevel::B);
        assert_eq!(ProtectLevel::from_points(20), ProtectLevel::B);
        assert_eq!(ProtectLevel::from_points(19), ProtectLevel::C);
        assert_eq!(ProtectLevel::from_points(10), ProtectLevel::C);
        assert_eq!(ProtectLevel::from_points(9), ProtectLevel::D);
        assert_eq!(ProtectLevel::from_points(0), ProtectLevel::D);
    }

    /// tier-rules.md §3.4: female-only factors; men always score 0 for them.
    #[test]
    fn tier_3_4_female_only_factors() {
        let mut a = Assessment::new(date(2025, 5, 16));
        a.parenting_responsibilities = true;
        a.impulsivity = 1;
        a.temper_control = 2;
        let mut input = TierInput::new(today());
        input.assessment = Some(a);
        input.previous_enforcement = true;
        assert_eq!(points(&input), 0, "male");
        input.gender = Gender::Female;
        let f = female_factor_points(&input);
        assert_eq!(
            (
                f.parenting_responsibilities,
                f.impulsivity_or_temper_control,
                f.previous_enforcement
            ),
            (2, 2, 2)
        );
        assert_eq!(points(&input), 6);
        // Without an assessment only previous enforcement counts.
        input.assessment = None;
        assert_eq!(points(&input), 2);
        input.previous_enforcement = false;
        assert_eq!(points(&input), 0);
    }
}
