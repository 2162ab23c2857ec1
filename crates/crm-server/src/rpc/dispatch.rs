//! Calling a method on behalf of an authenticated caller: the scope check and the call.
//! The HTTP layer and `batch` both come through here, so every call passes one place
//! where limits and faults can later be applied.

use crate::rpc::{ApiError, Caller, Ctx, MethodSpec, Reply, Services};
use serde_json::Value;
use std::sync::Arc;

/// Runs `spec` for `caller` with `params`.
pub async fn call(
    services: &Arc<Services>,
    caller: &Arc<Caller>,
    spec: &MethodSpec,
    params: Value,
) -> Result<Reply, ApiError> {
    if let Some(scope) = spec.scope
        && !caller.scopes.contains(&scope)
    {
        return Err(ApiError::InsufficientScope);
    }
    let ctx = Ctx {
        caller: Arc::clone(caller),
        services: Arc::clone(services),
    };
    spec.invoke(ctx, params).await
}
