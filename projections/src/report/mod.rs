//! Report queries over a [`RowSource`]: the persisted generation or an as-of fold.

pub mod table;
