//! The OAuth server's endpoints on the server's own host and port: `/oauth/token/`
//! (GET with a query string or POST form/JSON, as clients send it) and `/oauth/authorize/`
//! (a minimal consent page: pick a user, approve, and be sent back to the application's
//! redirect URI with a code).

use super::{AppState, BodyError, json_response, params, read_body};
use crate::auth::{hash_secret, random_string};
use crate::oauth::{CODE_LIFETIME, OAuthError, token_endpoint};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crm_core::identity::{App, scopes_text};
use serde_json::{Map, Value};

/// Which OAuth endpoint a path names (slashes doubled or trailing, as the PHP SDK writes
/// `…//oauth/token/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// `/oauth/token/`.
    Token,
    /// `/oauth/authorize/`.
    Authorize,
}

impl Endpoint {
    /// The endpoint's path, for the request log.
    pub(super) fn path(self) -> &'static str {
        match self {
            Self::Token => "/oauth/token/",
            Self::Authorize => "/oauth/authorize/",
        }
    }
}

pub(super) fn endpoint(path: &str) -> Option<Endpoint> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["oauth", "token"] => Some(Endpoint::Token),
        ["oauth", "authorize"] => Some(Endpoint::Authorize),
        _ => None,
    }
}

/// A token endpoint answer: never cached (RFC 6749 §5.1).
fn token_answer(status: StatusCode, body: &Value) -> Response {
    let mut res = json_response(status, body);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    token_answer(status, &e.body())
}

/// The query string and body of a request as one parameter map, within the usual bounds.
async fn request_params(
    state: &AppState,
    parts: &Parts,
    body: Body,
) -> Result<Map<String, Value>, OAuthError> {
    let bytes = read_body(body, state.max_body_bytes, state.body_timeout, true)
        .await
        .map_err(|e| {
            let text = match e {
                BodyError::TooLarge => "The request body is too large",
                BodyError::TimedOut => "The request body did not arrive in time",
                BodyError::Broken => "The request body could not be read",
            };
            OAuthError {
                status: 400,
                code: "invalid_request",
                description: text.into(),
            }
        })?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    params::collect(parts.uri.query(), content_type, bytes)
        .await
        .map_err(|e| OAuthError {
            status: 400,
            code: "invalid_request",
            description: e.parts().2,
        })
}

/// Serves one OAuth endpoint.
pub(super) async fn serve(state: &AppState, which: Endpoint, parts: Parts, body: Body) -> Response {
    let params = match request_params(state, &parts, body).await {
        Ok(p) => p,
        Err(e) => return oauth_error(&e),
    };
    match which {
        Endpoint::Token => {
            if parts.method != Method::GET && parts.method != Method::POST {
                return oauth_error(&not_allowed());
            }
            let services = &state.services;
            let now = services.clock.now().timestamp();
            match token_endpoint(
                services.store.as_ref(),
                &params,
                &services.portal,
                now,
                state.token_ttl,
            )
            .await
            {
                Ok(answer) => token_answer(StatusCode::OK, &answer),
                Err(e) => oauth_error(&e),
            }
        }
        Endpoint::Authorize => match parts.method {
            Method::GET => consent_page(state, &params).await,
            Method::POST => approve(state, &params).await,
            _ => oauth_error(&not_allowed()),
        },
    }
}

fn not_allowed() -> OAuthError {
    OAuthError {
        status: 405,
        code: "invalid_request",
        description: "Only GET and POST are allowed here".into(),
    }
}

fn text<'a>(params: &'a Map<String, Value>, name: &str) -> &'a str {
    params
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
}

/// Text safe inside HTML, attribute values included.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;\
         margin:3rem auto;padding:0 1rem;line-height:1.5}}label,select,button{{display:block;\
         margin:.5rem 0}}select,button{{font-size:1rem;padding:.4rem}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>\n",
        title = escape(title)
    );
    let mut res = (status, page).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        // No form-action: the approval redirects to the application, on another origin.
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn refusal(text: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        "Authorization refused",
        &format!("<p id=\"error\">{}</p>", escape(text)),
    )
}

/// The application a consent request names, and where to send the user back: the
/// registered redirect URI (a different one given in the request is refused).
async fn app_and_redirect(
    state: &AppState,
    params: &Map<String, Value>,
) -> Result<(App, String), Response> {
    let client_id = text(params, "client_id");
    if client_id.is_empty() {
        return Err(refusal("No client_id was given."));
    }
    let app = state
        .services
        .store
        .app_by_client_id(client_id.to_string())
        .await
        .map_err(|_| refusal("The database failed."))?
        .ok_or_else(|| refusal("No application has this client_id."))?;
    let asked = text(params, "redirect_uri");
    if app.redirect_uri.is_empty() {
        return Err(refusal(
            "The application has no redirect URI (register one with `app create --redirect-uri`).",
        ));
    }
    if !asked.is_empty() && asked != app.redirect_uri {
        return Err(refusal(
            "The redirect_uri is not the one registered for the application.",
        ));
    }
    let redirect = app.redirect_uri.clone();
    Ok((app, redirect))
}

/// `GET /oauth/authorize/`: the application, its scopes, a choice of active user and an
/// approve button.
async fn consent_page(state: &AppState, params: &Map<String, Value>) -> Response {
    let (app, _) = match app_and_redirect(state, params).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(users) = state.services.store.users().await else {
        return refusal("The database failed.");
    };
    let options: String = users
        .iter()
        .filter(|u| u.active)
        .map(|u| {
            let name = format!("{} {}", u.name, u.last_name);
            format!(
                "<option value=\"{}\">{} (#{}{})</option>",
                u.id,
                escape(name.trim()),
                u.id,
                if u.admin { ", administrator" } else { "" }
            )
        })
        .collect();
    let hidden = |name: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(text(params, name))
        )
    };
    let body = format!(
        "<p>The application <strong id=\"app\">{}</strong> asks for access to: \
         <span id=\"scopes\">{}</span>.</p>\
         <form method=\"post\" action=\"/oauth/authorize/\">{}{}\
         <label for=\"user\">Act as user</label><select id=\"user\" name=\"user_id\">{options}</select>\
         <button id=\"approve\" type=\"submit\">Approve</button></form>",
        escape(&app.name),
        escape(&scopes_text(&app.scopes)),
        hidden("client_id"),
        hidden("state"),
    );
    html(StatusCode::OK, "Authorize an application", &body)
}

/// `POST /oauth/authorize/`: issues a code for the chosen user and sends the browser to
/// the redirect URI with it, as a portal does (`code`, `state`, `domain`, `member_id`,
/// `scope`, `server_domain`).
async fn approve(state: &AppState, params: &Map<String, Value>) -> Response {
    let (app, redirect) = match app_and_redirect(state, params).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let services = &state.services;
    let user = text(params, "user_id").parse::<i64>().ok();
    let user = match user {
        Some(id) => services.store.user(id).await.ok().flatten(),
        None => None,
    };
    let Some(user) = user.filter(|u| u.active) else {
        return refusal("Choose an active user.");
    };
    let Ok(code) = random_string(32) else {
        return refusal("No random numbers.");
    };
    let now = services.clock.now().timestamp();
    if services
        .store
        .create_code(app.id, user.id, hash_secret(&code), now + CODE_LIFETIME)
        .await
        .is_err()
    {
        return refusal("The database failed.");
    }
    let portal = &services.portal;
    let query = [
        ("code", code.as_str()),
        ("state", text(params, "state")),
        ("domain", portal.domain()),
        ("member_id", portal.member_id.as_str()),
        ("scope", &scopes_text(&app.scopes)),
        ("server_domain", portal.domain()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", percent_encode(v)))
    .collect::<Vec<_>>()
    .join("&");
    let separator = if redirect.contains('?') { '&' } else { '?' };
    let location = format!("{redirect}{separator}{query}");
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_tolerate_slashes_and_text_is_escaped() {
        assert_eq!(endpoint("/oauth/token/"), Some(Endpoint::Token));
        assert_eq!(endpoint("//oauth/token"), Some(Endpoint::Token));
        assert_eq!(endpoint("/oauth/authorize/"), Some(Endpoint::Authorize));
        assert_eq!(endpoint("/oauth/token/x"), None);
        assert_eq!(endpoint("/rest/oauth/token"), None);
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(percent_encode("a b/ä"), "a%20b%2F%C3%A4");
    }
}
