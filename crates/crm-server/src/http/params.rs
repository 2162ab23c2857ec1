//! Building one parameter tree from a request: the query string merged with the body
//! (body wins on a top-level key clash), each parsed by its content type.
//!
//! Parsing is bounded before it allocates: form bodies by PHP's own limits (64 levels,
//! 10,000 pairs, later pairs ignored as PHP does), JSON bodies by [`json::params`]'s
//! pre-scan (a clear 400 past its bounds), so no request can make the server build a tree
//! far larger than its body.

use crate::rpc::ApiError;
use crate::wire::json;
use crate::wire::php_query::{self, Limits};
use bytes::Bytes;
use serde_json::{Map, Value};

/// The OAuth token among a request's parameters, as far as it can be found without
/// building the parameter tree.
pub(super) enum Token {
    /// The `auth` (else `access_token`) parameter, a non-empty string.
    Found(String),
    /// The parameters carry none.
    Absent,
    /// Only the full parse can tell (multipart bodies).
    Unknown,
}

fn essence(content_type: Option<&str>) -> String {
    content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Finds the OAuth token with the rules of the full parse (body over query, `auth` before
/// `access_token`, only non-empty strings count) while building nothing but its value,
/// so that an unauthenticated request costs a scan of its body, not a tree. JSON bodies
/// past the parser's bounds are refused here already.
pub(super) fn token(
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Token, ApiError> {
    let limits = Limits::default();
    let names = ["auth", "access_token"];
    let from_body: [Option<Value>; 2] = match essence(content_type).as_str() {
        "application/json" => {
            json::check_bounds(body).map_err(|e| ApiError::BadRequest(400, e.to_string()))?;
            json::members(body, names)
        }
        "multipart/form-data" => return Ok(Token::Unknown),
        _ => names.map(|n| php_query::top_level_string(body, n, &limits).map(Value::String)),
    };
    let from_query =
        names.map(|n| query.and_then(|q| php_query::top_level_string(q.as_bytes(), n, &limits)));
    for (body_value, query_value) in from_body.into_iter().zip(from_query) {
        let value = match body_value {
            Some(v) => v.as_str().map(str::to_string),
            None => query_value,
        };
        if let Some(t) = value.filter(|t| !t.is_empty()) {
            return Ok(Token::Found(t));
        }
    }
    Ok(Token::Absent)
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
    let from_body = match essence(content_type).as_str() {
        "application/json" => {
            json::params(&body).map_err(|e| ApiError::BadRequest(400, e.to_string()))?
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
}
