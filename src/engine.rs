//! The `Engine`: the facade a service embeds. Open a store, execute commands, read a case,
//! move the clock forward.
//!
//! ```
//! use caseledger::engine::{Engine, EngineConfig};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let engine = Engine::open(EngineConfig::memory()).unwrap();
//! let receipt = engine
//!     .execute_json(r#"{"command_id": "0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60", "crn": "X123456",
//!         "actor": {"id": "clerk1", "role": "case_administrator", "organisation": "nps"},
//!         "effective_at": "2016-03-01",
//!         "command": {"type": "open_case", "crn": "X123456", "pdu": 1, "team": null,
//!                     "on": "2016-03-01",
//!                     "person": {"name": "Alex Example", "date_of_birth": "1990-05-04",
//!                                "gender": "male"}}}"#)
//!     .await
//!     .unwrap();
//! assert_eq!(receipt.event_types[0], "CaseOpened");
//! let case = engine.case("X123456").await.unwrap().expect("the case exists");
//! assert_eq!(case.opened_on.unwrap().to_string(), "2016-03-01");
//! # });
//! ```

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use caseledger_commands::audit::{CommandRefused, COMMAND_REFUSED, REFUSALS_STREAM};
use caseledger_commands::due::{due_commands, Blocked};
use caseledger_commands::handler::{load_case, CommandError, Handler, Receipt};
use caseledger_commands::{parse_command_with_header, CommandActor, CommandEnvelope, EffectiveAt};
use caseledger_commands::{ParseError, Role};
use caseledger_domain::identity::Crn;
use caseledger_domain::CaseState;
use caseledger_store::codec::decode_payload;
use caseledger_store::{
    Durability, EventStore, MemoryStore, RecordedEvent, SledOptions, SledStore, StoreError,
    StreamId, SystemClock, READ_ALL_PAGE_EVENTS_MAX,
};
use jiff::civil::Date;

/// Most time-driven commands executed on one case in one `advance_to` call. A case has a
/// handful (COM allocation, responsibility transfer per custodial sentence); the bound stops
/// a rule bug from looping.
pub const DUE_COMMANDS_PER_CASE_MAX: u32 = 64;

/// Where the log lives.
#[derive(Clone, Debug)]
pub enum StoreConfig {
    /// In memory: for tests and examples; gone when the engine is dropped.
    Memory,
    /// A sled database directory (one process at a time).
    Sled {
        path: PathBuf,
        durability: Durability,
    },
}

/// How to open an [`Engine`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub store: StoreConfig,
}

impl EngineConfig {
    pub fn memory() -> EngineConfig {
        EngineConfig {
            store: StoreConfig::Memory,
        }
    }

    /// A sled store at `path`, flushed before each append is acknowledged.
    pub fn sled(path: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            store: StoreConfig::Sled {
                path: path.into(),
                durability: Durability::Flush,
            },
        }
    }
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The command could not be read; `refused` says whether the refusal was recorded.
    #[error("{error}")]
    BadCommand {
        error: ParseError,
        /// The refusal record written to `audit-refusals`, when the command id and actor could
        /// be read.
        audit_position: Option<u64>,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:?} is not a CRN: one capital letter then six digits, e.g. X123456")]
    BadCrn(String),
}

/// What `advance_to` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Cases looked at.
    pub cases: u64,
    /// Receipts of the time-driven commands applied now.
    pub applied: Vec<Receipt>,
    /// Commands that fell due but were already recorded.
    pub already_recorded: u64,
    /// Due items that could not be applied, with why.
    pub blocked: Vec<Blocked>,
}

/// The engine: one store, one handler.
pub struct Engine {
    handler: Handler,
    store: Arc<dyn EventStore>,
    sled: Option<Arc<SledStore>>,
}

impl Engine {
    /// Open the store. A sled store already open in another process (or handle) fails with
    /// `StoreError::InUse` ("store is in use").
    pub fn open(config: EngineConfig) -> Result<Engine, EngineError> {
        let (store, sled): (Arc<dyn EventStore>, _) = match config.store {
            StoreConfig::Memory => (Arc::new(MemoryStore::new(Arc::new(SystemClock))), None),
            StoreConfig::Sled { path, durability } => {
                let sled = Arc::new(SledStore::open(
                    &path,
                    SledOptions {
                        durability,
                        ..SledOptions::default()
                    },
                )?);
                (sled.clone() as Arc<dyn EventStore>, Some(sled))
            }
        };
        Ok(Engine::with_store_inner(store, sled))
    }

    /// An engine over any store (e.g. one with a manual clock).
    pub fn with_store(store: Arc<dyn EventStore>) -> Engine {
        Engine::with_store_inner(store, None)
    }

    fn with_store_inner(store: Arc<dyn EventStore>, sled: Option<Arc<SledStore>>) -> Engine {
        Engine {
            handler: Handler::new(store.clone()),
            store,
            sled,
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    /// Execute one command: its events (and any derived decisions) are appended, or it is
    /// refused, nothing is written to the case and the refusal is recorded.
    pub async fn execute(&self, command: &CommandEnvelope) -> Result<Receipt, CommandError> {
        self.handler.execute(command).await
    }

    /// Parse one command in the public JSON and execute it. A command that cannot be read
    /// is refused and, when its id and actor could be read, recorded as refused.
    pub async fn execute_json(&self, line: &str) -> Result<Receipt, EngineError> {
        match parse_command_with_header(line) {
            Ok(envelope) => Ok(self.execute(&envelope).await?),
            Err((error, header)) => {
                let audit_position = match self.handler.refuse_unparsed(&header, &error).await {
                    Some(CommandError::Refused(r)) => Some(r.audit_position),
                    Some(other) => return Err(other.into()),
                    None => None,
                };
                Err(EngineError::BadCommand {
                    error,
                    audit_position,
                })
            }
        }
    }

    /// The current state of case `crn`, or `None` if no such case exists.
    pub async fn case(&self, crn: &str) -> Result<Option<CaseState>, EngineError> {
        let stream = case_stream(crn)?;
        let case = load_case(self.store.as_ref(), &stream).await?;
        Ok(if case.records.is_empty() {
            None
        } else {
            Some(case.state)
        })
    }

    /// The stored records of case `crn`, in version order.
    pub async fn case_events(&self, crn: &str) -> Result<Vec<RecordedEvent>, EngineError> {
        let stream = case_stream(crn)?;
        Ok(self.store.read_stream(&stream, 1).await?)
    }

    /// Every refusal recorded so far, oldest first.
    pub async fn refusals(&self) -> Result<Vec<CommandRefused>, EngineError> {
        let stream = StreamId::new(REFUSALS_STREAM)?;
        let records = self.store.read_stream(&stream, 1).await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            debug_assert_eq!(record.event_type, COMMAND_REFUSED);
            out.push(decode_payload(&record.payload)?);
        }
        Ok(out)
    }

    /// Every case stream (streams that begin with `CaseOpened`), in CRN order.
    pub async fn case_ids(&self) -> Result<BTreeSet<String>, EngineError> {
        let mut crns = BTreeSet::new();
        let mut from = 1u64;
        loop {
            let page = self.store.read_all(from, READ_ALL_PAGE_EVENTS_MAX).await?;
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            for record in &page {
                if record.stream_version == 1 && record.event_type == "CaseOpened" {
                    crns.insert(record.stream_id.clone());
                }
            }
        }
        Ok(crns)
    }

    /// Append what falls due on every case up to and including `date`: COM allocation at the
    /// handover start date, responsibility transfer at the handover date. Deterministic and
    /// idempotent: each due item has a fixed command id and is recorded once, however often
    /// this runs; the system clock is never read.
    pub async fn advance_to(&self, date: Date) -> Result<TickReport, EngineError> {
        let mut report = TickReport::default();
        for crn_text in self.case_ids().await? {
            report.cases += 1;
            let Ok(crn) = Crn::new(crn_text.as_str()) else {
                continue;
            };
            let stream = StreamId::new(crn_text.as_str())?;
            let mut seen = BTreeSet::new();
            for _ in 0..DUE_COMMANDS_PER_CASE_MAX {
                let case = load_case(self.store.as_ref(), &stream).await?;
                let (due, blocked) = due_commands(&crn, &case.state, date);
                let Some(next) = due.into_iter().find(|d| !seen.contains(&d.command_id)) else {
                    for b in blocked {
                        if !report.blocked.contains(&b) {
                            report.blocked.push(b);
                        }
                    }
                    break;
                };
                seen.insert(next.command_id);
                let envelope = CommandEnvelope {
                    command_id: next.command_id,
                    crn: crn.clone(),
                    actor: CommandActor {
                        id: "caseledger".into(),
                        role: Role::System,
                        organisation: "hmpps".into(),
                    },
                    effective_at: EffectiveAt::from_date(next.on),
                    command: next.command,
                };
                match self.execute(&envelope).await {
                    Ok(receipt) if receipt.deduplicated => report.already_recorded += 1,
                    Ok(receipt) => report.applied.push(receipt),
                    Err(CommandError::Refused(refusal)) => report.blocked.push(Blocked {
                        on: next.on,
                        what: format!("{crn}: {}", refusal.reason),
                    }),
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Ok(report)
    }

    /// Make every acknowledged append durable (a no-op for the memory store and for the
    /// durable sled modes, where every acknowledged append already is).
    pub async fn flush(&self) -> Result<(), EngineError> {
        if let Some(sled) = &self.sled {
            sled.flush().await?;
        }
        Ok(())
    }
}

fn case_stream(crn: &str) -> Result<StreamId, EngineError> {
    let crn = Crn::new(crn).map_err(|_| EngineError::BadCrn(crn.chars().take(32).collect()))?;
    Ok(StreamId::new(crn.as_str())?)
}
