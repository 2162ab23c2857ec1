//! PHP arrays in JSON: the two conversions every part of the wire format shares.
//!
//! A PHP array is one ordered map with integer or string keys. JSON has two shapes for it,
//! so the rules live here once:
//! - reading: a JSON list where an array is expected is the map `{"0": …, "1": …}`
//!   ([`from_list`], [`as_array`]);
//! - writing: PHP's `json_encode` makes a JSON list of an array whose keys are exactly
//!   `0..n-1` in order (the empty array too, as `[]`) and an object of anything else
//!   ([`encode`]).

use serde_json::{Map, Value};

/// A list read as a PHP array: its elements keyed `"0"`, `"1"`, ….
pub fn from_list(list: Vec<Value>) -> Map<String, Value> {
    list.into_iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), v))
        .collect()
}

/// A value read where a PHP array is expected: an object as it is, a list index-keyed,
/// `None` for scalars and null.
pub fn as_array(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(o) => Some(o),
        Value::Array(a) => Some(from_list(a)),
        _ => None,
    }
}

/// PHP's `json_encode` of an array: a list when the keys are exactly `"0"`, `"1"`, … in
/// order (`[]` when empty), an object otherwise (order kept).
pub fn encode(map: Map<String, Value>) -> Value {
    let is_list = map.keys().enumerate().all(|(i, k)| *k == i.to_string());
    if is_list {
        Value::Array(map.into_iter().map(|(_, v)| v).collect())
    } else {
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sequential_keys_encode_as_a_list() {
        assert_eq!(encode(Map::new()), json!([]));
        assert_eq!(encode(map(json!({"0": 1, "1": 2}))), json!([1, 2]));
        assert_eq!(
            encode(map(json!({"0": 1, "2": 3}))),
            json!({"0": 1, "2": 3})
        );
        assert_eq!(
            encode(map(json!({"1": 1, "0": 0}))),
            json!({"1": 1, "0": 0})
        );
        // Only canonical decimal keys count: "00" and "+1" are string keys in PHP.
        assert_eq!(encode(map(json!({"00": 1}))), json!({"00": 1}));
        assert_eq!(
            encode(map(json!({"0": 1, "+1": 2}))),
            json!({"0": 1, "+1": 2})
        );
        assert_eq!(encode(map(json!({"a": 1}))), json!({"a": 1}));
    }

    #[test]
    fn lists_read_as_index_keyed_maps() {
        assert_eq!(
            as_array(json!(["a", "b"])),
            Some(map(json!({"0": "a", "1": "b"})))
        );
        assert_eq!(as_array(json!({"x": 1})), Some(map(json!({"x": 1}))));
        assert_eq!(as_array(json!("x")), None);
        assert_eq!(as_array(Value::Null), None);
        assert_eq!(encode(from_list(vec![json!(1), json!(2)])), json!([1, 2]));
    }
}
