//! A store whose log holds a refused command (stream `audit-refusals`, payload
//! `CommandRefused`, not a domain event) still rebuilds its read models: system streams feed no
//! read model (projections/src/case/mod.rs `is_case_stream`).
mod cli_support;

use cli_support::caseledger;

#[test]
fn rebuild_and_reports_skip_the_refusals_stream() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let commands = dir.path().join("commands.jsonl");
    std::fs::write(
        &commands,
        concat!(
            r#"{"command_id": "0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60", "crn": "X123456", "actor": {"id": "c1", "role": "court_officer", "organisation": "nps"}, "effective_at": "2016-03-01", "command": {"type": "open_case", "crn": "X123456", "pdu": 79, "team": null, "on": "2016-03-01", "person": {"name": "Sam Example", "date_of_birth": "1985-04-02", "gender": "male"}}}"#,
            "\n",
            r#"{"command_id": "0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f61", "crn": "X123456", "actor": {"id": "i1", "role": "inspector", "organisation": "hmi_probation"}, "effective_at": "2016-03-01", "command": {"type": "request_pre_sentence_report", "on": "2016-03-01", "court": "Nottingham Magistrates' Court", "due_on": "2016-03-15"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = caseledger(&data, &["import", commands.to_str().unwrap()])
        .succeeded("import")
        .stdout;
    assert!(
        out.contains("1 refused"),
        "the inspector's write is refused: {out}"
    );

    let out = caseledger(&data, &["rebuild", "--digest"])
        .succeeded("rebuild over a log with a refusal")
        .stdout;
    for model in [
        "allocation",
        "caseload",
        "enforcement",
        "handover",
        "mappa",
        "performance",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(model)),
            "{model} digest printed: {out}"
        );
    }
    caseledger(
        &data,
        &[
            "report",
            "caseload",
            "--today",
            "2016-04-01",
            "--format",
            "json",
        ],
    )
    .succeeded("report");
    caseledger(&data, &["verify"]).succeeded("verify");
}
