//! Import of an export into an empty store.
//!
//! Two steps. [`stage_import`] reads the export line by line and checks everything — header,
//! each line's shape, payload re-encoding, hash recomputed and chained, positions consecutive,
//! the line byte-for-byte canonical, the count and the Merkle root against the header — while
//! copying the lines into a private staging file. Nothing touches the target store. The first
//! bad line is named and the import stops. [`StagedImport::commit`] then writes the staged
//! records, in position order, to an empty store through [`EventStore::append`], with a
//! [`ManualClock`] set to each record's original `recorded_at`: the store assigns the same
//! positions and stream versions and computes the same hashes, so the result is byte-identical
//! (checked: positions and times per append, and the last hash, which chains every other).
//!
//! The import also rebuilds the store's idempotency index, so a command retried after an
//! import is recognised as a repeat: consecutive records of one stream with the same
//! recorded_at and the same idempotency key are one append, given the key the command handler
//! gave it (see [`handler_idempotency_key`]).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use caseledger_store::{
    EventStore, ExpectedVersion, ManualClock, NewEvent, RecordedEvent, StoreError, StreamId,
    EVENTS_PER_APPEND_MAX,
};
use uuid::Uuid;

use crate::error::ReplayError;
use crate::export::{
    HeaderLine, RecordLine, EXPORT_FORMAT_NAME, EXPORT_FORMAT_VERSION, EXPORT_LINE_BYTES_MAX,
};
use crate::merkle::{Hash32, MerkleAccumulator};
use crate::payload::PayloadJson;
use crate::store_glue::canonical_record_bytes;
use caseledger_store::hash::ChainVerifier;

/// An export that passed every check, held in a private staging file.
#[derive(Debug)]
pub struct StagedImport {
    head: u64,
    root: Hash32,
    last_hash: Hash32,
    staged: File,
}

/// What an import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub head: u64,
    pub root: Hash32,
    /// Appends written with an idempotency key (entries of the rebuilt idempotency index).
    pub appends_keyed: u64,
}

/// Stream of the command handler's refusal records (`commands/src/audit.rs`
/// `REFUSALS_STREAM`). Replay does not depend on the commands crate; the root crate's
/// `tests/import_idempotency.rs` checks the two agree.
const REFUSALS_STREAM: &str = "audit-refusals";
/// Event type of a refusal record (`commands/src/audit.rs` `COMMAND_REFUSED`).
const COMMAND_REFUSED: &str = "CommandRefused";

/// The idempotency key the command handler passed with the append that wrote `record`
/// (`commands/src/handler.rs`), or `None` when it gave none:
/// - a refusal record on `audit-refusals`: `refusal_key(command id)`, which the handler also
///   makes the record's event id (`Handler::record_refusal`), so the key is the event id;
/// - any other record: its command id (`Handler::execute` appends a command's own events and
///   its derived decisions in one append keyed by the command id);
/// - a nil command id (records not written by a command): no key.
pub fn handler_idempotency_key(record: &RecordedEvent) -> Option<Uuid> {
    if record.command_id.is_nil() {
        return None;
    }
    if record.stream_id == REFUSALS_STREAM && record.event_type == COMMAND_REFUSED {
        return Some(record.event_id);
    }
    Some(record.command_id)
}

fn line_error(line: u64, reason: impl Into<String>) -> ReplayError {
    ReplayError::ImportLine {
        line,
        reason: reason.into(),
    }
}

/// Read one line of at most [`EXPORT_LINE_BYTES_MAX`] bytes (newline excluded) into `buffer`.
/// Returns `Ok(false)` at end of input.
fn read_line_bounded<R: BufRead>(
    input: &mut R,
    buffer: &mut Vec<u8>,
    line: u64,
) -> Result<bool, ReplayError> {
    buffer.clear();
    let limit = EXPORT_LINE_BYTES_MAX as u64 + 1;
    let read = input.by_ref().take(limit).read_until(b'\n', buffer)?;
    if read == 0 {
        return Ok(false);
    }
    if buffer.last() == Some(&b'\n') {
        buffer.pop();
    } else if buffer.len() > EXPORT_LINE_BYTES_MAX {
        return Err(line_error(
            line,
            format!("line is longer than {EXPORT_LINE_BYTES_MAX} bytes"),
        ));
    }
    Ok(true)
}

fn parse_header(text: &[u8]) -> Result<(HeaderLine, Hash32), ReplayError> {
    let header: HeaderLine = serde_json::from_slice(text).map_err(|e| {
        line_error(
            1,
            format!("not a caseledger export header ({e}); was the file produced by `caseledger export`?"),
        )
    })?;
    if header.format != EXPORT_FORMAT_NAME {
        return Err(line_error(
            1,
            format!(
                "format is {:?}, {EXPORT_FORMAT_NAME:?} expected",
                header.format
            ),
        ));
    }
    if header.version != EXPORT_FORMAT_VERSION {
        return Err(line_error(
            1,
            format!(
                "format version {} is not supported (this build reads version {EXPORT_FORMAT_VERSION})",
                header.version
            ),
        ));
    }
    let root: Hash32 = hex::decode(&header.root)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| line_error(1, "root is not 64 hex digits"))?;
    Ok((header, root))
}

/// Check one record line (line number `line`) against the chain so far; return the record.
fn check_record_line(
    text: &[u8],
    line: u64,
    head: u64,
    walker: &mut ChainVerifier,
    payloads: &dyn PayloadJson,
) -> Result<RecordedEvent, ReplayError> {
    let parsed: RecordLine = serde_json::from_slice(text)
        .map_err(|e| line_error(line, format!("not a record line: {e}")))?;
    if parsed.position > head {
        return Err(line_error(
            line,
            format!(
                "position {} is beyond the head position {head} named in the header (inserted line?)",
                parsed.position
            ),
        ));
    }
    let record = parsed
        .to_record(payloads)
        .map_err(|e| line_error(line, e))?;
    walker.accept(&record).map_err(|e| line_error(line, e))?;
    // Last: the hash and chain checks above name the more useful fault when both apply.
    // The line export would write for this record, payload re-rendered from its bytes: any
    // text that parses to the same record but is not that line (an unknown payload field the
    // event ignores, spacing, escapes) is an alteration too.
    let canonical = RecordLine::from_record(&record, payloads)
        .map_err(|e| line_error(line, e.to_string()))?
        .to_line()
        .map_err(|e| line_error(line, e))?;
    if canonical.as_bytes() != text {
        return Err(line_error(
            line,
            "the line differs from what export writes for this record (altered formatting or fields)",
        ));
    }
    Ok(record)
}

/// Check a whole export and stage it. Nothing is written anywhere but the private staging file.
pub fn stage_import<R: BufRead>(
    mut input: R,
    payloads: &dyn PayloadJson,
) -> Result<StagedImport, ReplayError> {
    let mut buffer = Vec::new();
    if !read_line_bounded(&mut input, &mut buffer, 1)? {
        return Err(line_error(
            1,
            "the export is empty; a header line is required",
        ));
    }
    let (header, root) = parse_header(&buffer)?;
    let head = header.head_position;
    let mut staged = BufWriter::new(tempfile::tempfile()?);
    let mut walker = ChainVerifier::new();
    let mut merkle = MerkleAccumulator::new();
    let mut line = 1u64;
    loop {
        line += 1;
        if !read_line_bounded(&mut input, &mut buffer, line)? {
            break;
        }
        let record = check_record_line(&buffer, line, head, &mut walker, payloads)?;
        let leaf = canonical_record_bytes(&record).map_err(|e| line_error(line, e.to_string()))?;
        merkle.push_leaf_bytes(&leaf);
        staged.write_all(&buffer)?;
        staged.write_all(b"\n")?;
    }
    let records = walker.records_checked();
    if records < head {
        return Err(line_error(
            line,
            format!(
                "missing: the header names head position {head} but the export ends after position {records} (truncated, or lines deleted at the end)"
            ),
        ));
    }
    debug_assert_eq!(records, head);
    if merkle.root() != root {
        return Err(line_error(
            1,
            format!(
                "the header's root {} differs from the root {} of the records that follow",
                header.root,
                hex::encode(merkle.root())
            ),
        ));
    }
    let mut staged = staged.into_inner().map_err(|e| e.into_error())?;
    staged.seek(SeekFrom::Start(0))?;
    Ok(StagedImport {
        head,
        root,
        last_hash: walker.last_hash(),
        staged,
    })
}

impl StagedImport {
    pub fn head(&self) -> u64 {
        self.head
    }
    pub fn root(&self) -> Hash32 {
        self.root
    }

    /// Write the staged records into `target`, which must be empty and must have been opened
    /// with `clock`. Refuses a non-empty target before writing anything.
    pub async fn commit<S: EventStore + ?Sized>(
        self,
        target: &S,
        clock: &ManualClock,
        payloads: &dyn PayloadJson,
    ) -> Result<ImportSummary, ReplayError> {
        let target_head = target.head().await?;
        if target_head != 0 {
            return Err(ReplayError::TargetNotEmpty { head: target_head });
        }
        let mut input = BufReader::new(self.staged);
        let mut buffer = Vec::new();
        let mut walker = ChainVerifier::new();
        let mut batch: Vec<RecordedEvent> = Vec::new();
        let mut written = 0u64;
        let mut appends_keyed = 0u64;
        let mut line = 1u64;
        loop {
            line += 1;
            let more = read_line_bounded(&mut input, &mut buffer, line)?;
            let record = if more {
                // The staging file is ours, but re-checking costs little and means a disk
                // fault between the two steps cannot slip a wrong record in.
                Some(
                    check_record_line(&buffer, line, self.head, &mut walker, payloads).map_err(
                        |e| ReplayError::ImportWriteFailed {
                            written,
                            reason: format!("staging file no longer checks out: {e}"),
                        },
                    )?,
                )
            } else {
                None
            };
            let joins_batch = match (&record, batch.first()) {
                (Some(r), Some(first)) => {
                    r.stream_id == first.stream_id
                        && r.recorded_at_us == first.recorded_at_us
                        && handler_idempotency_key(r) == handler_idempotency_key(first)
                        && batch.len() < EVENTS_PER_APPEND_MAX
                }
                _ => true,
            };
            if !joins_batch || record.is_none() {
                let keyed;
                (written, keyed) = append_batch(target, clock, &batch, written).await?;
                appends_keyed += u64::from(keyed);
                batch.clear();
            }
            match record {
                Some(r) => batch.push(r),
                None => break,
            }
        }
        debug_assert!(batch.is_empty());
        if written != self.head {
            return Err(ReplayError::ImportWriteFailed {
                written,
                reason: format!("{written} records written, {} staged", self.head),
            });
        }
        if self.head > 0 {
            let last = target.read_all(self.head, 1).await?;
            let hash = last.first().map(|r| r.hash);
            if hash != Some(self.last_hash) {
                return Err(ReplayError::ImportWriteFailed {
                    written,
                    reason: format!(
                        "the target store's hash at position {} differs from the export's; the store computes hashes differently from the one that exported",
                        self.head
                    ),
                });
            }
        }
        Ok(ImportSummary {
            head: self.head,
            root: self.root,
            appends_keyed,
        })
    }
}

/// Append one batch (same stream, same recorded_at, same idempotency key, consecutive
/// positions) with the handler's idempotency key and check the store put it exactly where the
/// export had it. Returns the new count of records written and whether the append was keyed.
///
/// A key the import already used (the log holds two appends the handler would have keyed
/// alike: written without keys, e.g. by an earlier import) is not reused: the store would
/// answer "deduplicated" and write nothing, or refuse a key first used on another stream. The
/// first append keeps the key, as in the store that wrote them, and the later one is appended
/// without a key.
async fn append_batch<S: EventStore + ?Sized>(
    target: &S,
    clock: &ManualClock,
    batch: &[RecordedEvent],
    written: u64,
) -> Result<(u64, bool), ReplayError> {
    let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
        return Ok((written, false));
    };
    debug_assert!(batch
        .iter()
        .all(|r| handler_idempotency_key(r) == handler_idempotency_key(first)));
    let failed = |reason: String| ReplayError::ImportWriteFailed { written, reason };
    let stream = StreamId::new(first.stream_id.clone()).map_err(|e| failed(e.to_string()))?;
    let events: Vec<NewEvent> = batch
        .iter()
        .map(|r| NewEvent {
            event_id: r.event_id,
            event_type: r.event_type.clone(),
            schema_version: r.schema_version,
            effective_at_us: r.effective_at_us,
            actor: r.actor.clone(),
            command_id: r.command_id,
            correlation_id: r.correlation_id,
            causation_id: r.causation_id,
            ruleset_id: r.ruleset_id.clone(),
            payload: r.payload.clone(),
        })
        .collect();
    clock.set(first.recorded_at_us);
    let expected = ExpectedVersion::Exact(first.stream_version.saturating_sub(1));
    let mut keyed = false;
    let mut result = None;
    if let Some(key) = handler_idempotency_key(first) {
        // A deduplicated answer or a refused key writes nothing; fall through to no key.
        match target
            .append(&stream, expected, events.clone(), Some(key))
            .await
        {
            Ok(r) if !r.deduplicated => {
                keyed = true;
                result = Some(r);
            }
            Ok(_) | Err(StoreError::IdempotencyKeyReused { .. }) => {}
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    let result = match result {
        Some(r) => r,
        None => target
            .append(&stream, expected, events, None)
            .await
            .map_err(|e| failed(e.to_string()))?,
    };
    if result.first_position != first.position
        || result.last_position != last.position
        || result.stream_version != last.stream_version
        || result.recorded_at_us != first.recorded_at_us
    {
        return Err(failed(format!(
            "the store placed positions {}..={} (stream version {}, recorded at {} µs) where the export has {}..={} (stream version {}, recorded at {} µs)",
            result.first_position,
            result.last_position,
            result.stream_version,
            result.recorded_at_us,
            first.position,
            last.position,
            last.stream_version,
            first.recorded_at_us
        )));
    }
    Ok((written + batch.len() as u64, keyed))
}
