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

/// Two cases opened on 2022-03-01 with a community order each: `closed` has its order
/// terminated and the case closed on 2023-03-01, `open` stays open (the retention and
/// erasure tests' store).
pub fn closed_and_open_case(closed: &str, open: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for crn in [closed, open] {
        lines.push(as_case_administrator(
            crn,
            "2022-03-01",
            open_case(crn, 79, "2022-03-01"),
        ));
        lines.push(as_court_officer(
            crn,
            "2022-03-01",
            community_order("2022-03-01"),
        ));
    }
    for body in [
        json!({"type": "terminate_sentence", "on": "2023-03-01", "sentence_id": 1, "reason": "expired"}),
        json!({"type": "close_case", "on": "2023-03-01", "reason": "all sentences ended"}),
    ] {
        lines.push(as_court_officer(closed, "2023-03-01", body));
    }
    lines
}

/// A case opened on 2024-06-03 for a person born on `date_of_birth`, with a 12-month
/// community order (rehabilitation activity days) imposed that day.
pub fn sentenced_on_2024_06_03(crn: &str, date_of_birth: &str) -> Vec<String> {
    vec![
        as_case_administrator(
            crn,
            "2024-06-03",
            json!({"type": "open_case", "crn": crn, "pdu": 79, "team": null, "on": "2024-06-03",
                   "person": {"name": "Sam Example", "date_of_birth": date_of_birth, "gender": "male"}}),
        ),
        as_court_officer(
            crn,
            "2024-06-03",
            json!({"type": "impose_sentence", "on": "2024-06-03", "sentence_type": "community_order",
                   "court": "Nottingham Magistrates' Court", "length_months": 12,
                   "dates": {"sentence_expiry_date": "2025-06-02"},
                   "requirements": [{"rehabilitation_activity": {"days": 20}}]}),
        ),
    ]
}

/// A young adult (born 2005-01-10) on a 12-month community order from 2024-06-03
/// ([`sentenced_on_2024_06_03`]) with a high-RoSH initial assessment on 2024-06-05: tier B2,
/// scored on the workload's T2A row while they are 18 to 24.
pub fn young_adult_on_a_community_order(crn: &str) -> Vec<String> {
    let mut lines = sentenced_on_2024_06_03(crn, "2005-01-10");
    lines.push(as_probation_officer(
        crn,
        "2024-06-05",
        json!({"type": "assess_risk", "on": "2024-06-05", "kind": "initial", "rosh": "high",
               "rsr": null, "ogrs": 100, "needs": {"accommodation": "standard"}}),
    ));
    lines
}
