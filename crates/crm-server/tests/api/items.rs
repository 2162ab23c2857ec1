//! `crm.item.*` over HTTP for leads, deals, contacts and companies: the universal API's
//! names and value types over the same rows as the classic methods, writes through
//! either API visible through the other, bindings through the one engine.

use crate::helpers::{TestApp, assert_error};
use serde_json::{Value, json};

fn item(v: &Value) -> &Value {
    &v["item"]
}

#[tokio::test]
async fn fields_use_universal_names() {
    let app = TestApp::spawn().await;
    let got = app.ok("crm.item.fields", json!({"entityTypeId": 2})).await;
    let fields = &got["fields"];
    assert_eq!(
        fields["createdTime"],
        json!({"type": "datetime", "isRequired": false, "isReadOnly": true,
               "isImmutable": false, "isMultiple": false, "isDynamic": false,
               "title": "Creation Date", "upperName": "CREATED_TIME"})
    );
    assert_eq!(fields["stageId"]["statusType"], "DEAL_STAGE");
    assert_eq!(fields["opened"]["type"], "boolean");
    assert_eq!(fields["contactIds"]["isMultiple"], true);
    assert_eq!(
        fields["categoryId"]["isImmutable"], false,
        "crm.item.update moves deals between categories"
    );
    assert!(fields.get("TITLE").is_none() && fields.get("title").is_some());
    let lead = app.ok("crm.item.fields", json!({"entityTypeId": 1})).await;
    assert_eq!(lead["fields"]["stageId"]["statusType"], "STATUS");
    assert_eq!(lead["fields"]["fm"]["type"], "crm_multifield");
    assert_error(
        &app.call("crm.item.fields", json!({"entityTypeId": 999}))
            .await,
        400,
        "NOT_FOUND",
        "Smart process not found",
    );
}

#[tokio::test]
async fn a_deal_through_the_universal_api_is_the_classic_deal() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.ok("crm.contact.add", json!({"fields": {"NAME": "C"}}))
            .await;
    }
    let added = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": 2, "fields": {"title": "Big", "opportunity": 1500.5,
                   "contactIds": [2, 1], "opened": false, "begindate": "2026-03-01"}}),
        )
        .await;
    let deal = item(&added);
    assert_eq!(deal["id"], 1);
    assert_eq!(deal["title"], "Big");
    assert_eq!(deal["opportunity"], 1500.5);
    assert_eq!(deal["opened"], "N");
    assert_eq!(deal["stageId"], "NEW");
    assert_eq!(deal["categoryId"], 0);
    assert_eq!(deal["assignedById"], 1);
    assert_eq!(deal["contactIds"], json!([2, 1]));
    assert_eq!(deal["contactId"], 2);
    assert_eq!(deal["begindate"], "2026-03-01T00:00:00+00:00");
    assert!(deal["createdTime"].as_str().unwrap().ends_with("+00:00"));
    let keys: Vec<&String> = deal.as_object().unwrap().keys().collect();
    assert_eq!(keys.last().map(|k| k.as_str()), Some("entityTypeId"));
    assert_eq!(deal["entityTypeId"], 2);
    // The classic views agree.
    let classic = app.ok("crm.deal.get", json!({"id": 1})).await;
    assert_eq!(
        (
            &classic["TITLE"],
            &classic["OPPORTUNITY"],
            &classic["OPENED"],
            &classic["CONTACT_ID"]
        ),
        (&json!("Big"), &json!("1500.50"), &json!("N"), &json!("2"))
    );
    let bound = app.ok("crm.deal.contact.items.get", json!({"id": 1})).await;
    let ids: Vec<i64> = bound
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["CONTACT_ID"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 1]);
    // A binding added the classic way shows in contactIds.
    app.ok(
        "crm.deal.contact.add",
        json!({"id": 1, "fields": {"CONTACT_ID": 3}}),
    )
    .await;
    let got = app
        .ok("crm.item.get", json!({"entityTypeId": 2, "id": 1}))
        .await;
    assert_eq!(item(&got)["contactIds"], json!([2, 1, 3]));
    // A stage move through update closes it in both views.
    let moved = app
        .ok(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": 1, "fields": {"stageId": "WON"}}),
        )
        .await;
    assert_eq!(
        (&item(&moved)["stageSemanticId"], &item(&moved)["closed"]),
        (&json!("S"), &json!("Y"))
    );
    assert_eq!(
        app.ok("crm.deal.get", json!({"id": 1})).await["CLOSED"],
        "Y"
    );
    assert_error(
        &app.call(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": 1, "fields": {"stageId": "NOPE"}}),
        )
        .await,
        400,
        "",
        "The value of \"Deal stage\" is incorrect",
    );
    assert_error(
        &app.call(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": 1, "fields": {"id": 5}}),
        )
        .await,
        400,
        "INVALID_ARG_VALUE",
        "Setting value for Primary ID is not allowed, it is read-only field",
    );
    // Delete answers [] and the item is gone from both APIs.
    assert_eq!(
        app.ok("crm.item.delete", json!({"entityTypeId": 2, "id": 1}))
            .await,
        json!([])
    );
    assert_error(
        &app.call("crm.item.get", json!({"entityTypeId": 2, "id": 1}))
            .await,
        400,
        "NOT_FOUND",
        "Element not found",
    );
    assert_error(
        &app.call("crm.deal.get", json!({"id": 1})).await,
        400,
        "",
        "Not found",
    );
}

#[tokio::test]
async fn leads_contacts_and_companies_map_their_own_names() {
    let app = TestApp::spawn().await;
    let lead = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": 1, "fields": {"title": "L", "stageId": "IN_PROCESS",
                   "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+100"}]}}),
        )
        .await;
    assert_eq!(item(&lead)["stageId"], "IN_PROCESS");
    assert_eq!(item(&lead)["fm"][0]["value"], "+100");
    assert_eq!(item(&lead)["hasPhone"], "Y");
    let classic = app.ok("crm.lead.get", json!({"id": 1})).await;
    assert_eq!(classic["STATUS_ID"], "IN_PROCESS");
    assert_eq!(classic["PHONE"][0]["VALUE"], "+100");

    let company = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": 4, "fields": {"title": "Acme", "typeId": "PARTNER"}}),
        )
        .await;
    assert_eq!(item(&company)["typeId"], "PARTNER");
    assert_eq!(
        app.ok("crm.company.get", json!({"id": 1})).await["COMPANY_TYPE"],
        "PARTNER"
    );
    let contact = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": 3, "fields": {"name": "Ann", "companyIds": [1]}}),
        )
        .await;
    assert_eq!(item(&contact)["companyIds"], json!([1]));
    assert_eq!(item(&contact)["companyId"], 1);
    let company = app
        .ok("crm.item.get", json!({"entityTypeId": 4, "id": 1}))
        .await;
    assert_eq!(item(&company)["contactIds"], json!([1]));
}

#[tokio::test]
async fn lists_filter_order_select_and_page() {
    let app = TestApp::spawn().await;
    let cmds: Vec<String> = (1..=60)
        .map(|i| format!("crm.lead.add?fields[TITLE]=L{i}&fields[OPPORTUNITY]={i}"))
        .collect();
    app.ok("batch", json!({"cmd": cmds[..50]})).await;
    app.ok("batch", json!({"cmd": cmds[50..]})).await;
    let (status, body) = app
        .call(
            "crm.item.list",
            json!({"entityTypeId": 1, "filter": {">opportunity": 55},
                   "order": {"id": "DESC"}, "select": ["title", "id"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["items"],
        json!([
            {"id": 60, "title": "L60"},
            {"id": 59, "title": "L59"},
            {"id": 58, "title": "L58"},
            {"id": 57, "title": "L57"},
            {"id": 56, "title": "L56"}
        ]),
        "the item's own key order, not the select order"
    );
    assert_eq!(body["total"], 5);
    let (_, first) = app.call("crm.item.list", json!({"entityTypeId": 1})).await;
    assert_eq!(first["result"]["items"].as_array().unwrap().len(), 50);
    assert_eq!((&first["total"], &first["next"]), (&json!(60), &json!(50)));
    // Keyset paging as the JS SDK does it: `>id` and start=-1.
    let (_, keyset) = app
        .call(
            "crm.item.list",
            json!({"entityTypeId": 1, "filter": {">id": 58}, "order": {"id": "ASC"},
                   "start": -1, "select": ["id"]}),
        )
        .await;
    assert_eq!(keyset["result"]["items"], json!([{"id": 59}, {"id": 60}]));
    assert!(keyset.get("next").is_none(), "{keyset}");
    for (params, text) in [
        (
            json!({"entityTypeId": 1, "filter": {"nope": 1}}),
            "Invalid filter: field 'nope' is not allowed in filter",
        ),
        (
            json!({"entityTypeId": 1, "order": {"nope": "ASC"}}),
            "Invalid order: field 'nope' is not allowed in order",
        ),
        (
            json!({"entityTypeId": 1, "order": {"id": "UP"}}),
            "Invalid order: allowed sort directions are ASC, DESC. But got 'UP' for field 'id'",
        ),
    ] {
        assert_error(
            &app.call("crm.item.list", params).await,
            400,
            "INVALID_ARG_VALUE",
            text,
        );
    }
}

#[tokio::test]
async fn the_universal_api_moves_a_deal_to_another_category() {
    let app = TestApp::spawn().await;
    app.ok(
        "crm.category.add",
        json!({"entityTypeId": 2, "fields": {"name": "Second"}}),
    )
    .await;
    let id = app
        .ok("crm.deal.add", json!({"fields": {"STAGE_ID": "WON"}}))
        .await;
    // The classic update ignores the category…
    app.ok(
        "crm.deal.update",
        json!({"id": id, "fields": {"CATEGORY_ID": 1}}),
    )
    .await;
    assert_eq!(
        app.ok("crm.deal.get", json!({"id": id})).await["CATEGORY_ID"],
        "0"
    );
    // …the universal one moves the deal, its stage following by semantics.
    let moved = app
        .ok(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"categoryId": 1}}),
        )
        .await;
    assert_eq!(
        (
            &item(&moved)["categoryId"],
            &item(&moved)["stageId"],
            &item(&moved)["closed"]
        ),
        (&json!(1), &json!("C1:WON"), &json!("Y"))
    );
    // With a stage of the new category given, that one is taken.
    let back = app
        .ok(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"categoryId": 0, "stageId": "EXECUTING"}}),
        )
        .await;
    assert_eq!(
        (
            &item(&back)["categoryId"],
            &item(&back)["stageId"],
            &item(&back)["closed"]
        ),
        (&json!(0), &json!("EXECUTING"), &json!("N"))
    );
    assert_error(
        &app.call(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"categoryId": 99}}),
        )
        .await,
        400,
        "",
        "Category 99 is not available",
    );
    assert_eq!(
        app.ok("crm.deal.get", json!({"id": id})).await["CATEGORY_ID"],
        "0"
    );
}
