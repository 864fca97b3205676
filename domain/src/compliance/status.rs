//! Compliance status, window and description (enforcement-and-workload.md §5.1, §5.2, §5.5;
//! HMS `sentence.service.ts`, CAPI `Conviction.java`).
//!
//! # Conventions chosen here (the sources do not pin them down)
//!
//! - **12 months** is calendar months back from `today` with jiff's clamping (29 Feb 2024 →
//!   28 Feb 2023).
//! - The window is **"since last breach"** when the latest breach end is strictly after
//!   `today − 12 months`; a breach that ended exactly 12 months ago gives **"within 12
//!   months"**. At that boundary both windows start on the same day, so only the label differs.
//! - Failures to comply are counted when `window start <= date <= today` (inclusive both
//!   ends): a failure on the day a breach ended happened after the breach was dealt with.

use jiff::civil::Date;
use jiff::ToSpan;
use serde::{Deserialize, Serialize};

use super::ComplianceError;

/// Most failure-to-comply dates in one request; far above any real order.
pub const FAILURES_TO_COMPLY_MAX: usize = 10_000;
/// Most breach periods in one request.
pub const BREACHES_MAX: usize = 1_000;

/// One breach (a `BRE` NSI): active while it has no end date (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachPeriod {
    pub started: Date,
    pub ended: Option<Date>,
    /// From the breach-end contact (§5.3); `None` when not recorded. Only a concluded breach
    /// has an outcome.
    pub proven: Option<bool>,
}

/// Primitive input, so the engine can map its case state to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceInput {
    pub today: Date,
    /// Dates of outcomes that count as failures to comply (§5.2, see
    /// [`super::AttendanceClass::counts_as_failure_to_comply`]).
    pub failures_to_comply: Vec<Date>,
    pub breaches: Vec<BreachPeriod>,
    /// The conviction's own `inBreach` flag (§5.1).
    pub in_breach_flag: bool,
    /// From [`super::FailureToComplyLimits`] for the sentence type; at least 1.
    pub failure_to_comply_limit: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComplianceStatus {
    InBreach,
    PendingBreach,
    FailureToComply,
    PreviousBreach,
    Clean,
}

impl ComplianceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceStatus::InBreach => "in-breach",
            ComplianceStatus::PendingBreach => "pending-breach",
            ComplianceStatus::FailureToComply => "failure-to-comply",
            ComplianceStatus::PreviousBreach => "previous-breach",
            ComplianceStatus::Clean => "clean",
        }
    }

    /// §5.5 alert column.
    pub fn alert_level(self) -> AlertLevel {
        match self {
            ComplianceStatus::InBreach | ComplianceStatus::PendingBreach => AlertLevel::Danger,
            ComplianceStatus::FailureToComply | ComplianceStatus::PreviousBreach => {
                AlertLevel::Warning
            }
            ComplianceStatus::Clean => AlertLevel::Success,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertLevel {
    Danger,
    Warning,
    Success,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowKind {
    SinceLastBreach,
    Within12Months,
}

impl WindowKind {
    pub fn text(self) -> &'static str {
        match self {
            WindowKind::SinceLastBreach => "since last breach",
            WindowKind::Within12Months => "within 12 months",
        }
    }
}

/// The compliance window (§5.2): failures are counted from `start` to `today`, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceWindow {
    pub kind: WindowKind,
    pub start: Date,
}

/// The most recently concluded breach, as §5.5 shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcludedBreach {
    pub started: Date,
    pub ended: Date,
    pub proven: Option<bool>,
    /// "Breach proven" / "Breach not proven"; `None` when the outcome is not recorded.
    pub outcome_text: Option<String>,
    /// "Resolved 12 January 2024".
    pub resolved_text: String,
}

/// The §5.5 assessment with everything it was based on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceAssessment {
    pub status: ComplianceStatus,
    pub alert_level: AlertLevel,
    /// "Breach in progress" when in breach.
    pub alert_text: Option<String>,
    pub window: ComplianceWindow,
    pub failures_to_comply_in_window: u32,
    pub failure_to_comply_limit: u32,
    /// Offer "Start a breach" (§5.5 pending-breach).
    pub breach_suggested: bool,
    pub active_breaches: u32,
    /// "multiple breach NSIs in progress" when more than one breach is active.
    pub multiple_active_breaches_warning: Option<String>,
    /// "2 failures to comply within 12 months", "No failures to comply since last breach".
    pub description: String,
    pub last_concluded_breach: Option<ConcludedBreach>,
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn long_date(d: Date) -> String {
    let month = usize::try_from(d.month() - 1)
        .ok()
        .and_then(|i| MONTH_NAMES.get(i))
        .copied()
        .unwrap_or("?");
    format!("{} {} {}", d.day(), month, d.year())
}

/// §5.5 description text.
pub fn description(failures: u32, window: WindowKind) -> String {
    let count = match failures {
        0 => "No".to_owned(),
        n => n.to_string(),
    };
    let noun = if failures == 1 { "failure" } else { "failures" };
    format!("{count} {noun} to comply {}", window.text())
}

fn validate(input: &ComplianceInput) -> Result<(), ComplianceError> {
    let today = input.today;
    if input.failure_to_comply_limit == 0 {
        return Err(ComplianceError::LimitZero);
    }
    if input.failures_to_comply.len() > FAILURES_TO_COMPLY_MAX {
        return Err(ComplianceError::TooMany {
            what: "failures to comply",
            count: u64::try_from(input.failures_to_comply.len()).unwrap_or(u64::MAX),
            max: FAILURES_TO_COMPLY_MAX as u64,
        });
    }
    if input.breaches.len() > BREACHES_MAX {
        return Err(ComplianceError::TooMany {
            what: "breaches",
            count: u64::try_from(input.breaches.len()).unwrap_or(u64::MAX),
            max: BREACHES_MAX as u64,
        });
    }
    if let Some(date) = input.failures_to_comply.iter().find(|d| **d > today) {
        return Err(ComplianceError::FailureToComplyAfterToday { date: *date, today });
    }
    for b in &input.breaches {
        if b.started > today {
            return Err(ComplianceError::BreachStartAfterToday {
                started: b.started,
                today,
            });
        }
        match b.ended {
            Some(ended) if ended < b.started => {
                return Err(ComplianceError::BreachEndBeforeStart {
                    started: b.started,
                    ended,
                })
            }
            Some(ended) if ended > today => {
                return Err(ComplianceError::BreachEndAfterToday { ended, today })
            }
            None if b.proven.is_some() => {
                return Err(ComplianceError::OutcomeOnActiveBreach { started: b.started })
            }
            _ => {}
        }
    }
    Ok(())
}

/// §5.5: the compliance status (first match), its window, count and texts.
///
/// Bad input (dates after `today`, a breach ending before it started, an outcome on an active
/// breach, a zero limit, oversized lists) is a typed error.
pub fn assess_compliance(input: &ComplianceInput) -> Result<ComplianceAssessment, ComplianceError> {
    validate(input)?;
    let today = input.today;
    let twelve_months_ago = today
        .checked_sub(12.months())
        .map_err(|_| ComplianceError::TodayOutOfRange { today })?;

    // §5.1: a breach is active while it has no actual end date.
    let active = input.breaches.iter().filter(|b| b.ended.is_none()).count();
    let active_breaches = u32::try_from(active).unwrap_or(u32::MAX); // ≤ BREACHES_MAX

    // Latest concluded breach; ties on end date broken by the later start so the pick is
    // independent of input order.
    let last_concluded = input
        .breaches
        .iter()
        .filter_map(|b| b.ended.map(|e| (e, b.started, b)))
        .max_by_key(|(e, s, _)| (*e, *s))
        .map(|(_, _, b)| b);

    // §5.2 compliance window.
    let window = match last_concluded.and_then(|b| b.ended) {
        Some(end) if end > twelve_months_ago => ComplianceWindow {
            kind: WindowKind::SinceLastBreach,
            start: end,
        },
        _ => ComplianceWindow {
            kind: WindowKind::Within12Months,
            start: twelve_months_ago,
        },
    };
    assert!(window.start <= today, "window starts after today");

    let in_window = input
        .failures_to_comply
        .iter()
        .filter(|d| **d >= window.start && **d <= today)
        .count();
    let failures = u32::try_from(in_window).unwrap_or(u32::MAX); // ≤ FAILURES_TO_COMPLY_MAX

    // §5.5, first match.
    let status = if input.in_breach_flag || active_breaches > 0 {
        ComplianceStatus::InBreach
    } else if failures >= input.failure_to_comply_limit {
        ComplianceStatus::PendingBreach
    } else if failures > 0 {
        ComplianceStatus::FailureToComply
    } else if window.kind == WindowKind::SinceLastBreach {
        ComplianceStatus::PreviousBreach
    } else {
        ComplianceStatus::Clean
    };

    let last_concluded_breach = last_concluded.and_then(|b| {
        b.ended.map(|ended| ConcludedBreach {
            started: b.started,
            ended,
            proven: b.proven,
            outcome_text: b.proven.map(|p| {
                if p {
                    "Breach proven"
                } else {
                    "Breach not proven"
                }
                .to_owned()
            }),
            resolved_text: format!("Resolved {}", long_date(ended)),
        })
    });

    Ok(ComplianceAssessment {
        status,
        alert_level: status.alert_level(),
        alert_text: (status == ComplianceStatus::InBreach).then(|| "Breach in progress".to_owned()),
        window,
        failures_to_comply_in_window: failures,
        failure_to_comply_limit: input.failure_to_comply_limit,
        breach_suggested: status == ComplianceStatus::PendingBreach,
        active_breaches,
        multiple_active_breaches_warning: (active_breaches > 1)
            .then(|| "multiple breach NSIs in progress".to_owned()),
        description: description(failures, window.kind),
        last_concluded_breach,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    const TODAY: Date = date(2024, 6, 15);

    fn input(failures: &[Date], breaches: &[BreachPeriod]) -> ComplianceInput {
        ComplianceInput {
            today: TODAY,
            failures_to_comply: failures.to_vec(),
            breaches: breaches.to_vec(),
            in_breach_flag: false,
            failure_to_comply_limit: 2,
        }
    }

    fn concluded(started: Date, ended: Date, proven: Option<bool>) -> BreachPeriod {
        BreachPeriod {
            started,
            ended: Some(ended),
            proven,
        }
    }

    /// §5.5 clean: no failures, no breach; window is the last 12 months.
    #[test]
    fn compliance_5_5_clean() {
        let a = assess_compliance(&input(&[], &[])).unwrap();
        assert_eq!(a.status, ComplianceStatus::Clean);
        assert_eq!(a.alert_level, AlertLevel::Success);
        assert_eq!(a.window.kind, WindowKind::Within12Months);
        assert_eq!(a.window.start, date(2023, 6, 15));
        assert_eq!(a.description, "No failures to comply within 12 months");
        assert!(!a.breach_suggested);
        assert_eq!(serde_json::to_string(&a.status).unwrap(), "\"clean\"");
    }

    /// §5.5 failure-to-comply with the singular text; count 0 / 1 / limit boundaries.
    #[test]
    fn compliance_5_5_failure_to_comply_count_boundaries() {
        let one = assess_compliance(&input(&[date(2024, 5, 1)], &[])).unwrap();
        assert_eq!(one.status, ComplianceStatus::FailureToComply);
        assert_eq!(one.alert_level, AlertLevel::Warning);
        assert_eq!(one.description, "1 failure to comply within 12 months");
        assert!(!one.breach_suggested);

        let two = assess_compliance(&input(&[date(2024, 5, 1), date(2024, 6, 1)], &[])).unwrap();
        assert_eq!(two.status, ComplianceStatus::PendingBreach);
        assert_eq!(two.description, "2 failures to comply within 12 months");
        assert!(two.breach_suggested);
        assert_eq!(two.alert_level, AlertLevel::Danger);

        let mut limit3 = input(&[date(2024, 5, 1), date(2024, 6, 1)], &[]);
        limit3.failure_to_comply_limit = 3;
        assert_eq!(
            assess_compliance(&limit3).unwrap().status,
            ComplianceStatus::FailureToComply
        );
    }

    /// §5.2 window edge: a failure exactly 12 months ago counts, one day earlier does not.
    #[test]
    fn compliance_5_2_twelve_month_window_edge_for_failures() {
        let a = assess_compliance(&input(&[date(2023, 6, 15), date(2023, 6, 14)], &[])).unwrap();
        assert_eq!(a.failures_to_comply_in_window, 1);
        assert_eq!(a.description, "1 failure to comply within 12 months");
    }

    /// §5.2 window edge: a breach that ended exactly 12 months ago gives "within 12 months";
    /// one day later gives "since last breach" (previous-breach when clean since).
    #[test]
    fn compliance_5_2_breach_end_exactly_12_months_ago() {
        let exactly = concluded(date(2023, 3, 1), date(2023, 6, 15), Some(true));
        let a = assess_compliance(&input(&[], &[exactly])).unwrap();
        assert_eq!(a.window.kind, WindowKind::Within12Months);
        assert_eq!(a.status, ComplianceStatus::Clean);

        let day_later = concluded(date(2023, 3, 1), date(2023, 6, 16), Some(true));
        let b = assess_compliance(&input(&[], &[day_later])).unwrap();
        assert_eq!(
            b.window,
            ComplianceWindow {
                kind: WindowKind::SinceLastBreach,
                start: date(2023, 6, 16)
            }
        );
        assert_eq!(b.status, ComplianceStatus::PreviousBreach);
        assert_eq!(b.alert_level, AlertLevel::Warning);
        assert_eq!(b.description, "No failures to comply since last breach");
        let concluded = b.last_concluded_breach.unwrap();
        assert_eq!(concluded.outcome_text.as_deref(), Some("Breach proven"));
        assert_eq!(concluded.resolved_text, "Resolved 16 June 2023");
    }

    /// §5.1: failures are counted since the last breach end, not before it.
    #[test]
    fn compliance_5_1_failures_counted_since_last_breach_end() {
        let breach = concluded(date(2024, 1, 10), date(2024, 3, 1), Some(false));
        let a = assess_compliance(&input(
            &[
                date(2024, 1, 2),
                date(2024, 1, 5),
                date(2024, 3, 1),
                date(2024, 4, 1),
            ],
            &[breach],
        ))
        .unwrap();
        assert_eq!(
            a.failures_to_comply_in_window, 2,
            "1 March (end day) and 1 April"
        );
        assert_eq!(a.status, ComplianceStatus::PendingBreach);
        assert_eq!(a.description, "2 failures to comply since last breach");
        assert_eq!(
            a.last_concluded_breach.unwrap().outcome_text.as_deref(),
            Some("Breach not proven")
        );
    }

    /// §5.5 in-breach: the flag or an active BRE NSI; two active NSIs also warn.
    #[test]
    fn compliance_5_5_in_breach_and_multiple_breach_warning() {
        let mut flagged = input(&[date(2024, 5, 1), date(2024, 6, 1)], &[]);
        flagged.in_breach_flag = true;
        let a = assess_compliance(&flagged).unwrap();
        assert_eq!(a.status, ComplianceStatus::InBreach);
        assert_eq!(a.alert_text.as_deref(), Some("Breach in progress"));
        assert!(!a.breach_suggested, "in-breach wins over pending-breach");
        assert_eq!(a.multiple_active_breaches_warning, None);

        let active = BreachPeriod {
            started: date(2024, 6, 1),
            ended: None,
            proven: None,
        };
        let one = assess_compliance(&input(&[], &[active])).unwrap();
        assert_eq!(
            (one.status, one.active_breaches),
            (ComplianceStatus::InBreach, 1)
        );
        assert_eq!(one.multiple_active_breaches_warning, None);
        let two = assess_compliance(&input(&[], &[active, active])).unwrap();
        assert_eq!(
            two.multiple_active_breaches_warning.as_deref(),
            Some("multiple breach NSIs in progress")
        );
    }

    /// 12 months back from 29 February clamps to 28 February.
    #[test]
    fn compliance_5_2_leap_day_window() {
        let mut i = input(&[date(2023, 2, 28)], &[]);
        i.today = date(2024, 2, 29);
        let a = assess_compliance(&i).unwrap();
        assert_eq!(a.window.start, date(2023, 2, 28));
        assert_eq!(a.failures_to_comply_in_window, 1);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let mut i = input(&[date(2024, 6, 16)], &[]);
        assert!(matches!(
            assess_compliance(&i),
            Err(ComplianceError::FailureToComplyAfterToday { .. })
        ));
        i = input(&[], &[]);
        i.failure_to_comply_limit = 0;
        assert_eq!(assess_compliance(&i), Err(ComplianceError::LimitZero));
        let backwards = concluded(date(2024, 3, 1), date(2024, 2, 1), None);
        assert!(matches!(
            assess_compliance(&input(&[], &[backwards])),
            Err(ComplianceError::BreachEndBeforeStart { .. })
        ));
        let future = concluded(date(2024, 3, 1), date(2024, 7, 1), None);
        assert!(matches!(
            assess_compliance(&input(&[], &[future])),
            Err(ComplianceError::BreachEndAfterToday { .. })
        ));
        let future_start = BreachPeriod {
            started: date(2024, 7, 1),
            ended: None,
            proven: None,
        };
        assert!(matches!(
            assess_compliance(&input(&[], &[future_start])),
            Err(ComplianceError::BreachStartAfterToday { .. })
        ));
        let outcome_active = BreachPeriod {
            started: date(2024, 3, 1),
            ended: None,
            proven: Some(true),
        };
        assert!(matches!(
            assess_compliance(&input(&[], &[outcome_active])),
            Err(ComplianceError::OutcomeOnActiveBreach { .. })
        ));
        let many = input(&vec![date(2024, 1, 1); FAILURES_TO_COMPLY_MAX + 1], &[]);
        assert!(matches!(
            assess_compliance(&many),
            Err(ComplianceError::TooMany { .. })
        ));
        let msg = ComplianceError::LimitZero.to_string();
        assert!(msg.contains("at least 1"), "{msg}");
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (0i32..6000).prop_map(|n| date(2014, 1, 1).checked_add(n.days()).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// Never panics; a valid input always gets a status consistent with its own numbers.
        #[test]
        fn assess_never_panics_and_is_consistent(
            today in any_date(),
            failures in proptest::collection::vec(any_date(), 0..20),
            breaches in proptest::collection::vec((any_date(), proptest::option::of(0i32..400), proptest::option::of(any::<bool>())), 0..4),
            flag in any::<bool>(),
            limit in 0u32..5,
        ) {
            let breaches: Vec<BreachPeriod> = breaches.into_iter().map(|(s, len, proven)| BreachPeriod {
                started: s,
                ended: len.map(|l| s.checked_add(l.days()).unwrap()),
                proven,
            }).collect();
            let i = ComplianceInput { today, failures_to_comply: failures, breaches, in_breach_flag: flag, failure_to_comply_limit: limit };
            if let Ok(a) = assess_compliance(&i) {
                prop_assert!(a.window.start <= today);
                prop_assert!(a.failures_to_comply_in_window as usize <= i.failures_to_comply.len());
                prop_assert_eq!(a.breach_suggested, a.status == ComplianceStatus::PendingBreach);
                if a.status == ComplianceStatus::Clean {
                    prop_assert_eq!(a.failures_to_comply_in_window, 0);
                    prop_assert_eq!(a.window.kind, WindowKind::Within12Months);
                }
                prop_assert!(a.description.ends_with(a.window.kind.text()));
            }
        }
    }
}
