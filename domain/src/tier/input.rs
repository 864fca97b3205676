//! The typed input of the tier calculator (tier-rules.md §1) and its limits.
//!
//! The engine fills a [`TierInput`] from a case's risk assessment, registrations and
//! sentences; `caseledger policy tier` fills it from one JSON line. Everything here is a
//! plain value: no I/O, and `today` is a field, never the clock.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::risk::RoshLevel;

/// Most registrations accepted for one person. Delius shows a handful of active
/// registrations per person; a thousand is far beyond any real record, so more is a bug
/// upstream rather than a fact to score.
pub const REGISTRATIONS_PER_PERSON_MAX: u32 = 1_024;
/// Most convictions (Delius events) accepted for one person; long records run to dozens.
pub const CONVICTIONS_PER_PERSON_MAX: u32 = 256;
/// Most requirements accepted on one conviction; a community order carries a few.
pub const REQUIREMENTS_PER_CONVICTION_MAX: u32 = 64;
/// Longest Delius code accepted (registration code, register level, category, requirement
/// category), in bytes. Delius codes are 2–6 characters; 32 leaves room without letting a
/// caller store unbounded text in a decision's inputs.
pub const CODE_BYTES_MAX: u32 = 32;
/// The RSR value OASys uses for "score unknown" (tier-rules.md §1, §3.1).
pub const RSR_UNKNOWN: f64 = 999.99;
/// Highest RSR score, in percent (tier-rules.md §1: `rsr` 0–100 unless exactly 999.99).
pub const RSR_PERCENT_MAX: f64 = 100.0;
/// Highest OGRS score, in percent (tier-rules.md §1).
pub const OGRS_PERCENT_MAX: u8 = 100;
/// Highest answer to OASys 11.2 impulsivity / 11.4 temper control (tier-rules.md §1).
pub const OASYS_PROBLEM_ANSWER_MAX: u8 = 2;

/// Gender as recorded in Delius; only `female` changes the result (tier-rules.md §3.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// The default when not stated (tier-rules.md §1).
    #[default]
    Male,
    Female,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "male" => Some(Gender::Male),
            "female" => Some(Gender::Female),
            _ => None,
        }
    }
}

/// One active Delius registration (tier-rules.md §1, §2). Codes are kept exactly as Delius
/// spells them: any code is accepted, and only those listed in §2 have an effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// Register type code, e.g. `MAPP`, `RCCO`, `HREG`.
    pub code: String,
    /// Registration date; orders registrations newest first (tier-rules.md §2.2).
    pub date: Date,
    /// Register level code; for `MAPP`, the MAPPA level `M0`–`M3`.
    pub level: Option<String>,
    /// Register category code; for `MAPP`, the MAPPA category `M1`–`M4`.
    pub category: Option<String>,
}

impl Registration {
    pub fn new(code: impl Into<String>, date: Date) -> Self {
        Registration {
            code: code.into(),
            date,
            level: None,
            category: None,
        }
    }
    pub fn with_level(mut self, level: impl Into<String>) -> Self {
        self.level = Some(level.into());
        self
    }
    pub fn with_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }
}

/// The ten OASys criminogenic needs scored on the change axis, with their weights
/// (tier-rules.md §4.3; hmpps-tier `Need`).
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

impl Need {
    pub const ALL: [Need; 10] = [
        Need::Accommodation,
        Need::EducationTrainingEmployability,
        Need::Relationships,
        Need::LifestyleAndAssociates,
        Need::DrugMisuse,
        Need::AlcoholMisuse,
        Need::ThinkingAndBehaviour,
        Need::Attitudes,
        Need::FinancialManagement,
        Need::EmotionalWellbeing,
    ];

    /// Weight of the need on the change axis (tier-rules.md §4.3): thinking and behaviour
    /// and attitudes count double; financial management and emotional wellbeing count zero.
    pub fn weight(self) -> u8 {
        match self {
            Need::Accommodation
            | Need::EducationTrainingEmployability
            | Need::Relationships
            | Need::LifestyleAndAssociates
            | Need::DrugMisuse
            | Need::AlcoholMisuse => 1,
            Need::ThinkingAndBehaviour | Need::Attitudes => 2,
            Need::FinancialManagement | Need::EmotionalWellbeing => 0,
        }
    }

    /// The key used in `assessment.needs` (policy-cli-contract.md).
    pub fn key(self) -> &'static str {
        match self {
            Need::Accommodation => "accommodation",
            Need::EducationTrainingEmployability => "education_training_employability",
            Need::Relationships => "relationships",
            Need::LifestyleAndAssociates => "lifestyle_and_associates",
            Need::DrugMisuse => "drug_misuse",
            Need::AlcoholMisuse => "alcohol_misuse",
            Need::ThinkingAndBehaviour => "thinking_and_behaviour",
            Need::Attitudes => "attitudes",
            Need::FinancialManagement => "financial_management",
            Need::EmotionalWellbeing => "emotional_wellbeing",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Need::ALL.into_iter().find(|n| n.key() == key)
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Severity of an assessed need (tier-rules.md §4.3, §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    NoNeed,
    Standard,
    Severe,
}

impl Severity {
    /// Points multiplier (tier-rules.md §4.3): no need 0, standard 1, severe 2.
    pub fn multiplier(self) -> u8 {
        match self {
            Severity::NoNeed => 0,
            Severity::Standard => 1,
            Severity::Severe => 2,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::NoNeed => "no_need",
            Severity::Standard => "standard",
            Severity::Severe => "severe",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "no_need" => Some(Severity::NoNeed),
            "standard" => Some(Severity::Standard),
            "severe" => Some(Severity::Severe),
            _ => None,
        }
    }
}

/// The latest completed OASys Layer 3 assessment (tier-rules.md §1, §4.2). Its age does
/// not matter (§4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub date: Date,
    /// Assessed needs; a need left out was not assessed and scores 0 (tier-rules.md §1).
    pub needs: BTreeMap<Need, Severity>,
    /// OASys 6.9 answered Yes (tier-rules.md §3.4).
    pub parenting_responsibilities: bool,
    /// OASys 11.2, 0–2 (tier-rules.md §3.4).
    pub impulsivity: u8,
    /// OASys 11.4, 0–2 (tier-rules.md §3.4).
    pub temper_control: u8,
    /// Ever committed a sexual or sexually motivated offence (tier-rules.md §6.2).
    pub sexual_offence: bool,
}

impl Assessment {
    pub fn new(date: Date) -> Self {
        Assessment {
            date,
            needs: BTreeMap::new(),
            parenting_responsibilities: false,
            impulsivity: 0,
            temper_control: 0,
            sexual_offence: false,
        }
    }
}

/// Delius sentence type of a conviction (tier-rules.md §1; hmpps-tier `MandateForChange`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SentenceType {
    /// Delius `NC`: custodial.
    #[serde(rename = "NC")]
    CustodialNc,
    /// Delius `SC`: custodial.
    #[serde(rename = "SC")]
    CustodialSc,
    /// Delius `SP`: community sentence.
    #[serde(rename = "SP")]
    Community,
}

impl SentenceType {
    /// `NC` and `SC` are custodial, so they carry a mandate for change (tier-rules.md §4.1).
    pub fn is_custodial(self) -> bool {
        matches!(self, SentenceType::CustodialNc | SentenceType::CustodialSc)
    }
    pub fn code(self) -> &'static str {
        match self {
            SentenceType::CustodialNc => "NC",
            SentenceType::CustodialSc => "SC",
            SentenceType::Community => "SP",
        }
    }
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "NC" => Some(SentenceType::CustodialNc),
            "SC" => Some(SentenceType::CustodialSc),
            "SP" => Some(SentenceType::Community),
            _ => None,
        }
    }
}

/// A requirement of a community sentence (tier-rules.md §1, §4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// Delius requirement main category code; `W` unpaid work, `W1` order extended.
    pub category: String,
    pub restrictive: bool,
}

/// A Delius event (tier-rules.md §1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conviction {
    pub sentence_type: SentenceType,
    /// Termination date; any date, even one after `today`, ends the conviction
    /// (tier-rules.md §1, as in hmpps-tier `MandateForChange.kt`).
    pub terminated: Option<Date>,
    pub requirements: Vec<Requirement>,
}

impl Conviction {
    pub fn new(sentence_type: SentenceType) -> Self {
        Conviction {
            sentence_type,
            terminated: None,
            requirements: Vec::new(),
        }
    }
    /// Current iff not terminated (tier-rules.md §1; policy-cli-contract.md "active event").
    pub fn is_current(&self) -> bool {
        self.terminated.is_none()
    }
}

/// OASys DC-SRP band (tier-rules.md §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DcSrpBand {
    VeryHigh,
    High,
    Medium,
    Low,
    NotApplicable,
}

impl DcSrpBand {
    pub fn as_str(self) -> &'static str {
        match self {
            DcSrpBand::VeryHigh => "very_high",
            DcSrpBand::High => "high",
            DcSrpBand::Medium => "medium",
            DcSrpBand::Low => "low",
            DcSrpBand::NotApplicable => "not_applicable",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "very_high" => Some(DcSrpBand::VeryHigh),
            "high" => Some(DcSrpBand::High),
            "medium" => Some(DcSrpBand::Medium),
            "low" => Some(DcSrpBand::Low),
            "not_applicable" => Some(DcSrpBand::NotApplicable),
            _ => None,
        }
    }
}

/// OASys predictor inputs for V3 (tier-rules.md §1, §5–§7). `None` = missing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct V3Input {
    /// All Reoffending Predictor, percent.
    pub arp: Option<f64>,
    /// `Some(true)` static, `Some(false)` dynamic, `None` not stated.
    pub arp_static: Option<bool>,
    /// Combined Serious Reoffending Predictor, percent.
    pub csrp: Option<f64>,
    pub csrp_static: Option<bool>,
    pub dc_srp_score: Option<f64>,
    pub dc_srp_band: Option<DcSrpBand>,
    /// Latest release date from custody (lifer / IPP step, tier-rules.md §6.2).
    pub latest_release: Option<Date>,
}

/// Everything the tier calculator looks at (tier-rules.md §1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierInput {
    /// Calculation date; used only for the lifer release windows (tier-rules.md §6.2).
    pub today: Date,
    pub gender: Gender,
    /// Risk of Serious Recidivism, percent, 0–100 or [`RSR_UNKNOWN`]; `None` = no score.
    pub rsr: Option<f64>,
    /// Current RoSH; `None` = missing (drives provisional (b), tier-rules.md §7).
    pub rosh: Option<RoshLevel>,
    /// OGRS, integer percent 0–100; `None` scores 0.
    pub ogrs: Option<u8>,
    /// Active registrations in Delius order (ties on date keep this order, §2.2).
    pub registrations: Vec<Registration>,
    /// `None` = no completed Layer 3 assessment (tier-rules.md §4.2).
    pub assessment: Option<Assessment>,
    pub convictions: Vec<Conviction>,
    /// A breach or recall outcome in the last 365 days (tier-rules.md §3.4).
    pub previous_enforcement: bool,
    /// `None` = do not calculate V3 (tier-rules.md §6.1 gate 0).
    pub v3: Option<V3Input>,
}

impl TierInput {
    /// The defaults of tier-rules.md §1: male, no scores, no registrations, no assessment,
    /// no convictions, no previous enforcement, no V3.
    pub fn new(today: Date) -> Self {
        TierInput {
            today,
            gender: Gender::Male,
            rsr: None,
            rosh: None,
            ogrs: None,
            registrations: Vec::new(),
            assessment: None,
            convictions: Vec::new(),
            previous_enforcement: false,
            v3: None,
        }
    }
}
