//! `caseledger retention --due` and `caseledger subject-access CRN` (docs/commands.md,
//! docs/operations.md "Retention" and "Subject access").

use std::io::Write;

use caseledger_domain::retention::RetentionRule;
use jiff::civil::Date;

use crate::cli_ops::Failure;
use crate::engine::{Engine, EngineError};

/// The environment variable that configures the retention period, in years after closure.
pub const RETENTION_YEARS_ENV: &str = "CASELEDGER_RETENTION_YEARS_AFTER_CLOSURE";

fn write_failure(e: std::io::Error) -> Failure {
    Failure::Failed(e.to_string())
}

/// The retention rule from `--years-after-closure` / [`RETENTION_YEARS_ENV`]; none
/// configured is exit 2 (there is no default: RET-1 cites no period).
pub fn retention_rule(years: Option<u32>) -> Result<RetentionRule, Failure> {
    let years = years.ok_or_else(|| {
        Failure::Usage(format!(
            "no retention period is configured, and caseledger has no default: give \
             --years-after-closure N or set {RETENTION_YEARS_ENV} to the period your records \
             retention schedule sets (docs/operations.md \"Retention\")"
        ))
    })?;
    RetentionRule::years_after_closure(years)
        .map_err(|e| Failure::Usage(format!("--years-after-closure: {e}")))
}

/// `retention --due [--as-of DATE]`: one line per case whose retention has ended, as
/// `CRN closed_on retention_ended_on`, in CRN order; `--as-of` defaults to today (UTC).
pub async fn retention_due(
    engine: &Engine,
    rule: RetentionRule,
    as_of: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let as_of: Date = match as_of {
        Some(text) => text
            .parse()
            .map_err(|_| Failure::Usage(format!("--as-of: {text:?} is not a date YYYY-MM-DD")))?,
        None => jiff::Zoned::now()
            .with_time_zone(jiff::tz::TimeZone::UTC)
            .date(),
    };
    let due = engine.retention_due(rule, as_of).await?;
    writeln!(
        out,
        "# retention {} years after closure, as of {as_of}: {} case(s) due",
        rule.years(),
        due.len()
    )
    .map_err(write_failure)?;
    for case in due {
        writeln!(
            out,
            "{} closed {} retention ended {}",
            case.crn, case.closed_on, case.retention_ended_on
        )
        .map_err(write_failure)?;
    }
    Ok(())
}

/// `subject-access CRN`: everything the log holds about the person, as JSON.
pub async fn subject_access(
    engine: &Engine,
    crn: &str,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let access = match engine.subject_access(crn).await {
        Err(e @ EngineError::BadCrn(_)) => return Err(Failure::Usage(e.to_string())),
        other => other.map_err(Failure::from)?,
    };
    let Some(access) = access else {
        return Err(Failure::Failed(format!(
            "no case {crn} in this store; check the CRN and the --data directory or --store URL"
        )));
    };
    let json = serde_json::to_string_pretty(&access).map_err(|e| Failure::Failed(e.to_string()))?;
    writeln!(out, "{json}").map_err(write_failure)
}
