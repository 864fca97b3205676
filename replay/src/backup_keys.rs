//! The data keys of an export, kept beside it for a restore (`caseledger export --keys FILE`,
//! `caseledger import-log EXPORT --keys FILE`; docs/operations.md "Backup and restore").
//!
//! An export holds persons sealed with their data keys (docs/decisions/0009-crypto-shredding.md),
//! which live in the key store, not the log: a restore without them reads every person as
//! withheld. The keys file carries each exported case's key store entry as it is stored,
//! wrapped under the KEK, or the tombstone of an erased person: never a plaintext key, so the
//! file is useless without the KEK, which is kept apart.
//!
//! JSON Lines. Line 1, the header: format name and version, the id of the KEK the keys are
//! wrapped under (`null` for a store that never had one) and the export it belongs to
//! (`ROOT@POSITION`). Then one line per subject, `{"subject":"X123456","key":HEX}` with the
//! wrapped key as hex, or `"destroyed"` for an erased person. Last, `{"keys":N}`: the count of
//! subject lines, so a truncated file is refused rather than restoring fewer persons.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use caseledger_store::crypto::{Kek, KekId, WrappedKey};
use caseledger_store::keystore::DataKeyEntry;
use caseledger_store::{EventStore, StreamId};
use serde::{Deserialize, Serialize};

use crate::error::ReplayError;
use crate::export::{EXPORT_FORMAT_NAME, EXPORT_LINE_BYTES_MAX};
use crate::import::read_line_bounded;

/// Name in the header's `format` field.
pub const KEYS_FORMAT_NAME: &str = "caseledger-data-keys";
/// Version of the keys file format; bump on any change to the line shapes.
pub const KEYS_FORMAT_VERSION: u32 = 1;
/// The `key` of an erased person: the tombstone, carried so the person stays erased.
pub const KEY_DESTROYED: &str = "destroyed";
/// Key store entries read per page while writing a keys file (about 200 bytes each).
pub const KEYS_PAGE_ENTRIES: u32 = 1_024;
/// Longest keys file line accepted, in bytes: a subject of at most 128 bytes and a wrapped
/// key of 146 hex digits fit many times over; anything longer is not a keys file line.
pub const KEYS_LINE_BYTES_MAX: usize = 4_096;

/// The first line of a keys file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysHeader {
    pub format: String,
    pub version: u32,
    /// The KEK the keys are wrapped under; `None` when the store never had one.
    pub kek_id: Option<String>,
    /// The export these keys belong to: its `ROOT@POSITION`.
    pub export: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyLine {
    subject: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndLine {
    keys: u64,
}

/// What a keys file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeysSummary {
    /// Subjects with a live (wrapped) key.
    pub live: u64,
    /// Subjects whose key was destroyed (erased persons).
    pub destroyed: u64,
}

impl KeysSummary {
    fn count(&mut self, entry: &DataKeyEntry) {
        match entry {
            DataKeyEntry::Destroyed => self.destroyed += 1,
            _ => self.live += 1,
        }
    }
    fn total(&self) -> u64 {
        self.live + self.destroyed
    }
}

/// Whether `subject`'s case is in the export of positions 1..=`head`: its first record is.
async fn in_export<S: EventStore + ?Sized>(
    store: &S,
    subject: &StreamId,
    head: u64,
) -> Result<bool, ReplayError> {
    let first = store.read_stream_page(subject, 1, 1).await?;
    Ok(first.first().is_some_and(|r| r.position <= head))
}

fn write_line(out: &mut impl Write, line: &impl Serialize) -> Result<(), ReplayError> {
    serde_json::to_writer(&mut *out, line).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Write the key store entries of the cases in the export `root@head` of `store` to `out`:
/// every wrapped key and tombstone whose case has a record at or before `head`, read page by
/// page ([`KEYS_PAGE_ENTRIES`]). Run it after the export, so every case exported is keyed.
pub async fn write_keys<S: EventStore + ?Sized, W: Write>(
    store: &S,
    export: &str,
    head: u64,
    mut out: W,
) -> Result<KeysSummary, ReplayError> {
    let keys = store.key_store();
    let header = KeysHeader {
        format: KEYS_FORMAT_NAME.to_owned(),
        version: KEYS_FORMAT_VERSION,
        kek_id: keys.kek_id().await?.map(|id| id.as_str().to_owned()),
        export: export.to_owned(),
    };
    write_line(&mut out, &header)?;
    let mut summary = KeysSummary::default();
    let mut after: Option<StreamId> = None;
    loop {
        let page = keys
            .data_keys_page(after.as_ref(), KEYS_PAGE_ENTRIES)
            .await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (subject, entry) in page {
            if !in_export(store, &subject, head).await? {
                continue;
            }
            let key = match &entry {
                DataKeyEntry::Wrapped(wrapped) => hex::encode(wrapped.as_bytes()),
                _ => KEY_DESTROYED.to_owned(),
            };
            let subject = subject.as_str().to_owned();
            write_line(&mut out, &KeyLine { subject, key })?;
            summary.count(&entry);
        }
    }
    write_line(
        &mut out,
        &EndLine {
            keys: summary.total(),
        },
    )?;
    out.flush()?;
    Ok(summary)
}

/// [`write_keys`] into the file `path`, private to its owner (mode 600): written beside it
/// under a temporary name and renamed into place once complete, so a failed run never
/// leaves a partial keys file where a good one was.
pub async fn write_keys_file<S: EventStore + ?Sized>(
    store: &S,
    export: &str,
    head: u64,
    path: &Path,
) -> Result<KeysSummary, ReplayError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // A temporary file is created with mode 600.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    let summary = write_keys(store, export, head, std::io::BufWriter::new(&mut file)).await?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(summary)
}

fn bad_line(line: u64, reason: impl Into<String>) -> ReplayError {
    ReplayError::KeysLine {
        line,
        reason: reason.into(),
    }
}

/// A keys file read line by line, each entry checked: the subject is a stream id named once
/// only in order, and its wrapped key opens under the KEK for that subject (so a key moved to
/// another person or wrapped under another KEK is refused, never loaded).
pub struct KeysReader<R> {
    input: R,
    kek: Option<Kek>,
    header: KeysHeader,
    buffer: Vec<u8>,
    line: u64,
    summary: KeysSummary,
}

impl<R: BufRead> KeysReader<R> {
    /// Read the header and check it names `kek`'s id (the KEK the new store is opened with)
    /// and the export `export` (`ROOT@POSITION`); a header that does not is refused naming
    /// both.
    pub fn open(mut input: R, kek: Option<&Kek>, export: &str) -> Result<Self, ReplayError> {
        let mut buffer = Vec::new();
        if !read_keys_line(&mut input, &mut buffer, 1)? {
            return Err(bad_line(
                1,
                "the keys file is empty; a header line is required",
            ));
        }
        let header = parse_header(&buffer)?;
        check_kek(&header, kek)?;
        if header.export != export {
            return Err(ReplayError::KeysForAnotherExport {
                keys_export: header.export,
                export: export.to_owned(),
            });
        }
        Ok(KeysReader {
            input,
            kek: kek.cloned(),
            header,
            buffer,
            line: 1,
            summary: KeysSummary::default(),
        })
    }

    /// The id of the KEK the keys are wrapped under, if any.
    pub fn kek_id(&self) -> Option<&str> {
        self.header.kek_id.as_deref()
    }

    /// The next entry with its line number; `None` after the closing line, whose count must
    /// match the entries read.
    pub fn next_entry(&mut self) -> Result<Option<(u64, StreamId, DataKeyEntry)>, ReplayError> {
        self.line += 1;
        let line = self.line;
        if !read_keys_line(&mut self.input, &mut self.buffer, line)? {
            return Err(bad_line(
                line,
                "the keys file ends without its closing {\"keys\":N} line (truncated?)",
            ));
        }
        if let Ok(end) = serde_json::from_slice::<EndLine>(&self.buffer) {
            return self.finish(end.keys).map(|()| None);
        }
        let parsed: KeyLine = serde_json::from_slice(&self.buffer).map_err(|e| {
            bad_line(
                line,
                format!("not a key line {{\"subject\":…,\"key\":…}}: {e}"),
            )
        })?;
        let (subject, entry) = self.check_entry(parsed)?;
        self.summary.count(&entry);
        Ok(Some((line, subject, entry)))
    }

    fn check_entry(&self, parsed: KeyLine) -> Result<(StreamId, DataKeyEntry), ReplayError> {
        let line = self.line;
        let subject =
            StreamId::new(parsed.subject).map_err(|e| bad_line(line, format!("subject: {e}")))?;
        if parsed.key == KEY_DESTROYED {
            return Ok((subject, DataKeyEntry::Destroyed));
        }
        let wrapped = hex::decode(&parsed.key)
            .ok()
            .and_then(WrappedKey::from_stored)
            .ok_or_else(|| {
                bad_line(
                    line,
                    format!("key is neither {KEY_DESTROYED:?} nor a wrapped data key in hex"),
                )
            })?;
        let kek = self
            .kek
            .as_ref()
            .ok_or_else(|| bad_line(line, "a key line in a keys file whose header names no KEK"))?;
        kek.unwrap(subject.as_str(), &wrapped).map_err(|e| {
            bad_line(
                line,
                format!(
                    "the key of {subject} does not open under KEK {}: {e}",
                    kek.id()
                ),
            )
        })?;
        Ok((subject, DataKeyEntry::Wrapped(wrapped)))
    }

    fn finish(&mut self, keys: u64) -> Result<(), ReplayError> {
        let line = self.line;
        if keys != self.summary.total() {
            return Err(bad_line(
                line,
                format!(
                    "the closing line counts {keys} keys but {} precede it (lines deleted or added?)",
                    self.summary.total()
                ),
            ));
        }
        if read_keys_line(&mut self.input, &mut self.buffer, line + 1)? {
            return Err(bad_line(
                line + 1,
                "a line after the closing {\"keys\":N} line",
            ));
        }
        Ok(())
    }

    /// What the entries read so far hold.
    pub fn summary(&self) -> &KeysSummary {
        &self.summary
    }
}

fn read_keys_line<R: BufRead>(
    input: &mut R,
    buffer: &mut Vec<u8>,
    line: u64,
) -> Result<bool, ReplayError> {
    read_line_bounded(input, buffer, line, KEYS_LINE_BYTES_MAX).map_err(|e| match e {
        ReplayError::ImportLine { line, reason } => bad_line(line, reason),
        other => other,
    })
}

fn parse_header(text: &[u8]) -> Result<KeysHeader, ReplayError> {
    let header: KeysHeader = serde_json::from_slice(text).map_err(|e| {
        bad_line(
            1,
            format!(
                "not a keys file header ({e}); was the file written by `caseledger export --keys`?"
            ),
        )
    })?;
    if header.format != KEYS_FORMAT_NAME || header.version != KEYS_FORMAT_VERSION {
        return Err(bad_line(
            1,
            format!(
                "format {:?} version {} is not supported (this build reads {KEYS_FORMAT_NAME:?} version {KEYS_FORMAT_VERSION})",
                header.format, header.version
            ),
        ));
    }
    if let Some(id) = &header.kek_id {
        KekId::parse(id).ok_or_else(|| bad_line(1, "kek_id is not 32 hex digits"))?;
    }
    Ok(header)
}

/// The header's KEK must be the one the new store is opened with.
fn check_kek(header: &KeysHeader, kek: Option<&Kek>) -> Result<(), ReplayError> {
    let Some(keys_kek) = &header.kek_id else {
        return Ok(());
    };
    match kek {
        Some(kek) if kek.id().as_str() == keys_kek => Ok(()),
        given => Err(ReplayError::KeysUnderAnotherKek {
            keys_kek: keys_kek.clone(),
            store_kek: given.map_or_else(
                || "none (no key file was found)".to_owned(),
                |k| k.id().to_string(),
            ),
        }),
    }
}

/// Read a whole keys file through `reader` (the first of a restore's two passes, which writes
/// nothing): every line checked, each subject named once. Returns subject → (line, false),
/// for [`scan_export`] to mark; its memory is one entry per person in the file.
pub fn check_keys<R: BufRead>(
    reader: &mut KeysReader<R>,
) -> Result<BTreeMap<String, (u64, bool)>, ReplayError> {
    let mut subjects = BTreeMap::new();
    while let Some((line, subject, _)) = reader.next_entry()? {
        let name = subject.as_str().to_owned();
        if let Some((first, _)) = subjects.insert(name, (line, false)) {
            return Err(bad_line(
                line,
                format!("subject {subject} is named twice (first on line {first})"),
            ));
        }
    }
    Ok(subjects)
}

/// What the records of an export say about the keys a restore needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSealing {
    /// Records holding personal data sealed with a person's data key.
    pub sealed_records: u64,
    /// Of those, records whose subject has no entry in the keys file (read as withheld).
    pub sealed_without_key: u64,
}

#[derive(Deserialize)]
struct RecordSubject {
    stream_id: String,
    payload: RecordType,
}

#[derive(Deserialize)]
struct RecordType {
    event_type: String,
    schema_version: u16,
}

/// Scan an export already checked by `stage_import`: count its sealed records, and mark in
/// `subjects` (subject → keys file line, found) each subject whose case is in it. The memory
/// is that of `subjects`: one entry per person in the keys file.
pub fn scan_export<R: BufRead>(
    mut input: R,
    subjects: &mut BTreeMap<String, (u64, bool)>,
) -> Result<ExportSealing, ReplayError> {
    let mut buffer = Vec::new();
    let mut sealing = ExportSealing::default();
    let mut line = 1u64;
    // The header (line 1) names no stream.
    read_line_bounded(&mut input, &mut buffer, line, EXPORT_LINE_BYTES_MAX)?;
    loop {
        line += 1;
        if !read_line_bounded(&mut input, &mut buffer, line, EXPORT_LINE_BYTES_MAX)? {
            return Ok(sealing);
        }
        let record: RecordSubject =
            serde_json::from_slice(&buffer).map_err(|e| ReplayError::ImportLine {
                line,
                reason: format!("not a record line of a {EXPORT_FORMAT_NAME}: {e}"),
            })?;
        let keyed = subjects.get_mut(&record.stream_id).map(|(_, found)| {
            *found = true;
        });
        if caseledger_payload::is_sealed(&record.payload.event_type, record.payload.schema_version)
        {
            sealing.sealed_records += 1;
            if keyed.is_none() {
                sealing.sealed_without_key += 1;
            }
        }
    }
}

/// The first keys file subject (with its line) whose case is not in the export, if any.
pub fn first_not_in_export(subjects: &BTreeMap<String, (u64, bool)>) -> Option<(u64, &str)> {
    subjects
        .iter()
        .filter(|(_, (_, found))| !found)
        .map(|(subject, (line, _))| (*line, subject.as_str()))
        .min()
}

/// Load a checked keys file's entries into `store`'s key store, which must hold no other
/// entry for them: a key is inserted, a tombstone left for an erased person. The store must
/// already record `kek`'s id (the caller claims it after every check).
pub async fn load_keys<S: EventStore + ?Sized, R: BufRead>(
    store: &S,
    reader: &mut KeysReader<R>,
) -> Result<KeysSummary, ReplayError> {
    let keys = store.key_store();
    while let Some((line, subject, entry)) = reader.next_entry()? {
        let stored = match &entry {
            DataKeyEntry::Wrapped(wrapped) => keys.insert_data_key(&subject, wrapped).await?,
            _ => {
                keys.destroy_data_key(&subject).await?;
                DataKeyEntry::Destroyed
            }
        };
        if stored != entry {
            return Err(ReplayError::ImportWriteFailed {
                written: 0,
                reason: format!(
                    "the target store already holds another key for {subject} (keys file line {line}); restore into a new store"
                ),
            });
        }
    }
    Ok(reader.summary().clone())
}
