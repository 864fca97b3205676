//! `caseledger rebuild [--digest] [--streams-per-pass N] [--events-per-pass N]` and `caseledger report <name> [--as-of-recorded T]
//! [--as-of-effective D] [--format table|json|csv]`: a thin layer over
//! `caseledger_projections::{rebuild_read_models, report_read_model}`.
//!
//! The caller opens the event store (the engine/CLI issue owns how) and passes it with the
//! read-model directory, normally [`readmodels_path`]`(--data)` = `<data>/readmodels`.

use std::io::Write;
use std::path::Path;

use caseledger_projections::report::{CaseloadBy, Format, ReportOptions};
use caseledger_projections::{rebuild_read_models, report_read_model_with, AsOf, RebuildOptions};
use jiff::civil::Date;

/// Where the read models live inside the data directory.
pub fn readmodels_path(data: &Path) -> std::path::PathBuf {
    data.join("readmodels")
}

/// Rebuild all read models, drawing progress on stderr; with `digest`, print each read
/// model's SHA-256 on `out`.
pub async fn rebuild(
    engine: &crate::Engine,
    readmodels: &Path,
    options: RebuildOptions,
    digest: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
    let bar = indicatif::ProgressBar::new(0);
    let mut progress = |_: &str, position: u64, head: u64| {
        bar.set_length(head);
        bar.set_position(position);
    };
    let store = engine.store().as_ref();
    let cases = engine.case_projection();
    let reports = rebuild_read_models(store, &cases, readmodels, options, &mut progress)
        .await
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    for r in reports {
        writeln!(
            out,
            "rebuilt {} generation {} at position {} in {} pass{}",
            r.projection,
            r.generation,
            r.checkpoint,
            r.passes,
            if r.passes == 1 { "" } else { "es" }
        )
        .map_err(|e| e.to_string())?;
        if digest {
            for (model, sha) in &r.digests {
                writeln!(out, "{model} {sha}").map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// Parse `--as-of-recorded` (RFC 3339 instant) / `--as-of-effective` (date or instant).
pub fn parse_as_of(recorded: Option<&str>, effective: Option<&str>) -> Result<AsOf, String> {
    let instant_us = |s: &str| -> Result<i64, String> {
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Ok(ts.as_microsecond());
        }
        let date: Date = s
            .parse()
            .map_err(|_| format!("{s:?} is neither an RFC 3339 instant (2024-03-01T12:00:00Z) nor a date (2024-03-01)"))?;
        // A date means the end of that day (UTC): everything that happened on it.
        let end = date
            .at(23, 59, 59, 999_999_000)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?;
        Ok(end.timestamp().as_microsecond())
    };
    match (recorded, effective) {
        (Some(_), Some(_)) => Err("give --as-of-recorded or --as-of-effective, not both".into()),
        (Some(r), None) => Ok(AsOf::Recorded(instant_us(r)?)),
        (None, Some(e)) => Ok(AsOf::Effective(instant_us(e)?)),
        (None, None) => Ok(AsOf::Now),
    }
}

/// Parse `--by` (the caseload's grouping: provider, pdu, team, region, practitioner).
pub fn parse_options(by: Option<&str>) -> Result<ReportOptions, String> {
    Ok(ReportOptions {
        caseload_by: by
            .map(CaseloadBy::parse)
            .transpose()
            .map_err(|e| e.to_string())?,
    })
}

/// Print report `name`; `today` is the date rules such as "overdue" are judged on.
#[allow(clippy::too_many_arguments)]
pub async fn report(
    engine: &crate::Engine,
    readmodels: &Path,
    name: &str,
    options: &ReportOptions,
    as_of: AsOf,
    today: Date,
    format: &str,
    out: &mut dyn Write,
) -> Result<(), String> {
    let format = Format::parse(format).map_err(|e| e.to_string())?;
    let (store, cases) = (engine.store().as_ref(), engine.case_projection());
    let table = report_read_model_with(store, &cases, readmodels, name, options, as_of, today)
        .await
        .map_err(|e| e.to_string())?;
    out.write_all(table.render(format).as_bytes())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_accepts_instants_and_dates_and_refuses_both_or_garbage() {
        assert_eq!(parse_as_of(None, None), Ok(AsOf::Now));
        assert_eq!(
            parse_as_of(Some("1970-01-01T00:00:01Z"), None),
            Ok(AsOf::Recorded(1_000_000))
        );
        assert_eq!(
            parse_as_of(None, Some("1970-01-01")),
            Ok(AsOf::Effective(86_399_999_999))
        );
        assert!(parse_as_of(Some("x"), None)
            .unwrap_err()
            .contains("RFC 3339"));
        assert!(parse_as_of(Some("1970-01-01"), Some("1970-01-01")).is_err());
    }
}
