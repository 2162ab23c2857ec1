//! Smart processes over HTTP: `crm.type.*`, their categories and stage lists, and their
//! items through `crm.item.*`.

use crate::helpers::{TestApp, assert_error};
use serde_json::{Value, json};

async fn add_type(app: &TestApp, fields: Value) -> Value {
    app.ok("crm.type.add", json!({ "fields": fields })).await["type"].clone()
}

fn ids(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["id"].as_i64().expect("an id"))
        .collect()
}

#[tokio::test]
async fn types_are_added_read_listed_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let orders = add_type(
        &app,
        json!({"title": "Orders", "isCategoriesEnabled": "Y", "isStagesEnabled": "Y",
               "isClientEnabled": "Y"}),
    )
    .await;
    assert_eq!(orders["id"], 1);
    assert_eq!(orders["entityTypeId"], 1030, "the first automatic id");
    assert_eq!(orders["title"], "Orders");
    assert_eq!(orders["isCategoriesEnabled"], "Y");
    assert_eq!(orders["isRecyclebinEnabled"], "N");
    assert_eq!(orders["createdBy"], 1);
    let second = add_type(&app, json!({"title": "Trips"})).await;
    assert_eq!(second["entityTypeId"], 1032, "the next even number");
    let chosen = add_type(&app, json!({"title": "Legacy", "entityTypeId": 150})).await;
    assert_eq!(chosen["entityTypeId"], 150);
    for (fields, code, text) in [
        (
            json!({"title": "Odd", "entityTypeId": 1031}),
            "INVALID_ARG_VALUE",
            "entityTypeId is out of allowed range",
        ),
        (
            json!({"isStagesEnabled": "Y"}),
            "0",
            "Field 'TITLE' is required",
        ),
    ] {
        assert_error(
            &app.call("crm.type.add", json!({ "fields": fields })).await,
            400,
            code,
            text,
        );
    }
    assert_error(
        &app.call(
            "crm.type.add",
            json!({"fields": {"title": "Again", "entityTypeId": 150}}),
        )
        .await,
        400,
        "",
        "A smart process with entityTypeId 150 already exists",
    );
    // Read by id and by entityTypeId; list with a filter, an order and paging.
    let got = app.ok("crm.type.get", json!({"id": 2})).await;
    assert_eq!(got["type"]["title"], "Trips");
    let got = app
        .ok("crm.type.getByEntityTypeId", json!({"entityTypeId": 150}))
        .await;
    assert_eq!(got["type"]["id"], 3);
    assert_error(
        &app.call("crm.type.get", json!({"id": 99})).await,
        400,
        "NOT_FOUND",
        "Smart process not found",
    );
    let (status, body) = app
        .call("crm.type.list", json!({"order": {"entityTypeId": "DESC"}}))
        .await;
    assert_eq!(status, 200);
    let etids: Vec<i64> = body["result"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["entityTypeId"].as_i64().unwrap())
        .collect();
    assert_eq!(etids, [1032, 1030, 150]);
    assert_eq!(body["total"], 3);
    let got = app
        .ok("crm.type.list", json!({"filter": {"title": "Orders"}}))
        .await;
    assert_eq!(got["types"].as_array().unwrap().len(), 1);
    // Update: the title and flags, never the entityTypeId.
    let got = app
        .ok(
            "crm.type.update",
            json!({"id": 2, "fields": {"title": "Journeys", "isSourceEnabled": "Y",
                   "entityTypeId": 2000}}),
        )
        .await;
    assert_eq!(
        (
            &got["type"]["title"],
            &got["type"]["isSourceEnabled"],
            &got["type"]["entityTypeId"]
        ),
        (&json!("Journeys"), &json!("Y"), &json!(1032))
    );
    // A type with items is kept; an empty one goes with its pipelines.
    app.ok(
        "crm.item.add",
        json!({"entityTypeId": 1032, "fields": {"title": "x"}}),
    )
    .await;
    assert_error(
        &app.call("crm.type.delete", json!({"id": 2})).await,
        400,
        "CANNOT_DELETE",
        "The smart process has items; delete them first",
    );
    app.ok("crm.item.delete", json!({"entityTypeId": 1032, "id": 1}))
        .await;
    assert_eq!(
        app.ok("crm.type.delete", json!({"id": 2})).await,
        Value::Null
    );
    assert_error(
        &app.call("crm.item.list", json!({"entityTypeId": 1032}))
            .await,
        400,
        "NOT_FOUND",
        "Smart process not found",
    );
    let lists = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": "DYNAMIC_1032_STAGE_2"}}),
        )
        .await;
    assert_eq!(lists, json!([]), "its stages are gone");
}

#[tokio::test]
async fn items_move_through_the_stages_of_their_category() {
    let app = TestApp::spawn().await;
    let t = add_type(&app, json!({"title": "Orders", "isCategoriesEnabled": "Y"})).await;
    let etid = t["entityTypeId"].as_i64().unwrap();
    // The default category and its stages come with the type.
    let got = app
        .ok("crm.category.list", json!({"entityTypeId": etid}))
        .await;
    let default = &got["categories"][0];
    assert_eq!(default["isDefault"], "Y");
    let first = default["id"].as_i64().unwrap();
    let list = format!("DYNAMIC_{etid}_STAGE_{first}");
    let stages = app
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": list}, "order": {"SORT": "ASC"}}),
        )
        .await;
    let codes: Vec<&str> = stages
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["STATUS_ID"].as_str().unwrap())
        .collect();
    let prefix = format!("DT{etid}_{first}:");
    assert_eq!(
        codes,
        ["NEW", "PREPARATION", "CLIENT", "SUCCESS", "FAIL"].map(|c| format!("{prefix}{c}"))
    );
    // A second category with its own stages; a stage added to it gets its prefix.
    let second = app
        .ok(
            "crm.category.add",
            json!({"entityTypeId": etid, "fields": {"name": "Wholesale", "sort": 10}}),
        )
        .await["category"]["id"]
        .as_i64()
        .unwrap();
    let second_list = format!("DYNAMIC_{etid}_STAGE_{second}");
    app.ok(
        "crm.status.add",
        json!({"fields": {"ENTITY_ID": second_list, "STATUS_ID": "CHECK", "NAME": "Check", "SORT": 15}}),
    )
    .await;
    let check = format!("DT{etid}_{second}:CHECK");
    // Items: in the default category unless they name one.
    app.ok("crm.contact.add", json!({"fields": {"NAME": "Ann"}}))
        .await;
    let a = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": etid, "fields": {"title": "A", "opportunity": 10,
                   "contactIds": [1]}}),
        )
        .await["item"]
        .clone();
    assert_eq!(a["categoryId"], first);
    assert_eq!(a["stageId"], format!("{prefix}NEW"));
    assert_eq!(a["contactIds"], json!([1]));
    assert_eq!(a["entityTypeId"], etid);
    let b = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": etid, "fields": {"title": "B", "opportunity": 500,
                   "categoryId": second, "stageId": check}}),
        )
        .await["item"]
        .clone();
    assert_eq!(
        (&b["categoryId"], &b["stageId"]),
        (&json!(second), &json!(check))
    );
    // A stage of another category is refused.
    assert_error(
        &app.call(
            "crm.item.update",
            json!({"entityTypeId": etid, "id": 1, "fields": {"stageId": check}}),
        )
        .await,
        400,
        "",
        "Unknown stage",
    );
    // Moves: the previous stage is kept, a final stage is reached.
    let moved = app
        .ok(
            "crm.item.update",
            json!({"entityTypeId": etid, "id": 1, "fields": {"stageId": format!("{prefix}SUCCESS")}}),
        )
        .await;
    assert_eq!(moved["item"]["previousStageId"], format!("{prefix}NEW"));
    assert_eq!(moved["item"]["stageId"], format!("{prefix}SUCCESS"));
    // Lists: filters on the stage and amount, and paging without a count.
    for n in 0..60 {
        app.ok(
            "crm.item.add",
            json!({"entityTypeId": etid, "fields": {"title": format!("bulk {n}"), "opportunity": n}}),
        )
        .await;
    }
    let (status, body) = app
        .call(
            "crm.item.list",
            json!({"entityTypeId": etid, "filter": {"stageId": format!("{prefix}SUCCESS")},
                   "select": ["id", "stageId"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body["result"]["items"]), [1]);
    assert_eq!(body["total"], 1);
    let (_, body) = app
        .call(
            "crm.item.list",
            json!({"entityTypeId": etid, "filter": {">=opportunity": 10, "categoryId": first},
                   "order": {"id": "ASC"}, "start": -1}),
        )
        .await;
    let page = ids(&body["result"]["items"]);
    assert_eq!(page.len(), 50);
    assert_eq!(page[0], 1);
    assert!(body.get("next").is_none(), "no next page without a count");
    assert_eq!(body["total"], 0, "no count");
    let last = *page.last().unwrap();
    let (_, body) = app
        .call(
            "crm.item.list",
            json!({"entityTypeId": etid, "filter": {">=opportunity": 10, "categoryId": first,
                   ">id": last}, "order": {"id": "ASC"}, "start": -1}),
        )
        .await;
    assert_eq!(
        ids(&body["result"]["items"]).len(),
        1,
        "51 in all: A and bulk 10–59"
    );
    // The category with items cannot be deleted; the contact's deletion unbinds it.
    assert_error(
        &app.call(
            "crm.category.delete",
            json!({"entityTypeId": etid, "id": second}),
        )
        .await,
        400,
        "0",
        "Items related to the category `Wholesale` found",
    );
    app.ok("crm.contact.delete", json!({"id": 1})).await;
    let got = app
        .ok("crm.item.get", json!({"entityTypeId": etid, "id": 1}))
        .await;
    assert_eq!(got["item"]["contactIds"], json!([]));
    assert_eq!(got["item"]["contactId"], Value::Null);
    // The universal fields of a smart process.
    let fields = app
        .ok("crm.item.fields", json!({"entityTypeId": etid}))
        .await;
    for name in [
        "title",
        "stageId",
        "categoryId",
        "previousStageId",
        "contactIds",
        "mycompanyId",
    ] {
        assert!(fields["fields"].get(name).is_some(), "{name}");
    }
    assert!(fields["fields"].get("stageSemanticId").is_none());
}

#[tokio::test]
async fn roles_grant_rights_on_a_smart_process_by_its_code() {
    use crate::permissions::{person, user_with_hook};
    use crm_core::identity::Grant;
    let app = TestApp::spawn().await;
    add_type(&app, json!({"title": "Orders"})).await;
    app.ok(
        "crm.item.add",
        json!({"entityTypeId": 1030, "fields": {"title": "x"}}),
    )
    .await;
    let user = person("Ann", 1);
    let (ann, hook) = user_with_hook(&app, user).await;
    let client = reqwest::Client::new();
    let call = |method: &str, params: Value| {
        let request = client.post(format!("{hook}{method}")).json(&params);
        async move {
            let res = request.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let list = json!({"entityTypeId": 1030});
    assert_error(
        &call("crm.item.list", list.clone()).await,
        400,
        "ACCESS_DENIED",
        "Access denied",
    );
    let store = &app.services.store;
    let grant = Grant::parse("dynamic_1030.read=all").expect("a grant on the smart process");
    store
        .create_role("Orders readers".into(), vec![grant])
        .await
        .unwrap();
    store
        .assign_role("Orders readers".into(), ann)
        .await
        .unwrap();
    let (status, body) = call("crm.item.list", list).await;
    assert_eq!((status, body["total"].clone()), (200, json!(1)), "{body}");
    assert_error(
        &call(
            "crm.item.add",
            json!({"entityTypeId": 1030, "fields": {"title": "y"}}),
        )
        .await,
        400,
        "ACCESS_DENIED",
        "Access denied",
    );
    // Only administrators define smart processes.
    assert_error(
        &call("crm.type.add", json!({"fields": {"title": "Mine"}})).await,
        400,
        "ACCESS_DENIED",
        "Access denied",
    );
}

#[tokio::test]
async fn user_fields_of_a_smart_process_through_userfieldconfig() {
    let app = TestApp::spawn().await;
    let t = add_type(&app, json!({"title": "Orders"})).await;
    let (type_id, etid) = (
        t["id"].as_i64().unwrap(),
        t["entityTypeId"].as_i64().unwrap(),
    );
    let owner = format!("CRM_{type_id}");
    let size = app
        .ok(
            "userfieldconfig.add",
            json!({"moduleId": "crm", "field": {"entityId": owner,
                   "fieldName": format!("UF_CRM_{type_id}_BOX_SIZE"), "userTypeId": "integer",
                   "editFormLabel": {"en": "Box size"}, "mandatory": "N"}}),
        )
        .await["field"]
        .clone();
    assert_eq!(size["entityId"], owner.as_str());
    assert_eq!(size["userTypeId"], "integer");
    assert_eq!(size["editFormLabel"]["en"], "Box size");
    let kind = app
        .ok(
            "userfieldconfig.add",
            json!({"moduleId": "crm", "field": {"entityId": owner,
                   "fieldName": format!("UF_CRM_{type_id}_KIND"), "userTypeId": "enumeration",
                   "multiple": "Y",
                   "enum": [{"value": "Fragile", "sort": 10}, {"value": "Cold", "sort": 20, "def": "Y"}]}}),
        )
        .await["field"]
        .clone();
    let fragile: i64 = kind["enum"][0]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(kind["enum"][1]["def"], "Y");
    // The name must carry the type's prefix; the module must be the CRM's.
    assert_error(
        &app.call(
            "userfieldconfig.add",
            json!({"moduleId": "crm", "field": {"entityId": owner, "fieldName": "UF_CRM_X",
                   "userTypeId": "string"}}),
        )
        .await,
        400,
        "",
        &format!("Invalid field name 'UF_CRM_X': it must start with UF_CRM_{type_id}_."),
    );
    assert_error(
        &app.call("userfieldconfig.get", json!({"moduleId": "tasks", "id": 1}))
            .await,
        400,
        "",
        "No settings for UserFieldAccess",
    );
    // Values through crm.item.*, under ufCrm<type id>… names.
    let size_name = format!("ufCrm{type_id}BoxSize");
    let kind_name = format!("ufCrm{type_id}Kind");
    let fields = app
        .ok("crm.item.fields", json!({"entityTypeId": etid}))
        .await;
    assert_eq!(fields["fields"][&size_name]["isDynamic"], true);
    assert_eq!(
        fields["fields"][&size_name]["upperName"],
        format!("UF_CRM_{type_id}_BOX_SIZE")
    );
    let a = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": etid, "fields": {"title": "A", size_name.clone(): 40,
                   kind_name.clone(): [fragile]}}),
        )
        .await["item"]
        .clone();
    assert_eq!(
        (&a[&size_name], &a[&kind_name]),
        (&json!(40), &json!([fragile]))
    );
    let b = app
        .ok(
            "crm.item.add",
            json!({"entityTypeId": etid, "fields": {"title": "B", size_name.clone(): 7}}),
        )
        .await["item"]
        .clone();
    assert_eq!(
        b[&kind_name].as_array().unwrap().len(),
        1,
        "the list's default"
    );
    let got = app
        .ok(
            "crm.item.list",
            json!({"entityTypeId": etid, "filter": {format!(">{size_name}"): 10},
                   "select": ["id", size_name.clone()], "order": {size_name.clone(): "DESC"}}),
        )
        .await;
    assert_eq!(
        got["items"],
        json!([{"id": a["id"], size_name.clone(): 40}])
    );
    // userfieldconfig.list by owner; update; delete takes the values.
    let (status, body) = app
        .call(
            "userfieldconfig.list",
            json!({"moduleId": "crm", "filter": {"entityId": owner}, "order": {"id": "DESC"}}),
        )
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["result"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fieldName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("UF_CRM_{type_id}_KIND"),
            format!("UF_CRM_{type_id}_BOX_SIZE")
        ]
    );
    let id = size["id"].as_str().unwrap().parse::<i64>().unwrap();
    let updated = app
        .ok(
            "userfieldconfig.update",
            json!({"moduleId": "crm", "id": id, "field": {"editFormLabel": {"en": "Size"}}}),
        )
        .await;
    assert_eq!(updated["field"]["editFormLabel"]["en"], "Size");
    assert_eq!(
        app.ok(
            "userfieldconfig.delete",
            json!({"moduleId": "crm", "id": id})
        )
        .await,
        Value::Null
    );
    let got = app
        .ok("crm.item.get", json!({"entityTypeId": etid, "id": a["id"]}))
        .await;
    assert!(got["item"].get(&size_name).is_none());
    assert_error(
        &app.call("userfieldconfig.get", json!({"moduleId": "crm", "id": id}))
            .await,
        400,
        "",
        "You cannot read the custom field",
    );
    // The smart process's fields go with it.
    for item in [&a, &b] {
        app.ok(
            "crm.item.delete",
            json!({"entityTypeId": etid, "id": item["id"]}),
        )
        .await;
    }
    app.ok("crm.type.delete", json!({"id": type_id})).await;
    let got = app
        .ok(
            "userfieldconfig.list",
            json!({"moduleId": "crm", "filter": {"entityId": owner}}),
        )
        .await;
    assert_eq!(got["fields"], json!([]));
}
