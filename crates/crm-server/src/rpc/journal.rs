//! The request journal of a test double (`--control`): the last calls that passed
//! [`crate::rpc::dispatch`], each with its method, caller, decoded parameters (secrets
//! redacted), status, result or error and duration; calls made inside a `batch` are kept
//! as children of it.

use crate::rpc::dispatch::Outcome;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Parameters whose values are never kept.
const SECRET_KEYS: [&str; 7] = [
    "auth",
    "access_token",
    "refresh_token",
    "client_secret",
    "password",
    "secret",
    "code",
];

/// Longest result kept as is (serialized bytes); a longer one is replaced by a note.
const MAX_RESULT_BYTES: usize = 16 * 1024;

/// The last calls, newest last.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    next: AtomicU64,
    entries: Mutex<VecDeque<Value>>,
}

/// A copy of `v` with the values of secret-bearing keys replaced, at any depth.
fn redacted(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let secret = SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k.trim()));
                    (k.clone(), if secret { json!("***") } else { redacted(v) })
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

impl Journal {
    /// A journal keeping the last `capacity` top-level calls.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            next: AtomicU64::new(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, VecDeque<Value>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new call's id.
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a finished call; one made inside the call `parent` (a batch) is added to
    /// that call's `children` when the batch is recorded after it.
    pub fn record(&self, id: u64, parent: Option<u64>, outcome: &Outcome) {
        let mut entry = Map::new();
        entry.insert("id".into(), json!(id));
        entry.insert("method".into(), json!(outcome.method));
        entry.insert("user".into(), json!(outcome.caller.user.id));
        let credential = if outcome.caller.auth.is_token() {
            "token"
        } else {
            "webhook"
        };
        entry.insert("credential".into(), json!(credential));
        entry.insert("params".into(), redacted(&outcome.params));
        entry.insert("status".into(), json!(outcome.status));
        match &outcome.result {
            Ok(reply) => {
                let text = reply.result.to_string();
                let kept = if text.len() > MAX_RESULT_BYTES {
                    json!({"truncated": true, "bytes": text.len()})
                } else {
                    reply.result.clone()
                };
                entry.insert("result".into(), kept);
            }
            Err(e) => {
                let (code, _, text) = e.parts();
                entry.insert(
                    "error".into(),
                    json!({"error": code, "error_description": text}),
                );
            }
        }
        entry.insert("started".into(), json!(outcome.started.to_rfc3339()));
        entry.insert("duration_ms".into(), json!(outcome.processing * 1000.0));
        let mut entries = self.entries();
        if let Some(parent) = parent {
            // Children wait under a placeholder until their batch is recorded.
            let pending = entries
                .iter_mut()
                .rev()
                .find(|e| e["id"] == json!(parent) && e["pending"] == json!(true));
            match pending {
                Some(p) => push_child(p, entry),
                None => {
                    let mut placeholder = json!({"id": parent, "pending": true, "children": []});
                    push_child(&mut placeholder, entry);
                    entries.push_back(placeholder);
                }
            }
            return;
        }
        let children = entries
            .iter()
            .position(|e| e["id"] == json!(id) && e["pending"] == json!(true))
            .and_then(|at| entries.remove(at))
            .and_then(|p| p.get("children").cloned());
        if let Some(children) = children {
            entry.insert("children".into(), children);
        }
        entries.push_back(Value::Object(entry));
        while entries.len() > self.capacity {
            entries.pop_front();
        }
    }

    /// The last `limit` top-level calls, newest first, of `method` (canonical name) and
    /// with `status` when given.
    pub fn list(&self, method: Option<&str>, status: Option<u16>, limit: usize) -> Vec<Value> {
        self.entries()
            .iter()
            .rev()
            .filter(|e| e.get("pending").is_none())
            .filter(|e| method.is_none_or(|m| e["method"] == json!(m)))
            .filter(|e| status.is_none_or(|s| e["status"] == json!(s)))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Forgets every call.
    pub fn clear(&self) {
        self.entries().clear();
    }
}

fn push_child(parent: &mut Value, child: Map<String, Value>) {
    if let Some(Value::Array(children)) = parent.get_mut("children") {
        children.push(Value::Object(child));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = json!({"auth": "x", "fields": {"TITLE": "t"}, "cmd": [{"client_secret": "s"}]});
        assert_eq!(
            redacted(&v),
            json!({"auth": "***", "fields": {"TITLE": "t"}, "cmd": [{"client_secret": "***"}]})
        );
    }
}
