//! A report's result as a table, rendered as an aligned text table, JSON or CSV.

use serde_json::{Map, Value};

use crate::ProjectionError;

/// Output format of a report (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Result<Self, ProjectionError> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(ProjectionError::InvalidArgument(format!(
                "format {other:?} is not one of table, json, csv"
            ))),
        }
    }
}

/// Columns and rows; every row has one value per column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(columns: Vec<&'static str>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Add a row; it must have one value per column (a programming error otherwise).
    pub fn push(&mut self, row: Vec<Value>) {
        assert_eq!(
            row.len(),
            self.columns.len(),
            "row width must match the columns"
        );
        self.rows.push(row);
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.to_text(),
            Format::Json => self.to_json(),
            Format::Csv => self.to_csv(),
        }
    }

    /// The rows as JSON objects keyed by column.
    pub fn objects(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|row| {
                let mut object = Map::new();
                for (c, v) in self.columns.iter().zip(row) {
                    object.insert((*c).to_owned(), v.clone());
                }
                Value::Object(object)
            })
            .collect()
    }

    fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&Value::Array(self.objects()))
            .unwrap_or_else(|_| "[]".to_owned());
        s.push('\n');
        s
    }

    fn to_csv(&self) -> String {
        let mut out = String::new();
        out.push_str(
            &self
                .columns
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
        for row in &self.rows {
            let line: Vec<String> = row.iter().map(|v| csv_field(&plain(v))).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }

    fn to_text(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(plain).collect())
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |values: Vec<&str>| -> String {
            let padded: Vec<String> = values
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let mut out = line(self.columns.clone());
        out.push_str(&line(widths.iter().map(|w| &"--------------------------------------------------------------------------------"[..(*w).min(80)]).collect()));
        for row in &cells {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        if cells.is_empty() {
            out.push_str("(no rows)\n");
        }
        out
    }
}

/// A value as plain text: strings unquoted, null empty, arrays joined with spaces.
fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Table {
        let mut t = Table::new(vec!["pdu", "cases", "crns"]);
        t.push(vec![
            json!("Leeds, West"),
            json!(2),
            json!(["X000001", "X000002"]),
        ]);
        t
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        assert_eq!(
            sample().render(Format::Csv),
            "pdu,cases,crns\n\"Leeds, West\",2,X000001 X000002\n"
        );
    }

    #[test]
    fn json_keeps_numbers_and_arrays() {
        let v: Value = serde_json::from_str(&sample().render(Format::Json)).unwrap();
        assert_eq!(v[0]["cases"], json!(2));
        assert_eq!(v[0]["crns"][1], json!("X000002"));
    }

    #[test]
    fn text_table_aligns_columns_and_says_when_empty() {
        let text = sample().render(Format::Table);
        assert!(text.starts_with("pdu          cases  crns\n"), "{text}");
        assert!(Table::new(vec!["a"])
            .render(Format::Table)
            .ends_with("(no rows)\n"));
        assert!(Format::parse("xml").is_err());
    }
}
