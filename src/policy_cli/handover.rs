//! `caseledger policy handover`. Placeholder until the policy issue fills it.
use serde_json::{Map, Value};

/// Evaluate one parsed input line. `Err` is the per-line error text.
pub fn evaluate_line(_line: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    Err("policy handover: not implemented yet".into())
}
