//! User fields over HTTP: `crm.<entity>.userfield.*`, and their values through the
//! classic methods and `crm.item.*` alike.

use crate::helpers::{TestApp, assert_error};
use crate::permissions::{person, user_with_hook};
use serde_json::{Value, json};

/// Creates a lead user field; returns its id.
async fn add_field(app: &TestApp, fields: Value) -> i64 {
    app.ok("crm.lead.userfield.add", json!({ "fields": fields }))
        .await
        .as_i64()
        .expect("an id")
}

/// One row of the table: a type, a low and a high value as sent, and how each reads back
/// through the classic methods and through `crm.item.*`.
struct Case {
    ty: &'static str,
    low: Value,
    high: Value,
    classic: (Value, Value),
    item: (Value, Value),
}

fn cases() -> Vec<Case> {
    let same = |a: Value, b: Value| (a.clone(), b.clone(), (a.clone(), b.clone()), (a, b));
    let row =
        |ty, (low, high, classic, item): (Value, Value, (Value, Value), (Value, Value))| Case {
            ty,
            low,
            high,
            classic,
            item,
        };
    vec![
        row("string", same(json!("alpha"), json!("beta"))),
        row(
            "integer",
            (
                json!(5),
                json!(12),
                (json!("5"), json!("12")),
                (json!(5), json!(12)),
            ),
        ),
        row(
            "double",
            (
                json!("2.5"),
                json!(10.25),
                (json!("2.5"), json!("10.25")),
                (json!(2.5), json!(10.25)),
            ),
        ),
        row(
            "boolean",
            (
                json!("N"),
                json!("Y"),
                (json!("0"), json!("1")),
                (json!(false), json!(true)),
            ),
        ),
        row(
            "date",
            (
                json!("2024-01-05"),
                json!("20.11.2024"),
                (
                    json!("2024-01-05T00:00:00+00:00"),
                    json!("2024-11-20T00:00:00+00:00"),
                ),
                (
                    json!("2024-01-05T00:00:00+00:00"),
                    json!("2024-11-20T00:00:00+00:00"),
                ),
            ),
        ),
        row(
            "datetime",
            (
                json!("2024-01-05T10:00:00+02:00"),
                json!("2024-11-20 08:30:00"),
                (
                    json!("2024-01-05T08:00:00+00:00"),
                    json!("2024-11-20T08:30:00+00:00"),
                ),
                (
                    json!("2024-01-05T08:00:00+00:00"),
                    json!("2024-11-20T08:30:00+00:00"),
                ),
            ),
        ),
        // Enumeration values are list item ids: filled in once the list exists.
        row("enumeration", same(Value::Null, Value::Null)),
        row(
            "url",
            same(json!("https://a.test/x"), json!("https://b.test/y")),
        ),
        row(
            "money",
            (
                json!("10|USD"),
                json!("200.5|EUR"),
                (json!("10.00|USD"), json!("200.50|EUR")),
                (json!("10.00|USD"), json!("200.50|EUR")),
            ),
        ),
        row(
            "employee",
            (
                json!(1),
                json!("2"),
                (json!("1"), json!("2")),
                (json!(1), json!(2)),
            ),
        ),
        row("crm", same(json!("C_1"), json!("C_2"))),
    ]
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            r.get("ID")
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
                .or_else(|| r["id"].as_i64())
                .expect("an id")
        })
        .collect()
}

#[tokio::test]
async fn every_type_reads_back_alike_through_both_apis_and_filters_and_sorts() {
    let app = TestApp::spawn().await;
    for (n, mut case) in cases().into_iter().enumerate() {
        let name = format!("UF_CRM_T{n}");
        let camel = format!("ufCrmT{n}");
        let mut def = json!({"FIELD_NAME": format!("T{n}"), "USER_TYPE_ID": case.ty,
                             "EDIT_FORM_LABEL": format!("Type {}", case.ty)});
        if case.ty == "enumeration" {
            def["LIST"] = json!([{"VALUE": "Low", "SORT": 10}, {"VALUE": "High", "SORT": 20}]);
        }
        let id = add_field(&app, def).await;
        if case.ty == "enumeration" {
            let got = app.ok("crm.lead.userfield.get", json!({"id": id})).await;
            let list = got["LIST"].as_array().unwrap();
            assert_eq!(list[0]["VALUE"], "Low");
            let low: i64 = list[0]["ID"].as_str().unwrap().parse().unwrap();
            let high: i64 = list[1]["ID"].as_str().unwrap().parse().unwrap();
            case.low = json!(low);
            case.high = json!(high.to_string());
            case.classic = (json!(low.to_string()), json!(high.to_string()));
            case.item = (json!(low), json!(high));
        }
        // The low value through the classic API, the high one through the universal one.
        let a = app
            .ok(
                "crm.lead.add",
                json!({"fields": {"TITLE": format!("{} low", case.ty), name.clone(): case.low}}),
            )
            .await
            .as_i64()
            .unwrap();
        let b = app
            .ok(
                "crm.item.add",
                json!({"entityTypeId": 1,
                       "fields": {"title": format!("{} high", case.ty), camel.clone(): case.high}}),
            )
            .await["item"]["id"]
            .as_i64()
            .unwrap();
        for (lead, classic, item) in [
            (a, &case.classic.0, &case.item.0),
            (b, &case.classic.1, &case.item.1),
        ] {
            let got = app.ok("crm.lead.get", json!({"id": lead})).await;
            assert_eq!(&got[&name], classic, "{} crm.lead.get", case.ty);
            let got = app
                .ok("crm.item.get", json!({"entityTypeId": 1, "id": lead}))
                .await;
            assert_eq!(&got["item"][&camel], item, "{} crm.item.get", case.ty);
        }
        // Filtered on the high value, in both list methods.
        let both = json!([a, b]);
        let got = app
            .ok(
                "crm.lead.list",
                json!({"filter": {"@ID": both, name.clone(): case.high}, "select": ["ID", name.clone()]}),
            )
            .await;
        assert_eq!(ids(&got), [b], "{} crm.lead.list filter", case.ty);
        assert_eq!(&got[0][&name], &case.classic.1, "{}", case.ty);
        let got = app
            .ok(
                "crm.item.list",
                json!({"entityTypeId": 1, "filter": {"@id": both, camel.clone(): case.high},
                       "select": ["id", camel.clone()]}),
            )
            .await;
        assert_eq!(ids(&got["items"]), [b], "{} crm.item.list filter", case.ty);
        assert_eq!(&got["items"][0][&camel], &case.item.1, "{}", case.ty);
        // Ordered by the field, both ways, in both list methods.
        for (dir, want) in [("DESC", [b, a]), ("ASC", [a, b])] {
            let got = app
                .ok(
                    "crm.lead.list",
                    json!({"filter": {"@ID": both}, "order": {name.clone(): dir}}),
                )
                .await;
            assert_eq!(ids(&got), want, "{} crm.lead.list order {dir}", case.ty);
            let got = app
                .ok(
                    "crm.item.list",
                    json!({"entityTypeId": 1, "filter": {"@id": both}, "order": {camel.clone(): dir}}),
                )
                .await;
            assert_eq!(
                ids(&got["items"]),
                want,
                "{} crm.item.list order {dir}",
                case.ty
            );
        }
    }
    // `*.fields` lists each one after the standard fields, dynamic and labelled.
    let fields = app.ok("crm.lead.fields", json!({})).await;
    let names: Vec<&String> = fields.as_object().unwrap().keys().collect();
    let first_uf = names.iter().position(|n| n.starts_with("UF_")).unwrap();
    assert!(names[first_uf..].iter().all(|n| n.starts_with("UF_CRM_T")));
    assert_eq!(names.len() - first_uf, cases().len());
    let string = &fields["UF_CRM_T0"];
    assert_eq!(
        (
            &string["type"],
            &string["isDynamic"],
            &string["formLabel"],
            &string["title"]
        ),
        (
            &json!("string"),
            &json!(true),
            &json!("Type string"),
            &json!("UF_CRM_T0")
        )
    );
    assert_eq!(fields["UF_CRM_T6"]["items"][1]["VALUE"], "High");
    let item_fields = app.ok("crm.item.fields", json!({"entityTypeId": 1})).await;
    assert_eq!(item_fields["fields"]["ufCrmT3"]["upperName"], "UF_CRM_T3");
    assert_eq!(item_fields["fields"]["ufCrmT3"]["type"], "boolean");
}

#[tokio::test]
async fn definitions_are_added_read_listed_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let id = add_field(
        &app,
        json!({"FIELD_NAME": "source_url", "USER_TYPE_ID": "url", "SORT": 50, "MANDATORY": "N",
               "EDIT_FORM_LABEL": {"en": "Source", "de": "Quelle"}, "SETTINGS": {"SIZE": 40}}),
    )
    .await;
    let got = app.ok("crm.lead.userfield.get", json!({"id": id})).await;
    assert_eq!(got["FIELD_NAME"], "UF_CRM_SOURCE_URL");
    assert_eq!(got["ENTITY_ID"], "CRM_LEAD");
    assert_eq!(got["ID"], id.to_string());
    assert_eq!(got["SORT"], "50");
    assert_eq!(got["MULTIPLE"], "N");
    assert_eq!(
        got["EDIT_FORM_LABEL"],
        json!({"en": "Source", "de": "Quelle"})
    );
    assert_eq!(got["SETTINGS"]["SIZE"], 40);
    assert_eq!(got["SETTINGS"]["POPUP"], "Y", "the type's defaults stay");
    // Errors in the portal's words.
    for (fields, text) in [
        (
            json!({"FIELD_NAME": "X"}),
            "The 'USER_TYPE_ID' field is not specified.",
        ),
        (
            json!({"USER_TYPE_ID": "string"}),
            "The 'FIELD_NAME' field is not specified.",
        ),
        (
            json!({"FIELD_NAME": "source_url", "USER_TYPE_ID": "string"}),
            "A field named 'UF_CRM_SOURCE_URL' already exists for entity 'CRM_LEAD'.",
        ),
    ] {
        assert_error(
            &app.call("crm.lead.userfield.add", json!({ "fields": fields }))
                .await,
            400,
            "",
            text,
        );
    }
    // Each entity has its own fields: the same name on deals is another field.
    let deal_field = app
        .ok(
            "crm.deal.userfield.add",
            json!({"fields": {"FIELD_NAME": "SOURCE_URL", "USER_TYPE_ID": "string"}}),
        )
        .await
        .as_i64()
        .unwrap();
    assert_error(
        &app.call("crm.lead.userfield.get", json!({"id": deal_field}))
            .await,
        400,
        "",
        &format!("The entity with ID '{deal_field}' is not found."),
    );
    assert_error(
        &app.call("crm.lead.userfield.get", json!({"id": 0})).await,
        400,
        "",
        "ID is not defined or invalid.",
    );
    // Update: labels and flags change; name, type and multiplicity do not.
    assert_eq!(
        app.ok(
            "crm.lead.userfield.update",
            json!({"id": id, "fields": {"EDIT_FORM_LABEL": "Origin", "USER_TYPE_ID": "string",
                   "FIELD_NAME": "UF_CRM_OTHER", "MULTIPLE": "Y", "MANDATORY": "Y"}}),
        )
        .await,
        true
    );
    let got = app.ok("crm.lead.userfield.get", json!({"id": id})).await;
    assert_eq!(
        (
            &got["EDIT_FORM_LABEL"]["en"],
            &got["USER_TYPE_ID"],
            &got["FIELD_NAME"]
        ),
        (&json!("Origin"), &json!("url"), &json!("UF_CRM_SOURCE_URL"))
    );
    assert_eq!(
        (&got["MULTIPLE"], &got["MANDATORY"]),
        (&json!("N"), &json!("Y"))
    );
    // A mandatory field must be given on add, and cannot be emptied.
    assert_error(
        &app.call("crm.lead.add", json!({"fields": {"TITLE": "x"}}))
            .await,
        400,
        "",
        "The field \"Origin\" is required.",
    );
    let lead = app
        .ok(
            "crm.lead.add",
            json!({"fields": {"TITLE": "x", "UF_CRM_SOURCE_URL": "https://s.test"}}),
        )
        .await;
    assert_error(
        &app.call(
            "crm.lead.update",
            json!({"id": lead, "fields": {"UF_CRM_SOURCE_URL": ""}}),
        )
        .await,
        400,
        "",
        "The field \"Origin\" is required.",
    );
    // List: filtered, in order, labels in one language on request.
    add_field(
        &app,
        json!({"FIELD_NAME": "A", "USER_TYPE_ID": "string", "SORT": 10}),
    )
    .await;
    let all = app.ok("crm.lead.userfield.list", json!({})).await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FIELD_NAME"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["UF_CRM_A", "UF_CRM_SOURCE_URL"], "by SORT");
    let got = app
        .ok(
            "crm.lead.userfield.list",
            json!({"filter": {"USER_TYPE_ID": "url", "LANG": "de"}, "order": {"ID": "DESC"}}),
        )
        .await;
    assert_eq!(got.as_array().unwrap().len(), 1);
    assert_eq!(
        got[0]["EDIT_FORM_LABEL"], "Origin",
        "plain text is every language's"
    );
    // Delete takes the values with it.
    assert_eq!(
        app.ok("crm.lead.userfield.delete", json!({"id": id})).await,
        true
    );
    let got = app.ok("crm.lead.get", json!({"id": lead})).await;
    assert!(got.get("UF_CRM_SOURCE_URL").is_none());
    assert_error(
        &app.call("crm.lead.userfield.delete", json!({"id": id}))
            .await,
        400,
        "",
        &format!("The entity with ID '{id}' is not found."),
    );
    // A field of the same name later starts empty.
    add_field(
        &app,
        json!({"FIELD_NAME": "SOURCE_URL", "USER_TYPE_ID": "url"}),
    )
    .await;
    let got = app.ok("crm.lead.get", json!({"id": lead})).await;
    assert_eq!(got["UF_CRM_SOURCE_URL"], Value::Null);
}

#[tokio::test]
async fn lists_and_multiple_values() {
    let app = TestApp::spawn().await;
    let id = add_field(
        &app,
        json!({"FIELD_NAME": "COLORS", "USER_TYPE_ID": "enumeration", "MULTIPLE": "Y",
               "LIST": [{"VALUE": "red", "DEF": "Y"}, {"VALUE": "green", "DEF": "Y"},
                        {"VALUE": "blue"}]}),
    )
    .await;
    let list = app.ok("crm.lead.userfield.get", json!({"id": id})).await["LIST"].clone();
    let item = |n: usize| list[n]["ID"].as_str().unwrap().to_string();
    let (red, green, blue) = (item(0), item(1), item(2));
    // Defaults apply to a new lead that gives no value.
    let first = app
        .ok("crm.lead.add", json!({"fields": {"TITLE": "d"}}))
        .await;
    let got = app.ok("crm.lead.get", json!({"id": first})).await;
    assert_eq!(got["UF_CRM_COLORS"], json!([red, green]));
    let second = app
        .ok(
            "crm.lead.add",
            json!({"fields": {"TITLE": "b", "UF_CRM_COLORS": [blue.clone()]}}),
        )
        .await;
    // A value outside the list is refused.
    assert_error(
        &app.call(
            "crm.lead.update",
            json!({"id": second, "fields": {"UF_CRM_COLORS": ["999999"]}}),
        )
        .await,
        400,
        "",
        "The field \"UF_CRM_COLORS\" has an invalid value.",
    );
    // A filter on a multiple field matches any of its values.
    let got = app
        .ok(
            "crm.lead.list",
            json!({"filter": {"UF_CRM_COLORS": green}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(ids(&got), [first.as_i64().unwrap()]);
    let got = app
        .ok(
            "crm.lead.list",
            json!({"filter": {"!UF_CRM_COLORS": green}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(ids(&got), [second.as_i64().unwrap()]);
    // The list is edited by item: removed, renamed, added.
    app.ok(
        "crm.lead.userfield.update",
        json!({"id": id, "fields": {"LIST": [{"ID": red, "DEL": "Y"}, {"ID": green, "VALUE": "lime"},
                                              {"VALUE": "black"}]}}),
    )
    .await;
    let got = app.ok("crm.lead.userfield.get", json!({"id": id})).await;
    let values: Vec<&str> = got["LIST"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["VALUE"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["lime", "blue", "black"]);
    // useOriginalUfNames keeps the classic names in the universal API.
    let got = app
        .ok(
            "crm.item.get",
            json!({"entityTypeId": 1, "id": second, "useOriginalUfNames": "Y"}),
        )
        .await;
    assert_eq!(
        got["item"]["UF_CRM_COLORS"],
        json!([blue.parse::<i64>().unwrap()])
    );
    assert!(got["item"].get("ufCrmColors").is_none());
}

#[tokio::test]
async fn only_administrators_change_definitions() {
    let app = TestApp::spawn().await;
    let id = add_field(&app, json!({"FIELD_NAME": "X", "USER_TYPE_ID": "string"})).await;
    let user = person("Ann", 1);
    let (_, hook) = user_with_hook(&app, user).await;
    let call = |method: &str, params: Value| {
        let url = format!("{hook}{method}");
        let client = reqwest::Client::new();
        async move {
            let res = client.post(url).json(&params).send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    for (method, params) in [
        (
            "crm.lead.userfield.add",
            json!({"fields": {"FIELD_NAME": "Y", "USER_TYPE_ID": "string"}}),
        ),
        (
            "crm.lead.userfield.update",
            json!({"id": id, "fields": {"SORT": 1}}),
        ),
        ("crm.lead.userfield.delete", json!({"id": id})),
    ] {
        assert_error(&call(method, params).await, 400, "", "Access denied.");
    }
    let (status, body) = call("crm.lead.userfield.get", json!({"id": id})).await;
    assert_eq!(
        (status, &body["result"]["FIELD_NAME"]),
        (200, &json!("UF_CRM_X"))
    );
}
