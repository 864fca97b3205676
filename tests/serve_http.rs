//! `caseledger serve` as a client sees it: a real server process on an ephemeral port, a real
//! HTTP client, tokens signed here (HS256 and RS256). Every status of docs/operations.md
//! "HTTP server", bad input that writes nothing, concurrent clients, and SIGTERM.

mod serve_support;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use serve_support::*;

async fn problem(response: reqwest::Response, status: StatusCode, field: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "a problem report"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], json!(status.as_u16()), "{body}");
    assert_eq!(body["field"], json!(field), "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:caseledger:problem:"),
        "{body}"
    );
    assert!(!body["detail"].as_str().unwrap().is_empty(), "{body}");
    body
}

async fn head(client: &Client, server: &Server) -> u64 {
    let info: Value = client
        .get(server.url("/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    info["head"].as_u64().unwrap()
}

async fn post(client: &Client, server: &Server, token: &str, body: &Value) -> reqwest::Response {
    client
        .post(server.url("/commands"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_answer_each_status_and_bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), Keys::Hs256);
    let client = Client::new();
    let admin = token("case_administrator");

    let health: Value = client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "UP");

    // 401: no token, an expired one, a wrongly signed one, an unknown role; 403: `system`.
    let open = open_case(1, "X100001");
    let r = client
        .post(server.url("/commands"))
        .json(&open)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"caseledger\""
    );
    problem(r, StatusCode::UNAUTHORIZED, "authorization").await;
    let mut expired = claims("a1", "case_administrator", "nps");
    expired["exp"] = json!(now_s() - 3600);
    problem(
        post(&client, &server, &hs256(&expired), &open).await,
        StatusCode::UNAUTHORIZED,
        "authorization",
    )
    .await;
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims("a1", "case_administrator", "nps"),
        &jsonwebtoken::EncodingKey::from_secret(b"not the server's secret, but as long as it"),
    )
    .unwrap();
    problem(
        post(&client, &server, &forged, &open).await,
        StatusCode::UNAUTHORIZED,
        "authorization",
    )
    .await;
    problem(
        post(
            &client,
            &server,
            &hs256(&claims("a1", "wizard", "nps")),
            &open,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "role",
    )
    .await;
    problem(
        post(
            &client,
            &server,
            &hs256(&claims("a1", "system", "nps")),
            &open,
        )
        .await,
        StatusCode::FORBIDDEN,
        "role",
    )
    .await;
    let no_exp = json!({"sub": "a1", "role": "case_administrator", "organisation": "nps"});
    problem(
        post(&client, &server, &hs256(&no_exp), &open).await,
        StatusCode::UNAUTHORIZED,
        "exp",
    )
    .await;

    // 400/422/413: bad input names the field and writes nothing.
    let raw = |body: &'static str| {
        client
            .post(server.url("/commands"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    problem(
        raw("{\"command_id\": ").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "body",
    )
    .await;
    problem(
        raw("[1, 2]").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "body",
    )
    .await;
    let mut with_actor = open.clone();
    with_actor["actor"] =
        json!({"id": "someone-else", "role": "case_administrator", "organisation": "nps"});
    problem(
        post(&client, &server, &admin, &with_actor).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "actor",
    )
    .await;
    let mut unknown = open.clone();
    unknown["command"]["colour"] = json!("blue");
    let body = problem(
        post(&client, &server, &admin, &unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "command.colour",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("unknown"),
        "{body}"
    );
    let mut bad_crn = open.clone();
    bad_crn["crn"] = json!("../../etc/passwd");
    problem(
        post(&client, &server, &admin, &bad_crn).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "crn",
    )
    .await;
    let huge = format!(
        "{{\"command_id\": \"{}\", \"pad\": \"{}\"}}",
        uuid(9),
        "x".repeat(70_000)
    );
    let r = client
        .post(server.url("/commands"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::PAYLOAD_TOO_LARGE, "body").await;
    assert_eq!(head(&client, &server).await, 0, "bad input wrote nothing");

    // 200: applied, then the same command id again is deduplicated.
    let r = post(&client, &server, &admin, &open).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt: Value = r.json().await.unwrap();
    assert_eq!(receipt["event_types"][0], "CaseOpened");
    assert_eq!(receipt["deduplicated"], false);
    let again: Value = post(&client, &server, &admin, &open)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["deduplicated"], true);
    assert_eq!(again["first_position"], receipt["first_position"]);

    // 403: the role matrix refuses (and the refusal is recorded); 422: a rule refuses.
    let inspector = token("inspector");
    let r = post(
        &client,
        &server,
        &inspector,
        &assess_risk(2, "X100001", "initial", "low", "2016-03-02"),
    )
    .await;
    problem(r, StatusCode::FORBIDDEN, "role").await;
    let r = post(
        &client,
        &server,
        &token("probation_officer"),
        &assess_risk(3, "X100001", "review", "low", "2015-01-01"),
    )
    .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "command").await;
    // 409: a command id already used on another case.
    let mut reused = open_case(1, "X100002");
    reused["command_id"] = open["command_id"].clone();
    problem(
        post(&client, &server, &admin, &reused).await,
        StatusCode::CONFLICT,
        "command_id",
    )
    .await;
    // 409: the same command id on the same case with a different body; the case is unchanged.
    let case = |client: Client, url: String, token: String| async move {
        let r = client.get(url).bearer_auth(token).send().await.unwrap();
        r.json::<Value>().await.unwrap()
    };
    let case_url = server.url("/cases/X100001");
    let case_before = case(client.clone(), case_url.clone(), admin.clone()).await;
    assert_eq!(case_before["pdu"], json!(1), "{case_before}");
    let before = head(&client, &server).await;
    let mut changed = open.clone();
    changed["command"]["pdu"] = json!(2);
    let body = problem(
        post(&client, &server, &admin, &changed).await,
        StatusCode::CONFLICT,
        "command_id",
    )
    .await;
    assert_eq!(body["type"], "urn:caseledger:problem:idempotency-conflict");
    assert_eq!(
        case(client.clone(), case_url, admin.clone()).await,
        case_before
    );
    assert_eq!(
        head(&client, &server).await,
        before,
        "nothing written (a refusal is recorded once per command id, above)"
    );

    // Reads: the case, its history, an explanation; 404, 400 naming the field.
    let po = token("probation_officer");
    let r = post(
        &client,
        &server,
        &po,
        &assess_risk(4, "X100001", "initial", "high", "2016-03-02"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let case: Value = client
        .get(server.url("/cases/X100001"))
        .bearer_auth(&po)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(case["risk"]["rosh"], "high", "{case}");
    problem(
        client
            .get(server.url("/cases/X100001"))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "authorization",
    )
    .await;
    problem(
        client
            .get(server.url("/cases/X999999"))
            .bearer_auth(&po)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "crn",
    )
    .await;
    problem(
        client
            .get(server.url("/cases/..%2F..%2Fetc"))
            .bearer_auth(&po)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "crn",
    )
    .await;
    let history: Value = client
        .get(server.url("/cases/X100001/history"))
        .bearer_auth(&inspector)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(
        entries[0]["actor"]["id"], "case_administrator-1",
        "the actor is the token's subject"
    );
    let before: Value = client
        .get(server.url("/cases/X100001/history?as_of_effective=2016-03-01"))
        .bearer_auth(&inspector)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        before["state"]["risk"]["rosh"],
        Value::Null,
        "{}",
        before["state"]["risk"]
    );
    problem(
        client
            .get(server.url("/cases/X100001/history?as_of_recorded=yesterday"))
            .bearer_auth(&inspector)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "as_of_recorded",
    )
    .await;
    let decision = entries
        .iter()
        .find(|e| !e["reason_code"].is_null())
        .expect("a decision event");
    let explained: Value = client
        .get(server.url(&format!(
            "/events/{}/explain?today=2024-01-01",
            decision["event_id"].as_str().unwrap()
        )))
        .bearer_auth(&inspector)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(explained["event_id"], decision["event_id"]);
    problem(
        client
            .get(server.url(&format!("/events/{}/explain", uuid(77))))
            .bearer_auth(&inspector)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "event_id",
    )
    .await;
    problem(
        client
            .get(server.url("/events/not-a-uuid/explain"))
            .bearer_auth(&inspector)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "event_id",
    )
    .await;
    let fact = entries
        .iter()
        .find(|e| e["event_type"] == "CaseOpened")
        .unwrap();
    problem(
        client
            .get(server.url(&format!(
                "/events/{}/explain",
                fact["event_id"].as_str().unwrap()
            )))
            .bearer_auth(&inspector)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "event_id",
    )
    .await;

    // Reports from the read models kept current while serving; who may read them.
    let sentence = json!({"command_id": uuid(5), "crn": "X100001", "effective_at": "2016-03-02",
        "command": {"type": "impose_sentence", "sentence_type": "community_order", "court": "Leeds Magistrates' Court",
                    "length_months": 12, "dates": {}, "requirements": [{"unpaid_work": {"hours": 100}}], "on": "2016-03-02"}});
    assert_eq!(
        post(&client, &server, &token("court_officer"), &sentence)
            .await
            .status(),
        StatusCode::OK
    );
    wait_for_read_models(&client, &server).await;
    let queue: Value = client
        .get(server.url("/reports/allocations?today=2016-03-03"))
        .bearer_auth(&inspector)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queue[0]["crn"], "X100001", "{queue}");
    let csv = client
        .get(server.url("/reports/mappa?format=csv"))
        .bearer_auth(token("regulator"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let as_of: Value = client
        .get(server.url("/reports/caseload?as_of_recorded=2000-01-01"))
        .bearer_auth(&inspector)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(as_of, json!([]), "nothing was known in 2000");
    problem(
        client
            .get(server.url("/reports/caseload"))
            .bearer_auth(&po)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "role",
    )
    .await;
    problem(
        client
            .get(server.url("/reports/secrets"))
            .bearer_auth(&inspector)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "name",
    )
    .await;
    problem(
        client
            .get(server.url("/reports/caseload?format=xml"))
            .bearer_auth(&inspector)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "format",
    )
    .await;
    problem(
        client
            .get(
                server
                    .url("/reports/caseload?as_of_recorded=2016-01-01&as_of_effective=2016-01-01"),
            )
            .bearer_auth(&inspector)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "as_of_recorded",
    )
    .await;

    let verify: Value = client
        .get(server.url("/verify"))
        .bearer_auth(&inspector)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["intact"], true);
    assert_eq!(verify["head"].as_u64(), Some(head(&client, &server).await));
    assert_eq!(verify["root"].as_str().unwrap().len(), 64);

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("caseledger_commands_applied_total{type=\"open_case\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("caseledger_commands_deduplicated_total{type=\"open_case\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "caseledger_commands_refused_total{type=\"assess_risk\",kind=\"unauthorised\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("caseledger_commands_refused_total{type=\"assess_risk\",kind=\"rule\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("caseledger_read_model_lag_events 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("caseledger_command_append_seconds_count 3"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("X100001") && !metrics.contains("Alex"),
        "no CRN or name in metrics"
    );
    let spec: Value = client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/commands"]["post"].is_object());
    problem(
        client
            .get(server.url("/no/such/path"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "path",
    )
    .await;

    // Logs: JSON lines with the command span, and no personal data.
    let mut server = server;
    assert_eq!(server.stop(), Some(0), "SIGTERM stops the server cleanly");
    let log = server.log();
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "JSON log lines:\n{log}"
    );
    assert!(log.contains("\"command_type\":\"open_case\""), "{log}");
    // The command span carries the handler's retries and the wait for the durable append.
    let applied: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "command answered")
        .filter(|l| {
            l["span"]["outcome"]
                .as_str()
                .unwrap_or("")
                .contains("Applied")
        })
        .collect();
    assert!(!applied.is_empty(), "{log}");
    for line in &applied {
        let span = &line["span"];
        assert_eq!(span["retries"], json!(0), "{line}");
        let wait = span["flush_wait_us"].as_u64().unwrap();
        assert!(
            wait > 0 && wait <= span["elapsed_us"].as_u64().unwrap(),
            "{line}"
        );
    }
    let refused = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["fields"]["message"] == "command answered"
                && l["span"]["outcome"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Refused")
        })
        .expect("a refused command's span");
    assert!(refused["span"].get("flush_wait_us").is_none(), "{refused}");
    assert!(
        !log.contains("Alex Example") && !log.contains("1990-05-04"),
        "no personal data in logs"
    );

    // The refusal by role was recorded in audit-refusals, as for every other shell.
    let engine =
        caseledger::Engine::open(caseledger::EngineConfig::sled(dir.path().join("data"))).unwrap();
    let refusals = engine.refusals().await.unwrap();
    assert!(
        refusals
            .iter()
            .any(|r| r.actor_role == "inspector" && r.command_type == "assess_risk"),
        "{refusals:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_verify_against_the_jwks_file_and_hs256_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), Keys::Jwks);
    let client = Client::new();
    let rs = rs256(&claims("clerk7", "case_administrator", "nps"));
    let r = post(&client, &server, &rs, &open_case(1, "X200001")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let history: Value = client
        .get(server.url("/cases/X200001/history"))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["entries"][0]["actor"]["id"], "clerk7");
    // An HS256 token (even one whose secret is the public key's text) is not accepted here.
    let hs = hs256(&claims("clerk7", "case_administrator", "nps"));
    problem(
        post(&client, &server, &hs, &open_case(2, "X200002")).await,
        StatusCode::UNAUTHORIZED,
        "authorization",
    )
    .await;
    // HMPPS Auth's authorities claim instead of role.
    let hmpps = rs256(
        &json!({"sub": "insp1", "organisation": "hmi_probation", "exp": now_s() + 60,
        "authorities": ["ROLE_PRISON", "ROLE_CASELEDGER_INSPECTOR"]}),
    );
    let verify = client
        .get(server.url("/verify"))
        .bearer_auth(&hmpps)
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_on_different_cases_and_on_the_same_case() {
    let dir = tempfile::tempdir().unwrap();
    let server = std::sync::Arc::new(Server::start(&dir.path().join("data"), Keys::Hs256));
    let client = Client::new();
    let admin = token("case_administrator");
    let po = token("probation_officer");
    // One shared case first.
    assert_eq!(
        post(&client, &server, &admin, &open_case(1, "X300000"))
            .await
            .status(),
        StatusCode::OK
    );
    let assessed = post(
        &client,
        &server,
        &po,
        &assess_risk(2, "X300000", "initial", "low", "2016-03-02"),
    )
    .await;
    assert_eq!(assessed.status(), StatusCode::OK);

    const CASES: u128 = 24;
    const SAME_CASE: u128 = 24;
    let mut tasks = Vec::new();
    for i in 0..CASES {
        let (client, server, admin, po) =
            (client.clone(), server.clone(), admin.clone(), po.clone());
        tasks.push(tokio::spawn(async move {
            let crn = format!("X3{:05}", i + 1);
            let a = post(&client, &server, &admin, &open_case(100 + i, &crn))
                .await
                .status();
            let b = post(
                &client,
                &server,
                &po,
                &assess_risk(200 + i, &crn, "initial", "medium", "2016-03-02"),
            )
            .await
            .status();
            vec![a, b]
        }));
    }
    for i in 0..SAME_CASE {
        let (client, server, po) = (client.clone(), server.clone(), po.clone());
        tasks.push(tokio::spawn(async move {
            let rosh = ["low", "medium", "high"][(i % 3) as usize];
            vec![post(
                &client,
                &server,
                &po,
                &assess_risk(300 + i, "X300000", "review", rosh, "2016-04-01"),
            )
            .await
            .status()]
        }));
    }
    for task in tasks {
        for status in task.await.unwrap() {
            assert_eq!(status, StatusCode::OK);
        }
    }
    let history: Value = client
        .get(server.url("/cases/X300000/history"))
        .bearer_auth(&po)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = history["entries"].as_array().unwrap();
    let reviews = entries
        .iter()
        .filter(|e| e["event_type"] == "RiskAssessed")
        .count();
    assert_eq!(
        reviews as u128,
        1 + SAME_CASE,
        "every concurrent review on the same case applied once"
    );
    let versions: Vec<u64> = entries
        .iter()
        .map(|e| e["stream_version"].as_u64().unwrap())
        .collect();
    assert_eq!(
        versions,
        (1..=entries.len() as u64).collect::<Vec<_>>(),
        "gapless stream versions"
    );
    for i in 0..CASES {
        let case: Value = client
            .get(server.url(&format!("/cases/X3{:05}", i + 1)))
            .bearer_auth(&po)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(case["risk"]["rosh"], "medium");
    }
    let verify: Value = client
        .get(server.url("/verify"))
        .bearer_auth(token("inspector"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["intact"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_commands_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, Keys::Hs256);
    let client = Client::new();
    let admin = token("case_administrator");
    let mut tasks = Vec::new();
    for i in 0..200u128 {
        let (client, url, admin) = (client.clone(), server.url("/commands"), admin.clone());
        tasks.push(tokio::spawn(async move {
            let crn = format!("X4{:05}", i);
            let r = client
                .post(url)
                .bearer_auth(&admin)
                .json(&open_case(i + 1, &crn))
                .send()
                .await;
            match r {
                Ok(r) if r.status() == StatusCode::OK => Some(crn),
                _ => None,
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let code = tokio::task::spawn_blocking(move || {
        let code = server.stop();
        (code, server)
    })
    .await
    .unwrap();
    assert_eq!(code.0, Some(0));
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    let engine = caseledger::Engine::open(caseledger::EngineConfig::sled(&data)).unwrap();
    for crn in &acknowledged {
        assert!(
            engine.case(crn).await.unwrap().is_some(),
            "{crn} was acknowledged and must be in the log"
        );
    }
    eprintln!(
        "{} of 200 acknowledged before the server stopped",
        acknowledged.len()
    );
}
