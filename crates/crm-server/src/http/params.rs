//! Building one parameter tree from a request: the query string merged with the body
//! (body wins on a top-level key clash), each parsed by its content type.
//!
//! Parsing is bounded before it allocates: form bodies by PHP's own limits (64 levels,
//! 10,000 pairs, later pairs ignored as PHP does), JSON bodies by a linear pre-scan that
//! refuses more than [`JSON_MAX_DEPTH`] levels or [`JSON_MAX_ELEMENTS`] elements with a
//! clear 400, so no request can make the server build a tree far larger than its body.

use crate::rpc::ApiError;
use crate::wire::php_array;
use crate::wire::php_query::{self, Limits};
use bytes::Bytes;
use serde_json::{Map, Value};

/// Deepest nesting of a JSON body (PHP's `max_input_nesting_level` for forms is the same).
pub(crate) const JSON_MAX_DEPTH: usize = 64;

/// Most elements (values, counted by their separators) of a JSON body.
pub(crate) const JSON_MAX_ELEMENTS: usize = 500_000;

/// Refuses a JSON text nested deeper than [`JSON_MAX_DEPTH`] or holding more than
/// [`JSON_MAX_ELEMENTS`] elements; one pass over the bytes, nothing allocated. Invalid
/// JSON within the bounds passes (it is then read as "no parameters", as on a portal).
pub(crate) fn check_json_bounds(body: &[u8]) -> Result<(), ApiError> {
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
                if depth > JSON_MAX_DEPTH {
                    return Err(ApiError::BadRequest(
                        400,
                        format!("The JSON body is nested deeper than {JSON_MAX_DEPTH} levels"),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => elements += 1,
            _ => {}
        }
        if elements > JSON_MAX_ELEMENTS {
            return Err(ApiError::BadRequest(
                400,
                format!("The JSON body has more than {JSON_MAX_ELEMENTS} elements"),
            ));
        }
    }
    Ok(())
}

/// The request's parameters as one JSON object.
pub(super) async fn collect(
    query: Option<&str>,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Map<String, Value>, ApiError> {
    let limits = Limits::default();
    let mut params = query
        .map(|q| php_query::parse_str(q.as_bytes(), &limits))
        .unwrap_or_default();
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let from_body = match essence.as_str() {
        "application/json" => {
            check_json_bounds(&body)?;
            json_body(&body)
        }
        "multipart/form-data" => match content_type.and_then(|c| multer::parse_boundary(c).ok()) {
            Some(boundary) => multipart_body(body, boundary).await,
            None => Map::new(),
        },
        _ => php_query::parse_str(&body, &limits),
    };
    params.extend(from_body);
    Ok(params)
}

/// A JSON body; anything that is not a JSON object or list means "no parameters", as on
/// a portal (the PHP SDK sends `[]` for a call without parameters).
fn json_body(body: &[u8]) -> Map<String, Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(php_array::as_array)
        .unwrap_or_default()
}

/// The text fields of a multipart body, parsed with PHP's rules. File parts are skipped;
/// a malformed body yields the fields read before the error.
async fn multipart_body(body: Bytes, boundary: String) -> Map<String, Value> {
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut pairs: Vec<(String, String)> = Vec::new();
    while let Ok(Some(field)) = mp.next_field().await {
        if field.file_name().is_some() {
            continue;
        }
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        match field.bytes().await {
            Ok(v) => pairs.push((name, String::from_utf8_lossy(&v).into_owned())),
            Err(_) => break,
        }
    }
    php_query::parse_pairs(pairs, &Limits::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn body_wins_over_query_and_bad_json_is_empty() {
        let v = collect(
            Some("id=1&x=q"),
            Some("application/json; charset=utf-8"),
            Bytes::from(r#"{"id":2}"#),
        )
        .await
        .unwrap();
        assert_eq!(Value::Object(v), json!({"id": 2, "x": "q"}));
        let v = collect(
            Some("id=1"),
            Some("application/json"),
            Bytes::from("{\"id\":"),
        )
        .await
        .unwrap();
        assert_eq!(Value::Object(v), json!({"id": "1"}));
        let v = collect(
            None,
            Some("application/x-www-form-urlencoded"),
            Bytes::from("fields%5BA%5D=1"),
        )
        .await
        .unwrap();
        assert_eq!(Value::Object(v), json!({"fields": {"A": "1"}}));
        let v = collect(None, None, Bytes::from("a[]=1&a[]=2"))
            .await
            .unwrap();
        assert_eq!(Value::Object(v), json!({"a": ["1", "2"]}));
    }

    #[tokio::test]
    async fn multipart_fields_use_php_names() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"fields[TITLE]\"\r\n\r\nHi\r\n\
                    --XX\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n5\r\n--XX--\r\n";
        let v = collect(
            None,
            Some("multipart/form-data; boundary=XX"),
            Bytes::from(body),
        )
        .await
        .unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"fields": {"TITLE": "Hi"}, "id": "5"})
        );
    }

    #[test]
    fn json_bounds_count_depth_and_elements_outside_strings() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_json_bounds(deep(JSON_MAX_DEPTH).as_bytes()).is_ok());
        let err = check_json_bounds(deep(JSON_MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(
            err.parts(),
            (
                "INVALID_REQUEST",
                400,
                "The JSON body is nested deeper than 64 levels".to_string()
            )
        );
        // Brackets, commas and escaped quotes inside strings do not count.
        let text = format!(r#"{{"a":"{}\"{}"}}"#, "[,".repeat(600_000), "{".repeat(100));
        assert!(check_json_bounds(text.as_bytes()).is_ok());
        let many = format!("[{}0]", "0,".repeat(JSON_MAX_ELEMENTS));
        let err = check_json_bounds(many.as_bytes()).unwrap_err();
        assert_eq!(err.status(), 400);
        let within = format!("[{}0]", "0,".repeat(JSON_MAX_ELEMENTS - 2));
        assert!(check_json_bounds(within.as_bytes()).is_ok());
    }
}
