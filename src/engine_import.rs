//! The pipelined import of a command sequence ([`Engine::import_commands`]): the commands of
//! many cases decided ahead of their appends and written in groups, one group commit each.
//!
//! Commands are taken in input order. Each is decided on its case's state as the earlier
//! commands will leave it ([`Handler::decide_ahead`]) and its append joins the group being
//! filled; a case's later append in the same group is made conditional on its earlier one
//! ([`GroupedAppend::after`]). A group goes to the store whole ([`EventStore::append_group`]:
//! one group commit, positions in input order) while the next group is decided. When a group
//! is answered, every command written as decided has its receipt; any other answer (a repeat
//! from an earlier run, another writer's append on PostgreSQL, a store failure) sends that
//! command, and its case's later ones, through the one-command path ([`Handler::execute`]) on
//! the case as the store holds it, and the group decided meanwhile is decided again. A command
//! the rules refuse, or the caller's policy refuses, waits until everything before it is
//! durable and then goes through the one-command path too, so a refusal is only ever given on
//! the stored case and lands in the log where the one-command path would put it.
//!
//! So the log is the one the one-command path writes running the commands one by one in input
//! order (`tests/engine_case_cache.rs` compares them byte for byte), and an outcome is handed
//! to the caller only once it is durable, a group at a time, in input order. The import stops
//! after the first failure that is not a refusal; nothing after it is handed over.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use caseledger_commands::audit::RefusalKind;
use caseledger_commands::handler::{CommandError, DecidedAhead, Handler, Lease, Receipt};
use caseledger_commands::CommandEnvelope;
use caseledger_store::{
    AppendResult, EventStore, GroupedAppend, StoreError, StreamId, EVENTS_PER_APPEND_MAX,
    GROUP_APPENDS_MAX, GROUP_EVENTS_MAX,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::Engine;

/// Most commands in one group (one group commit). A group is also closed early when no more
/// input is ready and nothing is being written, so a slow producer is not kept waiting.
pub const IMPORT_GROUP_COMMANDS_MAX: usize = GROUP_APPENDS_MAX;

/// One command of the input and where it came from (a line number, for messages and acks).
#[derive(Clone, Debug)]
pub struct ImportItem {
    pub line: u64,
    pub envelope: CommandEnvelope,
}

/// What became of one command, handed over once it is durable.
#[derive(Debug)]
pub struct Imported {
    pub line: u64,
    pub envelope: CommandEnvelope,
    pub outcome: Result<Receipt, CommandError>,
}

impl Imported {
    /// A failure that is not a refusal: the import stops after it.
    pub fn failed(&self) -> bool {
        matches!(&self.outcome, Err(e) if e.refusal().is_none())
    }
}

/// How [`Engine::import_commands`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportEnd {
    /// Every command of the input was handed over.
    Completed,
    /// The last command handed over failed (not a refusal); nothing after it was.
    Stopped,
}

/// A refusal the caller gives a command before the engine decides it (the CLI's
/// `--actor-policy`): its reason, recorded as an unauthorised refusal.
pub type ImportPolicy<'a> = &'a (dyn Fn(&CommandEnvelope) -> Option<String> + Send + Sync);

type Answer = Result<AppendResult, StoreError>;

impl Engine {
    /// Import the commands `input` yields, in its order, pipelined (module doc). `durable`
    /// receives the outcomes in input order, a group at a time, each after it is durable; an
    /// error from it stops the import and is returned.
    pub async fn import_commands<E>(
        &self,
        input: &mut mpsc::Receiver<ImportItem>,
        policy: ImportPolicy<'_>,
        durable: &mut dyn FnMut(Vec<Imported>) -> Result<(), E>,
    ) -> Result<ImportEnd, E> {
        let mut pipeline = Pipeline {
            handler: self.handler(),
            store: self.store().clone(),
            leases: HashMap::new(),
            pending: VecDeque::new(),
            closed: false,
            filling: 1,
            settled: 0,
        };
        pipeline.run(input, policy, durable).await
    }
}

/// A case's state held by the pipeline, and the last group that advanced it.
struct Held<'h> {
    lease: Lease<'h>,
    group: u64,
}

/// A command decided ahead of its append.
struct Ahead {
    item: ImportItem,
    append: GroupedAppend,
    decided: DecidedAhead,
}

/// The group being filled: its commands and, per case, the index of its last append.
#[derive(Default)]
struct Group {
    commands: Vec<Ahead>,
    events: usize,
    last_of_case: HashMap<String, usize>,
}

/// A group handed to the store.
struct Flight {
    number: u64,
    commands: Vec<(ImportItem, DecidedAhead)>,
    answers: JoinHandle<Result<Vec<Answer>, StoreError>>,
}

type Joined = Result<Result<Vec<Answer>, StoreError>, tokio::task::JoinError>;

struct Pipeline<'h> {
    handler: &'h Handler,
    store: Arc<dyn EventStore>,
    /// States of the cases in the group in flight and the group being filled.
    leases: HashMap<String, Held<'h>>,
    /// Commands to take before more input: one the pipeline cannot decide ahead (at the
    /// front), or a group's commands to decide again.
    pending: VecDeque<ImportItem>,
    closed: bool,
    /// Number of the group being filled; the one in flight, if any, is one less.
    filling: u64,
    /// Every group up to this number is settled: the leases it advanced are the stored case.
    settled: u64,
}

impl Pipeline<'_> {
    async fn run<E>(
        &mut self,
        input: &mut mpsc::Receiver<ImportItem>,
        policy: ImportPolicy<'_>,
        durable: &mut dyn FnMut(Vec<Imported>) -> Result<(), E>,
    ) -> Result<ImportEnd, E> {
        let mut group = Group::default();
        let mut flight: Option<Flight> = None;
        loop {
            let landed = self.fill(input, policy, &mut group, flight.as_mut()).await;
            if let Some(mut f) = flight.take() {
                let joined = match landed {
                    Some(joined) => joined,
                    None => (&mut f.answers).await,
                };
                let imported = self.settle(f, joined, &mut group).await;
                let stopped = imported.last().is_some_and(Imported::failed);
                if stopped {
                    self.discard(&mut group);
                }
                durable(imported)?;
                if stopped {
                    return Ok(ImportEnd::Stopped);
                }
            }
            if !group.commands.is_empty() {
                flight = Some(self.submit(std::mem::take(&mut group)));
                continue;
            }
            // Nothing decided, nothing in flight: a command for the one-command path, or the
            // end of the input.
            match self.pending.pop_front() {
                Some(item) => {
                    let imported = self.one_by_one(item, policy).await;
                    let stopped = imported.failed();
                    durable(vec![imported])?;
                    if stopped {
                        return Ok(ImportEnd::Stopped);
                    }
                }
                None if self.closed => return Ok(ImportEnd::Completed),
                None => {}
            }
        }
    }

    /// Decide commands into `group` until it is full, a command cannot be decided ahead, the
    /// input ends, or (with nothing in flight) no more input is ready; with a group in flight,
    /// also until it is answered, whose answer is returned.
    async fn fill(
        &mut self,
        input: &mut mpsc::Receiver<ImportItem>,
        policy: ImportPolicy<'_>,
        group: &mut Group,
        mut flight: Option<&mut Flight>,
    ) -> Option<Joined> {
        loop {
            // Full, or without room for one more append of the most events an append takes
            // (a larger one is refused by the store and settled by the one-command path).
            if group.commands.len() >= IMPORT_GROUP_COMMANDS_MAX
                || group.events + EVENTS_PER_APPEND_MAX > GROUP_EVENTS_MAX
            {
                return None;
            }
            let item = match self.pending.pop_front() {
                Some(item) => item,
                None if self.closed => return None,
                None => match flight.as_deref_mut() {
                    Some(f) => tokio::select! {
                        biased;
                        joined = &mut f.answers => return Some(joined),
                        item = input.recv() => match item {
                            Some(item) => item,
                            None => {
                                self.closed = true;
                                return None;
                            }
                        },
                    },
                    None if group.commands.is_empty() => match input.recv().await {
                        Some(item) => item,
                        None => {
                            self.closed = true;
                            return None;
                        }
                    },
                    None => match input.try_recv() {
                        Ok(item) => item,
                        Err(mpsc::error::TryRecvError::Empty) => return None,
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            self.closed = true;
                            return None;
                        }
                    },
                },
            };
            if let Err(item) = self.decide(item, policy, group).await {
                self.pending.push_front(item);
                return None;
            }
        }
    }

    /// Decide one command into `group`; `Err` gives it back when it cannot be decided ahead.
    async fn decide(
        &mut self,
        item: ImportItem,
        policy: ImportPolicy<'_>,
        group: &mut Group,
    ) -> Result<(), ImportItem> {
        if policy(&item.envelope).is_some() {
            return Err(item);
        }
        let crn = item.envelope.crn.as_str().to_owned();
        if !self.leases.contains_key(&crn) {
            let Ok(stream) = StreamId::new(crn.as_str()) else {
                return Err(item);
            };
            match self.handler.lease_case(&stream).await {
                Ok(lease) => {
                    let held = Held {
                        lease,
                        group: self.settled,
                    };
                    self.leases.insert(crn.clone(), held);
                }
                Err(_) => return Err(item),
            }
        }
        let held = self.leases.get_mut(&crn).expect("leased above");
        let Some((mut append, decided)) = self
            .handler
            .decide_ahead(&item.envelope, &mut held.lease)
            .await
        else {
            return Err(item);
        };
        held.group = self.filling;
        append.after = group.last_of_case.get(&crn).copied();
        group.last_of_case.insert(crn, group.commands.len());
        group.events += append.events.len();
        group.commands.push(Ahead {
            item,
            append,
            decided,
        });
        Ok(())
    }

    /// Hand `group` to the store, in a task of its own so the next group is decided meanwhile.
    fn submit(&mut self, group: Group) -> Flight {
        let mut appends = Vec::with_capacity(group.commands.len());
        let mut commands = Vec::with_capacity(group.commands.len());
        for ahead in group.commands {
            appends.push(ahead.append);
            commands.push((ahead.item, ahead.decided));
        }
        let store = self.store.clone();
        let number = self.filling;
        self.filling += 1;
        Flight {
            number,
            commands,
            answers: tokio::spawn(async move { store.append_group(appends).await }),
        }
    }

    /// The outcomes of an answered group, in input order, up to its first failure. A command
    /// not written as decided goes through the one-command path, after the group decided
    /// meanwhile (`next`) was given up and its commands queued to be decided again.
    async fn settle(&mut self, flight: Flight, joined: Joined, next: &mut Group) -> Vec<Imported> {
        let count = flight.commands.len();
        let answers: Vec<Answer> = match joined {
            Ok(Ok(answers)) => answers,
            Ok(Err(e)) => vec![Err(e); count],
            Err(e) => vec![Err(StoreError::Backend(format!("the append task ended: {e}"))); count],
        };
        assert_eq!(answers.len(), count, "one answer per append");
        let mut receipts = Vec::with_capacity(count);
        let mut astray: Vec<String> = Vec::new();
        for ((item, decided), answer) in flight.commands.iter().zip(&answers) {
            let receipt = decided.receipt(&item.envelope, answer);
            if receipt.is_none() {
                astray.push(item.envelope.crn.as_str().to_owned());
            }
            receipts.push(receipt);
        }
        if !astray.is_empty() {
            self.discard(next);
            for crn in &astray {
                if let Some(held) = self.leases.remove(crn) {
                    held.lease.discard();
                }
            }
        }
        self.settled = flight.number;
        // The cases this group was the last to advance are stored as decided: back to the cache.
        self.leases.retain(|_, held| held.group > flight.number);
        let mut imported = Vec::with_capacity(count);
        for ((item, _), receipt) in flight.commands.into_iter().zip(receipts) {
            let outcome = match receipt {
                Some(receipt) => Ok(receipt),
                None => self.handler.execute(&item.envelope).await,
            };
            let done = Imported {
                line: item.line,
                envelope: item.envelope,
                outcome,
            };
            let failed = done.failed();
            imported.push(done);
            if failed {
                break;
            }
        }
        imported
    }

    /// Give up a group decided ahead: its cases' states are discarded (read again when next
    /// needed) and its commands queued, in order, to be decided again.
    fn discard(&mut self, group: &mut Group) {
        let group = std::mem::take(group);
        for ahead in group.commands.into_iter().rev() {
            if let Some(held) = self.leases.remove(ahead.item.envelope.crn.as_str()) {
                held.lease.discard();
            }
            self.pending.push_front(ahead.item);
        }
    }

    /// One command through the one-command path, with every state the pipeline held back in
    /// the cache (all of it is stored as decided: nothing is in flight).
    async fn one_by_one(&mut self, item: ImportItem, policy: ImportPolicy<'_>) -> Imported {
        debug_assert!(self.leases.values().all(|h| h.group <= self.settled));
        self.leases.clear();
        let outcome = match policy(&item.envelope) {
            Some(reason) => Err(self
                .handler
                .refuse(&item.envelope, RefusalKind::Unauthorised, &reason)
                .await),
            None => self.handler.execute(&item.envelope).await,
        };
        Imported {
            line: item.line,
            envelope: item.envelope,
            outcome,
        }
    }
}

impl Drop for Pipeline<'_> {
    /// States advanced by commands that were not written as decided never reach the cache.
    fn drop(&mut self) {
        for (_, held) in self.leases.drain() {
            if held.group > self.settled {
                held.lease.discard();
            }
        }
    }
}
