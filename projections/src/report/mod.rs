//! Report queries over a [`RowSource`]: the persisted generation or an as-of fold.
//!
//! Rows hold dates; these functions take `today` and decide what is upcoming, overdue,
//! pending or counted. They are pure: same rows and `today`, same table.

pub mod table;

use std::collections::BTreeMap;

use caseledger_domain::calendar;
use caseledger_domain::compliance::{
    assess_compliance, BreachPeriod, ComplianceInput, ComplianceSentenceType, FailureToComplyLimits,
};
use caseledger_domain::ruleset::performance_measures_apply;
use caseledger_domain::sentence::SentenceType;
use caseledger_domain::tier::V2Tier;
use caseledger_domain::workload::{
    available_points, capacity, workload_points, CaseOnCaseload, CaseType, CaseloadInput, Grade,
    WorkloadTables,
};
use jiff::civil::Date;
use jiff::ToSpan;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::case::performance::{target_percent, MEASURES};
use crate::case::rows::{
    AllocationRow, CaseloadRow, EnforcementRow, HandoverRow, MappaRow, MeasureKind, PerformanceRow,
    StoredRow, ALLOCATION, CASELOAD, ENFORCEMENT, HANDOVER, MAPPA, PERFORMANCE,
};
use crate::projection::split_model_row_key;
use crate::source::RowSource;
use crate::ProjectionError;
pub use table::{Format, Table};

/// Upcoming handover window: `handover − 56 days ≤ today < handover` (handover-rules.md §11).
pub const UPCOMING_HANDOVER_WINDOW_DAYS: i32 = 56;
/// COM allocation overdue from `handover + 2 days` (handover-rules.md §11, MO-1208).
pub const COM_ALLOCATION_OVERDUE_AFTER_DAYS: i32 = 2;
/// Allocation within 5 working days of sentence (BR-C2, seed 003 l.775).
pub const ALLOCATION_WORKING_DAYS: u32 = 5;

/// The report names the CLI accepts.
pub const REPORTS: &[&str] = &[
    "caseload",
    "mappa",
    "handovers",
    "enforcement",
    "allocations",
    "performance",
];

fn rows_of<T: DeserializeOwned + StoredRow>(
    src: &dyn RowSource,
    model: u8,
) -> Result<Vec<T>, ProjectionError> {
    let mut out = Vec::new();
    src.for_each_row(model, &mut |key, value| {
        let corrupt = |reason: String| ProjectionError::Corrupt {
            what: format!(
                "read-model row {}",
                String::from_utf8_lossy(key).replace('\0', "/")
            ),
            reason,
        };
        let mut row: T = serde_json::from_slice(value).map_err(|e| corrupt(e.to_string()))?;
        let (stream, local_key) = split_model_row_key(key)
            .ok_or_else(|| corrupt("key has no stream separator".to_owned()))?;
        row.complete(stream, local_key);
        out.push(row);
        Ok(())
    })?;
    Ok(out)
}

fn opt<T: serde::Serialize>(v: &Option<T>) -> Value {
    v.as_ref().map_or(Value::Null, |v| json!(v))
}

/// How a report is asked for beyond its name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// Grouping of the caseload report (`--by`); `None`: by practitioner. Refused for the
    /// other reports, which are not grouped.
    pub caseload_by: Option<CaseloadBy>,
}

/// Run a report by name with the default options.
pub fn run(name: &str, src: &dyn RowSource, today: Date) -> Result<Table, ProjectionError> {
    run_with(name, &ReportOptions::default(), src, today)
}

/// Run a report by name (the CLI's entry point).
pub fn run_with(
    name: &str,
    options: &ReportOptions,
    src: &dyn RowSource,
    today: Date,
) -> Result<Table, ProjectionError> {
    if options.caseload_by.is_some() && name != "caseload" {
        return Err(ProjectionError::InvalidArgument(format!(
            "--by: only the caseload report is grouped; {name:?} is not"
        )));
    }
    match name {
        "caseload" => caseload(
            src,
            options.caseload_by.unwrap_or(CaseloadBy::Practitioner),
            today,
        ),
        "mappa" => mappa(src),
        "handovers" => handovers(src, today),
        "enforcement" => enforcement(src, today),
        "allocations" => allocations(src, today),
        "performance" => performance(src, today),
        other => Err(ProjectionError::InvalidArgument(format!(
            "no report {other:?}; choose one of {}",
            REPORTS.join(", ")
        ))),
    }
}

/// Grouping of the caseload report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseloadBy {
    Practitioner,
    Team,
    Pdu,
    Region,
    Provider,
}

impl CaseloadBy {
    /// The groupings `--by` accepts.
    pub const NAMES: &'static [&'static str] =
        &["practitioner", "team", "pdu", "region", "provider"];

    /// Parse a `--by` value; the error names the option and the choices.
    pub fn parse(s: &str) -> Result<CaseloadBy, ProjectionError> {
        match s {
            "practitioner" => Ok(CaseloadBy::Practitioner),
            "team" => Ok(CaseloadBy::Team),
            "pdu" => Ok(CaseloadBy::Pdu),
            "region" => Ok(CaseloadBy::Region),
            "provider" => Ok(CaseloadBy::Provider),
            other => Err(ProjectionError::InvalidArgument(format!(
                "--by: no grouping {:?}; choose one of {}",
                other.chars().take(32).collect::<String>(),
                CaseloadBy::NAMES.join(", ")
            ))),
        }
    }
}

fn workload_case_type(t: &str) -> Option<CaseType> {
    match t {
        "community" => Some(CaseType::Community),
        "custody" => Some(CaseType::Custody),
        "licence" => Some(CaseType::Licence),
        _ => None,
    }
}

fn workload_grade(g: &str) -> Option<Grade> {
    match g {
        "PO" => Some(Grade::Po),
        "PSO" => Some(Grade::Pso),
        "SPO" => Some(Grade::Spo),
        "PQiP" => Some(Grade::Pqip),
        _ => None,
    }
}

/// Caseload by practitioner, team, PDU, region or provider: active cases by case type, tier
/// and RoSH; for practitioners also workload points and capacity % (enforcement-and-workload.md
/// §4.1–4.4, computed by `domain::workload` with the table in force on `today`, assuming the
/// grade's contracted hours and no reductions — the log records no hours).
pub fn caseload(
    src: &dyn RowSource,
    by: CaseloadBy,
    today: Date,
) -> Result<Table, ProjectionError> {
    let rows: Vec<CaseloadRow> = rows_of(src, CASELOAD)?;
    let tables = WorkloadTables::seed();
    let table = tables.in_force_on(today).ok();
    let mut groups: BTreeMap<Vec<String>, Vec<&CaseloadRow>> = BTreeMap::new();
    for r in &rows {
        let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_owned());
        let key = match by {
            CaseloadBy::Practitioner => vec![
                r.staff_code
                    .clone()
                    .unwrap_or_else(|| "(unallocated)".to_owned()),
                s(&r.practitioner),
                s(&r.grade),
                s(&r.team),
            ],
            CaseloadBy::Team => vec![s(&r.team)],
            CaseloadBy::Pdu => vec![r.place.pdu_name.clone().unwrap_or_else(|| "(none)".into())],
            CaseloadBy::Region => vec![s(&r.place.region)],
            CaseloadBy::Provider => vec![s(&r.provider)],
        };
        groups.entry(key).or_default().push(r);
    }
    let mut columns = match by {
        CaseloadBy::Practitioner => vec!["staff_code", "practitioner", "grade", "team"],
        CaseloadBy::Team => vec!["team"],
        CaseloadBy::Pdu => vec!["pdu"],
        CaseloadBy::Region => vec!["region"],
        CaseloadBy::Provider => vec!["provider"],
    };
    columns.extend([
        "cases",
        "community",
        "licence",
        "custody",
        "by_tier",
        "by_rosh",
        "workload_points",
        "capacity",
    ]);
    let mut out = Table::new(columns);
    for (key, cases) in groups {
        let count = |t: &str| cases.iter().filter(|c| c.case_type == t).count();
        let tally = |f: &dyn Fn(&CaseloadRow) -> Option<String>| {
            let mut m: BTreeMap<String, u32> = BTreeMap::new();
            for c in &cases {
                *m.entry(f(c).unwrap_or_else(|| "none".into())).or_default() += 1;
            }
            m.into_iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let input = CaseloadInput {
            cases: cases
                .iter()
                .filter_map(|c| {
                    Some(CaseOnCaseload {
                        crn: c.crn.clone(),
                        case_type: workload_case_type(&c.case_type)?,
                        tier: V2Tier::new(c.tier.as_deref()?).ok()?,
                        young_adult_t2a: c.young_adult.is_some_and(|window| {
                            caseledger_domain::workload::young_adult::within(window, today)
                        }),
                    })
                })
                .collect(),
            ..CaseloadInput::default()
        };
        let points = table
            .and_then(|t| workload_points(t, &input).ok())
            .map(|b| b.total);
        let capacity_text = match (
            by,
            table,
            points,
            cases
                .first()
                .and_then(|c| c.grade.as_deref())
                .and_then(workload_grade),
        ) {
            (CaseloadBy::Practitioner, Some(t), Some(p), Some(grade)) => {
                let contracted = t.contracted_hours.get(grade);
                let available = available_points(
                    t,
                    grade,
                    contracted,
                    caseledger_domain::workload::Hours::from_thousandths(0).unwrap_or(contracted),
                );
                json!(capacity(p, available.points).to_string())
            }
            _ => Value::Null,
        };
        let mut row: Vec<Value> = key.into_iter().map(Value::String).collect();
        row.extend([
            json!(cases.len()),
            json!(count("community")),
            json!(count("licence")),
            json!(count("custody")),
            json!(tally(&|c| c.tier.clone())),
            json!(tally(&|c| c.rosh.clone())),
            opt(&points),
            capacity_text,
        ]);
        out.push(row);
    }
    Ok(out)
}

/// MAPPA register: active MAPPA cases by region, PDU, category and level, with review dates
/// and screening status; in the TR era a MAPPA case held by a CRC is flagged (BR-A4, seed
/// 000 l.9; enforcement-and-workload.md §7).
pub fn mappa(src: &dyn RowSource) -> Result<Table, ProjectionError> {
    let mut rows: Vec<MappaRow> = rows_of(src, MAPPA)?;
    rows.sort_by(|a, b| {
        (&a.place.region, a.place.pdu, a.category, a.level, &a.crn).cmp(&(
            &b.place.region,
            b.place.pdu,
            b.category,
            b.level,
            &b.crn,
        ))
    });
    let mut out = Table::new(vec![
        "region",
        "pdu",
        "category",
        "level",
        "crn",
        "provider",
        "review_on",
        "screened_on",
        "screened_eligible",
        "referred_on",
        "not_managed_by_nps",
    ]);
    for r in rows {
        out.push(vec![
            opt(&r.place.region),
            opt(&r.place.pdu_name),
            json!(r.category),
            json!(r.level),
            json!(r.crn),
            opt(&r.provider),
            opt(&r.review_on),
            opt(&r.screened_on),
            opt(&r.screened_eligible),
            opt(&r.referred_on),
            json!(r.not_managed_by_nps),
        ]);
    }
    Ok(out)
}

/// Handover status of one custodial sentence on `today` (handover-rules.md §11).
pub fn handover_status(r: &HandoverRow, today: Date) -> Option<&'static str> {
    let handover = r.handover_on?;
    match r.responsibility.as_deref() {
        Some("custody_only") => {
            let opens = handover
                .checked_sub(UPCOMING_HANDOVER_WINDOW_DAYS.days())
                .ok()?;
            (opens <= today && today < handover).then_some("upcoming")
        }
        Some("community") => {
            let overdue_from = handover
                .checked_add(COM_ALLOCATION_OVERDUE_AFTER_DAYS.days())
                .ok()?;
            if r.community_offender_manager.is_none() && today >= overdue_from {
                Some("com_allocation_overdue")
            } else {
                Some("in_progress")
            }
        }
        _ => None,
    }
}

/// Upcoming handovers, handovers in progress and COM allocation overdue.
pub fn handovers(src: &dyn RowSource, today: Date) -> Result<Table, ProjectionError> {
    let rows: Vec<HandoverRow> = rows_of(src, HANDOVER)?;
    let mut out = Table::new(vec![
        "status",
        "crn",
        "sentence",
        "region",
        "pdu",
        "responsibility",
        "start_on",
        "handover_on",
        "community_offender_manager",
    ]);
    let mut listed: Vec<(&'static str, &HandoverRow)> = rows
        .iter()
        .filter_map(|r| Some((handover_status(r, today)?, r)))
        .collect();
    listed.sort_by(|a, b| (a.0, a.1.handover_on, &a.1.crn).cmp(&(b.0, b.1.handover_on, &b.1.crn)));
    for (status, r) in listed {
        out.push(vec![
            json!(status),
            json!(r.crn),
            json!(r.sentence),
            opt(&r.place.region),
            opt(&r.place.pdu_name),
            opt(&r.responsibility),
            opt(&r.start_on),
            opt(&r.handover_on),
            opt(&r.community_offender_manager),
        ]);
    }
    Ok(out)
}

fn compliance_type(t: SentenceType) -> Option<ComplianceSentenceType> {
    match t {
        SentenceType::CommunityOrder => Some(ComplianceSentenceType::CommunityOrder),
        SentenceType::SuspendedSentenceOrder => {
            Some(ComplianceSentenceType::SuspendedSentenceOrder)
        }
        SentenceType::Licence
        | SentenceType::DeterminateCustody
        | SentenceType::IndeterminateCustody => Some(ComplianceSentenceType::Licence),
        SentenceType::PostSentenceSupervision => {
            Some(ComplianceSentenceType::PostSentenceSupervision)
        }
    }
}

/// Compliance status of each active sentence in the community, from `domain::compliance`
/// (enforcement-and-workload.md §5.5): pending breach when failures to comply in the window
/// reach the sentence type's limit; breaches and recalls in progress.
pub fn enforcement(src: &dyn RowSource, today: Date) -> Result<Table, ProjectionError> {
    let rows: Vec<EnforcementRow> = rows_of(src, ENFORCEMENT)?;
    let limits = FailureToComplyLimits::national_standards_2015();
    let mut out = Table::new(vec![
        "crn",
        "sentence",
        "sentence_type",
        "region",
        "pdu",
        "status",
        "description",
        "failures_to_comply",
        "limit",
        "breach_suggested",
        "breaches_in_progress",
        "recalls_in_progress",
    ]);
    for r in rows {
        let limit = compliance_type(r.sentence_type)
            .and_then(|t| limits.limit_for(t).ok())
            .unwrap_or(1);
        let input = ComplianceInput {
            today,
            failures_to_comply: r
                .failures_to_comply
                .iter()
                .copied()
                .filter(|d| *d <= today)
                .collect(),
            breaches: r
                .breaches
                .iter()
                .filter(|b| b.0 <= today)
                .map(|b| BreachPeriod {
                    started: b.0,
                    ended: b.1.filter(|e| *e <= today),
                    proven: b.2,
                })
                .collect(),
            in_breach_flag: false,
            failure_to_comply_limit: limit,
        };
        let (status, description, ftc, suggested) = match assess_compliance(&input) {
            Ok(a) => (
                json!(a.status.as_str()),
                json!(a.description),
                json!(a.failures_to_comply_in_window),
                json!(a.breach_suggested),
            ),
            Err(e) => (
                json!("unknown"),
                json!(e.to_string()),
                Value::Null,
                Value::Null,
            ),
        };
        out.push(vec![
            json!(r.crn),
            json!(r.sentence),
            json!(r.sentence_type.as_str()),
            opt(&r.place.region),
            opt(&r.place.pdu_name),
            status,
            description,
            ftc,
            json!(limit),
            suggested,
            json!(r.breaches_open),
            json!(r.recalls_open),
        ]);
    }
    Ok(out)
}

/// Sentenced but unallocated cases with working days since sentence (England and Wales bank
/// holidays, `domain::calendar`); overdue once past 5 working days (BR-C2, seed 003 l.775) —
/// for sentences from when that deadline exists (PM-FROM); before it, `overdue` is empty.
pub fn allocations(src: &dyn RowSource, today: Date) -> Result<Table, ProjectionError> {
    let mut rows: Vec<AllocationRow> = rows_of(src, ALLOCATION)?;
    rows.sort_by(|a, b| (a.sentenced_on, &a.crn).cmp(&(b.sentenced_on, &b.crn)));
    let mut out = Table::new(vec![
        "crn",
        "sentenced_on",
        "region",
        "pdu",
        "tier",
        "rosh",
        "working_days_since_sentence",
        "overdue",
    ]);
    for r in rows {
        let days = calendar::working_days_after(r.sentenced_on, today).ok();
        let overdue =
            calendar::is_within_working_days(r.sentenced_on, today, ALLOCATION_WORKING_DAYS)
                .ok()
                .filter(|_| performance_measures_apply(r.sentenced_on))
                .map(|within| !within);
        out.push(vec![
            json!(r.crn),
            json!(r.sentenced_on),
            opt(&r.place.region),
            opt(&r.place.pdu_name),
            opt(&r.tier),
            opt(&r.rosh),
            opt(&days),
            opt(&overdue),
        ]);
    }
    Ok(out)
}

/// Whether one performance row counts on `today`, and whether it is met: `None` = pending.
pub fn judge(r: &PerformanceRow, today: Date) -> Option<(u32, u32)> {
    match r.kind {
        MeasureKind::Count => Some((r.numerator, r.denominator)),
        MeasureKind::Deadline => match (r.done, r.due) {
            (Some(done), Some(due)) => Some((u32::from(done <= due), 1)),
            (None, Some(due)) if today > due => Some((0, 1)),
            _ => None,
        },
        MeasureKind::Status => match r.due {
            Some(due) if today >= due => Some((u32::from(r.met == Some(true)), 1)),
            _ => None,
        },
    }
}

/// Performance measures by measure, region, PDU and month: numerator, denominator, percent,
/// the seed's target where it states one, and the CRNs behind each side.
pub fn performance(src: &dyn RowSource, today: Date) -> Result<Table, ProjectionError> {
    let rows: Vec<PerformanceRow> = rows_of(src, PERFORMANCE)?;
    type Key = (usize, String, String, String);
    let mut groups: BTreeMap<Key, (u32, u32, Vec<String>, Vec<String>)> = BTreeMap::new();
    for r in &rows {
        let Some((n, d)) = judge(r, today) else {
            continue;
        };
        let order = MEASURES
            .iter()
            .position(|m| *m == r.measure)
            .unwrap_or(MEASURES.len());
        let key = (
            order,
            r.place.region.clone().unwrap_or_default(),
            r.place.pdu_name.clone().unwrap_or_default(),
            r.month.clone(),
        );
        let g = groups.entry(key).or_default();
        g.0 = g.0.saturating_add(n);
        g.1 = g.1.saturating_add(d);
        if n > 0 && !g.2.contains(&r.crn) {
            g.2.push(r.crn.clone());
        }
        if n < d && !g.3.contains(&r.crn) {
            g.3.push(r.crn.clone());
        }
    }
    let mut out = Table::new(vec![
        "measure",
        "region",
        "pdu",
        "month",
        "numerator",
        "denominator",
        "percent",
        "target_percent",
        "crns_met",
        "crns_not_met",
    ]);
    for ((order, region, pdu, month), (n, d, met, missed)) in groups {
        let measure = MEASURES.get(order).copied().unwrap_or("?");
        let percent = if d == 0 {
            Value::Null
        } else {
            json!(format!("{:.1}", f64::from(n) * 100.0 / f64::from(d)))
        };
        out.push(vec![
            json!(measure),
            json!(region),
            json!(pdu),
            json!(month),
            json!(n),
            json!(d),
            percent,
            opt(&target_percent(measure)),
            json!(met),
            json!(missed),
        ]);
    }
    Ok(out)
}
