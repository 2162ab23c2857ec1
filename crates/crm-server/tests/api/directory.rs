//! The user directory and the company structure over HTTP: `user.current`, `user.get`
//! (filters, paging from an exact offset, no `total` on an empty answer, the fields each
//! user scope shows) and `department.get` (tree order, filters, sort, the upper-case
//! `SORT` quirk), in the portal's shapes and types.

use crate::helpers::{TestApp, assert_error, read};
use crm_core::identity::{Department, ROOT_DEPARTMENT, Scope, User};
use crm_server::auth::{hash_secret, new_secret};
use serde_json::{Value, json};

async fn with_scopes(app: &TestApp, scopes: Vec<Scope>) -> String {
    let secret = new_secret().unwrap();
    app.services
        .store
        .create_webhook(1, hash_secret(&secret), scopes, 0)
        .await
        .unwrap();
    format!("{}/rest/1/{secret}/", app.base)
}

async fn call(app: &TestApp, hook: &str, method: &str, params: Value) -> (u16, Value) {
    let res = app
        .client
        .post(format!("{hook}{method}"))
        .json(&params)
        .send()
        .await
        .unwrap();
    read(res).await
}

fn ids(body: &Value) -> Vec<String> {
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["ID"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn users_in_the_portal_shape() {
    let app = TestApp::spawn_with(&["--tz-offset", "+02:00"]).await;
    let store = &app.services.store;
    let sales = store
        .create_department(Department {
            id: 0,
            name: "Sales".into(),
            sort: 100,
            parent: Some(ROOT_DEPARTMENT),
            head: None,
        })
        .await
        .unwrap();
    for i in 0..60 {
        let user = User {
            id: 0,
            name: format!("User{i:02}"),
            last_name: if i % 2 == 0 { "Even" } else { "Odd" }.into(),
            email: format!("u{i}@example.org"),
            admin: false,
            active: i != 7,
            departments: if i < 10 {
                vec![sales]
            } else {
                vec![ROOT_DEPARTMENT]
            },
            // 2026-01-31T23:30:00Z: already 1 February at +02:00.
            registered_at: 1_769_902_200,
        };
        store.create_user(user).await.unwrap();
    }

    let me = app.ok("user.current", json!({})).await;
    assert_eq!(
        me.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "ID",
            "ACTIVE",
            "NAME",
            "LAST_NAME",
            "EMAIL",
            "DATE_REGISTER",
            "IS_ONLINE",
            "PERSONAL_GENDER",
            "PERSONAL_BIRTHDAY",
            "WORK_POSITION",
            "UF_EMPLOYMENT_DATE",
            "UF_DEPARTMENT",
            "USER_TYPE"
        ]
    );
    assert_eq!(
        (me["ID"].clone(), me["ACTIVE"].clone()),
        (json!("1"), json!(true))
    );
    assert_eq!(me["UF_DEPARTMENT"], json!([1]));

    // Paging from the exact offset, 50 at a time, with total and next.
    let (_, page) = app.call("user.get", json!({})).await;
    assert_eq!(
        (page["total"].clone(), page["next"].clone()),
        (json!(61), json!(50))
    );
    assert_eq!(page["result"].as_array().unwrap().len(), 50);
    let (_, page) = app.call("user.get", json!({"start": 55})).await;
    assert_eq!(ids(&page), ["56", "57", "58", "59", "60", "61"]);
    assert!(page.get("next").is_none(), "{page}");
    let user2 = &page["result"][0];
    assert_eq!(user2["DATE_REGISTER"], "2026-02-01T00:00:00+02:00");
    // No match: a bare empty list, without total.
    let (status, empty) = app.call("user.get", json!({"ID": 999})).await;
    assert_eq!(status, 200);
    assert_eq!(empty["result"], json!([]));
    assert!(
        empty.get("total").is_none() && empty.get("next").is_none(),
        "{empty}"
    );

    // Filters: top-level keys or FILTER, in any case.
    let (_, got) = app.call("user.get", json!({"id": "3"})).await;
    assert_eq!(
        (ids(&got), got["total"].clone()),
        (vec!["3".to_string()], json!(1))
    );
    let (_, got) = app
        .call(
            "user.get",
            json!({"FILTER": {"UF_DEPARTMENT": sales, "LAST_NAME": "odd"}}),
        )
        .await;
    assert_eq!(ids(&got), ["3", "5", "7", "9", "11"]);
    let (_, got) = app
        .call("user.get", json!({"filter": {"ACTIVE": "N"}}))
        .await;
    assert_eq!(ids(&got), ["9"]);
    let (_, got) = app
        .call(
            "user.get",
            json!({"filter": {"%EMAIL": "u5", ">=ID": 50}, "sort": "ID", "order": "DESC"}),
        )
        .await;
    assert_eq!(
        ids(&got),
        ["61", "60", "59", "58", "57", "56", "55", "54", "53", "52"]
    );
    let (_, got) = app
        .call(
            "user.get",
            json!({"sort": "NAME", "order": "DESC", "start": 0}),
        )
        .await;
    assert_eq!(got["result"][0]["NAME"], "User59");

    // The narrower user scopes: user_brief shows no e-mail and cannot filter by it.
    let brief = with_scopes(&app, vec![Scope::UserBrief]).await;
    let (_, me) = call(&app, &brief, "user.current", json!({})).await;
    assert!(me["result"].get("EMAIL").is_none(), "{me}");
    let (_, got) = call(&app, &brief, "user.get", json!({"EMAIL": "u5@example.org"})).await;
    assert_eq!(got["total"], 61, "the e-mail filter is dropped");
    let basic = with_scopes(&app, vec![Scope::UserBasic]).await;
    let (_, got) = call(&app, &basic, "user.get", json!({"EMAIL": "u5@example.org"})).await;
    assert_eq!(ids(&got), ["7"]);
    assert!(got["result"][0].get("PERSONAL_BIRTHDAY").is_none());
    // Introspection counts the narrower scopes as the portal does.
    let (_, listed) = call(&app, &basic, "methods", json!({})).await;
    let listed = listed["result"].as_array().unwrap().clone();
    assert!(
        listed.contains(&json!("user.get")) && !listed.contains(&json!("crm.lead.add")),
        "{listed:?}"
    );
    let (_, available) = call(&app, &brief, "method.get", json!({"name": "user.current"})).await;
    assert_eq!(
        available["result"],
        json!({"isExisting": true, "isAvailable": true})
    );
    let crm = with_scopes(&app, vec![Scope::Crm]).await;
    assert_error(
        &call(&app, &crm, "user.get", json!({})).await,
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    );
    assert_error(
        &call(&app, &basic, "department.get", json!({})).await,
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    );
}

#[tokio::test]
async fn departments_in_tree_order() {
    let app = TestApp::spawn().await;
    let store = &app.services.store;
    let add = |name: &str, parent: i64, sort: i64, head: Option<i64>| Department {
        id: 0,
        name: name.into(),
        sort,
        parent: Some(parent),
        head,
    };
    let sales = store
        .create_department(add("Sales", 1, 500, Some(1)))
        .await
        .unwrap();
    let dev = store
        .create_department(add("Dev", 1, 100, None))
        .await
        .unwrap();
    let east = store
        .create_department(add("East", sales, 500, None))
        .await
        .unwrap();

    let (_, all) = app.call("department.get", json!({})).await;
    assert_eq!(
        all,
        json!({
            "result": [
                {"ID": "1", "NAME": "Company", "SORT": 500},
                {"ID": dev.to_string(), "NAME": "Dev", "SORT": 100, "PARENT": "1"},
                {"ID": sales.to_string(), "NAME": "Sales", "SORT": 500, "PARENT": "1", "UF_HEAD": "1"},
                {"ID": east.to_string(), "NAME": "East", "SORT": 500, "PARENT": sales.to_string()},
            ],
            "total": 4,
            "time": all["time"],
        })
    );
    let (_, children) = app.call("department.get", json!({"PARENT": 1})).await;
    assert_eq!(ids(&children), [dev.to_string(), sales.to_string()]);
    let (_, by_name) = app
        .call("department.get", json!({"sort": "NAME", "order": "DESC"}))
        .await;
    assert_eq!(
        ids(&by_name),
        [
            sales.to_string(),
            east.to_string(),
            dev.to_string(),
            "1".to_string()
        ]
    );
    // Upper-case SORT is also a filter on the sort weight, as on a portal.
    let (_, quirk) = app.call("department.get", json!({"SORT": "NAME"})).await;
    assert_eq!(
        (quirk["result"].clone(), quirk["total"].clone()),
        (json!([]), json!(0))
    );
    let (_, by_filter) = app
        .call("department.get", json!({"FILTER": {"UF_HEAD": 1}}))
        .await;
    assert_eq!(ids(&by_filter), [sales.to_string()]);
    // In a batch, fed by user.current as the portal's documented example does.
    let (_, batch) = app
        .call(
            "batch",
            json!({"cmd": {
                "me": "user.current",
                "dept": "department.get?ID=$result[me][UF_DEPARTMENT]"
            }}),
        )
        .await;
    assert_eq!(
        batch["result"]["result"]["dept"][0]["NAME"], "Company",
        "{batch}"
    );
    assert_eq!(batch["result"]["result_total"]["dept"], 1);
}
