//! The pure half of on-disk layout 3 of the sled log: record blocks and stream-index chunks.
//!
//! Why layout 3 exists: sled 0.34 keeps an in-memory page-table entry, with one location per
//! page fragment, for EVERY page of the tree, and loads all of them when the database opens
//! (`PageCache::start` → `load_snapshot`); a leaf page holds at most 16 keys
//! (`Node::should_split`). With one key per record and one per stream-index entry, every
//! process that opened a log would hold about 100 MiB per million events before it read a
//! single record, and a full read-model rebuild's peak memory would grow with the log
//! (docs/decisions/0003-layout-3.md). Layout 3 keeps the same record bytes but
//! - seals consecutive records into **blocks** of up to [`BLOCK_RECORDS_MAX`] records (or
//!   about [`BLOCK_BYTES_TARGET`] bytes), one key per block;
//! - keeps each stream's index as **chunks** of up to [`STREAM_CHUNK_POSITIONS_MAX`]
//!   positions, one key per chunk;
//!
//! so a log has roughly 16 to 32 times fewer keys and pages.
//!
//! This module is the byte formats and the packing rules, without sled: the store
//! (the `sled` module) does the I/O. Everything here is deterministic: the blocks of a log
//! depend only on its record sequence, never on how appends were grouped into commits.

use crate::StoreError;

/// Key prefix of a block of sealed records (`b` ‖ first position, u64 BE).
pub const KEY_PREFIX_BLOCK: u8 = b'b';
/// Most records sealed into one block. With sled's 16 keys per leaf page this puts up to
/// 256 records on a page instead of 16, while keeping a page (and so what sled's cache holds
/// per page) a few tens of KiB for typical records of a few hundred bytes.
pub const BLOCK_RECORDS_MAX: usize = 16;
/// A block is sealed as soon as its records reach this many bytes, even with fewer than
/// [`BLOCK_RECORDS_MAX`] records: large payloads must not make pages of a MiB. A single record
/// larger than this is a block of its own.
pub const BLOCK_BYTES_TARGET: usize = 16 * 1024;
/// Most positions in one stream-index chunk (8 bytes each, so a chunk value is at most
/// 256 bytes and rewriting the last chunk on an append stays cheap).
pub const STREAM_CHUNK_POSITIONS_MAX: usize = 32;

/// Bytes of a block's header per record (the end offset of its bytes, u32 LE).
const BLOCK_OFFSET_BYTES: usize = 4;

fn corrupt(position: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        position,
        reason: reason.into(),
    }
}

/// `b` ‖ first position (u64 BE): byte order is position order.
pub fn block_key(first_position: u64) -> [u8; 9] {
    let mut key = [KEY_PREFIX_BLOCK; 9];
    key[1..].copy_from_slice(&first_position.to_be_bytes());
    key
}

/// The first position in a block key.
pub fn first_position_of_block_key(key: &[u8]) -> Result<u64, StoreError> {
    match key.split_first() {
        Some((&KEY_PREFIX_BLOCK, rest)) => rest
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| corrupt(0, format!("block key {key:?} is not 9 bytes"))),
        _ => Err(corrupt(0, format!("{key:?} is not a block key"))),
    }
}

/// How many records, from the start of `record_sizes` (the bytes of consecutive unsealed
/// records, oldest first), go into each full block. Records after the last full block stay
/// unsealed. A block is full when it holds [`BLOCK_RECORDS_MAX`] records or at least
/// [`BLOCK_BYTES_TARGET`] bytes.
pub fn full_blocks(record_sizes: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut blocks = Vec::new();
    let (mut records, mut bytes) = (0usize, 0usize);
    for size in record_sizes {
        records += 1;
        bytes = bytes.saturating_add(size);
        if records == BLOCK_RECORDS_MAX || bytes >= BLOCK_BYTES_TARGET {
            blocks.push(records);
            (records, bytes) = (0, 0);
        }
    }
    blocks
}

/// The value of a block: record count (u32 LE), the end offset of each record's bytes
/// (u32 LE, relative to the start of the data), then the records' bytes back to back.
pub fn encode_block(records: &[&[u8]]) -> Vec<u8> {
    assert!(!records.is_empty(), "a block holds at least one record");
    let data_bytes: usize = records.iter().map(|r| r.len()).sum();
    let header_bytes = BLOCK_OFFSET_BYTES * (records.len() + 1);
    let mut out = Vec::with_capacity(header_bytes + data_bytes);
    out.extend_from_slice(&u32::try_from(records.len()).unwrap().to_le_bytes());
    let mut end = 0usize;
    for record in records {
        end += record.len();
        // Records are at most RECORD_BYTES_MAX and blocks at most BLOCK_RECORDS_MAX of them
        // (or one oversized record), far below 4 GiB.
        out.extend_from_slice(&u32::try_from(end).unwrap().to_le_bytes());
    }
    for record in records {
        out.extend_from_slice(record);
    }
    out
}

/// A block value checked once on parse, so reading its records cannot fail or panic.
#[derive(Debug)]
pub struct BlockView<'a> {
    first_position: u64,
    ends: &'a [u8],
    data: &'a [u8],
}

impl<'a> BlockView<'a> {
    /// Check the block stored under `first_position`: a record count of at least one, end
    /// offsets that never go backwards, and data exactly as long as the last offset says.
    pub fn parse(first_position: u64, bytes: &'a [u8]) -> Result<Self, StoreError> {
        let bad = |reason: String| corrupt(first_position, format!("block: {reason}"));
        let (count, rest) = bytes
            .split_first_chunk::<BLOCK_OFFSET_BYTES>()
            .ok_or_else(|| bad(format!("{} bytes, too short for a header", bytes.len())))?;
        let count = u32::from_le_bytes(*count) as usize;
        if count == 0 {
            return Err(bad("holds no records".into()));
        }
        let ends_bytes = count
            .checked_mul(BLOCK_OFFSET_BYTES)
            .filter(|&n| n <= rest.len())
            .ok_or_else(|| {
                bad(format!(
                    "says {count} records but has {} bytes",
                    bytes.len()
                ))
            })?;
        let (ends, data) = rest.split_at(ends_bytes);
        let mut previous = 0usize;
        for end in ends.chunks_exact(BLOCK_OFFSET_BYTES) {
            let end = u32::from_le_bytes(end.try_into().unwrap()) as usize;
            if end < previous {
                return Err(bad("record offsets go backwards".into()));
            }
            previous = end;
        }
        if previous != data.len() {
            return Err(bad(format!(
                "records end at byte {previous} but the block has {} data bytes",
                data.len()
            )));
        }
        Ok(BlockView {
            first_position,
            ends,
            data,
        })
    }

    pub fn first_position(&self) -> u64 {
        self.first_position
    }

    /// The last position in the block.
    pub fn last_position(&self) -> u64 {
        self.first_position + self.len() as u64 - 1
    }

    pub fn len(&self) -> usize {
        self.ends.len() / BLOCK_OFFSET_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn end(&self, index: usize) -> usize {
        let at = index * BLOCK_OFFSET_BYTES;
        u32::from_le_bytes(self.ends[at..at + BLOCK_OFFSET_BYTES].try_into().unwrap()) as usize
    }

    /// The stored bytes of the record at `position`, if the block holds it.
    pub fn record(&self, position: u64) -> Option<&'a [u8]> {
        let index = usize::try_from(position.checked_sub(self.first_position)?).ok()?;
        if index >= self.len() {
            return None;
        }
        let start = if index == 0 { 0 } else { self.end(index - 1) };
        // `parse` checked the offsets are monotonic and end at `data.len()`.
        Some(&self.data[start..self.end(index)])
    }
}

/// A stream-index chunk value: positions (u64 BE each), for consecutive stream versions
/// starting at the version in its key.
pub fn encode_chunk(positions: &[u64]) -> Vec<u8> {
    assert!(
        (1..=STREAM_CHUNK_POSITIONS_MAX).contains(&positions.len()),
        "a chunk holds 1..={STREAM_CHUNK_POSITIONS_MAX} positions"
    );
    positions.iter().flat_map(|p| p.to_be_bytes()).collect()
}

/// The positions of a chunk. A layout-2 index entry (one position under its version) is a
/// chunk of one, so layout-2 indexes read unchanged.
pub fn decode_chunk(stream: &str, bytes: &[u8]) -> Result<Vec<u64>, StoreError> {
    if bytes.is_empty()
        || !bytes.len().is_multiple_of(8)
        || bytes.len() / 8 > STREAM_CHUNK_POSITIONS_MAX
    {
        return Err(corrupt(
            0,
            format!(
                "stream index chunk of {stream} is {} bytes (want 8 to {} in steps of 8)",
                bytes.len(),
                8 * STREAM_CHUNK_POSITIONS_MAX
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|p| u64::from_be_bytes(p.try_into().unwrap()))
        .collect())
}

/// The chunks to write when `entries` — (stream version, position) of one stream, versions
/// consecutive and following the last chunk's — are appended: the last chunk (first version,
/// positions), if any, is filled up to [`STREAM_CHUNK_POSITIONS_MAX`] and rewritten, then new
/// chunks follow, each keyed by its first version.
pub fn extend_chunks(
    last: Option<(u64, Vec<u64>)>,
    entries: &[(u64, u64)],
) -> Vec<(u64, Vec<u64>)> {
    let mut out: Vec<(u64, Vec<u64>)> = Vec::new();
    let mut current = last.filter(|(_, positions)| positions.len() < STREAM_CHUNK_POSITIONS_MAX);
    let mut next_version = current
        .as_ref()
        .map(|(first, positions)| first + positions.len() as u64);
    for &(version, position) in entries {
        if let Some(expected) = next_version {
            assert_eq!(version, expected, "stream versions are gapless");
        }
        next_version = Some(version + 1);
        match &mut current {
            Some((_, positions)) if positions.len() < STREAM_CHUNK_POSITIONS_MAX => {
                positions.push(position)
            }
            _ => {
                out.extend(current.take());
                current = Some((version, vec![position]));
            }
        }
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn records(sizes: &[usize]) -> Vec<Vec<u8>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| vec![i as u8; n])
            .collect()
    }

    #[test]
    fn a_block_returns_each_record_by_position_and_nothing_else() {
        let stored = records(&[3, 0, 40]);
        let refs: Vec<&[u8]> = stored.iter().map(Vec::as_slice).collect();
        let bytes = encode_block(&refs);
        let block = BlockView::parse(10, &bytes).unwrap();
        assert_eq!((block.len(), block.last_position()), (3, 12));
        assert_eq!(block.record(10), Some(&stored[0][..]));
        assert_eq!(block.record(11), Some(&[][..]));
        assert_eq!(block.record(12), Some(&stored[2][..]));
        assert_eq!(block.record(9), None);
        assert_eq!(block.record(13), None);
    }

    #[test]
    fn blocks_fill_to_the_record_limit_or_the_byte_target() {
        assert_eq!(full_blocks(vec![100; 15]), Vec::<usize>::new());
        assert_eq!(full_blocks(vec![100; 40]), vec![16, 16]);
        // A large record closes its block early; one over the target is a block of its own.
        assert_eq!(full_blocks([100, BLOCK_BYTES_TARGET - 100, 5]), vec![2]);
        assert_eq!(full_blocks([BLOCK_BYTES_TARGET * 3, 1]), vec![1]);
    }

    #[test]
    fn chunks_fill_the_last_one_then_start_new_ones_at_their_first_version() {
        // A layout-2 entry (a chunk of one) is filled like any other.
        let entries: Vec<(u64, u64)> = (2..=40).map(|v| (v, v * 10)).collect();
        let chunks = extend_chunks(Some((1, vec![10])), &entries);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].0, 1);
        assert_eq!(chunks[0].1.len(), STREAM_CHUNK_POSITIONS_MAX);
        assert_eq!(chunks[1], (33, (33..=40).map(|v| v * 10).collect()));
        // A full last chunk is left alone.
        let full = (1, (1..=32).collect::<Vec<u64>>());
        assert_eq!(extend_chunks(Some(full), &[(33, 99)]), vec![(33, vec![99])]);
        assert_eq!(extend_chunks(None, &[(1, 7)]), vec![(1, vec![7])]);
    }

    #[test]
    fn bad_chunks_are_corrupt_not_panics() {
        for bytes in [&[][..], &[1, 2, 3][..], &[0u8; 8 * 33][..]] {
            assert!(matches!(
                decode_chunk("X1", bytes),
                Err(StoreError::Corrupt { .. })
            ));
        }
        assert_eq!(
            decode_chunk("X1", &encode_chunk(&[5, 9])).unwrap(),
            vec![5, 9]
        );
    }

    proptest! {
        /// Any bytes parse to a block or to `Corrupt` naming the block; never a panic, and a
        /// block that parses returns records that lie within it.
        #[test]
        fn arbitrary_bytes_never_panic_the_block_reader(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            first in 1u64..1_000,
        ) {
            match BlockView::parse(first, &bytes) {
                Ok(block) => {
                    for p in first..=block.last_position() {
                        prop_assert!(block.record(p).is_some());
                    }
                }
                Err(StoreError::Corrupt { position, .. }) => prop_assert_eq!(position, first),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }

        /// Encoding then parsing gives back every record, whatever their sizes.
        #[test]
        fn blocks_round_trip(sizes in proptest::collection::vec(0usize..3_000, 1..BLOCK_RECORDS_MAX)) {
            let stored = records(&sizes);
            let refs: Vec<&[u8]> = stored.iter().map(Vec::as_slice).collect();
            let bytes = encode_block(&refs);
            let block = BlockView::parse(1, &bytes).unwrap();
            prop_assert_eq!(block.len(), stored.len());
            for (i, record) in stored.iter().enumerate() {
                prop_assert_eq!(block.record(1 + i as u64), Some(&record[..]));
            }
        }

        /// Packing depends only on the record sizes, not on how they arrive: sealing after
        /// every commit, however commits are cut, gives the blocks of sealing all at once.
        #[test]
        fn blocks_do_not_depend_on_how_commits_were_grouped(
            sizes in proptest::collection::vec(1usize..6_000, 0..200),
            cuts in proptest::collection::vec(1usize..20, 1..50),
        ) {
            let at_once = full_blocks(sizes.iter().copied());
            let mut incremental = Vec::new();
            let mut tail: Vec<usize> = Vec::new();
            let mut rest = &sizes[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() { break; }
                let take = (*cut).min(rest.len());
                tail.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                let blocks = full_blocks(tail.iter().copied());
                let sealed: usize = blocks.iter().sum();
                incremental.extend(blocks);
                tail.drain(..sealed);
            }
            prop_assert_eq!(incremental, at_once);
        }

        /// Chunks hold every position once, in version order, each at most
        /// STREAM_CHUNK_POSITIONS_MAX, keyed by the version of their first position.
        #[test]
        fn chunks_cover_every_version_once(
            existing in 0usize..70,
            appends in proptest::collection::vec(1usize..50, 1..6),
        ) {
            let mut stored: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
            let mut version = 0u64;
            let mut all = Vec::new();
            for n in std::iter::once(existing).chain(appends) {
                let entries: Vec<(u64, u64)> = (0..n).map(|_| { version += 1; (version, version * 7) }).collect();
                all.extend(entries.iter().map(|e| e.1));
                let last = stored.iter().next_back().map(|(k, v)| (*k, v.clone()));
                for (first, positions) in extend_chunks(last, &entries) {
                    stored.insert(first, positions);
                }
            }
            let mut expect_first = 1;
            let mut flat: Vec<u64> = Vec::new();
            for (first, positions) in &stored {
                prop_assert_eq!(*first, expect_first);
                prop_assert!((1..=STREAM_CHUNK_POSITIONS_MAX).contains(&positions.len()));
                expect_first += positions.len() as u64;
                flat.extend(positions.iter().copied());
            }
            prop_assert_eq!(flat, all);
        }
    }
}
