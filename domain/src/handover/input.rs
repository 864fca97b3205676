//! The inputs of a handover calculation (handover-rules.md §3; policy-cli-contract.md,
//! `caseledger policy handover`). The engine fills a [`HandoverInput`] from a case's
//! sentence dates and registrations; the CLI fills it from one JSON line.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::era::HandoverEra;
use crate::risk::MappaLevel;

/// Longest `parole_outcome` accepted, in bytes. NOMIS outcome texts such as
/// `Stay In Closed [*]` are under 40 bytes; the limit bounds what a decision event stores.
pub const PAROLE_OUTCOME_BYTES_MAX: u32 = 256;
/// Longest `prison.category` accepted, in bytes. Security category codes are one or two
/// letters; the limit bounds what a decision event stores.
pub const CATEGORY_BYTES_MAX: u32 = 64;

/// Age from which a person is inside OMiC policy (handover-rules.md §5).
pub const ADULT_AGE_YEARS_MIN: u32 = 18;
/// Default age when the caller gives none (handover-rules.md §3.1; contract `age`).
pub const AGE_YEARS_DEFAULT: u32 = 30;

/// Which provider holds the case in the 2014–2021 two-provider era (handover-rules.md §3.1;
/// used by `omic-2019` and `omic-2022`, ignored by `omic-2023`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CaseAllocation {
    /// National Probation Service.
    #[default]
    Nps,
    /// Community Rehabilitation Company.
    Crc,
}

impl CaseAllocation {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseAllocation::Nps => "nps",
            CaseAllocation::Crc => "crc",
        }
    }
    pub fn parse(s: &str) -> Option<CaseAllocation> {
        [CaseAllocation::Nps, CaseAllocation::Crc]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Kind of English prison: private and hub prisons have a later release cutoff
/// (handover-rules.md §3.2, §6.3; MPC `app/services/prison_service.rb` @ 2bc3ea25).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PrisonKind {
    #[default]
    Public,
    /// MPC list: `ACI ASI DNI DGI FBI LGI OWI NLI PBI RHI TSI`.
    Private,
    /// MPC list: `IWI SLI VEI`.
    Hub,
}

impl PrisonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrisonKind::Public => "public",
            PrisonKind::Private => "private",
            PrisonKind::Hub => "hub",
        }
    }
    pub fn parse(s: &str) -> Option<PrisonKind> {
        [PrisonKind::Public, PrisonKind::Private, PrisonKind::Hub]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// The estate a prison belongs to (handover-rules.md §3.2, §6.1).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PrisonEstate {
    #[default]
    MaleClosed,
    /// MPC open prisons: `HDI HBI HVI KMI KVI LYI NSI UPI SPI EHI SUI TCI FDI` (includes
    /// HMP Prescoed, `UPI`).
    MaleOpen,
    /// Prisons with a female population.
    Womens,
}

impl PrisonEstate {
    pub fn as_str(self) -> &'static str {
        match self {
            PrisonEstate::MaleClosed => "male_closed",
            PrisonEstate::MaleOpen => "male_open",
            PrisonEstate::Womens => "womens",
        }
    }
    pub fn parse(s: &str) -> Option<PrisonEstate> {
        [
            PrisonEstate::MaleClosed,
            PrisonEstate::MaleOpen,
            PrisonEstate::Womens,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

impl fmt::Display for PrisonEstate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the person is held (handover-rules.md §3.2). `Default` is a public male closed
/// English prison, the contract default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prison {
    pub kind: PrisonKind,
    pub estate: PrisonEstate,
    /// Held in HMP Prescoed (`UPI`), a male open prison: only valid with
    /// `estate = MaleOpen` (handover-rules.md §3.2).
    pub prescoed: bool,
    /// Date of arrival at the current prison.
    pub arrival: Option<Date>,
    /// Security category code; only `"T"` (female open) has an effect (§6.1).
    pub category: Option<String>,
    /// Date the current category became active.
    pub category_since: Option<Date>,
}

/// Everything a handover calculation reads (handover-rules.md §3.1). Inputs an era does not
/// use are accepted and have no effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverInput {
    /// The calculation date; never the system clock.
    pub today: Date,
    /// Rule set; `None` → chosen from `today` ([`HandoverEra::calculator_default`], §4).
    pub era: Option<HandoverEra>,
    /// Age in years on `today`.
    pub age: u32,
    /// Sentence start date (SSD).
    pub sentence_start: Option<Date>,
    /// Conditional release date.
    pub crd: Option<Date>,
    /// Automatic release date.
    pub ard: Option<Date>,
    /// Parole eligibility date.
    pub ped: Option<Date>,
    /// Home detention curfew eligibility date (2019 NPS MAPPA 0/1/unknown and CRC; 2022 CRC).
    pub hdced: Option<Date>,
    /// Home detention curfew approved date (as `hdced`).
    pub hdcad: Option<Date>,
    /// Tariff expiry date (indeterminate sentences).
    pub ted: Option<Date>,
    /// Target hearing date of the latest parole review for the current sentence (2023).
    pub thd: Option<Date>,
    /// Parole review date, legacy MPC parole record (2019, 2022, indeterminate only).
    pub prd: Option<Date>,
    /// Life or IPP sentence.
    pub indeterminate: bool,
    /// Recalled to custody (NOMIS recall flag).
    pub recalled: bool,
    /// Immigration detainee (imprisonment status `DET`).
    pub immigration: bool,
    /// Civil imprisonment (outside OMiC).
    pub civil: bool,
    /// Sentenced; false = not sentenced (outside OMiC unless immigration).
    pub sentenced: bool,
    /// NPS or CRC (2019, 2022 only).
    pub case_allocation: CaseAllocation,
    /// MAPPA level; `None` = blank/unknown, which is not the same as level 0 (§7.3, §9.1).
    pub mappa_level: Option<MappaLevel>,
    /// The case counts as early allocation (decided upstream, §10).
    pub early_allocation: bool,
    /// Welsh offender (probation service is Wales).
    pub welsh: bool,
    pub prison: Prison,
    /// Outcome text of the latest completed parole review for the current sentence (2023).
    pub parole_outcome: Option<String>,
    /// Sentenced to a further indeterminate sentence that has not started yet (2023).
    pub additional_isp: bool,
}

impl HandoverInput {
    /// The contract defaults (handover-rules.md §3.1): age 30, sentenced, NPS, a public male
    /// closed English prison, every date unknown and every other flag false.
    pub fn new(today: Date) -> HandoverInput {
        HandoverInput {
            today,
            era: None,
            age: AGE_YEARS_DEFAULT,
            sentence_start: None,
            crd: None,
            ard: None,
            ped: None,
            hdced: None,
            hdcad: None,
            ted: None,
            thd: None,
            prd: None,
            indeterminate: false,
            recalled: false,
            immigration: false,
            civil: false,
            sentenced: true,
            case_allocation: CaseAllocation::Nps,
            mappa_level: None,
            early_allocation: false,
            welsh: false,
            prison: Prison::default(),
            parole_outcome: None,
            additional_isp: false,
        }
    }

    /// The era the calculation runs under: the explicit one, else the one in force on
    /// `today` (handover-rules.md §4).
    pub fn effective_era(&self) -> HandoverEra {
        self.era
            .unwrap_or_else(|| HandoverEra::calculator_default(self.today))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn section_3_defaults_match_the_contract() {
        let input = HandoverInput::new(date(2024, 1, 1));
        assert_eq!(input.age, 30);
        assert!(input.sentenced);
        assert!(!input.civil && !input.immigration && !input.recalled && !input.indeterminate);
        assert_eq!(input.case_allocation, CaseAllocation::Nps);
        assert_eq!(input.prison.kind, PrisonKind::Public);
        assert_eq!(input.prison.estate, PrisonEstate::MaleClosed);
        assert!(!input.prison.prescoed);
        assert_eq!(input.mappa_level, None);
        assert_eq!(input.effective_era(), HandoverEra::Omic2023);
        let explicit = HandoverInput {
            era: Some(HandoverEra::Omic2019),
            ..input
        };
        assert_eq!(explicit.effective_era(), HandoverEra::Omic2019);
    }

    #[test]
    fn contract_spellings_parse_and_others_do_not() {
        assert_eq!(PrisonKind::parse("hub"), Some(PrisonKind::Hub));
        assert_eq!(PrisonKind::parse("Hub"), None);
        assert_eq!(PrisonEstate::parse("womens"), Some(PrisonEstate::Womens));
        assert_eq!(PrisonEstate::parse("female"), None);
        assert_eq!(CaseAllocation::parse("crc"), Some(CaseAllocation::Crc));
        assert_eq!(CaseAllocation::parse("cRc"), None);
    }
}
