//! Folded case states kept between commands, so a command on a case the handler has seen
//! costs the same whatever the length of the case's history.
//!
//! An entry is a case state folded from the stream's first `state.version` records. The log is
//! append-only, so an entry never becomes wrong, only behind: the store's version check on
//! every append is the truth (another process on PostgreSQL may have appended since), and a
//! handler that finds its entry behind folds the records after its version onto it. Nothing
//! here decides anything; the cache only saves re-reading and re-folding.
//!
//! Bounded in bytes (the bincode size of each state, an estimate of its heap footprint) and
//! evicted least recently used first.

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

    /// Keep `state` for `stream` unless a later version is already kept (two tasks on one case
    /// may finish in either order; the later fold wins). A state larger than the whole budget
    /// is not kept.
    pub fn put(&self, stream: &str, state: CaseState) {
        let bytes = bincode::serialized_size(&state)
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
            .saturating_add(stream.len());
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
        let one = bincode::serialized_size(&case(1)).unwrap() as usize + 2;
        let cache = CaseCache::new(one * 2);
        cache.put("c1", case(1));
        cache.put("c2", case(1));
        assert!(cache.get("c1").is_some(), "c1 is now the most recent");
        cache.put("c3", case(1));
        assert!(cache.get("c2").is_none(), "c2 was least recently used");
        assert!(cache.get("c1").is_some() && cache.get("c3").is_some());
        let (bytes, entries) = cache.usage();
        assert_eq!(entries, 2);
        assert!(bytes <= one * 2);
    }

    #[test]
    fn an_older_fold_never_replaces_a_newer_one() {
        let cache = CaseCache::new(CASE_CACHE_BYTES_MAX_DEFAULT);
        cache.put("c1", case(5));
        cache.put("c1", case(3));
        assert_eq!(cache.get("c1").unwrap().version, 5);
        cache.put("c1", case(6));
        assert_eq!(cache.get("c1").unwrap().version, 6);
        cache.forget("c1");
        assert!(cache.get("c1").is_none());
        assert_eq!(cache.usage(), (0, 0));
    }

    #[test]
    fn a_state_larger_than_the_budget_is_not_kept() {
        let cache = CaseCache::new(4);
        cache.put("c1", case(1));
        assert!(cache.get("c1").is_none());
        assert_eq!(cache.usage(), (0, 0));
    }
}
