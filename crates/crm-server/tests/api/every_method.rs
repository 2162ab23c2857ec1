//! Every registered method against malformed parameters: wrong types for every usual
//! parameter name (`id`, `fields`, `filter`, `order`, `select`, `start`, `items`,
//! `entityTypeId`, `params`, …), deep nesting, huge and negative numbers. Each answer
//! must be a success envelope or a 4xx Bitrix error (an `error` and a non-empty
//! `error_description`), never a 5xx; afterwards the server still answers. The method
//! list comes from the server itself (`methods` with `full`), so a method added later is
//! covered without touching this file.

use crate::helpers::TestApp;
use serde_json::{Value, json};

/// Parameter sets no well-behaved client sends.
fn hostile_params() -> Vec<Value> {
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!({ "a": deep });
    }
    let junk = [
        json!("x"),
        json!(-1),
        json!(9_223_372_036_854_775_807_i64),
        json!(1e300),
        json!(true),
        json!(null),
        json!([1, "two", {"three": [3]}]),
        json!({"": {"": ""}}),
        deep,
    ];
    let names = [
        "id",
        "ID",
        "fields",
        "filter",
        "order",
        "select",
        "start",
        "items",
        "entityTypeId",
        "params",
        "name",
        "entityId",
        "scope",
        "full",
    ];
    let mut out = vec![json!({})];
    for j in &junk {
        let mut all = serde_json::Map::new();
        for n in names {
            all.insert(n.to_string(), j.clone());
        }
        out.push(Value::Object(all));
    }
    // Right names with wrong shapes inside.
    out.push(
        json!({"id": 1, "entityTypeId": 2, "fields": {"TITLE": [1, 2], "STAGE_ID": {"a": 1},
                    "CONTACT_IDS": "abc", "OPPORTUNITY": "1e999", "CATEGORY_ID": -5,
                    "fm": "nope", "contactIds": {"x": "y"}, "CLOSEDATE": "not a date"}}),
    );
    out.push(
        json!({"id": 1, "entityTypeId": 2, "filter": {">=": 1, "%": "x", "!@ID": "a",
                    "><id": [1], "nope": 1}, "order": {"": "ASC", "ID": [1]},
                    "select": [{"a": 1}, null, "*", "UF_*"], "start": "-1"}),
    );
    out.push(
        json!({"id": 1, "items": [{"CONTACT_ID": "x"}, "junk", null, {"COMPANY_ID": -1}],
                    "fields": {"CONTACT_ID": 1e20, "COMPANY_ID": "1; DROP TABLE crm_lead"}}),
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_answers_malformed_parameters_with_a_bitrix_error() {
    let app = TestApp::spawn().await;
    // Something to address: a contact, a lead, a deal, a company, a category.
    app.ok("crm.contact.add", json!({"fields": {"NAME": "C"}}))
        .await;
    app.ok("crm.lead.add", json!({"fields": {"TITLE": "L"}}))
        .await;
    app.ok("crm.deal.add", json!({"fields": {"TITLE": "D"}}))
        .await;
    app.ok("crm.company.add", json!({"fields": {"TITLE": "C"}}))
        .await;
    let methods = app.ok("methods", json!({"full": true})).await;
    let methods: Vec<String> = methods
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    assert!(methods.len() > 80, "{methods:?}");
    let params = hostile_params();
    let mut calls = 0;
    for method in &methods {
        for p in &params {
            let (status, body) = app.call(method, p.clone()).await;
            calls += 1;
            assert!(status < 500, "{method} {p} → {status} {body}");
            if status >= 400 {
                assert!(
                    body.get("error").is_some_and(Value::is_string)
                        && body["error_description"]
                            .as_str()
                            .is_some_and(|d| !d.is_empty()),
                    "{method} {p} → {status} {body}"
                );
            } else {
                assert!(body.get("result").is_some(), "{method} {p} → {body}");
            }
        }
    }
    assert!(calls > 1_000, "{calls} calls");
    // Still serving (some calls were valid enough to delete item 1 of each type).
    app.ok("server.time", json!({})).await;
    app.ok("crm.lead.add", json!({"fields": {"TITLE": "after"}}))
        .await;
    let stages = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "DEAL_STAGE"}}),
        )
        .await;
    assert!(!stages.as_array().unwrap().is_empty());
}
