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

/// Risk of Serious Recidivism score in hundredths of a percent (0..=10000, i.e. 0.00 %–100.00 %).
/// Kept as an integer so stored events hash the same on every platform. RSR is used
/// throughout supervision, not only at allocation (BR-D1, seed 003 l.755).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct RsrScore(u16);

impl RsrScore {
    pub const HUNDREDTHS_MAX: u16 = 10_000;
    pub fn from_hundredths(hundredths: u16) -> Result<Self, RiskValueError> {
        if hundredths <= Self::HUNDREDTHS_MAX {
            Ok(RsrScore(hundredths))
        } else {
            Err(RiskValueError::Rsr(hundredths))
        }
    }
    pub fn hundredths(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for RsrScore {
    type Error = RiskValueError;
    fn try_from(v: u16) -> Result<Self, Self::Error> {
        RsrScore::from_hundredths(v)
    }
}

impl From<RsrScore> for u16 {
    fn from(v: RsrScore) -> u16 {
        v.0
    }
}

/// An OASys predictor score for tier V3 (ARP, CSRP, DC-SRP; tier-rules.md §1 `v3`), in
/// hundredths of a percent, 0..=10 000 (0.00–100.00 %): the same unit as [`RsrScore`], so a
/// command writes `"arp": 9150` for 91.50 %. Integer hundredths keep stored events exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct PredictorScore(u16);

impl PredictorScore {
    pub const HUNDREDTHS_MAX: u16 = 10_000;
    pub fn from_hundredths(hundredths: u16) -> Result<Self, RiskValueError> {
        if hundredths <= Self::HUNDREDTHS_MAX {
            Ok(PredictorScore(hundredths))
        } else {
            Err(RiskValueError::Predictor(hundredths))
        }
    }
    pub fn hundredths(self) -> u16 {
        self.0
    }
    /// The score in percent, as the tier calculator reads it.
    pub fn percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl TryFrom<u16> for PredictorScore {
    type Error = RiskValueError;
    fn try_from(v: u16) -> Result<Self, Self::Error> {
        PredictorScore::from_hundredths(v)
    }
}

impl From<PredictorScore> for u16 {
    fn from(v: PredictorScore) -> u16 {
        v.0
    }
}

/// The OASys predictors tier V3 reads (tier-rules.md §1 `v3` object, §6.2, §7), as an
/// assessment records them. Every field is optional: a missing ARP or CSRP gives V3
/// `MISSING` (§6.1 gate 2), a missing DC-SRP skips the sexual reoffending step (§6.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V3Predictors {
    /// All Reoffending Predictor.
    pub arp: Option<PredictorScore>,
    /// `true` static, `false` dynamic, `None` not stated (§7 a).
    pub arp_static: Option<bool>,
    /// Combined Serious Reoffending Predictor.
    pub csrp: Option<PredictorScore>,
    pub csrp_static: Option<bool>,
    /// Direct Contact Sexual Reoffending Predictor score and band.
    pub dc_srp_score: Option<PredictorScore>,
    pub dc_srp_band: Option<crate::tier::DcSrpBand>,
}

/// Lowest medium DC-SRP score the V3 ladder supports, in hundredths (tier-rules.md §6.2: a
/// medium score below 0.60 fails the calculation with `unsupported_dc_srp`).
pub const DC_SRP_MEDIUM_HUNDREDTHS_MIN: u16 = 60;

impl V3Predictors {
    /// Refuse predictors the V3 calculator cannot score (tier-rules.md §6.2): a medium DC-SRP
    /// band with a known score above 0 and below 0.60. Scores above 100 % cannot be
    /// constructed at all ([`PredictorScore`]).
    pub fn validate(&self) -> Result<(), RiskValueError> {
        if self.dc_srp_band == Some(crate::tier::DcSrpBand::Medium) {
            if let Some(score) = self.dc_srp_score {
                if score.hundredths() > 0 && score.hundredths() < DC_SRP_MEDIUM_HUNDREDTHS_MIN {
                    return Err(RiskValueError::UnsupportedDcSrp(score.hundredths()));
                }
            }
        }
        Ok(())
    }
}

/// OGRS score, whole percent 0..=100 (tier-rules.md §1 `ogrs`; OGRS3 in seed 003 l.2865).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct OgrsScore(u8);

impl OgrsScore {
    pub const MAX: u8 = 100;
    pub fn new(percent: u8) -> Result<Self, RiskValueError> {
        if percent <= Self::MAX {
            Ok(OgrsScore(percent))
        } else {
            Err(RiskValueError::Ogrs(percent))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for OgrsScore {
    type Error = RiskValueError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        OgrsScore::new(v)
    }
}

impl From<OgrsScore> for u8 {
    fn from(v: OgrsScore) -> u8 {
        v.0
    }
}

/// OASys criminogenic need areas, spelled as the tier contract spells them (tier-rules.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    Accommodation,
    EducationTrainingEmployability,
    Relationships,
    LifestyleAndAssociates,
    DrugMisuse,
    AlcoholMisuse,
    ThinkingAndBehaviour,
    Attitudes,
    FinancialManagement,
    EmotionalWellbeing,
}

/// Severity of one need (tier-rules.md §4.3: `no_need`, `standard`, `severe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedSeverity {
    NoNeed,
    Standard,
    Severe,
}

/// Why a risk assessment was done (seed-digest §4 `RiskAssessmentCompleted`: initial, review,
/// pre-release, termination; BR-D1 seed 003 l.751).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentKind {
    Initial,
    Review,
    PreRelease,
    Termination,
}

/// Kinds of registration (risk flags) on a case, with their nDelius codes as the tier rules read
/// them (tier-rules.md §2; MAPPA codes enforcement-and-workload.md §7). MARAC: BR-A13, seed 000
/// l.10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationKind {
    Mappa {
        category: MappaCategory,
        level: MappaLevel,
    },
    DomesticAbusePerpetrator,
    ChildProtection,
    RiskToChildren,
    ChildConcerns,
    Stalking,
    IntegratedOffenderManagement,
    MentalHealthIssues,
    AttemptedSuicideOrSelfHarm,
    Vulnerability,
    AdultAtRisk,
    PublicInterestCase,
    StreetGangs,
    TerrorismActOffender,
    LiferOrIpp,
    Marac,
}

impl RegistrationKind {
    /// The nDelius register type code (tier-rules.md §2).
    pub fn delius_code(self) -> &'static str {
        match self {
            RegistrationKind::Mappa { .. } => "MAPP",
            RegistrationKind::DomesticAbusePerpetrator => "ADVP",
            RegistrationKind::ChildProtection => "RCPR",
            RegistrationKind::RiskToChildren => "RCHD",
            RegistrationKind::ChildConcerns => "RCCO",
            RegistrationKind::Stalking => "SPO",
            RegistrationKind::IntegratedOffenderManagement => "IIOM",
            RegistrationKind::MentalHealthIssues => "RMDO",
            RegistrationKind::AttemptedSuicideOrSelfHarm => "ALSH",
            RegistrationKind::Vulnerability => "RVLN",
            RegistrationKind::AdultAtRisk => "RVAD",
            RegistrationKind::PublicInterestCase => "RPIR",
            RegistrationKind::StreetGangs => "STRG",
            RegistrationKind::TerrorismActOffender => "RTAO",
            RegistrationKind::LiferOrIpp => "INLL",
            RegistrationKind::Marac => "MARAC",
        }
    }
    pub fn is_mappa(self) -> bool {
        matches!(self, RegistrationKind::Mappa { .. })
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
    #[error("RSR score {0} hundredths of a percent is above 100.00 %")]
    Rsr(u16),
    #[error("OGRS score {0} % is above 100 %")]
    Ogrs(u8),
    #[error("predictor score {0} hundredths of a percent is above 100.00 % (10000)")]
    Predictor(u16),
    #[error("predictors.dc_srp_score {0} hundredths with band medium is below 0.60 %, which the V3 tier cannot score (tier-rules.md §6.2); check the OASys DC-SRP")]
    UnsupportedDcSrp(u16),
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

    #[test]
    fn scores_outside_their_ranges_cannot_be_constructed() {
        assert!(RsrScore::from_hundredths(10_000).is_ok());
        assert_eq!(
            RsrScore::from_hundredths(10_001),
            Err(RiskValueError::Rsr(10_001))
        );
        assert!(OgrsScore::new(100).is_ok());
        assert_eq!(OgrsScore::new(101), Err(RiskValueError::Ogrs(101)));
        assert!(serde_json::from_str::<OgrsScore>("101").is_err());
    }

    /// tier-rules.md §1 (`v3`), §6.2: predictor scores above 100 % and a medium DC-SRP below
    /// 0.60 are refused; a score of exactly 100 % and a medium score of 0.60 are accepted.
    #[test]
    fn tier_6_2_predictor_scores_outside_their_ranges_are_refused() {
        assert!(PredictorScore::from_hundredths(10_000).is_ok());
        assert_eq!(
            PredictorScore::from_hundredths(10_001),
            Err(RiskValueError::Predictor(10_001))
        );
        assert!(serde_json::from_str::<PredictorScore>("10001").is_err());
        assert!(serde_json::from_str::<PredictorScore>("-1").is_err());
        let medium = |hundredths| V3Predictors {
            dc_srp_score: Some(PredictorScore::from_hundredths(hundredths).unwrap()),
            dc_srp_band: Some(crate::tier::DcSrpBand::Medium),
            ..V3Predictors::default()
        };
        assert_eq!(
            medium(59).validate(),
            Err(RiskValueError::UnsupportedDcSrp(59))
        );
        assert!(medium(60).validate().is_ok());
        assert!(medium(0).validate().is_ok());
    }

    #[test]
    fn registrations_carry_their_delius_codes() {
        let mappa = RegistrationKind::Mappa {
            category: MappaCategory::new(1).unwrap(),
            level: MappaLevel::new(2).unwrap(),
        };
        assert_eq!(mappa.delius_code(), "MAPP");
        assert!(mappa.is_mappa());
        assert_eq!(RegistrationKind::Stalking.delius_code(), "SPO");
        let json = serde_json::to_string(&mappa).unwrap();
        assert_eq!(json, r#"{"mappa":{"category":1,"level":2}}"#);
    }
}
