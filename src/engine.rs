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

use tokio::sync::Mutex;

use caseledger_commands::audit::{
    CommandRefused, OperatorSession, COMMAND_REFUSED, OPERATOR_SESSION,
    OPERATOR_SESSION_SCHEMA_VERSION, REFUSALS_STREAM, SESSIONS_STREAM,
};
use caseledger_commands::due::{due_commands, Blocked};
use caseledger_commands::handler::{load_case, CommandError, Handler, Receipt};
use caseledger_commands::{parse_command_as, parse_command_with_header, CommandEnvelope};
use caseledger_commands::{ParseError, PartialHeader, VerifiedActor};
use caseledger_domain::identity::Crn;
use caseledger_domain::CaseState;
use caseledger_store::codec::{decode_payload, encode_payload};
use caseledger_store::crypto::Kek;
#[cfg(feature = "postgres")]
use caseledger_store::postgres::{
    PostgresConfig, PostgresConfigError, PostgresOptions, PostgresStore,
};
use caseledger_store::{
    Actor, Durability, EventStore, ExpectedVersion, Keyring, KeyringError, MemoryStore, NewEvent,
    ReadAll, RecordedEvent, SledOptions, SledStore, StoreError, StreamId, SystemClock,
    READ_ALL_PAGE_EVENTS_MAX,
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
        /// sled's page cache, in bytes: sled's default (1 GiB) for a long-lived engine; a
        /// one-pass job such as a rebuild reads the log once and needs far less
        /// ([`EngineConfig::for_one_pass`]).
        cache_capacity_bytes: u64,
        /// How long to wait for another process to release the store before failing with
        /// `StoreError::InUse` (0: fail at once; [`EngineConfig::with_lock_wait_ms`]).
        lock_wait_ms: u64,
    },
    /// A schema in a PostgreSQL database, shared by every process that opens it (the
    /// head-row lock keeps positions gapless across them). Opened with
    /// [`Engine::open_async`], because the store's writer and listener run on the caller's
    /// Tokio runtime. With the `postgres` feature.
    #[cfg(feature = "postgres")]
    Postgres {
        /// Boxed: a client configuration is large next to the other variants.
        config: Box<PostgresConfig>,
        /// `Flush` and `Fsync` wait for the server's WAL flush before acknowledging
        /// (`synchronous_commit = on`); `Buffered` does not (bulk import only).
        durability: Durability,
    },
}

/// How to open an [`Engine`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub store: StoreConfig,
    /// The key-encryption key persons' data keys are wrapped under (docs/operations.md "Key
    /// management"). A store that records one refuses to open without it or with another; a
    /// memory store gets a fresh one that lives as long as the engine.
    pub kek: Option<Kek>,
    /// Where to create a KEK when none is given and the store records none yet (what
    /// `caseledger init` does): a sled store's is the file beside its directory
    /// (`crypto::default_key_file`). An existing file there is used. `None`: never create one.
    pub key_file: Option<PathBuf>,
}

impl EngineConfig {
    pub fn memory() -> EngineConfig {
        EngineConfig {
            store: StoreConfig::Memory,
            kek: Some(Kek::ephemeral()),
            key_file: None,
        }
    }

    /// A sled store at `path`, flushed before each append is acknowledged.
    pub fn sled(path: impl Into<PathBuf>) -> EngineConfig {
        let path = path.into();
        EngineConfig {
            key_file: Some(caseledger_store::crypto::default_key_file(&path)),
            store: StoreConfig::Sled {
                path,
                durability: Durability::Flush,
                cache_capacity_bytes: caseledger_store::SLED_CACHE_CAPACITY_BYTES_DEFAULT,
                lock_wait_ms: 0,
            },
            kek: None,
        }
    }

    /// Create the KEK in `path` when none is given and the store records none yet.
    pub fn with_key_file(mut self, path: impl Into<PathBuf>) -> EngineConfig {
        self.key_file = Some(path.into());
        self
    }

    /// Wrap persons' data keys under `kek` (read with `Kek::load`, made by `Kek::create_file`).
    pub fn with_kek(mut self, kek: Kek) -> EngineConfig {
        self.kek = Some(kek);
        self
    }

    /// A sled store held by another process is waited for, up to `lock_wait_ms` (at most
    /// `STORE_LOCK_WAIT_MS_MAX`, one hour), before opening fails with `StoreError::InUse`.
    /// Other stores are unchanged (PostgreSQL is shared, never held).
    pub fn with_lock_wait_ms(mut self, wait_ms: u64) -> EngineConfig {
        if let StoreConfig::Sled { lock_wait_ms, .. } = &mut self.store {
            *lock_wait_ms = wait_ms.min(caseledger_store::STORE_LOCK_WAIT_MS_MAX);
        }
        self
    }

    /// The same store, configured for a job that reads the whole log once (rebuild, verify,
    /// export): a sled store gets a small page cache
    /// (`SLED_CACHE_CAPACITY_BYTES_ONE_PASS`), so the job's memory does not grow with the
    /// size of the log. Other stores are unchanged.
    pub fn for_one_pass(mut self) -> EngineConfig {
        if let StoreConfig::Sled {
            cache_capacity_bytes,
            ..
        } = &mut self.store
        {
            *cache_capacity_bytes = caseledger_store::SLED_CACHE_CAPACITY_BYTES_ONE_PASS;
        }
        self
    }

    /// A PostgreSQL store from a `postgres://user@host:5432/database[?schema=name]` URL
    /// (schema default `caseledger`), acknowledged after the server's WAL flush. A URL that
    /// cannot be used is refused here, before anything connects; its password is never
    /// repeated in the error. With the `postgres` feature.
    #[cfg(feature = "postgres")]
    pub fn postgres(url: &str) -> Result<EngineConfig, EngineError> {
        Ok(EngineConfig {
            store: StoreConfig::Postgres {
                config: Box::new(PostgresConfig::from_url(url)?),
                durability: Durability::Flush,
            },
            kek: None,
            key_file: None,
        })
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
    /// The PostgreSQL URL or schema cannot be used (nothing was contacted).
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    PostgresConfig(#[from] PostgresConfigError),
    /// The PostgreSQL store could not be opened: server down, wrong host, user or database,
    /// or no right to create the schema. The message names the target without its password.
    #[error("cannot open the PostgreSQL store: {0}; check that the server is running and that the URL's host, port, user and database are right (and that the user may create the schema)")]
    PostgresOpen(StoreError),
    /// [`Engine::open`] is synchronous; a PostgreSQL store needs [`Engine::open_async`].
    #[error("a PostgreSQL store is opened with Engine::open_async from inside a Tokio runtime, not with Engine::open")]
    OpenAsyncRequired,
    /// The key-encryption key is missing or is not the one the store's data keys are
    /// wrapped under; nothing was written.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The key-encryption key file cannot be read or created.
    #[error("key-encryption key: {0}")]
    KeyFile(String),
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

/// The case streams seen so far and how far the log has been scanned for them. Kept so
/// `advance_to` reads only the part of the log appended since its last call instead of the
/// whole log each time (the store trait has no stream listing). Memory: one CRN string per
/// case, about 40 bytes each.
#[derive(Default)]
struct CaseIndex {
    crns: BTreeSet<String>,
    /// Highest position already looked at (0: nothing yet).
    scanned_to: u64,
}

/// The KEK to open `store` with: `kek` when given; else the one in `key_file` when that
/// file exists; else, when the store records no KEK yet, a new one created in `key_file`
/// (what `caseledger init` does). A store that records a KEK while none is found is left to
/// `Keyring::open`, which refuses it and names the key it expects.
/// The second value is the file when one was created now.
async fn kek_for(
    store: &dyn EventStore,
    kek: Option<Kek>,
    key_file: Option<&std::path::Path>,
) -> Result<(Option<Kek>, Option<PathBuf>), EngineError> {
    let (None, Some(path)) = (&kek, key_file) else {
        return Ok((kek, None));
    };
    let file = |e: caseledger_store::crypto::CryptoError| EngineError::KeyFile(e.to_string());
    if path.exists() {
        return Ok((Some(Kek::load(path).map_err(file)?), None));
    }
    if store.key_store().kek_id().await?.is_some() {
        return Ok((None, None));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        caseledger_store::create_private_dir(parent)
            .map_err(|e| EngineError::KeyFile(format!("{}: {e}", parent.display())))?;
    }
    let kek = Kek::create_file(path).map_err(file)?;
    Ok((Some(kek), Some(path.to_owned())))
}

/// The engine: one store, one handler.
pub struct Engine {
    handler: Handler,
    store: Arc<dyn EventStore>,
    sled: Option<Arc<SledStore>>,
    cases: Mutex<CaseIndex>,
    /// Persons' data keys (caseledger_store::keystore), checked against the KEK on open.
    keyring: Arc<Keyring>,
    /// The KEK file this open created (`EngineConfig::key_file`), for the caller to announce.
    key_file_created: Option<PathBuf>,
}

impl Engine {
    /// Open a memory or sled store. A sled store already open in another process (or handle)
    /// fails with `StoreError::InUse` ("store is in use"). A PostgreSQL store is refused with
    /// [`EngineError::OpenAsyncRequired`]: use [`Engine::open_async`].
    pub fn open(config: EngineConfig) -> Result<Engine, EngineError> {
        let (kek, key_file) = (config.kek, config.key_file);
        let (store, sled): (Arc<dyn EventStore>, _) = match config.store {
            StoreConfig::Memory => (Arc::new(MemoryStore::new(Arc::new(SystemClock))), None),
            #[cfg(feature = "postgres")]
            StoreConfig::Postgres { .. } => return Err(EngineError::OpenAsyncRequired),
            StoreConfig::Sled {
                path,
                durability,
                cache_capacity_bytes,
                lock_wait_ms,
            } => {
                let sled = Arc::new(SledStore::open_waiting(
                    &path,
                    SledOptions {
                        durability,
                        ..SledOptions::default()
                    },
                    cache_capacity_bytes,
                    lock_wait_ms,
                )?);
                (sled.clone() as Arc<dyn EventStore>, Some(sled))
            }
        };
        let (kek, created) = caseledger_store::keystore::ready_now(kek_for(
            store.as_ref(),
            kek,
            key_file.as_deref(),
        ))
        .unwrap_or(Err(EngineError::OpenAsyncRequired))?;
        let keyring = Keyring::open_now(store.clone(), kek, true)?;
        let mut engine = Engine::with_store_inner(store, sled, Arc::new(keyring));
        engine.key_file_created = created;
        Ok(engine)
    }

    /// Open any store; must run inside a Tokio runtime (the PostgreSQL store's writer and
    /// listener tasks live on it). Connects, creates or migrates the schema, and starts the
    /// writer. A server that does not answer is [`EngineError::PostgresOpen`].
    pub async fn open_async(config: EngineConfig) -> Result<Engine, EngineError> {
        let (kek, key_file) = (config.kek, config.key_file);
        match config.store {
            #[cfg(feature = "postgres")]
            StoreConfig::Postgres { config, durability } => {
                let options = PostgresOptions {
                    durability,
                    ..PostgresOptions::default()
                };
                let store = PostgresStore::open(*config, Arc::new(SystemClock), options)
                    .await
                    .map_err(EngineError::PostgresOpen)?;
                let (kek, created) =
                    kek_for(&store as &dyn EventStore, kek, key_file.as_deref()).await?;
                let mut engine = Engine::with_store_and_kek(Arc::new(store), kek).await?;
                engine.key_file_created = created;
                Ok(engine)
            }
            other => Engine::open(EngineConfig {
                store: other,
                kek,
                key_file,
            }),
        }
    }

    /// An engine over any store (e.g. one with a manual clock) whose persons' data keys are
    /// wrapped under this process's in-memory KEK (`Kek::process_ephemeral`, shared by every
    /// such engine in the process, not recorded in the store): personal data it writes can
    /// be read by this process only. For a store that outlives the process use
    /// [`Engine::with_store_and_kek`] with a KEK from a key file.
    pub fn with_store(store: Arc<dyn EventStore>) -> Engine {
        let keyring = Keyring::unchecked(store.clone(), Kek::process_ephemeral());
        Engine::with_store_inner(store, None, Arc::new(keyring))
    }

    /// An engine over `store` whose persons' data keys are `keyring`'s, kept in another
    /// store's key store: a copy of a log that must seal with the keys of the original, or
    /// two logs compared byte for byte (same keys and same commands give the same sealed
    /// bytes).
    pub fn with_store_and_keyring(store: Arc<dyn EventStore>, keyring: Arc<Keyring>) -> Engine {
        Engine::with_store_inner(store, None, keyring)
    }

    /// An engine over any store with persons' data keys wrapped under `kek`; a store that
    /// records another KEK (or one, when `kek` is `None`) is refused.
    pub async fn with_store_and_kek(
        store: Arc<dyn EventStore>,
        kek: Option<Kek>,
    ) -> Result<Engine, EngineError> {
        let keyring = Keyring::open(store.clone(), kek, true).await?;
        Ok(Engine::with_store_inner(store, None, Arc::new(keyring)))
    }

    fn with_store_inner(
        store: Arc<dyn EventStore>,
        sled: Option<Arc<SledStore>>,
        keyring: Arc<Keyring>,
    ) -> Engine {
        Engine {
            handler: Handler::new(store.clone(), keyring.clone()),
            store,
            sled,
            cases: Mutex::new(CaseIndex::default()),
            keyring,
            key_file_created: None,
        }
    }

    /// The key-encryption key file this open created, if it created one: the store had none
    /// and no key was given (`EngineConfig::key_file`). Keep it apart from the data.
    pub fn key_file_created(&self) -> Option<&std::path::Path> {
        self.key_file_created.as_deref()
    }

    /// Persons' data keys of this engine's store.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// Keep at most `bytes_max` bytes of folded case states between commands (0: keep none,
    /// so every command reads and folds its whole case — the reference the cache is tested
    /// against). The default is [`caseledger_commands::cache::CASE_CACHE_BYTES_MAX_DEFAULT`].
    pub fn with_case_cache_bytes_max(mut self, bytes_max: usize) -> Engine {
        self.handler = self.handler.with_case_cache_bytes_max(bytes_max);
        self
    }

    /// Record `session` in `audit-sessions` and correlate everything this engine writes from
    /// now on with it (each event's `correlation_id` is the session id). For a trusted
    /// operator shell: who ran it is recorded beside the actors its commands declare.
    pub async fn begin_session(&mut self, session: &OperatorSession) -> Result<u64, EngineError> {
        let event = NewEvent {
            event_id: session.session_id,
            event_type: OPERATOR_SESSION.into(),
            schema_version: OPERATOR_SESSION_SCHEMA_VERSION,
            effective_at_us: 0,
            actor: Actor {
                id: session.os_user.clone(),
                role: "operator".into(),
                organisation: "host".into(),
            },
            command_id: uuid::Uuid::nil(),
            correlation_id: session.session_id,
            causation_id: uuid::Uuid::nil(),
            ruleset_id: String::new(),
            payload: encode_payload(session)?,
        };
        let stream = StreamId::new(SESSIONS_STREAM)?;
        let result = self
            .store
            .append(&stream, ExpectedVersion::Any, vec![event], None)
            .await?;
        self.handler = self.handler.clone().with_session(session.session_id);
        Ok(result.last_position)
    }

    /// Every operator session recorded so far, oldest first.
    pub async fn sessions(&self) -> Result<Vec<OperatorSession>, EngineError> {
        let stream = StreamId::new(SESSIONS_STREAM)?;
        let records = self.store.read_stream(&stream, 1).await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            out.push(decode_payload(&record.payload)?);
        }
        Ok(out)
    }

    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    /// Execute one command: its events (and any derived decisions) are appended, or it is
    /// refused, nothing is written to the case and the refusal is recorded.
    /// An erasure (`erase_personal_data`) also destroys the person's data key once it is
    /// recorded (`Engine::erase`, docs/operations.md "Erasure").
    pub async fn execute(&self, command: &CommandEnvelope) -> Result<Receipt, CommandError> {
        if caseledger_commands::handler::is_erasure(&command.command) {
            return self.erase(command).await;
        }
        self.handler.execute(command).await
    }

    /// Parse one command in the public JSON, actor included, and execute it: for a trusted
    /// operator shell (the CLI), where whoever runs it answers for the actors it declares. A
    /// service that authenticates its callers uses [`Engine::execute_as`] instead. A command
    /// that cannot be read is refused and, when its id and actor could be read, recorded as
    /// refused. The engine's own identity is refused in the body as everywhere.
    pub async fn execute_json(&self, line: &str) -> Result<Receipt, EngineError> {
        match parse_command_with_header(line) {
            Ok(envelope) => Ok(self.execute(&envelope).await?),
            Err((error, header)) => Err(self.bad_command(error, &header).await),
        }
    }

    /// Execute a command sent by a caller the host has authenticated: `actor` is what the
    /// host's authentication established; `body` is the command JSON without `actor`
    /// (`command_id`, `crn`, `effective_at`, `command`). A body that names an actor is bad
    /// input (field `actor`), recorded as refused under the authenticated actor.
    pub async fn execute_as(
        &self,
        actor: &VerifiedActor,
        body: &str,
    ) -> Result<Receipt, EngineError> {
        match parse_command_as(actor, body) {
            Ok(envelope) => Ok(self.execute(&envelope).await?),
            Err((error, header)) => Err(self.bad_command(error, &header).await),
        }
    }

    async fn bad_command(&self, error: ParseError, header: &PartialHeader) -> EngineError {
        let audit_position = match self.handler.refuse_unparsed(header, &error).await {
            Some(CommandError::Refused(r)) => Some(r.audit_position),
            Some(other) => return other.into(),
            None => None,
        };
        EngineError::BadCommand {
            error,
            audit_position,
        }
    }

    /// The current state of case `crn`, or `None` if no such case exists.
    pub async fn case(&self, crn: &str) -> Result<Option<CaseState>, EngineError> {
        let stream = case_stream(crn)?;
        let state = self.handler.current_case(&stream).await?;
        Ok((state.version > 0).then_some(state))
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
    ///
    /// The first call reads the whole log once; later calls read only what was appended
    /// since (by this process or, on PostgreSQL, by any other), so `advance_to` costs
    /// O(new events), not O(log size), to find its cases. Positions are gapless and in
    /// commit order (design.md invariant 2), so nothing below the scanned position can
    /// appear later.
    pub async fn case_ids(&self) -> Result<BTreeSet<String>, EngineError> {
        let mut index = self.cases.lock().await;
        let from = index.scanned_to + 1;
        let mut pages = ReadAll::new(&*self.store, from, READ_ALL_PAGE_EVENTS_MAX);
        while let Some(page) = pages.next_page().await? {
            for record in &page {
                if record.stream_version == 1 && record.event_type == "CaseOpened" {
                    index.crns.insert(record.stream_id.clone());
                }
            }
            index.scanned_to = pages.next_position() - 1;
        }
        Ok(index.crns.clone())
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
                let case = load_case(self.store.as_ref(), &self.keyring, &stream).await?;
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
                match self.handler.execute_due(&crn, &next).await {
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

    /// The sled writer's counters since open (group commits, appends, events): `None` for the
    /// other stores. `appends / batches` is the mean group-commit size.
    pub fn writer_stats(&self) -> Option<caseledger_store::WriterStats> {
        self.sled.as_ref().map(|s| s.stats())
    }

    /// How many records of the log follow the durable consumer `name`'s checkpoint (all of
    /// them when it has none yet).
    pub async fn consumer_lag(&self, name: &str) -> Result<u64, EngineError> {
        let name = caseledger_store::ConsumerName::new(name)?;
        let position = self.store.consumer_position(&name).await?.unwrap_or(0);
        Ok(self.store.head().await?.saturating_sub(position))
    }

    /// Make every acknowledged append durable (a no-op for the memory store, for the
    /// durable sled modes and for PostgreSQL with `Flush`, where every acknowledged append
    /// already is).
    pub async fn flush(&self) -> Result<(), EngineError> {
        if let Some(sled) = &self.sled {
            sled.flush().await?;
        }
        Ok(())
    }
}

pub(crate) fn case_stream(crn: &str) -> Result<StreamId, EngineError> {
    let crn = Crn::new(crn).map_err(|_| EngineError::BadCrn(crn.chars().take(32).collect()))?;
    Ok(StreamId::new(crn.as_str())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "postgres")]
    #[test]
    fn a_bad_postgres_url_is_a_typed_error_before_anything_connects() {
        let e = EngineConfig::postgres("postgres://u:pw123456@h/db?schema=1bad").unwrap_err();
        assert!(
            matches!(
                e,
                EngineError::PostgresConfig(PostgresConfigError::InvalidSchema { .. })
            ),
            "{e:?}"
        );
        assert!(!e.to_string().contains("pw123456"), "{e}");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn the_synchronous_open_points_to_open_async_for_postgres() {
        let config = EngineConfig::postgres("postgres://u@127.0.0.1:1/db").unwrap();
        let e = Engine::open(config).err().expect("refused");
        assert_eq!(e, EngineError::OpenAsyncRequired);
        assert!(e.to_string().contains("open_async"), "{e}");
    }

    #[tokio::test]
    async fn case_ids_catch_up_with_cases_opened_after_the_first_call() {
        let engine = Engine::open_async(EngineConfig::memory()).await.unwrap();
        assert!(engine.case_ids().await.unwrap().is_empty());
        let open = |crn: &str, id: u128| {
            format!(
                r#"{{"command_id": "{}", "crn": "{crn}",
                "actor": {{"id": "clerk1", "role": "case_administrator", "organisation": "nps"}},
                "effective_at": "2016-03-01",
                "command": {{"type": "open_case", "crn": "{crn}", "pdu": 1, "team": null,
                    "on": "2016-03-01", "person": {{"name": "Alex Example",
                    "date_of_birth": "1990-05-04", "gender": "male"}}}}}}"#,
                uuid::Uuid::from_u128(id)
            )
        };
        engine.execute_json(&open("X000002", 1)).await.unwrap();
        let first: Vec<String> = engine.case_ids().await.unwrap().into_iter().collect();
        assert_eq!(first, ["X000002"]);
        engine.execute_json(&open("X000001", 2)).await.unwrap();
        let second: Vec<String> = engine.case_ids().await.unwrap().into_iter().collect();
        assert_eq!(second, ["X000001", "X000002"]);
        // Only what was appended since the last call is read again.
        let head = engine.store().head().await.unwrap();
        assert_eq!(engine.cases.lock().await.scanned_to, head);
    }
}
