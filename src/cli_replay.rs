//! `caseledger replay | explain | verify | export | import-log`: audit replay on the command
//! line, a thin shell over `caseledger_replay`, on the sled store in `--data` or the
//! PostgreSQL log `--store` names. Output goes to stdout; errors come back as a [`Failure`]
//! for `main` to print: an option or argument that cannot be used is exit 2, an export line
//! `import-log` cannot take is exit 3, anything else 1.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use caseledger_store::crypto::Kek;
use caseledger_store::keystore::check_kek;
use caseledger_store::{Keyring, KeyringError};

use clap::{Args, Subcommand, ValueEnum};

use caseledger_replay::asof::{parse_bound, AsOf};
use caseledger_replay::backup_keys::{
    check_keys, first_not_in_export, load_keys, scan_export, write_keys_file, KeysReader,
    KeysSummary,
};
use caseledger_replay::domain_model::DomainCase;
use caseledger_replay::domain_payload::DomainPayloads;
use caseledger_replay::explain::{explain_decision, stream_of_event};
use caseledger_replay::export::{export_log, salvage_log};
use caseledger_replay::history::{Corrections, HistoryOptions, HistoryWalker};
use caseledger_replay::import::stage_import;
use caseledger_replay::render;
use caseledger_replay::verify::{verify_log, Checkpoint};
use caseledger_replay::ReplayError;
use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger_store::{
    Clock, Durability, EventStore, ManualClock, SledOptions, SledStore, StoreError, StreamId,
    SystemClock,
};

use crate::cli_ops::Failure;

#[derive(Subcommand)]
pub enum ReplayCommand {
    /// The timeline of a case: every event with its times, actor, ruleset and what it changed.
    Replay(ReplayArgs),
    /// Explain a decision: its inputs, ruleset, reason, actor, and a re-evaluation.
    Explain(ExplainArgs),
    /// Recompute the hash chain and the Merkle root; print ROOT@POSITION to publish.
    Verify(VerifyArgs),
    /// Write the whole log to stdout as self-describing JSON Lines.
    Export(ExportArgs),
    /// Import an export into an empty store, refusing any altered line.
    ImportLog(ImportArgs),
}

impl ReplayCommand {
    /// Whether the command only reads the log: such a command never creates a store, so a
    /// wrong `--data` is an error naming the path rather than a new empty store.
    pub fn reads_only(&self) -> bool {
        !matches!(self, ReplayCommand::ImportLog(_))
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// Case reference number (stream id), e.g. X123456.
    pub crn: String,
    /// Only what was recorded by then: RFC 3339 instant, or a date meaning through its end (UTC).
    #[arg(long, value_name = "T")]
    pub as_of_recorded: Option<String>,
    /// Only what was in effect by then: a date (through its end, UTC) or an RFC 3339 instant.
    #[arg(long, value_name = "D")]
    pub as_of_effective: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also print the whole case state after every event (output grows with the case's length
    /// times its state; by default each event shows only what it changed).
    #[arg(long)]
    pub full_state: bool,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// Event id (UUID) of the decision, as shown by `caseledger replay`.
    pub event_id: String,
    /// The date "today's rules" are taken from (default: the system date, UTC).
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Also check the log still extends an earlier published ROOT@POSITION.
    #[arg(long, value_name = "ROOT@POSITION")]
    pub extends: Option<String>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// For a damaged log: write every record up to the first that cannot be read or breaks
    /// the chain, with a header for exactly those, and say where it stopped; `import-log`
    /// then builds a new store from the valid prefix.
    #[arg(long)]
    pub salvage: bool,
    /// Also write the data keys of the exported cases to FILE (mode 600): each wrapped under
    /// the key-encryption key, or the tombstone of an erased person; never a plaintext key.
    /// `import-log --keys FILE` restores them; without them every person reads as withheld.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The export (JSON Lines) to import.
    pub file: PathBuf,
    /// The keys file `export --keys` wrote with this export: its data keys are loaded into
    /// the new store, which must be opened with the key-encryption key they are wrapped under
    /// (--key-file). Without it every person in the export reads as withheld.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
}

/// The log a replay subcommand reads (or, for `import-log`, fills).
pub enum Log<'a> {
    /// The sled store in `--data`; another process holding it is waited for up to
    /// `lock_wait_ms` (`--wait`).
    Sled { data: &'a Path, lock_wait_ms: u64 },
    /// The PostgreSQL log `--store` names.
    Postgres(Box<PostgresConfig>),
}

/// An open log of either kind.
enum Opened {
    Sled(Arc<SledStore>),
    Postgres(Arc<PostgresStore>),
}

impl Opened {
    fn store(&self) -> &dyn EventStore {
        match self {
            Opened::Sled(store) => store.as_ref(),
            Opened::Postgres(store) => store.as_ref(),
        }
    }

    fn shared(&self) -> Arc<dyn EventStore> {
        match self {
            Opened::Sled(store) => store.clone(),
            Opened::Postgres(store) => store.clone(),
        }
    }

    /// Replay of case `stream` that opens its person's sealed data with `kek`'s keyring. A
    /// store that records a KEK refuses a missing or another one, naming the one it expects.
    async fn case_model(&self, kek: Option<Kek>, stream: &StreamId) -> Result<DomainCase, Failure> {
        let keyring = Keyring::open(self.shared(), kek, false)
            .await
            .map_err(|e| Failure::Failed(e.to_string()))?;
        DomainCase::for_case(Arc::new(keyring), stream)
            .await
            .map_err(|e| Failure::Failed(e.to_string()))
    }

    /// Make everything appended durable (PostgreSQL appends are durable when acknowledged).
    async fn flush(&self) -> Result<(), String> {
        match self {
            Opened::Sled(store) => store.flush().await.map_err(|e| e.to_string()),
            Opened::Postgres(_) => Ok(()),
        }
    }
}

/// Open `log`. `durability` applies to sled; PostgreSQL acknowledges after the WAL flush. A
/// sled store still held by another process after the wait is exit code 4.
async fn open(
    log: &Log<'_>,
    clock: Arc<dyn Clock>,
    durability: Durability,
) -> Result<Opened, Failure> {
    match log {
        Log::Sled { data, lock_wait_ms } => {
            let options = SledOptions { durability, clock };
            let cache = caseledger_store::SLED_CACHE_CAPACITY_BYTES_DEFAULT;
            SledStore::open_waiting(data, options, cache, *lock_wait_ms)
                .map(|store| Opened::Sled(Arc::new(store)))
                .map_err(|e| match e {
                    StoreError::InUse { .. } => Failure::InUse(e.to_string()),
                    other => Failure::Failed(other.to_string()),
                })
        }
        Log::Postgres(config) => {
            PostgresStore::open((**config).clone(), clock, PostgresOptions::default())
                .await
                .map(|store| Opened::Postgres(Arc::new(store)))
                .map_err(|e| Failure::Failed(format!("cannot open the PostgreSQL store: {e}")))
        }
    }
}

/// Open `log` to read it without writing to it (`verify`, `export`): a sled store through
/// [`SledStore::open_read_only`], a copy in the temporary directory (`TMPDIR`), so nothing in
/// `--data` changes and a full disk does not stop it (docs/operations.md "Damaged stores").
async fn open_read_only(log: &Log<'_>) -> Result<Opened, Failure> {
    match log {
        Log::Sled { data, lock_wait_ms } => SledStore::open_read_only(
            data,
            &std::env::temp_dir(),
            caseledger_store::SLED_CACHE_CAPACITY_BYTES_DEFAULT,
            *lock_wait_ms,
        )
        .map(|store| Opened::Sled(Arc::new(store)))
        .map_err(|e| match e {
            StoreError::InUse { .. } => Failure::InUse(e.to_string()),
            other => Failure::Failed(other.to_string()),
        }),
        Log::Postgres(_) => open(log, Arc::new(SystemClock), Durability::Flush).await,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Run one of the replay subcommands on `log`, opened once here; `kek` opens persons' sealed
/// data for `replay` and `explain`.
pub fn run(command: ReplayCommand, log: Log<'_>, kek: Option<Kek>) -> Result<(), Failure> {
    runtime().map_err(Failure::Failed)?.block_on(async move {
        // import-log stamps each record with its original time (a manual clock) and writes
        // Buffered, flushing once; the others read.
        let clock = Arc::new(ManualClock::new(0));
        let opened = match &command {
            ReplayCommand::ImportLog(_) => open(&log, clock.clone(), Durability::Buffered).await?,
            ReplayCommand::Verify(_) | ReplayCommand::Export(_) => open_read_only(&log).await?,
            _ => open(&log, Arc::new(SystemClock), Durability::Flush).await?,
        };
        let opened = &opened;
        match command {
            ReplayCommand::Replay(args) => replay(args, opened, kek).await,
            ReplayCommand::Explain(args) => explain(args, opened, kek).await,
            ReplayCommand::Verify(args) => verify(args, opened).await,
            ReplayCommand::Export(args) => export(args, opened).await,
            ReplayCommand::ImportLog(args) => import(args, opened, &clock, kek).await,
        }
    })
}

fn text(e: ReplayError) -> String {
    e.to_string()
}

/// The exit code of a replay error: an option that cannot be used is 2, an export file with a
/// line that cannot be imported is bad input (3), anything else 1.
fn failure(e: ReplayError) -> Failure {
    match e {
        ReplayError::BadCheckpoint { .. } | ReplayError::BadAsOf { .. } => {
            Failure::Usage(e.to_string())
        }
        ReplayError::ImportLine { .. }
        | ReplayError::KeysLine { .. }
        | ReplayError::KeysSubjectNotInExport { .. } => Failure::BadInput(e.to_string()),
        ReplayError::KeysUnderAnotherKek { .. } | ReplayError::KeysForAnotherExport { .. } => {
            Failure::Usage(e.to_string())
        }
        other => Failure::Failed(other.to_string()),
    }
}

async fn read_case(
    store: &dyn EventStore,
    crn: &str,
) -> Result<Vec<caseledger_store::RecordedEvent>, String> {
    let stream = StreamId::new(crn).map_err(|e| e.to_string())?;
    let records = store
        .read_stream(&stream, 1)
        .await
        .map_err(|e| e.to_string())?;
    if records.is_empty() {
        return Err(text(ReplayError::NoSuchCase {
            stream_id: crn.to_owned(),
        }));
    }
    Ok(records)
}

fn print(out: &str) -> Result<(), String> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing to stdout: {e}"))
}

fn json(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// Records of one case read per page by `replay`: its memory holds one page, the case state
/// and one entry, whatever the case's length.
const REPLAY_PAGE_EVENTS: u32 = 256;

/// Visit the records of `stream` page by page, in version order; false if it has none.
async fn for_each_page(
    store: &dyn EventStore,
    stream: &StreamId,
    mut visit: impl FnMut(&[caseledger_store::RecordedEvent]) -> Result<(), String>,
) -> Result<bool, String> {
    let mut from_version = 1;
    loop {
        let page = store
            .read_stream_page(stream, from_version, REPLAY_PAGE_EVENTS)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else {
            return Ok(from_version > 1);
        };
        from_version = last.stream_version + 1;
        visit(&page)?;
    }
}

async fn replay(args: ReplayArgs, opened: &Opened, kek: Option<Kek>) -> Result<(), Failure> {
    let as_of = AsOf {
        recorded_through_us: args
            .as_of_recorded
            .as_deref()
            .map(|t| parse_bound("--as-of-recorded", t))
            .transpose()
            .map_err(failure)?,
        effective_through_us: args
            .as_of_effective
            .as_deref()
            .map(|d| parse_bound("--as-of-effective", d))
            .transpose()
            .map_err(failure)?,
    };
    let store = opened.store();
    let stream = StreamId::new(args.crn.as_str()).map_err(|e| Failure::Usage(e.to_string()))?;
    if is_audit_stream(stream.as_str()) {
        if as_of.effective_through_us.is_some() || args.full_state {
            return Err(Failure::Usage(format!(
                "{}: --as-of-effective and --full-state apply to cases; an audit stream takes \
                 --as-of-recorded only",
                stream.as_str()
            )));
        }
        return Ok(replay_audit(store, &stream, as_of.recorded_through_us, args.format).await?);
    }
    if caseledger_domain::identity::Crn::new(stream.as_str()).is_err() {
        return Err(Failure::Usage(format!(
            "{:?} is neither a CRN (one capital letter then six digits, e.g. X123456) nor an \
             audit stream ({}, {})",
            stream.as_str(),
            caseledger_commands::REFUSALS_STREAM,
            caseledger_commands::SESSIONS_STREAM
        )));
    }
    let model = opened.case_model(kek, &stream).await?;
    // First pass: the corrections, which an entry names before they come.
    let mut corrections = Corrections::default();
    let found = for_each_page(store, &stream, |page| {
        corrections.scan(&model, page, as_of).map_err(text)
    })
    .await?;
    if !found {
        return Err(failure(ReplayError::NoSuchCase {
            stream_id: args.crn.clone(),
        }));
    }
    let options = HistoryOptions {
        full_state: args.full_state,
    };
    let mut walker = HistoryWalker::new(&model, stream.as_str(), as_of, corrections, options);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut write = |text: &str| put(&mut out, text);
    let mut first = true;
    match args.format {
        Format::Text => write(&render::history_header_text(stream.as_str(), &as_of))?,
        Format::Json => write(&format!(
            "{{\"stream_id\": {}, \"as_of\": {}, \"entries\": [\n",
            serde_json::Value::from(stream.as_str()),
            serde_json::to_string(&as_of).map_err(|e| e.to_string())?
        ))?,
    }
    // Second pass: one entry at a time, written as soon as it is made.
    for_each_page(store, &stream, |page| {
        for record in page {
            let Some(entry) = walker.next(record).map_err(text)? else {
                continue;
            };
            match args.format {
                Format::Text => write(&render::history_entry_text(&entry))?,
                Format::Json => {
                    let separator = if first { "" } else { ",\n" };
                    write(&format!("{separator}{}", json_compact(&entry)?))?;
                }
            }
            first = false;
        }
        Ok(())
    })
    .await?;
    let end = walker.finish();
    match args.format {
        Format::Text => {
            write(&render::recorded_later_text(end.recorded_later))?;
            write(&render::history_state_text(&end.state))?;
        }
        Format::Json => write(&format!(
            "\n], \"recorded_later\": {}, \"state\": {}}}\n",
            end.recorded_later,
            json_compact(&end.state)?
        ))?,
    }
    Ok(out.flush().map_err(|e| format!("writing to stdout: {e}"))?)
}

/// The engine's own audit streams: `audit-refusals` (refused commands) and `audit-sessions`
/// (who ran the operator CLI). They are not cases, so they are shown record by record.
fn is_audit_stream(stream: &str) -> bool {
    stream == caseledger_commands::REFUSALS_STREAM || stream == caseledger_commands::SESSIONS_STREAM
}

/// One audit record as JSON ([`crate::engine_audit::AuditRecord`], as the library reads it):
/// where and when it was recorded, by whom, and what it says.
fn audit_json(record: &caseledger_store::RecordedEvent) -> Result<serde_json::Value, String> {
    use crate::engine_audit::audit_record;
    use caseledger_commands::audit::{CommandRefused, OperatorSession, COMMAND_REFUSED};
    if record.event_type == COMMAND_REFUSED {
        serde_json::to_value(audit_record::<CommandRefused>(record).map_err(|e| e.to_string())?)
    } else {
        serde_json::to_value(audit_record::<OperatorSession>(record).map_err(|e| e.to_string())?)
    }
    .map_err(|e| e.to_string())
}

fn audit_text(record: &caseledger_store::RecordedEvent, json: &serde_json::Value) -> String {
    let r = &json["record"];
    let field = |name: &str| r[name].as_str().unwrap_or("").to_owned();
    let at = json["recorded_at"].as_str().unwrap_or("");
    if r.get("reason").is_some() {
        format!(
            "#{} {at} refused {} {} on {} by {} ({}, {}): {}: {}\n",
            record.position,
            field("command_type"),
            field("command_id"),
            field("crn"),
            field("actor_id"),
            field("actor_role"),
            field("actor_organisation"),
            field("kind"),
            field("reason")
        )
    } else {
        format!(
            "#{} {at} session {} by OS user {} (uid {}): {}\n",
            record.position,
            field("session_id"),
            field("os_user"),
            r["os_uid"],
            field("program")
        )
    }
}

async fn replay_audit(
    store: &dyn EventStore,
    stream: &StreamId,
    recorded_through_us: Option<i64>,
    format: Format,
) -> Result<(), String> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut count = 0u64;
    for_each_page(store, stream, |page| {
        for record in page {
            if recorded_through_us.is_some_and(|bound| record.recorded_at_us > bound) {
                continue;
            }
            let json = audit_json(record)?;
            count += 1;
            match format {
                Format::Json => put(&mut out, &format!("{}\n", json_compact(&json)?))?,
                Format::Text => put(&mut out, &audit_text(record, &json))?,
            }
        }
        Ok(())
    })
    .await?;
    if matches!(format, Format::Text) {
        put(
            &mut out,
            &format!("{count} record(s) in {}\n", stream.as_str()),
        )?;
    }
    out.flush().map_err(|e| format!("writing to stdout: {e}"))
}

fn put(out: &mut impl Write, text: &str) -> Result<(), String> {
    out.write_all(text.as_bytes())
        .map_err(|e| format!("writing to stdout: {e}"))
}

fn json_compact(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

async fn explain(args: ExplainArgs, opened: &Opened, kek: Option<Kek>) -> Result<(), Failure> {
    let event_id = uuid::Uuid::parse_str(args.event_id.trim())
        .map_err(|e| Failure::Usage(format!("event id {:?} is not a UUID: {e}", args.event_id)))?;
    // The shell reads the clock; the library takes `today` as an argument.
    let today = match &args.today {
        Some(d) => d.parse::<jiff::civil::Date>().map_err(|e| {
            Failure::Usage(format!("--today {d:?} is not a date (YYYY-MM-DD): {e}"))
        })?,
        None => jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    };
    let stream_id = stream_of_event(opened.store(), event_id)
        .await
        .map_err(text)?;
    let records = read_case(opened.store(), &stream_id).await?;
    let stream = StreamId::new(stream_id.as_str()).map_err(|e| Failure::Failed(e.to_string()))?;
    let model = opened.case_model(kek, &stream).await?;
    let explanation = explain_decision(&model, &records, event_id, today).map_err(failure)?;
    Ok(print(&match args.format {
        Format::Text => caseledger_replay::explain::explain_text(&explanation),
        Format::Json => json(&explanation)?,
    })?)
}

async fn verify(args: VerifyArgs, opened: &Opened) -> Result<(), Failure> {
    let extends = args
        .extends
        .as_deref()
        .map(str::parse::<Checkpoint>)
        .transpose()
        .map_err(failure)?;
    let outcome = verify_log(opened.store(), extends).await.map_err(failure)?;
    print(&render::verify_text(&outcome))?;
    if outcome.is_ok() {
        Ok(())
    } else {
        Err(Failure::Failed(
            "verification failed (see above)".to_owned(),
        ))
    }
}

async fn export(args: ExportArgs, opened: &Opened) -> Result<(), Failure> {
    let stdout = io::stdout().lock();
    if args.salvage {
        let summary = salvage_log(opened.store(), &DomainPayloads, BufWriter::new(stdout))
            .await
            .map_err(failure)?;
        let published = Checkpoint {
            root: summary.root,
            position: summary.head,
        };
        match summary.stopped {
            None => eprintln!(
                "exported {} records, the whole log; root {published}",
                summary.head
            ),
            Some((position, reason)) => eprintln!(
                "salvaged records 1..={} (root {published}); stopped at position {position}: \
                 {reason}; later records are not in the export",
                summary.head
            ),
        }
        return export_keys(args.keys.as_deref(), opened, &published).await;
    }
    let summary = export_log(opened.store(), &DomainPayloads, BufWriter::new(stdout))
        .await
        .map_err(failure)?;
    let published = Checkpoint {
        root: summary.root,
        position: summary.head,
    };
    eprintln!("exported {} records; root {published}", summary.head);
    export_keys(args.keys.as_deref(), opened, &published).await
}

/// `export --keys FILE`: the key store's entries for the cases of the export `published`,
/// read after the log so every exported case is keyed.
async fn export_keys(
    path: Option<&Path>,
    opened: &Opened,
    published: &Checkpoint,
) -> Result<(), Failure> {
    let Some(path) = path else { return Ok(()) };
    let export = published.to_string();
    let written = write_keys_file(opened.store(), &export, published.position, path)
        .await
        .map_err(|e| Failure::Failed(format!("--keys {}: {e}", path.display())))?;
    eprintln!(
        "wrote the data keys of {} persons ({} erased) to {} (mode 600), wrapped under the \
         key-encryption key: keep the key file apart from both (docs/operations.md \
         \"Backup and restore\")",
        written.live + written.destroyed,
        written.destroyed,
        path.display()
    );
    Ok(())
}

/// Buffered appends and one flush at the end: a bulk load, checked before and after. With
/// `--keys`, the keys file is checked whole (its KEK, its export, every line, every subject
/// in the export) before anything is written, then loaded before the log.
async fn import(
    args: ImportArgs,
    opened: &Opened,
    clock: &Arc<ManualClock>,
    kek: Option<Kek>,
) -> Result<(), Failure> {
    let store = opened.store();
    let head = store.head().await.map_err(|e| e.to_string())?;
    if head != 0 {
        return Err(failure(ReplayError::TargetNotEmpty { head }));
    }
    let staged = stage_import(open_file(&args.file)?, &DomainPayloads).map_err(failure)?;
    let export = Checkpoint {
        root: staged.root(),
        position: staged.head(),
    }
    .to_string();
    let keys = match &args.keys {
        Some(path) => Some(check_restore(path, &args.file, kek.as_ref(), &export, store).await?),
        None => {
            warn_sealed_without_keys(&args.file)?;
            None
        }
    };
    if let Some(path) = &args.keys {
        load_restore(path, kek.as_ref(), &export, store).await?;
    }
    let summary = staged
        .commit(store, clock, &DomainPayloads)
        .await
        .map_err(failure)?;
    opened.flush().await?;
    let published = Checkpoint {
        root: summary.root,
        position: summary.head,
    };
    let restored = keys.map_or(String::new(), |k| {
        format!(
            "; restored the data keys of {} persons ({} erased)",
            k.live + k.destroyed,
            k.destroyed
        )
    });
    Ok(print(&format!(
        "imported {} records; root {published}{restored}\n",
        summary.head
    ))?)
}

fn open_file(path: &Path) -> Result<BufReader<File>, Failure> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| Failure::Failed(format!("cannot open {}: {e}", path.display())))
}

/// Check a keys file whole against the export and the new store, writing nothing: its
/// header (KEK and export), every line, every subject's case in the export; the store opens
/// with that KEK. Warns of sealed records whose person has no key in it.
async fn check_restore(
    keys: &Path,
    export_file: &Path,
    kek: Option<&Kek>,
    export: &str,
    store: &dyn EventStore,
) -> Result<KeysSummary, Failure> {
    let mut reader = KeysReader::open(open_file(keys)?, kek, export).map_err(failure)?;
    let mut subjects = check_keys(&mut reader).map_err(failure)?;
    let sealing = scan_export(open_file(export_file)?, &mut subjects).map_err(failure)?;
    if let Some((line, subject)) = first_not_in_export(&subjects) {
        return Err(failure(ReplayError::KeysSubjectNotInExport {
            line,
            subject: subject.to_owned(),
        }));
    }
    if reader.kek_id().is_some() {
        check_kek(store.key_store(), kek, false)
            .await
            .map_err(keyring_failure)?;
    }
    if sealing.sealed_without_key > 0 {
        eprintln!(
            "warning: {} sealed records belong to persons with no key in {}; those persons \
             will read as withheld",
            sealing.sealed_without_key,
            keys.display()
        );
    }
    Ok(reader.summary().clone())
}

/// Record the KEK in the new store and load the checked keys file into its key store.
async fn load_restore(
    keys: &Path,
    kek: Option<&Kek>,
    export: &str,
    store: &dyn EventStore,
) -> Result<(), Failure> {
    let mut reader = KeysReader::open(open_file(keys)?, kek, export).map_err(failure)?;
    if reader.kek_id().is_some() {
        check_kek(store.key_store(), kek, true)
            .await
            .map_err(keyring_failure)?;
    }
    load_keys(store, &mut reader).await.map_err(failure)?;
    Ok(())
}

fn keyring_failure(e: KeyringError) -> Failure {
    match e {
        KeyringError::MissingKek { .. } | KeyringError::WrongKek { .. } => {
            Failure::Usage(e.to_string())
        }
        other => Failure::Failed(other.to_string()),
    }
}

/// `import-log` without `--keys`: an export holding sealed persons restores them withheld
/// unless their keys are restored too; say so (a warning: the log itself is restored whole).
fn warn_sealed_without_keys(export_file: &Path) -> Result<(), Failure> {
    let sealing = scan_export(open_file(export_file)?, &mut Default::default()).map_err(failure)?;
    if sealing.sealed_records > 0 {
        eprintln!(
            "warning: the export holds {} records of persons sealed with their data keys, and \
             no --keys file was given: those persons will read as withheld unless their keys \
             are restored; import again into a new, empty store with --keys FILE (the file \
             `caseledger export --keys` wrote) and the key-encryption key (--key-file)",
            sealing.sealed_records
        );
    }
    Ok(())
}
