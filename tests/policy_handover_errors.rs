//! Malformed input to `caseledger policy handover` (policy-cli-contract.md;
//! handover-rules.md §3.3): every bad line gets its own error naming the field, and the rest
//! of the batch is still processed.
mod cli_support;

use caseledger::policy_cli::handover::evaluate_line;
use proptest::prelude::*;
use serde_json::{Map, Value};

const GOOD: &str = r#"{"id":"good","era":"omic-2019","today":"2021-01-01","sentence_start":"2019-10-05","crd":"2022-09-01"}"#;

/// (input line, expected id, expected error prefix or None for success)
fn batch() -> Vec<(&'static str, Value, Option<&'static str>)> {
    vec![
        (GOOD, "good".into(), None),
        (
            r#"{"id":"bad-json","today":"2021-01-01""#,
            Value::Null,
            Some("input: "),
        ),
        (r#"["not","an","object"]"#, Value::Null, Some("input: ")),
        (
            r#"{"id":"unknown","today":"2021-01-01","crd_date":"2022-09-01"}"#,
            "unknown".into(),
            Some("unknown field: crd_date"),
        ),
        (
            r#"{"id":"unknown-prison","today":"2021-01-01","prison":{"estate":"womens","wing":"B"}}"#,
            "unknown-prison".into(),
            Some("unknown field: prison.wing"),
        ),
        (
            r#"{"id":"feb30","today":"2023-02-30"}"#,
            "feb30".into(),
            Some("today: not a valid calendar date"),
        ),
        (
            r#"{"id":"crd-shape","today":"2023-02-01","crd":"01/09/2022"}"#,
            "crd-shape".into(),
            Some("crd: must be a date YYYY-MM-DD"),
        ),
        (
            r#"{"id":"wrong-type","today":"2023-02-01","indeterminate":"yes"}"#,
            "wrong-type".into(),
            Some("indeterminate: must be true or false"),
        ),
        (
            r#"{"id":"age","today":"2023-02-01","age":-1}"#,
            "age".into(),
            Some("age: must be a non-negative integer"),
        ),
        (
            r#"{"id":"mappa","today":"2023-02-01","mappa_level":4}"#,
            "mappa".into(),
            Some("mappa_level: must be 0, 1, 2, 3 or null"),
        ),
        (
            r#"{"id":"prescoed","today":"2023-02-01","prison":{"estate":"womens","prescoed":true}}"#,
            "prescoed".into(),
            Some("prison.prescoed: "),
        ),
        (
            r#"{"id":"era","today":"2023-02-01","era":"omic-2021"}"#,
            "era".into(),
            Some("era: must be "),
        ),
        (
            r#"{"today":"2023-02-01"}"#,
            Value::Null,
            Some("id: required"),
        ),
        (
            r#"{"id":"no-today","crd":"2022-09-01"}"#,
            "no-today".into(),
            Some("today: required"),
        ),
        (
            r#"{"id":"no-ssd","era":"omic-2023","today":"2023-06-01","crd":"2025-01-01"}"#,
            "no-ssd".into(),
            Some("sentence_start: required for "),
        ),
        (
            r#"{"id":"under-18","today":"2023-06-01","age":17}"#,
            "under-18".into(),
            Some("outside_omic_policy: under 18"),
        ),
        (
            r#"{"id":"unsentenced","today":"2023-06-01","sentenced":false}"#,
            "unsentenced".into(),
            Some("outside_omic_policy: not sentenced"),
        ),
        (GOOD, "good".into(), None),
    ]
}

#[test]
fn each_malformed_line_gets_its_own_error_and_the_batch_continues() {
    let batch = batch();
    let stdin: String = batch
        .iter()
        .map(|(line, _, _)| format!("{line}\n"))
        .collect::<String>()
        + "\n   \n"; // blank lines are ignored, not answered
    let (code, stdout, stderr) = cli_support::policy("handover", &stdin).parts();
    assert_eq!(code, 0, "per-line errors still exit 0; stderr: {stderr}");
    let outputs: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    assert_eq!(outputs.len(), batch.len(), "one output line per input line");
    for ((line, id, want), got) in batch.iter().zip(&outputs) {
        assert_eq!(&got["id"], id, "id echoed for {line}");
        match want {
            None => {
                assert!(got.get("error").is_none(), "{line} → {got}");
                assert_eq!(got["responsibility"], "custody_only");
                assert_eq!(got["start_date"], "2022-01-17");
                assert_eq!(got["handover_date"], "2022-04-16");
                assert_eq!(got["reason"], "nps_mappa_unknown");
            }
            Some(prefix) => {
                let error = got["error"].as_str().unwrap_or_default();
                assert!(
                    error.starts_with(prefix),
                    "{line}: error {error:?} should start with {prefix:?}"
                );
                assert_eq!(
                    got.as_object().map(Map::len),
                    Some(2),
                    "an error line has only id and error: {got}"
                );
            }
        }
    }
}

/// Any JSON value in a contract field's place.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0i64..=5).prop_map(Value::from),
        prop_oneof![
            Just("2023-02-30"),
            Just("2024-02-29"),
            Just("2021-01-01"),
            Just("omic-2019"),
            Just("omic-2023"),
            Just("crc"),
            Just("womens"),
            Just("male_open"),
            Just("hub"),
            Just("T"),
            Just("Release [*]"),
            Just("9999-12-31"),
            Just("0000-01-01"),
        ]
        .prop_map(|s| Value::String(s.into())),
        "[0-9-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop::collection::btree_map(
            prop_oneof![
                Just("kind".to_owned()),
                Just("estate".to_owned()),
                Just("prescoed".to_owned()),
                Just("arrival".to_owned()),
                Just("category".to_owned()),
                Just("category_since".to_owned()),
                "[a-z]{1,4}",
            ],
            inner,
            0..6,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    })
}

const FIELDS: [&str; 24] = [
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Whatever a line holds, `evaluate_line` answers — an error naming a field or the four
    /// outputs — and never panics.
    #[test]
    fn any_line_gets_an_answer_without_panicking(
        fields in prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), any_json(), 0..12),
    ) {
        let mut line = Map::new();
        line.insert("id".into(), Value::String("p".into()));
        // A valid `today` unless the case overrides it, so most lines reach the rules.
        line.insert("today".into(), Value::String("2021-06-01".into()));
        for (k, v) in fields {
            line.insert(k.to_owned(), v);
        }
        match evaluate_line(&line) {
            Ok(out) => {
                for key in ["responsibility", "start_date", "handover_date", "reason"] {
                    prop_assert!(out.contains_key(key), "missing {} in {:?}", key, out);
                }
                if let (Some(start), Some(handover)) =
                    (out["start_date"].as_str(), out["handover_date"].as_str())
                {
                    // ISO dates of four-digit years compare as strings.
                    prop_assert!(start <= handover, "{} after {}", start, handover);
                }
            }
            Err(error) => {
                let (field, why) = error.split_once(": ").unwrap_or_default();
                prop_assert!(!field.is_empty() && !why.is_empty(), "error {:?}", error);
            }
        }
    }
}
