//! PHP `parse_str` on arbitrary bytes: never panics, every leaf is a string, no name is
//! nested deeper than the limit, and the result survives `http_build_query` → `parse_str`
//! unchanged when it has no empty arrays (PHP drops those), and the quick scan for one
//! top-level string (the OAuth token) agrees with the full parse.
#![no_main]

use crm_server::wire::php_query::{Limits, build_query, parse_str, top_level_string};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn leaves_are_strings(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(a) => a.iter().all(leaves_are_strings),
        Value::Object(o) => o.values().all(leaves_are_strings),
        _ => false,
    }
}

fn has_empty_container(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty() || a.iter().any(has_empty_container),
        Value::Object(o) => o.is_empty() || o.values().any(has_empty_container),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_depth: 16,
        max_vars: 1_000,
        max_arrays: 4_000,
    };
    let parsed = parse_str(data, &limits);
    for (key, v) in &parsed {
        assert!(!key.is_empty());
        assert!(leaves_are_strings(v), "{v}");
        assert!(depth(v) <= limits.max_depth, "{key}: {v}");
    }
    let unbounded = Limits {
        max_arrays: usize::MAX,
        ..limits
    };
    let full = parse_str(data, &unbounded);
    for name in ["auth", "a", "access_token", "a_b"] {
        assert_eq!(
            top_level_string(data, name, &unbounded),
            full.get(name).and_then(Value::as_str).map(str::to_string),
            "{name}"
        );
    }
    let tree = Value::Object(parsed.clone());
    if !has_empty_container(&tree) {
        let again = parse_str(build_query(&parsed).as_bytes(), &Limits::default());
        assert_eq!(Value::Object(again), tree);
    }
});
