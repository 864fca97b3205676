//! An API property test against the served OpenAPI spec: schemathesis (PyPI; `.ci/run`
//! installs it) generates requests for every operation from `/openapi.json` of a real server
//! holding a case and checks that no answer is a 5xx and none is outside the spec (status
//! code, content type and body schema).

mod serve_support;

use std::process::Command;

use reqwest::{Client, StatusCode};
use serve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_response_outside_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), Keys::Hs256);
    let client = Client::new();
    // A case for the examples (X123456 is the spec's example CRN) and a decision to explain.
    let r = client
        .post(server.url("/commands"))
        .bearer_auth(token("case_administrator"))
        .json(&open_case(1, "X123456"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .post(server.url("/commands"))
        .bearer_auth(token("probation_officer"))
        .json(&assess_risk(2, "X123456", "initial", "high", "2016-03-02"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let spo = token("senior_probation_officer");
    let url = server.url("/openapi.json");
    // schemathesis keeps a cache in its working directory: the test's own, not the tree.
    let workdir = dir.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .current_dir(&workdir)
            .args(["run", &url, "-H", &format!("Authorization: Bearer {spo}")])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
            .args(["--max-examples", "40", "--seed", "20261205", "--phases", "examples,coverage,fuzzing"])
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis is installed (pip install schemathesis; .ci/run does)")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found a failure:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("10 selected"),
        "every operation was tested:\n{text}"
    );
    assert!(!text.contains(" failed"), "{text}");
    // The server is still up and answered every request without a 5xx.
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("status=\"5"),
        "no 5xx answered:\n{metrics}"
    );
}
