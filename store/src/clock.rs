//! Clocks for `recorded_at`. The store never reads the system time directly: a [`Clock`] is
//! injected so that tests, replays and imports are deterministic.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Clock;

/// The wall clock, in microseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            // Saturate rather than wrap: a clock beyond year 294,000 is a broken clock, and
            // the writer keeps recorded_at non-decreasing anyway.
            Ok(since) => i64::try_from(since.as_micros()).unwrap_or(i64::MAX),
            // A clock set before 1970 is broken; report the epoch and let the writer's
            // non-decreasing rule carry the last good value forward.
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to: for tests and deterministic imports.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_us: AtomicI64,
}

impl ManualClock {
    pub fn new(now_us: i64) -> Self {
        ManualClock {
            now_us: AtomicI64::new(now_us),
        }
    }

    /// Set the time (it may go backwards: the store must cope with that).
    pub fn set(&self, now_us: i64) {
        self.now_us.store(now_us, Ordering::SeqCst);
    }

    /// Move the time by `delta_us` (negative moves it back), saturating at the i64 range.
    pub fn advance(&self, delta_us: i64) {
        let _ = self
            .now_us
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(delta_us))
            });
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> i64 {
        self.now_us.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_sets_and_advances() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_us(), 1_000);
        clock.advance(500);
        assert_eq!(clock.now_us(), 1_500);
        clock.set(10);
        assert_eq!(clock.now_us(), 10);
        clock.advance(i64::MAX);
        assert_eq!(clock.now_us(), i64::MAX);
    }

    #[test]
    fn system_clock_is_after_2020() {
        // 2020-01-01T00:00:00Z in microseconds.
        assert!(SystemClock.now_us() > 1_577_836_800_000_000);
    }
}
