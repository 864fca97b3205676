//! `caseledger policy tier`. Placeholder until the policy issue fills it.
use serde_json::{Map, Value};

/// Evaluate one parsed input line. `Err` is the per-line error text.
pub fn evaluate_line(_line: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    Err("policy tier: not implemented yet".into())
}
