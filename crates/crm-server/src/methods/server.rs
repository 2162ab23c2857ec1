//! Introspection in the global scope: `server.time`, `profile`, `scope`, `methods`,
//! `method.get`, `app.info`.

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
            None => full || m.scope.is_none_or(|s| ctx.caller.scopes.contains(&s)),
        })
        .map(|m| m.name)
        .collect())
}

/// `method.get`: whether a method exists and whether this credential may call it.
pub async fn method_get(ctx: Ctx, p: MethodGetParams) -> Result<Value, ApiError> {
    let name = p.name.unwrap_or_default();
    let spec = ctx.services.registry.get(name.trim());
    let available = spec.is_some_and(|m| m.scope.is_none_or(|s| ctx.caller.scopes.contains(&s)));
    Ok(json!({ "isExisting": spec.is_some(), "isAvailable": available }))
}

/// `app.info`: for a webhook, its scopes and the license.
pub async fn app_info(ctx: Ctx, _: IgnoredAny) -> Result<Value, ApiError> {
    match ctx.caller.auth {
        AuthKind::Webhook(_) => {
            let scopes: Vec<&str> = ctx.caller.scopes.iter().map(|s| s.code()).collect();
            Ok(json!({ "SCOPE": scopes, "LICENSE": "selfhosted" }))
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
