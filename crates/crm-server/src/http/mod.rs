//! HTTP transport: routes, turning a request into (method, credentials, parameters), and a
//! call outcome into the Bitrix envelope with the right status. All Bitrix semantics live
//! in `wire` and `rpc`; this module only adapts HTTP to them.

mod params;

use crate::auth::{Credentials, authenticate};
use crate::rpc::{ApiError, Reply, Services, dispatch};
use crate::wire::envelope::{self, Time};
use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// What the router shares with every request.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Services of the method layer.
    pub services: Arc<Services>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

/// The application's routes: `/healthz`, and everything under `/rest/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(rest)
        .with_state(state)
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
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

fn error_response(e: &ApiError) -> Response {
    let (code, status, text) = e.parts();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &envelope::error(code, &text))
}

/// A REST path split into its parts: `/rest/{method}` or `/rest/{user}/{secret}/{method}`,
/// tolerating doubled and trailing slashes.
fn split_path(path: &str) -> Option<(Option<(&str, &str)>, &str)> {
    let rest = path.strip_prefix("/rest/")?;
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [method] => Some((None, method)),
        [user, secret, method] => Some((Some((user, secret)), method)),
        _ => None,
    }
}

/// The canonical method name: lower case, without a `.json`/`.xml` format suffix.
fn method_name(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    for suffix in [".json", ".xml"] {
        if let Some(stripped) = lower.strip_suffix(suffix) {
            return stripped.to_string();
        }
    }
    lower
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

fn oauth_token(params: &Value, headers: &HeaderMap) -> Credentials {
    let from_params = ["auth", "access_token"]
        .iter()
        .find_map(|k| params.get(*k).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    match from_params.or_else(|| bearer(headers)) {
        Some(t) => Credentials::Token(t),
        None => Credentials::Missing,
    }
}

async fn rest(State(state): State<AppState>, req: Request) -> Response {
    let started = state.services.clock.now();
    let clock = Instant::now();
    if req.method() == Method::OPTIONS {
        return json_response(StatusCode::OK, &Value::Null);
    }
    let (parts, body) = req.into_parts();
    // The body is read (up to the limit) before any answer, errors included: answering an
    // HTTP/2 request whose body is still unread resets the stream, and some clients (curl)
    // then drop the response.
    let bytes = to_bytes(body, state.max_body_bytes).await.ok();
    let Some((webhook, raw_method)) = split_path(parts.uri.path()) else {
        return error_response(&ApiError::MethodNotFound);
    };
    let name = method_name(raw_method);
    let outcome = serve(&state, &parts, bytes, webhook, &name).await;
    let (response, status, user) = match outcome {
        Ok((reply, user, processing)) => {
            let time = Time::new(
                started,
                state.services.clock.now(),
                processing,
                state.services.tz,
            );
            let body = envelope::success(reply.result, reply.next, reply.total, &time);
            (json_response(StatusCode::OK, &body), 200, Some(user))
        }
        Err((e, user)) => {
            if e.status() >= 500 {
                tracing::error!(method = %name, error = %e, "request failed");
            }
            (error_response(&e), e.status(), user)
        }
    };
    tracing::info!(
        target: "crm_server::request",
        method = %name,
        user = user.unwrap_or(0),
        status,
        duration_ms = clock.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// The reply, the caller's user id and the seconds spent in the method; or the error and
/// the user id when authentication got that far.
type Outcome = Result<(Reply, i64, f64), (ApiError, Option<i64>)>;

async fn serve(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: Option<Bytes>,
    webhook: Option<(&str, &str)>,
    name: &str,
) -> Outcome {
    let services = &state.services;
    // Method existence is checked before anything else, credentials included.
    let spec = services
        .registry
        .get(name)
        .ok_or((ApiError::MethodNotFound, None))?;
    let bytes = body.ok_or((ApiError::BodyTooLarge(state.max_body_bytes), None))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = params::collect(parts.uri.query(), content_type, bytes).await;
    let creds = match webhook {
        Some((user, secret)) => Credentials::Webhook {
            user: user.to_string(),
            secret: secret.to_string(),
        },
        None => oauth_token(&params, &parts.headers),
    };
    let caller = authenticate(services.store.as_ref(), &creds)
        .await
        .map(Arc::new)
        .map_err(|e| (e, None))?;
    let user = caller.user.id;
    let started = Instant::now();
    dispatch::call(services, &caller, spec, params)
        .await
        .map(|r| (r, user, started.elapsed().as_secs_f64()))
        .map_err(|e| (e, Some(user)))
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
        assert_eq!(split_path("/other"), None);
        assert_eq!(method_name("SERVER.TIME.json"), "server.time");
        assert_eq!(method_name("crm.lead.add.xml"), "crm.lead.add");
    }
}
