//! The `/_crm/` control endpoints of a test double (with `--control`): JSON in, JSON out,
//! `{"error", "error_description"}` on failure, a bearer token when one is configured.
//!
//! - `GET /_crm/clock` → `{now, mode}`; `POST /_crm/clock` with `{"set": "<ISO-8601>"}`,
//!   `{"advance": seconds}` or `{"mode": "real"}`.
//! - `GET /_crm/journal?method=&status=&limit=` → `{calls: […]}`, newest first;
//!   `DELETE /_crm/journal` empties it.
//! - `POST /_crm/reset` (`{"all": true}` also for users, roles, apps and webhooks but the
//!   administrator's) empties the CRM, restarts its ids at 1 and clears the journal.
//! - `POST /_crm/snapshots/{name}` saves everything, `POST /_crm/snapshots/{name}/restore`
//!   puts it back (and clears the journal), `GET /_crm/snapshots` lists them,
//!   `DELETE /_crm/snapshots/{name}` deletes one.
//! - `POST /_crm/fixtures` loads leads, contacts, deals and companies with chosen ids
//!   (`crate::fixtures`) → `{loaded, ids}`.
//! - `PUT /_crm/limits` with `{"mode": "off" | "standard" | "enterprise"}` switches the
//!   emulated portal limits (`GET` says which apply).
//! - `GET /_crm/coverage`: every registered method with its scope and its calls since start.
//! - `POST /_crm/faults` adds a rule (`{method, error, times, probability, delay_ms,
//!   credential, seed}`) → `{id}`; `GET` lists them with their hits; `DELETE` clears.

use super::{AppState, json_response};
use crate::control::Control;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use crm_core::clock::Clock;
use serde_json::{Value, json};
use std::time::Duration;

/// Largest control request body.
const MAX_BODY: usize = 64 * 1024;

fn failure(status: StatusCode, code: &str, text: &str) -> Response {
    json_response(status, &json!({"error": code, "error_description": text}))
}

fn bad_request(text: &str) -> Response {
    failure(StatusCode::BAD_REQUEST, "INVALID_REQUEST", text)
}

/// Every request under `/_crm/`.
pub(super) async fn serve(State(state): State<AppState>, req: Request) -> Response {
    let Some(control) = state.control.clone() else {
        return failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The control endpoints are off; start the server with --control",
        );
    };
    if let Some(token) = &control.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let same = given.is_some_and(|g| {
            g.len() == token.len()
                && g.bytes()
                    .zip(token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if !same {
            return failure(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "A control call needs Authorization: Bearer <control token>",
            );
        }
    }
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().trim_end_matches('/').to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let body = match read_json(body).await {
        Ok(v) => v,
        Err(text) => return bad_request(&text),
    };
    if let Some(rest) = path.strip_prefix("/_crm/snapshots") {
        return snapshots(&state, &control, &parts.method, rest).await;
    }
    match (parts.method, path.as_str()) {
        (Method::GET, "/_crm/clock") => clock_state(&control),
        (Method::POST, "/_crm/clock") => set_clock(&control, &body),
        (Method::GET, "/_crm/journal") => journal(&control, &query),
        (Method::DELETE, "/_crm/journal") => {
            control.journal.clear();
            json_response(StatusCode::OK, &json!({"cleared": true}))
        }
        (Method::POST, "/_crm/reset") => {
            let all = body.get("all").and_then(Value::as_bool).unwrap_or(false);
            let statuses = crm_core::pipeline::default_statuses();
            match state.services.store.reset(all, statuses).await {
                Ok(()) => {
                    control.journal.clear();
                    json_response(StatusCode::OK, &json!({"reset": true, "all": all}))
                }
                Err(e) => {
                    let e = crate::rpc::ApiError::from(e);
                    let (code, status, text) = e.parts();
                    failure(
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                        code,
                        &text,
                    )
                }
            }
        }
        (Method::POST, "/_crm/fixtures") => {
            match crate::fixtures::load(&state.services, &body).await {
                Ok(answer) => json_response(StatusCode::OK, &answer),
                Err((place, e)) => {
                    let (code, _, text) = e.parts();
                    let text = if place.is_empty() {
                        text
                    } else {
                        format!("{place}: {text}")
                    };
                    failure(
                        StatusCode::BAD_REQUEST,
                        if code.is_empty() {
                            "INVALID_FIXTURES"
                        } else {
                            code
                        },
                        &text,
                    )
                }
            }
        }
        (Method::GET, "/_crm/coverage") => json_response(
            StatusCode::OK,
            &control.coverage.report(&state.services.registry),
        ),
        (Method::GET, "/_crm/limits") => json_response(
            StatusCode::OK,
            &json!({"mode": state.services.limits.mode().name()}),
        ),
        (Method::PUT, "/_crm/limits") => {
            let mode = body
                .get("mode")
                .and_then(Value::as_str)
                .and_then(crate::rpc::limits::Mode::parse);
            match mode {
                Some(mode) => {
                    state.services.limits.set_mode(mode);
                    json_response(StatusCode::OK, &json!({"mode": mode.name()}))
                }
                None => bad_request("\"mode\" is off, standard or enterprise"),
            }
        }
        (Method::GET, "/_crm/faults") => {
            json_response(StatusCode::OK, &json!({"rules": control.faults.list()}))
        }
        (Method::POST, "/_crm/faults") => match control.faults.add(&body) {
            Ok(id) => json_response(StatusCode::OK, &json!({"id": id})),
            Err(text) => bad_request(&text),
        },
        (Method::DELETE, "/_crm/faults") => {
            control.faults.clear();
            json_response(StatusCode::OK, &json!({"cleared": true}))
        }
        _ => failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No control endpoint {path}"),
        ),
    }
}

/// `/_crm/snapshots[/{name}[/restore]]`.
async fn snapshots(state: &AppState, control: &Control, method: &Method, rest: &str) -> Response {
    let store = &state.services.store;
    let answer = |r: Result<Value, crm_core::store::StoreError>| match r {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            let e = crate::rpc::ApiError::from(e);
            let (code, status, text) = e.parts();
            let code = if code.is_empty() {
                "INVALID_REQUEST"
            } else {
                code
            };
            failure(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                code,
                &text,
            )
        }
    };
    let missing = |name: &str| {
        failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No snapshot named `{name}`"),
        )
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match (method, parts.as_slice()) {
        (&Method::GET, []) => answer(store.snapshots().await.map(|n| json!({"snapshots": n}))),
        (&Method::POST, [name]) => answer(
            store
                .snapshot((*name).to_string())
                .await
                .map(|()| json!({"snapshot": name})),
        ),
        (&Method::POST, [name, "restore"]) => match store.restore((*name).to_string()).await {
            Ok(true) => {
                control.journal.clear();
                json_response(StatusCode::OK, &json!({"restored": name}))
            }
            Ok(false) => missing(name),
            Err(e) => answer(Err(e)),
        },
        (&Method::DELETE, [name]) => match store.delete_snapshot((*name).to_string()).await {
            Ok(true) => json_response(StatusCode::OK, &json!({"deleted": name})),
            Ok(false) => missing(name),
            Err(e) => answer(Err(e)),
        },
        _ => failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No control endpoint /_crm/snapshots{rest}"),
        ),
    }
}

/// The body as JSON (`null` when empty).
async fn read_json(body: Body) -> Result<Value, String> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| format!("The body is larger than {MAX_BODY} bytes"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("The body is not JSON: {e}"))
}

fn clock_state(control: &Control) -> Response {
    let mode = if control.clock.is_virtual() {
        "virtual"
    } else {
        "real"
    };
    json_response(
        StatusCode::OK,
        &json!({"now": control.clock.now().to_rfc3339(), "mode": mode}),
    )
}

fn set_clock(control: &Control, body: &Value) -> Response {
    if let Some(at) = body.get("set") {
        let Some(at) = at
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        else {
            return bad_request("\"set\" takes an ISO-8601 instant with an offset");
        };
        control.clock.set(at.with_timezone(&Utc));
    } else if let Some(by) = body.get("advance") {
        let Some(seconds) = by.as_f64().filter(|s| s.is_finite() && *s >= 0.0) else {
            return bad_request("\"advance\" takes a number of seconds, 0 or more");
        };
        let Ok(by) = Duration::try_from_secs_f64(seconds) else {
            return bad_request("\"advance\" is too large");
        };
        control.clock.advance(by);
    } else if body.get("mode").and_then(Value::as_str) == Some("real") {
        control.clock.real();
    } else {
        return bad_request(
            "Send {\"set\": \"<ISO-8601>\"}, {\"advance\": seconds} or {\"mode\": \"real\"}",
        );
    }
    clock_state(control)
}

fn journal(control: &Control, query: &str) -> Response {
    let params: Vec<(String, String)> = url_pairs(query);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let method = get("method").map(|m| m.trim().to_ascii_lowercase());
    let status = match get("status").map(str::parse::<u16>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return bad_request("\"status\" is an HTTP status number"),
    };
    let limit = match get("limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_request("\"limit\" is a number"),
    };
    let calls = control.journal.list(method.as_deref(), status, limit);
    json_response(StatusCode::OK, &json!({ "calls": calls }))
}

/// `a=1&b=x` as decoded pairs.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    let limits = crate::wire::php_query::Limits::default();
    crate::wire::php_query::parse_str(query.as_bytes(), &limits)
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
        .collect()
}
