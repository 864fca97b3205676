//! `caseledger consumers`: every durable consumer of the log (`caseledger_store::consumer`)
//! with its checkpoint and how far behind the head it is.

use std::io::Write;

use serde::Serialize;

use crate::cli_ops::{Failure, StoreArgs};
use crate::engine::EngineError;

/// One line of the listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerLine {
    pub name: String,
    /// The highest position the consumer acknowledged.
    pub position: u64,
    /// Events in the log after its checkpoint.
    pub lag: u64,
}

/// The consumers of the log in `args`, by name, with the head they were measured against.
pub async fn list(args: &StoreArgs) -> Result<(u64, Vec<ConsumerLine>), Failure> {
    let engine = crate::cli_ops::open_existing(args).await?;
    let store = engine.store();
    let fail = |e| Failure::from(EngineError::from(e));
    // Consumers first, head second: the head only grows, so no lag comes out negative.
    let consumers = store.consumers().await.map_err(fail)?;
    let head = store.head().await.map_err(fail)?;
    let lines = consumers
        .into_iter()
        .map(|c| ConsumerLine {
            name: c.name.to_string(),
            position: c.position,
            lag: head.saturating_sub(c.position),
        })
        .collect();
    Ok((head, lines))
}

/// Print the listing as `table` (default) or `json`.
pub async fn consumers(args: &StoreArgs, format: &str, out: &mut dyn Write) -> Result<(), Failure> {
    if !matches!(format, "table" | "json") {
        return Err(Failure::Usage(format!(
            "--format: {format:?} is not one of table, json"
        )));
    }
    let (head, lines) = list(args).await?;
    let text = if format == "json" {
        serde_json::json!({ "head": head, "consumers": lines }).to_string() + "\n"
    } else {
        let width = lines.iter().map(|l| l.name.len()).max().unwrap_or(0).max(8);
        let mut s = format!(
            "{:<width$}  {:>12}  {:>12}\n",
            "consumer", "position", "lag"
        );
        for l in &lines {
            s.push_str(&format!(
                "{:<width$}  {:>12}  {:>12}\n",
                l.name, l.position, l.lag
            ));
        }
        s.push_str(&format!("head {head}; {} consumer(s)\n", lines.len()));
        s
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Failure::Failed(format!("cannot write the listing: {e}")))
}
