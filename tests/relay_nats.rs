//! The NATS JetStream relay (`caseledger publish`) against real nats-server processes: a
//! generated cohort published once each, in log order, valid against the envelope's JSON
//! Schema and free of personal data; kill -9 of the relay at random moments and a broker
//! restart in the middle, with nothing missing, nothing twice and the checkpoint never ahead of
//! what the broker stored.

mod nats_support;
mod pg_support;

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nats_support::*;
use serde_json::Value;

fn unique(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{label}{}x{nanos}", std::process::id())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

async fn delete_stream(stream: &str) {
    let client = async_nats::connect(SHARED_NATS).await.unwrap();
    let _ = async_nats::jetstream::new(client)
        .delete_stream(stream)
        .await;
}

#[test]
fn a_cohort_is_published_once_each_in_log_order_valid_and_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (data, commands) = cohort_store(dir.path(), 25, 11);
    let (stream, prefix) = (unique("CL_COHORT_"), unique("cltest"));
    let out = publish_command(&data, SHARED_NATS, &stream, &prefix)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = runtime();
    let expected = rt.block_on(expected(&data));
    assert!(expected.len() > 500, "a real cohort: {}", expected.len());
    assert!(
        stdout.starts_with(&format!("published {} domain events", expected.len())),
        "{stdout}"
    );

    // A consumer reads the stream back with async-nats.
    let stored = rt.block_on(read_stream(SHARED_NATS, &stream, 1));
    assert_stream_matches(&stored, &expected, &prefix, false);
    assert_valid(&schema(), &stored);
    let types: std::collections::BTreeSet<&str> = stored
        .iter()
        .map(|s| s.body["eventType"].as_str().unwrap())
        .collect();
    for hmpps in [
        "tier.calculation.complete",
        "person.community.manager.allocated",
    ] {
        assert!(types.contains(hmpps), "{hmpps} in {types:?}");
    }
    let crn = stored[0].body["personReference"]["identifiers"][0]["value"]
        .as_str()
        .unwrap();
    assert!(crn.len() == 7, "{crn}");

    let personal = personal_data(&commands);
    assert!(
        personal.len() > 50,
        "the cohort has names and free text: {}",
        personal.len()
    );
    // Everything but `description`, which is the table's fixed text for the type.
    let published: String = stored
        .iter()
        .map(|s| {
            let mut body = s.body.clone();
            body.as_object_mut().unwrap().remove("description");
            body.to_string()
        })
        .collect();
    for datum in &personal {
        assert!(
            !published.contains(datum.as_str()),
            "{datum:?} was published"
        );
    }

    // Caught up: a second run publishes nothing and the stream is unchanged.
    let again = publish_command(&data, SHARED_NATS, &stream, &prefix)
        .output()
        .unwrap();
    let again = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(again.starts_with("published 0 domain events"), "{again}");
    let head = rt.block_on(async {
        use caseledger::store::EventStore;
        let store = caseledger::store::SledStore::open(&data, Default::default()).unwrap();
        store.head().await.unwrap()
    });
    assert!(again.ends_with(&format!("at position {head}\n")), "{again}");
    assert_eq!(
        rt.block_on(read_stream(SHARED_NATS, &stream, 1)).len(),
        stored.len()
    );
    rt.block_on(delete_stream(&stream));
}

#[test]
fn unusable_relay_arguments_exit_2_before_anything_connects() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = cohort_store(dir.path(), 1, 1);
    for (flag, value) in [
        ("--stream", "has.dot"),
        ("--subject-prefix", "a.*"),
        ("--detail-base-url", "ftp://x"),
        ("--consumer", "bad name"),
        ("--in-flight", "0"),
    ] {
        let out = publish_command(&data, SHARED_NATS, "CL_ARGS", "clargs")
            .args([flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
}

/// xorshift64: the kill moments, reproducible from the seed printed on failure.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn relay_killed_at_random_moments_and_a_broker_restart_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = cohort_store(dir.path(), 250, 23);
    let mut server = NatsServer::start(&dir.path().join("nats"));
    let url = server.url();
    let (stream, prefix) = ("CL_FAULTS", "clfaults");
    let rt = runtime();
    let expected = rt.block_on(expected(&data));
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = seed;
    let mut stored: Vec<Stored> = Vec::new();
    let (mut kills, mut rounds, mut restarted, mut grew) = (0, 0, false, 0);
    while kills < 20 {
        rounds += 1;
        assert!(
            rounds <= 60,
            "seed {seed}: the relay finished before 20 kills ({kills})"
        );
        let mut relay = publish_command(&data, &url, stream, prefix)
            .args(["--in-flight", "64", "--retry-ms-max", "30000"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join(format!("relay-{rounds}.log"))).unwrap())
            .spawn()
            .unwrap();
        if kills == 10 && !restarted {
            // The broker goes away under the running relay and comes back.
            std::thread::sleep(Duration::from_millis(150));
            server.stop();
            std::thread::sleep(Duration::from_millis(400));
            server.start_again();
            restarted = true;
        }
        // Most kills land while messages are flowing; one in four at any moment (startup,
        // reading the stream's tail, connecting).
        let waited = !next(&mut rng).is_multiple_of(4);
        if waited {
            let before = stored.len() as u64;
            assert!(
                rt.block_on(wait_for_growth(&url, stream, before)),
                "seed {seed}: the relay published nothing in 30 s"
            );
        }
        std::thread::sleep(Duration::from_millis(next(&mut rng) % 60));
        if relay.try_wait().unwrap().is_none() {
            relay.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        relay.wait().unwrap();
        let more = rt.block_on(read_stream(&url, stream, stored.len() as u64 + 1));
        grew += usize::from(!more.is_empty());
        stored.extend(more);
        assert_stream_matches(&stored, &expected, prefix, true);
        let checkpoint = rt.block_on(checkpoint(&data, "relay.nats"));
        let acknowledged = expected.iter().filter(|(p, _, _)| *p <= checkpoint).count();
        eprintln!(
            "round {rounds}: {kills} kills (waited for messages: {waited}), checkpoint {checkpoint}, {} stored",
            stored.len()
        );
        assert!(
            stored.len() >= acknowledged,
            "seed {seed}, round {rounds}: checkpoint {checkpoint} covers {acknowledged} \
             messages but the broker holds {}",
            stored.len()
        );
    }
    for r in 1..=rounds {
        let log = std::fs::read_to_string(dir.path().join(format!("relay-{r}.log"))).unwrap();
        if !log.is_empty() {
            eprintln!("relay of round {r}: {log}");
        }
    }
    assert!(restarted);
    assert!(
        grew >= 10,
        "seed {seed}: the relay made progress in only {grew} rounds"
    );
    assert!(
        stored.len() < expected.len(),
        "seed {seed}: some left for the last run"
    );
    let out = publish_command(&data, &url, stream, prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = rt.block_on(read_stream(&url, stream, 1));
    assert_stream_matches(&all, &expected, prefix, false);
    assert_valid(&schema(), &all);
    let head = expected.last().unwrap().0;
    assert!(rt.block_on(checkpoint(&data, "relay.nats")) >= head);
}

/// Import the lines of `commands` whose CRN is in `crns` into the PostgreSQL log at `store`.
fn import_cases(store: &str, dir: &std::path::Path, commands: &str, crns: &[String], name: &str) {
    let lines: Vec<&str> = commands
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            crns.iter().any(|c| v["crn"] == c.as_str())
        })
        .collect();
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let data = dir.join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(&data)
        .args(["--store", store, "import"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the PostgreSQL log at `url` should publish, in log order.
async fn expected_pg(url: &str) -> Vec<(u64, String, Value)> {
    use caseledger::domain_event::{domain_event, DetailBaseUrl};
    use caseledger::store::{postgres::PostgresStore, EventStoreExt, SystemClock};
    let store = std::sync::Arc::new(
        PostgresStore::open_url(url, std::sync::Arc::new(SystemClock))
            .await
            .unwrap(),
    );
    let base = DetailBaseUrl::new(DETAIL_BASE).unwrap();
    let mut out = Vec::new();
    let mut pages = store.read_all_from(1);
    while let Some(page) = pages.next_page().await.unwrap() {
        for record in page {
            if let Some(event) = domain_event(&record, &base).unwrap() {
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

/// With `--follow` on a PostgreSQL log the relay publishes what other processes append while
/// it runs; a durable JetStream consumer reads every message with async-nats and acknowledges
/// it; SIGTERM stops the relay cleanly with its checkpoint at the head.
#[test]
fn a_following_relay_publishes_live_appends_to_a_durable_jetstream_consumer() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let pg_schema = pg_support::TestSchema::new(&server);
    let store = pg_schema.url();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args(["generate", "--people", "12", "--seed", "9"])
        .output()
        .unwrap();
    let commands = String::from_utf8(out.stdout).unwrap();
    let mut crns: Vec<String> = commands
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["crn"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    crns.sort();
    crns.dedup();
    let (before, after) = crns.split_at(crns.len() / 2);
    import_cases(&store, dir.path(), &commands, before, "before.jsonl");

    let (stream, prefix) = (unique("CL_FOLLOW_"), unique("clfollow"));
    let data = dir.path().join("data");
    let relay = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(&data)
        .args([
            "--store",
            &store,
            "publish",
            "--follow",
            "--nats",
            SHARED_NATS,
        ])
        .args(["--stream", &stream, "--subject-prefix", &prefix])
        .args(["--detail-base-url", DETAIL_BASE])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Appended by another process while the relay follows.
    import_cases(&store, dir.path(), &commands, after, "after.jsonl");
    let rt = runtime();
    let expected = rt.block_on(expected_pg(&store));
    assert!(expected.iter().any(|(_, _, b)| {
        let crn = &b["personReference"]["identifiers"][0]["value"];
        after.iter().any(|c| crn == c.as_str())
    }));

    let received: Vec<(String, Value)> = rt.block_on(async {
        use async_nats::jetstream::consumer::{pull, AckPolicy};
        use futures::StreamExt;
        let client = async_nats::connect(SHARED_NATS).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut s = None;
        for _ in 0..200 {
            if let Ok(found) = js.get_stream(&stream).await {
                s = Some(found);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let consumer = s
            .expect("the relay creates the stream")
            .create_consumer(pull::Config {
                durable_name: Some("reader".into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut received = Vec::new();
        while received.len() < expected.len() {
            let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
                .await
                .expect("every expected message arrives within 30 s")
                .unwrap()
                .unwrap();
            received.push((
                message.subject.to_string(),
                serde_json::from_slice(&message.payload).unwrap(),
            ));
            message.ack().await.unwrap();
        }
        received
    });
    let validator = schema();
    for ((subject, body), (_, _, want)) in received.iter().zip(&expected) {
        assert_eq!(body, want, "in log order");
        assert_eq!(
            subject,
            &format!("{prefix}.{}", want["eventType"].as_str().unwrap())
        );
        assert!(validator.is_valid(body), "{body}");
    }

    let pid = relay.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = relay.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = expected.last().unwrap().0;
    assert!(
        stdout.contains(&format!("published {} domain events", expected.len())),
        "{stdout}"
    );
    let consumers = std::process::Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(&data)
        .args(["--store", &store, "consumers", "--format", "json"])
        .output()
        .unwrap();
    let listing: Value = serde_json::from_slice(&consumers.stdout).unwrap();
    let relay_row = listing["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "relay.nats")
        .cloned()
        .unwrap();
    assert!(relay_row["position"].as_u64().unwrap() >= head, "{listing}");
    rt.block_on(delete_stream(&stream));
}

/// The network between the relay and a running broker drops mid-publish (a proxy cuts every
/// connection, partway through a frame, then refuses connections for a while), six times in
/// one run: the relay notices each drop, reconnects and finishes with every publishable event
/// in the stream once, in log order, and its checkpoint at the head.
#[test]
fn dropped_connections_mid_publish_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (data, _) = cohort_store(dir.path(), 60, 31);
    eprintln!("cohort imported in {:?}", started.elapsed());
    let server = NatsServer::start(&dir.path().join("nats"));
    let rt = runtime();
    let expected = rt.block_on(expected(&data));
    let bytes: usize = expected.iter().map(|(_, _, b)| b.to_string().len()).sum();
    let cuts = 6;
    let proxy = CuttingProxy::start(
        server.port,
        (bytes / (cuts + 2)) as u64,
        cuts,
        Duration::from_millis(300),
    );
    let (stream, prefix) = ("CL_DROPS", "cldrops");
    let started = std::time::Instant::now();
    let out = publish_command(&data, &proxy.url(), stream, prefix)
        .args(["--in-flight", "256", "--retry-ms-max", "30000"])
        .output()
        .unwrap();
    eprintln!("published through the proxy in {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("the relay through the proxy:\n{stderr}");
    assert!(out.status.success(), "{stderr}");
    assert_eq!(proxy.cuts(), cuts, "every cut fell while publishing");
    assert!(
        stderr.matches("retrying").count() >= cuts,
        "each drop ended a session: {stderr}"
    );
    assert!(
        stderr.contains("the connection dropped before it came"),
        "a drop is noticed at once, not after the acknowledgement timeout: {stderr}"
    );
    let all = rt.block_on(read_stream(&server.url(), stream, 1));
    assert_stream_matches(&all, &expected, prefix, false);
    let head = rt.block_on(async {
        use caseledger::store::EventStore;
        let store = caseledger::store::SledStore::open(&data, Default::default()).unwrap();
        store.head().await.unwrap()
    });
    assert_eq!(rt.block_on(checkpoint(&data, "relay.nats")), head);
}
