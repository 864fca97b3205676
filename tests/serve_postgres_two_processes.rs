//! Two `caseledger serve` processes on one PostgreSQL log, each with its own case cache:
//! whenever the other process wrote a case last, a process's cached case is behind. Nothing
//! may be lost (every command in the log once, every stream gapless) and nothing decided on a
//! stale state (every answer and every case as one server alone gives them). Real binary,
//! real server, commands of the synthetic cohort over HTTP with tokens of their actors.

mod cli_support;
mod pg_support;
mod serve_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cli_support::Cli;
use pg_support::TestSchema;
use reqwest::Client;
use serde_json::Value;
use serve_support::{claims, hs256, Keys, Server};

const PEOPLE: &str = "8";
const SEED: &str = "5";

/// The cohort's commands, each as (token of its actor, body without the actor).
fn cohort(work: &Path) -> Vec<(String, Value)> {
    let unused = work.join("unused");
    let generated = Cli::on(&unused).ok(&["generate", "--people", PEOPLE, "--seed", SEED]);
    let mut tokens = BTreeMap::<String, String>::new();
    generated
        .stdout
        .lines()
        .map(|line| {
            let mut body: Value = serde_json::from_str(line).unwrap();
            let actor = body.as_object_mut().unwrap().remove("actor").unwrap();
            let token = tokens.entry(actor.to_string()).or_insert_with(|| {
                let field = |name: &str| actor[name].as_str().unwrap().to_owned();
                hs256(&claims(
                    &field("id"),
                    &field("role"),
                    &field("organisation"),
                ))
            });
            (token.clone(), body)
        })
        .collect()
}

/// `caseledger init` of `schema`, creating the key-encryption key file when missing.
fn init(work: &Path, schema: &TestSchema, key_file: &Path) {
    let data = work.join("init");
    on_log(&data, &schema.url(), key_file).ok(&["init"]);
}

/// The binary on the PostgreSQL log at `url`, its read models in `data`.
fn on_log<'a>(data: &'a Path, url: &'a str, key_file: &'a Path) -> Cli<'a> {
    Cli::on(data).store(Some(url)).key_file(Some(key_file))
}

fn server(data: &Path, schema: &TestSchema, key_file: &Path) -> Server {
    let store = schema.url();
    let key_file = key_file.to_str().unwrap();
    Server::start_with(
        data,
        Keys::Hs256,
        &["--store", &store, "--key-file", key_file],
    )
}

/// Attempts at one command when the connection fails before an answer arrives.
const SEND_ATTEMPTS_MAX: u32 = 3;

/// POST one command to the server at `base`: (HTTP status, the answer). A connection that
/// fails before the answer (a pooled connection closed under load) is retried with the same
/// command id, as a client of an idempotent API does: applied once or not at all, a repeat is
/// answered with the original receipt. Each server's log is checked for panics at the end, so
/// a retry cannot hide a server that fell over.
async fn post_command(client: &Client, base: &str, token: &str, body: &Value) -> (u16, Value) {
    let mut attempt = 1;
    loop {
        let sent = client
            .post(format!("{base}/commands"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                return (status, response.json().await.unwrap());
            }
            Err(e) if attempt < SEND_ATTEMPTS_MAX && !e.is_status() => attempt += 1,
            Err(e) => panic!("{base}: {e}"),
        }
    }
}

/// (HTTP status, the receipt's event types or the problem's type) of one command.
async fn send(client: &Client, server: &Server, token: &str, body: &Value) -> (u16, Value) {
    let (status, answer) = post_command(client, &server.base, token, body).await;
    let what = match answer.get("event_types") {
        Some(types) => types.clone(),
        None => answer["type"].clone(),
    };
    (status, what)
}

/// The export's records: (stream id, stream version, event type, command id).
fn export(data: &Path, schema: &TestSchema, key_file: &Path) -> Vec<(String, u64, String, String)> {
    on_log(data, &schema.url(), key_file)
        .ok(&["export"])
        .stdout
        .lines()
        .skip(1)
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            let text = |v: &Value| v.as_str().unwrap().to_owned();
            (
                text(&record["stream_id"]),
                record["stream_version"].as_u64().unwrap(),
                text(&record["payload"]["event_type"]),
                text(&record["command_id"]),
            )
        })
        .collect()
}

/// Every stream gapless from version 1, and each command's records one run in one stream:
/// a command applied twice would show as two runs.
fn assert_gapless_and_once(records: &[(String, u64, String, String)]) {
    let mut versions = BTreeMap::<&str, u64>::new();
    let mut runs = BTreeSet::<&str>::new();
    let mut previous: Option<(&str, &str)> = None;
    for (stream, version, _, command) in records {
        let expected = versions.entry(stream).or_default();
        *expected += 1;
        assert_eq!(*version, *expected, "{stream} is gapless");
        let nil = command.bytes().all(|b| b == b'0' || b == b'-');
        if !nil && previous != Some((stream, command)) {
            assert!(runs.insert(command), "command {command} applied twice");
        }
        previous = Some((stream, command));
    }
}

/// The event types of each case stream, in version order.
fn event_types_by_case(records: &[(String, u64, String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut cases = BTreeMap::<String, Vec<String>>::new();
    for (stream, _, event_type, _) in records {
        if !stream.starts_with("audit-") {
            cases
                .entry(stream.clone())
                .or_default()
                .push(event_type.clone());
        }
    }
    cases
}

/// Each case as `GET /cases/{crn}` of `server` gives it.
async fn cases(client: &Client, server: &Server, crns: &BTreeSet<String>) -> Vec<Value> {
    let token = hs256(&claims("reader-1", "probation_officer", "nps"));
    let mut states = Vec::new();
    for crn in crns {
        let response = client
            .get(server.url(&format!("/cases/{crn}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{crn}");
        states.push(response.json().await.unwrap());
    }
    states
}

/// Two servers on one log, and what one server alone answered to the cohort on another log.
/// Fields drop in order: the servers stop before their schemas are dropped.
struct Scene {
    servers: [Server; 2],
    alone: Server,
    expected: Vec<(u16, Value)>,
    commands: Vec<(String, Value)>,
    shared: TestSchema,
    alone_schema: TestSchema,
    key_file: std::path::PathBuf,
    work: tempfile::TempDir,
}

impl Scene {
    /// The cohort sent command by command to one server on a log of its own, then two servers
    /// started on the shared log.
    async fn new(pg: &str) -> Scene {
        let work = tempfile::tempdir().unwrap();
        let key_file = work.path().join("kek");
        let (shared, alone_schema) = (TestSchema::new(pg), TestSchema::new(pg));
        let commands = cohort(work.path());
        init(work.path(), &shared, &key_file);
        init(work.path(), &alone_schema, &key_file);
        let alone = server(&work.path().join("alone"), &alone_schema, &key_file);
        let client = Client::new();
        let mut expected = Vec::with_capacity(commands.len());
        for (token, body) in &commands {
            expected.push(send(&client, &alone, token, body).await);
        }
        let servers = [
            server(&work.path().join("first"), &shared, &key_file),
            server(&work.path().join("second"), &shared, &key_file),
        ];
        Scene {
            servers,
            alone,
            expected,
            commands,
            shared,
            alone_schema,
            key_file,
            work,
        }
    }

    fn export(&self, schema: &TestSchema) -> Vec<(String, u64, String, String)> {
        export(&self.work.path().join("export"), schema, &self.key_file)
    }

    /// The shared log has every stream gapless and every command once, both servers read
    /// every case as the server alone does, and no server panicked.
    async fn assert_as_one_server(&self) -> Vec<(String, u64, String, String)> {
        let records = self.export(&self.shared);
        assert_gapless_and_once(&records);
        let client = Client::new();
        let crns: BTreeSet<String> = event_types_by_case(&records).into_keys().collect();
        let reference_cases = cases(&client, &self.alone, &crns).await;
        for server in &self.servers {
            assert_eq!(cases(&client, server, &crns).await, reference_cases);
        }
        for server in self.servers.iter().chain([&self.alone]) {
            assert!(!server.log().contains("panicked"), "{}", server.log());
        }
        records
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_taking_turns_on_one_postgres_log_answer_as_one_server_would() {
    let Some(pg) = pg_support::server() else {
        return;
    };
    let scene = Scene::new(&pg).await;
    let client = Client::new();
    let sent = scene.commands.iter().zip(&scene.expected).enumerate();
    for (index, ((token, body), expected)) in sent {
        let answer = send(&client, &scene.servers[index % 2], token, body).await;
        assert_eq!(&answer, expected, "{body}");
    }
    scene.assert_as_one_server().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sent_every_command_at_once_lose_no_update_and_agree_with_one_server() {
    let Some(pg) = pg_support::server() else {
        return;
    };
    let scene = Scene::new(&pg).await;
    // Two clients send the whole cohort in order at the same time, command n of client c to
    // server (n + c) mod 2: whichever client is ahead writes through both servers in turn, and
    // the one behind repeats each command through the other server.
    let bases: Vec<String> = scene.servers.iter().map(|s| s.base.clone()).collect();
    let clients: Vec<_> = (0..2usize)
        .map(|client_index| {
            let (commands, bases) = (scene.commands.clone(), bases.clone());
            tokio::spawn(async move {
                let client = Client::new();
                let mut written_by_server = [0u64; 2];
                for (n, (token, body)) in commands.iter().enumerate() {
                    let server = (n + client_index) % 2;
                    let (_, receipt) = post_command(&client, &bases[server], token, body).await;
                    if receipt["deduplicated"] == Value::Bool(false) {
                        written_by_server[server] += 1;
                    }
                }
                written_by_server
            })
        })
        .collect();
    let mut written_by_each = [0u64; 2];
    for client in clients {
        let written = client.await.unwrap();
        written_by_each[0] += written[0];
        written_by_each[1] += written[1];
    }
    // Both wrote: each server's cache was behind the other's writes at times.
    assert!(
        written_by_each.iter().all(|n| *n > 0),
        "{written_by_each:?}"
    );
    let records = scene.assert_as_one_server().await;
    assert_eq!(
        event_types_by_case(&records),
        event_types_by_case(&scene.export(&scene.alone_schema)),
        "the same events, case by case (written by each server: {written_by_each:?})"
    );
}
