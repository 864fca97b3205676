//! Durable named consumers: a checkpoint per consumer name, kept in the store beside the log,
//! so a reader outside or inside the process (the projections runner, the NATS relay, a
//! service's own handler) resumes after a restart where it last *acknowledged*, not where it
//! last read.
//!
//! The contract, the same for every backend (`conformance::check_durable_consumers`):
//! - a consumer's checkpoint is the highest position it acknowledged; it starts at 0 and never
//!   moves backwards (an acknowledgement below it changes nothing, so two instances of one
//!   consumer cannot pull it back);
//! - it never runs ahead of the log: acknowledging a position above the head is refused;
//! - [`DurableSubscription`] delivers every record after the checkpoint, in order, exactly once
//!   per run (it is a [`Subscription`] underneath), and refuses an acknowledgement of a
//!   position it has not delivered — so the checkpoint can only cover what the consumer saw.
//!
//! Delivery is therefore at least once across restarts: whatever was delivered but not
//! acknowledged when a consumer stopped is delivered again. Consumers make their effects
//! idempotent (the relay sends each event id as `Nats-Msg-Id`; the projections keep their own
//! checkpoint in the same transaction as their rows).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::subscription::Subscription;
use crate::{EventStore, RecordedEvent, StoreError};

/// Longest consumer name, in bytes.
pub const CONSUMER_NAME_BYTES_MAX: usize = 64;
/// Most durable consumers one store keeps. Each is one small row; the limit keeps a typo in a
/// deployment loop from filling the table, and `caseledger consumers` from listing without end.
pub const CONSUMERS_MAX: usize = 256;

/// The name of a durable consumer: 1..=[`CONSUMER_NAME_BYTES_MAX`] bytes of ASCII letters,
/// digits and `. _ - :` (e.g. `relay.nats`, `projection.case`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsumerName(String);

impl ConsumerName {
    pub fn new(name: impl Into<String>) -> Result<Self, StoreError> {
        let name = name.into();
        let invalid = |reason: String, name: &str| StoreError::InvalidConsumerName {
            name: name.chars().take(CONSUMER_NAME_BYTES_MAX).collect(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("must not be empty".into(), &name));
        }
        if name.len() > CONSUMER_NAME_BYTES_MAX {
            return Err(invalid(
                format!(
                    "is {} bytes; at most {CONSUMER_NAME_BYTES_MAX} allowed",
                    name.len()
                ),
                &name,
            ));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
        {
            return Err(invalid(
                format!("contains {bad:?}; use ASCII letters, digits and . _ - : only"),
                &name,
            ));
        }
        Ok(ConsumerName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ConsumerName {
    type Error = StoreError;
    fn try_from(name: String) -> Result<Self, StoreError> {
        ConsumerName::new(name)
    }
}

impl From<ConsumerName> for String {
    fn from(name: ConsumerName) -> String {
        name.0
    }
}

impl fmt::Display for ConsumerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A durable consumer as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerCheckpoint {
    pub name: ConsumerName,
    /// The highest position the consumer acknowledged (0: none yet).
    pub position: u64,
}

/// The checks every backend makes before it stores an acknowledgement: the position is in the
/// log, and a new name does not take the store past [`CONSUMERS_MAX`]. `head` is the committed
/// head; `known` whether the name already has a checkpoint; `count` how many consumers exist.
pub(crate) fn check_acknowledgement(
    name: &ConsumerName,
    position: u64,
    head: u64,
    known: bool,
    count: usize,
) -> Result<(), StoreError> {
    if position > head {
        return Err(StoreError::CheckpointBeyondHead {
            consumer: name.to_string(),
            position,
            head,
        });
    }
    if !known && count >= CONSUMERS_MAX {
        return Err(StoreError::TooManyConsumers {
            consumer: name.to_string(),
            max: CONSUMERS_MAX,
        });
    }
    Ok(())
}

/// A [`Subscription`] that starts after a named consumer's stored checkpoint and moves that
/// checkpoint only when the consumer says so ([`DurableSubscription::acknowledge`]).
pub struct DurableSubscription {
    store: Arc<dyn EventStore>,
    name: ConsumerName,
    subscription: Subscription,
    acknowledged: u64,
}

impl DurableSubscription {
    /// Resume `name` after its stored checkpoint (from the start of the log for a new name).
    /// Nothing is written until the first acknowledgement.
    pub async fn open(store: Arc<dyn EventStore>, name: ConsumerName) -> Result<Self, StoreError> {
        let acknowledged = store.consumer_position(&name).await?.unwrap_or(0);
        let subscription = Subscription::new(Arc::clone(&store), acknowledged + 1);
        Ok(DurableSubscription {
            store,
            name,
            subscription,
            acknowledged,
        })
    }

    pub fn name(&self) -> &ConsumerName {
        &self.name
    }

    /// The checkpoint: the highest position acknowledged (0 when none).
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    /// The position the next delivered record will have.
    pub fn next_position(&self) -> u64 {
        self.subscription.next_position()
    }

    /// Wait for and return the next record (see [`Subscription::next`]).
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        self.subscription.next().await
    }

    /// Store `position` as the checkpoint: everything up to it is done and must not be
    /// delivered again after a restart. Refused for a position this subscription has not
    /// delivered yet; a position at or below the checkpoint changes nothing.
    pub async fn acknowledge(&mut self, position: u64) -> Result<(), StoreError> {
        let delivered = self.subscription.next_position() - 1;
        if position > delivered {
            return Err(StoreError::AcknowledgedUndelivered {
                consumer: self.name.to_string(),
                position,
                delivered,
            });
        }
        if position <= self.acknowledged {
            return Ok(());
        }
        let stored = self.store.acknowledge(&self.name, position).await?;
        debug_assert!(stored >= position, "a checkpoint never moves backwards");
        self.acknowledged = stored;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_names_are_checked() {
        assert!(ConsumerName::new("relay.nats").is_ok());
        assert!(ConsumerName::new("projection:case_v2-b").is_ok());
        for bad in [
            "",
            "has space",
            "é",
            &"x".repeat(CONSUMER_NAME_BYTES_MAX + 1),
        ] {
            let err = ConsumerName::new(bad).expect_err(bad);
            assert!(
                matches!(err, StoreError::InvalidConsumerName { .. }),
                "{err}"
            );
        }
    }
}
