//! HTTP transport: routes, turning a request into (method, credentials, parameters), and a
//! call outcome into the Bitrix envelope with the right status. All Bitrix semantics live
//! in `wire` and `rpc`; this module only adapts HTTP to them.

mod control;
mod oauth;
mod params;

use crate::auth::{Credentials, authenticate};
use crate::rpc::dispatch::{self, Outcome};
use crate::rpc::faults::Transport;
use crate::rpc::{ApiError, MethodSpec, Services};
use crate::wire::envelope;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::BytesMut;
use futures_util::{FutureExt, StreamExt};
use serde_json::{Map, Value};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// What the router shares with every request.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Services of the method layer.
    pub services: Arc<Services>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Time allowed for a whole request body to arrive.
    pub body_timeout: Duration,
    /// Lifetime of OAuth access tokens issued by `/oauth/token/`, in seconds.
    pub token_ttl: i64,
    /// The test-double controls behind `/_crm/`, with `--control`.
    pub control: Option<Arc<crate::control::Control>>,
}

/// The application's routes: `/healthz`, the control endpoints under `/_crm/`, the OAuth
/// server's `/oauth/token/` and `/oauth/authorize/`, and everything under `/rest/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(healthz).fallback(|| async {
                error_response(&ApiError::BadRequest(
                    405,
                    "Only GET and HEAD are allowed on /healthz".into(),
                ))
            }),
        )
        .route("/_crm/{*rest}", any(control::serve))
        .fallback(rest)
        .with_state(state)
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    // Straight into bytes: `to_string` goes through `fmt::Display` and costs more.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut res = (status, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("origin, content-type, accept"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// The page a portal's proxy answers when the application behind it fails.
const BAD_GATEWAY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
</body>\r\n</html>\r\n";

fn error_response(e: &ApiError) -> Response {
    match e {
        ApiError::Transport(Transport::BadGateway) => {
            let mut res = (StatusCode::BAD_GATEWAY, BAD_GATEWAY_PAGE).into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return res;
        }
        ApiError::Transport(Transport::Reset) => {
            // A body that fails before its first byte: the server drops the connection
            // without an answer.
            let failing = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::from(
                    std::io::ErrorKind::ConnectionReset,
                ))
            });
            return Response::new(Body::from_stream(failing));
        }
        _ => {}
    }
    let (code, status, text) = e.parts();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &envelope::error(code, &text))
}

/// A REST path split into its parts: `/rest/{method}` or `/rest/{user}/{secret}/{method}`,
/// tolerating doubled and trailing slashes.
fn split_path(path: &str) -> Option<(Option<(&str, &str)>, &str)> {
    let rest = path.strip_prefix("/rest/")?;
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).take(4).collect();
    match segs.as_slice() {
        [method] => Some((None, method)),
        [user, secret, method] => Some((Some((user, secret)), method)),
        _ => None,
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

/// The token of the OAuth-style route, from `auth`/`access_token` among `params`, else the
/// `Authorization: Bearer` header.
fn oauth_token(params: &Map<String, Value>, headers: &HeaderMap) -> Option<Credentials> {
    ["auth", "access_token"]
        .iter()
        .find_map(|k| params.get(*k).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or_else(|| bearer(headers))
        .map(Credentials::Token)
}

/// The body length a request declares.
fn declared_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// How reading a body ended early.
enum BodyError {
    TooLarge,
    TimedOut,
    /// The client went away or sent a malformed body.
    Broken,
}

/// Reads the body up to `limit` bytes within `deadline`, keeping it (`keep`) or
/// discarding it as it arrives.
async fn read_body(
    body: Body,
    limit: usize,
    deadline: Duration,
    keep: bool,
) -> Result<Bytes, BodyError> {
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = BytesMut::new();
        let mut seen = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            seen = seen.saturating_add(chunk.len());
            if seen > limit {
                return Err(BodyError::TooLarge);
            }
            if keep {
                buf.extend_from_slice(&chunk);
            }
        }
        Ok(buf.freeze())
    };
    tokio::time::timeout(deadline, read)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// What a failed request answers, and the user id when authentication got that far.
type Failure = (ApiError, Option<i64>);

async fn rest(State(state): State<AppState>, req: Request) -> Response {
    let started = state.services.clock.now();
    let mark = state.services.clock.monotonic();
    let elapsed_ms = || {
        state
            .services
            .clock
            .monotonic()
            .saturating_sub(mark)
            .as_secs_f64()
            * 1000.0
    };
    if req.method() == Method::OPTIONS {
        return json_response(StatusCode::OK, &Value::Null);
    }
    let (parts, body) = req.into_parts();
    if let Some(which) = oauth::endpoint(parts.uri.path()) {
        let response = oauth::serve(&state, which, parts, body).await;
        tracing::info!(
            target: "crm_server::request",
            method = %which.path(),
            user = 0,
            status = response.status().as_u16(),
            duration_ms = elapsed_ms(),
            "request"
        );
        return response;
    }
    let spec = split_path(parts.uri.path()).and_then(|(_, raw)| state.services.registry.get(raw));
    let outcome = match spec {
        // A panic is a bug, but it must still end in an answer and a log line.
        Some(spec) => AssertUnwindSafe(serve(&state, &parts, body, spec))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!(method = %spec.name, "the method panicked");
                Err((ApiError::Internal("panic".into()), None))
            }),
        None => {
            // Drained, not parsed: an answer to an HTTP/2 request whose body is still
            // unread resets the stream, and some clients (curl) then drop the response.
            // A declared length over the limit is not waited for.
            if declared_length(&parts).is_none_or(|n| n <= state.max_body_bytes as u64) {
                let _ = read_body(body, state.max_body_bytes, state.body_timeout, false).await;
            }
            Err((ApiError::MethodNotFound, None))
        }
    };
    let (response, status, user) = match outcome {
        Ok((called, user)) => {
            let time = called.time(started, state.services.tz);
            let status = called.status;
            match called.result {
                Ok(reply) => {
                    let body = envelope::success(reply.result, reply.next, reply.total, &time);
                    (json_response(StatusCode::OK, &body), status, Some(user))
                }
                Err(e) => (error_response(&e), status, Some(user)),
            }
        }
        Err((e, user)) => (error_response(&e), e.status(), user),
    };
    // Only registered names are logged: the path of an unknown method may be a secret.
    let method = spec.map_or("-", |s| s.name);
    if status >= 500 {
        tracing::error!(method = %method, status, "request failed");
    }
    tracing::info!(
        target: "crm_server::request",
        method = %method,
        user = user.unwrap_or(0),
        status,
        duration_ms = elapsed_ms(),
        "request"
    );
    response
}

/// Credentials, body and parameters of a call to a registered method, in the order that
/// keeps unauthenticated requests cheap: a declared length over the limit is refused
/// before anything is read; on the webhook route the secret is checked before the body is
/// read (a wrong one only drains it); on the OAuth-style route, where the token may be in
/// the body, the body is read and parsed within the parser's bounds first.
async fn serve(
    state: &AppState,
    parts: &Parts,
    body: Body,
    spec: &MethodSpec,
) -> Result<(Outcome, i64), Failure> {
    let services = &state.services;
    if declared_length(parts).is_some_and(|n| n > state.max_body_bytes as u64) {
        return Err((ApiError::BodyTooLarge(state.max_body_bytes), None));
    }
    let webhook = match split_path(parts.uri.path()) {
        Some((Some((user, secret)), _)) => Some(Credentials::Webhook {
            user: user.to_string(),
            secret: secret.to_string(),
        }),
        _ => None,
    };
    let known = match &webhook {
        Some(creds) => match authenticate(services, creds).await {
            Ok(caller) => Some(caller),
            Err(e) => {
                let _ = read_body(body, state.max_body_bytes, state.body_timeout, false).await;
                return Err((e, None));
            }
        },
        None => None,
    };
    let bytes = read_body(body, state.max_body_bytes, state.body_timeout, true)
        .await
        .map_err(|e| {
            let err = match e {
                BodyError::TooLarge => ApiError::BodyTooLarge(state.max_body_bytes),
                BodyError::TimedOut => ApiError::BodyTimeout(state.body_timeout.as_secs()),
                BodyError::Broken => {
                    ApiError::BadRequest(400, "The request body could not be read".into())
                }
            };
            (err, None)
        })?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let query = parts.uri.query();
    // On the OAuth-style route the token is found (and checked) before the parameter
    // tree is built, except in multipart bodies.
    let caller = match known {
        Some(caller) => Some(caller),
        None => {
            let creds = match params::token(query, content_type, &bytes).map_err(|e| (e, None))? {
                params::Token::Found(t) => Some(Credentials::Token(t)),
                params::Token::Absent => {
                    Some(bearer(&parts.headers).map_or(Credentials::Missing, Credentials::Token))
                }
                params::Token::Unknown => None,
            };
            match creds {
                Some(creds) => Some(
                    authenticate(services, &creds)
                        .await
                        .map_err(|e| (e, None))?,
                ),
                None => None,
            }
        }
    };
    let params = params::collect(query, content_type, bytes)
        .await
        .map_err(|e| (e, None))?;
    let caller = match caller {
        Some(caller) => caller,
        None => {
            let creds = oauth_token(&params, &parts.headers).unwrap_or(Credentials::Missing);
            authenticate(services, &creds)
                .await
                .map_err(|e| (e, None))?
        }
    };
    let caller = Arc::new(caller);
    let user = caller.user.id;
    let called = dispatch::call(services, &caller, spec, Value::Object(params), None).await;
    Ok((called, user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_tolerate_php_sdk_slashes() {
        assert_eq!(split_path("/rest/server.time"), Some((None, "server.time")));
        assert_eq!(
            split_path("/rest/1/abc//crm.lead.add/"),
            Some((Some(("1", "abc")), "crm.lead.add"))
        );
        assert_eq!(split_path("/rest/1/abc"), None);
        assert_eq!(split_path("/rest/1/abc/x/y"), None);
        assert_eq!(split_path("/other"), None);
    }
}
