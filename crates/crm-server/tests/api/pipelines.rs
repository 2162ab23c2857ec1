//! Deal categories (pipelines) and reference lists as data over HTTP: `crm.category.*`,
//! `crm.dealcategory.*`, `crm.status.*`, and deals moving through a category's own
//! stages.

use crate::helpers::{TestApp, assert_error};
use serde_json::{Value, json};

async fn deal(app: &TestApp, id: &Value) -> Value {
    app.ok("crm.deal.get", json!({ "id": id })).await
}

fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["STATUS_ID"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_deal_in_a_second_category_moves_through_its_own_stages() {
    let app = TestApp::spawn().await;
    let created = app
        .ok(
            "crm.category.add",
            json!({"entityTypeId": 2, "fields": {"name": "Wholesale", "sort": 200}}),
        )
        .await;
    assert_eq!(
        created,
        json!({"category": {"id": 1, "name": "Wholesale", "sort": 200, "entityTypeId": 2,
                            "isDefault": "N", "originId": "", "originatorId": ""}})
    );
    // The category's stages are listed under DEAL_STAGE_1 with the C1: prefix.
    let stages = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "DEAL_STAGE_1"}}),
        )
        .await;
    assert_eq!(
        codes(&stages),
        [
            "C1:NEW",
            "C1:PREPARATION",
            "C1:PREPAYMENT_INVOICE",
            "C1:EXECUTING",
            "C1:FINAL_INVOICE",
            "C1:WON",
            "C1:LOSE",
            "C1:APOLOGY"
        ]
    );
    assert_eq!(stages[0]["CATEGORY_ID"], "1");
    assert_eq!(
        app.ok("crm.dealcategory.stage.list", json!({"id": 1}))
            .await[5],
        json!({"NAME": "Deal won", "SORT": 60, "STATUS_ID": "C1:WON"})
    );

    let id = app
        .ok(
            "crm.deal.add",
            json!({"fields": {"TITLE": "Big", "CATEGORY_ID": 1}}),
        )
        .await;
    let got = deal(&app, &id).await;
    assert_eq!(
        (&got["CATEGORY_ID"], &got["STAGE_ID"], &got["IS_NEW"]),
        (&json!("1"), &json!("C1:NEW"), &json!("Y"))
    );
    app.ok(
        "crm.deal.update",
        json!({"id": id, "fields": {"STAGE_ID": "C1:WON"}}),
    )
    .await;
    let got = deal(&app, &id).await;
    assert_eq!(
        (&got["STAGE_SEMANTIC_ID"], &got["CLOSED"], &got["IS_NEW"]),
        (&json!("S"), &json!("Y"), &json!("N"))
    );
    // A stage of another category is refused on update; nothing changes.
    let invalid = "The value of \"Deal stage\" is incorrect";
    assert_error(
        &app.call(
            "crm.deal.update",
            json!({"id": id, "fields": {"STAGE_ID": "NEW", "TITLE": "x"}}),
        )
        .await,
        400,
        "",
        invalid,
    );
    assert_eq!(deal(&app, &id).await["TITLE"], "Big");
    // On add, a stage of another category maps to the category's stage of the same
    // semantics; an unknown category is the default one.
    let mapped = app
        .ok(
            "crm.deal.add",
            json!({"fields": {"CATEGORY_ID": 1, "STAGE_ID": "LOSE"}}),
        )
        .await;
    assert_eq!(deal(&app, &mapped).await["STAGE_ID"], "C1:LOSE");
    let default = app
        .ok("crm.deal.add", json!({"fields": {"CATEGORY_ID": 99}}))
        .await;
    let got = deal(&app, &default).await;
    assert_eq!(
        (&got["CATEGORY_ID"], &got["STAGE_ID"]),
        (&json!("0"), &json!("NEW"))
    );
    assert_error(
        &app.call(
            "crm.deal.add",
            json!({"fields": {"CATEGORY_ID": 1, "STAGE_ID": "NOPE"}}),
        )
        .await,
        400,
        "",
        invalid,
    );
    // Filtering by category.
    let listed = app
        .ok(
            "crm.deal.list",
            json!({"filter": {"CATEGORY_ID": 1}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(listed, json!([{"ID": "1"}, {"ID": "2"}]));
}

#[tokio::test]
async fn custom_stages_are_data() {
    let app = TestApp::spawn().await;
    app.ok(
        "crm.category.add",
        json!({"entityTypeId": 2, "fields": {"name": "Projects"}}),
    )
    .await;
    let stage = app
        .ok(
            "crm.status.add",
            json!({"fields": {"ENTITY_ID": "DEAL_STAGE_1", "STATUS_ID": "REVIEW",
                              "NAME": "Review", "SORT": 25, "COLOR": "00FF00"}}),
        )
        .await;
    let got = app.ok("crm.status.get", json!({"id": stage})).await;
    assert_eq!(
        got,
        json!({"ID": stage.as_i64().unwrap().to_string(), "ENTITY_ID": "DEAL_STAGE_1",
               "STATUS_ID": "C1:REVIEW", "NAME": "Review", "NAME_INIT": "", "SORT": "25",
               "SYSTEM": "N", "CATEGORY_ID": "1", "COLOR": "#00FF00", "SEMANTICS": null,
               "EXTRA": {"SEMANTICS": "process", "COLOR": "#00FF00"}})
    );
    for (fields, text) in [
        (
            json!({"ENTITY_ID": "DEAL_STAGE_1", "STATUS_ID": "REVIEW"}),
            "The specified status ID already exists.",
        ),
        (
            json!({"ENTITY_ID": "NO_SUCH_LIST", "STATUS_ID": "X"}),
            "Specified entity type is not supported.",
        ),
        (
            json!({"ENTITY_ID": "DEAL_STAGE", "STATUS_ID": "BAD CODE"}),
            "Status ID may include Latin characters, numbers, minus and underscore characters only",
        ),
        (
            json!({}),
            "The field ENTITY_ID is required.\nThe field STATUS_ID is required.",
        ),
    ] {
        assert_error(
            &app.call("crm.status.add", json!({ "fields": fields }))
                .await,
            400,
            "",
            text,
        );
    }
    // A deal can stand in the new stage; a stage in use cannot be deleted.
    let id = app
        .ok(
            "crm.deal.add",
            json!({"fields": {"CATEGORY_ID": 1, "STAGE_ID": "C1:REVIEW"}}),
        )
        .await;
    assert_eq!(deal(&app, &id).await["STAGE_SEMANTIC_ID"], "P");
    assert_error(
        &app.call("crm.status.delete", json!({"id": stage})).await,
        400,
        "",
        "There are active items in this status.",
    );
    app.ok(
        "crm.status.update",
        json!({"id": stage, "fields": {"NAME": "Checked", "STATUS_ID": "OTHER"}}),
    )
    .await;
    let got = app.ok("crm.status.get", json!({"id": stage})).await;
    assert_eq!(
        (&got["NAME"], &got["STATUS_ID"]),
        (&json!("Checked"), &json!("C1:REVIEW"))
    );
    app.ok("crm.deal.delete", json!({"id": id})).await;
    assert_eq!(
        app.ok("crm.status.delete", json!({"id": stage})).await,
        json!(true)
    );
    assert_error(
        &app.call("crm.status.get", json!({"id": stage})).await,
        400,
        "",
        "CRM Status is not found.",
    );
    // System values need FORCED.
    let new = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "DEAL_STAGE_1", "STATUS_ID": "C1:NEW"}}),
        )
        .await;
    let new_id = new[0]["ID"].clone();
    assert_error(
        &app.call("crm.status.delete", json!({"id": new_id})).await,
        400,
        "",
        "CRM System Status can be deleted only if parameter FORCED is specified and equal to \"Y\".",
    );
    assert_eq!(
        app.ok(
            "crm.status.delete",
            json!({"id": new_id, "params": {"FORCED": "Y"}})
        )
        .await,
        json!(true)
    );
    // entity.types and entity.items know the category's list.
    let types = app.ok("crm.status.entity.types", json!({})).await;
    let ids: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ID"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"DEAL_STAGE") && ids.contains(&"DEAL_STAGE_1"),
        "{ids:?}"
    );
    let items = app
        .ok(
            "crm.status.entity.items",
            json!({"entityId": "DEAL_STAGE_1"}),
        )
        .await;
    assert_eq!(
        items[0],
        json!({"NAME": "Preparing documents", "SORT": 20, "STATUS_ID": "C1:PREPARATION"})
    );
}

#[tokio::test]
async fn stage_rows_carry_extra_semantics() {
    let app = TestApp::spawn().await;
    let rows = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "DEAL_STAGE"}, "order": {"SORT": "ASC"}}),
        )
        .await;
    let sem: Vec<(Value, Value)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["SEMANTICS"].clone(), r["EXTRA"]["SEMANTICS"].clone()))
        .collect();
    assert_eq!(
        sem,
        [
            (Value::Null, json!("process")),
            (Value::Null, json!("process")),
            (Value::Null, json!("process")),
            (Value::Null, json!("process")),
            (Value::Null, json!("process")),
            (json!("S"), json!("success")),
            (json!("F"), json!("failure")),
            (json!("F"), json!("apology")),
        ]
    );
    assert_eq!(rows[0]["EXTRA"]["COLOR"], "#39A8EF");
    let sources = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "SOURCE"}}),
        )
        .await;
    assert!(sources[0].get("EXTRA").is_none(), "{}", sources[0]);
    let fields = app.ok("crm.status.fields", json!({})).await;
    assert_eq!(fields["EXTRA"]["type"], "crm_status_extra");
}

#[tokio::test]
async fn categories_list_get_update_and_delete() {
    let app = TestApp::spawn().await;
    for name in ["B", "A"] {
        app.ok(
            "crm.category.add",
            json!({"entityTypeId": 2, "fields": {"name": name}}),
        )
        .await;
    }
    let (status, body) = app
        .call("crm.category.list", json!({"entityTypeId": 2}))
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["result"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["General", "B", "A"]);
    assert_eq!(body["total"], 3);
    assert_eq!(
        app.ok("crm.category.get", json!({"entityTypeId": 2, "id": 0}))
            .await,
        json!({"category": {"id": 0, "name": "General", "sort": 0, "entityTypeId": 2,
                            "isDefault": "Y"}})
    );
    let updated = app
        .ok(
            "crm.category.update",
            json!({"entityTypeId": 2, "id": 2, "fields": {"name": "Renamed", "sort": 5}}),
        )
        .await;
    assert_eq!(updated["category"]["name"], "Renamed");
    assert_error(
        &app.call("crm.category.get", json!({"entityTypeId": 2, "id": 7}))
            .await,
        400,
        "NOT_FOUND",
        "Element not found",
    );
    assert_error(
        &app.call("crm.category.list", json!({"entityTypeId": 1234}))
            .await,
        400,
        "NOT_FOUND",
        "Smart process not found",
    );
    assert_error(
        &app.call(
            "crm.category.add",
            json!({"entityTypeId": 2, "fields": {"sort": 1}}),
        )
        .await,
        400,
        "0",
        "Field 'NAME' is required",
    );
    // A category with deals stays; without them it goes with its stages.
    let id = app
        .ok("crm.deal.add", json!({"fields": {"CATEGORY_ID": 1}}))
        .await;
    assert_error(
        &app.call("crm.category.delete", json!({"entityTypeId": 2, "id": 1}))
            .await,
        400,
        "0",
        "Deals related to the funnel `B` found",
    );
    assert_error(
        &app.call("crm.category.delete", json!({"entityTypeId": 2, "id": 0}))
            .await,
        400,
        "0",
        "Default deal category cannot be deleted",
    );
    app.ok("crm.deal.delete", json!({"id": id})).await;
    let (status, body) = app
        .call("crm.category.delete", json!({"entityTypeId": 2, "id": 1}))
        .await;
    assert_eq!((status, &body["result"]), (200, &Value::Null), "{body}");
    assert_eq!(
        app.ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "DEAL_STAGE_1"}})
        )
        .await,
        json!([])
    );
}

#[tokio::test]
async fn the_older_dealcategory_methods() {
    let app = TestApp::spawn().await;
    let id = app
        .ok(
            "crm.dealcategory.add",
            json!({"fields": {"NAME": "Retail", "SORT": 10}}),
        )
        .await;
    assert_eq!(id, json!(1));
    let got = app.ok("crm.dealcategory.get", json!({"id": 1})).await;
    assert_eq!(
        (&got["NAME"], &got["SORT"]),
        (&json!("Retail"), &json!("10"))
    );
    assert_eq!(
        app.ok(
            "crm.dealcategory.update",
            json!({"id": 1, "fields": {"NAME": "Shops"}})
        )
        .await,
        json!(true)
    );
    let (_, list) = app.call("crm.dealcategory.list", json!({})).await;
    assert_eq!(list["total"], 1, "the default category is not listed");
    assert_eq!(list["result"][0]["NAME"], "Shops");
    assert_eq!(
        app.ok("crm.dealcategory.status", json!({"id": 1})).await,
        "DEAL_STAGE_1"
    );
    assert_eq!(
        app.ok("crm.dealcategory.status", json!({"id": 0})).await,
        "DEAL_STAGE"
    );
    assert_eq!(
        app.ok("crm.dealcategory.default.get", json!({})).await,
        json!({"ID": 0, "NAME": "General"})
    );
    app.ok("crm.dealcategory.default.set", json!({"NAME": "Main"}))
        .await;
    assert_eq!(
        app.ok("crm.dealcategory.default.get", json!({})).await["NAME"],
        "Main"
    );
    assert_error(
        &app.call("crm.dealcategory.get", json!({"id": 5})).await,
        400,
        "",
        "Not found",
    );
    assert_error(
        &app.call("crm.dealcategory.add", json!({"fields": {"SORT": 1}}))
            .await,
        400,
        "",
        "Field 'NAME' is required.",
    );
    assert_eq!(
        app.ok("crm.dealcategory.delete", json!({"id": 1})).await,
        json!(true)
    );
    let fields = app.ok("crm.dealcategory.fields", json!({})).await;
    assert_eq!(fields["NAME"]["isRequired"], true);
}

/// The error answers of the reference-list, category and universal methods not shown
/// elsewhere: missing rows, wrong entity types, missing arguments, and callers who are
/// not administrators.
#[tokio::test]
async fn every_error_of_the_list_and_category_methods() {
    let app = TestApp::spawn().await;
    app.ok("crm.dealcategory.add", json!({"fields": {"NAME": "Busy"}}))
        .await;
    app.ok("crm.deal.add", json!({"fields": {"CATEGORY_ID": 1}}))
        .await;
    for (method, params, code, text) in [
        (
            "crm.status.update",
            json!({"id": 9999, "fields": {"NAME": "x"}}),
            "",
            "Status is not found.",
        ),
        (
            "crm.status.delete",
            json!({"id": 9999}),
            "",
            "Status is not found.",
        ),
        (
            "crm.status.entity.items",
            json!({}),
            "",
            "The parameter entityId is not defined or invalid.",
        ),
        (
            "crm.category.add",
            json!({"entityTypeId": 1, "fields": {"name": "x"}}),
            "ENTITY_TYPE_NOT_SUPPORTED",
            "Entity type is not supported",
        ),
        (
            "crm.dealcategory.update",
            json!({"id": 77, "fields": {"NAME": "x"}}),
            "",
            "Not found.",
        ),
        (
            "crm.dealcategory.delete",
            json!({"id": 77}),
            "",
            "Not found.",
        ),
        (
            "crm.dealcategory.delete",
            json!({"id": 1}),
            "",
            "Found \"Busy\" pipeline deals",
        ),
        (
            "crm.dealcategory.get",
            json!({"id": 0}),
            "",
            "ID is not defined or invalid.",
        ),
        (
            "crm.item.get",
            json!({"id": 1}),
            "REQUIRED_ARG_MISSING",
            "Argument 'entityTypeId' is required",
        ),
        (
            "crm.item.get",
            json!({"entityTypeId": 2, "id": 0}),
            "NOT_FOUND",
            "Element not found",
        ),
        (
            "crm.item.delete",
            json!({"entityTypeId": 2, "id": 50}),
            "NOT_FOUND",
            "Element not found",
        ),
    ] {
        assert_error(&app.call(method, params.clone()).await, 400, code, text);
    }
    // A user who is not an administrator changes no list and no category.
    let user = crm_core::identity::User {
        id: 0,
        name: "Sam".into(),
        last_name: String::new(),
        email: String::new(),
        admin: false,
        active: true,
        departments: vec![crm_core::identity::ROOT_DEPARTMENT],
        registered_at: 0,
    };
    let (_, hook) = crate::permissions::user_with_hook(&app, user).await;
    let call = |method: &'static str, params: Value| {
        let (client, url) = (app.client.clone(), format!("{hook}{method}"));
        async move { crate::helpers::read(client.post(url).json(&params).send().await.unwrap()).await }
    };
    for (method, params) in [
        (
            "crm.status.add",
            json!({"fields": {"ENTITY_ID": "SOURCE", "STATUS_ID": "X"}}),
        ),
        (
            "crm.status.update",
            json!({"id": 1, "fields": {"NAME": "x"}}),
        ),
        ("crm.status.delete", json!({"id": 1})),
        ("crm.dealcategory.add", json!({"fields": {"NAME": "x"}})),
        ("crm.dealcategory.default.set", json!({"name": "x"})),
    ] {
        assert_error(&call(method, params).await, 400, "", "Access denied.");
    }
    assert_error(
        &call(
            "crm.category.add",
            json!({"entityTypeId": 2, "fields": {"name": "x"}}),
        )
        .await,
        400,
        "ACCESS_DENIED",
        "Access denied",
    );
    // Reading is open to the crm scope.
    let (status, _) = call("crm.status.list", json!({})).await;
    assert_eq!(status, 200);
}
