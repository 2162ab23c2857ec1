//! `crm.lead.contact.*` (the seed issue): the binding family end to end over real HTTP —
//! the state table of spec §1.4, the seed scenario, `items.*`, every error row, form
//! encodings, lead add with contacts, cascades on delete, and concurrent edits.
//!
//! After every step both views of a lead's set are checked: `crm.lead.contact.items.get`
//! (exact JSON text, so key order and value types count) and `crm.lead.get` → `CONTACT_ID`.

use crate::helpers::{TestApp, assert_error, read};
use crm_core::binding::{Binding, LEAD_CONTACT};
use serde_json::{Value, json};
use std::collections::HashSet;

/// One expected binding: contact id, SORT, primary.
type Row = (i64, i64, bool);

/// The `items.get` array for a set, keys in the portal's order.
fn rows(set: &[Row]) -> Value {
    Value::Array(
        set.iter()
            .map(|&(id, sort, primary)| {
                json!({
                    "CONTACT_ID": id,
                    "SORT": sort,
                    "ROLE_ID": 0,
                    "IS_PRIMARY": if primary { "Y" } else { "N" },
                })
            })
            .collect(),
    )
}

/// Creates a contact; returns its id (a JSON integer).
async fn new_contact(app: &TestApp) -> i64 {
    let id = app
        .ok("crm.contact.add", json!({"fields": {"NAME": "Test"}}))
        .await;
    id.as_i64()
        .unwrap_or_else(|| panic!("integer contact id: {id}"))
}

/// Creates `n` contacts; on a fresh server their ids are 1..=n.
async fn contacts(app: &TestApp, n: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(new_contact(app).await);
    }
    assert_eq!(
        ids,
        (1..=n).collect::<Vec<_>>(),
        "fresh contact ids are 1..={n}"
    );
    ids
}

/// Creates a lead without contacts; returns its id.
async fn new_lead(app: &TestApp) -> i64 {
    let id = app
        .ok("crm.lead.add", json!({"fields": {"TITLE": "Binding test"}}))
        .await;
    id.as_i64()
        .unwrap_or_else(|| panic!("integer lead id: {id}"))
}

/// The lead's `CONTACT_ID` as `crm.lead.get` shows it.
async fn lead_contact_id(app: &TestApp, lead: i64) -> Value {
    app.ok("crm.lead.get", json!({"id": lead})).await["CONTACT_ID"].clone()
}

/// Asserts both views of the lead's binding set: `items.get` (exact text) and the lead's
/// `CONTACT_ID` (the primary's id as a string, or null).
async fn assert_state(app: &TestApp, lead: i64, set: &[Row], step: &str) {
    let got = app
        .ok("crm.lead.contact.items.get", json!({"id": lead}))
        .await;
    let want = rows(set);
    assert_eq!(
        serde_json::to_string(&got).unwrap(),
        serde_json::to_string(&want).unwrap(),
        "{step}: items.get of lead {lead}"
    );
    let primary = set
        .iter()
        .find(|(_, _, p)| *p)
        .map_or(Value::Null, |(id, _, _)| json!(id.to_string()));
    assert_eq!(
        lead_contact_id(app, lead).await,
        primary,
        "{step}: crm.lead.get CONTACT_ID of lead {lead}"
    );
}

/// Calls a method that must answer HTTP 200 with exactly `expected` as `result`.
async fn assert_result(app: &TestApp, method: &str, params: Value, expected: Value, step: &str) {
    let (status, body) = app.call(method, params.clone()).await;
    assert_result_body(
        &(status, body),
        &expected,
        &format!("{step}: {method} {params}"),
    );
}

/// The success envelope: HTTP 200, `result` as expected, a `time` object, no `error`.
fn assert_result_body(got: &(u16, Value), expected: &Value, step: &str) {
    let (status, body) = got;
    assert_eq!(*status, 200, "{step} → {body}");
    assert_eq!(&body["result"], expected, "{step} → {body}");
    assert!(body["time"].is_object(), "{step}: no time → {body}");
    assert!(body.get("error").is_none(), "{step}: error → {body}");
}

/// Binds contacts one by one with plain `add` calls (no SORT, no flag).
async fn bind_in_order(app: &TestApp, lead: i64, ids: &[i64]) {
    for &c in ids {
        assert_result(
            app,
            "crm.lead.contact.add",
            json!({"id": lead, "fields": {"CONTACT_ID": c}}),
            json!(true),
            "arrange",
        )
        .await;
    }
}

#[tokio::test]
async fn add_follows_every_row_of_the_state_table() {
    // Arrange: contacts 1..=7, so the table's ids 5 and 7 are real contacts.
    let app = TestApp::spawn().await;
    contacts(&app, 7).await;
    struct Case {
        name: &'static str,
        before: &'static [i64],
        fields: Value,
        result: bool,
        after: &'static [Row],
    }
    let cases = [
        Case {
            name: "first binding becomes primary with SORT 10",
            before: &[],
            fields: json!({"CONTACT_ID": 5}),
            result: true,
            after: &[(5, 10, true)],
        },
        Case {
            name: "second binding is appended at max+10, not primary",
            before: &[5],
            fields: json!({"CONTACT_ID": 7}),
            result: true,
            after: &[(5, 10, true), (7, 20, false)],
        },
        Case {
            name: "IS_PRIMARY Y moves the primary to the new binding",
            before: &[5],
            fields: json!({"CONTACT_ID": 7, "IS_PRIMARY": "Y"}),
            result: true,
            after: &[(5, 10, false), (7, 20, true)],
        },
        Case {
            name: "explicit lower SORT lists the new binding first, primary stays",
            before: &[5],
            fields: json!({"CONTACT_ID": 7, "SORT": 5}),
            result: true,
            after: &[(7, 5, false), (5, 10, true)],
        },
        Case {
            name: "already bound: false, nothing changes even with IS_PRIMARY Y",
            before: &[5, 7],
            fields: json!({"CONTACT_ID": 7, "IS_PRIMARY": "Y"}),
            result: false,
            after: &[(5, 10, true), (7, 20, false)],
        },
        Case {
            name: "JSON true is not \"Y\"",
            before: &[5],
            fields: json!({"CONTACT_ID": 7, "IS_PRIMARY": true}),
            result: true,
            after: &[(5, 10, true), (7, 20, false)],
        },
        Case {
            name: "lower-case y is Y: 7 is the only primary, 5 demoted (our rule)",
            before: &[5],
            fields: json!({"CONTACT_ID": 7, "IS_PRIMARY": "y"}),
            result: true,
            after: &[(5, 10, false), (7, 20, true)],
        },
    ];
    for case in cases {
        let lead = new_lead(&app).await;
        bind_in_order(&app, lead, case.before).await;
        let before: Vec<Row> = case
            .before
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, (i as i64 + 1) * 10, i == 0))
            .collect();
        assert_state(&app, lead, &before, &format!("{} (before)", case.name)).await;

        // Act
        let got = app
            .call(
                "crm.lead.contact.add",
                json!({"id": lead, "fields": case.fields}),
            )
            .await;

        // Assert
        assert_result_body(&got, &json!(case.result), case.name);
        assert_state(&app, lead, case.after, case.name).await;
    }
}

#[tokio::test]
async fn the_seed_scenario_adds_refuses_duplicates_and_reelects_on_delete() {
    // Arrange
    let app = TestApp::spawn().await;
    let lead = new_lead(&app).await;
    let a = new_contact(&app).await;
    let b = new_contact(&app).await;
    let unbound = new_contact(&app).await;
    assert_state(&app, lead, &[], "a new lead has no contacts").await;

    // Act + Assert: the documented request.
    let add_a = json!({"id": lead, "fields": {"CONTACT_ID": a, "SORT": 10, "IS_PRIMARY": "Y"}});
    assert_result(
        &app,
        "crm.lead.contact.add",
        add_a.clone(),
        json!(true),
        "seed add",
    )
    .await;
    assert_state(&app, lead, &[(a, 10, true)], "after the seed add").await;

    assert_result(
        &app,
        "crm.lead.contact.add",
        add_a,
        json!(false),
        "the same add again",
    )
    .await;
    assert_state(
        &app,
        lead,
        &[(a, 10, true)],
        "a repeated add changes nothing",
    )
    .await;

    assert_result(
        &app,
        "crm.lead.contact.add",
        json!({"id": lead, "fields": {"CONTACT_ID": b}}),
        json!(true),
        "second contact without IS_PRIMARY",
    )
    .await;
    assert_state(
        &app,
        lead,
        &[(a, 10, true), (b, 20, false)],
        "second contact is non-primary at SORT 20",
    )
    .await;

    assert_result(
        &app,
        "crm.lead.contact.delete",
        json!({"id": lead, "fields": {"CONTACT_ID": a}}),
        json!(true),
        "delete the primary",
    )
    .await;
    assert_state(
        &app,
        lead,
        &[(b, 20, true)],
        "the remaining contact is re-elected primary",
    )
    .await;

    for (name, c) in [
        ("the just-deleted contact", a),
        ("a never-bound contact", unbound),
    ] {
        assert_result(
            &app,
            "crm.lead.contact.delete",
            json!({"id": lead, "fields": {"CONTACT_ID": c}}),
            json!(false),
            &format!("delete of {name}"),
        )
        .await;
        assert_state(
            &app,
            lead,
            &[(b, 20, true)],
            &format!("delete of {name} changes nothing"),
        )
        .await;
    }

    // The last one goes: the lead has no primary any more.
    assert_result(
        &app,
        "crm.lead.contact.delete",
        json!({"id": lead, "fields": {"CONTACT_ID": b}}),
        json!(true),
        "delete the last contact",
    )
    .await;
    assert_state(&app, lead, &[], "after deleting the last contact").await;
}

#[tokio::test]
async fn add_keeps_a_given_sort_and_defaults_to_the_highest_plus_ten() {
    // Arrange
    let app = TestApp::spawn().await;
    contacts(&app, 4).await;
    let lead = new_lead(&app).await;
    let steps: [(&str, Value, &[Row]); 4] = [
        (
            "an explicit SORT 0 is kept",
            json!({"CONTACT_ID": 1, "SORT": 0}),
            &[(1, 0, true)],
        ),
        (
            "all existing SORTs are 0: the next is 10",
            json!({"CONTACT_ID": 2}),
            &[(1, 0, true), (2, 10, false)],
        ),
        (
            "a string SORT equal to an existing one is allowed; ties list by CONTACT_ID",
            json!({"CONTACT_ID": 3, "SORT": "10", "IS_PRIMARY": "N"}),
            &[(1, 0, true), (2, 10, false), (3, 10, false)],
        ),
        (
            "a negative SORT is kept as given",
            json!({"CONTACT_ID": 4, "SORT": -5}),
            &[(4, -5, false), (1, 0, true), (2, 10, false), (3, 10, false)],
        ),
    ];
    for (name, fields, after) in steps {
        // Act
        let got = app
            .call(
                "crm.lead.contact.add",
                json!({"id": lead, "fields": fields}),
            )
            .await;
        // Assert
        assert_result_body(&got, &json!(true), name);
        assert_state(&app, lead, after, name).await;
    }
}

#[tokio::test]
async fn add_treats_a_null_sort_as_not_given() {
    // `{"CONTACT_ID": 7, "SORT": null}` gets the default SORT (max + 10, here 20): the
    // reference engine tests `isset($binding['SORT'])`, which is false for null.
    // Arrange
    let app = TestApp::spawn().await;
    contacts(&app, 7).await;
    let lead = new_lead(&app).await;
    bind_in_order(&app, lead, &[5]).await;
    assert_state(&app, lead, &[(5, 10, true)], "before").await;

    // Act
    let got = app
        .call(
            "crm.lead.contact.add",
            json!({"id": lead, "fields": {"CONTACT_ID": 7, "SORT": null}}),
        )
        .await;

    // Assert
    assert_result_body(&got, &json!(true), "add with a null SORT");
    assert_state(
        &app,
        lead,
        &[(5, 10, true), (7, 20, false)],
        "a null SORT defaults to max + 10",
    )
    .await;
}

#[tokio::test]
async fn removing_the_primary_elects_the_lowest_sort_then_the_lowest_id() {
    // Arrange: contact 1 primary at SORT 10; 3 and 2 tie at SORT 20 (3 submitted first).
    let app = TestApp::spawn().await;
    contacts(&app, 3).await;
    let items = json!([
        {"CONTACT_ID": 1, "SORT": 10, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": 3, "SORT": 20},
        {"CONTACT_ID": 2, "SORT": 20}
    ]);
    let mut leads = Vec::new();
    for _ in 0..2 {
        let lead = new_lead(&app).await;
        app.ok(
            "crm.lead.contact.items.set",
            json!({"id": lead, "items": items}),
        )
        .await;
        assert_state(
            &app,
            lead,
            &[(1, 10, true), (2, 20, false), (3, 20, false)],
            "before",
        )
        .await;
        leads.push(lead);
    }
    let ways = [
        (
            "crm.lead.contact.delete",
            "crm.lead.contact.delete",
            json!({"id": leads[0], "fields": {"CONTACT_ID": 1}}),
            leads[0],
        ),
        (
            "crm.contact.delete",
            "crm.contact.delete",
            json!({"id": 1}),
            leads[1],
        ),
    ];
    for (name, method, params, lead) in ways {
        // Act
        assert_result(&app, method, params, json!(true), name).await;
        // Assert
        assert_state(&app, lead, &[(2, 20, true), (3, 20, false)], name).await;
    }
}

#[tokio::test]
async fn items_set_normalises_the_submitted_list() {
    // Arrange: contacts 1..=6 and one lead whose set each case replaces.
    let app = TestApp::spawn().await;
    contacts(&app, 6).await;
    let lead = new_lead(&app).await;
    let cases: [(&str, Value, &[Row]); 11] = [
        (
            "no primary given: the first is primary",
            json!([{"CONTACT_ID": 1}, {"CONTACT_ID": 2}]),
            &[(1, 10, true), (2, 20, false)],
        ),
        (
            "no primary given: the first submitted is primary even when sorted later",
            json!([{"CONTACT_ID": 3, "SORT": 50}, {"CONTACT_ID": 4}]),
            &[(4, 20, false), (3, 50, true)],
        ),
        (
            "two Y: the first one wins",
            json!([
                {"CONTACT_ID": 1},
                {"CONTACT_ID": 2, "IS_PRIMARY": "Y"},
                {"CONTACT_ID": 3, "IS_PRIMARY": "Y"}
            ]),
            &[(1, 10, false), (2, 20, true), (3, 30, false)],
        ),
        (
            "SORT missing, 0 or negative becomes (i+1)*10; positive SORT (even a string) kept",
            json!([
                {"CONTACT_ID": 1, "SORT": 0},
                {"CONTACT_ID": 2, "SORT": -5},
                {"CONTACT_ID": 3, "SORT": "15"},
                {"CONTACT_ID": 4}
            ]),
            &[
                (1, 10, true),
                (3, 15, false),
                (2, 20, false),
                (4, 40, false),
            ],
        ),
        (
            "dropped entries still count as positions",
            json!([
                {"SORT": 10},
                "junk",
                5,
                null,
                [1],
                {"CONTACT_ID": 0},
                {"CONTACT_ID": "abc"},
                {"CONTACT_ID": -3},
                {"CONTACT_ID": 2},
                {"CONTACT_ID": "6", "IS_PRIMARY": "Y"}
            ]),
            &[(2, 90, false), (6, 100, true)],
        ),
        (
            "duplicate ids keep the first occurrence (its SORT, not the later Y)",
            json!([
                {"CONTACT_ID": 1, "SORT": 30},
                {"CONTACT_ID": 2},
                {"CONTACT_ID": 1, "SORT": 5, "IS_PRIMARY": "Y"}
            ]),
            &[(2, 20, false), (1, 30, true)],
        ),
        (
            "a lower-case y counts as Y (our rule)",
            json!([{"CONTACT_ID": 1}, {"CONTACT_ID": 2, "IS_PRIMARY": "y"}]),
            &[(1, 10, false), (2, 20, true)],
        ),
        (
            "a JSON true is not Y",
            json!([{"CONTACT_ID": 1}, {"CONTACT_ID": 2, "IS_PRIMARY": true}]),
            &[(1, 10, true), (2, 20, false)],
        ),
        (
            "unknown keys are ignored, ROLE_ID stays 0",
            json!([{"CONTACT_ID": 5, "ROLE_ID": 7, "FOO": "bar", "IS_PRIMARY": "N"}]),
            &[(5, 10, true)],
        ),
        (
            "items as an object (a PHP array with keys) are taken in order",
            json!({"a": {"CONTACT_ID": 3}, "b": {"CONTACT_ID": 4, "IS_PRIMARY": "Y"}}),
            &[(3, 10, false), (4, 20, true)],
        ),
        (
            "[] clears the set and the lead's CONTACT_ID",
            json!([]),
            &[],
        ),
    ];
    for (name, items, after) in cases {
        // Act
        let got = app
            .call(
                "crm.lead.contact.items.set",
                json!({"id": lead, "items": items}),
            )
            .await;
        // Assert
        assert_result_body(&got, &json!(true), name);
        assert_state(&app, lead, after, name).await;
    }
}

#[tokio::test]
async fn items_set_with_a_missing_contact_is_rejected_and_changes_nothing() {
    // Arrange
    let app = TestApp::spawn().await;
    contacts(&app, 3).await;
    let lead = new_lead(&app).await;
    let before = json!([{"CONTACT_ID": 1}, {"CONTACT_ID": 2, "IS_PRIMARY": "Y"}]);
    app.ok(
        "crm.lead.contact.items.set",
        json!({"id": lead, "items": before}),
    )
    .await;
    let stored: &[Row] = &[(1, 10, false), (2, 20, true)];
    assert_state(&app, lead, stored, "before").await;
    let cases = [
        (
            "a missing contact among existing ones",
            json!([{"CONTACT_ID": 3, "IS_PRIMARY": "Y"}, {"CONTACT_ID": 999}]),
            999,
        ),
        ("only a missing contact", json!([{"CONTACT_ID": 4}]), 4),
    ];
    for (name, items, missing) in cases {
        // Act
        let got = app
            .call(
                "crm.lead.contact.items.set",
                json!({"id": lead, "items": items}),
            )
            .await;
        // Assert
        assert_error(&got, 400, "", &format!("Contact #{missing} is not found."));
        assert_state(&app, lead, stored, name).await;
    }
}

#[tokio::test]
async fn items_delete_clears_and_missing_leads_read_as_empty() {
    // Arrange
    let app = TestApp::spawn().await;
    contacts(&app, 2).await;
    let lead = new_lead(&app).await;
    bind_in_order(&app, lead, &[1, 2]).await;
    assert_state(&app, lead, &[(1, 10, true), (2, 20, false)], "before").await;

    // Act + Assert
    assert_result(
        &app,
        "crm.lead.contact.items.delete",
        json!({"id": lead}),
        json!(true),
        "items.delete",
    )
    .await;
    assert_state(&app, lead, &[], "after items.delete").await;
    assert_result(
        &app,
        "crm.lead.contact.items.delete",
        json!({"id": lead}),
        json!(true),
        "items.delete on an already empty lead",
    )
    .await;
    assert_state(&app, lead, &[], "after a second items.delete").await;

    let missing = lead + 100;
    assert_result(
        &app,
        "crm.lead.contact.items.get",
        json!({"id": missing}),
        json!([]),
        "items.get on a non-existent lead",
    )
    .await;
    assert_result(
        &app,
        "crm.lead.contact.items.delete",
        json!({"id": missing}),
        json!(true),
        "items.delete on a non-existent lead",
    )
    .await;
    assert_error(
        &app.call("crm.lead.get", json!({"id": missing})).await,
        400,
        "",
        "Not found",
    );
}

#[tokio::test]
async fn every_error_row_has_its_exact_code_text_and_status() {
    // Arrange: lead 1 with contact 1 bound; contact 2 exists unbound; 999 exists nowhere.
    let app = TestApp::spawn().await;
    contacts(&app, 2).await;
    let lead = new_lead(&app).await;
    assert_eq!(lead, 1, "fresh lead id");
    bind_in_order(&app, lead, &[1]).await;
    let owner = "The parameter 'ownerEntityID' is invalid or not defined.";
    let owner_items = "The parameter ownerEntityID is invalid or not defined.";
    let fields_array = "The parameter 'fields' must be array.";
    let item_array = "The parameter 'item' must be array.";
    let not_valid = "The parameter 'fields' is not valid.";
    let items_array = "The parameter items must be array.";
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        // add: owner id
        (
            "add, id missing",
            "add",
            json!({"fields": {"CONTACT_ID": 2}}),
            owner,
        ),
        (
            "add, id 0",
            "add",
            json!({"id": 0, "fields": {"CONTACT_ID": 2}}),
            owner,
        ),
        (
            "add, id -1",
            "add",
            json!({"id": -1, "fields": {"CONTACT_ID": 2}}),
            owner,
        ),
        (
            "add, id abc",
            "add",
            json!({"id": "abc", "fields": {"CONTACT_ID": 2}}),
            owner,
        ),
        (
            "add, id bad and fields missing: id first",
            "add",
            json!({"id": 0}),
            owner,
        ),
        // add: fields shape (before the lead check)
        ("add, fields missing", "add", json!({"id": 1}), fields_array),
        (
            "add, fields a string",
            "add",
            json!({"id": 1, "fields": "CONTACT_ID=2"}),
            fields_array,
        ),
        (
            "add, fields a number",
            "add",
            json!({"id": 1, "fields": 2}),
            fields_array,
        ),
        (
            "add, fields null",
            "add",
            json!({"id": 1, "fields": null}),
            fields_array,
        ),
        (
            "add, fields a string on a missing lead",
            "add",
            json!({"id": 999, "fields": "x"}),
            fields_array,
        ),
        // add: lead existence (before CONTACT_ID validation)
        (
            "add, lead missing",
            "add",
            json!({"id": 999, "fields": {"CONTACT_ID": 2}}),
            "Not found.",
        ),
        (
            "add, lead missing and CONTACT_ID 0",
            "add",
            json!({"id": 999, "fields": {"CONTACT_ID": 0}}),
            "Not found.",
        ),
        (
            "add, lead missing and CONTACT_ID missing",
            "add",
            json!({"id": 999, "fields": {}}),
            "Not found.",
        ),
        (
            "add, lead and contact missing",
            "add",
            json!({"id": 999, "fields": {"CONTACT_ID": 999}}),
            "Not found.",
        ),
        // add: CONTACT_ID
        (
            "add, CONTACT_ID missing",
            "add",
            json!({"id": 1, "fields": {"SORT": 10}}),
            not_valid,
        ),
        (
            "add, fields an empty list",
            "add",
            json!({"id": 1, "fields": []}),
            not_valid,
        ),
        (
            "add, CONTACT_ID 0",
            "add",
            json!({"id": 1, "fields": {"CONTACT_ID": 0}}),
            not_valid,
        ),
        (
            "add, CONTACT_ID abc",
            "add",
            json!({"id": 1, "fields": {"CONTACT_ID": "abc"}}),
            not_valid,
        ),
        (
            "add, CONTACT_ID -5",
            "add",
            json!({"id": 1, "fields": {"CONTACT_ID": -5}}),
            not_valid,
        ),
        (
            "add, contact missing",
            "add",
            json!({"id": 1, "fields": {"CONTACT_ID": 999}}),
            "Contact #999 is not found.",
        ),
        (
            "add, contact missing, asked primary",
            "add",
            json!({"id": 1, "fields": {"CONTACT_ID": 3, "IS_PRIMARY": "Y"}}),
            "Contact #3 is not found.",
        ),
        // delete
        (
            "delete, id missing",
            "delete",
            json!({"fields": {"CONTACT_ID": 1}}),
            owner,
        ),
        (
            "delete, id 0",
            "delete",
            json!({"id": 0, "fields": {"CONTACT_ID": 1}}),
            owner,
        ),
        (
            "delete, id -1",
            "delete",
            json!({"id": -1, "fields": {"CONTACT_ID": 1}}),
            owner,
        ),
        (
            "delete, id abc",
            "delete",
            json!({"id": "abc", "fields": {"CONTACT_ID": 1}}),
            owner,
        ),
        (
            "delete, fields missing",
            "delete",
            json!({"id": 1}),
            item_array,
        ),
        (
            "delete, fields a string",
            "delete",
            json!({"id": 1, "fields": "x"}),
            item_array,
        ),
        (
            "delete, lead missing",
            "delete",
            json!({"id": 999, "fields": {"CONTACT_ID": 1}}),
            "Not found.",
        ),
        (
            "delete, lead missing and CONTACT_ID invalid",
            "delete",
            json!({"id": 999, "fields": {"CONTACT_ID": "abc"}}),
            "Not found.",
        ),
        (
            "delete, CONTACT_ID missing",
            "delete",
            json!({"id": 1, "fields": {}}),
            not_valid,
        ),
        (
            "delete, CONTACT_ID 0",
            "delete",
            json!({"id": 1, "fields": {"CONTACT_ID": 0}}),
            not_valid,
        ),
        (
            "delete, CONTACT_ID abc",
            "delete",
            json!({"id": 1, "fields": {"CONTACT_ID": "abc"}}),
            not_valid,
        ),
        (
            "delete, CONTACT_ID -5",
            "delete",
            json!({"id": 1, "fields": {"CONTACT_ID": -5}}),
            not_valid,
        ),
        // items.get / items.delete
        ("items.get, id missing", "items.get", json!({}), owner_items),
        (
            "items.get, id 0",
            "items.get",
            json!({"id": 0}),
            owner_items,
        ),
        (
            "items.get, id -3",
            "items.get",
            json!({"id": -3}),
            owner_items,
        ),
        (
            "items.get, id abc",
            "items.get",
            json!({"id": "abc"}),
            owner_items,
        ),
        (
            "items.delete, id missing",
            "items.delete",
            json!({}),
            owner_items,
        ),
        (
            "items.delete, id 0",
            "items.delete",
            json!({"id": 0}),
            owner_items,
        ),
        (
            "items.delete, id -3",
            "items.delete",
            json!({"id": -3}),
            owner_items,
        ),
        (
            "items.delete, id abc",
            "items.delete",
            json!({"id": "abc"}),
            owner_items,
        ),
        // items.set
        (
            "items.set, id missing",
            "items.set",
            json!({"items": [{"CONTACT_ID": 1}]}),
            owner_items,
        ),
        (
            "items.set, id 0",
            "items.set",
            json!({"id": 0, "items": [{"CONTACT_ID": 1}]}),
            owner_items,
        ),
        (
            "items.set, id -3",
            "items.set",
            json!({"id": -3, "items": [{"CONTACT_ID": 1}]}),
            owner_items,
        ),
        (
            "items.set, id abc",
            "items.set",
            json!({"id": "abc", "items": [{"CONTACT_ID": 1}]}),
            owner_items,
        ),
        (
            "items.set, id bad and items missing: id first",
            "items.set",
            json!({"id": 0}),
            owner_items,
        ),
        (
            "items.set, items missing",
            "items.set",
            json!({"id": 1}),
            items_array,
        ),
        (
            "items.set, items null",
            "items.set",
            json!({"id": 1, "items": null}),
            items_array,
        ),
        (
            "items.set, items a string",
            "items.set",
            json!({"id": 1, "items": "x"}),
            items_array,
        ),
        (
            "items.set, items a number",
            "items.set",
            json!({"id": 1, "items": 5}),
            items_array,
        ),
        (
            "items.set, items a string on a missing lead",
            "items.set",
            json!({"id": 999, "items": "x"}),
            items_array,
        ),
        (
            "items.set, lead missing",
            "items.set",
            json!({"id": 999, "items": [{"CONTACT_ID": 1}]}),
            "Not found.",
        ),
        (
            "items.set, lead missing, empty items",
            "items.set",
            json!({"id": 999, "items": []}),
            "Not found.",
        ),
        (
            "items.set, lead and contact missing",
            "items.set",
            json!({"id": 999, "items": [{"CONTACT_ID": 999}]}),
            "Not found.",
        ),
    ];
    for (name, method, params, text) in cases {
        // Act
        let got = app
            .call(&format!("crm.lead.contact.{method}"), params.clone())
            .await;
        // Assert
        assert!(
            got.0 == 400 && got.1["error_description"] == text,
            "{name}: {params} → {} {}",
            got.0,
            got.1
        );
        assert_error(&got, 400, "", text);
        assert_state(&app, lead, &[(1, 10, true)], name).await;
    }
    assert_result(
        &app,
        "crm.lead.contact.items.get",
        json!({"id": 999}),
        json!([]),
        "no binding was created for the missing lead",
    )
    .await;

    // Anything else under the family is an unknown method (§1.2), checked before params.
    for method in [
        "crm.lead.contact.update",
        "crm.lead.contact.list",
        "crm.lead.contact.items",
        "crm.lead.contact.items.add",
    ] {
        assert_error(
            &app.call(method, json!({"id": 1})).await,
            404,
            "ERROR_METHOD_NOT_FOUND",
            "Method not found!",
        );
    }
}

#[tokio::test]
async fn fields_describes_sort_primary_and_contact_in_order() {
    // Arrange
    let app = TestApp::spawn().await;
    let want = r#"{"SORT":{"type":"integer","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"Sorting"},"IS_PRIMARY":{"type":"char","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"Primary"},"CONTACT_ID":{"type":"integer","isRequired":true,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"Contact"}}"#;
    for (name, got) in [
        (
            "JSON, no params",
            app.call("crm.lead.contact.fields", json!({})).await,
        ),
        (
            "form, stray params",
            app.form("crm.lead.contact.fields", "id=1&x=y").await,
        ),
    ] {
        // Assert
        assert_eq!(got.0, 200, "{name}: {}", got.1);
        assert_eq!(
            serde_json::to_string(&got.1["result"]).unwrap(),
            want,
            "{name}"
        );
    }
}

#[tokio::test]
async fn form_encoded_and_case_variant_calls_work_like_json() {
    // Arrange
    let app = TestApp::spawn().await;
    contacts(&app, 5).await;
    let lead = new_lead(&app).await;
    assert_eq!(lead, 1, "fresh lead id");
    let steps: [(&str, &str, &str, Value, &[Row]); 9] = [
        (
            "form add with brackets",
            "crm.lead.contact.add",
            "id=1&fields[CONTACT_ID]=1&fields[IS_PRIMARY]=Y",
            json!(true),
            &[(1, 10, true)],
        ),
        (
            "form add with percent-encoded brackets",
            "crm.lead.contact.add",
            "id=1&fields%5BCONTACT_ID%5D=2&fields%5BSORT%5D=5",
            json!(true),
            &[(2, 5, false), (1, 10, true)],
        ),
        (
            "form add with upper-case ID and FIELDS",
            "crm.lead.contact.add",
            "ID=1&FIELDS[CONTACT_ID]=3&FIELDS[IS_PRIMARY]=Y",
            json!(true),
            &[(2, 5, false), (1, 10, false), (3, 20, true)],
        ),
        (
            "form add with arFields and an id of 1abc",
            "crm.lead.contact.add",
            "id=1abc&arFields[CONTACT_ID]=4&arFields[SORT]=15",
            json!(true),
            &[(2, 5, false), (1, 10, false), (4, 15, false), (3, 20, true)],
        ),
        (
            "form add of an already bound contact",
            "crm.lead.contact.add",
            "id=1&fields[CONTACT_ID]=4&fields[IS_PRIMARY]=Y",
            json!(false),
            &[(2, 5, false), (1, 10, false), (4, 15, false), (3, 20, true)],
        ),
        (
            "form delete of the primary",
            "crm.lead.contact.delete",
            "id=1&fields[CONTACT_ID]=3",
            json!(true),
            &[(2, 5, true), (1, 10, false), (4, 15, false)],
        ),
        (
            "form items.set",
            "crm.lead.contact.items.set",
            "id=1&items[0][CONTACT_ID]=1&items[1][CONTACT_ID]=2&items[1][IS_PRIMARY]=Y",
            json!(true),
            &[(1, 10, false), (2, 20, true)],
        ),
        (
            "form items.set with percent-encoded brackets and upper-case names",
            "crm.lead.contact.items.set",
            "ID=1&ITEMS%5B0%5D%5BCONTACT_ID%5D=3&ITEMS%5B0%5D%5BSORT%5D=7&ITEMS%5B1%5D%5BCONTACT_ID%5D=4",
            json!(true),
            &[(3, 7, true), (4, 20, false)],
        ),
        (
            "form items.set with an empty-key list",
            "crm.lead.contact.items.set",
            "id=1&items[][CONTACT_ID]=5&items[][CONTACT_ID]=1",
            json!(true),
            &[(5, 10, true), (1, 20, false)],
        ),
    ];
    for (name, method, body, result, after) in steps {
        // Act
        let got = app.form(method, body).await;
        // Assert
        assert_result_body(&got, &result, name);
        assert_state(&app, lead, after, name).await;
    }

    // items.get form-encoded gives the same text as JSON.
    let got = app.form("crm.lead.contact.items.get", "id=1").await;
    assert_result_body(
        &got,
        &rows(&[(5, 10, true), (1, 20, false)]),
        "form items.get",
    );

    // A form cannot express an empty list: items missing → the "must be array" error.
    assert_error(
        &app.form("crm.lead.contact.items.set", "id=1").await,
        400,
        "",
        "The parameter items must be array.",
    );
    assert_error(
        &app.form("crm.lead.contact.add", "id=1&fields=5").await,
        400,
        "",
        "The parameter 'fields' must be array.",
    );

    // Method names are case-insensitive.
    let mixed = [
        (
            "CRM.Lead.Contact.Add",
            json!({"id": 1, "fields": {"CONTACT_ID": 2, "IS_PRIMARY": "Y"}}),
            json!(true),
            &[(5, 10, false), (1, 20, false), (2, 30, true)][..],
        ),
        (
            "CRM.LEAD.CONTACT.DELETE",
            json!({"ID": 1, "FIELDS": {"CONTACT_ID": 5}}),
            json!(true),
            &[(1, 20, false), (2, 30, true)][..],
        ),
        (
            "Crm.Lead.Contact.Items.Set",
            json!({"id": 1, "Items": [{"CONTACT_ID": 4}]}),
            json!(true),
            &[(4, 10, true)][..],
        ),
    ];
    for (method, params, result, after) in mixed {
        assert_result(&app, method, params, result, method).await;
        assert_state(&app, lead, after, method).await;
    }
    assert_result(
        &app,
        "Crm.Lead.Contact.Items.Get",
        json!({"id": 1}),
        rows(&[(4, 10, true)]),
        "mixed-case items.get",
    )
    .await;
    assert_result(
        &app,
        "CRM.LEAD.CONTACT.ITEMS.DELETE",
        json!({"id": 1}),
        json!(true),
        "upper-case items.delete",
    )
    .await;
    assert_state(&app, lead, &[], "after upper-case items.delete").await;

    // `ID` is read before `id`; a GET query string works like a body.
    assert_result(
        &app,
        "crm.lead.contact.add",
        json!({"ID": 1, "id": 999, "fields": {"CONTACT_ID": 3}}),
        json!(true),
        "ID wins over id",
    )
    .await;
    assert_state(&app, lead, &[(3, 10, true)], "after ID-over-id add").await;
    let got = app
        .get(&format!("{}crm.lead.contact.items.get?id=1", app.hook))
        .await;
    assert_result_body(&got, &rows(&[(3, 10, true)]), "GET items.get?id=1");
}

#[tokio::test]
async fn lead_add_with_contacts_binds_them_through_the_same_engine() {
    // Arrange
    let app = TestApp::spawn().await;
    let ids = contacts(&app, 2).await;
    let (a, b) = (ids[0], ids[1]);
    let cases: [(&str, Value, &[Row], &str); 5] = [
        (
            "CONTACT_IDS [a, b]",
            json!({"CONTACT_IDS": [a, b]}),
            &[(a, 10, true), (b, 20, false)],
            "Y",
        ),
        (
            "CONTACT_IDS with zeros and repeats skips them",
            json!({"CONTACT_IDS": [0, b, -1, b, a]}),
            &[(b, 10, true), (a, 20, false)],
            "Y",
        ),
        (
            "CONTACT_ID a",
            json!({"CONTACT_ID": a}),
            &[(a, 10, true)],
            "Y",
        ),
        (
            "CONTACT_ID as a string",
            json!({"CONTACT_ID": b.to_string()}),
            &[(b, 10, true)],
            "Y",
        ),
        ("no contacts", json!({"TITLE": "alone"}), &[], "N"),
    ];
    for (name, fields, after, returning) in cases {
        // Act
        let id = app.ok("crm.lead.add", json!({"fields": fields})).await;
        // Assert
        let lead = id
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: integer id {id}"));
        assert_state(&app, lead, after, name).await;
        let got = app.ok("crm.lead.get", json!({"id": lead})).await;
        assert_eq!(got["IS_RETURN_CUSTOMER"], returning, "{name}: {got}");
        assert!(
            got.get("CONTACT_IDS").is_none(),
            "{name}: CONTACT_IDS is write-only: {got}"
        );
    }

    // A missing contact rejects the whole lead.
    let last = app
        .ok("crm.lead.add", json!({"fields": {}}))
        .await
        .as_i64()
        .expect("id");
    for (name, fields) in [
        (
            "CONTACT_IDS with a missing id",
            json!({"CONTACT_IDS": [a, 999]}),
        ),
        ("CONTACT_ID missing", json!({"CONTACT_ID": 999})),
    ] {
        // Act
        let got = app.call("crm.lead.add", json!({"fields": fields})).await;
        // Assert
        assert_error(&got, 400, "", "Contact #999 is not found.");
        assert_error(
            &app.call("crm.lead.get", json!({"id": last + 1})).await,
            400,
            "",
            "Not found",
        );
        assert_result(
            &app,
            "crm.lead.contact.items.get",
            json!({"id": last + 1}),
            json!([]),
            &format!("{name}: no bindings for the rejected lead"),
        )
        .await;
    }
}

#[tokio::test]
async fn deleting_a_contact_or_a_lead_cascades_to_bindings() {
    // Arrange: contact 1 is primary on leads 1 and 3, non-primary on lead 2.
    let app = TestApp::spawn().await;
    let [c1, c2, c3] = <[i64; 3]>::try_from(contacts(&app, 3).await).unwrap();
    let (l1, l2, l3) = (
        new_lead(&app).await,
        new_lead(&app).await,
        new_lead(&app).await,
    );
    let sets = [
        (
            l1,
            json!([
                {"CONTACT_ID": c1, "SORT": 10, "IS_PRIMARY": "Y"},
                {"CONTACT_ID": c3, "SORT": 20},
                {"CONTACT_ID": c2, "SORT": 15}
            ]),
        ),
        (
            l2,
            json!([
                {"CONTACT_ID": c2, "IS_PRIMARY": "Y"},
                {"CONTACT_ID": c1},
                {"CONTACT_ID": c3}
            ]),
        ),
        (l3, json!([{"CONTACT_ID": c1}])),
    ];
    for (lead, items) in sets {
        app.ok(
            "crm.lead.contact.items.set",
            json!({"id": lead, "items": items}),
        )
        .await;
    }
    assert_state(
        &app,
        l1,
        &[(c1, 10, true), (c2, 15, false), (c3, 20, false)],
        "lead 1 before",
    )
    .await;
    assert_state(
        &app,
        l2,
        &[(c2, 10, true), (c1, 20, false), (c3, 30, false)],
        "lead 2 before",
    )
    .await;
    assert_state(&app, l3, &[(c1, 10, true)], "lead 3 before").await;

    // Act: delete contact 1.
    assert_result(
        &app,
        "crm.contact.delete",
        json!({"id": c1}),
        json!(true),
        "delete contact 1",
    )
    .await;

    // Assert: each lead lost it and re-elected by SORT where it was primary.
    assert_state(
        &app,
        l1,
        &[(c2, 15, true), (c3, 20, false)],
        "lead 1: lowest SORT re-elected",
    )
    .await;
    assert_state(
        &app,
        l2,
        &[(c2, 10, true), (c3, 30, false)],
        "lead 2: primary kept",
    )
    .await;
    assert_state(&app, l3, &[], "lead 3: empty, CONTACT_ID null").await;
    assert_error(
        &app.call(
            "crm.lead.contact.add",
            json!({"id": l3, "fields": {"CONTACT_ID": c1}}),
        )
        .await,
        400,
        "",
        &format!("Contact #{c1} is not found."),
    );
    assert_state(&app, l3, &[], "a deleted contact cannot be bound again").await;

    // Act: delete lead 2.
    assert_result(
        &app,
        "crm.lead.delete",
        json!({"id": l2}),
        json!(true),
        "delete lead 2",
    )
    .await;

    // Assert: no rows left for lead 2, the others untouched, contacts still exist.
    assert_result(
        &app,
        "crm.lead.contact.items.get",
        json!({"id": l2}),
        json!([]),
        "items.get of the deleted lead",
    )
    .await;
    let stored = app
        .services
        .store
        .bindings(LEAD_CONTACT, l2)
        .await
        .expect("store read");
    assert_eq!(
        stored,
        Vec::<Binding>::new(),
        "store rows of deleted lead 2"
    );
    assert_state(
        &app,
        l1,
        &[(c2, 15, true), (c3, 20, false)],
        "lead 1 after deleting lead 2",
    )
    .await;
    for c in [c2, c3] {
        app.ok("crm.contact.get", json!({"id": c})).await;
    }
    let stored = app
        .services
        .store
        .bindings(LEAD_CONTACT, l1)
        .await
        .expect("store read");
    assert_eq!(
        stored,
        vec![
            Binding {
                bound_id: c2,
                sort: 15,
                role_id: 0,
                is_primary: true
            },
            Binding {
                bound_id: c3,
                sort: 20,
                role_id: 0,
                is_primary: false
            },
        ],
        "store rows of lead 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_binding_calls_keep_every_lead_consistent() {
    // Arrange: 3 leads, 6 contacts.
    let app = TestApp::spawn().await;
    let contacts = contacts(&app, 6).await;
    let mut leads = Vec::new();
    for _ in 0..3 {
        leads.push(new_lead(&app).await);
    }
    const CALLS: usize = 300;
    let mut tasks = tokio::task::JoinSet::new();

    // Act: fire every call at once over real HTTP.
    for i in 0..CALLS {
        let lead = leads[i % 3];
        let contact = contacts[(i * 7 + i / 5) % 6];
        let (method, params) = match i % 4 {
            0 => (
                "crm.lead.contact.add",
                json!({"id": lead, "fields": {"CONTACT_ID": contact, "IS_PRIMARY": "Y"}}),
            ),
            1 => (
                "crm.lead.contact.add",
                json!({"id": lead, "fields": {"CONTACT_ID": contact, "SORT": (i % 5) * 10}}),
            ),
            2 => (
                "crm.lead.contact.delete",
                json!({"id": lead, "fields": {"CONTACT_ID": contact}}),
            ),
            _ => {
                let other = contacts[(i * 5 + 1) % 6];
                let third = contacts[(i / 3) % 6];
                (
                    "crm.lead.contact.items.set",
                    json!({"id": lead, "items": [
                        {"CONTACT_ID": contact},
                        {"CONTACT_ID": other, "IS_PRIMARY": if i % 8 == 3 { "Y" } else { "N" }},
                        {"CONTACT_ID": third, "SORT": i % 30}
                    ]}),
                )
            }
        };
        let client = app.client.clone();
        let url = format!("{}{method}", app.hook);
        tasks.spawn(async move {
            let res = client
                .post(url)
                .json(&params)
                .send()
                .await
                .expect("request");
            (i, method, params, read(res).await)
        });
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, method, params, (status, body)) = joined.expect("task");
        assert!(
            status == 200 && body["result"].is_boolean() && body.get("error").is_none(),
            "call #{i} {method} {params} → {status} {body}"
        );
        done += 1;
    }
    assert_eq!(done, CALLS, "every call answered");

    // Assert: every lead has a consistent set.
    for lead in leads {
        let got = app
            .ok("crm.lead.contact.items.get", json!({"id": lead}))
            .await;
        let set = got.as_array().expect("array");
        let ids: Vec<i64> = set
            .iter()
            .map(|b| b["CONTACT_ID"].as_i64().expect("integer CONTACT_ID"))
            .collect();
        let unique: HashSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "lead {lead}: duplicate ids {got}");
        let keys: Vec<(i64, i64)> = set
            .iter()
            .map(|b| {
                (
                    b["SORT"].as_i64().expect("SORT"),
                    b["CONTACT_ID"].as_i64().unwrap(),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            keys, sorted,
            "lead {lead}: ordered by SORT, CONTACT_ID: {got}"
        );
        let primaries: Vec<i64> = set
            .iter()
            .filter(|b| b["IS_PRIMARY"] == "Y")
            .map(|b| b["CONTACT_ID"].as_i64().unwrap())
            .collect();
        assert!(
            set.iter()
                .all(|b| b["IS_PRIMARY"] == "Y" || b["IS_PRIMARY"] == "N"),
            "lead {lead}: Y/N flags {got}"
        );
        let expected_primary = if set.is_empty() {
            assert!(primaries.is_empty(), "lead {lead}: {got}");
            Value::Null
        } else {
            assert_eq!(
                primaries.len(),
                1,
                "lead {lead}: exactly one primary: {got}"
            );
            json!(primaries[0].to_string())
        };
        assert_eq!(
            lead_contact_id(&app, lead).await,
            expected_primary,
            "lead {lead}: CONTACT_ID mirrors the primary of {got}"
        );
        let stored = app
            .services
            .store
            .bindings(LEAD_CONTACT, lead)
            .await
            .expect("store read");
        let stored_rows: Vec<Row> = stored
            .iter()
            .map(|b| (b.bound_id, b.sort, b.is_primary))
            .collect();
        assert_eq!(rows(&stored_rows), got, "lead {lead}: store and API agree");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_deleted_during_concurrent_binding_never_leave_dangling_rows() {
    // Arrange: 3 leads, 12 contacts; the even-numbered contacts get deleted mid-flight.
    let app = TestApp::spawn().await;
    let contacts = contacts(&app, 12).await;
    let mut leads = Vec::new();
    for _ in 0..3 {
        leads.push(new_lead(&app).await);
    }
    let doomed: HashSet<i64> = contacts.iter().copied().filter(|c| c % 2 == 0).collect();
    let mut calls: Vec<(&str, Value)> = Vec::new();
    for (i, &c) in contacts.iter().enumerate() {
        for (j, &lead) in leads.iter().enumerate() {
            calls.push((
                "crm.lead.contact.add",
                json!({"id": lead, "fields": {"CONTACT_ID": c, "IS_PRIMARY": if (i + j) % 3 == 0 { "Y" } else { "N" }}}),
            ));
        }
        if doomed.contains(&c) {
            calls.push(("crm.contact.delete", json!({"id": c})));
        }
        let lead = leads[i % 3];
        calls.push((
            "crm.lead.contact.items.set",
            json!({"id": lead, "items": [{"CONTACT_ID": c}, {"CONTACT_ID": contacts[(i + 1) % 12]}]}),
        ));
    }
    let mut tasks = tokio::task::JoinSet::new();

    // Act
    for (method, params) in calls {
        let client = app.client.clone();
        let url = format!("{}{method}", app.hook);
        tasks.spawn(async move {
            let res = client
                .post(url)
                .json(&params)
                .send()
                .await
                .expect("request");
            (method, params, read(res).await)
        });
    }

    // Assert: every answer is a boolean result or the missing-contact error.
    while let Some(joined) = tasks.join_next().await {
        let (method, params, (status, body)) = joined.expect("task");
        let ok = status == 200 && body["result"].is_boolean();
        let gone = status == 400
            && body["error"] == ""
            && body["error_description"]
                .as_str()
                .is_some_and(|t| t.starts_with("Contact #") && t.ends_with(" is not found."));
        assert!(ok || gone, "{method} {params} → {status} {body}");
        if method == "crm.contact.delete" {
            assert_eq!(body["result"], json!(true), "{params} → {body}");
        }
    }
    for lead in leads {
        let got = app
            .ok("crm.lead.contact.items.get", json!({"id": lead}))
            .await;
        let set = got.as_array().expect("array");
        assert!(
            set.iter()
                .all(|b| !doomed.contains(&b["CONTACT_ID"].as_i64().unwrap())),
            "lead {lead}: a deleted contact is still bound: {got}"
        );
        let primaries: Vec<&Value> = set.iter().filter(|b| b["IS_PRIMARY"] == "Y").collect();
        let want = if set.is_empty() {
            Value::Null
        } else {
            assert_eq!(primaries.len(), 1, "lead {lead}: one primary: {got}");
            json!(primaries[0]["CONTACT_ID"].as_i64().unwrap().to_string())
        };
        assert_eq!(
            lead_contact_id(&app, lead).await,
            want,
            "lead {lead}: CONTACT_ID mirrors the primary of {got}"
        );
    }
}
