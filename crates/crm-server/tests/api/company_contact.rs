//! Contact ↔ company seen from both sides. One stored relation: `crm.contact.company.*`
//! edits a contact's companies (one primary, mirrored in the contact's `COMPANY_ID`);
//! `crm.company.contact.*` shows the same rows from the company, where `IS_PRIMARY` is
//! still each contact's own flag (several rows may be "Y"), and binding a contact there
//! makes the company that contact's primary. After every step both views and the
//! mirror columns are checked against the exact expected rows.

use crate::helpers::{TestApp, assert_error};
use serde_json::{Value, json};

/// One expected row: the other side's id, SORT, the contact's primary flag.
type Row = (i64, i64, bool);

fn rows(key: &str, set: &[Row]) -> Value {
    Value::Array(
        set.iter()
            .map(|&(id, sort, primary)| {
                json!({key: id, "SORT": sort, "ROLE_ID": 0,
                       "IS_PRIMARY": if primary { "Y" } else { "N" }})
            })
            .collect(),
    )
}

/// Both sides after a step: each contact's companies (and its `COMPANY_ID`), each
/// company's contacts.
async fn assert_sides(
    app: &TestApp,
    contacts: &[(i64, &[Row])],
    companies: &[(i64, &[Row])],
    step: &str,
) {
    for (contact, want) in contacts {
        let got = app
            .ok("crm.contact.company.items.get", json!({"id": contact}))
            .await;
        assert_eq!(
            got.to_string(),
            rows("COMPANY_ID", want).to_string(),
            "{step}: companies of contact {contact}"
        );
        let primary = want
            .iter()
            .find(|r| r.2)
            .map_or(Value::Null, |r| json!(r.0.to_string()));
        let row = app.ok("crm.contact.get", json!({"id": contact})).await;
        assert_eq!(
            row["COMPANY_ID"], primary,
            "{step}: COMPANY_ID of contact {contact}"
        );
    }
    for (company, want) in companies {
        let got = app
            .ok("crm.company.contact.items.get", json!({"id": company}))
            .await;
        assert_eq!(
            got.to_string(),
            rows("CONTACT_ID", want).to_string(),
            "{step}: contacts of company {company}"
        );
    }
}

async fn call_true(app: &TestApp, method: &str, params: Value, want: bool) {
    let got = app.ok(method, params.clone()).await;
    assert_eq!(got, json!(want), "{method} {params}");
}

#[tokio::test]
async fn both_sides_follow_the_portal_rules() {
    let app = TestApp::spawn().await;
    for title in ["A", "B"] {
        app.ok("crm.company.add", json!({"fields": {"TITLE": title}}))
            .await;
    }
    for name in ["X", "Y", "Z"] {
        app.ok("crm.contact.add", json!({"fields": {"NAME": name}}))
            .await;
    }
    let (a, b) = (1, 2);
    let (x, y, z) = (1, 2, 3);

    // From the contact: the first company is primary, the second is not.
    let add = "crm.contact.company.add";
    call_true(
        &app,
        add,
        json!({"id": x, "fields": {"COMPANY_ID": a}}),
        true,
    )
    .await;
    call_true(
        &app,
        add,
        json!({"id": x, "fields": {"COMPANY_ID": b}}),
        true,
    )
    .await;
    assert_sides(
        &app,
        &[(x, &[(a, 10, true), (b, 20, false)])],
        &[(a, &[(x, 10, true)]), (b, &[(x, 20, false)])],
        "contact X binds A then B",
    )
    .await;

    // From the company: binding Y makes B Y's primary; SORT continues B's rows.
    let cadd = "crm.company.contact.add";
    call_true(
        &app,
        cadd,
        json!({"id": b, "fields": {"CONTACT_ID": y, "IS_PRIMARY": "N"}}),
        true,
    )
    .await;
    call_true(
        &app,
        cadd,
        json!({"id": b, "fields": {"CONTACT_ID": x}}),
        false,
    )
    .await;
    assert_sides(
        &app,
        &[(x, &[(a, 10, true), (b, 20, false)]), (y, &[(b, 30, true)])],
        &[(b, &[(x, 20, false), (y, 30, true)])],
        "company B binds Y; X again is refused",
    )
    .await;

    // items.set from A: X and Z, both with A as their primary: two "Y" rows.
    call_true(
        &app,
        "crm.company.contact.items.set",
        json!({"id": a, "items": [{"CONTACT_ID": x}, {"CONTACT_ID": z}]}),
        true,
    )
    .await;
    assert_sides(
        &app,
        &[(x, &[(a, 10, true), (b, 20, false)]), (z, &[(a, 20, true)])],
        &[(a, &[(x, 10, true), (z, 20, true)])],
        "company A sets X and Z",
    )
    .await;

    // items.set from B: only X, which now has B as primary; Y loses B.
    call_true(
        &app,
        "crm.company.contact.items.set",
        json!({"id": b, "items": [{"CONTACT_ID": x}]}),
        true,
    )
    .await;
    assert_sides(
        &app,
        &[(x, &[(a, 10, false), (b, 10, true)]), (y, &[])],
        &[(a, &[(x, 10, false), (z, 20, true)]), (b, &[(x, 10, true)])],
        "company B sets X only",
    )
    .await;

    // delete from B: X keeps A, re-elected as its primary (a portal leaves no primary).
    let cdel = "crm.company.contact.delete";
    call_true(
        &app,
        cdel,
        json!({"id": b, "fields": {"CONTACT_ID": x}}),
        true,
    )
    .await;
    call_true(
        &app,
        cdel,
        json!({"id": b, "fields": {"CONTACT_ID": x}}),
        false,
    )
    .await;
    assert_sides(
        &app,
        &[(x, &[(a, 10, true)])],
        &[(a, &[(x, 10, true), (z, 20, true)]), (b, &[])],
        "company B lets X go",
    )
    .await;

    // The contact side sees the company side's work and can change it back.
    call_true(
        &app,
        "crm.contact.company.items.set",
        json!({"id": z, "items": [{"COMPANY_ID": b}, {"COMPANY_ID": a}]}),
        true,
    )
    .await;
    assert_sides(
        &app,
        &[(z, &[(b, 10, true), (a, 20, false)])],
        &[(a, &[(x, 10, true), (z, 20, false)]), (b, &[(z, 10, true)])],
        "contact Z sets B then A",
    )
    .await;

    // items.delete from A: every contact loses A, primaries re-elected.
    call_true(
        &app,
        "crm.company.contact.items.delete",
        json!({"id": a}),
        true,
    )
    .await;
    assert_sides(
        &app,
        &[(x, &[]), (z, &[(b, 10, true)])],
        &[(a, &[]), (b, &[(z, 10, true)])],
        "company A clears its contacts",
    )
    .await;

    // Deleting a company unbinds it everywhere; deleting a contact drops its rows.
    call_true(
        &app,
        cadd,
        json!({"id": b, "fields": {"CONTACT_ID": x}}),
        true,
    )
    .await;
    app.ok("crm.company.delete", json!({"id": b})).await;
    assert_sides(
        &app,
        &[(x, &[]), (z, &[])],
        &[(b, &[])],
        "company B deleted",
    )
    .await;
    call_true(
        &app,
        cadd,
        json!({"id": a, "fields": {"CONTACT_ID": y}}),
        true,
    )
    .await;
    app.ok("crm.contact.delete", json!({"id": y})).await;
    assert_sides(&app, &[], &[(a, &[])], "contact Y deleted").await;
}

#[tokio::test]
async fn the_company_side_checks_both_ends() {
    let app = TestApp::spawn().await;
    app.ok("crm.company.add", json!({"fields": {"TITLE": "A"}}))
        .await;
    app.ok("crm.contact.add", json!({"fields": {"NAME": "X"}}))
        .await;
    let fields = app.ok("crm.company.contact.fields", json!({})).await;
    let names: Vec<&String> = fields.as_object().unwrap().keys().collect();
    assert_eq!(names, ["SORT", "IS_PRIMARY", "CONTACT_ID"]);
    assert_eq!(fields["CONTACT_ID"]["title"], "Contact");
    for (method, params, text) in [
        (
            "crm.company.contact.add",
            json!({"id": 9, "fields": {"CONTACT_ID": 1}}),
            "Not found.",
        ),
        (
            "crm.company.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": 99}}),
            "Contact #99 is not found.",
        ),
        (
            "crm.company.contact.items.set",
            json!({"id": 1, "items": [{"CONTACT_ID": 1}, {"CONTACT_ID": 98}]}),
            "Contact #98 is not found.",
        ),
        (
            "crm.company.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": 0}}),
            "The parameter 'fields' is not valid.",
        ),
        (
            "crm.contact.company.add",
            json!({"id": 1, "fields": {"COMPANY_ID": 7}}),
            "Company #7 is not found.",
        ),
        (
            "crm.contact.add",
            json!({"fields": {"NAME": "Y", "COMPANY_ID": 7}}),
            "Company #7 is not found.",
        ),
    ] {
        assert_error(&app.call(method, params.clone()).await, 400, "", text);
    }
    // Nothing was bound by the refused calls.
    assert_eq!(
        app.ok("crm.company.contact.items.get", json!({"id": 1}))
            .await,
        json!([])
    );
    // A missing company reads as an empty set.
    assert_eq!(
        app.ok("crm.company.contact.items.get", json!({"id": 9}))
            .await,
        json!([])
    );
    // COMPANY_IDS on contact add binds through the same relation.
    let id = app
        .ok(
            "crm.contact.add",
            json!({"fields": {"NAME": "Z", "COMPANY_IDS": [1]}}),
        )
        .await;
    assert_eq!(
        app.ok("crm.company.contact.items.get", json!({"id": 1}))
            .await,
        rows("CONTACT_ID", &[(id.as_i64().unwrap(), 10, true)])
    );
}

#[tokio::test]
async fn a_company_binds_its_contacts_on_add_and_update() {
    let app = TestApp::spawn().await;
    for name in ["X", "Y", "Z"] {
        app.ok("crm.contact.add", json!({"fields": {"NAME": name}}))
            .await;
    }
    let (x, y, z) = (1, 2, 3);
    // Y already has a company of its own, which it keeps as a non-primary one.
    app.ok("crm.company.add", json!({"fields": {"TITLE": "Old"}}))
        .await;
    call_true(
        &app,
        "crm.contact.company.add",
        json!({"id": y, "fields": {"COMPANY_ID": 1}}),
        true,
    )
    .await;
    let acme = app
        .ok(
            "crm.company.add",
            json!({"fields": {"TITLE": "Acme", "CONTACT_ID": [x, y, x, 0]}}),
        )
        .await;
    assert_eq!(acme, json!(2));
    assert_sides(
        &app,
        &[(x, &[(2, 10, true)]), (y, &[(1, 10, false), (2, 10, true)])],
        &[(2, &[(x, 10, true), (y, 10, true)]), (1, &[(y, 10, false)])],
        "company add with CONTACT_ID",
    )
    .await;
    // Update replaces the company's contacts: X leaves (Y keeps Acme), Z joins.
    app.ok(
        "crm.company.update",
        json!({"id": 2, "fields": {"CONTACT_ID": [y, z]}}),
    )
    .await;
    assert_sides(
        &app,
        &[
            (x, &[]),
            (y, &[(1, 10, false), (2, 10, true)]),
            (z, &[(2, 10, true)]),
        ],
        &[(2, &[(y, 10, true), (z, 10, true)])],
        "company update with CONTACT_ID",
    )
    .await;
    // A missing contact refuses the whole call: no company, no binding.
    assert_error(
        &app.call(
            "crm.company.add",
            json!({"fields": {"TITLE": "Ghost", "CONTACT_ID": [x, 99]}}),
        )
        .await,
        400,
        "",
        "Contact #99 is not found.",
    );
    let (_, listed) = app
        .call("crm.company.list", json!({"filter": {"TITLE": "Ghost"}}))
        .await;
    assert_eq!(listed["total"], 0, "{listed}");
    assert_sides(&app, &[(x, &[])], &[], "after the refused add").await;
    // An empty list clears them.
    app.ok(
        "crm.company.update",
        json!({"id": 2, "fields": {"CONTACT_ID": []}}),
    )
    .await;
    assert_sides(
        &app,
        &[(y, &[(1, 10, true)]), (z, &[])],
        &[(2, &[])],
        "company update with an empty CONTACT_ID",
    )
    .await;
}
