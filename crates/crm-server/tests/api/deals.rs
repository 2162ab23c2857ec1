//! `crm.deal.*` over HTTP: the field table, what a new deal holds, stage moves (semantics,
//! CLOSED, CLOSEDATE, IS_NEW), the immutable category, unknown stages, the contact set
//! through `CONTACT_IDS` and `crm.deal.contact.*`, and the deal's own error texts.

use crate::helpers::{TestApp, TestClock, assert_error};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

/// A server at 2026-03-10 22:30 UTC with a +02:00 offset: already 11 March locally.
async fn spawn() -> (TestApp, Arc<TestClock>) {
    let start = Utc.with_ymd_and_hms(2026, 3, 10, 22, 30, 0).unwrap();
    let clock = Arc::new(TestClock::at(start));
    let app = TestApp::spawn_with_clock(&["--tz-offset", "+02:00"], clock.clone()).await;
    (app, clock)
}

async fn deal(app: &TestApp, id: &Value) -> Value {
    app.ok("crm.deal.get", json!({ "id": id })).await
}

#[tokio::test]
async fn fields_list_the_deal_table_with_an_immutable_category() {
    let app = TestApp::spawn().await;
    let fields = app.ok("crm.deal.fields", json!({})).await;
    let names: Vec<&str> = fields
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        &names[..6],
        [
            "ID",
            "TITLE",
            "TYPE_ID",
            "CATEGORY_ID",
            "STAGE_ID",
            "STAGE_SEMANTIC_ID"
        ]
    );
    assert_eq!(names.len(), 45, "{names:?}");
    assert_eq!(names.last(), Some(&"LAST_ACTIVITY_BY"));
    assert_eq!(
        fields["CATEGORY_ID"],
        json!({"type": "crm_category", "isRequired": false, "isReadOnly": false,
               "isImmutable": true, "isMultiple": false, "isDynamic": false,
               "title": "Sales Funnel"})
    );
    assert_eq!(fields["STAGE_ID"]["statusType"], "DEAL_STAGE");
    assert_eq!(fields["CONTACT_IDS"]["isMultiple"], true);
    assert_eq!(
        fields["QUOTE_ID"]["settings"],
        json!({"parentEntityTypeId": 7})
    );
    assert_eq!(fields["TITLE"]["isRequired"], false);
}

#[tokio::test]
async fn a_new_deal_has_the_portal_defaults() {
    let (app, _) = spawn().await;
    let id = app.ok("crm.deal.add", json!({"fields": {}})).await;
    assert_eq!(id, json!(1), "the id is a JSON integer");
    let got = deal(&app, &id).await;
    let expect = [
        ("ID", json!("1")),
        ("TITLE", json!("Deal #1")),
        ("TYPE_ID", json!("SALE")),
        ("CATEGORY_ID", json!("0")),
        ("STAGE_ID", json!("NEW")),
        ("STAGE_SEMANTIC_ID", json!("P")),
        ("IS_NEW", json!("Y")),
        ("CLOSED", json!("N")),
        ("OPENED", json!("Y")),
        ("PROBABILITY", Value::Null),
        ("CURRENCY_ID", json!("USD")),
        ("OPPORTUNITY", json!("0.00")),
        ("IS_MANUAL_OPPORTUNITY", json!("N")),
        ("TAX_VALUE", json!("0.00")),
        ("COMPANY_ID", json!("0")),
        ("CONTACT_ID", Value::Null),
        ("SOURCE_ID", Value::Null),
        ("BEGINDATE", json!("2026-03-11T02:00:00+02:00")),
        ("CLOSEDATE", json!("2026-03-18T02:00:00+02:00")),
        ("DATE_CREATE", json!("2026-03-11T00:30:00+02:00")),
        ("ASSIGNED_BY_ID", json!("1")),
        ("IS_RECURRING", json!("N")),
        ("IS_RETURN_CUSTOMER", json!("N")),
        ("IS_REPEATED_APPROACH", json!("N")),
    ];
    for (name, want) in expect {
        assert_eq!(got[name], want, "{name} in {got}");
    }
    assert!(
        got.get("CONTACT_IDS").is_none(),
        "CONTACT_IDS is write-only"
    );
}

#[tokio::test]
async fn stage_moves_close_and_reopen_a_deal() {
    let (app, clock) = spawn().await;
    let id = app
        .ok(
            "crm.deal.add",
            json!({"fields": {"TITLE": "Big", "STAGE_ID": "PREPARATION", "CLOSEDATE": "2026-04-01"}}),
        )
        .await;
    let got = deal(&app, &id).await;
    assert_eq!(
        (&got["STAGE_ID"], &got["IS_NEW"], &got["CLOSED"]),
        (&json!("PREPARATION"), &json!("N"), &json!("N"))
    );
    assert_eq!(got["CLOSEDATE"], "2026-04-01T02:00:00+02:00");

    clock.set(Utc.with_ymd_and_hms(2026, 3, 20, 9, 0, 0).unwrap());
    let steps = [
        // (stage, semantic, closed, IS_NEW, CLOSEDATE)
        ("WON", "S", "Y", "N", "2026-03-20T02:00:00+02:00"),
        ("EXECUTING", "P", "N", "N", "2026-03-20T02:00:00+02:00"),
        ("NEW", "P", "N", "Y", "2026-03-20T02:00:00+02:00"),
        ("APOLOGY", "F", "Y", "N", "2026-03-20T02:00:00+02:00"),
    ];
    for (stage, semantic, closed, new, closedate) in steps {
        let done = app
            .ok(
                "crm.deal.update",
                json!({"id": id, "fields": {"STAGE_ID": stage, "CLOSED": "N"}}),
            )
            .await;
        assert_eq!(done, json!(true));
        let got = deal(&app, &id).await;
        assert_eq!(got["STAGE_ID"], stage);
        assert_eq!(got["STAGE_SEMANTIC_ID"], semantic, "{stage}");
        assert_eq!(got["CLOSED"], closed, "{stage}: CLOSED follows the stage");
        assert_eq!(got["IS_NEW"], new, "{stage}");
        assert_eq!(got["CLOSEDATE"], closedate, "{stage}");
        assert_eq!(got["MOVED_TIME"], "2026-03-20T11:00:00+02:00");
    }
    // A close date given with the move is kept.
    app.ok(
        "crm.deal.update",
        json!({"id": id, "fields": {"STAGE_ID": "LOSE", "CLOSEDATE": "2026-05-05"}}),
    )
    .await;
    assert_eq!(
        deal(&app, &id).await["CLOSEDATE"],
        "2026-05-05T02:00:00+02:00"
    );
    // Created in a final stage: closed from the start.
    let won = app
        .ok("crm.deal.add", json!({"fields": {"STAGE_ID": "WON"}}))
        .await;
    let got = deal(&app, &won).await;
    assert_eq!(
        (&got["STAGE_SEMANTIC_ID"], &got["CLOSED"], &got["CLOSEDATE"]),
        (
            &json!("S"),
            &json!("Y"),
            &json!("2026-03-20T02:00:00+02:00")
        )
    );
}

#[tokio::test]
async fn unknown_stages_and_category_changes() {
    let (app, _) = spawn().await;
    let id = app
        .ok("crm.deal.add", json!({"fields": {"TITLE": "X"}}))
        .await;
    let invalid = "The value of \"Deal stage\" is incorrect";
    assert_error(
        &app.call("crm.deal.add", json!({"fields": {"STAGE_ID": "NOPE"}}))
            .await,
        400,
        "",
        invalid,
    );
    assert_error(
        &app.call(
            "crm.deal.update",
            json!({"id": id, "fields": {"STAGE_ID": "C7:NEW", "TITLE": "Y"}}),
        )
        .await,
        400,
        "",
        invalid,
    );
    let got = deal(&app, &id).await;
    assert_eq!(
        (&got["TITLE"], &got["STAGE_ID"]),
        (&json!("X"), &json!("NEW"))
    );
    // CATEGORY_ID is immutable: ignored on update, no error.
    assert_eq!(
        app.ok(
            "crm.deal.update",
            json!({"id": id, "fields": {"CATEGORY_ID": 5, "TITLE": "Z"}})
        )
        .await,
        json!(true)
    );
    let got = deal(&app, &id).await;
    assert_eq!(
        (&got["TITLE"], &got["CATEGORY_ID"]),
        (&json!("Z"), &json!("0"))
    );
    // An empty stage on add is the first stage.
    let blank = app
        .ok("crm.deal.add", json!({"fields": {"STAGE_ID": ""}}))
        .await;
    assert_eq!(deal(&app, &blank).await["STAGE_ID"], "NEW");
}

#[tokio::test]
async fn missing_deals_answer_with_the_deal_texts() {
    let app = TestApp::spawn().await;
    for (method, params, text) in [
        ("crm.deal.get", json!({"id": 9}), "Not found"),
        (
            "crm.deal.update",
            json!({"id": 9, "fields": {"TITLE": "x"}}),
            "Not found",
        ),
        ("crm.deal.delete", json!({"id": 9}), "Not found"),
        (
            "crm.deal.get",
            json!({"id": 0}),
            "ID is not defined or invalid.",
        ),
        ("crm.deal.contact.items.get", json!({"id": 9}), "Not found"),
        (
            "crm.deal.contact.items.delete",
            json!({"id": 9}),
            "Not found",
        ),
        (
            "crm.deal.contact.add",
            json!({"id": 9, "fields": {"CONTACT_ID": 1}}),
            "Not found.",
        ),
    ] {
        assert_error(&app.call(method, params.clone()).await, 400, "", text);
    }
}

#[tokio::test]
async fn contacts_bind_through_contact_ids_and_the_family() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.ok("crm.contact.add", json!({"fields": {"NAME": "C"}}))
            .await;
    }
    let id = app
        .ok("crm.deal.add", json!({"fields": {"CONTACT_IDS": [2, 3]}}))
        .await;
    let items = |v: Value| -> Vec<(i64, &'static str)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["CONTACT_ID"].as_i64().unwrap(),
                    if r["IS_PRIMARY"] == "Y" { "Y" } else { "N" },
                )
            })
            .collect()
    };
    let get = || app.ok("crm.deal.contact.items.get", json!({"id": id}));
    assert_eq!(items(get().await), [(2, "Y"), (3, "N")]);
    assert_eq!(deal(&app, &id).await["CONTACT_ID"], "2");
    // The family works on the same set: a new primary moves the mirror column.
    assert_eq!(
        app.ok(
            "crm.deal.contact.add",
            json!({"id": id, "fields": {"CONTACT_ID": 1, "IS_PRIMARY": "Y"}})
        )
        .await,
        json!(true)
    );
    assert_eq!(items(get().await), [(2, "N"), (3, "N"), (1, "Y")]);
    assert_eq!(deal(&app, &id).await["CONTACT_ID"], "1");
    // CONTACT_ID of a bound contact on update changes nothing; CONTACT_IDS replaces.
    app.ok(
        "crm.deal.update",
        json!({"id": id, "fields": {"CONTACT_ID": 3}}),
    )
    .await;
    assert_eq!(items(get().await), [(2, "N"), (3, "N"), (1, "Y")]);
    app.ok(
        "crm.deal.update",
        json!({"id": id, "fields": {"CONTACT_IDS": [3]}}),
    )
    .await;
    assert_eq!(items(get().await), [(3, "Y")]);
    // Deleting the contact empties the set and the mirror; the lead family is untouched.
    app.ok("crm.contact.delete", json!({"id": 3})).await;
    assert_eq!(items(get().await), []);
    assert_eq!(deal(&app, &id).await["CONTACT_ID"], Value::Null);
    // Deleting the deal drops its set.
    app.ok(
        "crm.deal.contact.items.set",
        json!({"id": id, "items": [{"CONTACT_ID": 1}, {"CONTACT_ID": 2}]}),
    )
    .await;
    app.ok("crm.deal.delete", json!({"id": id})).await;
    assert_error(
        &app.call("crm.deal.contact.items.get", json!({"id": id}))
            .await,
        400,
        "",
        "Not found",
    );
    let list = app
        .ok("crm.deal.list", json!({"filter": {"CONTACT_ID": 1}}))
        .await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn lists_filter_by_stage_and_count() {
    let app = TestApp::spawn().await;
    for stage in ["NEW", "WON", "WON", "LOSE"] {
        app.ok("crm.deal.add", json!({"fields": {"STAGE_ID": stage}}))
            .await;
    }
    let (status, body) = app
        .call(
            "crm.deal.list",
            json!({"filter": {"STAGE_SEMANTIC_ID": "S"}, "select": ["ID", "STAGE_ID", "CLOSED"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"],
        json!([
            {"ID": "2", "STAGE_ID": "WON", "CLOSED": "Y"},
            {"ID": "3", "STAGE_ID": "WON", "CLOSED": "Y"}
        ])
    );
    assert_eq!(body["total"], 2);
}

#[tokio::test]
async fn imports_keep_their_dates_and_authors() {
    let (app, _) = spawn().await;
    let fields = json!({"TITLE": "Migrated", "DATE_CREATE": "2020-01-02T03:04:05+02:00",
                        "DATE_MODIFY": "2021-05-06T07:08:09+02:00", "CREATED_BY_ID": 7,
                        "MODIFY_BY_ID": 8});
    for entity in ["crm.deal", "crm.lead", "crm.contact", "crm.company"] {
        let imported = app
            .ok(
                &format!("{entity}.add"),
                json!({"fields": fields, "params": {"IMPORT": "Y"}}),
            )
            .await;
        let got = app
            .ok(&format!("{entity}.get"), json!({"id": imported}))
            .await;
        assert_eq!(
            (
                &got["DATE_CREATE"],
                &got["DATE_MODIFY"],
                &got["CREATED_BY_ID"],
                &got["MODIFY_BY_ID"]
            ),
            (
                &json!("2020-01-02T03:04:05+02:00"),
                &json!("2021-05-06T07:08:09+02:00"),
                &json!("7"),
                &json!("8")
            ),
            "{entity}"
        );
        // Without IMPORT the same fields are read-only.
        let plain = app
            .ok(&format!("{entity}.add"), json!({"fields": fields}))
            .await;
        let got = app.ok(&format!("{entity}.get"), json!({"id": plain})).await;
        assert_eq!(got["DATE_CREATE"], "2026-03-11T00:30:00+02:00", "{entity}");
        assert_eq!(got["CREATED_BY_ID"], "1", "{entity}");
    }
    // A contact carries FACE_ID (null) after ORIGIN_VERSION, as a portal's
    // crm.contact.get does; crm.contact.fields does not list it.
    let contact = app.ok("crm.contact.get", json!({"id": 1})).await;
    let keys: Vec<&String> = contact.as_object().unwrap().keys().collect();
    let at = keys.iter().position(|k| *k == "FACE_ID").expect("FACE_ID");
    assert_eq!(keys[at - 1], "ORIGIN_VERSION");
    assert_eq!(contact["FACE_ID"], Value::Null);
    let described = app.ok("crm.contact.fields", json!({})).await;
    assert!(described.get("FACE_ID").is_none());
}
