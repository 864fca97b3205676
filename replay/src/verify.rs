//! Verification of the whole log: the hash chain recomputed record by record and the RFC 6962
//! Merkle root over the records in position order (design.md invariant 9).
//!
//! The walk is streaming: pages of at most [`VERIFY_PAGE_EVENTS`] records, a constant-size
//! chain state and the Merkle accumulator's stack of subtree roots. The log is never loaded
//! whole.

use std::fmt;
use std::str::FromStr;

use caseledger_store::hash::ChainVerifier;
use caseledger_store::{EventStore, ReadAll, RecordedEvent, StoreError};

use crate::error::ReplayError;
use crate::merkle::{Hash32, MerkleAccumulator};
use crate::store_glue::canonical_record_bytes;

/// Records read per page while walking the log: large enough to amortise a read, small enough
/// to keep a page well under a few MiB (a record is at most 64 KiB of payload, typically < 1 KiB).
pub const VERIFY_PAGE_EVENTS: u32 = 1_024;

/// A published (root, position) pair: the Merkle root of the first `position` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub root: Hash32,
    pub position: u64,
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", hex::encode(self.root), self.position)
    }
}

impl FromStr for Checkpoint {
    type Err = ReplayError;

    /// Parses `ROOT@POSITION` as printed by `caseledger verify`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| ReplayError::BadCheckpoint {
            input: input.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        let (root_hex, position_text) = input
            .trim()
            .split_once('@')
            .ok_or_else(|| bad("there is no '@'"))?;
        if root_hex.len() != 64 {
            return Err(bad(&format!(
                "ROOT has {} characters, 64 hex digits are needed",
                root_hex.chars().count()
            )));
        }
        let root_bytes = hex::decode(root_hex).map_err(|e| bad(&format!("ROOT: {e}")))?;
        let root: Hash32 = root_bytes
            .try_into()
            .map_err(|_| bad("ROOT is not 32 bytes"))?;
        let position = position_text
            .parse::<u64>()
            .map_err(|e| bad(&format!("POSITION {position_text:?}: {e}")))?;
        Ok(Checkpoint { root, position })
    }
}

/// How the log relates to an earlier published checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extension {
    /// The root of the first `position` records equals the published root.
    Extends,
    /// The first `position` records now have a different root: history was rewritten.
    Diverges { root_now: Hash32 },
    /// The log is shorter than the checkpoint: records were removed (or it is another log).
    ShorterThanCheckpoint { head: u64 },
}

/// The answer of [`verify_log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyOutcome {
    /// The head position read at the start; the records 1..=head were checked.
    pub head: u64,
    /// RFC 6962 root over records 1..=head; publish it with the head as `ROOT@HEAD`.
    pub root: Hash32,
    pub records_checked: u64,
    /// The first position that fails a check, and why. `None` when the chain is intact.
    pub first_bad: Option<(u64, String)>,
    /// Present when a checkpoint was given.
    pub extension: Option<(Checkpoint, Extension)>,
}

impl VerifyOutcome {
    /// The chain is intact and, if a checkpoint was given, the log extends it.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
            && self
                .extension
                .as_ref()
                .is_none_or(|(_, e)| *e == Extension::Extends)
    }

    /// The checkpoint to publish for this log.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            root: self.root,
            position: self.head,
        }
    }
}

/// Most single-record reads spent finding where damage ends.
const DAMAGE_PROBES_MAX: u64 = 100_000;

/// Read one page of the log from `next`; if the store cannot read it (damaged storage), find
/// by single-record reads which positions cannot be read and say so ([`ReplayError::Damaged`]).
pub(crate) async fn read_page<S: EventStore + ?Sized>(
    store: &S,
    next: u64,
    want: u32,
    head: u64,
) -> Result<Vec<caseledger_store::RecordedEvent>, ReplayError> {
    match store.read_all(next, want).await {
        Ok(page) => Ok(page),
        Err(error) => Err(locate_damage(store, next, head, error).await),
    }
}

/// After reading from `next` failed with `error`: find by single-record reads which positions
/// cannot be read ([`ReplayError::Damaged`]), or [`ReplayError::Store`] when all can.
async fn locate_damage<S: EventStore + ?Sized>(
    store: &S,
    next: u64,
    head: u64,
    error: StoreError,
) -> ReplayError {
    let mut first = None;
    let mut position = next;
    while position <= head && position - next < DAMAGE_PROBES_MAX {
        let readable = store.read_all(position, 1).await.is_ok();
        match (first, readable) {
            (None, false) => first = Some(position),
            (Some(first), true) => {
                return ReplayError::Damaged {
                    first,
                    range: format!("positions {first}..={}", position - 1),
                    reason: error.to_string(),
                }
            }
            _ => {}
        }
        position += 1;
    }
    match first {
        None => ReplayError::Store(error),
        Some(first) => ReplayError::Damaged {
            first,
            range: if position > head {
                format!("positions {first}..={head}")
            } else {
                format!("positions {first} onwards")
            },
            reason: error.to_string(),
        },
    }
}

/// Visit records 1..=`head` of `store` in position order through [`ReadAll`] (which checks
/// each is the next position), in pages of [`VERIFY_PAGE_EVENTS`]. A page the store cannot
/// read is located by single-record reads ([`ReplayError::Damaged`]); a log that ends before
/// `head` is [`ReplayError::PositionGap`].
pub(crate) async fn walk_log<S, F>(store: &S, head: u64, mut visit: F) -> Result<(), ReplayError>
where
    S: EventStore + ?Sized,
    F: FnMut(&RecordedEvent) -> Result<(), ReplayError>,
{
    let mut reader = ReadAll::new(store, 1, VERIFY_PAGE_EVENTS).through(head);
    loop {
        let page = match reader.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(error) => {
                return Err(locate_damage(store, reader.next_position(), head, error).await)
            }
        };
        page.iter().try_for_each(&mut visit)?;
    }
    match reader.next_position() {
        expected if expected <= head => Err(ReplayError::PositionGap {
            expected,
            actual: 0,
        }),
        _ => Ok(()),
    }
}

/// Walk records 1..=head of `store`: recompute the chain and the Merkle root, and, with
/// `extends`, compare the root of the first `extends.position` records with `extends.root`.
///
/// A broken chain is reported in the outcome (`first_bad`), not as an error: the operator
/// needs the position. Errors are for a store that cannot be read.
pub async fn verify_log<S: EventStore + ?Sized>(
    store: &S,
    extends: Option<Checkpoint>,
) -> Result<VerifyOutcome, ReplayError> {
    let head = store.head().await?;
    let mut walker = ChainVerifier::new();
    let mut merkle = MerkleAccumulator::new();
    let mut first_bad: Option<(u64, String)> = None;
    let mut root_at_checkpoint = match extends {
        Some(c) if c.position == 0 => Some(merkle.root()),
        _ => None,
    };
    walk_log(store, head, |record| {
        if first_bad.is_none() {
            if let Err(reason) = walker.accept(record) {
                first_bad = Some((record.position, reason));
            }
        }
        // The Merkle root covers the records as stored, intact or not, so a published
        // root can be compared even when the chain breaks.
        merkle.push_leaf_bytes(&canonical_record_bytes(record)?);
        if extends.is_some_and(|c| c.position == record.position) {
            root_at_checkpoint = Some(merkle.root());
        }
        Ok(())
    })
    .await?;
    debug_assert_eq!(merkle.size(), head);
    let extension = extends.map(|checkpoint| {
        let relation = match root_at_checkpoint {
            None => Extension::ShorterThanCheckpoint { head },
            Some(root) if root == checkpoint.root => Extension::Extends,
            Some(root_now) => Extension::Diverges { root_now },
        };
        (checkpoint, relation)
    });
    Ok(VerifyOutcome {
        head,
        root: merkle.root(),
        records_checked: head,
        first_bad,
        extension,
    })
}
