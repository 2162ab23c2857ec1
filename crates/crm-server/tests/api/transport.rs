//! Issue "server foundation": URL shapes, encodings, envelopes, auth, limits.

use crate::helpers::{Backend, TIME_KEYS, TestApp, assert_error, assert_now, read};
use serde_json::{Value, json};

fn assert_server_time(got: &(u16, Value)) {
    let (status, body) = got;
    assert_eq!(*status, 200, "{body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["result", "time"], "{body}");
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e} in {body}"))
    };
    assert_now(&body["result"]);
    let result = body["result"].as_str().unwrap();
    assert!(!result.contains('.') && !result.ends_with('Z'), "{result}");
    let time = body["time"].as_object().unwrap();
    let keys: Vec<&str> = time.keys().map(String::as_str).collect();
    assert_eq!(keys, TIME_KEYS);
    for k in ["start", "finish", "duration", "processing", "operating"] {
        assert!(time[k].is_f64(), "{k} = {}", time[k]);
    }
    // Whole seconds of `start`, as the date and as the limiter's reset time (+600 s).
    let start = time["start"].as_f64().unwrap().floor() as i64;
    assert_eq!(
        (
            parse(time["date_start"].as_str().unwrap()).timestamp(),
            time["operating_reset_at"].as_i64(),
            time["operating"].as_f64(),
        ),
        (start, Some(start + 600), Some(0.0)),
        "{body}"
    );
}

#[tokio::test]
async fn server_time_answers_in_every_accepted_shape() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let hook = &app.hook;
    assert_server_time(&app.call("server.time", json!({})).await);
    assert_server_time(&app.form("server.time", "a=1").await);
    assert_server_time(
        &app.get(&format!("{hook}server.time?bx24_request_id=x"))
            .await,
    );
    assert_server_time(&app.get(&format!("{hook}server.time.json")).await);
    assert_server_time(&app.get(&format!("{hook}/server.time/")).await);
    assert_server_time(&app.get(&format!("{hook}SERVER.TIME")).await);
    // The PHP SDK's POST: JSON `[]` body, doubled and trailing slash, HTTP/2 upgrade headers.
    let res = c
        .post(format!("{hook}/server.time/?bx24_request_id=1"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("Upgrade", "h2c")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_server_time(&read(res).await);
}

#[tokio::test]
async fn credentials_are_checked_after_the_method_exists() {
    let app = TestApp::spawn().await;
    let base = &app.base;
    assert_error(
        &app.get(&format!("{base}/rest/1/wrongsecret/server.time"))
            .await,
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    );
    assert_error(
        &app.get(&format!("{base}/rest/99/x/server.time")).await,
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    );
    assert_error(
        &app.get(&format!("{base}/rest/abc/x/server.time")).await,
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    );
    assert_error(
        &app.get(&format!("{base}/rest/1/wrongsecret/no.such.method"))
            .await,
        404,
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
    );
    assert_error(
        &app.get(&format!("{base}/rest/no.such.method")).await,
        404,
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
    );
    assert_error(
        &app.get(&format!("{base}/rest/server.time")).await,
        401,
        "NO_AUTH_FOUND",
        "Wrong authorization data",
    );
    assert_error(
        &app.get(&format!("{base}/rest/server.time?auth=bogus"))
            .await,
        401,
        "invalid_token",
        "The access token provided is invalid",
    );
}

#[tokio::test]
async fn a_webhook_without_the_crm_scope_cannot_call_crm_methods() {
    let app = TestApp::spawn().await;
    let store = app.services.store.clone();
    let secret = crm_server::auth::new_secret().unwrap();
    let hash = crm_server::auth::hash_secret(&secret);
    store
        .create_webhook(1, hash, vec![crm_core::identity::Scope::User], 0)
        .await
        .unwrap();
    let url = format!("{}/rest/1/{secret}/", app.base);
    assert_error(
        &app.get(&format!("{url}crm.lead.fields")).await,
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    );
    let (status, body) = app.get(&format!("{url}scope")).await;
    assert_eq!((status, body["result"].clone()), (200, json!(["user"])));
    let (_, body) = app.get(&format!("{url}method.get?name=crm.lead.add")).await;
    assert_eq!(
        body["result"],
        json!({"isExisting": true, "isAvailable": false})
    );
    let (_, body) = app.get(&format!("{url}methods")).await;
    let names: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        names.contains(&"server.time") && !names.contains(&"crm.lead.add"),
        "{names:?}"
    );
}

#[tokio::test]
async fn introspection_methods_describe_the_caller() {
    let app = TestApp::spawn().await;
    let every = json!([
        "crm",
        "user",
        "user_basic",
        "user_brief",
        "department",
        "userfieldconfig"
    ]);
    assert_eq!(app.ok("scope", json!({})).await, every);
    let profile = app.ok("profile", json!({})).await;
    assert_eq!(
        profile,
        json!({"ID": "1", "ADMIN": true, "NAME": "Admin", "LAST_NAME": "", "PERSONAL_GENDER": "",
               "TIME_ZONE": "", "TIME_ZONE_OFFSET": 0})
    );
    assert_eq!(
        app.ok("method.get", json!({"name": "CRM.LEAD.CONTACT.ADD"}))
            .await,
        json!({"isExisting": true, "isAvailable": true})
    );
    assert_eq!(
        app.ok("method.get", json!({"name": "nope"})).await,
        json!({"isExisting": false, "isAvailable": false})
    );
    let info = app.ok("app.info", json!({})).await;
    assert_eq!(info, json!({"SCOPE": every, "LICENSE": "en_selfhosted"}));
    let methods = app.ok("methods", json!({"scope": "crm"})).await;
    assert!(
        methods
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.as_str().unwrap().starts_with("crm."))
    );
    assert!(
        methods
            .as_array()
            .unwrap()
            .contains(&json!("crm.lead.contact.add"))
    );
}

#[tokio::test]
async fn malformed_input_gets_clear_answers_never_a_500() {
    let app = TestApp::spawn().await;
    // Truncated JSON: no parameters, so a method needing an id says so.
    let got = app
        .post("crm.lead.get", "application/json", r#"{"id": 1, "fie"#)
        .await;
    assert_error(&got, 400, "", "ID is not defined or invalid.");
    // Form keys nested past the depth limit are dropped, like PHP does.
    let deep = format!("id{}=5", "[a]".repeat(100));
    assert_error(
        &app.form("crm.lead.get", &deep).await,
        400,
        "",
        "ID is not defined or invalid.",
    );
    // Invalid UTF-8 in a form body (percent-encoded and raw): each invalid byte is stored
    // as U+FFFD (lossy decoding), and reads back so.
    let (status, body) = app
        .post(
            "crm.lead.add",
            "application/x-www-form-urlencoded",
            b"fields[TITLE]=a%FF%FEb\xffc".to_vec(),
        )
        .await;
    assert_eq!((status, body["result"].clone()), (200, json!(1)), "{body}");
    let lead = app.ok("crm.lead.get", json!({"id": 1})).await;
    assert_eq!(lead["TITLE"], json!("a\u{FFFD}\u{FFFD}b\u{FFFD}c"));
    // Invalid UTF-8 in a JSON body: not JSON, so no parameters at all; nothing is changed.
    let got = app
        .post(
            "crm.lead.update",
            "application/json",
            b"{\"id\":1,\"fields\":{\"TITLE\":\"x\xffy\"}}".to_vec(),
        )
        .await;
    assert_error(&got, 400, "", "ID is not defined or invalid.");
    let lead = app.ok("crm.lead.get", json!({"id": 1})).await;
    assert_eq!(lead["TITLE"], json!("a\u{FFFD}\u{FFFD}b\u{FFFD}c"));
    // A 10 MB body past the 8 MiB default limit.
    let big = format!("fields[TITLE]={}", "x".repeat(10 * 1024 * 1024));
    let got = app.form("crm.lead.add", &big).await;
    assert_error(
        &got,
        413,
        "INVALID_REQUEST",
        "Request body is larger than the 8388608-byte limit",
    );
    // JSON nested past 64 levels is refused before it is parsed; invalid JSON within
    // the bounds is "no parameters", as on a portal.
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let got = app.post("crm.lead.get", "application/json", nested).await;
    assert_error(
        &got,
        400,
        "INVALID_REQUEST",
        "The JSON body is nested deeper than 64 levels",
    );
    let got = app
        .post(
            "crm.lead.get",
            "application/json",
            format!("{}{}", "[".repeat(60), "]".repeat(59)),
        )
        .await;
    assert_error(&got, 400, "", "ID is not defined or invalid.");
    // Still serving.
    assert_server_time(&app.call("server.time", json!({})).await);
}

#[tokio::test]
async fn health_endpoint_is_outside_rest() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get(&format!("{}/healthz", app.base)).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn webhook_secrets_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    let secret = app
        .hook
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // Everything the database holds, as text.
    let text = match app.backend() {
        Backend::Sqlite => {
            let dir = app.stop().await;
            assert!(
                !dir.path().join("crm.sqlite3-wal").exists(),
                "the WAL was not checkpointed on shutdown"
            );
            let bytes = std::fs::read(dir.path().join("crm.sqlite3")).unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Backend::Postgres => {
            let url = app.database_url().unwrap().to_string();
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut all = String::new();
            for table in ["app_user", "webhook", "crm_lead", "crm_contact"] {
                let row = client
                    .query_one(
                        &format!("SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t"),
                        &[],
                    )
                    .await
                    .unwrap();
                all.push_str(&row.get::<_, String>(0));
            }
            drop(app);
            all
        }
    };
    assert!(
        !text.contains(&secret),
        "plain secret found in the database"
    );
    assert!(
        text.contains(&crm_server::auth::hash_secret(&secret)),
        "hash not found"
    );
}
