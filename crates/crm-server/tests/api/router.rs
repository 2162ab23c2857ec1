//! HTTP tests through the router in process (no socket): `Router::oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use crm_core::identity::{Scope, User};
use crm_server::app::Builder;
use crm_server::auth::hash_secret;
use crm_server::config::Cli;
use crm_server::http::{AppState, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn app() -> axum::Router {
    let store = crm_store::connect("sqlite::memory:", crm_store::Options::default())
        .await
        .unwrap();
    let admin = User {
        id: 1,
        name: "A".into(),
        last_name: String::new(),
        email: String::new(),
        admin: true,
        active: true,
        departments: vec![1],
        registered_at: 0,
    };
    store
        .bootstrap(admin, hash_secret("s3cret"), Scope::ALL.to_vec(), 0)
        .await
        .unwrap();
    let config = Cli::parse_from(["crm-server"]).config;
    router(AppState {
        control: None,
        services: Builder::new(&config).store(store).services().await.unwrap(),
        max_body_bytes: 1024,
        body_timeout: std::time::Duration::from_secs(5),
        token_ttl: 3600,
    })
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    assert_eq!(
        res.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn form_query_and_json_reach_the_same_method() {
    let app = app().await;
    let add = Request::post("/rest/1/s3cret/crm.lead.add.json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(
            "fields%5BTITLE%5D=From+a+form&fields[PHONE][0][VALUE]=555",
        ))
        .unwrap();
    let (status, body) = send(&app, add).await;
    assert_eq!(
        (status, body["result"].clone()),
        (StatusCode::OK, json!(1)),
        "{body}"
    );
    let get = Request::get("/rest/1/s3cret//crm.lead.get/?ID=1")
        .body(Body::empty())
        .unwrap();
    let (_, body) = send(&app, get).await;
    assert_eq!(body["result"]["TITLE"], "From a form");
    assert_eq!(body["result"]["PHONE"][0]["VALUE"], "555");
    // The body wins over the query string.
    let get = Request::post("/rest/1/s3cret/crm.lead.get?id=99")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"id":"1"}"#))
        .unwrap();
    let (status, body) = send(&app, get).await;
    assert_eq!(
        (status, body["result"]["ID"].clone()),
        (StatusCode::OK, json!("1")),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_clear_413() {
    let app = app().await;
    let req = Request::post("/rest/1/s3cret/server.time")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("x".repeat(2048)))
        .unwrap();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body,
        json!({"error": "INVALID_REQUEST", "error_description": "Request body is larger than the 1024-byte limit"})
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_are_404_in_the_bitrix_shape() {
    let app = app().await;
    for path in [
        "/rest/1/s3cret/crm.lead.contact.nope",
        "/rest/1/s3cret",
        "/elsewhere",
    ] {
        let (status, body) = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"], "ERROR_METHOD_NOT_FOUND", "{path}");
    }
}
