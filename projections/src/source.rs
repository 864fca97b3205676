//! Where report functions read rows from: the persisted current generation, or read models
//! folded in memory (as-of queries).

use std::collections::BTreeMap;

use crate::digest::RowDigest;
use crate::ProjectionError;

/// Called with each row's full key and value.
pub type RowVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), ProjectionError> + 'a;

/// A read-only view of one projection's read models.
pub trait RowSource {
    /// The model names, in index order.
    fn models(&self) -> Vec<String>;

    /// Log position the rows reflect (every record ≤ it has been folded, as filtered).
    fn checkpoint(&self) -> u64;

    /// Visit every row of `model` in key order. Keys are full model keys
    /// (`stream id ‖ 0 ‖ local key`, see [`crate::projection::model_row_key`]).
    fn for_each_row(&self, model: u8, visit: &mut RowVisitor<'_>) -> Result<(), ProjectionError>;

    /// SHA-256 over each model's canonical rows, by model name.
    fn digests(&self) -> Result<BTreeMap<String, String>, ProjectionError> {
        let mut out = BTreeMap::new();
        for (index, name) in self.models().into_iter().enumerate() {
            let mut digest = RowDigest::new();
            let index = u8::try_from(index)
                .map_err(|_| ProjectionError::InvalidArgument("too many read models".to_owned()))?;
            self.for_each_row(index, &mut |k, v| {
                digest.push(k, v);
                Ok(())
            })?;
            out.insert(name, digest.finish());
        }
        Ok(out)
    }

    /// Index of a model by name.
    fn model_index(&self, model: &str) -> Result<u8, ProjectionError> {
        let models = self.models();
        match models.iter().position(|m| m == model) {
            Some(i) => u8::try_from(i)
                .map_err(|_| ProjectionError::InvalidArgument("too many read models".to_owned())),
            None => Err(ProjectionError::UnknownModel {
                projection: String::new(),
                model: model.to_owned(),
                known: models.join(", "),
            }),
        }
    }
}
