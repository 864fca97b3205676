//! The projection contract: a deterministic fold over envelopes, per stream, and the rows each
//! stream contributes to its read models.
//!
//! A projection never sees the whole log at once. It folds each record into the state of the
//! record's stream (`apply`) and derives the complete set of rows that stream contributes from
//! that state alone (`rows`). This keeps memory bounded by the number of streams (cases), never
//! by the number of events, and makes the read models a pure function of the per-stream states:
//! the same log gives the same rows whether folded in one go, incrementally with restarts, or
//! stream by stream (design.md invariant 7).

use std::collections::BTreeMap;

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

/// A deterministic fold over envelopes.
pub trait Projection: Send + Sync + 'static {
    /// Per-stream state. Serialised with serde_json into the read-model database (so it is
    /// stable across platforms); must hold only ordered containers (no HashMap).
    type State: Serialize + DeserializeOwned + Default + Clone + Send + Sync;

    /// Stable name; persisted tree names and digests are keyed by it.
    fn name(&self) -> &'static str;

    /// The read models (row families) this projection maintains, in a fixed order.
    fn models(&self) -> &'static [&'static str];

    /// Fold one record into the state of its stream. A record the projection does not care
    /// about leaves the state unchanged. Must be pure: same state + record → same state.
    fn apply(&self, state: &mut Self::State, record: &RecordedEvent)
        -> Result<(), ProjectionError>;

    /// Every row `stream_id` contributes, given its state. Must be pure.
    fn rows(&self, stream_id: &str, state: &Self::State, out: &mut Rows);
}

/// The rows of one stream, by model index then key. Keys are local to the stream: the
/// framework prefixes them with the stream id, so two streams never collide.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    rows: BTreeMap<(u8, Vec<u8>), Vec<u8>>,
}

impl Rows {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) one row. `model` is the index into `Projection::models`.
    ///
    /// Debug builds assert the limits; release builds truncate nothing and rely on
    /// [`Rows::check`] being called by the framework, which turns a violation into an error.
    pub fn put(&mut self, model: u8, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.rows.insert((model, key.into()), value.into());
    }

    /// Serialise `value` as JSON and add it as a row.
    pub fn put_json<T: Serialize>(&mut self, model: u8, key: impl Into<Vec<u8>>, value: &T) {
        // serde_json only fails on maps with non-string keys or failing Serialize impls; the
        // row types here are plain structs, so a failure is a programming error.
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        debug_assert!(!bytes.is_empty(), "row value failed to serialise");
        self.put(model, key, bytes);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn clear(&mut self) {
        self.rows.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (u8, &[u8], &[u8])> {
        self.rows
            .iter()
            .map(|((m, k), v)| (*m, k.as_slice(), v.as_slice()))
    }

    /// Take every row out, in (model, key) order, leaving `self` empty. Hands the values over
    /// without copying them (a full rebuild moves ~860,000 rows per 1,000,000 events).
    pub fn drain(&mut self) -> impl Iterator<Item = (u8, Vec<u8>, Vec<u8>)> {
        std::mem::take(&mut self.rows)
            .into_iter()
            .map(|((m, k), v)| (m, k, v))
    }

    /// Check the limits on what a projection emitted for `stream_id`.
    pub(crate) fn check(&self, stream_id: &str, models: usize) -> Result<(), ProjectionError> {
        if self.rows.len() > ROWS_PER_STREAM_MAX {
            return Err(ProjectionError::InvalidArgument(format!(
                "stream {stream_id} derives {} rows; at most {ROWS_PER_STREAM_MAX} allowed",
                self.rows.len()
            )));
        }
        for (model, key) in self.rows.keys() {
            if usize::from(*model) >= models {
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
        rows.put(3, b"k".to_vec(), b"v".to_vec());
        assert!(rows.check("S", 2).is_err());
        assert!(rows.check("S", 4).is_ok());
        rows.put(0, vec![b'k'; ROW_KEY_BYTES_MAX + 1], b"v".to_vec());
        assert!(rows.check("S", 4).is_err());
    }

    #[test]
    fn drain_hands_over_every_row_in_model_then_key_order_and_empties() {
        let mut rows = Rows::new();
        rows.put(1, b"b".to_vec(), b"2".to_vec());
        rows.put(0, b"z".to_vec(), b"1".to_vec());
        rows.put(1, b"a".to_vec(), b"3".to_vec());
        let drained: Vec<_> = rows.drain().collect();
        assert_eq!(
            drained,
            vec![
                (0, b"z".to_vec(), b"1".to_vec()),
                (1, b"a".to_vec(), b"3".to_vec()),
                (1, b"b".to_vec(), b"2".to_vec()),
            ]
        );
        assert!(rows.is_empty());
    }
}
