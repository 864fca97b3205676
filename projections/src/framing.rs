//! Framed rows: `u32 BE key length ‖ key ‖ u32 BE value length ‖ value`, one after another.
//!
//! The one byte format rows take outside a [`crate::Rows`]: a persisted row blob (one per
//! model and stream, local keys), the in-memory read models (one buffer per model, full keys)
//! and the digest (SHA-256 over a model's rows framed this way, full keys, in key order) all
//! use it. Because the digest hashes exactly these bytes, a model held framed in memory is
//! digested by hashing its buffer once.

use crate::ProjectionError;

/// Append one framed row whose key is the concatenation of `key_parts`.
///
/// Keys are at most a stream id plus `ROW_KEY_BYTES_MAX` bytes and a stream's rows at most
/// `ROW_BYTES_PER_STREAM_MAX` bytes (checked by `Rows::check` before rows get here), so both
/// lengths fit in u32; a length that did not would be a bug, and is asserted.
pub(crate) fn push_row(buffer: &mut Vec<u8>, key_parts: &[&[u8]], value: &[u8]) {
    let key_len: usize = key_parts.iter().map(|p| p.len()).sum();
    buffer.extend_from_slice(&frame_len(key_len).to_be_bytes());
    for part in key_parts {
        buffer.extend_from_slice(part);
    }
    buffer.extend_from_slice(&frame_len(value.len()).to_be_bytes());
    buffer.extend_from_slice(value);
}

pub(crate) fn frame_len(len: usize) -> u32 {
    let framed = u32::try_from(len);
    assert!(
        framed.is_ok(),
        "row part of {len} bytes does not fit a u32 frame"
    );
    framed.unwrap_or(u32::MAX)
}

/// Visit each (key, value) of framed rows, refusing malformed framing with a typed error.
pub(crate) fn for_each_row(
    mut rows: &[u8],
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), ProjectionError>,
) -> Result<(), ProjectionError> {
    fn take<'a>(rows: &mut &'a [u8]) -> Result<&'a [u8], ProjectionError> {
        let corrupt = |reason: &str| ProjectionError::Corrupt {
            what: "read-model row blob".to_owned(),
            reason: reason.to_owned(),
        };
        let (len, rest) = rows
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("truncated length"))?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| corrupt("length"))?;
        if rest.len() < len {
            return Err(corrupt("length beyond the end of the blob"));
        }
        let (part, rest) = rest.split_at(len);
        *rows = rest;
        Ok(part)
    }
    while !rows.is_empty() {
        let key = take(&mut rows)?;
        let value = take(&mut rows)?;
        visit(key, value)?;
    }
    Ok(())
}
