//! Helpers for the engine end-to-end tests: build command JSON lines.

#![allow(dead_code)]

use serde_json::{json, Value};
use uuid::Uuid;

/// A command line with a fresh command id.
pub fn command(
    crn: &str,
    role: &str,
    organisation: &str,
    effective_at: &str,
    body: Value,
) -> String {
    command_with_id(Uuid::new_v4(), crn, role, organisation, effective_at, body)
}

/// A command line from a probation officer of the NPS, the most common author.
pub fn as_probation_officer(crn: &str, effective_at: &str, body: Value) -> String {
    command(crn, "probation_officer", "nps", effective_at, body)
}

/// A command line from a court officer (sentences are imposed by the court).
pub fn as_court_officer(crn: &str, effective_at: &str, body: Value) -> String {
    command(crn, "court_officer", "court", effective_at, body)
}

/// A command line from a case administrator of the NPS (who opens cases).
pub fn as_case_administrator(crn: &str, effective_at: &str, body: Value) -> String {
    command(crn, "case_administrator", "nps", effective_at, body)
}

pub fn command_with_id(
    id: Uuid,
    crn: &str,
    role: &str,
    organisation: &str,
    effective_at: &str,
    body: Value,
) -> String {
    json!({
        "command_id": id.to_string(),
        "crn": crn,
        "actor": {"id": format!("{role}-1"), "role": role, "organisation": organisation},
        "effective_at": effective_at,
        "command": body,
    })
    .to_string()
}

pub fn open_case(crn: &str, pdu: u8, on: &str) -> Value {
    json!({"type": "open_case", "crn": crn, "pdu": pdu, "team": null, "on": on,
           "person": {"name": "Sam Example", "date_of_birth": "1985-04-02", "gender": "male"}})
}

pub fn community_order(on: &str) -> Value {
    json!({"type": "impose_sentence", "on": on, "sentence_type": "community_order",
           "court": "Nottingham Magistrates' Court", "length_months": 18,
           "dates": {"sentence_expiry_date": null},
           "requirements": [{"unpaid_work": {"hours": 100}}, {"rehabilitation_activity": {"days": 20}}]})
}

pub fn assess(on: &str, kind: &str, rosh: &str) -> Value {
    json!({"type": "assess_risk", "on": on, "kind": kind, "rosh": rosh, "rsr": null,
           "ogrs": null, "needs": {"accommodation": "standard"}})
}
