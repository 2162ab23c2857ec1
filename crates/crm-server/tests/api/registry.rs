//! Method-registry tests without HTTP: dispatch straight into the registry.

use clap::Parser;
use crm_core::identity::{Scope, User};
use crm_server::config::Cli;
use crm_server::rpc::ctx::AuthKind;
use crm_server::rpc::{ApiError, AuthRule, Caller, Ctx, Services, dispatch};
use serde_json::json;
use std::sync::Arc;

async fn services() -> Arc<Services> {
    let store = crm_store::connect("sqlite::memory:", crm_store::Options::default())
        .await
        .unwrap();
    let config = Cli::parse_from(["crm-server"]).config;
    crm_server::app::Builder::new(&config)
        .store(store)
        .services()
        .await
        .unwrap()
}

fn caller_as(scopes: Vec<Scope>, auth: AuthKind) -> Arc<Caller> {
    let user = User {
        id: 1,
        name: "A".into(),
        last_name: "B".into(),
        email: String::new(),
        admin: true,
        active: true,
        departments: vec![1],
        registered_at: 0,
    };
    Arc::new(Caller { user, scopes, auth })
}

fn caller(scopes: Vec<Scope>) -> Arc<Caller> {
    caller_as(scopes, AuthKind::Webhook(1))
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
    let refused = dispatch::call(&s, &caller(vec![Scope::User]), spec, json!({}), None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.result.unwrap_err(),
        ApiError::InsufficientScope { token: false }
    );
    // The outcome says who called what with which parameters, and how it ended.
    let params = json!({"FIELDS": {"TITLE": "x"}});
    let added = dispatch::call(&s, &caller(vec![Scope::Crm]), spec, params.clone(), None).await;
    assert_eq!(
        (added.method, added.caller.user.id, added.status),
        ("crm.lead.add", 1, 200)
    );
    assert_eq!(*added.params, params);
    assert!(added.finished >= added.started && added.processing >= 0.0);
    let reply = added.result.unwrap();
    assert_eq!(reply.result, json!(1));
    let invalid = dispatch::call(
        &s,
        &caller(vec![Scope::Crm]),
        spec,
        json!({"fields": 5}),
        None,
    )
    .await;
    assert_eq!(invalid.status, 400);
    let get = s.registry.get("crm.lead.get").unwrap();
    let lead = dispatch::call(&s, &caller(vec![Scope::Crm]), get, json!({"id": "1"}), None)
        .await
        .result
        .unwrap();
    assert_eq!(lead.result["TITLE"], "x");
    // A global method needs no scope at all.
    let spec = s.registry.get("server.time").unwrap();
    let called = dispatch::call(&s, &caller(vec![]), spec, json!([]), None).await;
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
        (
            ApiError::InsufficientScope { token: true },
            "insufficient_scope",
            401,
        ),
        (ApiError::ExpiredToken, "expired_token", 401),
        (ApiError::InvalidToken, "invalid_token", 401),
        (ApiError::WrongAuthType, "WRONG_AUTH_TYPE", 403),
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

#[tokio::test]
async fn credential_kinds_are_checked_before_scopes() {
    let base = services().await;
    let mut registry = crm_server::methods::registry();
    registry
        .method(
            "test.app",
            Some(Scope::Crm),
            |_: Ctx, _: serde::de::IgnoredAny| async { Ok::<_, ApiError>(true) },
        )
        .method(
            "test.hook",
            None,
            |_: Ctx, _: serde::de::IgnoredAny| async { Ok::<_, ApiError>(true) },
        )
        .only_for("test.app", AuthRule::AppOnly)
        .only_for("test.hook", AuthRule::WebhookOnly);
    let s = Arc::new(Services {
        store: Arc::clone(&base.store),
        clock: Arc::clone(&base.clock),
        tz: base.tz,
        permissions: Arc::clone(&base.permissions),
        registry: Arc::new(registry),
        portal: base.portal.clone(),
        journal: None,
        faults: None,
        limits: Arc::clone(&base.limits),
        coverage: None,
    });
    let token = AuthKind::OAuth {
        app_id: 1,
        expires: i64::MAX,
    };
    let run = |name: &'static str, who: Arc<Caller>| {
        let s = Arc::clone(&s);
        async move {
            let spec = s.registry.get(name).unwrap();
            dispatch::call(&s, &who, spec, json!({}), None).await.result
        }
    };
    // A webhook may not call an application's method, even holding its scope.
    let err = run("test.app", caller(vec![Scope::Crm])).await.unwrap_err();
    assert_eq!(
        err.parts(),
        (
            "WRONG_AUTH_TYPE",
            403,
            "Current authorization type is denied for this method".to_string()
        )
    );
    assert!(
        run("test.app", caller_as(vec![Scope::Crm], token))
            .await
            .is_ok()
    );
    // A token without the scope is told so in the token's words.
    let err = run("test.app", caller_as(vec![Scope::User], token))
        .await
        .unwrap_err();
    assert_eq!(
        err.parts().2,
        "The request requires higher privileges than provided by the access token"
    );
    assert_eq!(
        run("test.hook", caller_as(vec![], token))
            .await
            .unwrap_err(),
        ApiError::WrongAuthType
    );
    assert!(run("test.hook", caller(vec![])).await.is_ok());
    // The narrower user scopes open the `user` methods.
    let spec = s.registry.get("user.current").unwrap();
    for scope in [Scope::User, Scope::UserBasic, Scope::UserBrief] {
        let called = dispatch::call(&s, &caller(vec![scope]), spec, json!({}), None).await;
        assert_eq!(called.result.unwrap().result["ID"], "1", "{scope:?}");
    }
    let called = dispatch::call(&s, &caller(vec![Scope::Crm]), spec, json!({}), None).await;
    assert_eq!(
        called.result.unwrap_err(),
        ApiError::InsufficientScope { token: false }
    );
}
