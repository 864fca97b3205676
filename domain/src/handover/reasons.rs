//! Reason codes for a handover result (handover-rules.md §12; MPC
//! `CalculatedHandoverDate::REASONS` @ HEAD, moj-anchors §1.9).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a handover result was reached. `as_str()` is the code of handover-rules.md §12 and
/// the contract's `reason`; `display_text()` is MPC's text for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoverReason {
    /// Recalled to custody (all eras; 2023 after the ISP ladder). §7.1 step 1, §9.1 step 5.
    RecallCase,
    /// Immigration detainee (all eras). §7.1 step 2, §9.1 step 6.
    ImmigrationCase,
    /// No release date `R` / `ERD` (all eras). §7.1 step 3, §9.1 step 7.
    ReleaseDateUnknown,
    /// Not a policy case (2019, 2022). §6.4, §7.1 step 7.
    PreOmicRules,
    /// CRC determinate case (2019, 2022). §7.1 step 4.
    CrcCase,
    /// Release ≤ sentence start + 10 months (2019, 2022). §7.1 step 5.
    #[serde(rename = "less_than_10_months_left_to_serve")]
    LessThan10MonthsLeftToServe,
    /// Early allocation (2019, 2022). §7.3.
    NpsEarlyAllocation,
    /// Indeterminate, not in open conditions (2019, 2022). §7.3.
    NpsIndeterminate,
    /// Indeterminate in open conditions (2019, 2022). §7.3.
    NpsIndeterminateOpen,
    /// Determinate with a parole eligibility date (2019, 2022). §7.3.
    NpsDeterminateParoleCase,
    /// Determinate, MAPPA level blank (2019). §7.3.
    NpsMappaUnknown,
    /// Determinate, MAPPA level 0 or 1 (2019). §7.3.
    #[serde(rename = "nps_determinate_mappa_1_n")]
    NpsDeterminateMappa1N,
    /// Determinate, MAPPA level 2 or 3 (2019). §7.3.
    #[serde(rename = "nps_determinate_mappa_2_3")]
    NpsDeterminateMappa23,
    /// Determinate CRD/ARD case, single date (2022). §8.
    NpsDeterminate,
    /// Sentenced to a further indeterminate sentence not yet started (2023). §9.1 step 1.
    AdditionalIsp,
    /// Indeterminate recall, next parole hearing ≥ 12 months away (2023). §9.1 step 2.
    #[serde(rename = "recall_thd_over_12_months")]
    RecallThdOver12Months,
    /// Unsuccessful parole and MAPPA level 2/3 (2023). §9.1 step 3.
    #[serde(rename = "parole_mappa_2_3")]
    ParoleMappa23,
    /// Unsuccessful parole, next hearing ≥ 12 months away (2023). §9.1 step 4.
    #[serde(rename = "thd_over_12_months")]
    ThdOver12Months,
    /// Early allocation (2023). §9.3.
    EarlyAllocation,
    /// Indeterminate, not in open conditions (2023). §9.3.
    Indeterminate,
    /// Indeterminate in open conditions (2023). §9.3.
    IndeterminateOpen,
    /// Sentence start + 10 months ≥ ERD (2023). §9.3.
    DeterminateShort,
    /// Determinate with a parole eligibility date (2023). §9.3.
    DeterminateParole,
    /// Other determinate cases (2023). §9.3.
    Determinate,
    /// MPC's constant for "COM, no dates"; reserved, never produced (§12).
    ComResponsibility,
}

impl HandoverReason {
    pub const ALL: [HandoverReason; 25] = [
        HandoverReason::RecallCase,
        HandoverReason::ImmigrationCase,
        HandoverReason::ReleaseDateUnknown,
        HandoverReason::PreOmicRules,
        HandoverReason::CrcCase,
        HandoverReason::LessThan10MonthsLeftToServe,
        HandoverReason::NpsEarlyAllocation,
        HandoverReason::NpsIndeterminate,
        HandoverReason::NpsIndeterminateOpen,
        HandoverReason::NpsDeterminateParoleCase,
        HandoverReason::NpsMappaUnknown,
        HandoverReason::NpsDeterminateMappa1N,
        HandoverReason::NpsDeterminateMappa23,
        HandoverReason::NpsDeterminate,
        HandoverReason::AdditionalIsp,
        HandoverReason::RecallThdOver12Months,
        HandoverReason::ParoleMappa23,
        HandoverReason::ThdOver12Months,
        HandoverReason::EarlyAllocation,
        HandoverReason::Indeterminate,
        HandoverReason::IndeterminateOpen,
        HandoverReason::DeterminateShort,
        HandoverReason::DeterminateParole,
        HandoverReason::Determinate,
        HandoverReason::ComResponsibility,
    ];

    /// The reason code (handover-rules.md §12, column "code").
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverReason::RecallCase => "recall_case",
            HandoverReason::ImmigrationCase => "immigration_case",
            HandoverReason::ReleaseDateUnknown => "release_date_unknown",
            HandoverReason::PreOmicRules => "pre_omic_rules",
            HandoverReason::CrcCase => "crc_case",
            HandoverReason::LessThan10MonthsLeftToServe => "less_than_10_months_left_to_serve",
            HandoverReason::NpsEarlyAllocation => "nps_early_allocation",
            HandoverReason::NpsIndeterminate => "nps_indeterminate",
            HandoverReason::NpsIndeterminateOpen => "nps_indeterminate_open",
            HandoverReason::NpsDeterminateParoleCase => "nps_determinate_parole_case",
            HandoverReason::NpsMappaUnknown => "nps_mappa_unknown",
            HandoverReason::NpsDeterminateMappa1N => "nps_determinate_mappa_1_n",
            HandoverReason::NpsDeterminateMappa23 => "nps_determinate_mappa_2_3",
            HandoverReason::NpsDeterminate => "nps_determinate",
            HandoverReason::AdditionalIsp => "additional_isp",
            HandoverReason::RecallThdOver12Months => "recall_thd_over_12_months",
            HandoverReason::ParoleMappa23 => "parole_mappa_2_3",
            HandoverReason::ThdOver12Months => "thd_over_12_months",
            HandoverReason::EarlyAllocation => "early_allocation",
            HandoverReason::Indeterminate => "indeterminate",
            HandoverReason::IndeterminateOpen => "indeterminate_open",
            HandoverReason::DeterminateShort => "determinate_short",
            HandoverReason::DeterminateParole => "determinate_parole",
            HandoverReason::Determinate => "determinate",
            HandoverReason::ComResponsibility => "com_responsibility",
        }
    }

    /// MPC's display text (handover-rules.md §12, column "display text").
    pub fn display_text(self) -> &'static str {
        match self {
            HandoverReason::RecallCase => "Recall case",
            HandoverReason::ImmigrationCase => "Immigration Case",
            HandoverReason::ReleaseDateUnknown => "Release Date Unknown",
            HandoverReason::PreOmicRules => "Pre-OMIC rules",
            HandoverReason::CrcCase => "CRC Case",
            HandoverReason::LessThan10MonthsLeftToServe => "Less than 10 months left to serve",
            HandoverReason::NpsEarlyAllocation => "NPS Early Allocation",
            HandoverReason::NpsIndeterminate => "NPS Indeterminate",
            HandoverReason::NpsIndeterminateOpen => "NPS Indeterminate - Open conditions",
            HandoverReason::NpsDeterminateParoleCase => "NPS Determinate Parole Case",
            HandoverReason::NpsMappaUnknown => "NPS - MAPPA level unknown",
            HandoverReason::NpsDeterminateMappa1N => "NPS Determinate Mappa 1/N",
            HandoverReason::NpsDeterminateMappa23 => "NPS Determinate Mappa 2/3",
            HandoverReason::NpsDeterminate => "NPS Determinate Case",
            HandoverReason::AdditionalIsp => "Additional ISP",
            HandoverReason::RecallThdOver12Months => "Next parole hearing more than 12 months away",
            HandoverReason::ParoleMappa23 => "Unsuccessful parole and Mappa 2/3",
            HandoverReason::ThdOver12Months => "Next parole hearing more than 12 months away",
            HandoverReason::EarlyAllocation => "Early Allocation",
            HandoverReason::Indeterminate => "Indeterminate",
            HandoverReason::IndeterminateOpen => "Indeterminate - Open conditions",
            HandoverReason::DeterminateShort => "Determinate sentence 10 months or less",
            HandoverReason::DeterminateParole => "Parole",
            HandoverReason::Determinate => "Determinate sentence more than 10 months",
            HandoverReason::ComResponsibility => "COM Responsibility",
        }
    }

    /// Parse a reason code; `None` for anything else.
    pub fn parse(code: &str) -> Option<HandoverReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl fmt::Display for HandoverReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn section_12_codes_are_unique_round_trip_and_match_serde() {
        let codes: BTreeSet<&str> = HandoverReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(codes.len(), HandoverReason::ALL.len());
        for reason in HandoverReason::ALL {
            assert_eq!(HandoverReason::parse(reason.as_str()), Some(reason));
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::Value::String(reason.as_str().to_owned())
            );
            assert!(!reason.display_text().is_empty());
        }
        assert_eq!(
            HandoverReason::NpsDeterminateMappa1N.display_text(),
            "NPS Determinate Mappa 1/N"
        );
        assert_eq!(HandoverReason::parse("nps_mappa_1_n"), None);
    }
}
