//! The projection contract: a deterministic fold over envelopes, per stream, and the rows each
//! stream contributes to its read models.
//!
//! A projection never sees the whole log at once. It folds each record into the state of the
//! record's stream (`apply`) and derives the complete set of rows that stream contributes from
//! that state alone (`rows`). This keeps memory bounded by the number of streams (cases), never
//! by the number of events, and makes the read models a pure function of the per-stream states:
//! the same log gives the same rows whether folded in one go, incrementally with restarts, or
//! stream by stream (design.md invariant 7).

use caseledger_store::RecordedEvent;
use serde::{de::DeserializeOwned, Serialize};

use crate::ProjectionError;

/// Most read models one projection may maintain; a model index is one byte of the row key.
pub const MODELS_PER_PROJECTION_MAX: usize = 16;
/// Longest row key a projection may emit, in bytes (before the stream prefix).
pub const ROW_KEY_BYTES_MAX: usize = 256;
/// Most rows one stream may contribute across all read models of a projection. A case has a
/// handful of rows in most models, but the performance measures add one row per measure and
/// month (PM7 counts every month of supervision): 2014–2030 is 204 months, so a long case can
/// pass 256 rows legitimately (found by the property test). 4,096 leaves an order of magnitude
/// of headroom; beyond it a runaway derivation is a bug, not a probation fact.
pub const ROWS_PER_STREAM_MAX: usize = 4_096;
/// Most bytes (keys and values) one stream's rows may take: 4,096 rows of a few hundred bytes
/// is ~1 MiB; 16 MiB bounds a runaway row without refusing any real case. It also keeps every
/// row length far below `u32::MAX`, the width of lengths in row blobs and digests.
pub const ROW_BYTES_PER_STREAM_MAX: usize = 16 * 1024 * 1024;

/// A deterministic fold over envelopes.
pub trait Projection: Send + Sync + 'static {
    /// Per-stream state. Serialised with serde_json into the read-model database (so it is
    /// stable across platforms); must hold only ordered containers (no HashMap).
    type State: Serialize + DeserializeOwned + Default + Clone + Send + Sync;

    /// Stable name; persisted tree names and digests are keyed by it.
    fn name(&self) -> &'static str;

    /// The read models (row families) this projection maintains, in a fixed order.
    fn models(&self) -> &'static [&'static str];

    /// What [`Projection::apply`] needs from a record beyond its envelope (for the case
    /// projection, the decoded domain event). Split from `apply` so that a full rebuild can
    /// decode on the thread that reads the log ahead while the fold runs on another: the
    /// fold is sequential, decoding is not.
    type Decoded: Send;

    /// Decode what `apply` needs from `record`. Must be pure and must not depend on any state.
    /// An error here is reported only if the record is then folded (an as-of filter may skip
    /// it).
    fn decode(&self, record: &RecordedEvent) -> Result<Self::Decoded, ProjectionError>;

    /// Fold one record, with what [`Projection::decode`] made of it, into the state of its
    /// stream. A record the projection does not care about leaves the state unchanged. Must
    /// be pure: same state + record → same state.
    fn apply(
        &self,
        state: &mut Self::State,
        record: &RecordedEvent,
        decoded: Self::Decoded,
    ) -> Result<(), ProjectionError>;

    /// Does `record` (decoded as `decoded`) belong to the world as of the effective instant
    /// `at_us`? By default its envelope's `effective_at`; a projection whose payloads carry
    /// the fact's own date says so here (docs/rules.md ASOF-1).
    fn effective_by(&self, record: &RecordedEvent, decoded: &Self::Decoded, at_us: i64) -> bool {
        let _ = decoded;
        record.effective_at_us <= at_us
    }

    /// Fetch what [`Projection::decode`] needs for `records` that only an await can fetch
    /// (the case projection: persons' data keys from a network key store), before they are
    /// decoded. Every loop that reads a page and decodes it calls it. By default nothing.
    fn prepare<'a>(
        &'a self,
        records: &'a [RecordedEvent],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ProjectionError>> + Send + 'a>>
    {
        let _ = records;
        Box::pin(std::future::ready(Ok(())))
    }

    /// Decode and fold in one step (catch-up batches, single-stream rebuilds).
    fn decode_and_apply(
        &self,
        state: &mut Self::State,
        record: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let decoded = self.decode(record)?;
        self.apply(state, record, decoded)
    }

    /// Every row `stream_id` contributes, given its state. Must be pure.
    fn rows(&self, stream_id: &str, state: &Self::State, out: &mut Rows);
}

/// The rows of one stream, by model index then key. Keys are local to the stream: the
/// framework prefixes them with the stream id, so two streams never collide.
///
/// Keys and values live in one byte buffer, with a small index kept sorted by (model, key);
/// `clear` keeps both allocations. A rebuild derives every row of every stream (~860,000 per
/// 1,000,000 events), so rows cost no allocation of their own (`put_json` serialises straight
/// into the buffer).
#[derive(Clone, Debug, Default)]
pub struct Rows {
    bytes: Vec<u8>,
    /// Sorted by (model, key), no two entries with the same (model, key).
    index: Vec<RowAt>,
}

/// Where one row's key and value sit in [`Rows::bytes`].
#[derive(Clone, Copy, Debug)]
struct RowAt {
    model: u8,
    key_at: usize,
    key_len: usize,
    value_len: usize,
}

impl RowAt {
    fn key<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        &bytes[self.key_at..self.key_at + self.key_len]
    }
    fn value<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        let at = self.key_at + self.key_len;
        &bytes[at..at + self.value_len]
    }
}

impl PartialEq for Rows {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Rows {}

impl Rows {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) one row. `model` is the index into `Projection::models`. Limits are
    /// checked by the framework ([`Rows::check`]), which turns a violation into an error.
    pub fn put(&mut self, model: u8, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let key_at = self.bytes.len();
        self.bytes.extend_from_slice(key.as_ref());
        self.bytes.extend_from_slice(value.as_ref());
        self.index_last(model, key_at, key.as_ref().len());
    }

    /// Serialise `value` as JSON and add it as a row.
    pub fn put_json<T: Serialize>(&mut self, model: u8, key: impl AsRef<[u8]>, value: &T) {
        let key_at = self.bytes.len();
        self.bytes.extend_from_slice(key.as_ref());
        let value_at = self.bytes.len();
        // serde_json only fails on maps with non-string keys or failing Serialize impls; the
        // row types here are plain structs, so a failure is a programming error.
        let written = serde_json::to_writer(&mut self.bytes, value);
        debug_assert!(written.is_ok(), "row value failed to serialise");
        if written.is_err() {
            self.bytes.truncate(value_at);
        }
        self.index_last(model, key_at, key.as_ref().len());
    }

    /// Index the row whose key starts at `key_at` and whose value runs to the end of `bytes`.
    fn index_last(&mut self, model: u8, key_at: usize, key_len: usize) {
        let row = RowAt {
            model,
            key_at,
            key_len,
            value_len: self.bytes.len() - key_at - key_len,
        };
        let bytes = &self.bytes;
        let key = row.key(bytes);
        // Rows mostly come in order: try the end first.
        let at = match self.index.last() {
            Some(last) if (last.model, last.key(bytes)) < (model, key) => Err(self.index.len()),
            None => Err(0),
            Some(_) => self
                .index
                .binary_search_by(|e| (e.model, e.key(bytes)).cmp(&(model, key))),
        };
        match at {
            // The replaced row's bytes stay in the buffer until `clear`.
            Ok(i) => self.index[i] = row,
            Err(i) => self.index.insert(i, row),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Forget every row, keeping the buffers for the next stream.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.index.clear();
    }

    /// Every row as (model, local key, value), in (model, key) order.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &[u8], &[u8])> {
        self.index
            .iter()
            .map(|r| (r.model, r.key(&self.bytes), r.value(&self.bytes)))
    }

    /// Check the limits on what a projection emitted for `stream_id`.
    pub(crate) fn check(&self, stream_id: &str, models: usize) -> Result<(), ProjectionError> {
        if self.index.len() > ROWS_PER_STREAM_MAX {
            return Err(ProjectionError::InvalidArgument(format!(
                "stream {stream_id} derives {} rows; at most {ROWS_PER_STREAM_MAX} allowed",
                self.index.len()
            )));
        }
        if self.bytes.len() > ROW_BYTES_PER_STREAM_MAX {
            return Err(ProjectionError::InvalidArgument(format!(
                "stream {stream_id} derives {} bytes of rows; at most {ROW_BYTES_PER_STREAM_MAX} allowed",
                self.bytes.len()
            )));
        }
        for (model, key, _) in self.iter() {
            if usize::from(model) >= models {
                return Err(ProjectionError::InvalidArgument(format!(
                    "stream {stream_id} emitted a row for model index {model}; the projection has {models} models"
                )));
            }
            if key.len() > ROW_KEY_BYTES_MAX {
                return Err(ProjectionError::InvalidArgument(format!(
                    "stream {stream_id} emitted a {}-byte row key; at most {ROW_KEY_BYTES_MAX} allowed",
                    key.len()
                )));
            }
        }
        Ok(())
    }
}

/// The full row key inside a model: stream id, a 0 byte (stream ids are printable ASCII, so
/// the separator cannot occur inside one), then the projection's local key.
pub fn model_row_key(stream_id: &str, local_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream_id.len() + 1 + local_key.len());
    key.extend_from_slice(stream_id.as_bytes());
    key.push(0);
    key.extend_from_slice(local_key);
    key
}

/// Split a model row key back into stream id and local key.
pub fn split_model_row_key(key: &[u8]) -> Option<(&str, &[u8])> {
    let at = key.iter().position(|b| *b == 0)?;
    let stream = std::str::from_utf8(&key[..at]).ok()?;
    Some((stream, &key[at + 1..]))
}

/// Index of `model` in `projection.models()`, or a typed error listing the known ones.
pub fn model_index<P: Projection + ?Sized>(
    projection: &P,
    model: &str,
) -> Result<u8, ProjectionError> {
    let models = projection.models();
    match models.iter().position(|m| *m == model) {
        Some(i) => Ok(u8::try_from(i).unwrap_or(u8::MAX)),
        None => Err(ProjectionError::UnknownModel {
            projection: projection.name().to_owned(),
            model: model.to_owned(),
            known: models.join(", "),
        }),
    }
}

pub(crate) fn check_models<P: Projection + ?Sized>(projection: &P) -> Result<(), ProjectionError> {
    let n = projection.models().len();
    if n == 0 || n > MODELS_PER_PROJECTION_MAX {
        return Err(ProjectionError::InvalidArgument(format!(
            "projection {} declares {n} read models; 1..={MODELS_PER_PROJECTION_MAX} allowed",
            projection.name()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn row_keys_round_trip_and_never_collide_across_streams() {
        let a = model_row_key("A1", b"x");
        let b = model_row_key("A", b"1\0x");
        assert_ne!(a, b);
        assert_eq!(split_model_row_key(&a), Some(("A1", &b"x"[..])));
        assert_eq!(split_model_row_key(b"no-separator"), None);
    }

    #[test]
    fn rows_over_the_limits_are_refused() {
        let mut rows = Rows::new();
        rows.put(3, b"k", b"v");
        assert!(rows.check("S", 2).is_err());
        assert!(rows.check("S", 4).is_ok());
        rows.put(0, vec![b'k'; ROW_KEY_BYTES_MAX + 1], b"v");
        assert!(rows.check("S", 4).is_err());
    }

    #[test]
    fn rows_come_out_in_model_then_key_order_and_a_put_replaces() {
        let mut rows = Rows::new();
        rows.put(1, b"b", b"2");
        rows.put(0, b"z", b"1");
        rows.put(1, b"a", b"3");
        rows.put_json(1, b"b", &"two");
        let listed: Vec<_> = rows.iter().collect();
        assert_eq!(
            listed,
            vec![
                (0, &b"z"[..], &b"1"[..]),
                (1, &b"a"[..], &b"3"[..]),
                (1, &b"b"[..], &b"\"two\""[..]),
            ]
        );
        // Equal rows compare equal whatever the order and replacements that built them.
        let mut same = Rows::new();
        same.put(1, b"a", b"3");
        same.put(1, b"b", b"\"two\"");
        same.put(0, b"z", b"1");
        assert_eq!(rows, same);
        rows.clear();
        assert!(rows.is_empty());
        assert_ne!(rows, same);
    }

    proptest::proptest! {
        /// The buffer-and-index rows behave as a sorted map of (model, key) → value.
        #[test]
        fn rows_behave_as_a_sorted_map(
            puts in proptest::collection::vec((0u8..3, proptest::collection::vec(0u8..4, 0..3), proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4)), 0..40)
        ) {
            let mut rows = Rows::new();
            let mut model: BTreeMap<(u8, Vec<u8>), Vec<u8>> = BTreeMap::new();
            for (m, k, v) in puts {
                rows.put(m, &k, &v);
                model.insert((m, k), v);
            }
            let got: Vec<(u8, Vec<u8>, Vec<u8>)> =
                rows.iter().map(|(m, k, v)| (m, k.to_vec(), v.to_vec())).collect();
            let want: Vec<(u8, Vec<u8>, Vec<u8>)> =
                model.into_iter().map(|((m, k), v)| (m, k, v)).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
