//! Method-registry tests without HTTP: dispatch straight into the registry.

use crm_core::clock::SystemClock;
use crm_core::identity::{Scope, User};
use crm_server::methods;
use crm_server::rpc::access::AdministratorsOnly;
use crm_server::rpc::ctx::AuthKind;
use crm_server::rpc::{ApiError, Caller, Services, dispatch};
use serde_json::json;
use std::sync::Arc;

async fn services() -> Arc<Services> {
    let store = crm_store::connect("sqlite::memory:", crm_store::Options::default())
        .await
        .unwrap();
    Arc::new(Services {
        store,
        clock: Arc::new(SystemClock),
        tz: chrono::FixedOffset::east_opt(0).unwrap(),
        permissions: Arc::new(AdministratorsOnly),
        registry: Arc::new(methods::registry()),
    })
}

fn caller(scopes: Vec<Scope>) -> Arc<Caller> {
    let user = User {
        id: 1,
        name: "A".into(),
        last_name: "B".into(),
        admin: true,
        active: true,
    };
    Arc::new(Caller {
        user,
        scopes,
        auth: AuthKind::Webhook(1),
    })
}

#[tokio::test]
async fn names_are_case_insensitive_and_unknown_names_are_absent() {
    let s = services().await;
    assert_eq!(
        s.registry.get("CRM.Lead.Contact.Add").map(|m| m.name),
        Some("crm.lead.contact.add")
    );
    assert!(s.registry.get("crm.lead.contact.nope").is_none());
    assert!(
        s.registry
            .iter()
            .all(|m| m.name == m.name.to_ascii_lowercase())
    );
}

#[tokio::test]
async fn dispatch_checks_scope_then_runs_the_method() {
    let s = services().await;
    let spec = s.registry.get("crm.lead.add").unwrap();
    let err = dispatch::call(&s, &caller(vec![Scope::User]), spec, json!({}))
        .await
        .result
        .unwrap_err();
    assert_eq!(err, ApiError::InsufficientScope);
    let reply = dispatch::call(
        &s,
        &caller(vec![Scope::Crm]),
        spec,
        json!({"FIELDS": {"TITLE": "x"}}),
    )
    .await
    .result
    .unwrap();
    assert_eq!(reply.result, json!(1));
    let get = s.registry.get("crm.lead.get").unwrap();
    let lead = dispatch::call(&s, &caller(vec![Scope::Crm]), get, json!({"id": "1"}))
        .await
        .result
        .unwrap();
    assert_eq!(lead.result["TITLE"], "x");
    // A global method needs no scope at all.
    let spec = s.registry.get("server.time").unwrap();
    let called = dispatch::call(&s, &caller(vec![]), spec, json!([])).await;
    assert_eq!(called.method, "server.time");
    crate::helpers::assert_now(&called.result.unwrap().result);
}

#[test]
fn store_conflicts_are_overload_and_failures_core_errors() {
    use crm_core::store::StoreError;
    assert_eq!(
        ApiError::from(StoreError::conflict("database is locked")).parts(),
        ("QUERY_LIMIT_EXCEEDED", 503, "Too many requests".to_string())
    );
    assert_eq!(
        ApiError::from(StoreError::backend("disk I/O error")).parts(),
        ("ERROR_CORE", 500, "SQL query error!".to_string())
    );
}

#[test]
fn every_error_has_one_code_and_status() {
    let cases = [
        (ApiError::MethodNotFound, "ERROR_METHOD_NOT_FOUND", 404),
        (ApiError::NoAuthFound, "NO_AUTH_FOUND", 401),
        (ApiError::InvalidCredentials, "INVALID_CREDENTIALS", 401),
        (ApiError::InsufficientScope, "insufficient_scope", 401),
        (ApiError::AccessDenied, "ACCESS_DENIED", 403),
        (ApiError::invalid("Not found."), "", 400),
        (
            ApiError::BatchLengthExceeded,
            "ERROR_BATCH_LENGTH_EXCEEDED",
            400,
        ),
        (ApiError::Internal("x".into()), "INTERNAL_SERVER_ERROR", 500),
        (ApiError::Overloaded, "QUERY_LIMIT_EXCEEDED", 503),
    ];
    for (e, code, status) in cases {
        assert_eq!((e.code(), e.status()), (code, status), "{e:?}");
        assert!(
            !(e.code().is_empty() && e.status() < 300),
            "empty code with a 2xx status"
        );
    }
}
