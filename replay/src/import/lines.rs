//! The checks of an export's record lines that do not depend on the lines before them, run on
//! worker threads.
//!
//! Parsing a line's JSON, converting it back to a record, recomputing its hash, re-rendering
//! the canonical line and encoding the store bytes are most of an import's staging time, and
//! none of it needs the lines before: [`check_lines`] hands chunks of lines to worker threads
//! (one per core, at most [`STAGE_WORKERS_MAX`]) and gives the results back, strictly in line
//! order, to the caller, which does what must see the lines in order (the chain links, the
//! Merkle tree, the staging file). A worker decides nothing: it records each check's outcome, and the
//! caller reports the faults in the order a line-by-line check finds them, so the first bad
//! line and the fault named for it do not depend on which thread got there first.
//!
//! Memory is bounded whatever the export's size: at most [`STAGE_CHUNKS_IN_FLIGHT_MAX`] chunks
//! are read and not yet taken by the caller, each of at most [`STAGE_CHUNK_LINES_MAX`] lines
//! and under [`STAGE_CHUNK_BYTES_MAX`] plus one line's bytes.

use std::any::Any;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::thread;

use caseledger_store::hash::record_hash;
use caseledger_store::{RecordedEvent, StoreError};

use super::read_line_bounded;
use crate::error::ReplayError;
use crate::export::{RecordLine, EXPORT_LINE_BYTES_MAX};
use crate::merkle::{leaf_hash, Hash32};
use crate::payload::PayloadJson;
use crate::store_glue::canonical_record_bytes;

/// Most worker threads checking lines, whatever the machine's parallelism: past a few, the
/// one thread that takes the results in order is the bottleneck.
pub const STAGE_WORKERS_MAX: usize = 8;
/// Most lines in one chunk handed to a worker: enough that handing over costs little next to
/// checking them.
pub const STAGE_CHUNK_LINES_MAX: usize = 256;
/// A chunk is closed once it holds this many bytes of lines (so a chunk of long lines stays
/// small); one line is at most [`EXPORT_LINE_BYTES_MAX`], so a chunk is under this plus that.
pub const STAGE_CHUNK_BYTES_MAX: usize = 256 << 10;
/// Most chunks read and not yet taken in order: bounds memory, and keeps every worker busy
/// while the chunk the ordering thread waits for is still being checked.
pub const STAGE_CHUNKS_IN_FLIGHT_MAX: usize = 8;

/// What a worker found about one line, in the order a line-by-line check looks.
pub(super) enum LineChecked {
    /// Refused before the chain is consulted (not a record line, position beyond the head,
    /// not convertible to a record): the reason.
    Refused(String),
    /// A record, with the outcome of the checks after the chain's.
    Record(Box<RecordChecked>),
    /// Checking the line panicked (a bug): resumed when the line's turn comes, so the lines
    /// before it are still checked first, as a line-by-line check would.
    Panicked(Box<dyn Any + Send>),
}

/// A line that converted to a record. Which of its faults is reported depends on the chain,
/// which only the ordering thread knows, so each outcome is kept.
pub(super) struct RecordChecked {
    pub record: RecordedEvent,
    /// [`record_hash`] of `record`, for `ChainVerifier::accept_hashed`.
    pub recomputed: Result<Hash32, StoreError>,
    /// The canonical-line check, then the store encoding: the first fault's reason, or the
    /// record as it is staged.
    pub staged: Result<StagedRecord, String>,
}

/// A record in the store's encoding, as the staging file and the Merkle tree take it.
pub(super) struct StagedRecord {
    pub bytes: Vec<u8>,
    /// `bytes.len()`, checked to fit the staging file's length prefix.
    pub length: u32,
    /// The Merkle leaf hash of `bytes`.
    pub leaf: Hash32,
}

/// Consecutive lines, checked by one worker.
struct Chunk {
    /// Place of the chunk in the export, from 0: results are taken in this order.
    sequence: u64,
    text: Vec<u8>,
    /// Where each line ends in `text`.
    ends: Vec<usize>,
}

impl Chunk {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start..end])
    }
}

/// A chunk's lines as checked, in line order.
struct ChunkChecked {
    sequence: u64,
    lines: Vec<LineChecked>,
}

/// Check the record lines of `input` (the line numbered `first_line` onwards) and hand each
/// to `take` with its line number, in line order. `take`'s first error stops the import and
/// is returned; workers then stop after the chunk they hold. Returns the number of the line
/// where the input ended, or the reading error (line too long, I/O), which, like any fault,
/// is reported only once every line before it was taken.
pub(super) fn check_lines<R: BufRead>(
    input: R,
    first_line: u64,
    head: u64,
    payloads: &(dyn PayloadJson + Sync),
    take: impl FnMut(u64, LineChecked) -> Result<(), ReplayError>,
) -> Result<u64, ReplayError> {
    let (work_sender, work_receiver) = mpsc::channel();
    let work = Mutex::new(work_receiver);
    let (done_sender, done) = mpsc::channel();
    thread::scope(|scope| {
        for _ in 0..worker_count() {
            let (work, done_sender) = (&work, done_sender.clone());
            scope.spawn(move || check_chunks(work, done_sender, head, payloads));
        }
        drop(done_sender);
        // Owns the work sender: on return, however early, the workers see the queue closed.
        let reader = ChunkReader::new(input, first_line);
        take_in_order(reader, work_sender, done, take)
    })
}

/// The machine's parallelism, at most [`STAGE_WORKERS_MAX`].
fn worker_count() -> usize {
    thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(STAGE_WORKERS_MAX)
}

/// Keep up to [`STAGE_CHUNKS_IN_FLIGHT_MAX`] chunks with the workers and hand their lines to
/// `take` in order, holding back results that come in before the ones due.
fn take_in_order<R: BufRead>(
    mut reader: ChunkReader<R>,
    work: Sender<Chunk>,
    done: Receiver<ChunkChecked>,
    mut take: impl FnMut(u64, LineChecked) -> Result<(), ReplayError>,
) -> Result<u64, ReplayError> {
    let mut early = BTreeMap::new();
    let mut due = 0u64;
    let mut in_flight = 0usize;
    let mut line = reader.next_line;
    loop {
        while in_flight < STAGE_CHUNKS_IN_FLIGHT_MAX {
            let Some(chunk) = reader.next_chunk() else {
                break;
            };
            work.send(chunk).map_err(|_| workers_stopped())?;
            in_flight += 1;
        }
        if in_flight == 0 {
            return reader.end();
        }
        let checked = done.recv().map_err(|_| workers_stopped())?;
        early.insert(checked.sequence, checked.lines);
        while let Some(lines) = early.remove(&due) {
            (due, in_flight) = (due + 1, in_flight - 1);
            for checked in lines {
                take(line, checked)?;
                line += 1;
            }
        }
    }
}

/// Workers catch panics and leave only when the queue closes, so this is not expected; it is
/// an error rather than a hang or a panic all the same.
fn workers_stopped() -> ReplayError {
    std::io::Error::other("the threads checking the export's lines stopped unexpectedly").into()
}

/// A worker: check chunks until the queue closes or nobody takes the results any more.
fn check_chunks(
    work: &Mutex<Receiver<Chunk>>,
    done: Sender<ChunkChecked>,
    head: u64,
    payloads: &(dyn PayloadJson + Sync),
) {
    while let Some(chunk) = next_chunk(work) {
        let lines = chunk
            .lines()
            .map(|text| check_line_caught(text, head, payloads))
            .collect();
        let checked = ChunkChecked {
            sequence: chunk.sequence,
            lines,
        };
        if done.send(checked).is_err() {
            return;
        }
    }
}

/// The next chunk of the shared queue; the lock is held only while taking it.
fn next_chunk(work: &Mutex<Receiver<Chunk>>) -> Option<Chunk> {
    let queue = work.lock().ok()?;
    queue.recv().ok()
}

fn check_line_caught(text: &[u8], head: u64, payloads: &dyn PayloadJson) -> LineChecked {
    panic::catch_unwind(AssertUnwindSafe(|| check_line(text, head, payloads)))
        .unwrap_or_else(LineChecked::Panicked)
}

/// Every check of one line that does not need the lines before it.
fn check_line(text: &[u8], head: u64, payloads: &dyn PayloadJson) -> LineChecked {
    let record = match parse_record(text, head, payloads) {
        Ok(record) => record,
        Err(reason) => return LineChecked::Refused(reason),
    };
    let recomputed = record_hash(&record);
    let staged = check_canonical(&record, text, payloads).and_then(|()| stage_record(&record));
    LineChecked::Record(Box::new(RecordChecked {
        record,
        recomputed,
        staged,
    }))
}

/// The record a line holds, refused if not a record line or beyond the header's head (which
/// the chain would refuse too, but less helpfully).
fn parse_record(
    text: &[u8],
    head: u64,
    payloads: &dyn PayloadJson,
) -> Result<RecordedEvent, String> {
    let parsed: RecordLine =
        serde_json::from_slice(text).map_err(|e| format!("not a record line: {e}"))?;
    if parsed.position > head {
        return Err(format!(
            "position {} is beyond the head position {head} named in the header (inserted line?)",
            parsed.position
        ));
    }
    parsed.to_record(payloads)
}

/// The line export would write for this record, payload re-rendered from its bytes, must be
/// `text`: any text that parses to the same record but is not that line (an unknown payload
/// field the event ignores, spacing, escapes) is an alteration too. Reported after the chain's
/// faults, which name the more useful fault when both apply.
fn check_canonical(
    record: &RecordedEvent,
    text: &[u8],
    payloads: &dyn PayloadJson,
) -> Result<(), String> {
    let canonical = RecordLine::from_record(record, payloads)
        .map_err(|e| e.to_string())?
        .to_line()?;
    if canonical.as_bytes() != text {
        return Err(
            "the line differs from what export writes for this record (altered formatting or fields)"
                .to_owned(),
        );
    }
    Ok(())
}

/// The record in the store's encoding: the very bytes staged are the Merkle leaf.
fn stage_record(record: &RecordedEvent) -> Result<StagedRecord, String> {
    let bytes = canonical_record_bytes(record).map_err(|e| e.to_string())?;
    let length = u32::try_from(bytes.len()).map_err(|_| "record too large".to_owned())?;
    let leaf = leaf_hash(&bytes);
    Ok(StagedRecord {
        bytes,
        length,
        leaf,
    })
}

/// Reads the export into chunks on the ordering thread, ahead of the checks. A reading
/// error ends the chunks and is kept for [`ChunkReader::end`], so it is reported after the
/// lines before it, as a line-by-line reader would.
struct ChunkReader<R> {
    input: R,
    line_text: Vec<u8>,
    next_line: u64,
    next_sequence: u64,
    end: Option<Result<(), ReplayError>>,
}

impl<R: BufRead> ChunkReader<R> {
    fn new(input: R, first_line: u64) -> Self {
        ChunkReader {
            input,
            line_text: Vec::new(),
            next_line: first_line,
            next_sequence: 0,
            end: None,
        }
    }

    /// The next chunk, or `None` once the input is used up or could not be read.
    fn next_chunk(&mut self) -> Option<Chunk> {
        let mut chunk = Chunk {
            sequence: self.next_sequence,
            text: Vec::new(),
            ends: Vec::new(),
        };
        while self.end.is_none()
            && chunk.ends.len() < STAGE_CHUNK_LINES_MAX
            && chunk.text.len() < STAGE_CHUNK_BYTES_MAX
        {
            let line = self.next_line;
            match read_line_bounded(
                &mut self.input,
                &mut self.line_text,
                line,
                EXPORT_LINE_BYTES_MAX,
            ) {
                Ok(true) => {
                    chunk.text.extend_from_slice(&self.line_text);
                    chunk.ends.push(chunk.text.len());
                    self.next_line += 1;
                }
                Ok(false) => self.end = Some(Ok(())),
                Err(e) => self.end = Some(Err(e)),
            }
        }
        if chunk.ends.is_empty() {
            return None;
        }
        self.next_sequence += 1;
        Some(chunk)
    }

    /// How the input ended: the number of the line past the last, or the reading error.
    fn end(self) -> Result<u64, ReplayError> {
        self.end.unwrap_or(Ok(())).map(|()| self.next_line)
    }
}
