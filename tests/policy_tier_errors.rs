//! Malformed lines through the real `caseledger policy tier` binary: each gets its own
//! `{"id", "error"}` line naming the field, and the rest of the batch is still processed
//! (policy-cli-contract.md "Rules for both commands"; tier-rules.md §1 validation).
mod cli_support;

use proptest::prelude::*;
use serde_json::{Map, Value};

use caseledger::policy_cli::{common, tier};

const GOOD: &str = r#"{"id":"ok-1","today":"2025-06-15","rosh":"high","convictions":[{"sentence_type":"NC","terminated":null,"requirements":[]}]}"#;

/// (input line, id echoed, error prefix)
const BAD_LINES: &[(&str, Option<&str>, &str)] = &[
    (
        r#"{"id":"bad-json","today":"2025-06-15""#,
        None,
        "input: not valid JSON",
    ),
    (r#"[1,2]"#, None, "input: a line must be a JSON object"),
    (
        r#"{"id":"unknown-top","today":"2025-06-15","gendre":"female"}"#,
        Some("unknown-top"),
        "unknown field: gendre",
    ),
    (
        r#"{"id":"unknown-assessment","today":"2025-06-15","assessment":{"date":"2025-01-01","needs":{},"impulsiveness":1}}"#,
        Some("unknown-assessment"),
        "unknown field: assessment.impulsiveness",
    ),
    (
        r#"{"id":"unknown-v3","today":"2025-06-15","v3":{"arp":10,"csrp":1,"csrp_band":"low"}}"#,
        Some("unknown-v3"),
        "unknown field: v3.csrp_band",
    ),
    (
        r#"{"id":"impossible-date","today":"2025-02-29"}"#,
        Some("impossible-date"),
        "today: not a valid calendar date",
    ),
    (
        r#"{"id":"wrong-type","today":"2025-06-15","previous_enforcement":"yes"}"#,
        Some("wrong-type"),
        "previous_enforcement: must be true or false",
    ),
    (
        r#"{"id":"rsr-101","today":"2025-06-15","rsr":101}"#,
        Some("rsr-101"),
        "rsr: must be a number from 0 to 100, or exactly 999.99",
    ),
    (
        r#"{"id":"ogrs-4.5","today":"2025-06-15","ogrs":4.5}"#,
        Some("ogrs-4.5"),
        "ogrs: must be an integer from 0 to 100",
    ),
    (
        r#"{"id":"impulsivity-3","today":"2025-06-15","assessment":{"date":"2025-01-01","impulsivity":3}}"#,
        Some("impulsivity-3"),
        "assessment.impulsivity: must be 0, 1 or 2",
    ),
    (
        r#"{"id":"sentence-type","today":"2025-06-15","convictions":[{"sentence_type":"NC"},{"sentence_type":"CO"}]}"#,
        Some("sentence-type"),
        "convictions[1].sentence_type: must be NC, SC or SP",
    ),
    (
        r#"{"id":"no-code","today":"2025-06-15","registrations":[{"date":"2024-01-01"}]}"#,
        Some("no-code"),
        "registrations[0].code: required",
    ),
    (
        r#"{"id":"no-category","today":"2025-06-15","convictions":[{"sentence_type":"SP","requirements":[{"restrictive":false}]}]}"#,
        Some("no-category"),
        "convictions[0].requirements[0].category: required",
    ),
    (
        r#"{"id":"arp-negative","today":"2025-06-15","v3":{"arp":-0.5,"csrp":1}}"#,
        Some("arp-negative"),
        "v3.arp: ",
    ),
    (
        r#"{"id":"assessment-no-date","today":"2025-06-15","assessment":{"needs":{}}}"#,
        Some("assessment-no-date"),
        "assessment.date: required",
    ),
    (r#"{"today":"2025-06-15"}"#, None, "id: required"),
    (
        r#"{"id":"dc-srp","today":"2025-06-15","convictions":[{"sentence_type":"NC"}],"v3":{"arp":10,"csrp":1,"dc_srp_score":0.5,"dc_srp_band":"medium"}}"#,
        Some("dc-srp"),
        "unsupported_dc_srp: ",
    ),
];

/// Every malformed line gets its own error naming the field; the good lines around them
/// are still calculated; exit status 0; one output line per input line, in order.
#[test]
fn malformed_lines_get_per_line_errors_and_the_batch_continues() {
    let mut input = vec![GOOD.to_owned()];
    for (line, _, _) in BAD_LINES {
        input.push((*line).to_owned());
        input.push(GOOD.replace("ok-1", "ok-after"));
    }
    input.push(String::new()); // blank lines are ignored
    let (code, stdout, stderr) = cli_support::policy("tier", &(input.join("\n") + "\n")).parts();
    assert_eq!(code, 0, "stderr: {stderr}");
    let outputs: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("output line is JSON"))
        .collect();
    assert_eq!(outputs.len(), 1 + 2 * BAD_LINES.len());
    assert_eq!(outputs[0]["id"], "ok-1");
    assert_eq!(outputs[0]["tier"], "B2");
    for (n, (line, id, prefix)) in BAD_LINES.iter().enumerate() {
        let bad = &outputs[1 + 2 * n];
        let error = bad["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with(prefix),
            "{line}\n  want prefix {prefix:?}\n  got {bad}"
        );
        assert_eq!(bad["id"], id.map_or(Value::Null, Value::from), "{line}");
        assert_eq!(
            bad.as_object().unwrap().len(),
            2,
            "only id and error: {bad}"
        );
        let good = &outputs[2 + 2 * n];
        assert_eq!(good["id"], "ok-after");
        assert_eq!(good["tier"], "B2", "line after {line}");
        assert!(good.get("error").is_none());
    }
}

/// A line that fails names every unknown field at once, sorted, with its path.
#[test]
fn unknown_fields_are_listed_together() {
    let (code, stdout, _) = cli_support::policy(
        "tier",
        r#"{"id":"u","today":"2025-06-15","zeta":1,"alpha":2}"#,
    )
    .parts();
    assert_eq!(code, 0);
    let out: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(out["error"], "unknown field: alpha, zeta");
}

/// End-to-end V3: MAPPA category with RoSH missing gives E and provisional (tier-rules.md
/// §6.2, §7 (b)); with RoSH very high, A and not provisional.
#[test]
fn v3_provisional_through_the_binary() {
    let base = r#"{"id":"P","today":"2025-06-15","rosh":ROSH,
        "registrations":[{"code":"MAPP","date":"2024-01-01","level":"M1","category":"M2"},{"code":"ADVP","date":"2024-01-01"}],
        "convictions":[{"sentence_type":"SC"}],
        "v3":{"arp":10,"arp_static":false,"csrp":0.1,"csrp_static":false}}"#
        .replace('\n', " ");
    let input = [
        base.replace("ROSH", "null"),
        base.replace("ROSH", "\"very_high\""),
    ]
    .join("\n");
    let (code, stdout, _) = cli_support::policy("tier", &input).parts();
    assert_eq!(code, 0);
    let out: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        (&out[0]["v3"], &out[0]["provisional"]),
        (&Value::from("E"), &Value::from(true))
    );
    // V2 alongside: MAPPA M1 gives 5 points (D); no assessment gives change 2 (§3, §4.2).
    assert_eq!(out[0]["tier"], "D2");
    assert_eq!(out[1]["tier"], "A2", "RoSH very high 150 + M1 5");
    assert_eq!(
        (&out[1]["v3"], &out[1]["provisional"]),
        (&Value::from("A"), &Value::from(false))
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-200i64..1_200).prop_map(Value::from),
        (-5.0f64..1_000.0).prop_map(Value::from),
        prop::sample::select(vec![
            "2025-06-15",
            "2024-02-29",
            "2023-02-29",
            "M2",
            "MAPP",
            "NC",
            "SP",
            "W",
            "severe",
            "very_high",
            "medium",
            "female",
            "",
            "x",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "code",
                    "date",
                    "level",
                    "category",
                    "needs",
                    "impulsivity",
                    "arp",
                    "csrp",
                    "dc_srp_score",
                    "dc_srp_band",
                    "sentence_type",
                    "requirements",
                    "attitudes",
                    "latest_release",
                    "restrictive",
                    "terminated",
                ])
                .prop_map(String::from),
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn tier_line() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        prop::sample::select(vec![
            "id",
            "today",
            "gender",
            "rsr",
            "rosh",
            "ogrs",
            "registrations",
            "assessment",
            "convictions",
            "previous_enforcement",
            "v3",
        ])
        .prop_map(String::from),
        json_value(),
        0..11,
    )
    .prop_map(|m| {
        let mut line: Map<String, Value> = m.into_iter().collect();
        line.insert("id".into(), "p".into());
        line
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Any JSON object gives exactly one answer: the §8 fields or an error `<field>: <why>`
    /// (or `unknown field: …`); never a panic.
    #[test]
    fn any_json_object_gets_one_well_formed_answer(line in tier_line()) {
        let text = serde_json::to_string(&Value::Object(line)).unwrap();
        let answer = common::evaluate_raw(&text, &tier::evaluate_line);
        let answer = answer.as_object().unwrap();
        prop_assert_eq!(&answer["id"], "p");
        match answer.get("error") {
            Some(Value::String(e)) => {
                prop_assert!(e.contains(": "), "{}", e);
                prop_assert_eq!(answer.len(), 2);
            }
            _ => {
                for key in ["protect", "protect_points", "change", "change_points", "unsupervised", "tier", "v3", "provisional"] {
                    prop_assert!(answer.contains_key(key), "missing {}", key);
                }
            }
        }
    }
}
