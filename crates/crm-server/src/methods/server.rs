//! Introspection in the global scope: `server.time`, `profile`, `scope`, `methods`,
//! `method.get`, `app.info`.

use crate::oauth::APP_STATUS;
use crate::rpc::ctx::AuthKind;
use crate::rpc::{ApiError, Ctx, Registry};
use crm_core::identity::Scope;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// Parameters of `scope` and `methods`.
#[derive(Debug, Deserialize)]
pub struct ScopeParams {
    full: Option<bool>,
    scope: Option<String>,
}

/// Parameters of `method.get`.
#[derive(Debug, Deserialize)]
pub struct MethodGetParams {
    name: Option<String>,
}

/// `server.time`: the server's current time, ISO-8601 with its offset.
pub async fn server_time(ctx: Ctx, _: IgnoredAny) -> Result<String, ApiError> {
    Ok(ctx
        .now()
        .with_timezone(&ctx.services.tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string())
}

/// `profile`: the calling user.
pub async fn profile(ctx: Ctx, _: IgnoredAny) -> Result<Value, ApiError> {
    let u = &ctx.caller.user;
    if !u.active {
        return Ok(json!({}));
    }
    Ok(json!({
        "ID": u.id.to_string(),
        "ADMIN": u.admin,
        "NAME": u.name,
        "LAST_NAME": u.last_name,
        "PERSONAL_GENDER": "",
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": ctx.services.tz.local_minus_utc(),
    }))
}

/// `scope`: the credential's scopes (`full=true`: every scope).
pub async fn scope(ctx: Ctx, p: ScopeParams) -> Result<Vec<&'static str>, ApiError> {
    let scopes: &[Scope] = if p.full.unwrap_or(false) {
        &Scope::ALL
    } else {
        &ctx.caller.scopes
    };
    Ok(scopes.iter().map(|s| s.code()).collect())
}

/// `methods`: names of the methods the credential may call (`scope=<code>` restricts to
/// one scope, `full=true` lists everything).
pub async fn methods(ctx: Ctx, p: ScopeParams) -> Result<Vec<&'static str>, ApiError> {
    let full = p.full.unwrap_or(false);
    let only = p.scope.as_deref().filter(|s| !s.is_empty());
    Ok(ctx
        .services
        .registry
        .iter()
        .filter(|m| match only {
            Some(code) => m.scope.is_some_and(|s| s.code().eq_ignore_ascii_case(code)),
            None => full || m.scope.is_none_or(|s| s.granted_by(&ctx.caller.scopes)),
        })
        .map(|m| m.name)
        .collect())
}

/// `method.get`: whether a method exists and whether this credential may call it.
pub async fn method_get(ctx: Ctx, p: MethodGetParams) -> Result<Value, ApiError> {
    let name = p.name.unwrap_or_default();
    let spec = ctx.services.registry.get(name.trim());
    let available = spec.is_some_and(|m| m.scope.is_none_or(|s| s.granted_by(&ctx.caller.scopes)));
    Ok(json!({ "isExisting": spec.is_some(), "isAvailable": available }))
}

/// The license a self-hosted portal reports.
const LICENSE: &str = "en_selfhosted";

/// `app.info`: for a webhook, its scopes and the license; for an access token, the
/// application as a portal describes it, together with the fields the vendor's OAuth
/// server answers at the same path (`client_id`, `scope`, `expires`, `install`,
/// `user_id`), so that clients asking either find what they read.
pub async fn app_info(ctx: Ctx, _: IgnoredAny) -> Result<Value, ApiError> {
    let scopes: Vec<&str> = ctx.caller.scopes.iter().map(|s| s.code()).collect();
    match ctx.caller.auth {
        AuthKind::Webhook(_) => Ok(json!({ "SCOPE": scopes, "LICENSE": LICENSE })),
        AuthKind::OAuth { app_id, expires } => {
            let app = ctx
                .store()
                .app(app_id)
                .await?
                .ok_or(ApiError::InvalidToken)?;
            let portal = &ctx.services.portal;
            let scope = scopes.join(",");
            let expires = chrono::DateTime::from_timestamp(expires, 0)
                .unwrap_or_default()
                .with_timezone(&ctx.services.tz)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string();
            Ok(json!({
                "ID": app.id,
                "CODE": app.client_id,
                "VERSION": 1,
                "STATUS": APP_STATUS,
                "INSTALLED": true,
                "PAYMENT_EXPIRED": "N",
                "DAYS": null,
                "LANGUAGE_ID": "en",
                "LICENSE": LICENSE,
                "client_id": app.client_id,
                "scope": scope,
                "expires": expires,
                "install": {
                    "installed": true,
                    "version": 1,
                    "status": APP_STATUS,
                    "scope": scope,
                    "domain": portal.domain(),
                    "uri": format!("{}/", portal.base_url),
                    "client_endpoint": portal.client_endpoint(),
                    "server_endpoint": portal.client_endpoint(),
                    "member_id": portal.member_id,
                    "member_type": "PORTAL",
                },
                "user_id": ctx.caller.user.id,
            }))
        }
    }
}

/// Registers the family.
pub fn register(r: &mut Registry) {
    r.method("server.time", None, server_time)
        .method("profile", None, profile)
        .method("scope", None, scope)
        .method("methods", None, methods)
        .method("method.get", None, method_get)
        .method("app.info", None, app_info);
}
