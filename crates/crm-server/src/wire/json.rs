//! JSON request bodies, read the way a portal reads them and within bounds.
//!
//! A body that is not a JSON object or list means "no parameters" (the PHP SDK sends `[]`
//! for a call without parameters; invalid JSON is not an error on a portal); a list is an
//! index-keyed PHP array. Before anything is allocated, one pass over the bytes refuses
//! bodies nested deeper than [`MAX_DEPTH`] or holding more than [`MAX_ELEMENTS`] elements,
//! so a body can never become a tree much larger than itself (an 8 MB `[0,0,…]` used to
//! take a gigabyte).

use crate::wire::php_array;
use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Deepest nesting of a JSON body (PHP's `max_input_nesting_level` for forms is the same).
pub const MAX_DEPTH: usize = 64;

/// Most elements of a JSON body (counted by brackets and separators outside strings).
pub const MAX_ELEMENTS: usize = 500_000;

/// Most entries a top-level JSON list contributes as parameters `"0"`, `"1"`, … (the rest
/// are ignored, like form pairs past PHP's `max_input_vars`). No method reads them: the
/// rule exists for the PHP SDK's `[]`, and an index-keyed map costs about 100 bytes an
/// entry, so a list of 500,000 zeros would otherwise take 150 MB.
pub const MAX_TOP_LEVEL_ITEMS: usize = 10_000;

/// A JSON body past the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    /// More than [`MAX_DEPTH`] levels.
    #[error("The JSON body is nested deeper than {MAX_DEPTH} levels")]
    Deep,
    /// More than [`MAX_ELEMENTS`] elements.
    #[error("The JSON body has more than {MAX_ELEMENTS} elements")]
    Long,
}

/// Checks the bounds in one pass over the bytes, allocating nothing. Invalid JSON within
/// the bounds passes.
pub fn check_bounds(body: &[u8]) -> Result<(), TooLarge> {
    let (mut depth, mut elements) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                elements += 1;
                if depth > MAX_DEPTH {
                    return Err(TooLarge::Deep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => elements += 1,
            _ => {}
        }
        if elements > MAX_ELEMENTS {
            return Err(TooLarge::Long);
        }
    }
    Ok(())
}

/// The parameters in a JSON body: an object as it is, a list index-keyed (its first
/// [`MAX_TOP_LEVEL_ITEMS`] entries), anything else (a scalar, invalid JSON) none.
pub fn params(body: &[u8]) -> Result<Map<String, Value>, TooLarge> {
    check_bounds(body)?;
    Ok(match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        Ok(Value::Array(mut a)) => {
            a.truncate(MAX_TOP_LEVEL_ITEMS);
            php_array::from_list(a)
        }
        _ => Map::new(),
    })
}

/// The values of the top-level members `names` of a JSON object body, read without
/// building the rest of the tree (other members are skipped as they are scanned). A
/// repeated member keeps its last value, as the full parse does; a body that is not an
/// object has none.
pub fn members<const N: usize>(body: &[u8], names: [&str; N]) -> [Option<Value>; N] {
    struct Wanted<'a, const N: usize>([&'a str; N]);

    impl<'de, const N: usize> Visitor<'de> for Wanted<'_, N> {
        type Value = [Option<Value>; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = [const { None }; N];
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match self.0.iter().position(|n| *n == key) {
                    Some(i) => found[i] = Some(map.next_value::<Value>()?),
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(found)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(body);
    de.deserialize_map(Wanted(names))
        .ok()
        .filter(|_| de.end().is_ok())
        .unwrap_or([const { None }; N])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounds_count_depth_and_elements_outside_strings() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(check_bounds(deep(MAX_DEPTH).as_bytes()), Ok(()));
        assert_eq!(
            check_bounds(deep(MAX_DEPTH + 1).as_bytes()),
            Err(TooLarge::Deep)
        );
        assert_eq!(
            TooLarge::Deep.to_string(),
            "The JSON body is nested deeper than 64 levels"
        );
        // Brackets, commas and escaped quotes inside strings do not count.
        let text = format!(r#"{{"a":"{}\"{}"}}"#, "[,".repeat(600_000), "{".repeat(100));
        assert_eq!(check_bounds(text.as_bytes()), Ok(()));
        let many = format!("[{}0]", "0,".repeat(MAX_ELEMENTS));
        assert_eq!(check_bounds(many.as_bytes()), Err(TooLarge::Long));
        let within = format!("[{}0]", "0,".repeat(MAX_ELEMENTS - 2));
        assert_eq!(check_bounds(within.as_bytes()), Ok(()));
    }

    #[test]
    fn members_are_read_without_the_rest() {
        let body = br#"{"x":[1,{"auth":"no"}],"auth":"a","access_token":7,"auth":"b"}"#;
        assert_eq!(
            members(body, ["auth", "access_token", "missing"]),
            [Some(json!("b")), Some(json!(7)), None]
        );
        // Not an object, or not valid JSON to the end: nothing.
        assert_eq!(members(br#"["auth"]"#, ["auth"]), [None]);
        assert_eq!(members(br#"{"auth":"a"} x"#, ["auth"]), [None]);
        assert_eq!(members(br#"{"auth":"a","#, ["auth"]), [None]);
        // Escaped key names are compared decoded.
        assert_eq!(
            members(br#"{"au\u0074h":"c"}"#, ["auth"]),
            [Some(json!("c"))]
        );
    }

    #[test]
    fn bodies_read_as_php_arrays() {
        let got = |b: &str| Value::Object(params(b.as_bytes()).unwrap());
        assert_eq!(got(r#"{"id":2}"#), json!({"id": 2}));
        assert_eq!(got(r#"["a","b"]"#), json!({"0": "a", "1": "b"}));
        assert_eq!(got("[]"), json!({}));
        assert_eq!(got("7"), json!({}));
        assert_eq!(got("{\"id\":"), json!({}));
        assert_eq!(got(""), json!({}));
        let long = format!("[{}0]", "1,".repeat(MAX_TOP_LEVEL_ITEMS));
        let read = params(long.as_bytes()).unwrap();
        assert_eq!(read.len(), MAX_TOP_LEVEL_ITEMS);
        assert_eq!(read["9999"], json!(1));
    }
}
