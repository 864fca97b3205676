//! V2 change axis, 0–3 (tier-rules.md §4; hmpps-tier `ChangeLevelCalculator.kt`,
//! `MandateForChange.kt`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::{Conviction, Need, Severity, TierInput};
use super::registrations::RegistrationFacts;

/// Change level: 3 is the most need and likelihood of change (tier-rules.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ChangeLevel {
    Zero,
    One,
    Two,
    Three,
}

/// Lowest total scoring change level 3 (tier-rules.md §4.3).
pub const CHANGE_3_POINTS_MIN: u16 = 20;
/// Lowest total scoring change level 2 (tier-rules.md §4.3).
pub const CHANGE_2_POINTS_MIN: u16 = 10;
/// Points for an IOM nominal, `IIOM` (tier-rules.md §4.3).
pub const IOM_NOMINAL_POINTS: u8 = 2;
/// Requirement categories that do not make a mandate for change: `W` unpaid work and
/// `W1` order extended (tier-rules.md §4.1).
pub const NON_MANDATE_REQUIREMENT_CATEGORIES: [&str; 2] = ["W", "W1"];

impl ChangeLevel {
    /// Bands of tier-rules.md §4.3 for a scored case: ≥ 20 → 3, 10–19 → 2, 0–9 → 1.
    /// (Level 0 comes only from "no mandate", §4.1.)
    pub fn from_points(points: u16) -> Self {
        if points >= CHANGE_3_POINTS_MIN {
            ChangeLevel::Three
        } else if points >= CHANGE_2_POINTS_MIN {
            ChangeLevel::Two
        } else {
            ChangeLevel::One
        }
    }
    pub fn digit(self) -> u8 {
        match self {
            ChangeLevel::Zero => 0,
            ChangeLevel::One => 1,
            ChangeLevel::Two => 2,
            ChangeLevel::Three => 3,
        }
    }
    pub fn from_digit(d: u8) -> Option<Self> {
        match d {
            0 => Some(ChangeLevel::Zero),
            1 => Some(ChangeLevel::One),
            2 => Some(ChangeLevel::Two),
            3 => Some(ChangeLevel::Three),
            _ => None,
        }
    }
}

impl fmt::Display for ChangeLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.digit())
    }
}

/// Which branch of tier-rules.md §4 decided the change level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeBasis {
    /// §4.1: no current conviction with a mandate for change → level 0, 0 points.
    NoMandate,
    /// §4.2: no completed Layer 3 assessment → level 2, 0 points.
    NoAssessment,
    /// §4.3: points from needs, OGRS and IOM.
    Scored,
}

/// Points of one assessed need: weight × severity (tier-rules.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedPoints {
    pub need: Need,
    pub severity: Severity,
    pub points: u8,
}

/// Where the change points came from (tier-rules.md §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeBreakdown {
    pub basis: ChangeBasis,
    /// Assessed needs in [`Need`] order; empty unless `basis` is `Scored`.
    pub needs: Vec<NeedPoints>,
    pub ogrs_points: u8,
    pub iom_nominal_points: u8,
    pub total: u16,
}

/// A mandate for change (tier-rules.md §4.1): a current conviction that is custodial, or
/// has a requirement that is not restrictive and is neither `W` nor `W1`.
pub fn has_mandate_for_change(convictions: &[Conviction]) -> bool {
    convictions.iter().filter(|c| c.is_current()).any(|c| {
        c.sentence_type.is_custodial()
            || c.requirements.iter().any(|r| {
                !r.restrictive && !NON_MANDATE_REQUIREMENT_CATEGORIES.contains(&r.category.as_str())
            })
    })
}

/// OGRS points (tier-rules.md §4.3): `floor(ogrs / 10)`; none → 0.
pub fn ogrs_points(ogrs: Option<u8>) -> u8 {
    ogrs.map_or(0, |o| o / 10)
}

/// The change level and its breakdown (tier-rules.md §4.1–§4.3, evaluated in order).
pub fn change(input: &TierInput, facts: &RegistrationFacts) -> (ChangeLevel, ChangeBreakdown) {
    let empty = |basis| ChangeBreakdown {
        basis,
        needs: Vec::new(),
        ogrs_points: 0,
        iom_nominal_points: 0,
        total: 0,
    };
    if !has_mandate_for_change(&input.convictions) {
        return (ChangeLevel::Zero, empty(ChangeBasis::NoMandate));
    }
    // §4.2: the age of the assessment does not matter; only its absence does.
    let Some(assessment) = &input.assessment else {
        return (ChangeLevel::Two, empty(ChangeBasis::NoAssessment));
    };
    let needs: Vec<NeedPoints> = assessment
        .needs
        .iter()
        .map(|(&need, &severity)| NeedPoints {
            need,
            severity,
            points: need.weight() * severity.multiplier(),
        })
        .collect();
    let ogrs = ogrs_points(input.ogrs);
    let iom = if facts.iom_nominal {
        IOM_NOMINAL_POINTS
    } else {
        0
    };
    let total =
        needs.iter().map(|n| u16::from(n.points)).sum::<u16>() + u16::from(ogrs) + u16::from(iom);
    // Largest possible: needs 6×2 + 2×4 = 20, OGRS 10, IOM 2.
    debug_assert!(total <= 32);
    let breakdown = ChangeBreakdown {
        basis: ChangeBasis::Scored,
        needs,
        ogrs_points: ogrs,
        iom_nominal_points: iom,
        total,
    };
    (ChangeLevel::from_points(total), breakdown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::input::{Assessment, Registration, Requirement, SentenceType};
    use crate::tier::registrations::derive;
    use jiff::civil::date;

    fn community(requirements: &[(&str, bool)]) -> Conviction {
        let mut c = Conviction::new(SentenceType::Community);
        c.requirements = requirements
            .iter()
            .map(|(category, restrictive)| Requirement {
                category: (*category).into(),
                restrictive: *restrictive,
            })
            .collect();
        c
    }

    fn scored_input() -> TierInput {
        let mut input = TierInput::new(date(2025, 6, 15));
        input.convictions = vec![Conviction::new(SentenceType::CustodialNc)];
        input.assessment = Some(Assessment::new(date(2025, 5, 16)));
        input
    }

    fn run(input: &TierInput) -> (ChangeLevel, ChangeBreakdown) {
        change(input, &derive(&input.registrations))
    }

    /// tier-rules.md §4.1: custodial sentences have a mandate; community ones need a
    /// non-restrictive requirement other than W / W1; terminated convictions never count.
    #[test]
    fn tier_4_1_mandate_for_change() {
        assert!(!has_mandate_for_change(&[]));
        assert!(has_mandate_for_change(&[Conviction::new(
            SentenceType::CustodialNc
        )]));
        assert!(has_mandate_for_change(&[Conviction::new(
            SentenceType::CustodialSc
        )]));
        assert!(!has_mandate_for_change(&[community(&[])]));
        assert!(!has_mandate_for_change(&[community(&[
            ("W", false),
            ("W1", false)
        ])]));
        assert!(!has_mandate_for_change(&[community(&[("F", true)])]));
        assert!(has_mandate_for_change(&[community(&[
            ("W", false),
            ("F", false)
        ])]));
        let mut ended = Conviction::new(SentenceType::CustodialSc);
        // Any termination date ends it, even one after today (tier-rules.md §1).
        ended.terminated = Some(date(2099, 1, 1));
        assert!(!has_mandate_for_change(&[ended]));
    }

    /// tier-rules.md §4.1: no mandate → level 0 and 0 points, whatever the scores.
    #[test]
    fn tier_4_1_no_mandate_gives_zero() {
        let mut input = scored_input();
        input.convictions = vec![community(&[("W", false)])];
        input.ogrs = Some(100);
        input.registrations = vec![Registration::new("IIOM", date(2024, 1, 1))];
        let (level, b) = run(&input);
        assert_eq!(
            (level, b.total, b.basis),
            (ChangeLevel::Zero, 0, ChangeBasis::NoMandate)
        );
    }

    /// tier-rules.md §4.2: no assessment → level 2 and 0 points, whatever the scores.
    #[test]
    fn tier_4_2_no_assessment_gives_two() {
        let mut input = scored_input();
        input.assessment = None;
        input.ogrs = Some(100);
        let (level, b) = run(&input);
        assert_eq!(
            (level, b.total, b.basis),
            (ChangeLevel::Two, 0, ChangeBasis::NoAssessment)
        );
    }

    /// tier-rules.md §4.3: OGRS floor(ogrs / 10), edges 9 and 10.
    #[test]
    fn tier_4_3_ogrs_points() {
        assert_eq!(ogrs_points(Some(9)), 0);
        assert_eq!(ogrs_points(Some(10)), 1);
        assert_eq!(ogrs_points(Some(59)), 5);
        assert_eq!(ogrs_points(Some(100)), 10);
        assert_eq!(ogrs_points(None), 0);
    }

    /// tier-rules.md §4.3: weight × severity, plus IOM 2.
    #[test]
    fn tier_4_3_need_weights_and_iom() {
        let mut input = scored_input();
        let a = input.assessment.as_mut().unwrap();
        for need in Need::ALL {
            a.needs.insert(need, Severity::Severe);
        }
        let (level, b) = run(&input);
        assert_eq!(b.total, 20);
        assert_eq!(level, ChangeLevel::Three);
        let tb = b
            .needs
            .iter()
            .find(|n| n.need == Need::ThinkingAndBehaviour)
            .unwrap();
        assert_eq!(tb.points, 4);
        let fm = b
            .needs
            .iter()
            .find(|n| n.need == Need::FinancialManagement)
            .unwrap();
        assert_eq!(fm.points, 0);
        input.registrations = vec![Registration::new("IIOM", date(2024, 1, 1))];
        assert_eq!(run(&input).1.iom_nominal_points, 2);
        assert_eq!(run(&input).1.total, 22);
    }

    /// tier-rules.md §4.3: change band edges 20/19, 10/9; an empty assessment scores 1.
    #[test]
    fn tier_4_3_change_band_edges() {
        assert_eq!(ChangeLevel::from_points(20), ChangeLevel::Three);
        assert_eq!(ChangeLevel::from_points(19), ChangeLevel::Two);
        assert_eq!(ChangeLevel::from_points(10), ChangeLevel::Two);
        assert_eq!(ChangeLevel::from_points(9), ChangeLevel::One);
        assert_eq!(ChangeLevel::from_points(0), ChangeLevel::One);
        assert_eq!(run(&scored_input()).0, ChangeLevel::One);
    }
}
