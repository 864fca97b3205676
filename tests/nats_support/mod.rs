//! Helpers for the relay's tests against real NATS JetStream servers: a server of the test's
//! own (port, store directory) that it can stop and start, reading a stream back with
//! async-nats, and the messages the log should have produced.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull::OrderedConfig, consumer::DeliverPolicy};
use caseledger::domain_event::{domain_event, DetailBaseUrl};
use caseledger::store::{EventStore, EventStoreExt, SledOptions, SledStore};
use futures::StreamExt;
use serde_json::Value;

pub const SHARED_NATS: &str = "nats://127.0.0.1:4222";
pub const DETAIL_BASE: &str = "http://caseledger.test:8080";

/// A nats-server with JetStream that this test owns.
pub struct NatsServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl NatsServer {
    pub fn start(dir: &Path) -> NatsServer {
        let mut server = NatsServer {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        server.start_again();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("/usr/sbin/nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the server (SIGTERM: it finishes writing its store) and wait for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One message of a stream, as a consumer sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub sequence: u64,
    pub subject: String,
    pub msg_id: String,
    pub position: u64,
    pub body: Value,
}

/// Every message of `stream` from sequence `from` on, read with an ordered consumer.
pub async fn read_stream(url: &str, stream: &str, from: u64) -> Vec<Stored> {
    let client = async_nats::connect(url).await.expect("connect");
    let js = jetstream::new(client);
    let Ok(mut s) = js.get_stream(stream).await else {
        return Vec::new(); // not created yet: the relay was killed before it got that far
    };
    let last = s.info().await.expect("stream info").state.last_sequence;
    if last < from {
        return Vec::new();
    }
    let consumer = s
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while out.len() < (last - from.max(1) + 1) as usize {
        let message = tokio::time::timeout(Duration::from_secs(20), messages.next())
            .await
            .expect("the stream delivers within 20 s")
            .expect("a message")
            .expect("no error");
        let headers = message.headers.clone().expect("headers");
        let header = |name: &str| {
            let name: async_nats::header::HeaderName = name.parse().expect("a header name");
            headers
                .get(name.clone())
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| panic!("header {name}"))
        };
        out.push(Stored {
            sequence: message.info().expect("info").stream_sequence,
            subject: message.subject.to_string(),
            msg_id: header("Nats-Msg-Id"),
            position: header("Caseledger-Position").parse().expect("position"),
            body: serde_json::from_slice(&message.payload).expect("JSON body"),
        });
    }
    out
}

/// How many messages `stream` holds (0 when it does not exist yet).
pub async fn stream_len(url: &str, stream: &str) -> u64 {
    let client = async_nats::connect(url).await.expect("connect");
    let js = jetstream::new(client);
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

/// Wait (at most 30 s) until `stream` holds more than `than` messages.
pub async fn wait_for_growth(url: &str, stream: &str, than: u64) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if stream_len(url, stream).await > than {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// What the log in `data` should publish, in log order: (position, event id, body).
pub async fn expected(data: &Path) -> Vec<(u64, String, Value)> {
    let store = Arc::new(SledStore::open(data, SledOptions::default()).expect("open the store"));
    let base = DetailBaseUrl::new(DETAIL_BASE).unwrap();
    let mut out = Vec::new();
    let mut pages = store.read_all_from(1);
    while let Some(page) = pages.next_page().await.expect("read the log") {
        for record in page {
            if let Some(event) = domain_event(&record, &base).expect("publishable") {
                out.push((
                    record.position,
                    record.event_id.to_string(),
                    serde_json::to_value(&event).unwrap(),
                ));
            }
        }
    }
    out
}

/// The relay's checkpoint in the store in `data`.
pub async fn checkpoint(data: &Path, consumer: &str) -> u64 {
    let store = SledStore::open(data, SledOptions::default()).expect("open the store");
    let name = caseledger::store::ConsumerName::new(consumer).unwrap();
    store.consumer_position(&name).await.unwrap().unwrap_or(0)
}

/// A sled store in `data` holding a generated cohort of `people`, imported by the CLI.
pub fn cohort_store(dir: &Path, people: u64, seed: u64) -> (PathBuf, String) {
    let data = dir.join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args([
            "generate",
            "--people",
            &people.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .expect("generate");
    assert!(out.status.success());
    let commands = String::from_utf8(out.stdout).unwrap();
    let file = dir.join("cohort.jsonl");
    std::fs::write(&file, &commands).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(&data)
        .arg("import")
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .expect("import");
    assert!(status.success());
    (data, commands)
}

/// The relay as a child process.
pub fn publish_command(data: &Path, url: &str, stream: &str, prefix: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
    command
        .arg("--data")
        .arg(data)
        .args([
            "publish",
            "--nats",
            url,
            "--stream",
            stream,
            "--subject-prefix",
            prefix,
        ])
        .args(["--detail-base-url", DETAIL_BASE]);
    command
}

/// The JSON Schema of the envelope, compiled.
pub fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/domain-event.schema.json"),
    )
    .expect("docs/domain-event.schema.json");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// Assert every message is valid against the schema.
pub fn assert_valid(validator: &jsonschema::Validator, stored: &[Stored]) {
    for s in stored {
        let errors: Vec<String> = validator
            .iter_errors(&s.body)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "sequence {}: {errors:?}\n{}",
            s.sequence,
            s.body
        );
    }
}

/// Assert the stream is exactly `expected` (or, with `prefix_only`, a prefix of it): nothing
/// missing, nothing twice, in log order (so in log order per CRN), each with its subject,
/// message id and body.
pub fn assert_stream_matches(
    stored: &[Stored],
    expected: &[(u64, String, Value)],
    prefix: &str,
    prefix_only: bool,
) {
    if !prefix_only {
        assert_eq!(stored.len(), expected.len(), "every publishable event once");
    }
    assert!(
        stored.len() <= expected.len(),
        "more messages than publishable events"
    );
    for (s, (position, id, body)) in stored.iter().zip(expected) {
        assert_eq!(s.position, *position, "sequence {}: log order", s.sequence);
        assert_eq!(&s.msg_id, id, "Nats-Msg-Id is the event id");
        assert_eq!(&s.body, body, "sequence {}", s.sequence);
        let event_type = body["eventType"].as_str().unwrap();
        assert_eq!(s.subject, format!("{prefix}.{event_type}"));
    }
}

/// Strings of the commands that are personal or free text: names, dates of birth, and every
/// text field with a space in it (codes have none) except the names of CRCs, which are
/// organisations (reference data), not people.
pub fn personal_data(commands: &str) -> Vec<String> {
    fn walk(value: &Value, key: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, k, out)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, key, out)),
            Value::String(s) => {
                let personal = matches!(key, "name" | "date_of_birth");
                let text = s.contains(' ') && !s.contains("CRC");
                if personal || text {
                    out.push(s.clone());
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for line in commands.lines() {
        walk(&serde_json::from_str(line).unwrap(), "", &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// A TCP proxy in front of a NATS server that cuts every connection through it, mid-stream,
/// each time the bytes sent towards the server cross the next of `cuts` thresholds, then
/// refuses connections for `down` (the network drops and comes back; the broker stays up).
pub struct CuttingProxy {
    pub port: u16,
    state: Arc<ProxyState>,
}

struct ProxyState {
    upstream: u16,
    cut_every: u64,
    cuts: usize,
    down: Duration,
    forwarded: std::sync::atomic::AtomicU64,
    cut: std::sync::atomic::AtomicUsize,
    open: std::sync::Mutex<Vec<TcpStream>>,
    down_until: std::sync::Mutex<Instant>,
}

impl ProxyState {
    /// Count `n` bytes sent towards the server; cut everything when a threshold is crossed.
    fn forwarded(&self, n: u64) {
        use std::sync::atomic::Ordering::SeqCst;
        let total = self.forwarded.fetch_add(n, SeqCst) + n;
        let due = (total / self.cut_every) as usize;
        let done = self.cut.load(SeqCst);
        if done < self.cuts
            && due > done
            && self
                .cut
                .compare_exchange(done, done + 1, SeqCst, SeqCst)
                .is_ok()
        {
            *self.down_until.lock().unwrap() = Instant::now() + self.down;
            for stream in self.open.lock().unwrap().drain(..) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, state: Option<Arc<ProxyState>>) {
    use std::io::{Read, Write};
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if let Some(state) = &state {
            state.forwarded(n as u64);
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

impl CuttingProxy {
    pub fn start(upstream: u16, cut_every: u64, cuts: usize, down: Duration) -> CuttingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState {
            upstream,
            cut_every,
            cuts,
            down,
            forwarded: Default::default(),
            cut: Default::default(),
            open: Default::default(),
            down_until: std::sync::Mutex::new(Instant::now()),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if Instant::now() < *shared.down_until.lock().unwrap() {
                    continue; // dropped: the network is down
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", shared.upstream)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                shared.open.lock().unwrap().extend([c2, s2]);
                let (c3, s3) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let state = shared.clone();
                std::thread::spawn(move || pump(client, server, Some(state)));
                std::thread::spawn(move || pump(s3, c3, None));
            }
        });
        CuttingProxy { port, state }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.state.cut.load(std::sync::atomic::Ordering::SeqCst)
    }
}
