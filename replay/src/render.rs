//! Plain-text renderings for people (the CLI's `--format text`). JSON renderings are the
//! serde forms of the same structures.

use std::fmt::Write;

use serde_json::Value;

use crate::asof::AsOf;
use crate::history::{CaseHistory, HistoryEntry};
use crate::verify::{Extension, VerifyOutcome};

fn compact(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// The case timeline: one block per event; corrections shown beside what they correct.
pub fn history_text(history: &CaseHistory) -> String {
    let mut out = history_header_text(&history.stream_id, &history.as_of);
    out.push_str(&recorded_later_text(history.recorded_later));
    for entry in &history.entries {
        out.push_str(&history_entry_text(entry));
    }
    out.push_str(&history_state_text(&history.state));
    out
}

/// The first lines of a timeline: the case and the bounds.
pub fn history_header_text(stream_id: &str, as_of: &AsOf) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "case {stream_id}");
    let bound = |b: Option<i64>, none: &str| {
        b.and_then(|us| crate::export::format_instant_us(us).ok())
            .map_or_else(|| none.to_owned(), |t| format!("by {t}"))
    };
    let _ = writeln!(
        out,
        "as of: recorded {}; in effect {}",
        bound(as_of.recorded_through_us, "up to now"),
        bound(as_of.effective_through_us, "at any time")
    );
    out
}

/// How many events were recorded after the bound (empty when none).
pub fn recorded_later_text(recorded_later: u64) -> String {
    if recorded_later == 0 {
        return String::new();
    }
    format!(
        "({recorded_later} later-recorded events not shown: the service did not know them yet)\n"
    )
}

/// The case state at the end of a timeline.
pub fn history_state_text(state: &Value) -> String {
    format!("\nstate as of the bounds:\n{state:#}\n")
}

/// One event's block of the timeline.
pub fn history_entry_text(entry: &HistoryEntry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n#{} v{} {} [{}]",
        entry.position, entry.stream_version, entry.event_type, entry.event_id
    );
    let _ = writeln!(
        out,
        "  effective {}  recorded {}",
        entry.effective_at, entry.recorded_at
    );
    let _ = writeln!(
        out,
        "  by {} ({}, {})",
        entry.actor.id, entry.actor.role, entry.actor.organisation
    );
    if !entry.ruleset_id.is_empty() || entry.reason_code.is_some() {
        let _ = writeln!(
            out,
            "  ruleset {}  reason {}",
            if entry.ruleset_id.is_empty() {
                "-"
            } else {
                &entry.ruleset_id
            },
            entry.reason_code.as_deref().unwrap_or("-")
        );
    }
    if let Some(link) = &entry.corrects {
        let at = link
            .position
            .map_or_else(|| "not in this case".to_owned(), |p| format!("#{p}"));
        let _ = writeln!(out, "  CORRECTS {} ({at}): {}", link.event_id, link.reason);
    }
    for link in &entry.corrected_by {
        let at = link.position.map_or_else(String::new, |p| format!("#{p}"));
        let _ = writeln!(
            out,
            "  CORRECTED BY {at} [{}]: {} (this entry is kept as recorded)",
            link.event_id, link.reason
        );
    }
    if !entry.applied {
        let _ = writeln!(
            out,
            "  not applied: effective after the as-of effective bound"
        );
    }
    let _ = writeln!(out, "  payload {}", entry.payload);
    for change in &entry.changes {
        let _ = writeln!(
            out,
            "  changed {}: {} -> {}",
            change.path,
            compact(&change.before),
            compact(&change.after)
        );
    }
    if let Some(state) = &entry.state_after {
        let _ = writeln!(out, "  state after {state}");
    }
    out
}

/// Verification result; the `ROOT@POSITION` line is the one to publish.
pub fn verify_text(outcome: &VerifyOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "head position {}", outcome.head);
    let _ = writeln!(out, "root {}", outcome.checkpoint());
    match &outcome.first_bad {
        None => {
            let _ = writeln!(
                out,
                "chain intact: {} records checked",
                outcome.records_checked
            );
        }
        Some((position, reason)) => {
            let _ = writeln!(out, "CHAIN BROKEN at position {position}: {reason}");
        }
    }
    if let Some((checkpoint, relation)) = &outcome.extension {
        let _ = match relation {
            Extension::Extends => writeln!(
                out,
                "EXTENDS {checkpoint}: the first {} records are unchanged",
                checkpoint.position
            ),
            Extension::Diverges { root_now } => writeln!(
                out,
                "DIVERGES from {checkpoint}: the first {} records now have root {}",
                checkpoint.position,
                hex::encode(root_now)
            ),
            Extension::ShorterThanCheckpoint { head } => writeln!(
                out,
                "SHORTER than {checkpoint}: the log ends at position {head}"
            ),
        };
    }
    out
}
