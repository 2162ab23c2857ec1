//! `crm.lead.update` / `crm.contact.update`: partial updates, multi-fields, contacts.

use crate::helpers::{TestApp, TestClock, assert_error};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

fn phones(lead: &Value) -> Vec<(String, String, String)> {
    lead["PHONE"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["ID"].as_str().unwrap().into(),
                        p["VALUE_TYPE"].as_str().unwrap().into(),
                        p["VALUE"].as_str().unwrap().into(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[tokio::test]
async fn multi_fields_append_replace_and_delete() {
    let app = TestApp::spawn().await;
    let id = app
        .ok(
            "crm.contact.add",
            json!({"fields": {"NAME": "Ann", "PHONE": [{"VALUE": "111", "VALUE_TYPE": "MOBILE"}]}}),
        )
        .await;
    let get = || async { app.ok("crm.contact.get", json!({"id": id})).await };
    assert_eq!(phones(&get().await), vec![s("1", "MOBILE", "111")]);
    assert_eq!(get().await["HAS_PHONE"], "Y");
    assert_eq!(get().await["HAS_EMAIL"], "N");

    // Append (a value without ID is added; existing ones stay).
    assert_eq!(app.ok("crm.contact.update", json!({"id": id, "fields": {"PHONE": [{"VALUE": "222"}], "EMAIL": [{"VALUE": "a@b.c"}]}})).await, json!(true));
    let c = get().await;
    assert_eq!(
        phones(&c),
        vec![s("1", "MOBILE", "111"), s("2", "WORK", "222")]
    );
    assert_eq!(
        (c["HAS_PHONE"].clone(), c["HAS_EMAIL"].clone()),
        (json!("Y"), json!("Y"))
    );
    // Replace by ID.
    app.ok(
        "crm.contact.update",
        json!({"id": id, "fields": {"PHONE": [{"ID": 2, "VALUE": "333", "VALUE_TYPE": "HOME"}]}}),
    )
    .await;
    assert_eq!(
        phones(&get().await),
        vec![s("1", "MOBILE", "111"), s("2", "HOME", "333")]
    );
    // Delete by empty VALUE and by DELETE: "Y" (form-encoded), e-mail by ID without VALUE.
    let (status, body) = app
        .form(
            "crm.contact.update",
            &format!(
                "id={id}&fields[PHONE][0][ID]=1&fields[PHONE][0][VALUE]=&fields[EMAIL][0][ID]=3"
            ),
        )
        .await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!(true)),
        "{body}"
    );
    let c = get().await;
    assert_eq!(phones(&c), vec![s("2", "HOME", "333")]);
    assert_eq!(c["HAS_EMAIL"], "N");
    assert!(c.get("EMAIL").is_none(), "empty types are omitted");
    app.ok(
        "crm.contact.update",
        json!({"id": id, "fields": {"PHONE": [{"ID": "2", "DELETE": "Y"}]}}),
    )
    .await;
    let c = get().await;
    assert!(c.get("PHONE").is_none());
    assert_eq!(c["HAS_PHONE"], "N");
}

#[tokio::test]
async fn partial_updates_keep_other_fields_and_track_the_modifier() {
    let created = Utc.with_ymd_and_hms(2024, 3, 5, 10, 20, 30).unwrap();
    let closed = Utc.with_ymd_and_hms(2024, 3, 6, 8, 0, 0).unwrap();
    let clock = Arc::new(TestClock::at(created));
    let app = TestApp::spawn_with_clock(&[], clock.clone()).await;
    let id = app
        .ok(
            "crm.lead.add",
            json!({"fields": {"TITLE": "T", "NAME": "N", "OPPORTUNITY": 10}}),
        )
        .await;
    let before = app.ok("crm.lead.get", json!({"id": id})).await;
    assert_eq!(
        (before["DATE_CREATE"].clone(), before["DATE_CLOSED"].clone()),
        (json!("2024-03-05T10:20:30+00:00"), json!(""))
    );
    clock.set(closed);
    let r = app
        .ok("crm.lead.update", json!({"id": id, "fields": {"NAME": "M", "ID": 99, "DATE_CREATE": "2000-01-01", "UNKNOWN": 1, "STATUS_ID": "JUNK"}, "params": {"REGISTER_HISTORY_EVENT": "N"}}))
        .await;
    assert_eq!(r, json!(true));
    let after = app.ok("crm.lead.get", json!({"id": id})).await;
    assert_eq!(
        (
            after["NAME"].clone(),
            after["TITLE"].clone(),
            after["OPPORTUNITY"].clone()
        ),
        (json!("M"), json!("T"), json!("10.00"))
    );
    assert_eq!(
        after["DATE_CREATE"], before["DATE_CREATE"],
        "read-only fields are dropped"
    );
    assert_eq!(after["ID"], json!(id.to_string()));
    assert_eq!(
        (
            after["STATUS_ID"].clone(),
            after["STATUS_SEMANTIC_ID"].clone()
        ),
        (json!("JUNK"), json!("F"))
    );
    assert_eq!(
        (after["DATE_CLOSED"].clone(), after["DATE_MODIFY"].clone()),
        (
            json!("2024-03-06T08:00:00+00:00"),
            json!("2024-03-06T08:00:00+00:00")
        ),
        "closing a lead sets DATE_CLOSED to the time of the update"
    );
    assert_eq!(after["MODIFY_BY_ID"], "1");
    // An unknown stage is ignored.
    app.ok(
        "crm.lead.update",
        json!({"id": id, "fields": {"STATUS_ID": "NOPE"}}),
    )
    .await;
    assert_eq!(
        app.ok("crm.lead.get", json!({"id": id})).await["STATUS_ID"],
        "JUNK"
    );
    // Errors.
    assert_error(
        &app.call(
            "crm.lead.update",
            json!({"id": 999, "fields": {"NAME": "x"}}),
        )
        .await,
        400,
        "",
        "Lead is not found",
    );
    assert_error(
        &app.call("crm.contact.update", json!({"id": 999, "fields": {}}))
            .await,
        400,
        "",
        "Contact is not found",
    );
    assert_error(
        &app.call("crm.lead.update", json!({"id": 0})).await,
        400,
        "",
        "ID is not defined or invalid.",
    );
    assert_error(
        &app.call("crm.lead.update", json!({"id": id, "fields": "x"}))
            .await,
        400,
        "",
        "Parameter 'fields' must be array.",
    );
    assert_error(
        &app.call(
            "crm.lead.update",
            json!({"id": id, "fields": {"OPPORTUNITY": "12abc"}}),
        )
        .await,
        400,
        "",
        "Field \"OPPORTUNITY\" has an invalid value.",
    );
}

async fn state(app: &TestApp, lead: &Value) -> (Value, Value, Value) {
    let l = app.ok("crm.lead.get", json!({"id": lead})).await;
    let items = app
        .ok("crm.lead.contact.items.get", json!({"id": lead}))
        .await;
    let ids: Vec<Value> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["CONTACT_ID"].clone())
        .collect();
    (
        l["CONTACT_ID"].clone(),
        Value::Array(ids),
        l["IS_RETURN_CUSTOMER"].clone(),
    )
}

#[tokio::test]
async fn contact_id_and_contact_ids_on_update_go_through_the_binding_engine() {
    let app = TestApp::spawn().await;
    for n in ["A", "B", "C"] {
        app.ok("crm.contact.add", json!({"fields": {"NAME": n}}))
            .await;
    }
    let lead = app
        .ok("crm.lead.add", json!({"fields": {"TITLE": "L"}}))
        .await;
    assert_eq!(
        state(&app, &lead).await,
        (Value::Null, json!([]), json!("N"))
    );
    let steps: Vec<(Value, (Value, Value, Value), &str)> = vec![
        (
            json!({"CONTACT_IDS": [1, 2]}),
            (json!("1"), json!([1, 2]), json!("Y")),
            "CONTACT_IDS sets the list",
        ),
        (
            json!({"CONTACT_ID": 2}),
            (json!("1"), json!([1, 2]), json!("Y")),
            "an already bound CONTACT_ID changes nothing",
        ),
        (
            json!({"CONTACT_ID": 3}),
            (json!("3"), json!([3]), json!("Y")),
            "a new CONTACT_ID replaces the set",
        ),
        (
            json!({"CONTACT_ID": 0}),
            (Value::Null, json!([]), json!("N")),
            "CONTACT_ID 0 clears",
        ),
        (
            json!({"CONTACT_IDS": [3, 1, 3, 0]}),
            (json!("3"), json!([3, 1]), json!("Y")),
            "repeats and zeros skipped",
        ),
        (
            json!({"CONTACT_IDS": []}),
            (Value::Null, json!([]), json!("N")),
            "an empty list clears",
        ),
    ];
    for (fields, want, msg) in steps {
        app.ok("crm.lead.update", json!({"id": lead, "fields": fields}))
            .await;
        assert_eq!(state(&app, &lead).await, want, "{msg}");
    }
    // A missing contact is rejected and nothing changes.
    app.ok(
        "crm.lead.update",
        json!({"id": lead, "fields": {"CONTACT_IDS": [1]}}),
    )
    .await;
    assert_error(
        &app.call(
            "crm.lead.update",
            json!({"id": lead, "fields": {"CONTACT_ID": 77, "NAME": "x"}}),
        )
        .await,
        400,
        "",
        "Contact #77 is not found.",
    );
    assert_eq!(
        state(&app, &lead).await,
        (json!("1"), json!([1]), json!("Y"))
    );
    assert_eq!(
        app.ok("crm.lead.get", json!({"id": lead})).await["NAME"],
        Value::Null
    );
    // Binding methods leave IS_RETURN_CUSTOMER alone.
    app.ok("crm.lead.contact.items.delete", json!({"id": lead}))
        .await;
    assert_eq!(
        state(&app, &lead).await,
        (Value::Null, json!([]), json!("Y"))
    );
    // A company makes the lead a returning customer too.
    app.ok(
        "crm.lead.update",
        json!({"id": lead, "fields": {"COMPANY_ID": 5}}),
    )
    .await;
    assert_eq!(state(&app, &lead).await.2, json!("Y"));
    app.ok(
        "crm.lead.update",
        json!({"id": lead, "fields": {"COMPANY_ID": 0}}),
    )
    .await;
    assert_eq!(state(&app, &lead).await.2, json!("N"));
}

#[tokio::test]
async fn e_mail_values_are_validated_and_phones_kept_as_given() {
    let app = TestApp::spawn().await;
    let (status, body) = app.call("crm.contact.add", json!({"fields": {"NAME": "X", "EMAIL": [{"VALUE": "not-an-address", "VALUE_TYPE": "HOME"}]}})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("")), "{body}");
    assert_eq!(
        body["error_description"],
        "The field Home e-mail contains an invalid address"
    );
    let (_, missing) = app.call("crm.contact.get", json!({"id": 1})).await;
    assert_eq!(
        missing["error_description"], "Not found",
        "a rejected add stores nothing"
    );
    let id = app.ok("crm.contact.add", json!({"fields": {"NAME": "X", "PHONE": [{"VALUE": " +1 (555) 01-02 "}], "EMAIL": [{"VALUE": "x@example.org"}]}})).await;
    let c = app.ok("crm.contact.get", json!({"id": id})).await;
    assert_eq!(c["PHONE"][0]["VALUE"], " +1 (555) 01-02 ");
    let got = app.call("crm.contact.update", json!({"id": id, "fields": {"EMAIL": [{"ID": c["EMAIL"][0]["ID"], "VALUE": "broken@"}]}})).await;
    assert_error(
        &got,
        400,
        "",
        "The field Work e-mail contains an invalid address",
    );
    assert_eq!(
        app.ok("crm.contact.get", json!({"id": id})).await["EMAIL"][0]["VALUE"],
        "x@example.org"
    );
}
