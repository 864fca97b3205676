//! `caseledger retention --due`, `caseledger subject-access CRN` and `caseledger erase CRN
//! --reason TEXT` (docs/commands.md, docs/operations.md "Retention", "Subject access" and
//! "Erasure").

use std::io::Write;

use caseledger_commands::envelope::{CommandActor, EffectiveAt};
use caseledger_commands::{CommandEnvelope, Role};
use caseledger_domain::identity::{Crn, Text};
use caseledger_domain::retention::RetentionRule;
use caseledger_domain::DomainCommand;
use caseledger_store::{DataKeyEntry, StreamId};
use jiff::civil::Date;

use crate::cli_identity::Operator;
use crate::cli_ops::Failure;
use crate::engine::{Engine, EngineError};

/// The organisation recorded on an operator's erasure: the host the CLI runs on, as its
/// session records it (`audit-sessions`).
pub const OPERATOR_ORGANISATION: &str = "host";

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

/// `erase CRN --reason TEXT`: erase the person's personal data on case `crn` (ERASE-1), as the
/// operating-system user running the CLI in the role `data_protection_officer` (the session
/// in `audit-sessions` records the OS user; the erasure's actor is that user). Prints the
/// receipt as JSON with the state of the person's data key after it. A CRN or reason that
/// cannot be used is exit 2, nothing written; an unknown case is refused (exit 5, recorded,
/// nothing erased).
pub async fn erase(
    engine: &Engine,
    operator: &Operator,
    (crn, reason): (Crn, Text),
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let envelope = erase_envelope(&operator.session.os_user, crn, reason)?;
    let receipt = operator
        .execute(engine, &envelope)
        .await
        .map_err(|e| Failure::from(EngineError::from(e)))?;
    let stream =
        StreamId::new(envelope.crn.as_str()).map_err(|e| Failure::Failed(e.to_string()))?;
    let data_key = match engine
        .store()
        .key_store()
        .data_key(&stream)
        .await
        .map_err(|e| Failure::Failed(e.to_string()))?
    {
        DataKeyEntry::Absent => "none",
        DataKeyEntry::Wrapped(_) => "live",
        DataKeyEntry::Destroyed => "destroyed",
    };
    let mut json = serde_json::to_value(&receipt).map_err(|e| Failure::Failed(e.to_string()))?;
    json["data_key"] = data_key.into();
    writeln!(out, "{json}").map_err(write_failure)
}

/// `erase`'s CRN and `--reason`, checked before the store is opened, so an argument that
/// cannot be used writes nothing, not even the run's operator session (exit 2).
pub fn erase_arguments(crn: &str, reason: &str) -> Result<(Crn, Text), Failure> {
    let crn = Crn::new(crn).map_err(|e| Failure::Usage(e.to_string()))?;
    let reason = Text::new(reason).map_err(|e| Failure::Usage(format!("--reason: {e}")))?;
    Ok((crn, reason))
}

/// The erasure command of `os_user` for case `crn`, dated now (UTC).
fn erase_envelope(os_user: &str, crn: Crn, reason: Text) -> Result<CommandEnvelope, Failure> {
    let now = jiff::Timestamp::now();
    let effective_at = EffectiveAt::parse(&now.to_string()).map_err(Failure::Failed)?;
    Ok(CommandEnvelope {
        command_id: uuid::Uuid::new_v4(),
        crn: crn.clone(),
        actor: CommandActor {
            id: os_user.to_owned(),
            role: Role::DataProtectionOfficer,
            organisation: OPERATOR_ORGANISATION.to_owned(),
        },
        effective_at,
        command: DomainCommand::ErasePersonalData {
            crn,
            on: effective_at.date,
            reason,
        },
    })
}
