//! A portal's request limits, emulated on demand (`--limits`, `PUT /_crm/limits`): the
//! leaky bucket per credential (503 `QUERY_LIMIT_EXCEEDED` past it) and the operating-time
//! budget per credential and method (429 `OPERATION_TIME_LIMIT` once spent, `time.operating`
//! and `time.operating_reset_at` filled truthfully). Time comes from the server's clock, so
//! a virtual clock drains buckets and ends windows.

use crate::rpc::ApiError;
use crate::rpc::ctx::{AuthKind, Caller};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Which plan's limits apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// No limits (the default).
    #[default]
    Off,
    /// A burst of 50 requests, draining 2 per second.
    Standard,
    /// A burst of 250 requests, draining 5 per second.
    Enterprise,
}

impl Mode {
    /// Parses `off`, `standard` or `enterprise`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Self::Off),
            "standard" => Some(Self::Standard),
            "enterprise" => Some(Self::Enterprise),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Standard => "standard",
            Self::Enterprise => "enterprise",
        }
    }

    /// (burst, requests drained per second).
    fn bucket(self) -> (f64, f64) {
        match self {
            Self::Off => (f64::INFINITY, 0.0),
            Self::Standard => (50.0, 2.0),
            Self::Enterprise => (250.0, 5.0),
        }
    }
}

/// Seconds of method time a credential may spend on one method per window.
pub const OPERATING_BUDGET: f64 = 480.0;
/// The window of the operating-time budget, in seconds.
pub const OPERATING_WINDOW: i64 = 600;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: f64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    spent: f64,
}

#[derive(Debug, Default)]
struct State {
    mode: Mode,
    buckets: HashMap<String, Bucket>,
    windows: HashMap<(String, &'static str), Window>,
}

/// The limiters' state.
#[derive(Debug, Default)]
pub struct Limits {
    state: Mutex<State>,
}

/// What the operating-time budget says of one call: seconds spent in the window, when it
/// ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Operating {
    /// Seconds this credential spent in this method in the current window.
    pub spent: f64,
    /// When the window ends (unix seconds).
    pub reset_at: i64,
}

fn key(caller: &Caller) -> String {
    match caller.auth {
        AuthKind::Webhook(id) => format!("webhook:{id}"),
        AuthKind::OAuth { app_id, .. } => format!("app:{app_id}:user:{}", caller.user.id),
    }
}

fn seconds(t: DateTime<Utc>) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let whole = t.timestamp() as f64;
    whole + f64::from(t.timestamp_subsec_micros()) / 1e6
}

impl Limits {
    /// Limits in `mode`.
    pub fn new(mode: Mode) -> Self {
        Self {
            state: Mutex::new(State {
                mode,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The mode in force.
    pub fn mode(&self) -> Mode {
        self.state().mode
    }

    /// Switches mode; buckets and windows start empty.
    pub fn set_mode(&self, mode: Mode) {
        let mut state = self.state();
        state.mode = mode;
        state.buckets.clear();
        state.windows.clear();
    }

    /// Admits a call of `method` by `caller` at `now` or refuses it. `request`: whether it
    /// is a request of its own (a `batch`'s commands ride on their batch's bucket drop).
    pub fn admit(
        &self,
        caller: &Caller,
        method: &'static str,
        now: DateTime<Utc>,
        request: bool,
    ) -> Result<(), ApiError> {
        let mut state = self.state();
        if state.mode == Mode::Off {
            return Ok(());
        }
        let who = key(caller);
        if let Some(w) = state.windows.get(&(who.clone(), method))
            && now.timestamp() < w.started + OPERATING_WINDOW
            && w.spent >= OPERATING_BUDGET
        {
            return Err(ApiError::OperationTimeLimit);
        }
        if request {
            let (burst, drain) = state.mode.bucket();
            let t = seconds(now);
            let bucket = state
                .buckets
                .entry(who)
                .or_insert(Bucket { level: 0.0, at: t });
            let level = (bucket.level - drain * (t - bucket.at).max(0.0)).max(0.0);
            bucket.at = t;
            if level + 1.0 > burst {
                bucket.level = level;
                return Err(ApiError::Overloaded);
            }
            bucket.level = level + 1.0;
        }
        Ok(())
    }

    /// Charges a finished call's method time; what the budget says now (none when off).
    pub fn charge(
        &self,
        caller: &Caller,
        method: &'static str,
        now: DateTime<Utc>,
        processing: f64,
    ) -> Option<Operating> {
        let mut state = self.state();
        if state.mode == Mode::Off {
            return None;
        }
        let t = now.timestamp();
        let window = state
            .windows
            .entry((key(caller), method))
            .or_insert(Window {
                started: t,
                spent: 0.0,
            });
        if t >= window.started + OPERATING_WINDOW {
            *window = Window {
                started: t,
                spent: 0.0,
            };
        }
        window.spent += processing.max(0.0);
        Some(Operating {
            spent: window.spent,
            reset_at: window.started + OPERATING_WINDOW,
        })
    }

    /// Spends `seconds` of `method`'s budget for `caller` at once (tests of the 429 path).
    pub fn spend(&self, caller: &Caller, method: &'static str, now: DateTime<Utc>, seconds: f64) {
        let _ = self.charge(caller, method, now, seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller::test_admin(AuthKind::Webhook(1))
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn the_bucket_takes_a_burst_then_drains_with_the_clock() {
        let limits = Limits::new(Mode::Standard);
        let c = caller();
        for _ in 0..50 {
            assert!(limits.admit(&c, "crm.lead.get", at(0), true).is_ok());
        }
        assert_eq!(
            limits.admit(&c, "crm.lead.get", at(0), true),
            Err(ApiError::Overloaded)
        );
        assert!(
            limits.admit(&c, "crm.lead.get", at(0), false).is_ok(),
            "batch commands"
        );
        // One second drains two requests.
        assert!(limits.admit(&c, "crm.lead.get", at(1), true).is_ok());
        assert!(limits.admit(&c, "crm.lead.get", at(1), true).is_ok());
        assert!(limits.admit(&c, "crm.lead.get", at(1), true).is_err());
        limits.set_mode(Mode::Off);
        assert!(limits.admit(&c, "crm.lead.get", at(1), true).is_ok());
    }

    #[test]
    fn the_operating_budget_blocks_a_method_until_its_window_ends() {
        let limits = Limits::new(Mode::Enterprise);
        let c = caller();
        let op = limits.charge(&c, "crm.lead.list", at(0), 479.0).unwrap();
        assert_eq!(op.reset_at, at(600).timestamp());
        assert!(limits.admit(&c, "crm.lead.list", at(10), true).is_ok());
        limits.spend(&c, "crm.lead.list", at(10), 2.0);
        assert_eq!(
            limits.admit(&c, "crm.lead.list", at(20), true),
            Err(ApiError::OperationTimeLimit)
        );
        assert!(
            limits.admit(&c, "crm.lead.get", at(20), true).is_ok(),
            "per method"
        );
        assert!(
            limits.admit(&c, "crm.lead.list", at(600), true).is_ok(),
            "a new window"
        );
    }
}
