//! Where time comes from: the wall clock in production, a manual clock in tests.
//!
//! Every decision that depends on time (is the cached token fresh, how long to back off, has
//! the retry deadline passed) asks the [`Clock`], and every wait goes through
//! [`Clock::sleep`]. A test can then play a 70-second retry sequence or a token's whole
//! lifetime in microseconds with [`ManualClock`].
//!
//! Network timeouts (connect, per-attempt) are the exception: they run on the real clock
//! because they bound how long a socket waits, which no test clock can change.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;

/// A source of the current time and of waits.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Waits for `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The system clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock for tests: it stands still until told to move, and a sleep moves it forward by the
/// time slept and returns at once.
///
/// Clones share one time, so a test can keep a handle while the identity holds another.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    /// Sets the clock to `to`, forward or back.
    pub fn set(&self, to: SystemTime) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SystemTime> {
        // The guarded value is a plain timestamp: a panic elsewhere cannot leave it half-written.
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    /// A clock at 2026-01-01T00:00:00Z.
    fn default() -> Self {
        Self::new(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.lock()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::default();
        let start = clock.now();
        assert_eq!(start, UNIX_EPOCH + Duration::from_secs(1_767_225_600));
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), start + Duration::from_secs(5));
        let handle = clock.clone();
        futures_util::FutureExt::now_or_never(handle.sleep(Duration::from_secs(70)))
            .expect("a manual sleep is ready at once");
        assert_eq!(clock.now(), start + Duration::from_secs(75));
        clock.set(start);
        assert_eq!(handle.now(), start);
    }
}
