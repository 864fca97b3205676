//! Shared plumbing for the JSON Lines policy commands: line loop, id echo, unknown-field
//! rejection and typed field readers whose error texts follow the contract
//! (`<field>: <why>`; handover-rules.md §3.3, tier-rules.md §1).

use std::io::{self, BufRead, Read, Write};

use jiff::civil::Date;
use serde_json::{Map, Value};

/// Longest input line accepted, in bytes. A real input line is well under 4 KiB; a longer
/// one is refused rather than buffered without bound.
pub const LINE_BYTES_MAX: usize = 1 << 20;

/// Run `evaluate` over every non-blank line of `input`, writing exactly one JSON object per
/// line to `output`. Returns an I/O error only for I/O failures; per-line problems become
/// `{"id": ..., "error": ...}` lines.
pub fn run_lines<R: BufRead, W: Write>(
    mut input: R,
    mut output: W,
    evaluate: impl Fn(&Map<String, Value>) -> Result<Map<String, Value>, String>,
) -> io::Result<()> {
    // Read raw bytes, at most LINE_BYTES_MAX + 1 per line, so neither an over-long line nor
    // invalid UTF-8 can stop the batch or make memory grow without bound: each becomes a
    // per-line error and the next line is processed.
    let mut buffer = Vec::with_capacity(4096);
    loop {
        buffer.clear();
        let read =
            Read::take(&mut input, LINE_BYTES_MAX as u64 + 1).read_until(b'\n', &mut buffer)?;
        if read == 0 {
            break;
        }
        let result = if buffer.len() > LINE_BYTES_MAX && buffer.last() != Some(&b'\n') {
            input.skip_until(b'\n')?;
            error_line(
                Value::Null,
                format!("input: line is longer than {LINE_BYTES_MAX} bytes"),
            )
        } else {
            match std::str::from_utf8(&buffer) {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => evaluate_raw(line.trim_end_matches(['\n', '\r']), &evaluate),
                Err(_) => error_line(Value::Null, "input: line is not valid UTF-8".into()),
            }
        };
        serde_json::to_writer(&mut output, &result)?;
        output.write_all(b"\n")?;
    }
    output.flush()
}

/// Parse and evaluate one raw line; always returns the object to print.
pub fn evaluate_raw(
    line: &str,
    evaluate: &impl Fn(&Map<String, Value>) -> Result<Map<String, Value>, String>,
) -> Value {
    if line.len() > LINE_BYTES_MAX {
        return error_line(
            Value::Null,
            format!(
                "input: line is {} bytes; at most {LINE_BYTES_MAX} allowed",
                line.len()
            ),
        );
    }
    let object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return error_line(Value::Null, "input: a line must be a JSON object".into()),
        Err(e) => return error_line(Value::Null, format!("input: not valid JSON ({e})")),
    };
    // Echo the id whenever it is a string, even when the rest of the line is bad.
    let id = match object.get("id") {
        Some(Value::String(s)) => Value::String(s.clone()),
        _ => Value::Null,
    };
    match object.get("id") {
        None | Some(Value::Null) => return error_line(id, "id: required".into()),
        Some(Value::String(_)) => {}
        Some(_) => return error_line(id, "id: must be a string".into()),
    }
    match evaluate(&object) {
        Ok(mut out) => {
            let mut with_id = Map::new();
            with_id.insert("id".into(), id);
            with_id.append(&mut out);
            Value::Object(with_id)
        }
        Err(error) => error_line(id, error),
    }
}

fn error_line(id: Value, error: String) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), id);
    m.insert("error".into(), Value::String(error));
    Value::Object(m)
}

/// Reject keys of `object` not in `allowed`: `unknown field: a, b` (names prefixed with
/// `prefix`, e.g. `prison.`), sorted so the message is stable.
pub fn reject_unknown(
    object: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), String> {
    let mut unknown: Vec<String> = object
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("{prefix}{k}"))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(format!("unknown field: {}", unknown.join(", ")))
}

/// A date field: absent or null → `None`; otherwise `YYYY-MM-DD` and a real calendar date.
pub fn date(object: &Map<String, Value>, field: &str) -> Result<Option<Date>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_date(s)
            .map(Some)
            .map_err(|why| format!("{field}: {why}")),
        Some(_) => Err(format!("{field}: must be a date YYYY-MM-DD")),
    }
}

/// A required date field (`<field>: required` when absent or null).
pub fn required_date(object: &Map<String, Value>, field: &str) -> Result<Date, String> {
    date(object, field)?.ok_or_else(|| format!("{field}: required"))
}

/// Parse `YYYY-MM-DD` strictly: the shape first, then calendar validity.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err("must be a date YYYY-MM-DD".into());
    }
    let year: i16 = s[0..4]
        .parse()
        .map_err(|_| "must be a date YYYY-MM-DD".to_string())?;
    let month: i8 = s[5..7]
        .parse()
        .map_err(|_| "must be a date YYYY-MM-DD".to_string())?;
    let day: i8 = s[8..10]
        .parse()
        .map_err(|_| "must be a date YYYY-MM-DD".to_string())?;
    Date::new(year, month, day).map_err(|_| "not a valid calendar date".to_string())
}

/// A boolean field: absent or null → `default`.
pub fn boolean(object: &Map<String, Value>, field: &str, default: bool) -> Result<bool, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{field}: must be true or false")),
    }
}

/// An optional string field: absent or null → `None`.
pub fn string<'a>(object: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{field}: must be a string")),
    }
}

/// An optional object field: absent or null → `None`.
pub fn object<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("{field}: must be an object")),
    }
}

/// Serialise a date for output (`YYYY-MM-DD`) or `null`.
pub fn date_value(d: Option<Date>) -> Value {
    match d {
        Some(d) => Value::String(d.to_string()),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict_about_shape_and_calendar() {
        assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(
            parse_date("2023-02-29").unwrap_err(),
            "not a valid calendar date"
        );
        assert_eq!(
            parse_date("2023-2-28").unwrap_err(),
            "must be a date YYYY-MM-DD"
        );
        assert_eq!(
            parse_date("2023-02-28T00:00").unwrap_err(),
            "must be a date YYYY-MM-DD"
        );
    }

    #[test]
    fn each_line_gets_exactly_one_answer_and_bad_lines_do_not_stop_the_batch() {
        let input = "{\"id\":\"a\"}\n\nnot json\n[1]\n{\"id\":3}\n{\"id\":\"b\"}\n";
        let mut out = Vec::new();
        run_lines(input.as_bytes(), &mut out, |_| Ok(Map::new())).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["id"], "a");
        assert!(lines[1]["error"].as_str().unwrap().starts_with("input: "));
        assert!(lines[1]["id"].is_null());
        assert!(lines[2]["error"].as_str().unwrap().starts_with("input: "));
        assert_eq!(lines[3]["error"], "id: must be a string");
        assert_eq!(lines[4]["id"], "b");
    }

    #[test]
    fn invalid_utf8_and_over_long_lines_are_per_line_errors() {
        let mut input = b"{\"id\":\"a\"}\n\xff\xfe\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', LINE_BYTES_MAX + 10));
        input.extend(b"\n{\"id\":\"b\"}\n");
        let mut out = Vec::new();
        run_lines(&input[..], &mut out, |_| Ok(Map::new())).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1]["error"], "input: line is not valid UTF-8");
        assert!(lines[2]["error"].as_str().unwrap().contains("longer than"));
        assert_eq!(lines[3]["id"], "b");
    }

    #[test]
    fn unknown_fields_are_named_sorted_and_prefixed() {
        let o: Map<String, Value> = serde_json::from_str(r#"{"id":"x","zz":1,"aa":2}"#).unwrap();
        assert_eq!(
            reject_unknown(&o, &["id"], "prison.").unwrap_err(),
            "unknown field: prison.aa, prison.zz"
        );
    }
}
