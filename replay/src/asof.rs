//! Bitemporal as-of: the records of a case *recorded by* R and *effective
//! by* E.
//!
//! - Recorded by R: `recorded_at ≤ R`. `recorded_at` never decreases with position (store
//!   invariant, checked by [`caseledger_store::hash::ChainVerifier`]), so this is a prefix of the log and of
//!   every stream in it.
//! - Applied as of E: of those, only events with `effective_at ≤ E`, still in position order
//!   (the order the service learned them), never re-sorted by effective time.
//!
//! Bounds given as a civil date mean "through the end of that day", in UTC, the zone of the
//! stored instants: "what did we know on 3 March" includes everything recorded on 3 March.

use caseledger_store::RecordedEvent;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;

use crate::error::ReplayError;

/// Microseconds in one day.
const DAY_US: i64 = 86_400_000_000;

/// The two bounds of an as-of question, inclusive, in microseconds since the epoch (UTC).
/// `None` = no bound ("everything recorded so far", "whatever its effective time").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AsOf {
    pub recorded_through_us: Option<i64>,
    pub effective_through_us: Option<i64>,
}

impl AsOf {
    /// Everything: the current view.
    pub fn now() -> Self {
        Self::default()
    }

    /// Was `record` known by R?
    pub fn knows(&self, record: &RecordedEvent) -> bool {
        self.recorded_through_us
            .is_none_or(|r| record.recorded_at_us <= r)
    }

    /// Does `record` apply as of E?
    pub fn applies(&self, record: &RecordedEvent) -> bool {
        self.effective_through_us
            .is_none_or(|e| record.effective_at_us <= e)
    }

    /// The records of `records` (one stream or the log, in position order) recorded by R:
    /// a prefix. Records after it are not looked at.
    pub fn known_prefix<'a>(&self, records: &'a [RecordedEvent]) -> &'a [RecordedEvent] {
        let known = records.partition_point(|r| self.knows(r));
        debug_assert!(records[known..].iter().all(|r| !self.knows(r)));
        &records[..known]
    }
}

/// Parse an as-of bound: an RFC 3339 instant (`2026-03-03T17:00:00Z`, inclusive) or a civil
/// date (`2026-03-03`, through the end of that day UTC). `what` names the option in errors.
pub fn parse_bound(what: &str, text: &str) -> Result<i64, ReplayError> {
    let bad = |reason: String| ReplayError::BadAsOf {
        option: what.to_owned(),
        input: text.chars().take(64).collect(),
        reason,
    };
    let text = text.trim();
    // jiff would also read a date out of a full datetime; only a bare date means "that day".
    let bare_date = text.len() == "YYYY-MM-DD".len();
    if let Some(date) = bare_date.then(|| text.parse::<Date>().ok()).flatten() {
        let start = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| bad(e.to_string()))?
            .timestamp()
            .as_microsecond();
        return start
            .checked_add(DAY_US - 1)
            .ok_or_else(|| bad("date out of range".into()));
    }
    let instant: Timestamp = text.parse().map_err(|e: jiff::Error| {
        bad(format!(
            "neither a date (YYYY-MM-DD) nor an RFC 3339 instant (YYYY-MM-DDTHH:MM:SSZ): {e}"
        ))
    })?;
    Ok(instant.as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(text: &str) -> i64 {
        text.parse::<Timestamp>()
            .expect("test instant")
            .as_microsecond()
    }

    #[test]
    fn a_date_bound_runs_through_the_end_of_that_day_utc() {
        let bound = parse_bound("--as-of-recorded", "2026-03-03").expect("date");
        assert_eq!(bound, us("2026-03-03T23:59:59.999999Z"));
        assert!(bound < us("2026-03-04T00:00:00Z"));
    }

    #[test]
    fn an_instant_bound_is_taken_as_given() {
        assert_eq!(
            parse_bound("--as-of-recorded", "2026-03-03T10:15:00Z").expect("instant"),
            us("2026-03-03T10:15:00Z")
        );
        assert_eq!(
            parse_bound("--as-of-recorded", "2026-03-03T10:15:00+01:00").expect("offset"),
            us("2026-03-03T09:15:00Z")
        );
    }

    #[test]
    fn a_bad_bound_is_a_typed_error_naming_the_option() {
        let error = parse_bound("--as-of-effective", "3rd of March").expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("--as-of-effective"), "{text}");
        assert!(text.contains("3rd of March"), "{text}");
        assert!(parse_bound("--as-of-effective", "2026-02-30").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_bound_never_panics(text in ".{0,40}") {
            let _ = parse_bound("--as-of-recorded", &text);
        }
    }
}
