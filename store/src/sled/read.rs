//! Reading records and stream-index chunks: a record is looked up under its own key first,
//! then in its block (module doc of `sled`).

use super::*;

impl SledStore {
    /// Events of `stream` from `from_version`, at most `max_count` (version order).
    pub(super) fn read_stream_up_to(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.published_head();
        let from = from_version.max(1);
        let name = stream.as_str();
        // Start at the chunk holding `from` (the last one keyed at or below it).
        let start = self
            .log
            .range(stream_index_key(name, 0)..=stream_index_key(name, from))
            .next_back()
            .transpose()
            .map_err(|e| backend("reading the stream index", e))?
            .map_or_else(|| stream_index_key(name, from), |(key, _)| key.to_vec());
        let end = stream_index_key(name, u64::MAX);
        let mut out = Vec::new();
        let mut cached = None;
        for entry in self.log.range(start..=end) {
            let (key, value) = entry.map_err(|e| backend("reading the stream index", e))?;
            let first = version_of_stream_index_key(&key)?;
            for (i, position) in decode_chunk(name, &value)?.into_iter().enumerate() {
                if first + (i as u64) < from {
                    continue;
                }
                if out.len() >= max_count {
                    return Ok(out);
                }
                if position > head {
                    // Committed but not yet published (still being flushed): not there yet.
                    return Ok(out);
                }
                let record =
                    read_record_from(&self.log, position, &mut cached)?.ok_or_else(|| {
                        StoreError::Corrupt {
                            position,
                            reason: format!("stream index of {stream} points at a missing record"),
                        }
                    })?;
                out.push(record);
            }
        }
        Ok(out)
    }

    pub(super) fn published_head(&self) -> u64 {
        *self.head_rx.borrow()
    }

    pub(super) fn read_record(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        read_record_from(&self.log, position, &mut None)
    }

    /// Visit the stored bytes of every record from `from` to `to` in position order, sealed
    /// (from blocks) or not (under their own keys), until `visit` returns false. A record that
    /// cannot be found, or a block that does not parse, is visited as `Err(Corrupt)` and ends
    /// the walk. Backend failures are returned.
    pub(super) fn visit_records(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(u64, Result<&[u8], StoreError>) -> bool,
    ) -> Result<(), StoreError> {
        let mut position = from;
        let mut looked_twice_at = None;
        while position <= to {
            if let Some((first, value)) = block_at_or_before(&self.log, position)? {
                match BlockView::parse(first, &value) {
                    Ok(block) if block.last_position() >= position => {
                        let last = block.last_position().min(to);
                        for p in position..=last {
                            let bytes = block.record(p).expect("the block holds p");
                            if !visit(p, Ok(bytes)) {
                                return Ok(());
                            }
                        }
                        position = last + 1;
                        continue;
                    }
                    // The last block ends before `position`: it is unsealed.
                    Ok(_) => {}
                    Err(e) => {
                        visit(position, Err(e));
                        return Ok(());
                    }
                }
            }
            let start = position;
            for entry in self.log.range(record_key(position)..=record_key(to)) {
                let (key, bytes) = entry.map_err(|e| backend("reading records", e))?;
                if position_of_record_key(&key)? != position {
                    // A gap: sealed while we read (the next round finds its block) or missing.
                    break;
                }
                if !visit(position, Ok(&bytes)) {
                    return Ok(());
                }
                position += 1;
            }
            if position == start {
                // Neither in a block nor under its own key: either the writer sealed it
                // between our two reads (so it is in a block now), or it is missing.
                if looked_twice_at == Some(position) {
                    visit(
                        position,
                        Err(StoreError::Corrupt {
                            position,
                            reason: "record is missing".into(),
                        }),
                    );
                    return Ok(());
                }
                looked_twice_at = Some(position);
            }
        }
        Ok(())
    }
}

/// The record at `position`: under its own key if unsealed, else in its block (`cached`
/// keeps the last block read, so reading a stream's records in order reads each block once).
/// Own key first: sealing moves a record from its key into a block in one atomic batch and
/// never back, so in this order a record being sealed is not missed.
pub(super) fn read_record_from(
    log: &sled::Tree,
    position: u64,
    cached: &mut Option<(u64, sled::IVec)>,
) -> Result<Option<RecordedEvent>, StoreError> {
    if let Some((first, value)) = cached.as_ref() {
        let block = BlockView::parse(*first, value)?;
        if let Some(bytes) = block.record(position) {
            return decode_at(position, bytes).map(Some);
        }
    }
    if let Some(bytes) = log
        .get(record_key(position))
        .map_err(|e| backend("reading a record", e))?
    {
        return decode_at(position, &bytes).map(Some);
    }
    let Some((first, value)) = block_at_or_before(log, position)? else {
        return Ok(None);
    };
    let record = match BlockView::parse(first, &value)?.record(position) {
        Some(bytes) => Some(decode_at(position, bytes)?),
        None => None,
    };
    *cached = Some((first, value));
    Ok(record)
}

/// The last chunk of `stream`'s index: its first version and its positions.
pub(super) fn last_chunk(
    log: &sled::Tree,
    stream: &str,
) -> Result<Option<(u64, Vec<u64>)>, StoreError> {
    let last = log
        .range(stream_index_key(stream, 0)..=stream_index_key(stream, u64::MAX))
        .next_back()
        .transpose()
        .map_err(|e| backend("reading the stream index", e))?;
    match last {
        Some((key, value)) => Ok(Some((
            version_of_stream_index_key(&key)?,
            decode_chunk(stream, &value)?,
        ))),
        None => Ok(None),
    }
}

/// The block whose first position is the greatest at or below `position` (the block that
/// holds `position`, if it is sealed).
pub(super) fn block_at_or_before(
    log: &sled::Tree,
    position: u64,
) -> Result<Option<(u64, sled::IVec)>, StoreError> {
    let found = log
        .range(block_key(0)..=block_key(position))
        .next_back()
        .transpose()
        .map_err(|e| backend("reading a block", e))?;
    match found {
        Some((key, value)) => Ok(Some((first_position_of_block_key(&key)?, value))),
        None => Ok(None),
    }
}

/// The last sealed position: the end of the last block (0 when nothing is sealed).
pub(super) fn last_sealed_position(log: &sled::Tree) -> Result<u64, StoreError> {
    match block_at_or_before(log, u64::MAX)? {
        Some((first, value)) => Ok(BlockView::parse(first, &value)?.last_position()),
        None => Ok(0),
    }
}
