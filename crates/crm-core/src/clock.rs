//! The one clock every timestamp comes from, so tests (and later a virtual clock) can
//! replace it.

use chrono::{DateTime, Utc};
use std::fmt::Debug;

/// Source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
