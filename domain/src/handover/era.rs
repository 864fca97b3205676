//! The OMiC handover eras, their first days, and how one is chosen (handover-rules.md §4).
//!
//! One type serves the calculator (which runs the three OMiC eras) and the case lifecycle
//! (whose [`crate::ruleset::Ruleset`] also knows the time before OMiC, `pre-omic`, when there
//! is no handover to calculate).

use std::fmt;

use jiff::civil::{date, Date};
use serde::{Deserialize, Serialize};

use crate::reference::Nation;

/// OMiC case management start, England (seed 003 l.313, l.997).
pub const OMIC_2019_START_ENGLAND: Date = date(2019, 10, 1);
/// OMiC case management start, Wales (seed 003 l.313 "from February 2019"; handover-rules.md
/// §6.3 row 2 gives 2019-02-04).
pub const OMIC_2019_START_WALES: Date = date(2019, 2, 4);
/// First day of `omic-2022` (handover-rules.md §4).
pub const OMIC_2022_START: Date = date(2022, 10, 1);
/// First day of `omic-2023` (handover-rules.md §4).
pub const OMIC_2023_START: Date = date(2023, 4, 1);

/// The OMiC handover era a handover is calculated under, or `pre-omic` before OMiC
/// (handover-rules.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HandoverEra {
    /// Before OMiC case management started in the nation (seed 003 l.313): the community
    /// offender manager manages the custodial case; the calculator has nothing to run.
    #[serde(rename = "pre-omic")]
    PreOmic,
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
    /// The eras the calculator runs (handover-rules.md §4); `pre-omic` is not one.
    pub const OMIC: [HandoverEra; 3] = [
        HandoverEra::Omic2019,
        HandoverEra::Omic2022,
        HandoverEra::Omic2023,
    ];

    /// The era in force on `on` in `nation`: `pre-omic` before OMiC started there (England
    /// 2019-10-01, Wales 2019-02-04: seed 003 l.313, l.997; handover-rules.md §6.3), then
    /// the §4 eras. Half-open: each era includes its first day.
    pub fn for_date(on: Date, nation: Nation) -> HandoverEra {
        if on >= OMIC_2023_START {
            HandoverEra::Omic2023
        } else if on >= OMIC_2022_START {
            HandoverEra::Omic2022
        } else if on >= omic_2019_start(nation) {
            HandoverEra::Omic2019
        } else {
            HandoverEra::PreOmic
        }
    }

    /// The calculator's era when no era is given (handover-rules.md §4): before 2022-10-01 →
    /// `omic-2019` (whatever the nation, even before OMiC started); before 2023-04-01 →
    /// `omic-2022`; otherwise `omic-2023`.
    pub fn calculator_default(today: Date) -> HandoverEra {
        if today < OMIC_2022_START {
            HandoverEra::Omic2019
        } else if today < OMIC_2023_START {
            HandoverEra::Omic2022
        } else {
            HandoverEra::Omic2023
        }
    }

    /// The first day of this era in `nation` (`None` for `pre-omic`, which has no start).
    pub fn starts_on(self, nation: Nation) -> Option<Date> {
        match self {
            HandoverEra::PreOmic => None,
            HandoverEra::Omic2019 => Some(omic_2019_start(nation)),
            HandoverEra::Omic2022 => Some(OMIC_2022_START),
            HandoverEra::Omic2023 => Some(OMIC_2023_START),
        }
    }

    /// Does the calculator run this era (every era but `pre-omic`)?
    pub fn is_omic(self) -> bool {
        self != HandoverEra::PreOmic
    }

    /// The contract spelling (`pre-omic`, `omic-2019`, `omic-2022`, `omic-2023`); also the
    /// ruleset id stamped on handover decisions.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverEra::PreOmic => "pre-omic",
            HandoverEra::Omic2019 => "omic-2019",
            HandoverEra::Omic2022 => "omic-2022",
            HandoverEra::Omic2023 => "omic-2023",
        }
    }

    /// Parse the contract spelling of a calculator era ([`HandoverEra::OMIC`]); `None` for
    /// anything else, `pre-omic` included.
    pub fn parse(s: &str) -> Option<HandoverEra> {
        Self::OMIC.into_iter().find(|era| era.as_str() == s)
    }
}

/// First day of OMiC case management in `nation` (seed 003 l.313, l.997; handover-rules.md
/// §6.3 row 2).
fn omic_2019_start(nation: Nation) -> Date {
    match nation {
        Nation::England => OMIC_2019_START_ENGLAND,
        Nation::Wales => OMIC_2019_START_WALES,
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
        let default = |y, m, d| HandoverEra::calculator_default(date(y, m, d));
        assert_eq!(default(2022, 9, 30), HandoverEra::Omic2019);
        assert_eq!(default(2022, 10, 1), HandoverEra::Omic2022);
        assert_eq!(default(2023, 3, 31), HandoverEra::Omic2022);
        assert_eq!(default(2023, 4, 1), HandoverEra::Omic2023);
        assert_eq!(default(2014, 1, 1), HandoverEra::Omic2019);
    }

    #[test]
    fn handover_eras_by_date_and_nation() {
        let era = |y, m, d, n| HandoverEra::for_date(date(y, m, d), n).as_str();
        assert_eq!(era(2019, 2, 3, Nation::Wales), "pre-omic");
        assert_eq!(era(2019, 2, 4, Nation::Wales), "omic-2019");
        assert_eq!(era(2019, 2, 4, Nation::England), "pre-omic");
        assert_eq!(era(2019, 10, 1, Nation::England), "omic-2019");
        assert_eq!(era(2022, 9, 30, Nation::England), "omic-2019");
        assert_eq!(era(2022, 10, 1, Nation::England), "omic-2022");
        assert_eq!(era(2023, 4, 1, Nation::Wales), "omic-2023");
    }

    #[test]
    fn each_era_starts_on_the_day_for_date_first_gives_it() {
        for nation in [Nation::England, Nation::Wales] {
            assert_eq!(HandoverEra::PreOmic.starts_on(nation), None);
            for era in HandoverEra::OMIC {
                let first = era.starts_on(nation).unwrap();
                assert_eq!(HandoverEra::for_date(first, nation), era);
                assert_ne!(
                    HandoverEra::for_date(first.yesterday().unwrap(), nation),
                    era
                );
            }
        }
    }

    #[test]
    fn era_ids_round_trip_and_unknown_ids_are_refused() {
        for era in HandoverEra::OMIC {
            assert_eq!(HandoverEra::parse(era.as_str()), Some(era));
            let json = serde_json::to_string(&era).unwrap();
            assert_eq!(json, format!("\"{}\"", era.as_str()));
        }
        let pre_omic = serde_json::to_string(&HandoverEra::PreOmic).unwrap();
        assert_eq!(pre_omic, "\"pre-omic\"");
        assert_eq!(
            serde_json::from_str::<HandoverEra>(&pre_omic).unwrap(),
            HandoverEra::PreOmic
        );
        assert_eq!(HandoverEra::parse("pre-omic"), None);
        assert_eq!(HandoverEra::parse("omic-2024"), None);
        assert_eq!(HandoverEra::parse("OMIC-2019"), None);
    }
}
