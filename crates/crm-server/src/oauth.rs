//! Local OAuth applications: registering them, issuing token pairs, and the OAuth
//! server's token endpoint (`/oauth/token/`), answering as the portal vendor's OAuth server
//! does. Secrets, tokens and codes are random, shown once and stored only as hashes.

use crate::auth::{hash_secret, random_string};
use crm_core::identity::{App, NewTokens, Portal, Scope, TokenGrant, scopes_text};
use crm_core::store::Store;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

/// How long a refresh token may be used (a portal's 180 days).
pub const REFRESH_LIFETIME: i64 = 180 * 24 * 3600;

/// How long an authorization code may be exchanged (a portal's 30 seconds).
pub const CODE_LIFETIME: i64 = 30;

/// The application status every local application reports (`L`: local).
pub const APP_STATUS: &str = "L";

/// A registered application and its secret, shown only here.
#[derive(Debug, Clone)]
pub struct NewApp {
    /// What is stored.
    pub app: App,
    /// The client secret in plain text.
    pub client_secret: String,
}

/// A new application with a fresh client id (`local.…`) and secret.
pub fn new_app(
    name: String,
    scopes: Vec<Scope>,
    redirect_uri: String,
    now: i64,
) -> anyhow::Result<NewApp> {
    let client_secret = random_string(48)?;
    // The shape of a portal's local application ids; the id is public, not a secret.
    let digits: String = random_string(8)?
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let client_id = format!("local.{}.{digits}", random_string(14)?);
    Ok(NewApp {
        app: App {
            id: 0,
            client_id,
            secret_hash: hash_secret(&client_secret),
            name,
            scopes,
            redirect_uri,
            created_at: now,
        },
        client_secret,
    })
}

/// A fresh token pair: the plain tokens (shown once) and what is stored of them.
#[derive(Debug, Clone)]
pub struct FreshTokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Hashes and lifetimes.
    pub stored: NewTokens,
}

/// Generates a token pair whose access token lives `ttl` seconds from `now`.
pub fn fresh_tokens(now: i64, ttl: i64) -> anyhow::Result<FreshTokens> {
    let access_token = random_string(64)?;
    let refresh_token = random_string(64)?;
    Ok(FreshTokens {
        stored: NewTokens {
            access_hash: hash_secret(&access_token),
            access_expires: now.saturating_add(ttl),
            refresh_hash: hash_secret(&refresh_token),
            refresh_expires: now.saturating_add(REFRESH_LIFETIME),
        },
        access_token,
        refresh_token,
    })
}

/// The token endpoint's answer for a pair, keys in the vendor's order.
pub fn token_response(fresh: &FreshTokens, grant: &TokenGrant, portal: &Portal, now: i64) -> Value {
    json!({
        "access_token": fresh.access_token,
        "expires": grant.access_expires,
        "expires_in": grant.access_expires.saturating_sub(now),
        "scope": scopes_text(&grant.scopes),
        "domain": portal.domain(),
        "server_endpoint": portal.client_endpoint(),
        "status": APP_STATUS,
        "client_endpoint": portal.client_endpoint(),
        "member_id": portal.member_id,
        "user_id": grant.user_id,
        "refresh_token": fresh.refresh_token,
    })
}

/// Whether `secret` is the application's client secret (compared in constant time).
pub fn secret_matches(app: &App, secret: &str) -> bool {
    bool::from(
        app.secret_hash
            .as_bytes()
            .ct_eq(hash_secret(secret).as_bytes()),
    )
}

/// An OAuth error answer: status and `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: u16,
    /// The `error` code (`invalid_grant`, …).
    pub code: &'static str,
    /// The description.
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }

    /// The body.
    pub fn body(&self) -> Value {
        json!({ "error": self.code, "error_description": self.description })
    }
}

fn text_param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `/oauth/token/`: exchanges a refresh token (`grant_type=refresh_token`) or an
/// authorization code (`grant_type=authorization_code`) of a registered application,
/// authenticated by its client id and secret, for a new token pair of `ttl` seconds.
pub async fn token_endpoint(
    store: &dyn Store,
    params: &Map<String, Value>,
    portal: &Portal,
    now: i64,
    ttl: i64,
) -> Result<Value, OAuthError> {
    let grant_type = text_param(params, "grant_type").ok_or_else(|| {
        OAuthError::new(400, "invalid_request", "No \"grant_type\" parameter found")
    })?;
    if grant_type != "refresh_token" && grant_type != "authorization_code" {
        return Err(OAuthError::new(
            400,
            "unsupported_grant_type",
            "grant_type must be refresh_token or authorization_code",
        ));
    }
    let client_id = text_param(params, "client_id").ok_or_else(|| {
        OAuthError::new(400, "invalid_request", "No \"client_id\" parameter found")
    })?;
    let invalid_client = || OAuthError::new(401, "invalid_client", "Invalid client credentials");
    let app = store
        .app_by_client_id(client_id.to_string())
        .await
        .map_err(|_| OAuthError::new(500, "server_error", "The database failed"))?
        .ok_or_else(invalid_client)?;
    let secret = text_param(params, "client_secret").unwrap_or_default();
    if !secret_matches(&app, secret) {
        return Err(invalid_client());
    }
    let fresh = fresh_tokens(now, ttl)
        .map_err(|_| OAuthError::new(500, "server_error", "No random numbers"))?;
    let stored = fresh.stored.clone();
    let issued = if grant_type == "refresh_token" {
        let refresh = text_param(params, "refresh_token").ok_or_else(|| {
            OAuthError::new(
                400,
                "invalid_request",
                "No \"refresh_token\" parameter found",
            )
        })?;
        store
            .refresh_tokens(app.id, hash_secret(refresh), stored, now)
            .await
    } else {
        let code = text_param(params, "code").ok_or_else(|| {
            OAuthError::new(400, "invalid_request", "No \"code\" parameter found")
        })?;
        store
            .redeem_code(app.id, hash_secret(code), stored, now)
            .await
    };
    let invalid_grant = || {
        OAuthError::new(
            400,
            "invalid_grant",
            if grant_type == "refresh_token" {
                "The refresh token is invalid, expired or used"
            } else {
                "The authorization code is invalid, expired or used"
            },
        )
    };
    let grant = issued
        .map_err(|_| OAuthError::new(500, "server_error", "The database failed"))?
        .ok_or_else(invalid_grant)?;
    // A deactivated user's grants end with their tokens.
    let active = store
        .user(grant.user_id)
        .await
        .map_err(|_| OAuthError::new(500, "server_error", "The database failed"))?
        .is_some_and(|u| u.active);
    if !active {
        return Err(invalid_grant());
    }
    Ok(token_response(&fresh, &grant, portal, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_and_tokens_are_random_and_hashed() {
        let a = new_app("A".into(), vec![Scope::Crm], String::new(), 5).unwrap();
        let b = new_app("B".into(), vec![Scope::Crm], String::new(), 5).unwrap();
        assert!(a.app.client_id.starts_with("local."));
        assert_ne!(a.app.client_id, b.app.client_id);
        assert!(secret_matches(&a.app, &a.client_secret));
        assert!(!secret_matches(&a.app, &b.client_secret));
        assert!(!a.app.secret_hash.contains(&a.client_secret));
        let t = fresh_tokens(100, 3600).unwrap();
        assert_eq!(t.access_token.len(), 64);
        assert_ne!(t.access_token, t.refresh_token);
        assert_eq!(t.stored.access_hash, hash_secret(&t.access_token));
        assert_eq!(t.stored.access_expires, 3700);
        assert_eq!(t.stored.refresh_expires, 100 + REFRESH_LIFETIME);
    }

    #[test]
    fn token_answers_have_the_vendor_keys_in_order() {
        let fresh = fresh_tokens(1_000, 3600).unwrap();
        let grant = TokenGrant {
            id: 1,
            app_id: 1,
            user_id: 7,
            scopes: vec![Scope::Crm, Scope::User],
            access_expires: 4_600,
        };
        let portal = Portal {
            base_url: "https://127.0.0.1:8443".into(),
            member_id: "m1".into(),
        };
        let v = token_response(&fresh, &grant, &portal, 1_000);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "access_token",
                "expires",
                "expires_in",
                "scope",
                "domain",
                "server_endpoint",
                "status",
                "client_endpoint",
                "member_id",
                "user_id",
                "refresh_token"
            ]
        );
        assert_eq!(v["expires_in"], 3600);
        assert_eq!(v["scope"], "crm,user");
        assert_eq!(v["domain"], "127.0.0.1:8443");
        assert_eq!(v["client_endpoint"], "https://127.0.0.1:8443/rest/");
        assert_eq!(v["user_id"], 7);
    }
}
