//! Prometheus text metrics (`GET /metrics`), names prefixed `caseledger_`. Labels are command
//! types, outcomes and routes only: never a CRN, an actor or anything a person wrote.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the command latency histogram, in seconds.
const LATENCY_BUCKETS_S: [f64; 12] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];
/// Upper bounds of the events-per-command histogram.
const EVENTS_BUCKETS: [f64; 6] = [1.0, 2.0, 3.0, 4.0, 8.0, 16.0];

#[derive(Default)]
struct Histogram {
    /// One count per bucket of its bounds (not cumulative), then the overflow.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len() + 1];
        }
        let i = bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(bounds.len());
        self.counts[i] += 1;
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, bounds: &[f64]) {
        let mut cumulative = 0;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Default)]
struct Counters {
    applied: BTreeMap<&'static str, u64>,
    deduplicated: BTreeMap<&'static str, u64>,
    refused: BTreeMap<(&'static str, &'static str), u64>,
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: Histogram,
    events: Histogram,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

/// What became of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied { events: u32 },
    Deduplicated,
    Refused { kind: &'static str },
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Counters) -> R) -> R {
        // A panic while holding the lock cannot leave counters inconsistent enough to matter.
        let mut guard = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// A command of `command_type` finished with `outcome` after `elapsed` (parse to receipt,
    /// the durable append included).
    pub fn command(&self, command_type: &'static str, outcome: Outcome, elapsed: Duration) {
        self.with(|c| match outcome {
            Outcome::Applied { events } => {
                *c.applied.entry(command_type).or_default() += 1;
                c.events.observe(&EVENTS_BUCKETS, f64::from(events));
                c.latency.observe(&LATENCY_BUCKETS_S, elapsed.as_secs_f64());
            }
            Outcome::Deduplicated => *c.deduplicated.entry(command_type).or_default() += 1,
            Outcome::Refused { kind } => *c.refused.entry((command_type, kind)).or_default() += 1,
        });
    }

    /// A request to `route` (the route's pattern, never the path) answered with `status`.
    pub fn request(&self, route: &'static str, status: u16) {
        self.with(|c| *c.requests.entry((route, status)).or_default() += 1);
    }

    /// The text exposition format, with the read models' lag in events (`None`: not built)
    /// and the sled writer's group-commit counters (`None` for other stores).
    pub fn render(
        &self,
        head: u64,
        read_model_lag: Option<u64>,
        relay_lag: Option<u64>,
        writer: Option<caseledger_store::WriterStats>,
    ) -> String {
        let mut out = String::new();
        self.with(|c| {
            out.push_str("# HELP caseledger_commands_applied_total Commands whose events were appended, by command type.\n# TYPE caseledger_commands_applied_total counter\n");
            for (t, n) in &c.applied {
                let _ = writeln!(out, "caseledger_commands_applied_total{{type=\"{t}\"}} {n}");
            }
            out.push_str("# HELP caseledger_commands_deduplicated_total Commands sent again with a command id already applied (nothing written).\n# TYPE caseledger_commands_deduplicated_total counter\n");
            for (t, n) in &c.deduplicated {
                let _ = writeln!(out, "caseledger_commands_deduplicated_total{{type=\"{t}\"}} {n}");
            }
            out.push_str("# HELP caseledger_commands_refused_total Commands refused, by command type and refusal kind (unauthorised, rule, bad_input).\n# TYPE caseledger_commands_refused_total counter\n");
            for ((t, k), n) in &c.refused {
                let _ = writeln!(out, "caseledger_commands_refused_total{{type=\"{t}\",kind=\"{k}\"}} {n}");
            }
            out.push_str("# HELP caseledger_command_append_seconds Time to decide a command and durably append its events, in seconds.\n# TYPE caseledger_command_append_seconds histogram\n");
            c.latency.render(&mut out, "caseledger_command_append_seconds", &LATENCY_BUCKETS_S);
            out.push_str("# HELP caseledger_command_events Events appended per applied command (its own and derived decisions), in one atomic append.\n# TYPE caseledger_command_events histogram\n");
            c.events.render(&mut out, "caseledger_command_events", &EVENTS_BUCKETS);
            out.push_str("# HELP caseledger_http_requests_total HTTP requests, by route pattern and status.\n# TYPE caseledger_http_requests_total counter\n");
            for ((route, status), n) in &c.requests {
                let _ = writeln!(out, "caseledger_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        });
        out.push_str("# HELP caseledger_log_head_position Position of the last record in the log.\n# TYPE caseledger_log_head_position gauge\n");
        let _ = writeln!(out, "caseledger_log_head_position {head}");
        out.push_str("# HELP caseledger_read_model_lag_events Records of the log not yet folded into the read models in service (-1: never built).\n# TYPE caseledger_read_model_lag_events gauge\n");
        let lag = read_model_lag.map(|l| l as i64).unwrap_or(-1);
        let _ = writeln!(out, "caseledger_read_model_lag_events {lag}");
        if let Some(lag) = relay_lag {
            out.push_str("# HELP caseledger_relay_lag_events Records of the log after the NATS relay's checkpoint (not yet published or passed over).\n# TYPE caseledger_relay_lag_events gauge\n");
            let _ = writeln!(out, "caseledger_relay_lag_events {lag}");
        }
        if let Some(w) = writer {
            out.push_str("# HELP caseledger_group_commits_total Group commits by the log's writer (one atomic batch and one flush each); appends / commits is the mean group-commit size.\n# TYPE caseledger_group_commits_total counter\n");
            let _ = writeln!(out, "caseledger_group_commits_total {}", w.batches);
            out.push_str("# HELP caseledger_group_commit_appends_total Appends answered by the log's writer, over all group commits.\n# TYPE caseledger_group_commit_appends_total counter\n");
            let _ = writeln!(out, "caseledger_group_commit_appends_total {}", w.appends);
            out.push_str("# HELP caseledger_group_commit_events_total Events written by the log's writer, over all group commits.\n# TYPE caseledger_group_commit_events_total counter\n");
            let _ = writeln!(out, "caseledger_group_commit_events_total {}", w.events);
        }
        out
    }
}
