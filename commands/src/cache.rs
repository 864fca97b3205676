//! Folded case states kept between commands, so a command on a case the handler has seen
//! costs the same whatever the length of the case's history.
//!
//! An entry is a case state folded from the stream's first `state.version` records. The log is
//! append-only, so an entry never becomes wrong, only behind: the store's version check on
//! every append is the truth (another process on PostgreSQL may have appended since), and a
//! handler that finds its entry behind folds the records after its version onto it. Nothing
//! here decides anything; the cache only saves re-reading and re-folding.
//!
//! Bounded in bytes and evicted least recently used first. A state weighs the payload bytes
//! of the events folded into it plus the state's own size: an estimate of its heap footprint
//! (a state grows with what its events carry) that needs no walk over the state. A walk with
//! a binary serde format cannot weigh a case at all: its person is a personal datum, which
//! refuses binary formats (docs/decisions/0009-crypto-shredding.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use caseledger_domain::CaseState;

/// Default budget for one handler's cached states. A case state is a few KiB; 64 MiB holds
/// tens of thousands of cases, more than one import works on at once.
pub const CASE_CACHE_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;

struct Entry {
    state: CaseState,
    bytes: usize,
    stamp: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Recency order: stamp → stream id, oldest first.
    recency: BTreeMap<u64, String>,
    bytes: usize,
    stamp_next: u64,
}

/// A bounded least-recently-used map from case stream id to its folded state.
pub struct CaseCache {
    inner: Mutex<Inner>,
    bytes_max: usize,
}

impl CaseCache {
    pub fn new(bytes_max: usize) -> CaseCache {
        CaseCache {
            inner: Mutex::new(Inner::default()),
            bytes_max,
        }
    }

    /// The cached state of `stream`, if any (marking it recently used).
    pub fn get(&self, stream: &str) -> Option<CaseState> {
        let mut inner = self.lock();
        let stamp = inner.next_stamp();
        let entry = inner.entries.get_mut(stream)?;
        let previous = std::mem::replace(&mut entry.stamp, stamp);
        let state = entry.state.clone();
        inner.recency.remove(&previous);
        inner.recency.insert(stamp, stream.to_owned());
        Some(state)
    }

    /// Take the state of `stream` out of the cache for one command: it comes back when the
    /// lease is dropped, advanced by what the command wrote. Taking instead of cloning keeps
    /// a command's cost independent of the size of its case's state; a second command on the
    /// same case meanwhile reads the case from the store (commands of one case run one at a
    /// time in `import` and `serve`, so that is rare).
    pub fn take(&self, stream: &'_ str) -> Option<Lease<'_>> {
        let mut inner = self.lock();
        let entry = inner.entries.remove(stream)?;
        inner.recency.remove(&entry.stamp);
        inner.bytes -= entry.bytes;
        Some(Lease {
            cache: self,
            stream: stream.to_owned(),
            state: Some(entry.state),
            bytes: entry.bytes,
        })
    }

    /// A lease on a state just folded from the store out of events of `payload_bytes` bytes,
    /// kept when the lease is dropped.
    pub fn lease(&self, stream: &str, state: CaseState, payload_bytes: usize) -> Lease<'_> {
        Lease {
            cache: self,
            stream: stream.to_owned(),
            bytes: state_bytes(payload_bytes),
            state: Some(state),
        }
    }

    /// Keep `state` for `stream`, weighing `bytes`, unless a later version is already kept
    /// (two tasks on one case may finish in either order; the later fold wins). A state
    /// larger than the whole budget is not kept.
    pub fn put_sized(&self, stream: &str, state: CaseState, bytes: usize) {
        let bytes = bytes.saturating_add(stream.len());
        let mut inner = self.lock();
        if let Some(existing) = inner.entries.get(stream) {
            if existing.state.version > state.version {
                return;
            }
        }
        inner.remove(stream);
        if bytes > self.bytes_max {
            return;
        }
        while inner.bytes + bytes > self.bytes_max {
            let Some((_, oldest)) = inner.recency.pop_first() else {
                break;
            };
            inner.remove(&oldest);
        }
        let stamp = inner.next_stamp();
        inner.recency.insert(stamp, stream.to_owned());
        inner.bytes += bytes;
        inner.entries.insert(
            stream.to_owned(),
            Entry {
                state,
                bytes,
                stamp,
            },
        );
        debug_assert!(inner.bytes <= self.bytes_max);
        debug_assert_eq!(inner.entries.len(), inner.recency.len());
    }

    /// Forget `stream` (after an error left its state in doubt).
    pub fn forget(&self, stream: &str) {
        self.lock().remove(stream);
    }

    /// Bytes and entries held now.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.bytes, inner.entries.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The lock guards plain maps updated without panicking paths; a poisoned lock still
        // holds consistent maps.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The weight in the cache of a state folded from events of `payload_bytes` bytes.
fn state_bytes(payload_bytes: usize) -> usize {
    payload_bytes.saturating_add(std::mem::size_of::<CaseState>())
}

/// One command's hold on a case state (see [`CaseCache::take`]); the state goes back into the
/// cache when the lease is dropped, unless it was given up.
pub struct Lease<'a> {
    cache: &'a CaseCache,
    stream: String,
    /// `None` only after a fold that failed: nothing is put back.
    state: Option<CaseState>,
    bytes: usize,
}

impl Lease<'_> {
    pub fn state(&self) -> &CaseState {
        self.state
            .as_ref()
            .expect("a lease holds its state until dropped")
    }

    /// Fold more of the case onto the state; `bytes_added` is the weight the fold adds (the
    /// payload bytes of the events folded — a state grows with what its events carry). When
    /// the fold fails the state is given up, not put back.
    pub fn advance<E>(
        &mut self,
        bytes_added: usize,
        fold: impl FnOnce(CaseState) -> Result<CaseState, E>,
    ) -> Result<(), E> {
        let state = self
            .state
            .take()
            .expect("a lease holds its state until dropped");
        let version = state.version;
        let advanced = fold(state)?;
        assert!(advanced.version >= version, "a fold never goes back");
        self.state = Some(advanced);
        self.bytes = self.bytes.saturating_add(bytes_added);
        Ok(())
    }
}

impl Lease<'_> {
    /// Fold a command's events onto the state by value (no copy of the case), returning what
    /// the fold returns beside the state. For a command not yet written: unless it is written
    /// as decided, the lease is then given up ([`Lease::give_up`], [`Lease::discard`]).
    pub fn fold<T>(&mut self, fold: impl FnOnce(CaseState) -> (CaseState, T)) -> T {
        let state = self
            .state
            .take()
            .expect("a lease holds its state until dropped");
        let version = state.version;
        let (advanced, out) = fold(state);
        assert!(advanced.version >= version, "a fold never goes back");
        self.state = Some(advanced);
        out
    }

    /// Add `bytes_added` to the weight the state is kept under (the payload bytes of the
    /// events [`Lease::fold`] folded).
    pub fn weigh(&mut self, bytes_added: usize) {
        self.bytes = self.bytes.saturating_add(bytes_added);
    }

    /// Whether the lease still holds a state (it was not given up).
    pub fn is_held(&self) -> bool {
        self.state.is_some()
    }

    /// Give the state up now, keeping the lease: nothing is put back when it is dropped.
    pub fn give_up(&mut self) {
        self.state = None;
    }

    /// Give the state up instead of putting it back: it was advanced by commands that were
    /// not written as decided.
    pub fn discard(mut self) {
        self.give_up();
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            self.cache.put_sized(&self.stream, state, self.bytes);
        }
    }
}

impl Inner {
    fn next_stamp(&mut self) -> u64 {
        self.stamp_next += 1;
        self.stamp_next
    }

    fn remove(&mut self, stream: &str) {
        if let Some(entry) = self.entries.remove(stream) {
            self.recency.remove(&entry.stamp);
            self.bytes -= entry.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(version: u64) -> CaseState {
        CaseState {
            version,
            ..CaseState::default()
        }
    }

    #[test]
    fn least_recently_used_is_evicted_first_and_the_budget_holds() {
        let one = state_bytes(0) + 2;
        let cache = CaseCache::new(one * 2);
        cache.put_sized("c1", case(1), state_bytes(0));
        cache.put_sized("c2", case(1), state_bytes(0));
        assert!(cache.get("c1").is_some(), "c1 is now the most recent");
        cache.put_sized("c3", case(1), state_bytes(0));
        assert!(cache.get("c2").is_none(), "c2 was least recently used");
        assert!(cache.get("c1").is_some() && cache.get("c3").is_some());
        let (bytes, entries) = cache.usage();
        assert_eq!(entries, 2);
        assert!(bytes <= one * 2);
    }

    #[test]
    fn an_older_fold_never_replaces_a_newer_one() {
        let cache = CaseCache::new(CASE_CACHE_BYTES_MAX_DEFAULT);
        cache.put_sized("c1", case(5), state_bytes(0));
        cache.put_sized("c1", case(3), state_bytes(0));
        assert_eq!(cache.get("c1").unwrap().version, 5);
        cache.put_sized("c1", case(6), state_bytes(0));
        assert_eq!(cache.get("c1").unwrap().version, 6);
        cache.forget("c1");
        assert!(cache.get("c1").is_none());
        assert_eq!(cache.usage(), (0, 0));
    }

    #[test]
    fn a_lease_takes_the_state_out_and_puts_it_back_advanced_or_not_at_all_on_failure() {
        let cache = CaseCache::new(CASE_CACHE_BYTES_MAX_DEFAULT);
        cache.put_sized("c1", case(1), state_bytes(0));
        let mut lease = cache.take("c1").expect("cached");
        assert!(cache.get("c1").is_none(), "taken out while leased");
        lease.advance(10, |_| Ok::<_, ()>(case(2))).unwrap();
        drop(lease);
        assert_eq!(cache.get("c1").unwrap().version, 2);
        let mut lease = cache.take("c1").expect("cached");
        assert!(lease
            .advance(10, |_| Err::<CaseState, _>("unreadable"))
            .is_err());
        drop(lease);
        assert!(cache.get("c1").is_none(), "a failed fold is not kept");
        drop(cache.lease("c2", case(4), 0));
        assert_eq!(cache.get("c2").unwrap().version, 4);
    }

    #[test]
    fn a_state_larger_than_the_budget_is_not_kept() {
        let cache = CaseCache::new(4);
        cache.put_sized("c1", case(1), state_bytes(0));
        assert!(cache.get("c1").is_none());
        assert_eq!(cache.usage(), (0, 0));
    }
}
