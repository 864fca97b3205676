//! Load benchmark of `caseledger serve`: a synthetic cohort's commands sent over HTTP by 64
//! concurrent clients (one case at a time each, that case's commands in order, as a service
//! calling the API would), against `caseledger import` of the same commands into a fresh
//! store. Prints commands/s and the latency distribution; docs/benchmarks.md records runs.
//!
//! `cargo bench --bench serve_load -- [--people N] [--connections C]` (defaults 2,000 and 64).
//! Time-driven commands (role `system`) are left out of both sides: a token cannot carry
//! that role.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "a benchmark secret of at least thirty-two bytes";

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn caseledger() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caseledger"))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let people = arg("--people", 2_000);
    let connections = arg("--connections", 64) as usize;
    let dir = tempfile::tempdir().unwrap();
    let generated = caseledger()
        .args(["generate", "--people", &people.to_string(), "--seed", "1"])
        .output()
        .unwrap();
    assert!(generated.status.success());
    let lines: Vec<Value> = String::from_utf8(generated.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c["actor"]["role"] != "system")
        .collect();
    let file = dir.path().join("commands.jsonl");
    let text: String = lines.iter().map(|c| format!("{c}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let total = lines.len();

    // import of the same commands.
    let import_dir = dir.path().join("import");
    let started = Instant::now();
    let import = caseledger()
        .arg("--data")
        .arg(&import_dir)
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    let import_s = started.elapsed().as_secs_f64();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    // The same commands over HTTP.
    let (base, mut server) = start_server(dir.path());
    let mut cases: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    for mut c in lines {
        let actor = c.as_object_mut().unwrap().remove("actor").unwrap();
        let key = actor.to_string();
        let token = tokens.entry(key).or_insert_with(|| {
            let claims = json!({"sub": actor["id"], "role": actor["role"], "organisation": actor["organisation"], "exp": exp});
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
        });
        cases
            .entry(c["crn"].as_str().unwrap().to_owned())
            .or_default()
            .push((token.clone(), c));
    }
    let queue = Arc::new(Mutex::new(cases.into_values().collect::<VecDeque<_>>()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let url = format!("{base}/commands");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (queue, client, url) = (queue.clone(), client.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies_us = Vec::new();
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            loop {
                let Some(case) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                for (token, body) in case {
                    let sent = Instant::now();
                    let r = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    latencies_us.push(sent.elapsed().as_micros() as u64);
                    *statuses.entry(status).or_default() += 1;
                }
            }
            (latencies_us, statuses)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for w in workers {
        let (l, s) = w.await.unwrap();
        latencies.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    let http_s = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    println!("people {people}, commands {total} (role system left out), connections {connections}");
    println!("statuses {statuses:?}");
    println!(
        "http   {total} commands in {http_s:.2} s = {:.0} commands/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
        total as f64 / http_s,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        percentile(&latencies, 1.0)
    );
    println!(
        "import {total} commands in {import_s:.2} s = {:.0} commands/s",
        total as f64 / import_s
    );
    println!("http / import = {:.2}", import_s / http_s);
}

fn start_server(dir: &Path) -> (String, std::process::Child) {
    use std::io::{BufRead, BufReader};
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let mut child = caseledger()
        .arg("--data")
        .arg(dir.join("http"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--jwt-hs256-secret-file",
        ])
        .arg(&secret)
        .env("CASELEDGER_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    (
        line.trim().trim_start_matches("listening on ").to_owned(),
        child,
    )
}
