//! `caseledger policy tier`: one JSON line in, one JSON object out
//! (policy-cli-contract.md "caseledger policy tier"; tier-rules.md §1, §8).
//!
//! This is the shell: it checks JSON types, enum spellings, unknown fields and required
//! fields, builds a [`TierInput`] and hands it to the pure [`calculate`], whose range checks
//! and `unsupported_dc_srp` error come back as the line's error text. Every error starts
//! with the field's path (`assessment.impulsivity`, `registrations[2].code`, …) then `: `.

use serde_json::{Map, Value};

use caseledger_domain::risk::RoshLevel;
use caseledger_domain::tier::{
    calculate, Assessment, Conviction, DcSrpBand, Gender, Need, Registration, Requirement,
    SentenceType, Severity, TierInput, TierResult, V3Input, CONVICTIONS_PER_PERSON_MAX,
    OASYS_PROBLEM_ANSWER_MAX, OGRS_PERCENT_MAX, REGISTRATIONS_PER_PERSON_MAX,
    REQUIREMENTS_PER_CONVICTION_MAX,
};

use super::common;

const TOP_FIELDS: &[&str] = &[
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
];
/// Same wording as the domain's range errors (`TierError::Ogrs`, `TierError::Impulsivity`).
const OGRS_RULE: &str = "must be an integer from 0 to 100";
const OASYS_ANSWER_RULE: &str = "must be 0, 1 or 2";
const REGISTRATION_FIELDS: &[&str] = &["code", "date", "level", "category"];
const ASSESSMENT_FIELDS: &[&str] = &[
    "date",
    "needs",
    "parenting_responsibilities",
    "impulsivity",
    "temper_control",
    "sexual_offence",
];
const CONVICTION_FIELDS: &[&str] = &["sentence_type", "terminated", "requirements"];
const REQUIREMENT_FIELDS: &[&str] = &["category", "restrictive"];
const V3_FIELDS: &[&str] = &[
    "arp",
    "arp_static",
    "csrp",
    "csrp_static",
    "dc_srp_score",
    "dc_srp_band",
    "latest_release",
];

/// Evaluate one parsed input line. `Err` is the per-line error text.
pub fn evaluate_line(line: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let input = parse_input(line)?;
    let result = calculate(&input).map_err(|e| e.to_string())?;
    Ok(output(&result))
}

/// The output fields of tier-rules.md §8 (the `id` is added by the caller).
pub fn output(result: &TierResult) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("protect".into(), result.protect.to_string().into());
    out.insert("protect_points".into(), result.protect_points.into());
    out.insert("change".into(), result.change.digit().into());
    out.insert("change_points".into(), result.change_points.into());
    out.insert("unsupervised".into(), result.unsupervised.into());
    out.insert("tier".into(), result.tier.to_string().into());
    out.insert(
        "v3".into(),
        result
            .v3
            .map_or(Value::Null, |t| Value::String(t.as_str().into())),
    );
    out.insert("provisional".into(), result.provisional.into());
    out
}

/// Check and convert one line into a [`TierInput`] (tier-rules.md §1).
pub fn parse_input(line: &Map<String, Value>) -> Result<TierInput, String> {
    // Unknown fields anywhere are reported first: they are almost always typos that would
    // otherwise surface as a misleading "required" error (policy-cli-contract.md).
    reject_unknown_everywhere(line)?;
    let today = common::required_date(line, "today")?;
    let mut input = TierInput::new(today);
    if let Some(gender) = common::string(line, "gender")? {
        input.gender = Gender::parse(gender).ok_or("gender: must be male or female")?;
    }
    input.rsr = number(line, "rsr", "")?;
    if let Some(rosh) = common::string(line, "rosh")? {
        input.rosh = Some(
            RoshLevel::parse(rosh)
                .map_err(|_| "rosh: must be very_high, high, medium, low or null")?,
        );
    }
    input.ogrs = small_integer(line, "ogrs", "", OGRS_PERCENT_MAX, OGRS_RULE)?;
    input.registrations = array(line, "registrations", REGISTRATIONS_PER_PERSON_MAX)?
        .iter()
        .enumerate()
        .map(|(i, v)| registration(v, &format!("registrations[{i}].")))
        .collect::<Result<_, _>>()?;
    if let Some(a) = common::object(line, "assessment")? {
        input.assessment = Some(assessment(a)?);
    }
    input.convictions = array(line, "convictions", CONVICTIONS_PER_PERSON_MAX)?
        .iter()
        .enumerate()
        .map(|(i, v)| conviction(v, &format!("convictions[{i}].")))
        .collect::<Result<_, _>>()?;
    input.previous_enforcement = common::boolean(line, "previous_enforcement", false)?;
    if let Some(v3) = common::object(line, "v3")? {
        input.v3 = Some(v3_input(v3)?);
    }
    Ok(input)
}

/// Unknown fields at every level, named with their path (tier-rules.md §1).
fn reject_unknown_everywhere(line: &Map<String, Value>) -> Result<(), String> {
    common::reject_unknown(line, TOP_FIELDS, "")?;
    let objects = |field: &str| -> Vec<(usize, &Map<String, Value>)> {
        match line.get(field) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_object().map(|o| (i, o)))
                .collect(),
            _ => Vec::new(),
        }
    };
    for (i, r) in objects("registrations") {
        common::reject_unknown(r, REGISTRATION_FIELDS, &format!("registrations[{i}]."))?;
    }
    if let Some(Value::Object(a)) = line.get("assessment") {
        common::reject_unknown(a, ASSESSMENT_FIELDS, "assessment.")?;
        if let Some(Value::Object(needs)) = a.get("needs") {
            let keys: Vec<&str> = Need::ALL.iter().map(|n| n.key()).collect();
            common::reject_unknown(needs, &keys, "assessment.needs.")?;
        }
    }
    for (i, c) in objects("convictions") {
        let prefix = format!("convictions[{i}].");
        common::reject_unknown(c, CONVICTION_FIELDS, &prefix)?;
        if let Some(Value::Array(requirements)) = c.get("requirements") {
            for (j, r) in requirements.iter().enumerate() {
                if let Value::Object(r) = r {
                    let prefix = format!("{prefix}requirements[{j}].");
                    common::reject_unknown(r, REQUIREMENT_FIELDS, &prefix)?;
                }
            }
        }
    }
    if let Some(Value::Object(v3)) = line.get("v3") {
        common::reject_unknown(v3, V3_FIELDS, "v3.")?;
    }
    Ok(())
}

/// Prefix an error from a `common` reader (which names the bare field) with its path.
fn at(prefix: &str) -> impl Fn(String) -> String + '_ {
    move |e| format!("{prefix}{e}")
}

/// An array field: absent or null → empty; at most `max` items.
fn array<'a>(object: &'a Map<String, Value>, field: &str, max: u32) -> Result<&'a [Value], String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) if items.len() as u64 > u64::from(max) => Err(format!(
            "{field}: at most {max} allowed; got {}",
            items.len()
        )),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{field}: must be an array")),
    }
}

/// A number field: absent or null → `None`.
fn number(object: &Map<String, Value>, field: &str, prefix: &str) -> Result<Option<f64>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{prefix}{field}: must be a number")),
        Some(_) => Err(format!("{prefix}{field}: must be a number")),
    }
}

/// A whole number from 0 to `max`: absent or null → `None`. `4.0` counts as 4; `4.5` does
/// not. `rule` says what is allowed, e.g. "must be 0, 1 or 2".
fn small_integer(
    object: &Map<String, Value>,
    field: &str,
    prefix: &str,
    max: u8,
    rule: &str,
) -> Result<Option<u8>, String> {
    let refuse = |got: &Value| Err(format!("{prefix}{field}: {rule}; got {got}"));
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(got @ Value::Number(n)) => {
            let whole = n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(max)).contains(f))
                    .map(|f| f as u64)
            });
            match whole {
                Some(v) if v <= u64::from(max) => Ok(Some(v as u8)),
                _ => refuse(got),
            }
        }
        Some(got) => refuse(got),
    }
}

/// A required, non-empty string (`<field>: required` when absent or null).
fn required_string<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    prefix: &str,
) -> Result<&'a str, String> {
    let s = common::string(object, field)
        .map_err(at(prefix))?
        .ok_or_else(|| format!("{prefix}{field}: required"))?;
    if s.is_empty() {
        return Err(format!("{prefix}{field}: must not be empty"));
    }
    Ok(s)
}

fn element<'a>(value: &'a Value, prefix: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| {
        format!(
            "{}: must be an object",
            prefix.strip_suffix('.').unwrap_or(prefix)
        )
    })
}

/// A registration `{code, date, level?, category?}` (tier-rules.md §1, §2).
fn registration(value: &Value, prefix: &str) -> Result<Registration, String> {
    let r = element(value, prefix)?;
    let code = required_string(r, "code", prefix)?;
    let date = common::required_date(r, "date").map_err(at(prefix))?;
    let mut registration = Registration::new(code, date);
    registration.level = common::string(r, "level")
        .map_err(at(prefix))?
        .map(str::to_owned);
    registration.category = common::string(r, "category")
        .map_err(at(prefix))?
        .map(str::to_owned);
    Ok(registration)
}

/// The assessment object (tier-rules.md §1); `date` is required (policy-cli-contract.md).
fn assessment(a: &Map<String, Value>) -> Result<Assessment, String> {
    let prefix = "assessment.";
    let date = common::required_date(a, "date").map_err(at(prefix))?;
    let mut assessment = Assessment::new(date);
    if let Some(needs) = common::object(a, "needs").map_err(at(prefix))? {
        for (key, value) in needs {
            // Unknown keys were rejected before; `parse` cannot fail here.
            let Some(need) = Need::parse(key) else {
                return Err(format!("unknown field: assessment.needs.{key}"));
            };
            let severity = match value {
                // A need left out or null was not assessed (tier-rules.md §1).
                Value::Null => continue,
                Value::String(s) => Severity::parse(s),
                _ => None,
            }
            .ok_or_else(|| {
                format!("assessment.needs.{key}: must be no_need, standard, severe or null")
            })?;
            assessment.needs.insert(need, severity);
        }
    }
    assessment.parenting_responsibilities =
        common::boolean(a, "parenting_responsibilities", false).map_err(at(prefix))?;
    assessment.impulsivity = small_integer(
        a,
        "impulsivity",
        prefix,
        OASYS_PROBLEM_ANSWER_MAX,
        OASYS_ANSWER_RULE,
    )?
    .unwrap_or(0);
    assessment.temper_control = small_integer(
        a,
        "temper_control",
        prefix,
        OASYS_PROBLEM_ANSWER_MAX,
        OASYS_ANSWER_RULE,
    )?
    .unwrap_or(0);
    assessment.sexual_offence = common::boolean(a, "sexual_offence", false).map_err(at(prefix))?;
    Ok(assessment)
}

/// A conviction `{sentence_type, terminated, requirements}` (tier-rules.md §1).
fn conviction(value: &Value, prefix: &str) -> Result<Conviction, String> {
    let c = element(value, prefix)?;
    let code = required_string(c, "sentence_type", prefix)?;
    let sentence_type = SentenceType::parse(code)
        .ok_or_else(|| format!("{prefix}sentence_type: must be NC, SC or SP; got {code:?}"))?;
    let mut conviction = Conviction::new(sentence_type);
    conviction.terminated = common::date(c, "terminated").map_err(at(prefix))?;
    let requirements =
        array(c, "requirements", REQUIREMENTS_PER_CONVICTION_MAX).map_err(at(prefix))?;
    for (j, r) in requirements.iter().enumerate() {
        let prefix = format!("{prefix}requirements[{j}].");
        let r = element(r, &prefix)?;
        conviction.requirements.push(Requirement {
            category: required_string(r, "category", &prefix)?.to_owned(),
            restrictive: common::boolean(r, "restrictive", false).map_err(at(&prefix))?,
        });
    }
    Ok(conviction)
}

/// The V3 predictor object (tier-rules.md §1); null fields are missing.
fn v3_input(v: &Map<String, Value>) -> Result<V3Input, String> {
    let prefix = "v3.";
    let optional_bool = |field: &str| -> Result<Option<bool>, String> {
        match v.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{prefix}{field}: must be true, false or null")),
        }
    };
    let dc_srp_band = match common::string(v, "dc_srp_band").map_err(at(prefix))? {
        None => None,
        Some(band) => Some(DcSrpBand::parse(band).ok_or_else(|| {
            format!(
                "{prefix}dc_srp_band: must be very_high, high, medium, low, not_applicable or null"
            )
        })?),
    };
    Ok(V3Input {
        arp: number(v, "arp", prefix)?,
        arp_static: optional_bool("arp_static")?,
        csrp: number(v, "csrp", prefix)?,
        csrp_static: optional_bool("csrp_static")?,
        dc_srp_score: number(v, "dc_srp_score", prefix)?,
        dc_srp_band,
        latest_release: common::date(v, "latest_release").map_err(at(prefix))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    fn eval(json: &str) -> Result<Map<String, Value>, String> {
        evaluate_line(&line(json))
    }

    #[test]
    fn minimal_line_gives_every_output_field() {
        let out = eval(r#"{"id":"x","today":"2025-06-15"}"#).unwrap();
        let want: Value = serde_json::from_str(
            r#"{"protect":"D","protect_points":0,"change":0,"change_points":0,"unsupervised":false,"tier":"D0","v3":null,"provisional":false}"#,
        )
        .unwrap();
        assert_eq!(Value::Object(out), want);
    }

    #[test]
    fn errors_name_the_field_with_its_path() {
        let cases = [
            (r#"{"id":"x"}"#, "today: required"),
            (
                r#"{"id":"x","today":"2025-02-30"}"#,
                "today: not a valid calendar date",
            ),
            (r#"{"id":"x","today":"2025-06-15","rsr":101}"#, "rsr: "),
            (
                r#"{"id":"x","today":"2025-06-15","rsr":"7"}"#,
                "rsr: must be a number",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","ogrs":4.5}"#,
                "ogrs: must be an integer from 0 to 100",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","ogrs":-1}"#,
                "ogrs: must be an integer",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","gender":"m"}"#,
                "gender: must be male or female",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","rosh":"HIGH"}"#,
                "rosh: must be",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","registrations":[{"date":"2024-01-01"}]}"#,
                "registrations[0].code: required",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","registrations":[{"code":"X"}]}"#,
                "registrations[0].date: required",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","registrations":[1]}"#,
                "registrations[0]: must be an object",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","registrations":{}}"#,
                "registrations: must be an array",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","assessment":{"needs":{}}}"#,
                "assessment.date: required",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","assessment":{"date":"2025-01-01","impulsivity":3}}"#,
                "assessment.impulsivity: must be 0, 1 or 2",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","assessment":{"date":"2025-01-01","needs":{"attitudes":"high"}}}"#,
                "assessment.needs.attitudes: must be",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","assessment":{"date":"2025-01-01","needs":{"money":"severe"}}}"#,
                "unknown field: assessment.needs.money",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","convictions":[{"sentence_type":"XX"}]}"#,
                "convictions[0].sentence_type: must be NC, SC or SP",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","convictions":[{}]}"#,
                "convictions[0].sentence_type: required",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","convictions":[{"sentence_type":"SP","requirements":[{"restrictive":true}]}]}"#,
                "convictions[0].requirements[0].category: required",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","convictions":[{"sentence_type":"SP","requirements":[{"category":"F","x":1}]}]}"#,
                "unknown field: convictions[0].requirements[0].x",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","v3":{"arp":-1,"csrp":1}}"#,
                "v3.arp: ",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","v3":{"arp":1,"csrp":-1}}"#,
                "v3.csrp: ",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","v3":{"dc_srp_band":"huge"}}"#,
                "v3.dc_srp_band: must be",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","v3":{"arp_static":"yes"}}"#,
                "v3.arp_static: must be true, false or null",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","v3":{"latest_release":"2025-13-01"}}"#,
                "v3.latest_release: not a valid calendar date",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","previous_enforcement":1}"#,
                "previous_enforcement: must be true or false",
            ),
            (
                r#"{"id":"x","today":"2025-06-15","todya":"2025-06-15","v3":{"apr":1}}"#,
                "unknown field: todya",
            ),
        ];
        for (json, want) in cases {
            let got = eval(json).unwrap_err();
            assert!(
                got.starts_with(want),
                "{json}\n  want prefix {want:?}\n  got {got:?}"
            );
        }
    }

    #[test]
    fn whole_floats_count_as_integers_and_nulls_as_absent() {
        let out = eval(
            r#"{"id":"x","today":"2025-06-15","ogrs":50.0,"gender":null,"rosh":null,"registrations":null,
                "convictions":[{"sentence_type":"NC","terminated":null,"requirements":null}],
                "assessment":{"date":"2025-01-01","needs":{"attitudes":null},"impulsivity":null},
                "v3":null}"#,
        )
        .unwrap();
        assert_eq!(out["change_points"], 5);
        assert_eq!(out["tier"], "D1");
    }
}
