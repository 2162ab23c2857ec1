//! Batch reference substitution on arbitrary input: the first line is a JSON value taken
//! as the earlier commands' results (keyed "a", "b", …), the rest is a command's query
//! string. Substitution never panics, leaves strings without `$` alone, and never
//! produces more than one value per parameter.
#![no_main]

use chrono::{FixedOffset, Utc};
use crm_server::rpc::Reply;
use crm_server::rpc::batch::{Results, command_params};
use crm_server::wire::envelope::Time;
use crm_server::wire::php_query::{Limits, parse_str};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (head, query) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let mut results = Results::default();
    let earlier: Vec<Value> = match serde_json::from_slice::<Value>(head) {
        Ok(Value::Array(a)) => a,
        Ok(other) => vec![other],
        Err(_) => Vec::new(),
    };
    let now = Utc::now();
    let tz = FixedOffset::east_opt(0).unwrap();
    for (i, v) in earlier.into_iter().take(8).enumerate() {
        let key = ((b'a' + i as u8) as char).to_string();
        let reply = Reply { result: v, next: Some(50), total: Some(7) };
        results.record(key, Ok((reply, Time::new(now, now, 0.0, tz))));
    }
    let params = command_params(query, &results);
    let plain = Value::Object(parse_str(query.as_bytes(), &Limits::default()));
    let (Value::Object(got), Value::Object(want)) = (&params, &plain) else {
        panic!("parameters are not an object");
    };
    assert_eq!(got.len(), want.len());
    for (k, v) in want {
        if let Value::String(s) = v
            && !s.contains('$')
        {
            assert_eq!(got[k], *v);
        }
    }
});
