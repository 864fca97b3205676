//! Operator commands of the `caseledger` CLI: `init`, `import`, `exec`, `tick`, `case`.
//! Exit codes are documented in docs/commands.md and defined by [`Failure::exit_code`].
//!
//! Where the log lives ([`StoreArgs`]): `--data DIR` alone is a sled store in DIR (one
//! process at a time). With `--store postgres://user@host:5432/db[?schema=name]` the log is
//! in PostgreSQL (shared by any number of processes) and DIR keeps only the local read
//! models, under `DIR/postgres/<host>-<port>-<database>-<schema>/readmodels`, so read models
//! built from different logs never mix.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use caseledger_commands::handler::CommandError;
use caseledger_commands::{parse_command_with_header, CommandEnvelope, ParseError, PartialHeader};
use caseledger_store::postgres::{PostgresConfig, PostgresStore};
use caseledger_store::StoreError;
use jiff::civil::Date;
use serde_json::json;

use crate::cli_identity::Operator;
use crate::engine::{Engine, EngineConfig, EngineError, StoreConfig};
use crate::engine_import::{ImportItem, Imported, IMPORT_GROUP_COMMANDS_MAX};
use caseledger_store::crypto::{default_key_file, Kek};
use caseledger_store::KeyringError;

/// Longest command line `import` and `exec` accept, in bytes.
pub const COMMAND_LINE_BYTES_MAX: usize = caseledger_commands::envelope::COMMAND_BYTES_MAX;

/// Why a CLI command failed, mapped onto an exit code.
#[derive(Debug)]
pub enum Failure {
    /// 1: I/O, store or other failure.
    Failed(String),
    /// 3: bad input read from a file or stdin (a malformed command or export line; the
    /// message names file, line and field).
    BadInput(String),
    /// 4: the store is open in another process.
    InUse(String),
    /// 5: a command was refused by the rules or the authorisation matrix (recorded).
    Refused(String),
    /// 2: an argument (an option or a positional value) cannot be used: a `--store` URL that
    /// is not a PostgreSQL URL, a `--to` that is not a date, a CRN that is not a CRN.
    Usage(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Failed(_) => 1,
            Failure::BadInput(_) => 3,
            Failure::InUse(_) => 4,
            Failure::Refused(_) => 5,
            Failure::Usage(_) => 2,
        }
    }
    pub fn message(&self) -> &str {
        match self {
            Failure::Failed(m)
            | Failure::BadInput(m)
            | Failure::InUse(m)
            | Failure::Refused(m)
            | Failure::Usage(m) => m,
        }
    }
}

/// Text errors of the shell's helpers (I/O, encoding, a missing case) are exit 1.
impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Failed(message)
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Failure {
        match e {
            EngineError::Store(StoreError::InUse { .. })
            | EngineError::Command(CommandError::Store(StoreError::InUse { .. })) => {
                Failure::InUse(e.to_string())
            }
            EngineError::BadCommand { .. } | EngineError::BadCrn(_) => {
                Failure::BadInput(e.to_string())
            }
            EngineError::Command(CommandError::Refused(_)) => Failure::Refused(e.to_string()),
            EngineError::PostgresConfig(_) => Failure::Usage(format!("--store: {e}")),
            EngineError::Keyring(
                KeyringError::MissingKek { .. } | KeyringError::WrongKek { .. },
            ) => Failure::Usage(e.to_string()),
            other => Failure::Failed(other.to_string()),
        }
    }
}

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::Failed(format!("{what} {}: {e}", path.display()))
}

/// The global `--data` and `--store` arguments.
#[derive(Clone, Debug)]
pub struct StoreArgs {
    /// The sled store (without `--store`) and the local read models (always).
    pub data: PathBuf,
    /// A `postgres://…[?schema=name]` URL: the log lives there instead of in `data`.
    pub store: Option<String>,
    /// `--wait`: how long to wait for another process to release a sled store (0: fail at
    /// once with exit code 4).
    pub lock_wait_ms: u64,
    /// `--key-file` / `CASELEDGER_KEY_FILE`: the key-encryption key's file (default
    /// [`StoreArgs::key_file_path`]).
    pub key_file: Option<PathBuf>,
}

impl StoreArgs {
    /// Sled in `data`.
    pub fn sled(data: impl Into<PathBuf>) -> StoreArgs {
        StoreArgs {
            data: data.into(),
            store: None,
            lock_wait_ms: 0,
            key_file: None,
        }
    }

    /// Where the key-encryption key is read from: `--key-file` when given, else beside the
    /// log's local directory (`crypto::default_key_file`): `<data>.key` for sled,
    /// `<data>/postgres/<host>-<port>-<db>-<schema>.key` for PostgreSQL.
    pub fn key_file_path(&self) -> Result<PathBuf, Failure> {
        if let Some(path) = &self.key_file {
            return Ok(path.clone());
        }
        Ok(match self.store_config()?.store {
            StoreConfig::Postgres { config, .. } => {
                default_key_file(&self.data.join("postgres").join(config.location_key()))
            }
            _ => default_key_file(&self.data),
        })
    }

    /// The key-encryption key, if its file exists: a file that cannot be used is exit 2; a
    /// missing `--key-file` too. A missing default file is `None` (the store decides whether
    /// it needs one).
    pub fn kek(&self) -> Result<Option<Kek>, Failure> {
        let path = self.key_file_path()?;
        if !path.exists() && self.key_file.is_none() {
            return Ok(None);
        }
        Kek::load(&path)
            .map(Some)
            .map_err(|e| Failure::Usage(format!("--key-file: {e}")))
    }

    /// The engine configuration; a `--store` URL that cannot be used is exit code 2 and its
    /// password is not repeated.
    pub fn engine_config(&self) -> Result<EngineConfig, Failure> {
        let config = self.store_config()?.with_key_file(self.key_file_path()?);
        Ok(match self.kek()? {
            Some(kek) => config.with_kek(kek),
            None => config,
        })
    }

    /// [`StoreArgs::engine_config`] without the key-encryption key.
    fn store_config(&self) -> Result<EngineConfig, Failure> {
        match &self.store {
            None => Ok(EngineConfig::sled(&self.data).with_lock_wait_ms(self.lock_wait_ms)),
            Some(url) => EngineConfig::postgres(url).map_err(Failure::from),
        }
    }

    /// The PostgreSQL log `--store` names, if any (a bad URL is exit 2).
    pub fn postgres_config(&self) -> Result<Option<Box<PostgresConfig>>, Failure> {
        Ok(match self.store_config()?.store {
            StoreConfig::Postgres { config, .. } => Some(config),
            _ => None,
        })
    }

    /// Where the log is, for messages: a directory, or the PostgreSQL target without
    /// credentials.
    pub fn describe(&self) -> Result<String, Failure> {
        Ok(match self.store_config()?.store {
            StoreConfig::Postgres { config, .. } => config.describe(),
            _ => self.data.display().to_string(),
        })
    }

    /// The read-model directory handed to `cli_report`: `<data>/readmodels` for sled;
    /// `<data>/postgres/<host>-<port>-<database>-<schema>/readmodels` for PostgreSQL, so
    /// that one `--data` used with several logs never folds one log's events on top of
    /// another's read models.
    pub fn readmodels_dir(&self) -> Result<PathBuf, Failure> {
        Ok(match self.store_config()?.store {
            StoreConfig::Postgres { config, .. } => crate::cli_report::readmodels_path(
                &self.data.join("postgres").join(config.location_key()),
            ),
            _ => crate::cli_report::readmodels_path(&self.data),
        })
    }
}

/// Open the engine over the log named by `args`.
pub async fn open(args: &StoreArgs) -> Result<Engine, Failure> {
    let engine = open_quiet(args).await?;
    if let Some(path) = engine.key_file_created() {
        // What `init` says, for a store first written without `init`.
        eprintln!(
            "created key-encryption key file {} (mode 600): keep it apart from the data and \
             back it up; this store does not open without it (docs/operations.md \"Key \
             management\")",
            path.display()
        );
    }
    Ok(engine)
}

/// [`open`] without saying on stderr that a key file was created: for `serve`, whose stderr
/// is its JSON log (it logs it there; `Engine::key_file_created`).
pub async fn open_quiet(args: &StoreArgs) -> Result<Engine, Failure> {
    Engine::open_async(args.engine_config()?)
        .await
        .map_err(Failure::from)
}

/// Refuse to go on when the log `args` names does not exist: commands that only read
/// (`case`, `report`, `replay`, `explain`, `verify`, `export`) must never create one, or a
/// mistyped path or schema would answer from an empty log. Exit 2 naming the `--data`
/// directory or the PostgreSQL schema; nothing is created in either.
pub async fn require_existing_log(args: &StoreArgs) -> Result<(), Failure> {
    match args.postgres_config()? {
        Some(config) => require_existing_postgres(&config).await,
        None => require_existing_sled(args),
    }
}

/// [`require_existing_log`] for a sled `--data`: the directory holds a store's database file.
fn require_existing_sled(args: &StoreArgs) -> Result<(), Failure> {
    if args.data.join(SLED_DATABASE_FILE).is_file() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "no caseledger store at {}: point --data (or CASELEDGER_DATA) at an existing store, \
         or create one with `caseledger --data {} init`",
        args.data.display(),
        args.data.display()
    )))
}

/// [`require_existing_log`] for a PostgreSQL `--store`: the schema holds a log (asked without
/// running migrations); an unreachable server is exit 1.
async fn require_existing_postgres(config: &PostgresConfig) -> Result<(), Failure> {
    match PostgresStore::exists(config).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::Usage(format!(
            "no caseledger log at {}: point --store (or CASELEDGER_STORE) at an existing log, \
             or create one with `caseledger --store URL init`",
            config.describe()
        ))),
        // The message an unreachable server gives when the engine opens the store.
        Err(e) => Err(Failure::from(EngineError::PostgresOpen(e))),
    }
}

/// The file sled keeps its pages in, inside a store's directory: present once a store exists.
const SLED_DATABASE_FILE: &str = "db";

/// Open the engine over an existing log, for commands that only read it.
pub async fn open_existing(args: &StoreArgs) -> Result<Engine, Failure> {
    require_existing_log(args).await?;
    open(args).await
}

/// `caseledger init`: create (or open) the store (for PostgreSQL: the schema and its tables).
/// The data directory is made private to its owner (0700, its files 0600): the log and the
/// read models hold names and dates of birth.
pub async fn init(args: &StoreArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if let Some(note) = make_data_dir_private(&args.data)? {
        writeln!(out, "{note}").map_err(|e| Failure::Failed(e.to_string()))?;
    }
    if let Some(note) = create_key_file(args).await? {
        writeln!(out, "{note}").map_err(|e| Failure::Failed(e.to_string()))?;
    }
    let engine = open(args).await?;
    let head = engine
        .store()
        .head()
        .await
        .map_err(|e| Failure::from(EngineError::from(e)))?;
    writeln!(
        out,
        "store ready at {} (head position {head})",
        args.describe()?
    )
    .map_err(|e| Failure::Failed(e.to_string()))
}

/// `init`: create the key-encryption key file ([`StoreArgs::key_file_path`], mode 0600)
/// when it does not exist and the store records no KEK yet; says where. An existing file is
/// used as it is.
async fn create_key_file(args: &StoreArgs) -> Result<Option<String>, Failure> {
    let path = args.key_file_path()?;
    if path.exists() {
        return Ok(None);
    }
    // A store that records a KEK refuses to open without it: that error, not a new key.
    let without_key = StoreArgs {
        key_file: None,
        ..args.clone()
    };
    let mut config = without_key.store_config()?;
    config.kek = None;
    config.key_file = None;
    drop(Engine::open_async(config).await.map_err(Failure::from)?);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        caseledger_store::create_private_dir(parent)
            .map_err(|e| io_failure("cannot create the directory of", &path, e))?;
    }
    let kek = Kek::create_file(&path).map_err(|e| Failure::Failed(e.to_string()))?;
    Ok(Some(format!(
        "created key-encryption key {} in {} (mode 600): keep it apart from the data and back \
         it up; this store does not open without it (docs/operations.md \"Key management\")",
        kek.id(),
        path.display()
    )))
}

/// Create `data` with mode 0700, or take group and other access away from an existing one;
/// says what it changed.
fn make_data_dir_private(data: &Path) -> Result<Option<String>, Failure> {
    caseledger_store::create_private_dir(data)
        .map_err(|e| io_failure("cannot create the data directory", data, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data)
            .map_err(|e| io_failure("cannot read", data, e))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            let private = caseledger_store::STORE_DIR_MODE;
            std::fs::set_permissions(data, std::fs::Permissions::from_mode(private))
                .map_err(|e| io_failure("cannot make private", data, e))?;
            return Ok(Some(format!(
                "{} was {mode:03o}; now {private:03o} (the log holds personal data)",
                data.display()
            )));
        }
    }
    Ok(None)
}

/// What `import` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub applied: u64,
    pub duplicates: u64,
    pub refused: u64,
}

/// Parsed commands `import`'s reader may hold ahead of the engine.
pub const IMPORT_READ_AHEAD_COMMANDS_MAX: usize = 4 * IMPORT_GROUP_COMMANDS_MAX;

/// Why the reader stopped before the end of the file: the failure, and for a line that was
/// read but is not a command, what could be read of its header (to record the refusal).
type ReaderStop = (Failure, Option<(PartialHeader, ParseError)>);

/// `caseledger import FILE [--ack-log FILE]`.
///
/// A reader thread parses the file while the engine decides and writes
/// ([`Engine::import_commands`]: commands in file order, many cases' commands per group
/// commit). Each durable group's outcomes are acknowledged together, in file order, with one
/// write and one sync of the ack log. A malformed line stops the import: the commands before
/// it are committed and acknowledged, nothing after it is applied, and the error names the
/// file, line and field. A case's commands, and the import, stop at its first failure that
/// is not a refusal. Re-running is idempotent (command ids).
pub async fn import(
    engine: &Engine,
    operator: &Operator,
    file: &Path,
    ack_log: Option<&Path>,
    err: &mut dyn Write,
) -> Result<ImportSummary, Failure> {
    let input = File::open(file).map_err(|e| io_failure("cannot open", file, e))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let mut ack = match ack_log {
        Some(path) => Some(
            // 0600 when created: acknowledgements name cases.
            caseledger_store::private_file_options()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io_failure("cannot open ack log", path, e))?,
        ),
        None => None,
    };
    let bar = indicatif::ProgressBar::new(size);
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (sender, mut receiver) = tokio::sync::mpsc::channel(IMPORT_READ_AHEAD_COMMANDS_MAX);
    let reader = {
        let (file, bytes_read) = (file.to_path_buf(), bytes_read.clone());
        std::thread::spawn(move || read_commands(input, &file, &sender, &bytes_read))
    };
    let mut summary = ImportSummary::default();
    let mut stopped_at: Option<Failure> = None;
    let policy = |envelope: &CommandEnvelope| operator.refusal(envelope);
    let mut durable = |imported: Vec<Imported>| -> Result<(), Failure> {
        let mut lines = String::new();
        for done in &imported {
            match ack_record(done, &mut summary) {
                Ok(record) => {
                    if let Err(CommandError::Refused(refusal)) = &done.outcome {
                        let _ = writeln!(
                            err,
                            "{}:{}: refused: {}",
                            file.display(),
                            done.line,
                            refusal.reason
                        );
                    }
                    lines.push_str(&record.to_string());
                    lines.push('\n');
                }
                Err(message) => {
                    stopped_at = Some(Failure::Failed(format!(
                        "{}:{}: {message}; the import stopped here and case {}'s later commands \
                         were not applied: run the same import again to continue",
                        file.display(),
                        done.line,
                        done.envelope.crn
                    )));
                    break;
                }
            }
        }
        write_ack(&mut ack, &lines, ack_log)?;
        bar.set_position(bytes_read.load(Ordering::Relaxed));
        Ok(())
    };
    let ended = engine
        .import_commands(&mut receiver, &policy, &mut durable)
        .await;
    // A reader waiting for room in the channel sees it closed and stops.
    drop(receiver);
    let reader_stop = reader
        .join()
        .map_err(|_| Failure::Failed("the import's reader thread failed".into()))?;
    bar.finish_and_clear();
    ended?;
    engine.flush().await.map_err(Failure::from)?;
    if let Some(failure) = stopped_at {
        return Err(failure);
    }
    match reader_stop {
        None => Ok(summary),
        Some((failure, unparsed)) => {
            if let Some((header, error)) = unparsed {
                // Recorded after every command before it: the log keeps the file's order.
                let _ = engine.handler().refuse_unparsed(&header, &error).await;
            }
            Err(failure)
        }
    }
}

/// Count `done` in `summary` and give its ack-log record, or the message of its failure.
fn ack_record(done: &Imported, summary: &mut ImportSummary) -> Result<serde_json::Value, String> {
    let (line, id) = (done.line, done.envelope.command_id.to_string());
    match &done.outcome {
        Ok(r) => {
            if r.deduplicated {
                summary.duplicates += 1;
            } else {
                summary.applied += 1;
            }
            Ok(json!({"line": line, "command_id": id,
                      "status": if r.deduplicated { "duplicate" } else { "applied" },
                      "first_position": r.first_position, "last_position": r.last_position}))
        }
        Err(CommandError::Refused(refusal)) => {
            summary.refused += 1;
            let position = refusal.audit_position;
            Ok(json!({"line": line, "command_id": id, "status": "refused",
                      "first_position": position, "last_position": position}))
        }
        Err(other) => Err(Failure::from(EngineError::from(other.clone()))
            .message()
            .to_owned()),
    }
}

/// The reader thread of `import`: parse `input`'s lines into commands, in order, until the
/// end (`None`) or the first line that stops the import.
fn read_commands(
    input: File,
    file: &Path,
    sender: &tokio::sync::mpsc::Sender<ImportItem>,
    bytes_read: &AtomicU64,
) -> Option<ReaderStop> {
    let mut reader = BufReader::new(input);
    let mut bytes = Vec::new();
    let mut line_number = 0u64;
    loop {
        bytes.clear();
        let n = match reader
            .by_ref()
            .take(COMMAND_LINE_BYTES_MAX as u64 + 2)
            .read_until(b'\n', &mut bytes)
        {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) => return Some((io_failure("cannot read", file, e), None)),
        };
        line_number += 1;
        bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        let bad =
            |why: String| Failure::BadInput(format!("{}:{line_number}: {why}", file.display()));
        if n > COMMAND_LINE_BYTES_MAX + 1 && !bytes.ends_with(b"\n") {
            let why = format!("input: line is longer than {COMMAND_LINE_BYTES_MAX} bytes");
            return Some((bad(why), None));
        }
        let line = match utf8_line(&bytes) {
            Ok(line) => line,
            Err(why) => return Some((bad(format!("input: {why}")), None)),
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_command_with_header(line) {
            Ok(envelope) => {
                let item = ImportItem {
                    line: line_number,
                    envelope,
                };
                if sender.blocking_send(item).is_err() {
                    // The import stopped; nothing more is wanted.
                    return None;
                }
            }
            Err((error, header)) => {
                return Some((bad(error.to_string()), Some((*header, error))));
            }
        }
    }
}

/// One line of an import file as text: JSON is UTF-8 (RFC 8259 §8.1), so a line that is not is
/// bad input, named by the byte where it stops being UTF-8 (counted from 1).
fn utf8_line(bytes: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "not valid UTF-8 at byte {} of the line; commands are UTF-8 JSON (save the file \
             as UTF-8)",
            e.valid_up_to() + 1
        )
    })?;
    Ok(text.trim_end_matches(['\n', '\r']))
}

fn write_ack(ack: &mut Option<File>, lines: &str, path: Option<&Path>) -> Result<(), Failure> {
    let (Some(file), Some(path)) = (ack.as_mut(), path) else {
        return Ok(());
    };
    if lines.is_empty() {
        return Ok(());
    }
    file.write_all(lines.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| io_failure("cannot write ack log", path, e))
}

/// `caseledger exec`: one command from `input`; prints its receipt as JSON.
pub async fn exec(
    engine: &Engine,
    operator: &Operator,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut bytes = Vec::new();
    input
        .take(COMMAND_LINE_BYTES_MAX as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::Failed(format!("cannot read stdin: {e}")))?;
    let text =
        utf8_line(&bytes).map_err(|why| Failure::BadInput(format!("stdin: input: {why}")))?;
    let envelope = match parse_command_with_header(text.trim()) {
        Ok(envelope) => envelope,
        Err((error, header)) => {
            let _ = engine.handler().refuse_unparsed(&header, &error).await;
            return Err(Failure::BadInput(format!("stdin: {error}")));
        }
    };
    let receipt = operator
        .execute(engine, &envelope)
        .await
        .map_err(|e| Failure::from(EngineError::from(e)))?;
    let json = serde_json::to_string(&receipt).map_err(|e| Failure::Failed(e.to_string()))?;
    writeln!(out, "{json}").map_err(|e| Failure::Failed(e.to_string()))
}

/// `caseledger tick --to DATE`.
pub async fn tick(
    engine: &Engine,
    to: &str,
    format: &str,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let date: Date = to
        .parse()
        .map_err(|_| Failure::Usage(format!("--to: {to:?} is not a date YYYY-MM-DD")))?;
    let report = engine.advance_to(date).await.map_err(Failure::from)?;
    let write = |out: &mut dyn Write, s: String| {
        out.write_all(s.as_bytes())
            .map_err(|e| Failure::Failed(e.to_string()))
    };
    match format {
        "json" => {
            let value = json!({
                "to": date.to_string(),
                "cases": report.cases,
                "applied": report.applied,
                "already_recorded": report.already_recorded,
                "blocked": report.blocked.iter().map(|b| json!({"on": b.on.to_string(), "what": b.what})).collect::<Vec<_>>(),
            });
            write(out, format!("{value}\n"))
        }
        "table" | "csv" => {
            let sep = if format == "csv" { "," } else { "  " };
            let mut s = format!("crn{sep}command_id{sep}events{sep}first_position\n");
            for r in &report.applied {
                s.push_str(&format!(
                    "{}{sep}{}{sep}{}{sep}{}\n",
                    r.crn,
                    r.command_id,
                    r.event_types.join(" "),
                    r.first_position
                ));
            }
            if format == "table" {
                s.push_str(&format!(
                    "{} case(s) looked at, {} applied, {} already recorded, {} blocked\n",
                    report.cases,
                    report.applied.len(),
                    report.already_recorded,
                    report.blocked.len()
                ));
                for b in &report.blocked {
                    s.push_str(&format!("blocked {}: {}\n", b.on, b.what));
                }
            }
            write(out, s)
        }
        other => Err(Failure::Usage(format!(
            "--format: {other:?} is not one of table, json, csv"
        ))),
    }
}

/// `caseledger case CRN`: the current state as JSON.
pub async fn case(engine: &Engine, crn: &str, out: &mut dyn Write) -> Result<(), Failure> {
    let state = match engine.case(crn).await {
        // The CRN is an argument: one that is not a CRN is unusable (exit 2).
        Err(e @ EngineError::BadCrn(_)) => return Err(Failure::Usage(e.to_string())),
        other => other.map_err(Failure::from)?,
    };
    match state {
        Some(state) => {
            let json =
                serde_json::to_string_pretty(&state).map_err(|e| Failure::Failed(e.to_string()))?;
            writeln!(out, "{json}").map_err(|e| Failure::Failed(e.to_string()))
        }
        None => Err(Failure::Failed(format!(
            "no case {crn} in this store; check the CRN and the --data directory or --store URL"
        ))),
    }
}

/// Default data directory.
pub fn default_data() -> PathBuf {
    PathBuf::from("./caseledger-data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_store_the_log_and_read_models_are_in_data() {
        let args = StoreArgs::sled("/srv/ledger");
        assert!(matches!(
            args.engine_config().unwrap().store,
            StoreConfig::Sled { .. }
        ));
        assert_eq!(
            args.readmodels_dir().unwrap(),
            PathBuf::from("/srv/ledger/readmodels")
        );
        assert_eq!(args.describe().unwrap(), "/srv/ledger");
    }

    #[test]
    fn with_store_read_models_go_under_data_per_postgres_log() {
        let args = StoreArgs {
            data: PathBuf::from("/srv/ledger"),
            store: Some(
                "postgres://clerk:hunter22@db.internal:5433/probation?schema=ledger".into(),
            ),
            lock_wait_ms: 0,
            key_file: None,
        };
        assert_eq!(
            args.readmodels_dir().unwrap(),
            PathBuf::from("/srv/ledger/postgres/db.internal-5433-probation-ledger/readmodels")
        );
        let described = args.describe().unwrap();
        assert_eq!(
            described,
            "postgres://clerk@db.internal:5433/probation (schema ledger, sslmode prefer)"
        );
        assert!(!described.contains("hunter22"));
    }

    #[test]
    fn an_unusable_store_url_is_exit_2_and_never_shows_the_password() {
        for url in [
            "mysql://clerk:hunter22@db/probation",
            "postgres://clerk:hunter22@db/probation?schema=Bad-Name",
            "postgres://clerk:hunter22@db/probation?nonsense=1",
        ] {
            let args = StoreArgs {
                data: PathBuf::from("d"),
                store: Some(url.into()),
                lock_wait_ms: 0,
                key_file: None,
            };
            let failure = args.engine_config().unwrap_err();
            assert_eq!(failure.exit_code(), 2, "{url}: {}", failure.message());
            assert!(
                failure.message().starts_with("--store: "),
                "{}",
                failure.message()
            );
            assert!(
                !failure.message().contains("hunter22"),
                "{}",
                failure.message()
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_exit_1_naming_the_target_without_the_password() {
        // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
        let args = StoreArgs {
            data: PathBuf::from("d"),
            store: Some("postgres://clerk:hunter22@127.0.0.1:1/probation?connect_timeout=2".into()),
            lock_wait_ms: 0,
            key_file: None,
        };
        let failure = match open(&args).await {
            Ok(_) => panic!("nothing listens on port 1"),
            Err(f) => f,
        };
        assert_eq!(failure.exit_code(), 1, "{}", failure.message());
        let message = failure.message();
        assert!(
            message.contains("cannot open the PostgreSQL store"),
            "{message}"
        );
        assert!(message.contains("127.0.0.1:1/probation"), "{message}");
        assert!(
            message.contains("check that the server is running"),
            "{message}"
        );
        assert!(!message.contains("hunter22"), "{message}");
    }
}
