//! The cqrs-es + postgres-es peer of `caseledger import` into PostgreSQL.
//!
//! Same load: the command file `caseledger generate` writes, so the same cases with the same
//! number of commands each. Same shape per command: load the case's events, decide, append
//! (optimistic concurrency on the aggregate's sequence). Cases are spread over `--tasks`
//! tasks; one case's commands run in file order on one task, as caseledger's import does.
//! The aggregate keeps the rules a peer would at least have (a case is opened once, nothing
//! after it is closed, a command id is applied once) and records one event per command
//! carrying the command's body, so events are of caseledger's size.
//!
//! Usage: peer-cqrs-es --url postgres://postgres@127.0.0.1:5432/test --commands FILE
//!        [--tasks 64] [--schema peer_cqrs_es] [--pool 32]
//! Prints one line: `peer cqrs-es commands=N cases=C tasks=T seconds=S commands_per_s=R`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use postgres_es::postgres_cqrs;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CaseCommand {
    command_id: String,
    command_type: String,
    body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum CaseEvent {
    Recorded {
        command_id: String,
        command_type: String,
        body: serde_json::Value,
    },
}

impl DomainEvent for CaseEvent {
    fn event_type(&self) -> String {
        match self {
            CaseEvent::Recorded { command_type, .. } => command_type.clone(),
        }
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

#[derive(Default, Serialize, Deserialize)]
struct Case {
    opened: bool,
    closed: bool,
    commands: u64,
    applied: HashSet<String>,
}

impl Aggregate for Case {
    const TYPE: &'static str = "case";
    type Command = CaseCommand;
    type Event = CaseEvent;
    type Error = Refused;
    type Services = ();

    async fn handle(
        &mut self,
        command: CaseCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Refused> {
        if self.applied.contains(&command.command_id) {
            return Ok(());
        }
        let opening = command.command_type == "open_case";
        if opening && self.opened {
            return Err(Refused("case already open".into()));
        }
        if !opening && !self.opened {
            return Err(Refused("case not open".into()));
        }
        if self.closed {
            return Err(Refused("case closed".into()));
        }
        let event = CaseEvent::Recorded {
            command_id: command.command_id,
            command_type: command.command_type,
            body: command.body,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CaseEvent) {
        let CaseEvent::Recorded {
            command_id,
            command_type,
            ..
        } = event;
        self.opened = true;
        self.closed |= command_type == "close_case";
        self.commands += 1;
        self.applied.insert(command_id);
    }
}

fn argument(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = argument(&args, "--url").expect("--url postgres://…");
    let file = argument(&args, "--commands").expect("--commands FILE");
    let tasks: usize = argument(&args, "--tasks").map_or(64, |t| t.parse().expect("--tasks N"));
    let pool_size: u32 = argument(&args, "--pool").map_or(32, |t| t.parse().expect("--pool N"));
    let schema = argument(&args, "--schema").unwrap_or_else(|| "peer_cqrs_es".into());
    assert!(schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'));

    // Cases in first-seen order, each with its commands in file order.
    let text = std::fs::read_to_string(&file).expect("read the command file");
    let mut cases: BTreeMap<String, Vec<CaseCommand>> = BTreeMap::new();
    let mut order = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let crn = v["crn"].as_str().expect("crn").to_owned();
        let command = CaseCommand {
            command_id: v["command_id"].as_str().expect("command_id").to_owned(),
            command_type: v["command"]["type"].as_str().expect("type").to_owned(),
            body: v,
        };
        let entry = cases.entry(crn.clone()).or_default();
        if entry.is_empty() {
            order.push(crn);
        }
        entry.push(command);
    }
    let total: usize = cases.values().map(Vec::len).sum();

    // A fresh schema with postgres-es's tables (its db/init.sql), reached through search_path.
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("connect");
    for statement in [
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
        format!(
            "CREATE TABLE {schema}.events (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
             sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL, \
             event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL, \
             PRIMARY KEY (aggregate_type, aggregate_id, sequence))"
        ),
        format!(
            "CREATE TABLE {schema}.snapshots (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
             last_sequence bigint CHECK (last_sequence >= 0) NOT NULL, \
             current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL, \
             PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))"
        ),
    ] {
        sqlx::query(&statement).execute(&admin).await.expect(&statement);
    }
    admin.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .connect(&format!(
            "{url}{separator}options=-c%20search_path%3D{schema}"
        ))
        .await
        .expect("connect the pool");
    let cqrs = Arc::new(postgres_cqrs::<Case>(pool, vec![], ()));

    let queue = Arc::new(std::sync::Mutex::new(
        order
            .into_iter()
            .rev()
            .map(|crn| {
                let commands = cases.remove(&crn).unwrap_or_default();
                (crn, commands)
            })
            .collect::<Vec<_>>(),
    ));
    let case_count = queue.lock().unwrap().len();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..tasks {
        let queue = queue.clone();
        let cqrs = cqrs.clone();
        workers.push(tokio::spawn(async move {
            let (mut applied, mut refused) = (0u64, 0u64);
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((crn, commands)) = next else { break };
                for command in commands {
                    match cqrs.execute(&crn, command).await {
                        Ok(()) => applied += 1,
                        Err(cqrs_es::AggregateError::UserError(_)) => refused += 1,
                        Err(e) => panic!("case {crn}: {e}"),
                    }
                }
            }
            (applied, refused)
        }));
    }
    let (mut applied, mut refused) = (0, 0);
    for worker in workers {
        let (a, r) = worker.await.expect("a worker task");
        applied += a;
        refused += r;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "peer cqrs-es commands={total} applied={applied} refused={refused} cases={case_count} \
         tasks={tasks} pool={pool_size} seconds={seconds:.2} commands_per_s={:.0}",
        total as f64 / seconds
    );
}
