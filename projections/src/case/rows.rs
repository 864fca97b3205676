//! The rows one case contributes to each read model, derived from its [`CaseView`] alone:
//! what the case is (open, where, whose, RoSH, tier, MAPPA, sentence status) from the
//! domain's fold, the measures' dates from the bookkeeping beside it.
//!
//! Nothing here reads a clock: rows hold dates, and the report functions decide with `today`
//! what is upcoming, overdue or pending. That keeps persisted rows a pure function of the log
//! (design.md invariant 7).

use caseledger_domain::calendar;
use caseledger_domain::enforcement::{AccommodationStatus, EmploymentStatus};
use caseledger_domain::reference::Pdu;
use caseledger_domain::sentence::SentenceType;
use caseledger_domain::state::{CaseState, SentenceState, SentenceStatus};
use jiff::civil::Date;
use jiff::ToSpan;
use serde::{Deserialize, Serialize};

use super::facts::{month_of, CaseFacts, CaseView, RequirementFamily, SentenceFacts};

/// Model indexes, in `CaseProjection::models()` order.
pub const CASELOAD: u8 = 0;
pub const MAPPA: u8 = 1;
pub const HANDOVER: u8 = 2;
pub const ENFORCEMENT: u8 = 3;
pub const ALLOCATION: u8 = 4;
pub const PERFORMANCE: u8 = 5;
pub const MODELS: &[&str] = &[
    "caseload",
    "mappa",
    "handover",
    "enforcement",
    "allocation",
    "performance",
];

/// Where a case is managed. Nested (not `#[serde(flatten)]`) in every row: flattening goes
/// through serde's map path and was the most expensive part of writing rows.
///
/// Only the PDU number is stored: its name and region follow from it (reference data), so
/// they are filled in when a row is read ([`StoredRow::complete`]). Rows written before that
/// change still carry them, and read the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub pdu: Option<u8>,
    #[serde(skip_serializing, default)]
    pub pdu_name: Option<String>,
    #[serde(skip_serializing, default)]
    pub region: Option<String>,
}

impl Place {
    /// The place of PDU number `pdu` (none, or an unknown number: no name or region).
    pub fn of_pdu(pdu: Option<u8>) -> Place {
        let known = pdu.and_then(|p| Pdu::new(u32::from(p)).ok());
        Place {
            pdu,
            pdu_name: known.map(|p| p.name().to_owned()),
            region: known.map(|p| p.region().code().to_owned()),
        }
    }

    fn complete(&mut self) {
        if self.pdu_name.is_none() && self.region.is_none() {
            *self = Place::of_pdu(self.pdu);
        }
    }
}

pub fn place(case: &CaseState) -> Place {
    Place::of_pdu(case.pdu.map(|p| p.number()))
}

/// A row as stored holds only what its key and reference data do not say; `complete` puts
/// the rest back after it is read (`stream` and `local_key` are the row's key parts).
pub trait StoredRow {
    fn complete(&mut self, stream: &str, local_key: &[u8]);
}

macro_rules! stored_row_with_place {
    ($($row:ty),*) => {$(
        impl StoredRow for $row {
            fn complete(&mut self, _stream: &str, _local_key: &[u8]) {
                self.place.complete();
            }
        }
    )*};
}
stored_row_with_place!(
    CaseloadRow,
    MappaRow,
    HandoverRow,
    EnforcementRow,
    AllocationRow
);

impl StoredRow for PerformanceRow {
    /// The key is `measure/subject` under the case's stream; the month is the start's.
    fn complete(&mut self, stream: &str, local_key: &[u8]) {
        self.place.complete();
        if self.crn.is_empty() {
            self.crn = stream.to_owned();
        }
        if self.measure.is_empty() {
            let key = String::from_utf8_lossy(local_key);
            let (measure, subject) = key.split_once('/').unwrap_or((&key, ""));
            self.measure = measure.to_owned();
            self.subject = subject.to_owned();
        }
        if self.month.is_empty() {
            self.month = month(self.start);
        }
    }
}

/// Case type for workload (enforcement-and-workload.md §1): the supervised sentence with the
/// latest end, ties broken by latest start; custodial → `custody` while in custody (recalled
/// included), `licence` once released; community orders → `community`.
pub fn case_type(case: &CaseState) -> Option<&'static str> {
    let s = case
        .sentences
        .values()
        .filter(|s| s.status.is_supervised())
        .max_by_key(|s| (s.expires_on(), s.sentenced_on))?;
    Some(sentence_case_type(s))
}

fn sentence_case_type(s: &SentenceState) -> &'static str {
    match s.status {
        SentenceStatus::Community => "community",
        SentenceStatus::InCustody | SentenceStatus::Recalled => "custody",
        SentenceStatus::ReleasedOnLicence
        | SentenceStatus::PostSentenceSupervision
        | SentenceStatus::SupervisionEnded
        | SentenceStatus::Terminated => match s.sentence_type {
            SentenceType::CommunityOrder | SentenceType::SuspendedSentenceOrder => "community",
            _ => "licence",
        },
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseloadRow {
    pub crn: String,
    pub staff_code: Option<String>,
    pub practitioner: Option<String>,
    pub grade: Option<String>,
    pub team: Option<String>,
    pub place: Place,
    pub provider: Option<String>,
    pub case_type: String,
    pub tier: Option<String>,
    pub rosh: Option<String>,
    /// The days the person is a young adult (Transition to Adulthood), `[from, until)`: the
    /// caseload report scores the case from the T2A row on those days
    /// (enforcement-and-workload.md §4.1, `domain::workload::young_adult`). Rows written
    /// before it read as no window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub young_adult: Option<(Date, Date)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappaRow {
    pub crn: String,
    pub category: u8,
    pub level: u8,
    pub place: Place,
    pub provider: Option<String>,
    pub set_on: Date,
    pub review_on: Option<Date>,
    pub screened_on: Option<Date>,
    pub screened_eligible: Option<bool>,
    pub referred_on: Option<Date>,
    /// TR era: a MAPPA case must be managed by the NPS (BR-A4, seed 000 l.9); flagged when a
    /// CRC holds it.
    pub not_managed_by_nps: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverRow {
    pub crn: String,
    pub sentence: u16,
    pub place: Place,
    pub responsibility: Option<String>,
    pub start_on: Option<Date>,
    pub handover_on: Option<Date>,
    pub community_offender_manager: Option<String>,
    pub release_expected_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnforcementRow {
    pub crn: String,
    pub sentence: u16,
    pub sentence_type: SentenceType,
    pub place: Place,
    /// Dates of failures to comply on the case (enforcement-and-workload.md §5.2), newest last.
    pub failures_to_comply: Vec<Date>,
    pub last_breach_end: Option<Date>,
    /// Breaches of this sentence: (raised on, concluded on, proven).
    pub breaches: Vec<(Date, Option<Date>, Option<bool>)>,
    pub breaches_open: u16,
    pub recalls_open: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationRow {
    pub crn: String,
    pub sentenced_on: Date,
    pub place: Place,
    pub tier: Option<String>,
    pub rosh: Option<String>,
}

/// How a performance row is counted at report time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasureKind {
    /// Met if `done ≤ due`; missed once `today > due` with nothing done; pending otherwise.
    Deadline,
    /// Met if `met`; counted once `today ≥ due` (a status at a checkpoint date).
    Status,
    /// `numerator` of `denominator` (counts, e.g. appointments in a month).
    Count,
}

/// One measure for one subject of one case. The performance model is ~88% of all rows, so a
/// stored row holds only what its key (`<crn> 0 <measure>/<subject>`) and its start date do
/// not say: `crn`, `measure`, `subject` and `month` are filled in when it is read
/// ([`StoredRow::complete`]), and empty dates and flags are left out. Rows written with every
/// field (before this) read the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerformanceRow {
    #[serde(skip_serializing, default)]
    pub measure: String,
    #[serde(skip_serializing, default)]
    pub crn: String,
    /// What is measured within the case: `s1`, `s1/r2`, a month, …
    #[serde(skip_serializing, default)]
    pub subject: String,
    pub place: Place,
    /// `YYYY-MM` of the trigger (sentence, release, supervision start, appointment month):
    /// always the month of `start`.
    #[serde(skip_serializing, default)]
    pub month: String,
    pub kind: MeasureKind,
    pub start: Date,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub due: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub done: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub met: Option<bool>,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub numerator: u32,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub denominator: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Rows of one case, as (model, local key, row).
pub struct CaseRows {
    pub caseload: Option<CaseloadRow>,
    pub mappa: Option<MappaRow>,
    pub handover: Vec<HandoverRow>,
    pub enforcement: Vec<EnforcementRow>,
    pub allocation: Option<AllocationRow>,
    pub performance: Vec<PerformanceRow>,
}

pub fn derive(crn: &str, v: &CaseView) -> CaseRows {
    let (c, f) = (&v.case, &v.facts);
    let open = c.is_open();
    let place = place(c);
    let supervised = c.sentences.values().any(|s| s.status.is_supervised());
    let practitioner = c.practitioner.as_ref();
    let tier = c.tier.as_ref().map(|t| t.tier.as_str().to_owned());
    let rosh = c.risk.rosh.map(|r| r.as_str().to_owned());
    let provider = c.provider_name();
    let caseload = (open && supervised).then(|| CaseloadRow {
        crn: crn.to_owned(),
        staff_code: practitioner.map(|p| p.practitioner.staff_code.as_str().to_owned()),
        practitioner: practitioner.map(|p| p.practitioner.name.as_str().to_owned()),
        grade: practitioner.map(|p| p.practitioner.grade.as_str().to_owned()),
        team: practitioner
            .map(|p| p.team.as_str().to_owned())
            .or_else(|| c.team.as_ref().map(|t| t.as_str().to_owned())),
        place: place.clone(),
        provider: provider.clone(),
        case_type: case_type(c).unwrap_or("unknown").to_owned(),
        tier: tier.clone(),
        rosh: rosh.clone(),
        young_adult: f.young_adult,
    });
    let mappa = match (open, c.mappa.category, c.mappa.level, c.mappa.set_on) {
        (true, Some(category), Some(level), Some(set_on)) => Some(MappaRow {
            crn: crn.to_owned(),
            category: category.get(),
            level: level.get(),
            place: place.clone(),
            provider: provider.clone(),
            set_on,
            review_on: mappa_review_on(c),
            screened_on: c.mappa.screened_on,
            screened_eligible: c.mappa.screened_eligible,
            referred_on: c.mappa.referred.map(|r| r.0),
            not_managed_by_nps: c.held_by_crc(),
        }),
        _ => None,
    };
    let mut handover = Vec::new();
    let mut enforcement = Vec::new();
    for (id, s) in &c.sentences {
        let id = id.0;
        if !open || !s.status.is_supervised() {
            continue;
        }
        if s.sentence_type.is_custodial() && s.releases.is_empty() {
            handover.push(HandoverRow {
                crn: crn.to_owned(),
                sentence: id,
                place: place.clone(),
                responsibility: s.responsibility.map(|r| r.as_str().to_owned()),
                start_on: s.handover.as_ref().and_then(|h| h.start_date),
                handover_on: s.handover.as_ref().and_then(|h| h.handover_date),
                community_offender_manager: s
                    .community_offender_manager
                    .as_ref()
                    .map(|(p, _)| p.name.as_str().to_owned()),
                release_expected_on: s.release_expected_on(),
            });
        } else {
            enforcement.push(EnforcementRow {
                crn: crn.to_owned(),
                sentence: id,
                sentence_type: s.sentence_type,
                place: place.clone(),
                failures_to_comply: f.failures_to_comply.clone(),
                last_breach_end: f.last_breach_end,
                breaches: f
                    .breaches_concluded
                    .iter()
                    .filter(|b| b.0 == id)
                    .map(|b| (b.1, Some(b.2), Some(b.3)))
                    .chain(
                        f.breaches_open
                            .values()
                            .filter(|b| b.0 == id)
                            .map(|b| (b.1, None, None)),
                    )
                    .collect(),
                breaches_open: count_u16(f.breaches_open.values().filter(|b| b.0 == id).count()),
                recalls_open: count_u16(f.recalls_open.values().filter(|r| r.0 == id).count()),
            });
        }
    }
    let latest_supervised = c
        .sentences
        .values()
        .filter(|s| s.status.is_supervised())
        .map(|s| s.sentenced_on)
        .max();
    let allocation = match (open, practitioner.is_none(), latest_supervised) {
        (true, true, Some(sentenced_on)) => Some(AllocationRow {
            crn: crn.to_owned(),
            sentenced_on,
            place: place.clone(),
            tier,
            rosh,
        }),
        _ => None,
    };
    CaseRows {
        caseload,
        mappa,
        handover,
        enforcement,
        allocation,
        performance: super::performance::derive(crn, v, &place),
    }
}

/// Review date of the active MAPPA registration, if any.
fn mappa_review_on(c: &CaseState) -> Option<Date> {
    c.registrations
        .values()
        .rev()
        .filter(|r| r.removed_on.is_none() && r.kind.is_mappa())
        .find_map(|r| r.review_on)
}

fn count_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Latest accommodation status recorded on or before `on`.
pub fn accommodation_on(f: &CaseFacts, on: Date) -> Option<AccommodationStatus> {
    f.accommodation
        .iter()
        .filter(|(d, _, _)| *d <= on)
        .max_by_key(|(d, _, _)| *d)
        .map(|(_, s, _)| *s)
}

/// Latest employment status recorded on or before `on`.
pub fn employment_on(f: &CaseFacts, on: Date) -> Option<EmploymentStatus> {
    f.employment
        .iter()
        .filter(|(d, _, _)| *d <= on)
        .max_by_key(|(d, _, _)| *d)
        .map(|(_, s, _)| *s)
}

pub(crate) fn add_months(d: Date, months: i32) -> Option<Date> {
    d.checked_add(months.months()).ok()
}

pub(crate) fn add_days(d: Date, days: i32) -> Option<Date> {
    d.checked_add(days.days()).ok()
}

pub(crate) fn add_working_days(d: Date, n: u32) -> Option<Date> {
    calendar::add_working_days(d, n).ok()
}

pub(crate) fn families(
    s: &SentenceFacts,
    family: RequirementFamily,
) -> impl Iterator<Item = (&u16, &super::facts::RequirementFacts)> {
    s.requirements
        .iter()
        .filter(move |(_, r)| r.family == family)
}

pub(crate) fn month(d: Date) -> String {
    month_of(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> PerformanceRow {
        PerformanceRow {
            measure: "PM05".into(),
            crn: "X123456".into(),
            subject: "s1/r2".into(),
            place: Place::of_pdu(Some(12)),
            month: "2020-03".into(),
            kind: MeasureKind::Deadline,
            start: jiff::civil::date(2020, 3, 9),
            due: Some(jiff::civil::date(2020, 3, 16)),
            done: None,
            met: None,
            numerator: 0,
            denominator: 0,
        }
    }

    #[test]
    fn a_stored_performance_row_leaves_out_what_its_key_says_and_reads_back_whole() {
        let full = row();
        let stored = serde_json::to_vec(&full).unwrap();
        let text = String::from_utf8(stored.clone()).unwrap();
        for left_out in [
            "X123456", "PM05", "s1/r2", "pdu_name", "region", "month", "done",
        ] {
            assert!(!text.contains(left_out), "{left_out} in {text}");
        }
        let mut read: PerformanceRow = serde_json::from_slice(&stored).unwrap();
        read.complete("X123456", b"PM05/s1/r2");
        assert_eq!(read, full);
    }

    #[test]
    fn a_performance_row_stored_with_every_field_reads_the_same() {
        let full = row();
        // What rows looked like before they were stored compactly.
        let old = serde_json::json!({
            "measure": "PM05", "crn": "X123456", "subject": "s1/r2",
            "place": {"pdu": 12, "pdu_name": full.place.pdu_name, "region": full.place.region},
            "month": "2020-03", "kind": "deadline", "start": "2020-03-09", "due": "2020-03-16",
            "done": null, "met": null, "numerator": 0, "denominator": 0
        });
        let mut read: PerformanceRow = serde_json::from_value(old).unwrap();
        read.complete("X123456", b"PM05/s1/r2");
        assert_eq!(read, full);
        let mut caseload_place: Place = serde_json::from_str(r#"{"pdu": null}"#).unwrap();
        caseload_place.complete();
        assert_eq!(caseload_place, Place::of_pdu(None));
    }
}
