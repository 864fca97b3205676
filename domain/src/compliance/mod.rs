//! Compliance and breach (enforcement-and-workload.md §5): appointment outcome classes,
//! breach-end outcomes, failure-to-comply limits as reference data, and the compliance status
//! shown to a practitioner.
//!
//! Pure: `today` is part of the input.

pub mod attendance;
pub mod breach_outcome;
pub mod limits;
pub mod status;

use jiff::civil::Date;

pub use attendance::AttendanceClass;
pub use breach_outcome::BreachEndContact;
pub use limits::{ComplianceSentenceType, FailureToComplyLimits};
pub use status::{
    assess_compliance, AlertLevel, BreachPeriod, ComplianceAssessment, ComplianceInput,
    ComplianceStatus, ComplianceWindow, ConcludedBreach, WindowKind,
};

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ComplianceError {
    #[error("failure-to-comply limit is 0; it must be at least 1 (take it from the limits reference data for the sentence type)")]
    LimitZero,
    #[error("{count} {what} is more than the limit of {max} in one request")]
    TooMany {
        what: &'static str,
        count: u64,
        max: u64,
    },
    #[error("failure to comply dated {date} is after today ({today}); check the contact date")]
    FailureToComplyAfterToday { date: Date, today: Date },
    #[error("breach started {started}, after today ({today}); check the breach start date")]
    BreachStartAfterToday { started: Date, today: Date },
    #[error("breach ended {ended}, before it started ({started}); check the breach dates")]
    BreachEndBeforeStart { started: Date, ended: Date },
    #[error("breach ended {ended}, after today ({today}); a future end is not yet an end")]
    BreachEndAfterToday { ended: Date, today: Date },
    #[error("breach started {started} has an outcome (proven or not) but no end date; record the end date with the outcome")]
    OutcomeOnActiveBreach { started: Date },
    #[error("today ({today}) is too close to the start of the calendar to look back 12 months")]
    TodayOutOfRange { today: Date },
    #[error("breach-end contact type {0:?} is not one of ABCC, ABCF, ABNA, ABPC, ABPP, ABSD, CPSS, ERCL, ABNP, ABWD")]
    BreachEndContact(String),
    #[error("failure-to-comply limits {table_id:?} give no limit (or 0) for {sentence_type:?}; add one to the reference data")]
    NoLimitForSentenceType {
        table_id: String,
        sentence_type: limits::ComplianceSentenceType,
    },
}
