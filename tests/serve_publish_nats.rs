//! `caseledger serve --publish-nats`: the server runs the relay on the log it writes. A generated
//! cohort is sent over HTTP with tokens signed here; a consumer (async-nats, a durable pull
//! consumer on the real JetStream at 127.0.0.1:4222) reads every message and fetches its
//! `detailUrl` from the running server with a token. Each message names the command's CRN and
//! the event's domain type, in log order, once, without personal data; the detail behind it is
//! the event's case or decision. After SIGTERM and a restart the relay resumes from its
//! checkpoint: nothing is published twice.

mod nats_support;
mod serve_support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use caseledger::domain_event::publication;
use futures::StreamExt;
use nats_support::{personal_data, schema, stream_len, SHARED_NATS};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use serve_support::*;

/// A publishable event the server wrote: (position, CRN, caseledger event type).
type Written = (u64, String, String);

fn unique(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{label}{}x{nanos}", std::process::id())
}

fn generate(people: u32, seed: u32) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args(["generate", "--people", &people.to_string()])
        .args(["--seed", &seed.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// POST one command line as its own actor (the actor moves from the body into the token);
/// the publishable events its receipt says it wrote (none when refused or deduplicated).
async fn send(client: &Client, server: &Server, line: &str) -> (StatusCode, Vec<Written>) {
    let mut command: Value = serde_json::from_str(line).unwrap();
    let actor = command.as_object_mut().unwrap().remove("actor").unwrap();
    let token = hs256(&claims(
        actor["id"].as_str().unwrap(),
        actor["role"].as_str().unwrap(),
        actor["organisation"].as_str().unwrap(),
    ));
    let response = client
        .post(server.url("/commands"))
        .bearer_auth(token)
        .json(&command)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    if status != StatusCode::OK || body["deduplicated"] == json!(true) {
        return (status, Vec::new());
    }
    let first = body["first_position"].as_u64().unwrap();
    let crn = body["crn"].as_str().unwrap().to_owned();
    let written = body["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                first + i as u64,
                crn.clone(),
                t.as_str().unwrap().to_owned(),
            )
        })
        .filter(|(_, _, t)| publication(t).is_some())
        .collect();
    (status, written)
}

/// One message as the consumer received it.
struct Received {
    subject: String,
    position: u64,
    msg_id: String,
    body: Value,
}

/// Read `count` messages with a durable pull consumer, acknowledging each.
async fn consume(stream: &str, count: usize) -> Vec<Received> {
    let js = async_nats::jetstream::new(async_nats::connect(SHARED_NATS).await.unwrap());
    let consumer = js
        .get_stream(stream)
        .await
        .expect("the server's relay created the stream")
        .create_consumer(pull::Config {
            durable_name: Some("detail-reader".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut received = Vec::new();
    while received.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("every message arrives within 30 s")
            .unwrap()
            .unwrap();
        let headers = message.headers.clone().expect("headers");
        let header = |name: &str| {
            let name: async_nats::header::HeaderName = name.parse().unwrap();
            headers.get(name).map(|v| v.as_str().to_owned())
        };
        received.push(Received {
            subject: message.subject.to_string(),
            position: header("Caseledger-Position").unwrap().parse().unwrap(),
            msg_id: header("Nats-Msg-Id").unwrap(),
            body: serde_json::from_slice(&message.payload).unwrap(),
        });
        message.ack().await.unwrap();
    }
    received
}

async fn get_json(client: &Client, url: &str, token: &str) -> Value {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.json().await.unwrap()
}

async fn wait_for_relay(client: &Client, server: &Server) {
    for _ in 0..400 {
        let info: Value = client
            .get(server.url("/info"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if info["relay_lag"] == json!(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the relay did not catch up; log: {}", server.log());
}

/// What a consumer sees of `message`, written as `written`, and the detail behind it.
async fn check_message(
    client: &Client,
    server: &Server,
    token: &str,
    message: &Received,
    written: &Written,
    prefix: &str,
) {
    let (position, crn, source) = written;
    let body = &message.body;
    assert_eq!(message.position, *position, "log order, each once");
    uuid::Uuid::parse_str(&message.msg_id).expect("Nats-Msg-Id is the event id");
    let event_type = publication(source).unwrap().event_type;
    assert_eq!(body["eventType"], event_type, "{body}");
    assert_eq!(message.subject, format!("{prefix}.{event_type}"));
    assert_eq!(
        body["personReference"]["identifiers"],
        json!([{"type": "CRN", "value": crn}])
    );
    let url = body["detailUrl"].as_str().unwrap();
    assert!(url.starts_with(&server.base), "{url} on {}", server.base);
    let detail = get_json(client, url, token).await;
    if url.ends_with("/explain") {
        assert_eq!(detail["event_type"], source.as_str(), "{detail}");
        assert_eq!(detail["position"], json!(position));
        assert_eq!(detail["event_id"], message.msg_id.as_str());
    } else {
        assert_eq!(url, server.url(&format!("/cases/{crn}")));
        assert_eq!(detail["crn"], crn.as_str(), "{detail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reads_what_serve_publishes_and_fetches_each_detail_url_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (stream, prefix) = (unique("CL_SERVE_"), unique("clserve"));
    let args = [
        "--publish-nats",
        SHARED_NATS,
        "--stream",
        &stream,
        "--subject-prefix",
        &prefix,
    ];
    let mut server = Server::start_with(&data, Keys::Hs256, &args);
    let client = Client::new();
    let commands = generate(4, 17);
    let mut written = Vec::new();
    let mut statuses: HashMap<StatusCode, usize> = HashMap::new();
    for line in commands.lines() {
        let (status, events) = send(&client, &server, line).await;
        *statuses.entry(status).or_default() += 1;
        written.extend(events);
    }
    assert!(
        statuses.keys().all(|s| [200, 422].contains(&s.as_u16())),
        "{statuses:?}"
    );
    assert!(written.len() > 30, "a real cohort: {}", written.len());

    let received = consume(&stream, written.len()).await;
    wait_for_relay(&client, &server).await;
    assert_eq!(stream_len(SHARED_NATS, &stream).await, written.len() as u64);
    let inspector = token("inspector");
    let validator = schema();
    for (message, written) in received.iter().zip(&written) {
        check_message(&client, &server, &inspector, message, written, &prefix).await;
        assert!(validator.is_valid(&message.body), "{}", message.body);
    }
    assert!(received
        .iter()
        .any(|m| m.body["detailUrl"].as_str().unwrap().ends_with("/explain")));
    let personal = personal_data(&commands);
    assert!(personal.len() > 5, "the cohort has names: {personal:?}");
    for message in &received {
        let mut body = message.body.clone();
        body.as_object_mut().unwrap().remove("description");
        let text = body.to_string();
        for datum in &personal {
            assert!(!text.contains(datum.as_str()), "{datum:?} published");
        }
    }
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\ncaseledger_relay_lag_events 0\n"),
        "{metrics}"
    );

    // SIGTERM stops the relay with the server; a restart resumes from the checkpoint.
    assert_eq!(server.stop(), Some(0), "{}", server.log());
    assert!(
        server.log().contains("the relay stopped"),
        "{}",
        server.log()
    );
    let server = Server::start_with(&data, Keys::Hs256, &args);
    let (status, more) = send(&client, &server, commands.lines().next().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the same command again");
    assert!(more.is_empty(), "deduplicated: nothing new");
    assert_eq!(stream_len(SHARED_NATS, &stream).await, written.len() as u64);
    let mut open = open_case(1, "X700001");
    open["actor"] = json!({"id": "clerk-1", "role": "case_administrator", "organisation": "nps"});
    let (status, new) = send(&client, &server, &open.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!new.is_empty());
    wait_for_relay(&client, &server).await;
    let all = nats_support::read_stream(SHARED_NATS, &stream, 1).await;
    assert_eq!(
        all.len(),
        written.len() + new.len(),
        "only the new case's events"
    );
    for (message, (position, crn, _)) in all[written.len()..].iter().zip(&new) {
        assert_eq!(message.position, *position);
        assert_eq!(
            message.body["personReference"]["identifiers"][0]["value"],
            crn.as_str()
        );
    }
    assert_eq!(
        all[written.len()].body["eventType"],
        "probation-case.case.opened"
    );
    let js = async_nats::jetstream::new(async_nats::connect(SHARED_NATS).await.unwrap());
    let _ = js.delete_stream(&stream).await;
}

/// Relay options without `--publish-nats`, and a bad `--public-url`, are usage errors (exit 2)
/// before the store is opened.
#[test]
fn relay_options_without_a_nats_server_or_with_a_bad_public_url_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    for (extra, flag) in [
        (vec!["--stream", "OTHER"], "--publish-nats"),
        (vec!["--public-url", "http://x"], "--publish-nats"),
        (
            vec!["--publish-nats", SHARED_NATS, "--public-url", "ftp://x"],
            "--public-url",
        ),
        (
            vec!["--publish-nats", SHARED_NATS, "--subject-prefix", "a.*"],
            "--subject-prefix",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .arg("--data")
            .arg(dir.path().join("data"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--jwt-hs256-secret-file",
            ])
            .arg(&secret)
            .args(&extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(flag), "{extra:?}: {stderr}");
        assert!(
            !dir.path().join("data").exists(),
            "{extra:?}: nothing opened"
        );
    }
}
