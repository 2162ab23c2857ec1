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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_readings_never_go_back() {
        let clock = SystemClock;
        let a = clock.monotonic();
        let b = clock.monotonic();
        assert!(b >= a);
    }
}
