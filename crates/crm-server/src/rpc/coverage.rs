//! Which methods were called since the server started (with `--control`): the coverage
//! table of `GET /_crm/coverage`, so a suite can see what it exercised.

use crate::rpc::Registry;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Calls per method since start.
#[derive(Debug, Default)]
pub struct Coverage {
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl Coverage {
    /// Counts one call of `method`.
    pub fn record(&self, method: &'static str) {
        let mut calls = self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *calls.entry(method).or_default() += 1;
    }

    /// Every registered method with its scope and its calls, by name; how many were
    /// called at least once.
    pub fn report(&self, registry: &Registry) -> Value {
        let calls = self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let methods: Vec<Value> = registry
            .iter()
            .map(|m| {
                json!({"method": m.name, "scope": m.scope.map(|s| s.code()),
                       "calls": calls.get(m.name).copied().unwrap_or(0)})
            })
            .collect();
        let exercised = methods.iter().filter(|m| m["calls"] != json!(0)).count();
        json!({"methods": methods, "exercised": exercised, "total": registry.iter().count()})
    }
}
