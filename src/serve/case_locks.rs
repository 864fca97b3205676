//! One command at a time per case inside this server. The handler retries a command whose
//! case changed while it was decided at most `CONFLICT_RETRIES_MAX` times; dozens of clients
//! writing to the same case at once would exhaust that and get 409s. Queuing them per case
//! here turns the race into a wait, while commands on different cases still run (and
//! group-commit) concurrently. Other processes sharing a PostgreSQL log still race through
//! the handler's retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per-case locks, removed when nobody holds or waits for them (memory bounded by the
/// requests in flight, not by the number of cases).
#[derive(Default)]
pub struct CaseLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a command on one case runs.
pub struct CaseGuard<'a> {
    owner: &'a CaseLocks,
    crn: String,
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl CaseLocks {
    pub async fn lock(&self, crn: &str) -> CaseGuard<'_> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(crn.to_owned()).or_default().clone()
        };
        let guard = lock.clone().lock_owned().await;
        CaseGuard {
            owner: self,
            crn: crn.to_owned(),
            lock: Some(lock),
            _guard: Some(guard),
        }
    }

    /// Cases with a command running or waiting.
    pub fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for CaseGuard<'_> {
    fn drop(&mut self) {
        self._guard.take();
        let lock = self.lock.take();
        let mut map = self.owner.locks.lock().unwrap_or_else(|p| p.into_inner());
        drop(lock);
        // Only the map still holds it: nobody is running or waiting on this case.
        if map
            .get(&self.crn)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.crn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_case_and_the_entry_goes_when_released() {
        let locks = CaseLocks::default();
        let a = locks.lock("X000001").await;
        let b = locks.lock("X000002").await;
        assert_eq!(locks.len(), 2);
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), locks.lock("X000001")).await;
        assert!(waiting.is_err(), "a second command on the same case waits");
        drop(a);
        drop(b);
        assert!(locks.is_empty());
        let _again = locks.lock("X000001").await;
        assert_eq!(locks.len(), 1);
    }
}
