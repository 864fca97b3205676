//! `caseledger policy handover`: one JSON line in, one JSON line out
//! (policy-cli-contract.md; handover-rules.md §3.3).
//!
//! The shell only reads and checks fields, builds a [`HandoverInput`] and hands it to the
//! pure calculator [`caseledger_domain::handover::calculate`]; every rule lives there.

use caseledger_domain::handover::input::AGE_YEARS_DEFAULT;
use caseledger_domain::handover::{
    calculate, CaseAllocation, HandoverEra, HandoverInput, HandoverResult, Prison, PrisonEstate,
    PrisonKind,
};
use caseledger_domain::risk::MappaLevel;
use serde_json::{Map, Value};

use super::common::{boolean, date, date_value, object, required_date};

/// Top-level input fields of the contract.
const FIELDS: [&str; 25] = [
    "id",
    "today",
    "era",
    "age",
    "sentence_start",
    "crd",
    "ard",
    "ped",
    "hdced",
    "hdcad",
    "ted",
    "thd",
    "prd",
    "indeterminate",
    "recalled",
    "immigration",
    "civil",
    "sentenced",
    "case_allocation",
    "mappa_level",
    "early_allocation",
    "welsh",
    "prison",
    "parole_outcome",
    "additional_isp",
];

/// Keys of the `prison` object (handover-rules.md §3.2).
const PRISON_FIELDS: [&str; 6] = [
    "kind",
    "estate",
    "prescoed",
    "arrival",
    "category",
    "category_since",
];

/// Evaluate one parsed input line. `Err` is the per-line error text
/// (`<field>: <why>`, handover-rules.md §3.3).
pub fn evaluate_line(line: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let input = read_input(line)?;
    let result = calculate(&input).map_err(|e| e.to_string())?;
    Ok(output(&result))
}

/// The four contract outputs, present on every success (handover-rules.md §1).
fn output(result: &HandoverResult) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "responsibility".into(),
        Value::String(result.responsibility.as_str().into()),
    );
    out.insert("start_date".into(), date_value(result.start_date));
    out.insert("handover_date".into(), date_value(result.handover_date));
    out.insert(
        "reason".into(),
        Value::String(result.reason.as_str().into()),
    );
    out
}

/// Read and check every field in contract order; the first problem is reported.
pub fn read_input(line: &Map<String, Value>) -> Result<HandoverInput, String> {
    reject_unknown_fields(line)?;
    let today = required_date(line, "today")?;
    let mut input = HandoverInput::new(today);
    input.era = era(line)?;
    input.age = age(line)?;
    input.sentence_start = date(line, "sentence_start")?;
    input.crd = date(line, "crd")?;
    input.ard = date(line, "ard")?;
    input.ped = date(line, "ped")?;
    input.hdced = date(line, "hdced")?;
    input.hdcad = date(line, "hdcad")?;
    input.ted = date(line, "ted")?;
    input.thd = date(line, "thd")?;
    input.prd = date(line, "prd")?;
    input.indeterminate = boolean(line, "indeterminate", false)?;
    input.recalled = boolean(line, "recalled", false)?;
    input.immigration = boolean(line, "immigration", false)?;
    input.civil = boolean(line, "civil", false)?;
    input.sentenced = boolean(line, "sentenced", true)?;
    input.case_allocation = case_allocation(line)?;
    input.mappa_level = mappa_level(line)?;
    input.early_allocation = boolean(line, "early_allocation", false)?;
    input.welsh = boolean(line, "welsh", false)?;
    input.prison = prison(line)?;
    input.parole_outcome = match line.get("parole_outcome") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("parole_outcome: must be a string or null".into()),
    };
    input.additional_isp = boolean(line, "additional_isp", false)?;
    Ok(input)
}

/// Unknown top-level keys and unknown `prison` keys, named together in one sorted list
/// (`unknown field: a, prison.b`), since they are almost always typos.
fn reject_unknown_fields(line: &Map<String, Value>) -> Result<(), String> {
    let mut unknown: Vec<String> = line
        .keys()
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    if let Some(Value::Object(prison)) = line.get("prison") {
        unknown.extend(
            prison
                .keys()
                .filter(|k| !PRISON_FIELDS.contains(&k.as_str()))
                .map(|k| format!("prison.{k}")),
        );
    }
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(format!("unknown field: {}", unknown.join(", ")))
}

fn era(line: &Map<String, Value>) -> Result<Option<HandoverEra>, String> {
    match line.get("era") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => HandoverEra::parse(s).map(Some).ok_or_else(|| {
            format!(
                "era: must be \"omic-2019\", \"omic-2022\" or \"omic-2023\" (got {})",
                shown(s)
            )
        }),
        Some(_) => Err("era: must be \"omic-2019\", \"omic-2022\" or \"omic-2023\"".into()),
    }
}

/// Longest piece of a bad value echoed in an error, in characters: enough to recognise a
/// typo without copying a large value into every error line.
const ECHO_CHARS_MAX: usize = 40;

/// `s` quoted for an error message, shortened to [`ECHO_CHARS_MAX`] characters.
fn shown(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(ECHO_CHARS_MAX).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// A JSON value as written, shortened to [`ECHO_CHARS_MAX`] characters.
fn shown_json(value: &Value) -> String {
    let text = value.to_string();
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(ECHO_CHARS_MAX).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// A whole number in `min..=max`, accepting `30` and `30.0` alike (JSON has one number
/// type); `None` for anything else.
fn whole_number(value: &Value, max: u64) -> Option<u64> {
    let n = value.as_number()?;
    let whole = match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => u,
        (None, Some(f)) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= max as f64 => {
            f as u64
        }
        _ => return None,
    };
    (whole <= max).then_some(whole)
}

fn age(line: &Map<String, Value>) -> Result<u32, String> {
    match line.get("age") {
        None | Some(Value::Null) => Ok(AGE_YEARS_DEFAULT),
        Some(value) => whole_number(value, u64::from(u32::MAX))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                format!(
                    "age: must be a non-negative integer (got {})",
                    shown_json(value)
                )
            }),
    }
}

fn case_allocation(line: &Map<String, Value>) -> Result<CaseAllocation, String> {
    match line.get("case_allocation") {
        None | Some(Value::Null) => Ok(CaseAllocation::default()),
        Some(Value::String(s)) => CaseAllocation::parse(s).ok_or_else(|| {
            format!(
                "case_allocation: must be \"nps\" or \"crc\" (got {})",
                shown(s)
            )
        }),
        Some(_) => Err("case_allocation: must be \"nps\" or \"crc\"".into()),
    }
}

fn mappa_level(line: &Map<String, Value>) -> Result<Option<MappaLevel>, String> {
    match line.get("mappa_level") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => whole_number(value, u64::from(MappaLevel::MAX))
            .and_then(|n| u8::try_from(n).ok())
            .and_then(|n| MappaLevel::new(n).ok())
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "mappa_level: must be 0, 1, 2, 3 or null (got {})",
                    shown_json(value)
                )
            }),
    }
}

/// The `prison` object (handover-rules.md §3.2); absent or null = a public male closed
/// English prison. Field errors are named `prison.<key>`.
fn prison(line: &Map<String, Value>) -> Result<Prison, String> {
    let Some(p) = object(line, "prison")? else {
        return Ok(Prison::default());
    };
    let in_prison = |e: String| format!("prison.{e}");
    let kind = match p.get("kind") {
        None | Some(Value::Null) => PrisonKind::default(),
        Some(Value::String(s)) => PrisonKind::parse(s).ok_or_else(|| {
            format!(
                "prison.kind: must be \"public\", \"private\" or \"hub\" (got {})",
                shown(s)
            )
        })?,
        Some(_) => return Err("prison.kind: must be \"public\", \"private\" or \"hub\"".into()),
    };
    let estate = match p.get("estate") {
        None | Some(Value::Null) => PrisonEstate::default(),
        Some(Value::String(s)) => PrisonEstate::parse(s).ok_or_else(|| {
            format!(
                "prison.estate: must be \"male_closed\", \"male_open\" or \"womens\" (got {})",
                shown(s)
            )
        })?,
        Some(_) => {
            return Err(
                "prison.estate: must be \"male_closed\", \"male_open\" or \"womens\"".into(),
            )
        }
    };
    let prescoed = boolean(p, "prescoed", false).map_err(in_prison)?;
    let arrival = date(p, "arrival").map_err(in_prison)?;
    let category = match p.get("category") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("prison.category: must be a string or null".into()),
    };
    let category_since = date(p, "category_since").map_err(in_prison)?;
    Ok(Prison {
        kind,
        estate,
        prescoed,
        arrival,
        category,
        category_since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn all_four_outputs_on_success_even_when_dates_are_unknown() {
        let out = evaluate_line(&line(
            r#"{"id":"x","today":"2024-01-01","era":"omic-2023","recalled":true}"#,
        ))
        .unwrap();
        assert_eq!(out["responsibility"], "community");
        assert_eq!(out["start_date"], Value::Null);
        assert_eq!(out["handover_date"], Value::Null);
        assert_eq!(out["reason"], "recall_case");
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn unknown_top_level_and_prison_keys_are_named_together() {
        let err = evaluate_line(&line(
            r#"{"id":"x","today":"2024-01-01","mapa_level":1,"prison":{"estat":"womens"}}"#,
        ))
        .unwrap_err();
        assert_eq!(err, "unknown field: mapa_level, prison.estat");
    }

    #[test]
    fn field_errors_name_the_field() {
        let cases = [
            (r#"{"id":"x"}"#, "today: required"),
            (
                r#"{"id":"x","today":"2023-02-30"}"#,
                "today: not a valid calendar date",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","crd":"1/2/2024"}"#,
                "crd: must be a date YYYY-MM-DD",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","era":"omic-2024"}"#,
                "era: must be ",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","age":-1}"#,
                "age: must be a non-negative integer",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","age":30.5}"#,
                "age: must be a non-negative integer",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","age":"30"}"#,
                "age: must be a non-negative integer",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","mappa_level":4}"#,
                "mappa_level: must be 0, 1, 2, 3 or null",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","mappa_level":"2"}"#,
                "mappa_level: must be 0, 1, 2, 3 or null",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","welsh":"yes"}"#,
                "welsh: must be true or false",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","case_allocation":"NPS"}"#,
                "case_allocation: must be ",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","prison":"HMP Leeds"}"#,
                "prison: must be an object",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","prison":{"kind":"state"}}"#,
                "prison.kind: must be ",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","prison":{"estate":"female"}}"#,
                "prison.estate: must be ",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","prison":{"arrival":"2023-13-01"}}"#,
                "prison.arrival: not a valid calendar date",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","prison":{"prescoed":1}}"#,
                "prison.prescoed: must be true or false",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","prison":{"prescoed":true,"estate":"womens"}}"#,
                "prison.prescoed: ",
            ),
            (
                r#"{"id":"x","today":"2024-01-01","parole_outcome":3}"#,
                "parole_outcome: must be a string",
            ),
        ];
        for (input, want) in cases {
            let got = evaluate_line(&line(input)).unwrap_err();
            assert!(
                got.starts_with(want),
                "{input}: got {got:?}, want prefix {want:?}"
            );
        }
    }

    #[test]
    fn whole_numbers_written_as_floats_are_accepted_and_nulls_are_defaults() {
        let input = read_input(&line(
            r#"{"id":"x","today":"2024-01-01","age":18.0,"mappa_level":2.0,"sentenced":null,"prison":null}"#,
        ))
        .unwrap();
        assert_eq!(input.age, 18);
        assert_eq!(input.mappa_level.map(MappaLevel::get), Some(2));
        assert!(input.sentenced);
        assert_eq!(input.prison, Prison::default());
    }
}
