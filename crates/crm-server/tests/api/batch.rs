//! `batch`: references, PHP-array result maps, halt, limits and per-command errors.

use crate::helpers::TestApp;
use serde_json::{Value, json};

/// The batch `result` object with every `result_time` entry checked and removed.
fn strip_times(mut result: Value) -> Value {
    let times = result["result_time"].clone();
    let entries: Vec<&Value> = match &times {
        Value::Object(o) => o.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => panic!("result_time is {times}"),
    };
    for t in entries {
        let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 8, "{t}");
    }
    result.as_object_mut().unwrap().remove("result_time");
    result
}

#[tokio::test]
async fn a_batch_adds_a_lead_and_a_contact_and_binds_them_by_reference() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .call(
            "batch",
            json!({"halt": 0, "cmd": {
                "lead": "crm.lead.add?fields[TITLE]=Batch%20lead",
                "contact": "crm.contact.add?fields[NAME]=Ann",
                "bind": "crm.lead.contact.add?id=$result[lead]&fields[CONTACT_ID]=$result[contact]",
                "items": "crm.lead.contact.items.get?id=$result[lead]",
                "lead_again": "crm.lead.get?id=$result[lead]",
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&str> = body["result"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "result",
            "result_error",
            "result_total",
            "result_next",
            "result_time"
        ]
    );
    let time_keys: Vec<&str> = body["result"]["result_time"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        time_keys,
        ["lead", "contact", "bind", "items", "lead_again"]
    );
    let mut r = strip_times(body["result"].clone());
    let lead = r["result"]["lead_again"].take();
    assert_eq!(lead["TITLE"], "Batch lead");
    assert_eq!(lead["CONTACT_ID"], "1");
    assert_eq!(
        r,
        json!({
            "result": {"lead": 1, "contact": 1, "bind": true,
                       "items": [{"CONTACT_ID": 1, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}],
                       "lead_again": null},
            "result_error": [], "result_total": [], "result_next": []
        })
    );
}

#[tokio::test]
async fn array_commands_with_a_failing_middle_give_object_maps_and_halt_stops() {
    let app = TestApp::spawn().await;
    let cmd = json!([
        "crm.lead.add?fields[TITLE]=A",
        "crm.lead.get?id=0",
        "crm.lead.add?fields[TITLE]=C"
    ]);
    let (status, body) = app.call("batch", json!({"cmd": cmd})).await;
    assert_eq!(status, 200);
    assert_eq!(
        strip_times(body["result"].clone()),
        json!({
            "result": {"0": 1, "2": 2},
            "result_error": {"1": {"error": "", "error_description": "ID is not defined or invalid."}},
            "result_total": [], "result_next": []
        })
    );
    let text = body["result"]["result"].to_string();
    assert_eq!(text, r#"{"0":1,"2":2}"#);

    let (status, body) = app.call("batch", json!({"halt": 1, "cmd": cmd})).await;
    assert_eq!(status, 200);
    assert_eq!(
        strip_times(body["result"].clone()),
        json!({
            "result": [3],
            "result_error": {"1": {"error": "", "error_description": "ID is not defined or invalid."}},
            "result_total": [], "result_next": []
        })
    );
    let (_, missing) = app.call("crm.lead.get", json!({"id": 4})).await;
    assert_eq!(
        missing["error_description"], "Not found",
        "the third command must not have run"
    );
}

#[tokio::test]
async fn limits_nesting_scope_and_unknown_methods_are_per_command_errors() {
    let app = TestApp::spawn().await;
    let mut cmd = serde_json::Map::new();
    for i in 0..51 {
        cmd.insert(format!("c{i}"), json!("server.time"));
    }
    let (status, body) = app.call("batch", json!({"cmd": cmd})).await;
    assert_eq!(status, 200);
    let r = &body["result"];
    assert_eq!(r["result"].as_object().unwrap().len(), 50);
    assert_eq!(
        r["result_error"],
        json!({"c50": {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}})
    );

    let (status, body) = app
        .call(
            "batch",
            json!({"cmd": {"inner": "batch?cmd[a]=server.time", "nope": "no.such.method"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["result_error"],
        json!({
            "inner": {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "Method is not allowed for batch usage"},
            "nope": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
        })
    );
    assert_eq!(body["result"]["result"], json!([]));

    // A webhook with only the `user` scope: crm sub-calls fail, global ones run.
    let secret = crm_server::auth::new_secret().unwrap();
    let hash = crm_server::auth::hash_secret(&secret);
    app.services
        .store
        .create_webhook(1, hash, vec![crm_core::identity::Scope::User], 0)
        .await
        .unwrap();
    let res = app
        .client
        .post(format!("{}/rest/1/{secret}/batch", app.base))
        .json(&json!({"cmd": {"t": "server.time", "f": "crm.lead.fields"}}))
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::read(res).await;
    assert_eq!(status, 200);
    crate::helpers::assert_now(&body["result"]["result"]["t"]);
    assert_eq!(
        body["result"]["result_error"]["f"],
        json!({"error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the webhook token"})
    );
}

#[tokio::test]
async fn a_crest_style_form_batch_with_double_encoding_works() {
    let app = TestApp::spawn().await;
    // What CRest sends: http_build_query of cmd values that were themselves built with
    // http_build_query, so the inner query is encoded twice on the wire.
    let body = "cmd%5Blead%5D=crm.lead.add%3Ffields%255BTITLE%255D%3DForm%2Blead\
                &cmd%5Bget%5D=crm.lead.get%3Fid%3D%2524result%255Blead%255D&halt=0";
    let (status, body) = app.form("batch", body).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["result"]["lead"], json!(1));
    assert_eq!(body["result"]["result"]["get"]["TITLE"], "Form lead");
    assert_eq!(body["result"]["result_error"], json!([]));
}

#[tokio::test]
async fn an_empty_batch_has_empty_lists_everywhere() {
    let app = TestApp::spawn().await;
    let r = app.ok("batch", json!({})).await;
    assert_eq!(
        r,
        json!({"result": [], "result_error": [], "result_total": [], "result_next": [], "result_time": []})
    );
}
