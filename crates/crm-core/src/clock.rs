//! The one clock every time reading comes from — the instants stamped on records and
//! answers, and the durations measured between two readings — so tests and a virtual
//! clock can replace it.

use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// A steadily increasing reading for measuring durations (the time since an
    /// arbitrary origin); the difference of two readings is the time that passed.
    fn monotonic(&self) -> Duration {
        process_monotonic()
    }
}

/// The operating system's steady clock, counted from the first reading in this process.
pub fn process_monotonic() -> Duration {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock a test suite can set: real time (from a base clock) until told otherwise, then
/// standing at a chosen instant that moves only when advanced. Durations measured while it
/// stands still are real (a call still takes the time it takes), plus every advance.
#[derive(Debug)]
pub struct VirtualClock {
    base: std::sync::Arc<dyn Clock>,
    state: std::sync::Mutex<Virtual>,
}

#[derive(Debug, Clone, Copy)]
struct Virtual {
    /// The instant it stands at, or `None` for real time.
    at: Option<DateTime<Utc>>,
    /// Added to the base clock's steady readings (the sum of every advance).
    ahead: Duration,
}

impl VirtualClock {
    /// A clock following `base` until it is set.
    pub fn new(base: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            base,
            state: std::sync::Mutex::new(Virtual {
                at: None,
                ahead: Duration::ZERO,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Virtual> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stands the clock at `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        self.state().at = Some(at);
    }

    /// Moves the clock forward by `by` (from where it stands, or from now in real time,
    /// after which it stands there).
    pub fn advance(&self, by: Duration) {
        let now = self.now();
        let mut state = self.state();
        let step = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        state.at = Some(now.checked_add_signed(step).unwrap_or(now));
        state.ahead = state.ahead.saturating_add(by);
    }

    /// Back to real time.
    pub fn real(&self) {
        self.state().at = None;
    }

    /// Whether the clock stands at a set instant.
    pub fn is_virtual(&self) -> bool {
        self.state().at.is_some()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state().at.unwrap_or_else(|| self.base.now())
    }

    fn monotonic(&self) -> Duration {
        let ahead = self.state().ahead;
        self.base.monotonic().saturating_add(ahead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_stands_advances_and_returns() {
        let clock = VirtualClock::new(std::sync::Arc::new(SystemClock));
        assert!(!clock.is_virtual());
        let at = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        clock.set(at);
        assert_eq!(clock.now(), at);
        let before = clock.monotonic();
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), at + chrono::Duration::seconds(90));
        assert!(clock.monotonic() >= before + Duration::from_secs(90));
        clock.real();
        assert!(clock.now() < at);
    }

    #[test]
    fn monotonic_readings_never_go_back() {
        let clock = SystemClock;
        let a = clock.monotonic();
        let b = clock.monotonic();
        assert!(b >= a);
    }
}
