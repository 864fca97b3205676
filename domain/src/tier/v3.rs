//! V3 single-axis tier, A (highest) … G (lowest) (tier-rules.md §6; hmpps-tier
//! `TierCalculator.kt`, `ReoffendingPredictorTable.kt`, `client/arns/ogrs4/ValidPredictor.kt`).

use std::fmt;

use jiff::civil::Date;
use jiff::Span;
use serde::{Deserialize, Serialize};

use super::error::TierError;
use super::input::{DcSrpBand, TierInput, V3Input};
use super::registrations::RegistrationFacts;
use crate::risk::RoshLevel;

/// A V3 level. Declared A first, so `A < G` in `Ord`: the *highest* tier is the *minimum*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum V3Level {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
}

impl V3Level {
    /// The higher (more serious) of two levels.
    pub fn highest(self, other: V3Level) -> V3Level {
        self.min(other)
    }
    /// `self` is a lower (less serious) tier than `other`.
    pub fn is_below(self, other: V3Level) -> bool {
        self > other
    }
    pub fn letter(self) -> char {
        match self {
            V3Level::A => 'A',
            V3Level::B => 'B',
            V3Level::C => 'C',
            V3Level::D => 'D',
            V3Level::E => 'E',
            V3Level::F => 'F',
            V3Level::G => 'G',
        }
    }
}

/// The V3 result (tier-rules.md §6.1, §8). Stored and shown in its contract spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum V3Tier {
    Level(V3Level),
    /// §6.1 gate 1: no current conviction.
    NotSupervised,
    /// §6.1 gate 2: ARP or CSRP missing.
    Missing,
}

impl V3Tier {
    /// Contract spelling: `A`–`G`, `NOT_SUPERVISED`, `MISSING` (tier-rules.md §8).
    pub fn as_str(self) -> &'static str {
        match self {
            V3Tier::Level(V3Level::A) => "A",
            V3Tier::Level(V3Level::B) => "B",
            V3Tier::Level(V3Level::C) => "C",
            V3Tier::Level(V3Level::D) => "D",
            V3Tier::Level(V3Level::E) => "E",
            V3Tier::Level(V3Level::F) => "F",
            V3Tier::Level(V3Level::G) => "G",
            V3Tier::NotSupervised => "NOT_SUPERVISED",
            V3Tier::Missing => "MISSING",
        }
    }
}

/// Every V3 result, in contract spelling order.
pub const V3_TIERS: [V3Tier; 9] = [
    V3Tier::Level(V3Level::A),
    V3Tier::Level(V3Level::B),
    V3Tier::Level(V3Level::C),
    V3Tier::Level(V3Level::D),
    V3Tier::Level(V3Level::E),
    V3Tier::Level(V3Level::F),
    V3Tier::Level(V3Level::G),
    V3Tier::NotSupervised,
    V3Tier::Missing,
];

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("v3: {0:?} is not a V3 tier (A–G, NOT_SUPERVISED or MISSING)")]
pub struct V3TierParseError(pub String);

impl std::str::FromStr for V3Tier {
    type Err = V3TierParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        V3_TIERS
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| V3TierParseError(s.to_owned()))
    }
}

impl From<V3Tier> for String {
    fn from(t: V3Tier) -> String {
        t.as_str().to_owned()
    }
}

impl TryFrom<String> for V3Tier {
    type Error = V3TierParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for V3Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// CSRP row thresholds, percent, highest first (tier-rules.md §6.2).
pub const CSRP_ROW_THRESHOLDS: [f64; 5] = [6.9, 3.0, 1.0, 0.5, 0.0];
/// ARP column thresholds, percent, highest first (tier-rules.md §6.2).
pub const ARP_COLUMN_THRESHOLDS: [f64; 6] = [90.0, 75.0, 50.0, 25.0, 15.0, 0.0];

/// The reoffending table, CSRP rows × ARP columns (tier-rules.md §6.2).
const REOFFENDING_TABLE: [[V3Level; 6]; 5] = {
    use V3Level::*;
    [
        [A, A, B, B, B, B],
        [A, B, C, C, C, C],
        [B, C, D, E, E, E],
        [C, D, E, E, F, F],
        [D, D, E, F, F, G],
    ]
};

/// Index of the first threshold the score reaches. Scores below the last threshold (0.0)
/// are refused by validation; should one arrive, it lands in the last (lowest) band.
fn band_index(score: f64, thresholds: &[f64]) -> usize {
    debug_assert!(!thresholds.is_empty());
    thresholds
        .iter()
        .position(|&t| score >= t)
        .unwrap_or(thresholds.len() - 1)
}

/// CSRP row of the reoffending table (tier-rules.md §6.2).
pub fn csrp_row(csrp: f64) -> usize {
    band_index(csrp, &CSRP_ROW_THRESHOLDS)
}

/// ARP column of the reoffending table (tier-rules.md §6.2).
pub fn arp_column(arp: f64) -> usize {
    band_index(arp, &ARP_COLUMN_THRESHOLDS)
}

/// The reoffending table cell (tier-rules.md §6.2).
pub fn reoffending_cell(row: usize, column: usize) -> V3Level {
    REOFFENDING_TABLE[row.min(4)][column.min(5)]
}

/// Reoffending step: ARP × CSRP (tier-rules.md §6.2).
pub fn reoffending(arp: f64, csrp: f64) -> V3Level {
    reoffending_cell(csrp_row(csrp), arp_column(arp))
}

/// DC-SRP medium ladder rungs (tier-rules.md §6.2): two scales mixed exactly as the
/// source does — "without risk reduction" 3.36 / 2.11, then "with risk reduction" 1.12 / 0.60.
pub const DC_SRP_MEDIUM_LADDER: [(f64, V3Level); 4] = [
    (3.36, V3Level::C),
    (2.11, V3Level::D),
    (1.12, V3Level::C),
    (0.60, V3Level::D),
];

/// Sexual reoffending step (DC-SRP, tier-rules.md §6.2). Counts only with a known score
/// above 0 and a known band other than `not_applicable`. A medium score below 0.60 is an
/// error: the source has no tier for it.
pub fn sexual_reoffending(v3: &V3Input) -> Result<Option<V3Level>, TierError> {
    let (Some(score), Some(band)) = (v3.dc_srp_score, v3.dc_srp_band) else {
        return Ok(None);
    };
    if score <= 0.0 {
        return Ok(None);
    }
    Ok(match band {
        DcSrpBand::VeryHigh => Some(V3Level::A),
        DcSrpBand::High => Some(V3Level::B),
        DcSrpBand::Medium => {
            let rung = DC_SRP_MEDIUM_LADDER
                .iter()
                .find(|(min, _)| score >= *min)
                .ok_or(TierError::UnsupportedDcSrp(score))?;
            Some(rung.1)
        }
        DcSrpBand::Low => Some(V3Level::E),
        DcSrpBand::NotApplicable => None,
    })
}

/// MAPPA + RoSH step (tier-rules.md §6.2). "MAPPA present" = a MAPPA category exists.
pub fn mappa_and_rosh(mappa_present: bool, rosh: Option<RoshLevel>) -> Option<V3Level> {
    match (mappa_present, rosh) {
        (true, Some(RoshLevel::VeryHigh)) => Some(V3Level::A),
        (true, Some(RoshLevel::High)) => Some(V3Level::C),
        (true, Some(RoshLevel::Medium)) => Some(V3Level::D),
        (true, Some(RoshLevel::Low) | None) => Some(V3Level::E),
        (false, Some(RoshLevel::VeryHigh)) => Some(V3Level::C),
        (false, Some(RoshLevel::High)) => Some(V3Level::D),
        (false, _) => None,
    }
}

/// Lifer window "recent release", in calendar months (tier-rules.md §6.2: 1 year).
pub const LIFER_RECENT_RELEASE_MONTHS: i32 = 12;
/// Lifer window "release within", in calendar months (tier-rules.md §6.2: 5 years).
pub const LIFER_WITHIN_RELEASE_MONTHS: i32 = 60;

fn months_before(today: Date, months: i32) -> Result<Date, TierError> {
    // jiff clamps the day to the end of a shorter month (handover-rules.md §2 D2).
    today
        .checked_sub(Span::new().months(months))
        .map_err(|_| TierError::DateOutOfRange { today, months })
}

/// Lifer / IPP step (tier-rules.md §6.2): only with `INLL` and a known latest release.
/// Released on or after today − 12 months → B; on or after today − 60 months → D; else E.
/// Months are calendar months, clamped (handover-rules.md §2 D2).
pub fn lifer(
    lifer: bool,
    latest_release: Option<Date>,
    today: Date,
) -> Result<Option<V3Level>, TierError> {
    let Some(release) = latest_release.filter(|_| lifer) else {
        return Ok(None);
    };
    Ok(Some(
        if release >= months_before(today, LIFER_RECENT_RELEASE_MONTHS)? {
            V3Level::B
        } else if release >= months_before(today, LIFER_WITHIN_RELEASE_MONTHS)? {
            V3Level::D
        } else {
            V3Level::E
        },
    ))
}

/// The tier each V3 step gave (tier-rules.md §6.2), kept so a reader can see why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V3Steps {
    pub reoffending: V3Level,
    pub sexual_reoffending: Option<V3Level>,
    pub mappa_and_rosh: Option<V3Level>,
    pub lifer: Option<V3Level>,
    /// `ADVP` / `REG30` → E.
    pub domestic_abuse: Option<V3Level>,
    /// `SPO` → F.
    pub stalking: Option<V3Level>,
    /// `RCPR` → F.
    pub child_protection: Option<V3Level>,
    /// `assessment.sexual_offence` → E.
    pub sexual_offence: Option<V3Level>,
}

fn highest_of(levels: impl IntoIterator<Item = Option<V3Level>>) -> V3Level {
    levels
        .into_iter()
        .flatten()
        .fold(V3Level::G, V3Level::highest)
}

impl V3Steps {
    /// Steps other than Reoffending and MAPPA + RoSH.
    fn rest(&self) -> [Option<V3Level>; 6] {
        [
            self.sexual_reoffending,
            self.lifer,
            self.domestic_abuse,
            self.stalking,
            self.child_protection,
            self.sexual_offence,
        ]
    }
    /// The V3 tier: the highest given by any step, G if none (tier-rules.md §6.2).
    pub fn overall(&self) -> V3Level {
        highest_of(
            self.rest()
                .into_iter()
                .chain([Some(self.reoffending), self.mappa_and_rosh]),
        )
    }
    /// *others*: every step except Reoffending, G if none (tier-rules.md §7 (a)).
    pub fn others(&self) -> V3Level {
        highest_of(self.rest().into_iter().chain([self.mappa_and_rosh]))
    }
    /// *non-RoSH*: every step except MAPPA + RoSH; Reoffending only when
    /// `include_reoffending` (tier-rules.md §7 (b)).
    pub fn non_rosh(&self, include_reoffending: bool) -> V3Level {
        let reoffending = include_reoffending.then_some(self.reoffending);
        highest_of(self.rest().into_iter().chain([reoffending]))
    }
}

/// What the V3 gates decided before any step runs (tier-rules.md §6.1).
pub enum V3Gate<'a> {
    /// Gate 0: no `v3` input.
    NotRequested,
    /// Gate 1 or 2.
    Decided(V3Tier),
    /// Past the gates: both predictors present.
    Steps {
        v3: &'a V3Input,
        arp: f64,
        csrp: f64,
    },
}

/// Gates of tier-rules.md §6.1, in order.
pub fn gate(input: &TierInput) -> V3Gate<'_> {
    let Some(v3) = &input.v3 else {
        return V3Gate::NotRequested;
    };
    if !input.convictions.iter().any(|c| c.is_current()) {
        return V3Gate::Decided(V3Tier::NotSupervised);
    }
    match (v3.arp, v3.csrp) {
        (Some(arp), Some(csrp)) => V3Gate::Steps { v3, arp, csrp },
        _ => V3Gate::Decided(V3Tier::Missing),
    }
}

/// Run every step of tier-rules.md §6.2.
pub fn steps(
    input: &TierInput,
    facts: &RegistrationFacts,
    v3: &V3Input,
    arp: f64,
    csrp: f64,
) -> Result<V3Steps, TierError> {
    let given = |flag: bool, level: V3Level| flag.then_some(level);
    let sexual_offence = input.assessment.as_ref().is_some_and(|a| a.sexual_offence);
    Ok(V3Steps {
        reoffending: reoffending(arp, csrp),
        sexual_reoffending: sexual_reoffending(v3)?,
        mappa_and_rosh: mappa_and_rosh(facts.mappa_present(), input.rosh),
        lifer: lifer(facts.lifer, v3.latest_release, input.today)?,
        domestic_abuse: given(facts.domestic_abuse, V3Level::E),
        stalking: given(facts.stalking, V3Level::F),
        child_protection: given(facts.child_protection, V3Level::F),
        sexual_offence: given(sexual_offence, V3Level::E),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::input::{Conviction, SentenceType};
    use jiff::civil::date;

    /// tier-rules.md §8: V3 results round-trip through their contract spelling.
    #[test]
    fn tier_8_v3_tier_spelling_round_trips() {
        for t in V3_TIERS {
            assert_eq!(t.as_str().parse::<V3Tier>(), Ok(t));
        }
        assert!("H".parse::<V3Tier>().is_err());
        assert!("not_supervised".parse::<V3Tier>().is_err());
    }

    /// tier-rules.md §6.2: every cell of the ARP × CSRP table at its threshold values.
    #[test]
    fn tier_6_2_reoffending_table_at_every_threshold() {
        let expected = ["AABBBB", "ABCCCC", "BCDEEE", "CDEEFF", "DDEFFG"];
        for (row, csrp) in CSRP_ROW_THRESHOLDS.iter().enumerate() {
            for (column, arp) in ARP_COLUMN_THRESHOLDS.iter().enumerate() {
                let want = expected[row].as_bytes()[column] as char;
                assert_eq!(
                    reoffending(*arp, *csrp).letter(),
                    want,
                    "arp {arp} csrp {csrp}"
                );
            }
        }
    }

    /// tier-rules.md §6.2: just below a threshold falls to the next row / column.
    #[test]
    fn tier_6_2_reoffending_just_below_thresholds() {
        assert_eq!(reoffending(89.99, 6.9), V3Level::A); // column ≥ 75
        assert_eq!(reoffending(74.99, 6.9), V3Level::B);
        assert_eq!(reoffending(90.0, 6.89), V3Level::A); // row ≥ 3.0
        assert_eq!(reoffending(90.0, 2.99), V3Level::B);
        assert_eq!(reoffending(14.99, 0.49), V3Level::G);
        assert_eq!(reoffending(100.0, 100.0), V3Level::A);
    }

    fn dc(score: Option<f64>, band: Option<DcSrpBand>) -> Result<Option<V3Level>, TierError> {
        sexual_reoffending(&V3Input {
            dc_srp_score: score,
            dc_srp_band: band,
            ..V3Input::default()
        })
    }

    /// tier-rules.md §6.2: DC-SRP bands, the medium ladder and its < 0.60 error.
    #[test]
    fn tier_6_2_dc_srp_bands_and_medium_ladder() {
        use DcSrpBand::*;
        assert_eq!(dc(Some(1.0), Some(VeryHigh)), Ok(Some(V3Level::A)));
        assert_eq!(dc(Some(1.0), Some(High)), Ok(Some(V3Level::B)));
        assert_eq!(dc(Some(1.0), Some(Low)), Ok(Some(V3Level::E)));
        assert_eq!(dc(Some(1.0), Some(NotApplicable)), Ok(None));
        assert_eq!(dc(None, Some(VeryHigh)), Ok(None));
        assert_eq!(dc(Some(5.0), None), Ok(None));
        assert_eq!(dc(Some(0.0), Some(VeryHigh)), Ok(None));
        assert_eq!(dc(Some(-1.0), Some(Medium)), Ok(None));
        for (score, want) in [
            (3.36, V3Level::C),
            (3.35, V3Level::D),
            (2.11, V3Level::D),
            (2.10, V3Level::C),
            (1.12, V3Level::C),
            (1.11, V3Level::D),
            (0.60, V3Level::D),
        ] {
            assert_eq!(dc(Some(score), Some(Medium)), Ok(Some(want)), "{score}");
        }
        assert_eq!(
            dc(Some(0.59), Some(Medium)),
            Err(TierError::UnsupportedDcSrp(0.59))
        );
        assert!(TierError::UnsupportedDcSrp(0.59)
            .to_string()
            .starts_with("unsupported_dc_srp: "));
    }

    /// tier-rules.md §6.2: MAPPA + RoSH table.
    #[test]
    fn tier_6_2_mappa_and_rosh_table() {
        use RoshLevel::*;
        assert_eq!(mappa_and_rosh(true, Some(VeryHigh)), Some(V3Level::A));
        assert_eq!(mappa_and_rosh(true, Some(High)), Some(V3Level::C));
        assert_eq!(mappa_and_rosh(true, Some(Medium)), Some(V3Level::D));
        assert_eq!(mappa_and_rosh(true, Some(Low)), Some(V3Level::E));
        assert_eq!(mappa_and_rosh(true, None), Some(V3Level::E));
        assert_eq!(mappa_and_rosh(false, Some(VeryHigh)), Some(V3Level::C));
        assert_eq!(mappa_and_rosh(false, Some(High)), Some(V3Level::D));
        assert_eq!(mappa_and_rosh(false, Some(Medium)), None);
        assert_eq!(mappa_and_rosh(false, Some(Low)), None);
        assert_eq!(mappa_and_rosh(false, None), None);
    }

    /// tier-rules.md §6.2 lifer windows, 12 / 60 calendar months clamped
    /// (handover-rules.md §2 D2): today 2024-02-29 → 2023-02-28 and 2019-02-28.
    #[test]
    fn tier_6_2_lifer_windows_with_month_clamping() {
        let today = date(2024, 2, 29);
        let at = |d| lifer(true, Some(d), today).unwrap();
        assert_eq!(at(date(2023, 2, 28)), Some(V3Level::B));
        assert_eq!(at(date(2023, 2, 27)), Some(V3Level::D));
        assert_eq!(at(date(2019, 2, 28)), Some(V3Level::D));
        assert_eq!(at(date(2019, 2, 27)), Some(V3Level::E));
        assert_eq!(at(date(2030, 1, 1)), Some(V3Level::B));
        assert_eq!(lifer(false, Some(date(2024, 1, 1)), today), Ok(None));
        assert_eq!(lifer(true, None, today), Ok(None));
        // 31 March − 1 month style clamp: 2025-03-31 − 12 months = 2024-03-31 (no clamp);
        // 2025-05-31 − 60 months = 2020-05-31.
        assert_eq!(months_before(date(2025, 5, 31), 60), Ok(date(2020, 5, 31)));
        assert!(lifer(true, Some(date(-9999, 1, 1)), date(-9999, 1, 1)).is_err());
    }

    /// tier-rules.md §6.1: gates in order.
    #[test]
    fn tier_6_1_gates() {
        let mut input = TierInput::new(date(2025, 6, 15));
        assert!(matches!(gate(&input), V3Gate::NotRequested));
        input.v3 = Some(V3Input::default());
        assert!(matches!(
            gate(&input),
            V3Gate::Decided(V3Tier::NotSupervised)
        ));
        let mut ended = Conviction::new(SentenceType::CustodialNc);
        ended.terminated = Some(date(2025, 1, 1));
        input.convictions = vec![ended.clone()];
        assert!(matches!(
            gate(&input),
            V3Gate::Decided(V3Tier::NotSupervised)
        ));
        input
            .convictions
            .push(Conviction::new(SentenceType::Community));
        assert!(matches!(gate(&input), V3Gate::Decided(V3Tier::Missing)));
        input.v3.as_mut().unwrap().arp = Some(10.0);
        assert!(matches!(gate(&input), V3Gate::Decided(V3Tier::Missing)));
        input.v3.as_mut().unwrap().csrp = Some(1.0);
        assert!(matches!(gate(&input), V3Gate::Steps { .. }));
    }

    /// tier-rules.md §6.2: the result is the highest tier of any step, G if none.
    #[test]
    fn tier_6_2_highest_step_wins() {
        let mut s = V3Steps {
            reoffending: V3Level::G,
            sexual_reoffending: None,
            mappa_and_rosh: None,
            lifer: None,
            domestic_abuse: None,
            stalking: None,
            child_protection: None,
            sexual_offence: None,
        };
        assert_eq!(s.overall(), V3Level::G);
        s.stalking = Some(V3Level::F);
        s.domestic_abuse = Some(V3Level::E);
        assert_eq!(s.overall(), V3Level::E);
        s.reoffending = V3Level::B;
        assert_eq!(s.overall(), V3Level::B);
        assert_eq!(s.others(), V3Level::E);
        assert_eq!(s.non_rosh(false), V3Level::E);
        assert_eq!(s.non_rosh(true), V3Level::B);
    }
}
