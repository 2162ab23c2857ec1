//! Injected faults of a test double (`--control`): rules that make matching calls fail
//! the way a portal or its proxies do, before the method runs (so a faulted call writes
//! nothing), scripted ("fail twice, then succeed") and, when probabilistic, repeatable
//! from a seed.

use crate::rpc::{ApiError, Caller};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

/// How a matching call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 503 `QUERY_LIMIT_EXCEEDED` (the portal's leaky bucket).
    QueryLimitExceeded,
    /// 429 `OPERATION_TIME_LIMIT`.
    OperationTimeLimit,
    /// 401 `expired_token` (calls with an access token only).
    ExpiredToken,
    /// 500 `ERROR_CORE`.
    ErrorCore,
    /// 500 `INTERNAL_SERVER_ERROR`.
    InternalServerError,
    /// A 502 with an HTML body, as a portal's proxy sends it.
    BadGateway,
    /// The connection is dropped without an answer.
    ConnectionReset,
    /// No failure: only the delay.
    Latency,
}

impl FaultKind {
    /// Every kind with its name in rules.
    const NAMES: [(&'static str, Self); 8] = [
        ("QUERY_LIMIT_EXCEEDED", Self::QueryLimitExceeded),
        ("OPERATION_TIME_LIMIT", Self::OperationTimeLimit),
        ("expired_token", Self::ExpiredToken),
        ("ERROR_CORE", Self::ErrorCore),
        ("INTERNAL_SERVER_ERROR", Self::InternalServerError),
        ("BAD_GATEWAY", Self::BadGateway),
        ("CONNECTION_RESET", Self::ConnectionReset),
        ("LATENCY", Self::Latency),
    ];

    fn parse(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, k)| *k)
    }

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(n, _)| n)
    }

    /// The error a call gets (`None`: latency only, the call runs).
    pub fn error(self) -> Option<ApiError> {
        Some(match self {
            Self::QueryLimitExceeded => ApiError::Overloaded,
            Self::OperationTimeLimit => ApiError::OperationTimeLimit,
            Self::ExpiredToken => ApiError::ExpiredToken,
            Self::ErrorCore => ApiError::CoreFailure("Internal error".into()),
            Self::InternalServerError => ApiError::Internal("injected fault".into()),
            Self::BadGateway => ApiError::Transport(Transport::BadGateway),
            Self::ConnectionReset => ApiError::Transport(Transport::Reset),
            Self::Latency => return None,
        })
    }
}

/// A failure below the REST layer: the HTTP layer answers it instead of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// 502 with an HTML page.
    BadGateway,
    /// The connection is dropped.
    Reset,
}

/// One rule.
#[derive(Debug, Clone)]
struct Rule {
    id: u64,
    /// `*`, a prefix ending in `*` (`crm.lead.*`) or a method name; lower case.
    method: String,
    kind: FaultKind,
    /// Strikes left (`None`: no end).
    times: Option<u64>,
    probability: f64,
    delay: Duration,
    /// `webhook`, `token` or `user:<id>`.
    credential: Option<String>,
    hits: u64,
    /// The state of its random draws (splitmix64).
    rng: u64,
}

impl Rule {
    fn matches(&self, method: &str, caller: &Caller) -> bool {
        let method_ok = match self.method.strip_suffix('*') {
            Some(prefix) => method.starts_with(prefix),
            None => method == self.method,
        };
        let credential_ok = match self.credential.as_deref() {
            None => true,
            Some("webhook") => !caller.auth.is_token(),
            Some("token") => caller.auth.is_token(),
            Some(other) => other
                .strip_prefix("user:")
                .and_then(|id| id.parse::<i64>().ok())
                .is_some_and(|id| id == caller.user.id),
        };
        // An expired token only happens to calls made with a token.
        let kind_ok = self.kind != FaultKind::ExpiredToken || caller.auth.is_token();
        method_ok && credential_ok && kind_ok && self.times != Some(0)
    }

    /// A uniform draw in [0, 1).
    fn draw(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    fn to_json(&self) -> Value {
        json!({"id": self.id, "method": self.method, "error": self.kind.name(),
               "times": self.times, "probability": self.probability,
               "delay_ms": u64::try_from(self.delay.as_millis()).unwrap_or(u64::MAX),
               "credential": self.credential, "hits": self.hits})
    }
}

/// What a strike does to a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strike {
    /// How long the call waits first.
    pub delay: Duration,
    /// How it fails (`Latency`: it then runs).
    pub kind: FaultKind,
}

/// The rules, in the order they were added; the first active match strikes.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<(u64, Vec<Rule>)>,
}

impl Faults {
    fn rules(&self) -> std::sync::MutexGuard<'_, (u64, Vec<Rule>)> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a rule from its JSON form (`method`, `error`, optional `times`,
    /// `probability`, `delay_ms`, `credential`, `seed`); its id, or why it is refused.
    pub fn add(&self, rule: &Value) -> Result<u64, String> {
        let method = rule
            .get("method")
            .and_then(Value::as_str)
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .ok_or("\"method\" names the methods: \"*\", \"crm.lead.*\" or a method")?;
        let kind = rule
            .get("error")
            .and_then(Value::as_str)
            .and_then(FaultKind::parse)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::NAMES.iter().map(|(n, _)| *n).collect();
                format!("\"error\" is one of {}", names.join(", "))
            })?;
        let times = match rule.get("times") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or("\"times\" is a count, 0 or more")?),
        };
        let probability = match rule.get("probability") {
            None | Some(Value::Null) => 1.0,
            Some(v) => v
                .as_f64()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or("\"probability\" is a number from 0 to 1")?,
        };
        let delay = match rule.get("delay_ms") {
            None | Some(Value::Null) => Duration::ZERO,
            Some(v) => Duration::from_millis(
                v.as_u64()
                    .filter(|ms| *ms <= 600_000)
                    .ok_or("\"delay_ms\" is 0 to 600000 milliseconds")?,
            ),
        };
        let credential = match rule.get("credential") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let c = v.as_str().map(str::trim).unwrap_or_default().to_string();
                let valid = c == "webhook"
                    || c == "token"
                    || c.strip_prefix("user:")
                        .is_some_and(|id| id.parse::<i64>().is_ok());
                if !valid {
                    return Err("\"credential\" is \"webhook\", \"token\" or \"user:<id>\"".into());
                }
                Some(c)
            }
        };
        let mut rules = self.rules();
        rules.0 += 1;
        let id = rules.0;
        let seed = rule.get("seed").and_then(Value::as_u64).unwrap_or(id);
        rules.1.push(Rule {
            id,
            method,
            kind,
            times,
            probability,
            delay,
            credential,
            hits: 0,
            rng: seed,
        });
        Ok(id)
    }

    /// The rules with their hit counts.
    pub fn list(&self) -> Vec<Value> {
        self.rules().1.iter().map(Rule::to_json).collect()
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules().1.clear();
    }

    /// Whether a call of `method` by `caller` is struck, and how.
    pub fn strike(&self, method: &str, caller: &Caller) -> Option<Strike> {
        let mut rules = self.rules();
        for rule in &mut rules.1 {
            if !rule.matches(method, caller) {
                continue;
            }
            if rule.probability < 1.0 && rule.draw() >= rule.probability {
                continue;
            }
            rule.hits += 1;
            if let Some(left) = &mut rule.times {
                *left -= 1;
            }
            return Some(Strike {
                delay: rule.delay,
                kind: rule.kind,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::ctx::AuthKind;

    fn caller(token: bool) -> Caller {
        Caller::test_admin(if token {
            AuthKind::OAuth {
                app_id: 1,
                expires: i64::MAX,
            }
        } else {
            AuthKind::Webhook(1)
        })
    }

    #[test]
    fn scripted_rules_run_out_and_match_by_prefix() {
        let faults = Faults::default();
        faults
            .add(&json!({"method": "crm.lead.*", "error": "QUERY_LIMIT_EXCEEDED", "times": 2}))
            .unwrap();
        let webhook = caller(false);
        assert!(faults.strike("crm.deal.add", &webhook).is_none());
        for _ in 0..2 {
            let strike = faults.strike("crm.lead.add", &webhook).unwrap();
            assert_eq!(strike.kind, FaultKind::QueryLimitExceeded);
        }
        assert!(
            faults.strike("crm.lead.add", &webhook).is_none(),
            "then it succeeds"
        );
        assert_eq!(faults.list()[0]["hits"], 2);
        assert!(
            faults
                .add(&json!({"method": "*", "error": "NOPE"}))
                .is_err()
        );
    }

    #[test]
    fn expired_tokens_strike_token_calls_and_draws_repeat_with_a_seed() {
        let faults = Faults::default();
        faults
            .add(&json!({"method": "*", "error": "expired_token"}))
            .unwrap();
        assert!(faults.strike("user.current", &caller(false)).is_none());
        assert!(faults.strike("user.current", &caller(true)).is_some());
        let draws = |seed: u64| {
            let f = Faults::default();
            f.add(&json!({"method": "*", "error": "ERROR_CORE", "probability": 0.5, "seed": seed}))
                .unwrap();
            (0..64)
                .map(|_| f.strike("x", &caller(false)).is_some())
                .collect::<Vec<bool>>()
        };
        assert_eq!(draws(7), draws(7));
        let hits = draws(7).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "{hits}");
    }
}
