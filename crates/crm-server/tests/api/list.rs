//! `crm.lead.list` / `crm.contact.list`: paging, filters, order, select; and the PHP SDK's
//! batch paging pattern.

use crate::helpers::{TestApp, add_leads_with, ids};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Adds `n` leads titled "Lead <i>" (ids 1..=n), every third in process.
async fn add_leads(app: &TestApp, n: usize) {
    add_leads_with(app, n, |i| {
        let status = if i % 3 == 0 { "IN_PROCESS" } else { "NEW" };
        format!("fields[TITLE]=Lead%20{i}&fields[STATUS_ID]={status}&fields[OPPORTUNITY]={i}")
    })
    .await;
}

#[tokio::test]
async fn paging_over_237_leads_follows_the_portal_rules() {
    let app = TestApp::spawn().await;
    add_leads(&app, 237).await;
    // start → (first id, rows, next)
    let cases: [(i64, i64, usize, Option<i64>); 6] = [
        (0, 1, 50, Some(50)),
        (10, 1, 50, Some(50)),
        (50, 51, 50, Some(100)),
        (200, 201, 37, None),
        (236, 201, 37, None),
        (237, 201, 37, None),
    ];
    for (start, first, rows, next) in cases {
        let (status, body) = app
            .call(
                "crm.lead.list",
                json!({"order": {"ID": "ASC"}, "select": ["ID"], "start": start}),
            )
            .await;
        assert_eq!(status, 200, "start={start}");
        let got = ids(&body["result"]);
        assert_eq!((got[0], got.len()), (first, rows), "start={start}");
        assert_eq!(body["total"], json!(237), "start={start}");
        assert_eq!(
            body.get("next").cloned(),
            next.map(|n| json!(n)),
            "start={start}"
        );
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let want: &[&str] = if next.is_some() {
            &["result", "next", "total", "time"]
        } else {
            &["result", "total", "time"]
        };
        assert_eq!(keys, want, "start={start}");
    }
    let (_, body) = app
        .call("crm.lead.list", json!({"select": ["ID"], "start": -1}))
        .await;
    assert_eq!(
        (
            ids(&body["result"]).len(),
            body["total"].clone(),
            body.get("next")
        ),
        (50, json!(0), None)
    );

    // Keyset walk: order by ID, filter >ID, start=-1, until a short page.
    let mut seen: Vec<i64> = Vec::new();
    let mut last = 0;
    loop {
        let (_, body) = app
            .call("crm.lead.list", json!({"order": {"ID": "ASC"}, "filter": {">ID": last}, "select": ["ID"], "start": -1}))
            .await;
        let page = ids(&body["result"]);
        seen.extend(&page);
        match page.last() {
            Some(l) if page.len() == 50 => last = *l,
            _ => break,
        }
    }
    assert_eq!(seen, (1..=237).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_php_sdk_batch_paging_pattern_walks_500_leads_once() {
    let app = TestApp::spawn().await;
    add_leads(&app, 500).await;
    let mut seen: Vec<i64> = Vec::new();
    let mut last = 0;
    loop {
        // cmd_0 starts after `last`; every next command continues from the previous one's
        // 50th row through a $result reference.
        let mut cmd = serde_json::Map::new();
        cmd.insert(
            "cmd_0".into(),
            json!(format!(
                "crm.lead.list?order[ID]=ASC&select[]=ID&start=-1&filter[%3EID]={last}"
            )),
        );
        for i in 1..5 {
            cmd.insert(
                format!("cmd_{i}"),
                json!(format!("crm.lead.list?order[ID]=ASC&select[]=ID&start=-1&filter[%3EID]=$result[cmd_{}][49][ID]", i - 1)),
            );
        }
        let r = app.ok("batch", json!({"halt": 0, "cmd": cmd})).await;
        let mut short = false;
        for i in 0..5 {
            let page = &r["result"][format!("cmd_{i}")];
            if short {
                break;
            }
            let page_ids = ids(page);
            short = page_ids.len() < 50;
            seen.extend(page_ids);
        }
        if short || seen.len() >= 500 {
            break;
        }
        last = *seen.last().unwrap();
    }
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates");
    assert_eq!(seen, (1..=500).collect::<Vec<_>>());
}

#[tokio::test]
async fn filters_order_and_select_work_in_json_and_form() {
    let app = TestApp::spawn().await;
    add_leads(&app, 12).await;
    let cases: Vec<(Value, &str, Vec<i64>)> = vec![
        (json!({"ID": 5}), "filter%5BID%5D=5", vec![5]),
        (
            json!({"!ID": 5, "<ID": 4}),
            "filter%5B%21ID%5D=5&filter%5B%3CID%5D=4",
            vec![1, 2, 3],
        ),
        (json!({">=ID": 11}), "filter%5B%3E%3DID%5D=11", vec![11, 12]),
        (json!({"<=ID": 2}), "filter%5B%3C%3DID%5D=2", vec![1, 2]),
        (
            json!({"@ID": [3, 7]}),
            "filter%5B%40ID%5D%5B%5D=3&filter%5B%40ID%5D%5B%5D=7",
            vec![3, 7],
        ),
        (
            json!({"!@ID": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}),
            "filter%5B%21%40ID%5D%5B%5D=1&filter%5B%21%40ID%5D%5B%5D=2&filter%5B%21%40ID%5D%5B%5D=3&filter%5B%21%40ID%5D%5B%5D=4&filter%5B%21%40ID%5D%5B%5D=5&filter%5B%21%40ID%5D%5B%5D=6&filter%5B%21%40ID%5D%5B%5D=7&filter%5B%21%40ID%5D%5B%5D=8&filter%5B%21%40ID%5D%5B%5D=9&filter%5B%21%40ID%5D%5B%5D=10",
            vec![11, 12],
        ),
        (
            json!({"ID": [2, 4]}),
            "filter%5BID%5D%5B%5D=2&filter%5BID%5D%5B%5D=4",
            vec![2, 4],
        ),
        (
            json!({"%TITLE": "Lead 1"}),
            "filter%5B%25TITLE%5D=Lead+1",
            vec![1, 10, 11, 12],
        ),
        (
            json!({"=%TITLE": "Lead 1%"}),
            "filter%5B%3D%25TITLE%5D=Lead+1%25",
            vec![1, 10, 11, 12],
        ),
        (
            json!({"!%TITLE": "Lead 1"}),
            "filter%5B%21%25TITLE%5D=Lead+1",
            vec![2, 3, 4, 5, 6, 7, 8, 9],
        ),
        (
            json!({"STATUS_ID": "IN_PROCESS"}),
            "filter%5BSTATUS_ID%5D=IN_PROCESS",
            vec![3, 6, 9, 12],
        ),
        (
            json!({"%STATUS_ID": "IN_PROCESS"}),
            "filter%5B%25STATUS_ID%5D=IN_PROCESS",
            vec![3, 6, 9, 12],
        ),
        (
            json!({">OPPORTUNITY": 10.5}),
            "filter%5B%3EOPPORTUNITY%5D=10.5",
            vec![11, 12],
        ),
        (
            json!({">DATE_CREATE": "2000-01-01T00:00:00+00:00", "<ID": 3}),
            "filter%5B%3EDATE_CREATE%5D=2000-01-01&filter%5B%3CID%5D=3",
            vec![1, 2],
        ),
        (
            json!({">DATE_CREATE": "2999-01-01"}),
            "filter%5B%3EDATE_CREATE%5D=2999-01-01",
            vec![],
        ),
        (
            json!({"NO_SUCH_FIELD": 1, "LOGIC": "OR", "<ID": 2}),
            "filter%5BNO_SUCH_FIELD%5D=1&filter%5B%3CID%5D=2",
            vec![1],
        ),
        (
            json!({"CONTACT_ID": 0, "<ID": 3}),
            "filter%5BCONTACT_ID%5D=0&filter%5B%3CID%5D=3",
            vec![1, 2],
        ),
    ];
    for (filter, form, want) in cases {
        let (status, body) = app
            .call(
                "crm.lead.list",
                json!({"filter": filter, "select": ["ID"], "order": {"ID": "ASC"}}),
            )
            .await;
        assert_eq!(status, 200, "{filter} {body}");
        assert_eq!(ids(&body["result"]), want, "json {filter}");
        let (status, body) = app
            .form(
                "crm.lead.list",
                &format!("{form}&select[]=ID&order[ID]=ASC"),
            )
            .await;
        assert_eq!(status, 200, "{form} {body}");
        assert_eq!(ids(&body["result"]), want, "form {form}");
    }
    // Order by stage (NEW before IN_PROCESS), then ID; DESC on ID.
    let (_, body) = app
        .call(
            "crm.lead.list",
            json!({"order": {"STATUS_ID": "DESC"}, "select": ["ID"], "filter": {"<ID": 7}}),
        )
        .await;
    assert_eq!(ids(&body["result"]), vec![3, 6, 1, 2, 4, 5]);
    let (_, body) = app.call("crm.lead.list", json!({"order": {"ID": "desc"}, "select": ["ID", "TITLE", "NOPE"], "filter": {"<ID": 3}})).await;
    assert_eq!(
        body["result"],
        json!([{"ID": "2", "TITLE": "Lead 2"}, {"ID": "1", "TITLE": "Lead 1"}])
    );
    // Errors for non-array order/filter.
    let (status, body) = app.call("crm.lead.list", json!({"filter": "x"})).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Parameter 'filter' must be array."))
    );
    let (status, body) = app.call("crm.lead.list", json!({"order": 5})).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Parameter 'order' must be array."))
    );
}

#[tokio::test]
async fn multi_field_filters_and_contact_lists() {
    let app = TestApp::spawn().await;
    app.ok("crm.contact.add", json!({"fields": {"NAME": "Ann", "EMAIL": [{"VALUE": "ann@example.com"}], "PHONE": [{"VALUE": "+100"}]}})).await;
    app.ok(
        "crm.contact.add",
        json!({"fields": {"NAME": "Bob", "EMAIL": [{"VALUE": "bob@example.com"}]}}),
    )
    .await;
    let (_, body) = app
        .call(
            "crm.contact.list",
            json!({"filter": {"EMAIL": "bob@example.com"}, "select": ["NAME", "EMAIL"]}),
        )
        .await;
    assert_eq!(
        body["result"],
        json!([{"ID": "2", "NAME": "Bob", "EMAIL": [{"ID": "3", "VALUE_TYPE": "WORK", "VALUE": "bob@example.com", "TYPE_ID": "EMAIL"}]}])
    );
    let (_, body) = app
        .call(
            "crm.contact.list",
            json!({"filter": {"EMAIL": "%@example.com"}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(
        ids(&body["result"]),
        Vec::<i64>::new(),
        "a prefix, `%` removed"
    );
    let (_, body) = app
        .call(
            "crm.contact.list",
            json!({"filter": {"EMAIL": "ANN@"}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(ids(&body["result"]), vec![1]);
    let (_, body) = app
        .call(
            "crm.contact.list",
            json!({"filter": {"PHONE": ["+100"]}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(ids(&body["result"]), vec![1]);
    let (_, body) = app.call("crm.contact.list", json!({})).await;
    assert_eq!(body["total"], json!(2));
    assert!(
        body["result"][0].get("EMAIL").is_none(),
        "multi-fields only when selected"
    );
    assert_eq!(body["result"][0]["NAME"], "Ann");
}
