//! Import of an export into an empty store.
//!
//! Two steps. [`stage_import`] reads the export and checks everything — header, each line's
//! shape, payload re-encoding, hash recomputed and chained, positions consecutive, the line
//! byte-for-byte canonical, the count and the Merkle root against the header — while copying
//! the checked records, in the store's own encoding, into a private staging file. The checks
//! of a line that do not need the lines before it run on worker threads; the rest, and the
//! verdict, in line order. Nothing touches the target store. The first bad line is named and
//! the import stops.
//! [`StagedImport::commit`] then reads the staged records back (each decoded and its hash and
//! chain checked again, which costs little next to parsing JSON) and writes them, in position
//! order, to an empty store, the appends recorded at one instant in one group commit
//! ([`EventStore::append_group`], written while the next group is read back and checked), with
//! a [`ManualClock`] set to that original `recorded_at`:
//! the store assigns the same positions and stream versions and computes the same hashes, so
//! the result is byte-identical (checked: positions and times per append, and the last hash,
//! which chains every other).
//!
//! The import also rebuilds the store's idempotency index, so a command retried after an
//! import is recognised as a repeat: consecutive records of one stream with the same
//! recorded_at and the same idempotency key are one append, given the key the command handler
//! gave it (see [`handler_idempotency_key`]).

use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::task::Poll;

use caseledger_store::{
    codec, AppendResult, EventStore, ExpectedVersion, GroupedAppend, ManualClock, RecordedEvent,
    StreamId, EVENTS_PER_APPEND_MAX, GROUP_APPENDS_MAX, GROUP_EVENTS_MAX,
};
use uuid::Uuid;

use crate::error::ReplayError;
use crate::export::{HeaderLine, EXPORT_FORMAT_NAME, EXPORT_FORMAT_VERSION, EXPORT_LINE_BYTES_MAX};
use crate::merkle::{Hash32, MerkleAccumulator};
use crate::payload::PayloadJson;
use caseledger_store::hash::ChainVerifier;
use caseledger_store::key_filter::{KeyFilter, KEY_FILTER_BITS_LOG2_MAX};
use lines::LineChecked;

mod lines;

pub use lines::{
    STAGE_CHUNKS_IN_FLIGHT_MAX, STAGE_CHUNK_BYTES_MAX, STAGE_CHUNK_LINES_MAX, STAGE_WORKERS_MAX,
};

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

/// Read one line of at most `line_bytes_max` bytes (newline excluded) into `buffer`.
/// Returns `Ok(false)` at end of input.
pub(crate) fn read_line_bounded<R: BufRead>(
    input: &mut R,
    buffer: &mut Vec<u8>,
    line: u64,
    line_bytes_max: usize,
) -> Result<bool, ReplayError> {
    buffer.clear();
    let limit = line_bytes_max as u64 + 1;
    let read = input.by_ref().take(limit).read_until(b'\n', buffer)?;
    if read == 0 {
        return Ok(false);
    }
    if buffer.last() == Some(&b'\n') {
        buffer.pop();
    } else if buffer.len() > line_bytes_max {
        return Err(line_error(
            line,
            format!("line is longer than {line_bytes_max} bytes"),
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

/// Check a whole export and stage it. Nothing is written anywhere but the private staging file.
///
/// The checks of each line that do not need the lines before it run on worker threads
/// ([`lines`]); [`Ordered`] takes their results in line order and does the rest, so the first
/// bad line is named, for the same fault, as if every line were checked in turn.
pub fn stage_import<R: BufRead>(
    mut input: R,
    payloads: &(dyn PayloadJson + Sync),
) -> Result<StagedImport, ReplayError> {
    let mut buffer = Vec::new();
    if !read_line_bounded(&mut input, &mut buffer, 1, EXPORT_LINE_BYTES_MAX)? {
        return Err(line_error(
            1,
            "the export is empty; a header line is required",
        ));
    }
    let (header, root) = parse_header(&buffer)?;
    let head = header.head_position;
    let mut ordered = Ordered {
        walker: ChainVerifier::new(),
        merkle: MerkleAccumulator::new(),
        staged: BufWriter::new(tempfile::tempfile()?),
    };
    let line = lines::check_lines(input, 2, head, payloads, |line, checked| {
        ordered.take(line, checked)
    })?;
    let records = ordered.walker.records_checked();
    if records < head {
        return Err(line_error(
            line,
            format!(
                "missing: the header names head position {head} but the export ends after position {records} (truncated, or lines deleted at the end)"
            ),
        ));
    }
    debug_assert_eq!(records, head);
    if ordered.merkle.root() != root {
        return Err(line_error(
            1,
            format!(
                "the header's root {} differs from the root {} of the records that follow",
                header.root,
                hex::encode(ordered.merkle.root())
            ),
        ));
    }
    let mut staged = ordered.staged.into_inner().map_err(|e| e.into_error())?;
    staged.seek(SeekFrom::Start(0))?;
    Ok(StagedImport {
        head,
        root,
        last_hash: ordered.walker.last_hash(),
        staged,
    })
}

/// What staging does with the lines in order: the chain links (each record follows the one
/// before), the Merkle tree and the staging file.
struct Ordered {
    walker: ChainVerifier,
    merkle: MerkleAccumulator,
    staged: BufWriter<File>,
}

impl Ordered {
    /// Take line `line` as a worker checked it, reporting its first fault in the order a
    /// line-by-line check finds them: the line's own shape, then the chain (position,
    /// previous_hash, recorded_at, hash), then the canonical line and the store encoding.
    fn take(&mut self, line: u64, checked: LineChecked) -> Result<(), ReplayError> {
        let checked = match checked {
            LineChecked::Refused(reason) => return Err(line_error(line, reason)),
            LineChecked::Panicked(payload) => std::panic::resume_unwind(payload),
            LineChecked::Record(checked) => checked,
        };
        self.walker
            .accept_hashed(&checked.record, checked.recomputed)
            .map_err(|e| line_error(line, e))?;
        let staged = checked.staged.map_err(|e| line_error(line, e))?;
        // The Merkle leaf is the record in the store's encoding: the very bytes staged.
        self.merkle.push_leaf_hash(staged.leaf);
        self.staged.write_all(&staged.length.to_le_bytes())?;
        self.staged.write_all(&staged.bytes)?;
        Ok(())
    }
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
        _payloads: &dyn PayloadJson,
    ) -> Result<ImportSummary, ReplayError> {
        let target_head = target.head().await?;
        if target_head != 0 {
            return Err(ReplayError::TargetNotEmpty { head: target_head });
        }
        let mut staged = Staged {
            input: BufReader::new(self.staged),
            walker: ChainVerifier::new(),
            head: self.head,
            next: None,
        };
        let mut written = 0u64;
        let mut appends_keyed = 0u64;
        // The keys this import wrote, 16 MiB whatever the log's size: "not written" is certain,
        // "maybe written" is settled by asking the store.
        let mut keys = KeyFilter::new(KEY_FILTER_BITS_LOG2_MAX);
        let mut group: Vec<Vec<RecordedEvent>> = Vec::new();
        let mut flight: Option<Flight<'_>> = None;
        while let Some(append) = staged.next_append(written)? {
            let joins = group.first().is_some_and(|first| {
                first[0].recorded_at_us == append[0].recorded_at_us
                    && group.len() < GROUP_APPENDS_MAX
                    && group.iter().map(Vec::len).sum::<usize>() + append.len() <= GROUP_EVENTS_MAX
            });
            if !joins && !group.is_empty() {
                // The group before is written while this one was read and checked.
                if let Some(flight) = flight.take() {
                    (written, appends_keyed) = flight.land(written, appends_keyed).await?;
                }
                let appends = group_appends(target, &mut keys, &group, written).await?;
                flight =
                    Some(Flight::submit(target, clock, std::mem::take(&mut group), appends).await);
            }
            group.push(append);
        }
        if let Some(flight) = flight.take() {
            (written, appends_keyed) = flight.land(written, appends_keyed).await?;
        }
        if !group.is_empty() {
            let appends = group_appends(target, &mut keys, &group, written).await?;
            let flight = Flight::submit(target, clock, group, appends).await;
            (written, appends_keyed) = flight.land(written, appends_keyed).await?;
        }
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

/// The staging file read back: each record decoded and its hash and chain checked again,
/// so a disk fault between the two steps cannot slip a wrong record in.
struct Staged {
    input: BufReader<File>,
    walker: ChainVerifier,
    head: u64,
    /// A record read ahead: the first of the next append.
    next: Option<RecordedEvent>,
}

impl Staged {
    fn record(&mut self, written: u64) -> Result<Option<RecordedEvent>, ReplayError> {
        let failed = |reason: String| ReplayError::ImportWriteFailed {
            written,
            reason: format!("staging file no longer checks out: {reason}"),
        };
        let mut length = [0u8; 4];
        match self.input.read_exact(&mut length) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let length = u32::from_le_bytes(length) as usize;
        if length as u64 > caseledger_store::RECORD_BYTES_MAX {
            return Err(failed(format!("a record of {length} bytes")));
        }
        let mut bytes = vec![0u8; length];
        self.input.read_exact(&mut bytes)?;
        let record = codec::decode_record(&bytes).map_err(|e| failed(e.to_string()))?;
        self.walker.accept(&record).map_err(failed)?;
        if record.position > self.head {
            return Err(failed(format!(
                "position {} beyond the head",
                record.position
            )));
        }
        Ok(Some(record))
    }

    /// The next run of records the command handler wrote in one append: consecutive, one
    /// stream, one recorded_at, one idempotency key, at most `EVENTS_PER_APPEND_MAX`.
    fn next_append(&mut self, written: u64) -> Result<Option<Vec<RecordedEvent>>, ReplayError> {
        let Some(first) = self
            .next
            .take()
            .map_or_else(|| self.record(written), |r| Ok(Some(r)))?
        else {
            return Ok(None);
        };
        let mut append = vec![first];
        while let Some(record) = self.record(written)? {
            let first = &append[0];
            if record.stream_id == first.stream_id
                && record.recorded_at_us == first.recorded_at_us
                && handler_idempotency_key(&record) == handler_idempotency_key(first)
                && append.len() < EVENTS_PER_APPEND_MAX
            {
                append.push(record);
            } else {
                self.next = Some(record);
                break;
            }
        }
        Ok(Some(append))
    }
}

/// The appends of one group (consecutive, all recorded at one instant), each with the
/// handler's idempotency key.
///
/// A key the import already used (the log holds two appends the handler would have keyed
/// alike: written without keys, e.g. by an earlier import) is not reused: the store would
/// answer "deduplicated" and write nothing, or refuse a key first used on another stream. The
/// first append keeps the key, as in the store that wrote them, and the later one is appended
/// without a key. The target was empty and only this import writes it, so a key not in
/// `keys` was never written and the store is asked only about the others.
async fn group_appends<S: EventStore + ?Sized>(
    target: &S,
    keys: &mut KeyFilter,
    group: &[Vec<RecordedEvent>],
    written: u64,
) -> Result<Vec<GroupedAppend>, ReplayError> {
    let failed = |reason: String| ReplayError::ImportWriteFailed { written, reason };
    let mut appends = Vec::with_capacity(group.len());
    let mut keys_here = std::collections::HashSet::new();
    for records in group {
        let head = &records[0];
        let stream = StreamId::new(head.stream_id.clone()).map_err(|e| failed(e.to_string()))?;
        let mut key = handler_idempotency_key(head);
        if let Some(id) = key {
            let written_before =
                keys.may_contain(&id) && target.idempotency_record(id).await?.is_some();
            if !keys_here.insert(id) || written_before {
                key = None;
            }
        }
        if let Some(id) = key {
            keys.insert(&id);
        }
        appends.push(GroupedAppend {
            stream,
            expected: ExpectedVersion::Exact(head.stream_version.saturating_sub(1)),
            events: records.iter().map(RecordedEvent::as_appended).collect(),
            key: key.map(Into::into),
            after: None,
        });
    }
    Ok(appends)
}

type GroupAnswer =
    Result<Vec<Result<AppendResult, caseledger_store::StoreError>>, caseledger_store::StoreError>;

/// One group handed to the store as one group commit, its records kept to check where the
/// store put them.
struct Flight<'t> {
    group: Vec<Vec<RecordedEvent>>,
    keyed: u64,
    answer: std::pin::Pin<Box<dyn Future<Output = GroupAnswer> + 't>>,
}

impl<'t> Flight<'t> {
    /// Hand `appends` to the store, stamped with the group's instant: the first poll of the
    /// append sends the group to the store's writer, which writes it while the caller reads
    /// and checks the next group. Only one group is ever in flight, so the clock is set for a
    /// group after the one before was written.
    async fn submit<S: EventStore + ?Sized>(
        target: &'t S,
        clock: &ManualClock,
        group: Vec<Vec<RecordedEvent>>,
        appends: Vec<GroupedAppend>,
    ) -> Flight<'t> {
        let keyed = appends.iter().filter(|a| a.key.is_some()).count() as u64;
        clock.set(group[0][0].recorded_at_us);
        let mut answer: std::pin::Pin<Box<dyn Future<Output = GroupAnswer> + 't>> =
            Box::pin(target.append_group(appends));
        let polled = std::future::poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = polled {
            answer = Box::pin(std::future::ready(result));
        }
        Flight {
            group,
            keyed,
            answer,
        }
    }

    /// Wait for the group to be written and check the store put every append exactly where
    /// the export had it. Returns the new count of records written and of keyed appends.
    async fn land(self, written: u64, keyed: u64) -> Result<(u64, u64), ReplayError> {
        let failed = |reason: String| ReplayError::ImportWriteFailed { written, reason };
        let answers = self.answer.await.map_err(|e| failed(e.to_string()))?;
        let mut count = written;
        for (records, answer) in self.group.iter().zip(answers) {
            let result = answer.map_err(|e| failed(e.to_string()))?;
            check_placed(records, &result).map_err(failed)?;
            count += records.len() as u64;
        }
        Ok((count, keyed + self.keyed))
    }
}

/// Why the store's answer does not place `records` where the export has them, if it does not.
fn check_placed(records: &[RecordedEvent], result: &AppendResult) -> Result<(), String> {
    let (first, last) = (&records[0], &records[records.len() - 1]);
    if result.deduplicated
        || result.first_position != first.position
        || result.last_position != last.position
        || result.stream_version != last.stream_version
        || result.recorded_at_us != first.recorded_at_us
    {
        return Err(format!(
            "the store placed positions {}..={} (stream version {}, recorded at {} µs{}) where the export has {}..={} (stream version {}, recorded at {} µs)",
            result.first_position,
            result.last_position,
            result.stream_version,
            result.recorded_at_us,
            if result.deduplicated { ", as a repeat" } else { "" },
            first.position,
            last.position,
            last.stream_version,
            first.recorded_at_us
        ));
    }
    Ok(())
}
