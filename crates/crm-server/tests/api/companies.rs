//! `crm.company.*` over HTTP: the field table, the defaults of a new company,
//! multi-fields, update and its not-found text, list filters, delete.

use crate::helpers::{TestApp, assert_error};
use serde_json::{Value, json};

#[tokio::test]
async fn fields_list_the_company_table() {
    let app = TestApp::spawn().await;
    let fields = app.ok("crm.company.fields", json!({})).await;
    let names: Vec<&str> = fields
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(&names[..4], ["ID", "TITLE", "COMPANY_TYPE", "LOGO"]);
    assert_eq!(names.len(), 57, "{names:?}");
    assert_eq!(fields["TITLE"]["isRequired"], true);
    assert_eq!(fields["INDUSTRY"]["statusType"], "INDUSTRY");
    assert_eq!(fields["CONTACT_ID"]["isMultiple"], true);
    assert_eq!(fields["PHONE"]["type"], "crm_multifield");
}

#[tokio::test]
async fn companies_are_added_read_updated_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let id = app
        .ok(
            "crm.company.add",
            json!({"fields": {"PHONE": [{"VALUE": "+100", "VALUE_TYPE": "WORK"}]}}),
        )
        .await;
    assert_eq!(id, json!(1));
    let got = app.ok("crm.company.get", json!({"id": id})).await;
    for (name, want) in [
        ("TITLE", json!("Company #1")),
        ("COMPANY_TYPE", json!("CUSTOMER")),
        ("INDUSTRY", json!("IT")),
        ("EMPLOYEES", json!("EMPLOYEES_1")),
        ("CURRENCY_ID", json!("USD")),
        ("IS_MY_COMPANY", json!("N")),
        ("OPENED", json!("Y")),
        ("HAS_PHONE", json!("Y")),
        ("HAS_EMAIL", json!("N")),
        ("REVENUE", Value::Null),
    ] {
        assert_eq!(got[name], want, "{name} in {got}");
    }
    assert_eq!(got["PHONE"][0]["VALUE"], "+100");
    assert!(got.get("CONTACT_ID").is_none(), "CONTACT_ID is write-only");

    assert_eq!(
        app.ok(
            "crm.company.update",
            json!({"id": id, "fields": {"TITLE": "Acme", "REVENUE": "1200.5"}})
        )
        .await,
        json!(true)
    );
    app.ok("crm.company.add", json!({"fields": {"TITLE": "Other"}}))
        .await;
    let listed = app
        .ok(
            "crm.company.list",
            json!({"filter": {"%TITLE": "cm"}, "select": ["ID", "TITLE", "REVENUE"]}),
        )
        .await;
    assert_eq!(
        listed,
        json!([{"ID": "1", "TITLE": "Acme", "REVENUE": "1200.50"}])
    );
    assert_error(
        &app.call(
            "crm.company.update",
            json!({"id": 9, "fields": {"TITLE": "x"}}),
        )
        .await,
        400,
        "",
        "Company is not found",
    );
    assert_eq!(
        app.ok("crm.company.delete", json!({"id": id})).await,
        json!(true)
    );
    assert_error(
        &app.call("crm.company.get", json!({"id": id})).await,
        400,
        "",
        "Not found",
    );
}
