//! The test-double controls under `/_crm/` (`--control`): a known administrator webhook,
//! the virtual clock, the request journal, and the bearer token that guards them.

use crate::helpers::TestApp;
use serde_json::{Value, json};

const SECRET: &str = "ci-known-secret-1";

async fn control(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, format!("{}/_crm/{path}", app.base));
    if !body.is_null() {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn the_controls_are_off_unless_asked_for() {
    let app = TestApp::spawn().await;
    let (status, body) = control(&app, reqwest::Method::GET, "journal", Value::Null).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "NOT_FOUND");
}

#[tokio::test]
async fn a_known_webhook_and_a_virtual_clock_for_every_date() {
    let app = TestApp::spawn_with(&["--control", "--admin-webhook-secret", SECRET]).await;
    assert_eq!(app.hook, format!("{}/rest/1/{SECRET}/", app.base));
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "clock",
        json!({"set": "2030-01-02T03:04:05Z"}),
    )
    .await;
    assert_eq!((status, &body["mode"]), (200, &json!("virtual")), "{body}");
    assert_eq!(body["now"], "2030-01-02T03:04:05+00:00");
    let (_, answer) = app.call("server.time", json!({})).await;
    assert_eq!(answer["result"], "2030-01-02T03:04:05+00:00");
    assert_eq!(answer["time"]["date_start"], "2030-01-02T03:04:05+00:00");
    let id = app
        .ok("crm.lead.add", json!({"fields": {"TITLE": "then"}}))
        .await;
    control(
        &app,
        reqwest::Method::POST,
        "clock",
        json!({"advance": 3600}),
    )
    .await;
    app.ok(
        "crm.lead.update",
        json!({"id": id, "fields": {"TITLE": "later"}}),
    )
    .await;
    let lead = app.ok("crm.lead.get", json!({"id": id})).await;
    assert_eq!(lead["DATE_CREATE"], "2030-01-02T03:04:05+00:00");
    assert_eq!(lead["DATE_MODIFY"], "2030-01-02T04:04:05+00:00");
    let (_, body) = control(
        &app,
        reqwest::Method::POST,
        "clock",
        json!({"mode": "real"}),
    )
    .await;
    assert_eq!(body["mode"], "real");
    let (_, answer) = app.call("server.time", json!({})).await;
    assert!(answer["result"].as_str().unwrap() < "2030", "{answer}");
    for wrong in [
        json!({"set": "yesterday"}),
        json!({"advance": -5}),
        json!({}),
    ] {
        let (status, body) = control(&app, reqwest::Method::POST, "clock", wrong).await;
        assert_eq!((status, &body["error"]), (400, &json!("INVALID_REQUEST")));
    }
}

#[tokio::test]
async fn the_journal_shows_calls_with_their_parameters_and_batches_with_their_commands() {
    let app = TestApp::spawn_with(&["--control"]).await;
    app.ok(
        "crm.lead.add",
        json!({"fields": {"TITLE": "journaled"}, "auth": "not-to-be-kept"}),
    )
    .await;
    let (status, _) = app.call("crm.lead.get", json!({"id": 999})).await;
    assert_eq!(status, 400);
    app.ok(
        "batch",
        json!({"halt": 0, "cmd": {"a": "crm.lead.add?fields[TITLE]=in batch",
                                   "b": "crm.lead.get?id=$result[a]"}}),
    )
    .await;
    let (status, body) = control(&app, reqwest::Method::GET, "journal?limit=3", Value::Null).await;
    assert_eq!(status, 200);
    let calls = body["calls"].as_array().unwrap();
    let methods: Vec<&str> = calls
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        ["batch", "crm.lead.get", "crm.lead.add"],
        "newest first"
    );
    let children: Vec<&str> = calls[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["crm.lead.add", "crm.lead.get"]);
    assert_eq!(
        calls[0]["children"][0]["params"]["fields"]["TITLE"],
        "in batch"
    );
    assert_eq!(
        (&calls[1]["status"], &calls[1]["error"]["error_description"]),
        (&json!(400), &json!("Not found"))
    );
    let add = &calls[2];
    assert_eq!(add["params"]["fields"]["TITLE"], "journaled");
    assert_eq!(add["params"]["auth"], "***", "secrets are not kept");
    assert_eq!(
        (&add["status"], &add["result"], &add["user"]),
        (&json!(200), &json!(1), &json!(1))
    );
    assert_eq!(add["credential"], "webhook");
    assert!(add["duration_ms"].as_f64().unwrap() >= 0.0);
    // Filters, then clearing.
    let (_, body) = control(
        &app,
        reqwest::Method::GET,
        "journal?status=400",
        Value::Null,
    )
    .await;
    assert_eq!(body["calls"].as_array().unwrap().len(), 1);
    let (_, body) = control(
        &app,
        reqwest::Method::GET,
        "journal?method=CRM.LEAD.ADD",
        Value::Null,
    )
    .await;
    assert_eq!(body["calls"].as_array().unwrap().len(), 1);
    let (status, _) = control(&app, reqwest::Method::DELETE, "journal", Value::Null).await;
    assert_eq!(status, 200);
    let (_, body) = control(&app, reqwest::Method::GET, "journal", Value::Null).await;
    assert_eq!(body["calls"], json!([]));
}

#[tokio::test]
async fn a_control_token_guards_every_control_call() {
    let app = TestApp::spawn_with(&["--control", "--control-token", "t0ken"]).await;
    let (status, body) = control(&app, reqwest::Method::GET, "clock", Value::Null).await;
    assert_eq!((status, &body["error"]), (401, &json!("UNAUTHORIZED")));
    let res = app
        .client
        .get(format!("{}/_crm/clock", app.base))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = app
        .client
        .get(format!("{}/_crm/clock", app.base))
        .bearer_auth("t0keN")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

#[test]
fn controls_beyond_loopback_need_a_token() {
    use clap::Parser;
    let config = |args: &[&str]| crm_server::config::Cli::parse_from(args).config;
    let open = config(&["crm-server", "--control", "--listen", "0.0.0.0:0"]);
    assert!(open.check().unwrap_err().contains("--control-token"));
    let guarded = config(&[
        "crm-server",
        "--control",
        "--listen",
        "0.0.0.0:0",
        "--control-token",
        "t",
    ]);
    assert!(guarded.check().is_ok());
    assert!(config(&["crm-server", "--control"]).check().is_ok());
    assert!(
        crm_server::config::Cli::try_parse_from(["crm-server", "--admin-webhook-secret", "short"])
            .is_err()
    );
}

#[tokio::test]
async fn faults_strike_in_order_write_nothing_and_reach_into_batches() {
    let app = TestApp::spawn_with(&["--control"]).await;
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "faults",
        json!({"method": "crm.lead.*", "error": "QUERY_LIMIT_EXCEEDED", "times": 2}),
    )
    .await;
    assert_eq!((status, &body["id"]), (200, &json!(1)));
    // Twice the portal's overload, nothing written; then the call goes through.
    for _ in 0..2 {
        let (status, body) = app
            .call("crm.lead.add", json!({"fields": {"TITLE": "x"}}))
            .await;
        assert_eq!(
            (status, &body["error"], &body["error_description"]),
            (
                503,
                &json!("QUERY_LIMIT_EXCEEDED"),
                &json!("Too many requests")
            )
        );
    }
    assert_eq!(
        app.ok("crm.lead.add", json!({"fields": {"TITLE": "x"}}))
            .await,
        1
    );
    let (_, body) = control(&app, reqwest::Method::GET, "faults", Value::Null).await;
    assert_eq!(body["rules"][0]["hits"], 2);
    // Inside a batch, a command's fault is its error.
    control(
        &app,
        reqwest::Method::POST,
        "faults",
        json!({"method": "crm.lead.get", "error": "OPERATION_TIME_LIMIT", "times": 1}),
    )
    .await;
    let answer = app
        .ok(
            "batch",
            json!({"cmd": {"a": "crm.lead.get?id=1", "b": "crm.lead.get?id=1"}}),
        )
        .await;
    assert_eq!(answer["result_error"]["a"]["error"], "OPERATION_TIME_LIMIT");
    assert_eq!(answer["result"]["b"]["ID"], "1");
    // A proxy's 502 page, and a dropped connection.
    control(
        &app,
        reqwest::Method::POST,
        "faults",
        json!({"method": "server.time", "error": "BAD_GATEWAY", "times": 1}),
    )
    .await;
    let res = app
        .client
        .post(format!("{}server.time", app.hook))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 502);
    assert!(res.text().await.unwrap().contains("502 Bad Gateway"));
    control(
        &app,
        reqwest::Method::POST,
        "faults",
        json!({"method": "server.time", "error": "CONNECTION_RESET", "times": 1}),
    )
    .await;
    let dropped = app
        .client
        .post(format!("{}server.time", app.hook))
        .send()
        .await;
    let dropped = match dropped {
        Ok(res) => res.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(
        dropped.is_err(),
        "the connection is dropped without an answer"
    );
    // Latency only delays; expired_token spares webhook calls.
    control(
        &app,
        reqwest::Method::POST,
        "faults",
        json!({"method": "server.time", "error": "LATENCY", "delay_ms": 200, "times": 1}),
    )
    .await;
    let before = std::time::Instant::now();
    app.ok("server.time", json!({})).await;
    assert!(before.elapsed() >= std::time::Duration::from_millis(200));
    control(
        &app,
        reqwest::Method::POST,
        "faults",
        json!({"method": "*", "error": "expired_token"}),
    )
    .await;
    app.ok("server.time", json!({})).await;
    let (status, body) = control(&app, reqwest::Method::DELETE, "faults", Value::Null).await;
    assert_eq!((status, &body["cleared"]), (200, &json!(true)));
    // Bad rules are refused with a reason.
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "faults",
        json!({"method": "*", "error": "QUERY_LIMIT_EXCEEDED", "probability": 2}),
    )
    .await;
    assert_eq!((status, &body["error"]), (400, &json!("INVALID_REQUEST")));
    // Only the one lead exists: the faulted adds wrote nothing.
    let (_, body) = app.call("crm.lead.list", json!({"select": ["ID"]})).await;
    assert_eq!(body["total"], 1);
}

#[tokio::test]
async fn fixtures_make_the_seed_example_work_after_one_call() {
    let app = TestApp::spawn_with(&["--control", "--admin-webhook-secret", SECRET]).await;
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "fixtures",
        json!({"contacts": [{"ID": 1010, "NAME": "Seed", "EMAIL": [{"VALUE": "seed@example.org"}]}],
               "leads": [{"ID": 1, "TITLE": "Seed lead"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["loaded"], json!({"contacts": 1, "leads": 1}));
    assert_eq!(body["ids"], json!({"contacts": [1010], "leads": [1]}));
    // The seed's webhook example, verbatim body, on the known webhook.
    let res = app
        .client
        .post(format!("{}/rest/1/{SECRET}/crm.lead.contact.add", app.base))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(r#"{"id":1,"fields":{"CONTACT_ID":1010,"SORT":10,"IS_PRIMARY":"Y"}}"#)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let answer: Value = res.json().await.unwrap();
    assert_eq!((status, &answer["result"]), (200, &json!(true)), "{answer}");
    let (_, body) = control(
        &app,
        reqwest::Method::GET,
        "journal?method=crm.lead.contact.add",
        Value::Null,
    )
    .await;
    assert_eq!(
        body["calls"][0]["params"]["fields"],
        json!({"CONTACT_ID": 1010, "SORT": 10, "IS_PRIMARY": "Y"})
    );
    // Later ids continue after the highest loaded; a taken id is refused with its place.
    assert_eq!(
        app.ok("crm.contact.add", json!({"fields": {"NAME": "next"}}))
            .await,
        1011
    );
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "fixtures",
        json!({"leads": [{"ID": 2, "TITLE": "two"}, {"ID": 1, "TITLE": "again"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_description"],
        "leads (record 1): Lead #1 already exists"
    );
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "fixtures",
        json!({"tasks": []}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Unknown section")
    );
}

#[tokio::test]
async fn fixtures_load_from_the_command_line_before_the_first_start() {
    use crate::process::{ServerProcess, cli};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fixtures.json");
    std::fs::write(
        &file,
        json!({"companies": [{"ID": 40, "TITLE": "Acme"}],
               "contacts": [{"ID": 1010, "NAME": "Seed", "COMPANY_IDS": [40]}],
               "leads": [{"ID": 1, "TITLE": "Seed lead", "CONTACT_IDS": [1010]}]})
        .to_string(),
    )
    .unwrap();
    let path = file.display().to_string();
    let (ok, out) = cli(
        dir.path(),
        &["--admin-webhook-secret", SECRET, "fixtures", "load", &path],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("loaded 1 companies, 1 contacts, 1 leads"),
        "{out}"
    );
    assert!(out.contains(&format!("/rest/1/{SECRET}/")), "{out}");
    let (ok, out) = cli(dir.path(), &["fixtures", "load", &path]);
    assert!(!ok && out.contains("Company #40 already exists"), "{out}");
    let server = ServerProcess::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let res = client
        .post(format!(
            "{}/rest/1/{SECRET}/crm.lead.contact.items.get",
            server.base()
        ))
        .json(&json!({"id": 1}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["result"][0]["CONTACT_ID"], 1010, "{body}");
}

#[tokio::test]
async fn reset_empties_the_crm_between_tests() {
    let app = TestApp::spawn_with(&["--control"]).await;
    for n in 0..3 {
        app.ok(
            "crm.lead.add",
            json!({"fields": {"TITLE": format!("L{n}")}}),
        )
        .await;
    }
    app.ok("crm.type.add", json!({"fields": {"title": "Orders"}}))
        .await;
    app.ok(
        "crm.lead.userfield.add",
        json!({"fields": {"FIELD_NAME": "X", "USER_TYPE_ID": "string"}}),
    )
    .await;
    app.ok(
        "crm.status.add",
        json!({"fields": {"ENTITY_ID": "SOURCE", "STATUS_ID": "FAIR", "NAME": "Fair"}}),
    )
    .await;
    let (status, body) = control(&app, reqwest::Method::POST, "reset", json!({})).await;
    assert_eq!((status, &body["reset"]), (200, &json!(true)));
    let (_, list) = app.call("crm.lead.list", json!({})).await;
    assert_eq!(list["total"], 0);
    assert_eq!(app.ok("crm.type.list", json!({})).await["types"], json!([]));
    assert_eq!(
        app.ok("crm.lead.userfield.list", json!({})).await,
        json!([])
    );
    let sources = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "SOURCE", "STATUS_ID": "FAIR"}}),
        )
        .await;
    assert_eq!(
        sources,
        json!([]),
        "reference lists are a fresh portal's again"
    );
    assert_eq!(
        app.ok("crm.lead.add", json!({"fields": {"TITLE": "first"}}))
            .await,
        1,
        "ids start again at 1, and the webhook still works"
    );
    let (_, body) = control(&app, reqwest::Method::GET, "journal", Value::Null).await;
    let methods: Vec<&str> = body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "crm.lead.add",
            "crm.status.list",
            "crm.lead.userfield.list",
            "crm.type.list",
            "crm.lead.list"
        ],
        "the journal was cleared: only the calls since the reset"
    );
}

#[tokio::test]
async fn portal_limits_follow_the_virtual_clock() {
    let app = TestApp::spawn_with(&["--control", "--limits", "standard"]).await;
    control(
        &app,
        reqwest::Method::POST,
        "clock",
        json!({"set": "2031-05-01T00:00:00Z"}),
    )
    .await;
    // A burst of 50 requests, then the portal's overload answer; a batch is one request.
    for _ in 0..49 {
        app.ok("server.time", json!({})).await;
    }
    let answer = app
        .ok(
            "batch",
            json!({"cmd": {"a": "server.time", "b": "server.time"}}),
        )
        .await;
    assert_eq!(answer["result_error"], json!([]), "a batch is one request");
    let (status, body) = app
        .call("crm.lead.add", json!({"fields": {"TITLE": "refused"}}))
        .await;
    assert_eq!(
        (status, body),
        (
            503,
            json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
        )
    );
    let stored = app
        .services
        .store
        .list(
            crm_core::entity::EntityType::Lead,
            crm_core::query::ListQuery::counting(Vec::new()),
        )
        .await
        .unwrap()
        .1;
    assert_eq!(stored, 0, "a call refused by the limits writes nothing");
    // One second of the virtual clock drains two requests.
    control(&app, reqwest::Method::POST, "clock", json!({"advance": 1})).await;
    let (status, body) = app.call("crm.lead.list", json!({})).await;
    assert_eq!(status, 200);
    let reset_at = body["time"]["operating_reset_at"].as_i64().unwrap();
    let first_list = chrono::DateTime::parse_from_rfc3339("2031-05-01T00:00:01Z")
        .unwrap()
        .timestamp();
    assert_eq!(
        reset_at,
        first_list + 600,
        "the window started with this method's first call"
    );
    assert!(body["time"]["operating"].as_f64().unwrap() > 0.0);
    app.ok("server.time", json!({})).await;
    assert_eq!(app.call("server.time", json!({})).await.0, 503);
    // A method whose operating-time budget is spent is blocked until its window ends.
    control(&app, reqwest::Method::POST, "clock", json!({"advance": 60})).await;
    let admin = crm_server::rpc::Caller {
        user: app.services.store.user(1).await.unwrap().unwrap(),
        scopes: Vec::new(),
        auth: crm_server::rpc::ctx::AuthKind::Webhook(1),
    };
    let now = chrono::DateTime::parse_from_rfc3339("2031-05-01T00:01:01Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.services
        .limits
        .spend(&admin, "crm.lead.list", now, 480.0);
    let (status, body) = app.call("crm.lead.list", json!({})).await;
    assert_eq!(
        (status, &body["error"], &body["error_description"]),
        (
            429,
            &json!("OPERATION_TIME_LIMIT"),
            &json!("Method is blocked due to operation time limit.")
        )
    );
    assert_eq!(
        app.call("crm.lead.get", json!({"id": 1})).await.0,
        400,
        "other methods run"
    );
    control(
        &app,
        reqwest::Method::POST,
        "clock",
        json!({"advance": 600}),
    )
    .await;
    assert_eq!(app.call("crm.lead.list", json!({})).await.0, 200);
    // Off again.
    let (status, body) =
        control(&app, reqwest::Method::PUT, "limits", json!({"mode": "off"})).await;
    assert_eq!((status, &body["mode"]), (200, &json!("off")));
    for _ in 0..60 {
        app.ok("server.time", json!({})).await;
    }
}

#[tokio::test]
async fn fixtures_also_hold_users_and_bindings() {
    let app = TestApp::spawn_with(&["--control"]).await;
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "fixtures",
        json!({"users": [{"ID": 42, "NAME": "Ann", "EMAIL": "ann@example.org"}],
               "contacts": [{"ID": 10, "NAME": "A"}, {"ID": 11, "NAME": "B"}],
               "leads": [{"ID": 5, "TITLE": "Owned", "ASSIGNED_BY_ID": 42}],
               "bindings": [{"kind": "lead_contact", "owner": 5, "bound": 10, "sort": 20},
                            {"kind": "lead_contact", "owner": 5, "bound": 11, "primary": true}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["loaded"],
        json!({"users": 1, "contacts": 2, "leads": 1, "bindings": 2})
    );
    let users = app.ok("user.get", json!({"ID": 42})).await;
    assert_eq!(users[0]["NAME"], "Ann");
    let lead = app.ok("crm.lead.get", json!({"id": 5})).await;
    assert_eq!(
        (&lead["ASSIGNED_BY_ID"], &lead["CONTACT_ID"]),
        (&json!("42"), &json!("11"))
    );
    let items = app.ok("crm.lead.contact.items.get", json!({"id": 5})).await;
    assert_eq!(items.as_array().unwrap().len(), 2);
    // A taken user id, and a binding to a missing contact, are refused with their place.
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "fixtures",
        json!({"users": [{"ID": 42, "NAME": "Again"}]}),
    )
    .await;
    assert_eq!(
        (status, &body["error_description"]),
        (400, &json!("users (record 0): User #42 already exists"))
    );
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "fixtures",
        json!({"bindings": [{"kind": "lead_contact", "owner": 5, "bound": 999}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("bindings (record 0): ")
    );
}

#[tokio::test]
async fn snapshots_are_saved_restored_listed_and_deleted() {
    let app = TestApp::spawn_with(&["--control"]).await;
    control(
        &app,
        reqwest::Method::POST,
        "fixtures",
        json!({"contacts": [{"ID": 1010, "NAME": "Seed"}], "leads": [{"ID": 1, "TITLE": "Seed"}]}),
    )
    .await;
    let (status, body) =
        control(&app, reqwest::Method::POST, "snapshots/seeded", Value::Null).await;
    assert_eq!((status, &body["snapshot"]), (200, &json!("seeded")));
    // A test changes things…
    app.ok(
        "crm.lead.contact.add",
        json!({"id": 1, "fields": {"CONTACT_ID": 1010}}),
    )
    .await;
    app.ok("crm.lead.delete", json!({"id": 1})).await;
    // …and the next one starts from the snapshot.
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "snapshots/seeded/restore",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let lead = app.ok("crm.lead.get", json!({"id": 1})).await;
    assert_eq!(
        (&lead["TITLE"], &lead["CONTACT_ID"]),
        (&json!("Seed"), &Value::Null)
    );
    assert_eq!(
        app.ok(
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": 1010}})
        )
        .await,
        true
    );
    let (_, body) = control(&app, reqwest::Method::GET, "snapshots", Value::Null).await;
    assert_eq!(body["snapshots"], json!(["seeded"]));
    let (status, body) = control(
        &app,
        reqwest::Method::POST,
        "snapshots/nope/restore",
        Value::Null,
    )
    .await;
    assert_eq!((status, &body["error"]), (404, &json!("NOT_FOUND")));
    let (status, _) = control(
        &app,
        reqwest::Method::POST,
        "snapshots/Bad%20Name",
        Value::Null,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = control(
        &app,
        reqwest::Method::DELETE,
        "snapshots/seeded",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = control(&app, reqwest::Method::GET, "snapshots", Value::Null).await;
    assert_eq!(body["snapshots"], json!([]));
}

#[tokio::test]
async fn coverage_counts_the_calls_of_every_method() {
    let app = TestApp::spawn_with(&["--control"]).await;
    app.ok("crm.lead.add", json!({"fields": {}})).await;
    app.ok(
        "batch",
        json!({"cmd": {"a": "crm.lead.get?id=1", "b": "crm.lead.get?id=1"}}),
    )
    .await;
    let (status, body) = control(&app, reqwest::Method::GET, "coverage", Value::Null).await;
    assert_eq!(status, 200);
    let methods = body["methods"].as_array().unwrap();
    let calls = |name: &str| {
        methods
            .iter()
            .find(|m| m["method"] == name)
            .map(|m| m["calls"].clone())
    };
    assert_eq!(calls("crm.lead.add"), Some(json!(1)));
    assert_eq!(
        calls("crm.lead.get"),
        Some(json!(2)),
        "batched commands count"
    );
    assert_eq!(calls("crm.deal.add"), Some(json!(0)));
    assert_eq!(body["exercised"], 3);
    assert_eq!(body["total"], methods.len());
    let lead_add = methods
        .iter()
        .find(|m| m["method"] == "crm.lead.add")
        .unwrap();
    assert_eq!(lead_add["scope"], "crm");
}
