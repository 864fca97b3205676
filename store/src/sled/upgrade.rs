//! The layout check on open and the in-place upgrade from layout 2: the only place older
//! layouts are known.
//!
//! Layout 2 (one key per record and per stream-index entry) is upgraded in place on the first
//! open by this build: the layout byte becomes 3 first (with an `m` `upgrading` marker), then
//! the records are sealed into blocks and each stream's entries packed into chunks, in bounded
//! atomic batches; the marker goes last. Every intermediate state is a valid layout-3 log, so
//! a crash during the upgrade is finished by the next open. A layout-2 index entry (one
//! position under its version) is a chunk of one, so the chunk format is a superset. Layout 1
//! (several trees committed by a multi-tree sled transaction) is refused on open with
//! [`StoreError::UnknownLayout`], as is any layout byte this build does not know.

use super::*;

/// The previous layout: one key per record and per stream-index entry. Upgraded in place to
/// [`LAYOUT_V3`] on open (module doc).
pub const LAYOUT_V2: u8 = 2;
/// Present while an upgrade from layout 2 is under way (module doc).
pub const META_UPGRADING_KEY: &[u8] = b"mupgrading";

/// Most records read into memory at once while sealing on open (an upgrade from layout 2, or
/// finishing one a crash interrupted): bounds the memory and the size of each atomic batch.
pub const SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX: usize = 4_096;
/// Most stream-index entries rewritten in one atomic batch while packing a layout-2 index.
pub const PACK_ON_OPEN_ENTRIES_PER_BATCH_MAX: usize = 8_192;

/// Trees of layout 1; their presence means a log this build cannot read.
pub(super) const LAYOUT_V1_TREES: [&str; 5] = [
    "records",
    "stream_index",
    "stream_heads",
    "idempotency",
    "meta",
];

/// Check (or, for a new store, write) the layout and format bytes; returns the tree and the
/// layout found (2 or 3). Writes nothing unless the directory holds no log at all.
pub(super) fn check_layout(db: &sled::Db, path: &Path) -> Result<(sled::Tree, u8), StoreError> {
    let unknown = |found: String| StoreError::UnknownLayout {
        path: path.display().to_string(),
        found,
        supported: LAYOUT_V3,
    };
    // Look before `open_tree`, which would create the tree in a store we must not touch.
    for name in db.tree_names() {
        if LAYOUT_V1_TREES
            .iter()
            .any(|v1| name.as_ref() == v1.as_bytes())
        {
            return Err(unknown("1 (four sled trees)".into()));
        }
    }
    let log = db
        .open_tree(TREE_LOG)
        .map_err(|e| backend(&format!("opening tree {TREE_LOG}"), e))?;
    let layout = log
        .get(META_LAYOUT_KEY)
        .map_err(|e| backend("reading the layout version", e))?;
    let found = match layout.as_deref() {
        Some(&[found @ (LAYOUT_V2 | LAYOUT_V3)]) => found,
        Some(other) => return Err(unknown(format!("{other:?}"))),
        None => {
            let empty = log
                .first()
                .map_err(|e| backend("reading the log", e))?
                .is_none();
            if !empty {
                return Err(unknown("none (entries without a layout version)".into()));
            }
            let mut init = sled::Batch::default();
            init.insert(META_FORMAT_KEY, &[codec::RECORD_FORMAT_V1][..]);
            init.insert(META_LAYOUT_KEY, &[LAYOUT_V3][..]);
            log.apply_batch(init)
                .map_err(|e| backend("writing the layout version", e))?;
            db.flush().map_err(|e| backend("flushing meta", e))?;
            LAYOUT_V3
        }
    };
    match log
        .get(META_FORMAT_KEY)
        .map_err(|e| backend("reading meta", e))?
    {
        Some(v) if v.as_ref() == [codec::RECORD_FORMAT_V1] => Ok((log, found)),
        other => Err(StoreError::Codec(format!(
            "store at {} has record format {:?}; this build reads format {}",
            path.display(),
            other.as_deref(),
            codec::RECORD_FORMAT_V1
        ))),
    }
}

/// Seal every full block of unsealed records, in atomic batches of at most
/// [`SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX`] records, and return the last sealed position and
/// the records left unsealed (fewer than one full block). Normally there is nothing to seal:
/// the writer seals as it commits. After an upgrade from layout 2 (or a crash during one)
/// every record is unsealed. The records are moved byte for byte; a gap in the unsealed
/// records is corruption and fails the open, naming the position.
pub(super) fn seal_on_open(log: &sled::Tree) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
    let mut sealed_through = last_sealed_position(log)?;
    loop {
        let first = sealed_through + 1;
        let mut unsealed: Vec<Vec<u8>> = Vec::new();
        for entry in log
            .range(record_key(first)..=record_key(u64::MAX))
            .take(SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX)
        {
            let (key, bytes) = entry.map_err(|e| backend("reading unsealed records", e))?;
            let expected = first + unsealed.len() as u64;
            let position = position_of_record_key(&key)?;
            if position != expected {
                return Err(StoreError::Corrupt {
                    position: expected,
                    reason: format!("record is missing (the next stored one is {position})"),
                });
            }
            unsealed.push(bytes.to_vec());
        }
        let mut writes = sled::Batch::default();
        let records: Vec<&[u8]> = unsealed.iter().map(Vec::as_slice).collect();
        let sealed = insert_full_blocks(&mut writes, first, &records);
        if sealed == 0 {
            assert!(unsealed.len() < SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX);
            return Ok((sealed_through, unsealed));
        }
        for position in first..first + sealed as u64 {
            writes.remove(&record_key(position)[..]);
        }
        log.apply_batch(writes)
            .map_err(|e| backend("sealing records into blocks", e))?;
        sealed_through += sealed as u64;
    }
}

/// Pack each stream's layout-2 index entries (one position per key) into chunks, one atomic
/// batch per group of streams, so every stream is either packed or not. Streams already
/// packed are left alone.
pub(super) fn pack_stream_index(log: &sled::Tree) -> Result<(), StoreError> {
    let mut cursor = vec![KEY_PREFIX_STREAM_INDEX];
    let mut writes = sled::Batch::default();
    let mut entries_in_batch = 0usize;
    loop {
        let next = log
            .range(cursor.clone()..vec![KEY_PREFIX_STREAM_INDEX + 1])
            .next()
            .transpose()
            .map_err(|e| backend("reading the stream index", e))?;
        let Some((key, _)) = next else { break };
        let separator = key
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| StoreError::Corrupt {
                position: 0,
                reason: format!("stream index key {key:?} has no separator"),
            })?;
        let stream = String::from_utf8_lossy(&key[1..separator]).into_owned();
        let mut chunks: Vec<(u64, Vec<u64>)> = Vec::new();
        for entry in log.scan_prefix(&key[..=separator]) {
            let (key, value) = entry.map_err(|e| backend("reading the stream index", e))?;
            chunks.push((
                version_of_stream_index_key(&key)?,
                decode_chunk(&stream, &value)?,
            ));
        }
        let total: usize = chunks.iter().map(|(_, p)| p.len()).sum();
        if chunks.len() > total.div_ceil(STREAM_CHUNK_POSITIONS_MAX) {
            let mut entries = Vec::with_capacity(total);
            for (first, positions) in &chunks {
                for (i, &position) in positions.iter().enumerate() {
                    let version = first + i as u64;
                    if version != entries.len() as u64 + 1 {
                        return Err(StoreError::Corrupt {
                            position,
                            reason: format!(
                                "stream index of {stream} has version {version} where {} was expected",
                                entries.len() + 1
                            ),
                        });
                    }
                    entries.push((version, position));
                }
            }
            for (first, _) in &chunks {
                writes.remove(stream_index_key(&stream, *first));
            }
            for (first, positions) in extend_chunks(None, &entries) {
                writes.insert(stream_index_key(&stream, first), encode_chunk(&positions));
            }
            entries_in_batch += total;
        }
        if entries_in_batch >= PACK_ON_OPEN_ENTRIES_PER_BATCH_MAX {
            log.apply_batch(std::mem::take(&mut writes))
                .map_err(|e| backend("packing the stream index", e))?;
            entries_in_batch = 0;
        }
        // The next stream: every key of this one starts with `s` ‖ stream ‖ 0x00.
        cursor = key[..=separator].to_vec();
        *cursor.last_mut().unwrap() = 1;
    }
    log.apply_batch(writes)
        .map_err(|e| backend("packing the stream index", e))
}

/// Upgrade a layout-2 log in place (module doc): mark the upgrade and the new layout first,
/// then seal the records, pack the stream index, and remove the marker. Idempotent, so an
/// open after a crash in the middle finishes it.
pub(super) fn upgrade_from_layout_2(db: &sled::Db, log: &sled::Tree) -> Result<(), StoreError> {
    let mut mark = sled::Batch::default();
    mark.insert(META_LAYOUT_KEY, &[LAYOUT_V3][..]);
    mark.insert(META_UPGRADING_KEY, &[LAYOUT_V2][..]);
    log.apply_batch(mark)
        .map_err(|e| backend("marking the layout upgrade", e))?;
    db.flush()
        .map_err(|e| backend("flushing the layout upgrade", e))?;
    seal_on_open(log)?;
    pack_stream_index(log)?;
    db.flush()
        .map_err(|e| backend("flushing the layout upgrade", e))?;
    log.remove(META_UPGRADING_KEY)
        .map_err(|e| backend("finishing the layout upgrade", e))?;
    db.flush()
        .map_err(|e| backend("flushing the layout upgrade", e))?;
    Ok(())
}
