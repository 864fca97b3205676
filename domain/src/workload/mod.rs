//! Workload: case type, case points, available points and capacity
//! (enforcement-and-workload.md §1, §2, §4; HMPPS `hmpps-workload` `WorkloadCalculator.kt`,
//! `CapacityCalculator.kt` and its seed reference data). A case's tier is the one V2 tier type,
//! [`crate::tier::V2Tier`].
//!
//! Pure functions over versioned reference data ([`WorkloadTable`]); every result carries its
//! breakdown and the id of the table that produced it, so a manager (or an auditor replaying a
//! decision) can see why a practitioner is at a given capacity.

pub mod capacity;
pub mod case_type;
pub mod points;
pub mod table;
pub mod young_adult;

use jiff::civil::Date;

pub use capacity::{available_points, capacity, AvailablePoints, CapacityPercent};
pub use case_type::{
    classify_case, ActiveDisposal, CaseType, CaseTypeDecision, CustodialStatus,
    DisposalSentenceType,
};
pub use points::{
    potential_capacity, workload_points, CaseOnCaseload, CaseloadInput, PotentialCapacity,
    WorkloadBreakdown,
};
pub use table::{Grade, Hours, PerGrade, PointsRow, WorkloadTable, WorkloadTables};
pub use young_adult::{
    is_young_adult, young_adult_window, YOUNG_ADULT_AGE_MAX_YEARS, YOUNG_ADULT_AGE_MIN_YEARS,
};

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum WorkloadError {
    #[error("case type {0:?} is not one of COMMUNITY, CUSTODY, LICENSE (UNKNOWN cases are not stored for workload)")]
    CaseType(String),
    #[error("custodial status {0:?} is not one of A, B, C, D, I, P, R, T, AT")]
    CustodialStatus(String),
    #[error("grade code {0:?} is not one of PSM (PO), PSQ (PSO), PSC (SPO), PSP (PQiP)")]
    GradeCode(String),
    #[error("hours {0:?} must be a non-negative decimal with at most 3 decimal places and at most 168, e.g. 37 or 1.8")]
    Hours(String),
    #[error("no active disposals: a case type needs at least one active sentence")]
    NoActiveDisposals,
    #[error("{count} active disposals is more than the {max} one person can have in one request", max = case_type::DISPOSALS_PER_PERSON_MAX)]
    TooManyDisposals { count: u64 },
    #[error("{count} {what} is more than the limit of {max}; split the request")]
    TooMany {
        what: &'static str,
        count: u64,
        max: u64,
    },
    #[error("{kind} {value:?} must be 1 to 32 bytes long")]
    BadCode { kind: &'static str, value: String },
    #[error("case {0} appears more than once on the caseload; each case counts once")]
    DuplicateCase(String),
    #[error("workload points overflowed; check the reference data weightings")]
    PointsOverflow,
    #[error("{count} workload table versions: give at least 1 and at most 256")]
    TableVersionsCount { count: u64 },
    #[error(
        "workload table id {0:?} is used by more than one version; give each version its own id"
    )]
    DuplicateTableId(String),
    #[error(
        "workload table {0:?} has effective_to on or before effective_from, so it never applies"
    )]
    EmptyEffectivePeriod(String),
    #[error("no workload table is in force on {on}; add a table version whose effective period covers it")]
    NoTableInForce { on: Date },
}
