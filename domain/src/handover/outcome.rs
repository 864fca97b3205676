//! The result of a handover calculation and what explains it (handover-rules.md §1, §11
//! design notes: "record which rule and which date produced each result").

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::era::HandoverEra;
use super::reasons::HandoverReason;

/// Who is responsible for the person in custody (handover-rules.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Responsibility {
    /// Prison Offender Manager responsible, no Community Offender Manager involved yet.
    CustodyOnly,
    /// Prison Offender Manager responsible, Community Offender Manager supporting.
    CustodyWithCom,
    /// Community Offender Manager responsible, Prison Offender Manager supporting.
    Community,
}

impl Responsibility {
    /// The contract spelling (`custody_only`, `custody_with_com`, `community`).
    pub fn as_str(self) -> &'static str {
        match self {
            Responsibility::CustodyOnly => "custody_only",
            Responsibility::CustodyWithCom => "custody_with_com",
            Responsibility::Community => "community",
        }
    }

    /// The displayed responsible officer (handover-rules.md §1): POM for both custody
    /// values, COM for `community`.
    pub fn responsible_officer(self) -> &'static str {
        match self {
            Responsibility::CustodyOnly | Responsibility::CustodyWithCom => "POM",
            Responsibility::Community => "COM",
        }
    }
}

impl fmt::Display for Responsibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which input date served as the release date `R` (§7.2) or `ERD` (§9.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseDateKind {
    Ped,
    Crd,
    Ard,
    Hdcad,
    Hdced,
    Ted,
    Thd,
    Prd,
}

impl ReleaseDateKind {
    /// The input field the date came from.
    pub fn field(self) -> &'static str {
        match self {
            ReleaseDateKind::Ped => "ped",
            ReleaseDateKind::Crd => "crd",
            ReleaseDateKind::Ard => "ard",
            ReleaseDateKind::Hdcad => "hdcad",
            ReleaseDateKind::Hdced => "hdced",
            ReleaseDateKind::Ted => "ted",
            ReleaseDateKind::Thd => "thd",
            ReleaseDateKind::Prd => "prd",
        }
    }
}

/// The release date a calculation was based on, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDate {
    pub kind: ReleaseDateKind,
    pub date: Date,
}

impl ReleaseDate {
    /// The earliest known candidate; on a tie the one listed first wins, so the reported
    /// source is stable (e.g. ARD before CRD, handover-rules.md §9.2).
    pub fn earliest(candidates: &[(ReleaseDateKind, Option<Date>)]) -> Option<ReleaseDate> {
        let mut earliest: Option<ReleaseDate> = None;
        for &(kind, date) in candidates {
            let Some(date) = date else { continue };
            let earlier = match earliest {
                Some(e) => date < e.date,
                None => true,
            };
            if earlier {
                earliest = Some(ReleaseDate { kind, date });
            }
        }
        earliest
    }

    /// The candidate if its date is known.
    pub fn known(kind: ReleaseDateKind, date: Option<Date>) -> Option<ReleaseDate> {
        date.map(|date| ReleaseDate { kind, date })
    }
}

/// The rule-ladder step that produced a result, so a reader can find the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStep {
    /// `omic-2019`/`omic-2022`: recalled (§7.1 step 1).
    V1Recall,
    /// `omic-2019`/`omic-2022`: immigration detainee (§7.1 step 2).
    V1Immigration,
    /// `omic-2019`/`omic-2022`: release date `R` unknown (§7.1 step 3).
    V1ReleaseDateUnknown,
    /// `omic-2019`/`omic-2022`: CRC determinate case (§7.1 step 4).
    V1CrcCase,
    /// `omic-2019`/`omic-2022`: release within 10 months of sentence start (§7.1 step 5).
    V1ShortSentence,
    /// `omic-2019`: policy case, dates by §7.3/§7.4 (§7.1 step 6).
    V1PolicyCase2019,
    /// `omic-2022`: policy case, dates by §8 (§7.1 step 6).
    V1PolicyCase2022,
    /// `omic-2019`/`omic-2022`: not a policy case (§6.4, §7.1 step 7).
    V1PreOmic,
    /// `omic-2023` ladder step 1: additional ISP (§9.1).
    AdditionalIsp,
    /// `omic-2023` ladder step 2: indeterminate recall, THD ≥ 12 months, MAPPA blank/0/1.
    RecallThdOver12Months,
    /// `omic-2023` ladder step 3: failed parole, THD ≥ 12 months, MAPPA 2/3.
    ParoleMappa23,
    /// `omic-2023` ladder step 4: failed parole, THD ≥ 12 months.
    ThdOver12Months,
    /// `omic-2023` ladder step 5: recalled.
    Recall2023,
    /// `omic-2023` ladder step 6: immigration detainee.
    Immigration2023,
    /// `omic-2023` ladder step 7: `ERD` unknown.
    ReleaseDateUnknown2023,
    /// `omic-2023` ladder step 8: dates by §9.3–§9.5.
    Calculated2023,
}

impl RuleStep {
    /// Where the rule is written down.
    pub fn citation(self) -> &'static str {
        match self {
            RuleStep::V1Recall => "handover-rules.md §7.1 step 1",
            RuleStep::V1Immigration => "handover-rules.md §7.1 step 2",
            RuleStep::V1ReleaseDateUnknown => "handover-rules.md §7.1 step 3, §7.2",
            RuleStep::V1CrcCase => "handover-rules.md §7.1 step 4, §7.5",
            RuleStep::V1ShortSentence => "handover-rules.md §7.1 step 5",
            RuleStep::V1PolicyCase2019 => "handover-rules.md §7.1 step 6, §7.3, §7.4, §7.5",
            RuleStep::V1PolicyCase2022 => "handover-rules.md §7.1 step 6, §8, §7.5",
            RuleStep::V1PreOmic => "handover-rules.md §7.1 step 7, §6.4",
            RuleStep::AdditionalIsp => "handover-rules.md §9.1 step 1",
            RuleStep::RecallThdOver12Months => "handover-rules.md §9.1 step 2",
            RuleStep::ParoleMappa23 => "handover-rules.md §9.1 step 3",
            RuleStep::ThdOver12Months => "handover-rules.md §9.1 step 4",
            RuleStep::Recall2023 => "handover-rules.md §9.1 step 5",
            RuleStep::Immigration2023 => "handover-rules.md §9.1 step 6",
            RuleStep::ReleaseDateUnknown2023 => "handover-rules.md §9.1 step 7, §9.2",
            RuleStep::Calculated2023 => "handover-rules.md §9.1 step 8, §9.2–§9.5",
        }
    }
}

/// A calculated handover (handover-rules.md §1): who is responsible on `today`, when the
/// COM is allocated (`start_date`) and becomes responsible (`handover_date`), and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverResult {
    /// The rule set used (the ruleset id of a handover decision).
    pub era: HandoverEra,
    pub responsibility: Responsibility,
    /// When the COM is allocated and starts supporting (MPC `com_allocated_date`, POM1).
    pub start_date: Option<Date>,
    /// When the COM becomes responsible (MPC `com_responsible_date`, POM2).
    pub handover_date: Option<Date>,
    pub reason: HandoverReason,
    /// The release date `R` (§7.2) or `ERD` (§9.2) the dates were based on, when one was
    /// needed and known.
    pub release_date: Option<ReleaseDate>,
    /// The ladder step that decided the result.
    pub rule: RuleStep,
}
