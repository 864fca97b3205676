//! The OMiC handover eras and how one is chosen (handover-rules.md §4).

use std::fmt;

use jiff::civil::{date, Date};
use serde::{Deserialize, Serialize};

/// The rule set a handover is calculated under (handover-rules.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HandoverEra {
    /// OMiC v1, Sep 2019 → Oct 2022: NPS/CRC split; COM allocated 7.5 months and responsible
    /// 4.5 months before release (handover-rules.md §7; MPC `2bc3ea25`).
    #[serde(rename = "omic-2019")]
    Omic2019,
    /// Oct 2022 → Apr 2023: a single date 7.5 months before release for NPS determinate cases
    /// (handover-rules.md §8; MPC `e1e190ed`).
    #[serde(rename = "omic-2022")]
    Omic2022,
    /// Apr 2023 → now: April 2023 date maths plus the 2024 indeterminate/parole override
    /// ladder (handover-rules.md §9; MPC HEAD, ladder as of `2344f95c`).
    #[serde(rename = "omic-2023")]
    Omic2023,
}

impl HandoverEra {
    pub const ALL: [HandoverEra; 3] = [
        HandoverEra::Omic2019,
        HandoverEra::Omic2022,
        HandoverEra::Omic2023,
    ];

    /// First day of `omic-2022` when no era is given (handover-rules.md §4).
    pub const OMIC_2022_FROM: Date = date(2022, 10, 1);
    /// First day of `omic-2023` when no era is given (handover-rules.md §4).
    pub const OMIC_2023_FROM: Date = date(2023, 4, 1);

    /// The era in force on `today` (handover-rules.md §4): before 2022-10-01 → `omic-2019`;
    /// before 2023-04-01 → `omic-2022`; otherwise `omic-2023`.
    pub fn for_date(today: Date) -> HandoverEra {
        if today < Self::OMIC_2022_FROM {
            HandoverEra::Omic2019
        } else if today < Self::OMIC_2023_FROM {
            HandoverEra::Omic2022
        } else {
            HandoverEra::Omic2023
        }
    }

    /// The contract spelling (`omic-2019`, `omic-2022`, `omic-2023`); also the ruleset id
    /// stamped on handover decisions.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverEra::Omic2019 => "omic-2019",
            HandoverEra::Omic2022 => "omic-2022",
            HandoverEra::Omic2023 => "omic-2023",
        }
    }

    /// Parse the contract spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<HandoverEra> {
        Self::ALL.into_iter().find(|era| era.as_str() == s)
    }
}

impl fmt::Display for HandoverEra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_4_era_follows_today_with_half_open_boundaries() {
        assert_eq!(
            HandoverEra::for_date(date(2022, 9, 30)),
            HandoverEra::Omic2019
        );
        assert_eq!(
            HandoverEra::for_date(date(2022, 10, 1)),
            HandoverEra::Omic2022
        );
        assert_eq!(
            HandoverEra::for_date(date(2023, 3, 31)),
            HandoverEra::Omic2022
        );
        assert_eq!(
            HandoverEra::for_date(date(2023, 4, 1)),
            HandoverEra::Omic2023
        );
        assert_eq!(
            HandoverEra::for_date(date(2014, 1, 1)),
            HandoverEra::Omic2019
        );
    }

    #[test]
    fn era_ids_round_trip_and_unknown_ids_are_refused() {
        for era in HandoverEra::ALL {
            assert_eq!(HandoverEra::parse(era.as_str()), Some(era));
            let json = serde_json::to_string(&era).unwrap();
            assert_eq!(json, format!("\"{}\"", era.as_str()));
        }
        assert_eq!(HandoverEra::parse("omic-2024"), None);
        assert_eq!(HandoverEra::parse("OMIC-2019"), None);
    }
}
