//! `crm.status.list` / `crm.status.fields`.

use crate::helpers::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn reference_lists_resolve_the_codes_leads_and_contacts_use() {
    let app = TestApp::spawn().await;
    let codes = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["STATUS_ID"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, body) = app
        .call(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "STATUS"}, "order": {"SORT": "ASC"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        codes(&body["result"]),
        ["NEW", "IN_PROCESS", "PROCESSED", "CONVERTED", "JUNK"]
    );
    assert_eq!(body["total"], json!(5));
    assert_eq!(body["result"][0]["SEMANTICS"], Value::Null);
    assert_eq!(body["result"][0]["EXTRA"]["SEMANTICS"], "process");
    assert_eq!(body["result"][0]["SORT"], "10");
    let sources = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "SOURCE"}}),
        )
        .await;
    assert!(codes(&sources).contains(&"WEB".to_string()) && codes(&sources).len() == 12);
    let types = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "CONTACT_TYPE"}}),
        )
        .await;
    assert_eq!(codes(&types), ["CLIENT", "SUPPLIER", "PARTNER", "OTHER"]);
    let honorific = app
        .form(
            "crm.status.list",
            "filter[ENTITY_ID]=HONORIFIC&filter[STATUS_ID]=HNR_EN_1",
        )
        .await
        .1;
    assert_eq!(honorific["result"][0]["NAME"], "Mr.");
    let fields = app.ok("crm.status.fields", json!({})).await;
    assert_eq!(fields["ENTITY_ID"]["type"], "string");
    // Every default a new lead/contact gets is a known code.
    let lead = app
        .ok(
            "crm.lead.add",
            json!({"fields": {"STATUS_ID": "NOT_A_STAGE"}}),
        )
        .await;
    assert_eq!(
        app.ok("crm.lead.get", json!({"id": lead})).await["STATUS_ID"],
        "NEW",
        "unknown stage falls back to the first"
    );
    let contact = app.ok("crm.contact.add", json!({"fields": {}})).await;
    let c = app.ok("crm.contact.get", json!({"id": contact})).await;
    assert!(codes(&types).contains(&c["TYPE_ID"].as_str().unwrap().to_string()));
    assert!(codes(&sources).contains(&c["SOURCE_ID"].as_str().unwrap().to_string()));
    assert_eq!(c["LAST_NAME"], "Untitled");
}
