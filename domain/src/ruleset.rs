//! Eras as data: the rules in force on a date in a nation.
//!
//! History is replayed under the rules of its own time (design.md invariant 6), so `decide`
//! never hard-codes an era: it receives a [`Ruleset`] chosen by [`Ruleset::for_date`] from the
//! effective date and the nation of the case's PDU (region H = Wales, seed-digest §6a).
//!
//! Operating models:
//! - `tr-2014` Transforming Rehabilitation, two providers (NPS + CRCs), from 1 Jun 2014 (seed 002
//!   l.19) to 25 Jun 2021, the day before the unified model (seed 003 l.358).
//! - `wales-unified-2019` Wales only: sentence management integrated into the NPS "at the end of
//!   2019" (seed 003 l.216, l.2279). The seeds give no day; we choose **2019-12-02**, the first
//!   working day of December 2019 (the date HMPPS Wales moved CRC sentence management into the
//!   NPS — an outside-seed fact recorded here as the choice made). All cases are NPS-managed
//!   from then, so no CRC allocation.
//! - `unified-2021` the unified probation service from 26 Jun 2021 (seed 003 l.358, l.3447):
//!   allocation to a practitioner informed by tier and workload (BR-C1–C6).
//!
//! Handover eras: the ruleset carries the [`HandoverEra`] in force, chosen by
//! [`HandoverEra::for_date`]; the type and its first days live with the calculator
//! (`domain::handover::era`, handover-rules.md §4, §6.3).

use jiff::civil::{date, Date};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::handover::HandoverEra;
use crate::reference::Nation;

/// First day of Transforming Rehabilitation (seed 002 l.19).
pub const TR_START: Date = date(2014, 6, 1);
/// First day of the unified probation service, "Day 1" (seed 003 l.358).
pub const UNIFIED_START: Date = date(2021, 6, 26);
/// First day of unified sentence management in Wales (seed 003 l.216 "end of 2019"; day chosen,
/// see module docs).
pub const WALES_UNIFIED_START: Date = date(2019, 12, 2);
/// Allocation to a practitioner within five working days of sentence (BR-C2, seed 003 l.775).
pub const ALLOCATION_DEADLINE_WORKING_DAYS: u8 = 5;
/// First day the unified model's performance measures — allocation within five working days
/// of sentence (seed 003 l.775) and the sentence management measures (seed 003 l.1844–1856:
/// "switched on to support the unified model from June 2021") — apply: Day 1 of the unified
/// model (seed 003 l.358). A case event before it is measured against nothing: no measure
/// row, never "overdue" (docs/performance-measures.md, docs/rules.md PM-FROM).
pub const PERFORMANCE_MEASURES_FROM: Date = UNIFIED_START;

/// Do the unified model's performance measures and the allocation deadline apply to
/// something that started on `on`? (PM-FROM.)
pub fn performance_measures_apply(on: Date) -> bool {
    on >= PERFORMANCE_MEASURES_FROM
}
/// Custody with 10 months or more to serve is prison-managed (POM); less is community-managed
/// from sentence (BR-F1, BR-C11, seed 003 l.997, l.1009).
pub const OMIC_MONTHS_TO_SERVE_THRESHOLD: u8 = 10;

/// Id of an operating-model ruleset, stored in every decision event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RulesetId {
    #[serde(rename = "tr-2014")]
    Tr2014,
    #[serde(rename = "wales-unified-2019")]
    WalesUnified2019,
    #[serde(rename = "unified-2021")]
    Unified2021,
}

impl RulesetId {
    pub fn as_str(self) -> &'static str {
        match self {
            RulesetId::Tr2014 => "tr-2014",
            RulesetId::WalesUnified2019 => "wales-unified-2019",
            RulesetId::Unified2021 => "unified-2021",
        }
    }
}

/// Who manages cases in an era.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatingModel {
    /// NPS allocates each case to itself or a CRC by risk (BR-A2–A5).
    TwoProviders,
    /// One service for all risk levels; cases go to practitioners (BR-C1).
    Unified,
}

/// The rules in force on a date in a nation, as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    pub id: RulesetId,
    pub nation: Nation,
    pub operating_model: OperatingModel,
    pub handover_era: HandoverEra,
    pub allocation_deadline_working_days: u8,
    pub omic_months_to_serve_threshold: u8,
}

impl Ruleset {
    /// The ruleset in force on `on` in `nation`. Dates before Transforming Rehabilitation are
    /// refused: the engine does not model the probation trusts.
    pub fn for_date(on: Date, nation: Nation) -> Result<Ruleset, DomainError> {
        if on < TR_START {
            return Err(DomainError::NoRuleset {
                date: on.to_string(),
                nation: nation.as_str(),
            });
        }
        let (id, operating_model) = if on >= UNIFIED_START {
            (RulesetId::Unified2021, OperatingModel::Unified)
        } else if nation == Nation::Wales && on >= WALES_UNIFIED_START {
            (RulesetId::WalesUnified2019, OperatingModel::Unified)
        } else {
            (RulesetId::Tr2014, OperatingModel::TwoProviders)
        };
        Ok(Ruleset {
            id,
            nation,
            operating_model,
            handover_era: HandoverEra::for_date(on, nation),
            allocation_deadline_working_days: ALLOCATION_DEADLINE_WORKING_DAYS,
            omic_months_to_serve_threshold: OMIC_MONTHS_TO_SERVE_THRESHOLD,
        })
    }

    pub fn is_two_provider(&self) -> bool {
        self.operating_model == OperatingModel::TwoProviders
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(y: i16, m: i8, d: i8, n: Nation) -> &'static str {
        Ruleset::for_date(date(y, m, d), n).unwrap().id.as_str()
    }

    #[test]
    fn br_tr_era_runs_from_1_june_2014_to_25_june_2021() {
        assert!(Ruleset::for_date(date(2014, 5, 31), Nation::England).is_err());
        assert_eq!(id(2014, 6, 1, Nation::England), "tr-2014");
        assert_eq!(id(2021, 6, 25, Nation::England), "tr-2014");
        assert_eq!(id(2021, 6, 26, Nation::England), "unified-2021");
        assert_eq!(id(2021, 6, 26, Nation::Wales), "unified-2021");
    }

    #[test]
    fn wales_unified_sentence_management_at_the_end_of_2019() {
        assert_eq!(id(2019, 12, 1, Nation::Wales), "tr-2014");
        assert_eq!(id(2019, 12, 2, Nation::Wales), "wales-unified-2019");
        assert_eq!(id(2019, 12, 2, Nation::England), "tr-2014");
        let r = Ruleset::for_date(date(2020, 3, 1), Nation::Wales).unwrap();
        assert_eq!(r.operating_model, OperatingModel::Unified);
    }

    #[test]
    fn br_c2_allocation_deadline_is_five_working_days_in_every_era() {
        for (d, n) in [
            (date(2015, 1, 1), Nation::England),
            (date(2022, 1, 1), Nation::Wales),
        ] {
            assert_eq!(
                Ruleset::for_date(d, n)
                    .unwrap()
                    .allocation_deadline_working_days,
                5
            );
        }
    }
}
