//! The binding families (`crm.lead.contact.*` today; `crm.deal.contact.*`,
//! `crm.contact.company.*`, … as further rows) end to end over real HTTP, all from one
//! table, [`FAMILIES`]: every test runs its body once per family — the state table of
//! spec §1.4, the seed scenario, `items.*`, every error row, form encodings, owner add
//! with bound ids, cascades on delete, and concurrent edits.
//!
//! After every step both views of an owner's set are checked: `<prefix>.items.get`
//! (exact JSON text, so key order and value types count) and `<owner>.get` → the mirror
//! column (`CONTACT_ID` on a lead). Every assertion message names its family's prefix.
//!
//! A new family is one more [`Family`] row in [`FAMILIES`].

use crate::helpers::{TestApp, read};
use crm_core::binding::{Binding, BindingKind, LEAD_CONTACT};
use crm_core::entity::{CONTACT_COMPANY, DEAL_CONTACT};
use serde_json::{Value, json};
use std::collections::HashSet;

/// One binding family: an owner entity bound to many entities of another type. Everything
/// the tests need to know that differs from one family to the next.
struct Family {
    /// The method prefix: `crm.lead.contact`.
    prefix: &'static str,
    /// The server's binding kind, for reading the store directly.
    kind: BindingKind,
    /// The owner entity's method prefix: `crm.lead`.
    owner: &'static str,
    /// Fields that create an owner with `<owner>.add`.
    owner_fields: fn() -> Value,
    /// The bound entity's method prefix: `crm.contact`.
    bound: &'static str,
    /// Fields that create a bound entity with `<bound>.add`.
    bound_fields: fn() -> Value,
    /// The bound id's key inside `fields`/`items` and in `items.get` rows: `CONTACT_ID`.
    bound_key: &'static str,
    /// The owner's column that mirrors the primary (read with `<owner>.get`): `CONTACT_ID`.
    mirror: &'static str,
    /// The owner's write-only field that sets the whole set on owner add: `CONTACT_IDS`.
    ids_field: &'static str,
    /// The bound entity's title in error texts ("Contact #999 is not found.") and in the
    /// `fields` description.
    bound_title: &'static str,
    /// Leads only: the owner field that reads `Y` once the owner has bound entities
    /// (`IS_RETURN_CUSTOMER`); `None` for an owner without such a field.
    returning_flag: Option<&'static str>,
    /// `add`/`delete` with a bad owner id.
    owner_invalid: &'static str,
    /// `items.*` with a bad owner id.
    owner_invalid_items: &'static str,
    /// `add` whose `fields` is not an array.
    fields_not_array: &'static str,
    /// `delete` whose `fields` is not an array.
    item_not_array: &'static str,
    /// `add`/`delete` with a missing or invalid bound id.
    fields_not_valid: &'static str,
    /// `items.set` whose `items` is not an array.
    items_not_array: &'static str,
    /// `add`/`delete`/`items.set` on a missing owner.
    owner_missing: &'static str,
    /// `<owner>.get` of a missing owner.
    owner_get_missing: &'static str,
    /// `items.get`/`items.delete` on a missing owner: `None` reads as an empty set (`[]`,
    /// `true`), `Some(text)` is that error (deals: "Not found").
    items_owner_missing: Option<&'static str>,
    /// The relation seen from its bound side (`crm.company.contact.*`): the "owner" is
    /// the company, `IS_PRIMARY` is each listed contact's own flag (every contact bound
    /// only here shows "Y"), and the mirror column is on the listed entities (each one's
    /// `COMPANY_ID` names the company).
    reverse: bool,
}

impl Family {
    /// A method of the family: `m("items.get")` → `crm.lead.contact.items.get`.
    fn m(&self, method: &str) -> String {
        format!("{}.{method}", self.prefix)
    }

    /// A method of the owner entity: `crm.lead.get`.
    fn owner_m(&self, method: &str) -> String {
        format!("{}.{method}", self.owner)
    }

    /// A method of the bound entity: `crm.contact.delete`.
    fn bound_m(&self, method: &str) -> String {
        format!("{}.{method}", self.bound)
    }

    /// The error text for a missing bound entity: "Contact #999 is not found.".
    fn bound_missing(&self, id: i64) -> String {
        format!("{} #{id} is not found.", self.bound_title)
    }
}

/// Leads ↔ contacts (`crm.lead.contact.*`), the seed issue.
const LEAD_CONTACT_FAMILY: Family = Family {
    prefix: "crm.lead.contact",
    kind: LEAD_CONTACT,
    owner: "crm.lead",
    owner_fields: || json!({"TITLE": "Binding test"}),
    bound: "crm.contact",
    bound_fields: || json!({"NAME": "Test"}),
    bound_key: "CONTACT_ID",
    mirror: "CONTACT_ID",
    ids_field: "CONTACT_IDS",
    bound_title: "Contact",
    returning_flag: Some("IS_RETURN_CUSTOMER"),
    owner_invalid: "The parameter 'ownerEntityID' is invalid or not defined.",
    owner_invalid_items: "The parameter ownerEntityID is invalid or not defined.",
    fields_not_array: "The parameter 'fields' must be array.",
    item_not_array: "The parameter 'item' must be array.",
    fields_not_valid: "The parameter 'fields' is not valid.",
    items_not_array: "The parameter items must be array.",
    owner_missing: "Not found.",
    owner_get_missing: "Not found",
    items_owner_missing: None,
    reverse: false,
};

/// Contacts ↔ companies seen from the contact (`crm.contact.company.*`).
const CONTACT_COMPANY_FAMILY: Family = Family {
    prefix: "crm.contact.company",
    kind: CONTACT_COMPANY,
    owner: "crm.contact",
    owner_fields: || json!({"NAME": "Binding test"}),
    bound: "crm.company",
    bound_fields: || json!({"TITLE": "Test"}),
    bound_key: "COMPANY_ID",
    mirror: "COMPANY_ID",
    ids_field: "COMPANY_IDS",
    bound_title: "Company",
    returning_flag: None,
    ..LEAD_CONTACT_FAMILY
};

/// Contacts ↔ companies seen from the company (`crm.company.contact.*`). Only the tests
/// whose entities are each bound to one owner run it (see `shared_entities`); the others
/// are covered with exact rows of both sides in `company_contact.rs` and, for concurrent
/// edits, in the store's conformance suite.
const COMPANY_CONTACT_FAMILY: Family = Family {
    prefix: "crm.company.contact",
    kind: CONTACT_COMPANY,
    owner: "crm.company",
    owner_fields: || json!({"TITLE": "Binding test"}),
    bound: "crm.contact",
    bound_fields: || json!({"NAME": "Test"}),
    bound_key: "CONTACT_ID",
    mirror: "COMPANY_ID",
    ids_field: "",
    bound_title: "Contact",
    returning_flag: None,
    reverse: true,
    ..LEAD_CONTACT_FAMILY
};

/// Whether a test that binds one entity to several owners (or needs an owner's ids
/// field) applies: not from the bound side, where those entities' flags follow the
/// last company that bound them.
fn shared_entities(fam: &Family) -> bool {
    !fam.reverse
}

/// Deals ↔ contacts (`crm.deal.contact.*`).
const DEAL_CONTACT_FAMILY: Family = Family {
    prefix: "crm.deal.contact",
    kind: DEAL_CONTACT,
    owner: "crm.deal",
    owner_fields: || json!({"TITLE": "Binding test"}),
    returning_flag: None,
    items_owner_missing: Some("Not found"),
    ..LEAD_CONTACT_FAMILY
};

/// Every binding family the server serves; each test runs once per row.
const FAMILIES: &[Family] = &[
    LEAD_CONTACT_FAMILY,
    DEAL_CONTACT_FAMILY,
    CONTACT_COMPANY_FAMILY,
    COMPANY_CONTACT_FAMILY,
];

/// One expected binding: bound id, SORT, primary.
type Row = (i64, i64, bool);

/// The `items.get` array for a set, keys in the portal's order.
fn rows(fam: &Family, set: &[Row]) -> Value {
    Value::Array(
        set.iter()
            .map(|&(id, sort, primary)| {
                json!({
                    fam.bound_key: id,
                    "SORT": sort,
                    "ROLE_ID": 0,
                    "IS_PRIMARY": if primary || fam.reverse { "Y" } else { "N" },
                })
            })
            .collect(),
    )
}

/// `fields` (or `extra`) merged over `base`: the owner fields plus a test's own.
fn with(base: Value, extra: Value) -> Value {
    let mut out = base.as_object().cloned().expect("object base");
    out.extend(extra.as_object().cloned().expect("object extra"));
    Value::Object(out)
}

/// `crm.lead.contact.items.set` → `Crm.Lead.Contact.Items.Set`.
fn title_case(method: &str) -> String {
    method
        .split('.')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Calls a method that must succeed; returns `result`. Like [`TestApp::ok`], with the
/// family in the message.
async fn ok(app: &TestApp, fam: &Family, method: &str, params: Value) -> Value {
    let (status, body) = app.call(method, params.clone()).await;
    assert_eq!(status, 200, "{}: {method} {params} → {body}", fam.prefix);
    assert!(
        body.get("error").is_none(),
        "{}: {method} → {body}",
        fam.prefix
    );
    body["result"].clone()
}

/// Asserts a Bitrix error envelope: code, text, status, and no `result`/`time`. Like
/// `helpers::assert_error`, with the family and the step in the message.
fn assert_err(fam: &Family, step: &str, got: &(u16, Value), status: u16, code: &str, text: &str) {
    let (s, body) = got;
    assert_eq!(
        (
            *s,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (status, Some(code), Some(text)),
        "{}: {step} → {body}",
        fam.prefix
    );
    assert!(
        body.get("result").is_none() && body.get("time").is_none(),
        "{}: {step} → {body}",
        fam.prefix
    );
}

/// Creates a bound entity; returns its id (a JSON integer).
async fn new_bound(app: &TestApp, fam: &Family) -> i64 {
    let id = ok(
        app,
        fam,
        &fam.bound_m("add"),
        json!({"fields": (fam.bound_fields)()}),
    )
    .await;
    id.as_i64()
        .unwrap_or_else(|| panic!("{}: integer {} id: {id}", fam.prefix, fam.bound))
}

/// Creates `n` bound entities; on a fresh server their ids are 1..=n.
async fn bound_entities(app: &TestApp, fam: &Family, n: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(new_bound(app, fam).await);
    }
    assert_eq!(
        ids,
        (1..=n).collect::<Vec<_>>(),
        "{}: fresh {} ids are 1..={n}",
        fam.prefix,
        fam.bound
    );
    ids
}

/// Creates an owner without bound entities; returns its id.
async fn new_owner(app: &TestApp, fam: &Family) -> i64 {
    let id = ok(
        app,
        fam,
        &fam.owner_m("add"),
        json!({"fields": (fam.owner_fields)()}),
    )
    .await;
    id.as_i64()
        .unwrap_or_else(|| panic!("{}: integer {} id: {id}", fam.prefix, fam.owner))
}

/// The owner's mirror column (`CONTACT_ID` of a lead) as `<owner>.get` shows it.
async fn mirror(app: &TestApp, fam: &Family, owner: i64) -> Value {
    ok(app, fam, &fam.owner_m("get"), json!({"id": owner})).await[fam.mirror].clone()
}

/// Asserts both views of the owner's binding set: `items.get` (exact text) and the
/// owner's mirror column (the primary's id as a string, or null).
async fn assert_state(app: &TestApp, fam: &Family, owner: i64, set: &[Row], step: &str) {
    let got = ok(app, fam, &fam.m("items.get"), json!({"id": owner})).await;
    let want = rows(fam, set);
    assert_eq!(
        serde_json::to_string(&got).unwrap(),
        serde_json::to_string(&want).unwrap(),
        "{}: {step}: items.get of owner {owner}",
        fam.prefix
    );
    if fam.reverse {
        // Each listed entity names the owner in its own mirror column.
        for (id, _, _) in set {
            let listed = ok(app, fam, &fam.bound_m("get"), json!({"id": id})).await;
            assert_eq!(
                listed[fam.mirror],
                json!(owner.to_string()),
                "{}: {step}: {}.get {} of {id}",
                fam.prefix,
                fam.bound,
                fam.mirror
            );
        }
        return;
    }
    let primary = set
        .iter()
        .find(|(_, _, p)| *p)
        .map_or(Value::Null, |(id, _, _)| json!(id.to_string()));
    assert_eq!(
        mirror(app, fam, owner).await,
        primary,
        "{}: {step}: {}.get {} of owner {owner}",
        fam.prefix,
        fam.owner,
        fam.mirror
    );
}

/// A missing owner has no set: nothing in the store, and `items.get` answers as the family
/// does for a missing owner (`[]`, or its error).
async fn assert_no_set(app: &TestApp, fam: &Family, owner: i64, step: &str) {
    let store = &app.services.store;
    let stored: Vec<Binding> = if fam.reverse {
        store
            .holders(fam.kind, owner)
            .await
            .map(|rows| rows.into_iter().map(|(_, b)| b).collect())
    } else {
        store.bindings(fam.kind, owner).await
    }
    .unwrap_or_else(|e| panic!("{}: {step}: store read: {e}", fam.prefix));
    assert_eq!(
        stored,
        Vec::<Binding>::new(),
        "{}: {step}: store rows",
        fam.prefix
    );
    let got = app.call(&fam.m("items.get"), json!({"id": owner})).await;
    match fam.items_owner_missing {
        None => assert_result_body(fam, &got, &json!([]), step),
        Some(text) => assert_err(fam, step, &got, 400, "", text),
    }
}

/// Calls a method that must answer HTTP 200 with exactly `expected` as `result`.
async fn assert_result(
    app: &TestApp,
    fam: &Family,
    method: &str,
    params: Value,
    expected: Value,
    step: &str,
) {
    let (status, body) = app.call(method, params.clone()).await;
    assert_result_body(
        fam,
        &(status, body),
        &expected,
        &format!("{step}: {method} {params}"),
    );
}

/// The success envelope: HTTP 200, `result` as expected, a `time` object, no `error`.
fn assert_result_body(fam: &Family, got: &(u16, Value), expected: &Value, step: &str) {
    let (status, body) = got;
    let p = fam.prefix;
    assert_eq!(*status, 200, "{p}: {step} → {body}");
    assert_eq!(&body["result"], expected, "{p}: {step} → {body}");
    assert!(body["time"].is_object(), "{p}: {step}: no time → {body}");
    assert!(body.get("error").is_none(), "{p}: {step}: error → {body}");
}

/// Binds entities one by one with plain `add` calls (no SORT, no flag).
async fn bind_in_order(app: &TestApp, fam: &Family, owner: i64, ids: &[i64]) {
    for &c in ids {
        assert_result(
            app,
            fam,
            &fam.m("add"),
            json!({"id": owner, "fields": {fam.bound_key: c}}),
            json!(true),
            "arrange",
        )
        .await;
    }
}

#[tokio::test]
async fn add_follows_every_row_of_the_state_table() {
    for fam in FAMILIES {
        // Arrange: bound entities 1..=7, so the table's ids 5 and 7 are real.
        let app = TestApp::spawn().await;
        bound_entities(&app, fam, 7).await;
        let k = fam.bound_key;
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
                fields: json!({k: 5}),
                result: true,
                after: &[(5, 10, true)],
            },
            Case {
                name: "second binding is appended at max+10, not primary",
                before: &[5],
                fields: json!({k: 7}),
                result: true,
                after: &[(5, 10, true), (7, 20, false)],
            },
            Case {
                name: "IS_PRIMARY Y moves the primary to the new binding",
                before: &[5],
                fields: json!({k: 7, "IS_PRIMARY": "Y"}),
                result: true,
                after: &[(5, 10, false), (7, 20, true)],
            },
            Case {
                name: "explicit lower SORT lists the new binding first, primary stays",
                before: &[5],
                fields: json!({k: 7, "SORT": 5}),
                result: true,
                after: &[(7, 5, false), (5, 10, true)],
            },
            Case {
                name: "already bound: false, nothing changes even with IS_PRIMARY Y",
                before: &[5, 7],
                fields: json!({k: 7, "IS_PRIMARY": "Y"}),
                result: false,
                after: &[(5, 10, true), (7, 20, false)],
            },
            Case {
                name: "JSON true is not \"Y\"",
                before: &[5],
                fields: json!({k: 7, "IS_PRIMARY": true}),
                result: true,
                after: &[(5, 10, true), (7, 20, false)],
            },
            Case {
                name: "lower-case y is Y: 7 is the only primary, 5 demoted (our rule)",
                before: &[5],
                fields: json!({k: 7, "IS_PRIMARY": "y"}),
                result: true,
                after: &[(5, 10, false), (7, 20, true)],
            },
        ];
        for case in cases {
            let owner = new_owner(&app, fam).await;
            bind_in_order(&app, fam, owner, case.before).await;
            let before: Vec<Row> = case
                .before
                .iter()
                .enumerate()
                .map(|(i, &c)| (c, (i as i64 + 1) * 10, i == 0))
                .collect();
            assert_state(
                &app,
                fam,
                owner,
                &before,
                &format!("{} (before)", case.name),
            )
            .await;

            // Act
            let got = app
                .call(&fam.m("add"), json!({"id": owner, "fields": case.fields}))
                .await;

            // Assert
            assert_result_body(fam, &got, &json!(case.result), case.name);
            assert_state(&app, fam, owner, case.after, case.name).await;
        }
    }
}

#[tokio::test]
async fn the_seed_scenario_adds_refuses_duplicates_and_reelects_on_delete() {
    for fam in FAMILIES {
        // Arrange
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        let owner = new_owner(&app, fam).await;
        let a = new_bound(&app, fam).await;
        let b = new_bound(&app, fam).await;
        let unbound = new_bound(&app, fam).await;
        assert_state(&app, fam, owner, &[], "a new owner has no bindings").await;

        // Act + Assert: the documented request.
        let add_a = json!({"id": owner, "fields": {k: a, "SORT": 10, "IS_PRIMARY": "Y"}});
        assert_result(
            &app,
            fam,
            &fam.m("add"),
            add_a.clone(),
            json!(true),
            "seed add",
        )
        .await;
        assert_state(&app, fam, owner, &[(a, 10, true)], "after the seed add").await;

        assert_result(
            &app,
            fam,
            &fam.m("add"),
            add_a,
            json!(false),
            "the same add again",
        )
        .await;
        assert_state(
            &app,
            fam,
            owner,
            &[(a, 10, true)],
            "a repeated add changes nothing",
        )
        .await;

        assert_result(
            &app,
            fam,
            &fam.m("add"),
            json!({"id": owner, "fields": {k: b}}),
            json!(true),
            "second binding without IS_PRIMARY",
        )
        .await;
        assert_state(
            &app,
            fam,
            owner,
            &[(a, 10, true), (b, 20, false)],
            "second binding is non-primary at SORT 20",
        )
        .await;

        assert_result(
            &app,
            fam,
            &fam.m("delete"),
            json!({"id": owner, "fields": {k: a}}),
            json!(true),
            "delete the primary",
        )
        .await;
        assert_state(
            &app,
            fam,
            owner,
            &[(b, 20, true)],
            "the remaining binding is re-elected primary",
        )
        .await;

        for (name, c) in [
            ("the just-deleted binding", a),
            ("a never-bound entity", unbound),
        ] {
            assert_result(
                &app,
                fam,
                &fam.m("delete"),
                json!({"id": owner, "fields": {k: c}}),
                json!(false),
                &format!("delete of {name}"),
            )
            .await;
            assert_state(
                &app,
                fam,
                owner,
                &[(b, 20, true)],
                &format!("delete of {name} changes nothing"),
            )
            .await;
        }

        // The last one goes: the owner has no primary any more.
        assert_result(
            &app,
            fam,
            &fam.m("delete"),
            json!({"id": owner, "fields": {k: b}}),
            json!(true),
            "delete the last binding",
        )
        .await;
        assert_state(&app, fam, owner, &[], "after deleting the last binding").await;
    }
}

#[tokio::test]
async fn add_keeps_a_given_sort_and_defaults_to_the_highest_plus_ten() {
    for fam in FAMILIES {
        // Arrange
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        bound_entities(&app, fam, 4).await;
        let owner = new_owner(&app, fam).await;
        let steps: [(&str, Value, &[Row]); 4] = [
            (
                "an explicit SORT 0 is kept",
                json!({k: 1, "SORT": 0}),
                &[(1, 0, true)],
            ),
            (
                "all existing SORTs are 0: the next is 10",
                json!({k: 2}),
                &[(1, 0, true), (2, 10, false)],
            ),
            (
                "a string SORT equal to an existing one is allowed; ties list by bound id",
                json!({k: 3, "SORT": "10", "IS_PRIMARY": "N"}),
                &[(1, 0, true), (2, 10, false), (3, 10, false)],
            ),
            (
                "a negative SORT is kept as given",
                json!({k: 4, "SORT": -5}),
                &[(4, -5, false), (1, 0, true), (2, 10, false), (3, 10, false)],
            ),
        ];
        for (name, fields, after) in steps {
            // Act
            let got = app
                .call(&fam.m("add"), json!({"id": owner, "fields": fields}))
                .await;
            // Assert
            assert_result_body(fam, &got, &json!(true), name);
            assert_state(&app, fam, owner, after, name).await;
        }
    }
}

#[tokio::test]
async fn add_treats_a_null_sort_as_not_given() {
    // `{"CONTACT_ID": 7, "SORT": null}` gets the default SORT (max + 10, here 20): the
    // reference engine tests `isset($binding['SORT'])`, which is false for null.
    for fam in FAMILIES {
        // Arrange
        let app = TestApp::spawn().await;
        bound_entities(&app, fam, 7).await;
        let owner = new_owner(&app, fam).await;
        bind_in_order(&app, fam, owner, &[5]).await;
        assert_state(&app, fam, owner, &[(5, 10, true)], "before").await;

        // Act
        let got = app
            .call(
                &fam.m("add"),
                json!({"id": owner, "fields": {fam.bound_key: 7, "SORT": null}}),
            )
            .await;

        // Assert
        assert_result_body(fam, &got, &json!(true), "add with a null SORT");
        assert_state(
            &app,
            fam,
            owner,
            &[(5, 10, true), (7, 20, false)],
            "a null SORT defaults to max + 10",
        )
        .await;
    }
}

#[tokio::test]
async fn removing_the_primary_elects_the_lowest_sort_then_the_lowest_id() {
    for fam in FAMILIES.iter().filter(|f| shared_entities(f)) {
        // Arrange: entity 1 primary at SORT 10; 3 and 2 tie at SORT 20 (3 submitted first).
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        bound_entities(&app, fam, 3).await;
        let items = json!([
            {k: 1, "SORT": 10, "IS_PRIMARY": "Y"},
            {k: 3, "SORT": 20},
            {k: 2, "SORT": 20}
        ]);
        let mut owners = Vec::new();
        for _ in 0..2 {
            let owner = new_owner(&app, fam).await;
            ok(
                &app,
                fam,
                &fam.m("items.set"),
                json!({"id": owner, "items": items}),
            )
            .await;
            assert_state(
                &app,
                fam,
                owner,
                &[(1, 10, true), (2, 20, false), (3, 20, false)],
                "before",
            )
            .await;
            owners.push(owner);
        }
        let ways = [
            (
                fam.m("delete"),
                json!({"id": owners[0], "fields": {k: 1}}),
                owners[0],
            ),
            (fam.bound_m("delete"), json!({"id": 1}), owners[1]),
        ];
        for (method, params, owner) in ways {
            // Act
            assert_result(&app, fam, &method, params, json!(true), &method).await;
            // Assert
            assert_state(&app, fam, owner, &[(2, 20, true), (3, 20, false)], &method).await;
        }
    }
}

#[tokio::test]
async fn items_set_normalises_the_submitted_list() {
    for fam in FAMILIES {
        // Arrange: bound entities 1..=6 and one owner whose set each case replaces.
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        bound_entities(&app, fam, 6).await;
        let owner = new_owner(&app, fam).await;
        let cases: [(&str, Value, &[Row]); 11] = [
            (
                "no primary given: the first is primary",
                json!([{k: 1}, {k: 2}]),
                &[(1, 10, true), (2, 20, false)],
            ),
            (
                "no primary given: the first submitted is primary even when sorted later",
                json!([{k: 3, "SORT": 50}, {k: 4}]),
                &[(4, 20, false), (3, 50, true)],
            ),
            (
                "two Y: the first one wins",
                json!([
                    {k: 1},
                    {k: 2, "IS_PRIMARY": "Y"},
                    {k: 3, "IS_PRIMARY": "Y"}
                ]),
                &[(1, 10, false), (2, 20, true), (3, 30, false)],
            ),
            (
                "SORT missing, 0 or negative becomes (i+1)*10; positive SORT (even a string) kept",
                json!([
                    {k: 1, "SORT": 0},
                    {k: 2, "SORT": -5},
                    {k: 3, "SORT": "15"},
                    {k: 4}
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
                    {k: 0},
                    {k: "abc"},
                    {k: -3},
                    {k: 2},
                    {k: "6", "IS_PRIMARY": "Y"}
                ]),
                &[(2, 90, false), (6, 100, true)],
            ),
            (
                "duplicate ids keep the first occurrence (its SORT, not the later Y)",
                json!([
                    {k: 1, "SORT": 30},
                    {k: 2},
                    {k: 1, "SORT": 5, "IS_PRIMARY": "Y"}
                ]),
                &[(2, 20, false), (1, 30, true)],
            ),
            (
                "a lower-case y counts as Y (our rule)",
                json!([{k: 1}, {k: 2, "IS_PRIMARY": "y"}]),
                &[(1, 10, false), (2, 20, true)],
            ),
            (
                "a JSON true is not Y",
                json!([{k: 1}, {k: 2, "IS_PRIMARY": true}]),
                &[(1, 10, true), (2, 20, false)],
            ),
            (
                "unknown keys are ignored, ROLE_ID stays 0",
                json!([{k: 5, "ROLE_ID": 7, "FOO": "bar", "IS_PRIMARY": "N"}]),
                &[(5, 10, true)],
            ),
            (
                "items as an object (a PHP array with keys) are taken in order",
                json!({"a": {k: 3}, "b": {k: 4, "IS_PRIMARY": "Y"}}),
                &[(3, 10, false), (4, 20, true)],
            ),
            (
                "[] clears the set and the owner's mirror column",
                json!([]),
                &[],
            ),
        ];
        for (name, items, after) in cases {
            // Act
            let got = app
                .call(&fam.m("items.set"), json!({"id": owner, "items": items}))
                .await;
            // Assert
            assert_result_body(fam, &got, &json!(true), name);
            assert_state(&app, fam, owner, after, name).await;
        }
    }
}

#[tokio::test]
async fn items_set_with_a_missing_bound_entity_is_rejected_and_changes_nothing() {
    for fam in FAMILIES {
        // Arrange
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        bound_entities(&app, fam, 3).await;
        let owner = new_owner(&app, fam).await;
        let before = json!([{k: 1}, {k: 2, "IS_PRIMARY": "Y"}]);
        ok(
            &app,
            fam,
            &fam.m("items.set"),
            json!({"id": owner, "items": before}),
        )
        .await;
        let stored: &[Row] = &[(1, 10, false), (2, 20, true)];
        assert_state(&app, fam, owner, stored, "before").await;
        let cases = [
            (
                "a missing entity among existing ones",
                json!([{k: 3, "IS_PRIMARY": "Y"}, {k: 999}]),
                999,
            ),
            ("only a missing entity", json!([{k: 4}]), 4),
        ];
        for (name, items, missing) in cases {
            // Act
            let got = app
                .call(&fam.m("items.set"), json!({"id": owner, "items": items}))
                .await;
            // Assert
            assert_err(fam, name, &got, 400, "", &fam.bound_missing(missing));
            assert_state(&app, fam, owner, stored, name).await;
        }
    }
}

#[tokio::test]
async fn items_delete_clears_and_missing_owners_read_as_empty() {
    for fam in FAMILIES {
        // Arrange
        let app = TestApp::spawn().await;
        bound_entities(&app, fam, 2).await;
        let owner = new_owner(&app, fam).await;
        bind_in_order(&app, fam, owner, &[1, 2]).await;
        assert_state(&app, fam, owner, &[(1, 10, true), (2, 20, false)], "before").await;

        // Act + Assert
        assert_result(
            &app,
            fam,
            &fam.m("items.delete"),
            json!({"id": owner}),
            json!(true),
            "items.delete",
        )
        .await;
        assert_state(&app, fam, owner, &[], "after items.delete").await;
        assert_result(
            &app,
            fam,
            &fam.m("items.delete"),
            json!({"id": owner}),
            json!(true),
            "items.delete on an already empty owner",
        )
        .await;
        assert_state(&app, fam, owner, &[], "after a second items.delete").await;

        let missing = owner + 100;
        for (method, empty) in [("items.get", json!([])), ("items.delete", json!(true))] {
            let step = format!("{method} on a non-existent owner");
            match fam.items_owner_missing {
                None => {
                    assert_result(
                        &app,
                        fam,
                        &fam.m(method),
                        json!({"id": missing}),
                        empty,
                        &step,
                    )
                    .await;
                }
                Some(text) => assert_err(
                    fam,
                    &step,
                    &app.call(&fam.m(method), json!({"id": missing})).await,
                    400,
                    "",
                    text,
                ),
            }
        }
        assert_err(
            fam,
            "the missing owner does not exist",
            &app.call(&fam.owner_m("get"), json!({"id": missing})).await,
            400,
            "",
            fam.owner_get_missing,
        );
    }
}

#[tokio::test]
async fn every_error_row_has_its_exact_code_text_and_status() {
    for fam in FAMILIES {
        // Arrange: owner 1 with entity 1 bound; entity 2 exists unbound; 999 exists nowhere.
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        bound_entities(&app, fam, 2).await;
        let owner = new_owner(&app, fam).await;
        assert_eq!(owner, 1, "{}: fresh owner id", fam.prefix);
        bind_in_order(&app, fam, owner, &[1]).await;
        let bad_owner = fam.owner_invalid;
        let bad_owner_items = fam.owner_invalid_items;
        let fields_array = fam.fields_not_array;
        let item_array = fam.item_not_array;
        let not_valid = fam.fields_not_valid;
        let items_array = fam.items_not_array;
        let not_found = fam.owner_missing;
        let missing_999 = fam.bound_missing(999);
        let missing_3 = fam.bound_missing(3);
        let fields_string = format!("{k}=2");
        let cases: Vec<(&str, &str, Value, &str)> = vec![
            // add: owner id
            (
                "add, id missing",
                "add",
                json!({"fields": {k: 2}}),
                bad_owner,
            ),
            (
                "add, id 0",
                "add",
                json!({"id": 0, "fields": {k: 2}}),
                bad_owner,
            ),
            (
                "add, id -1",
                "add",
                json!({"id": -1, "fields": {k: 2}}),
                bad_owner,
            ),
            (
                "add, id abc",
                "add",
                json!({"id": "abc", "fields": {k: 2}}),
                bad_owner,
            ),
            (
                "add, id bad and fields missing: id first",
                "add",
                json!({"id": 0}),
                bad_owner,
            ),
            // add: fields shape (before the owner check)
            ("add, fields missing", "add", json!({"id": 1}), fields_array),
            (
                "add, fields a string",
                "add",
                json!({"id": 1, "fields": fields_string}),
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
                "add, fields a string on a missing owner",
                "add",
                json!({"id": 999, "fields": "x"}),
                fields_array,
            ),
            // add: owner existence (before the bound id's validation)
            (
                "add, owner missing",
                "add",
                json!({"id": 999, "fields": {k: 2}}),
                not_found,
            ),
            (
                "add, owner missing and bound id 0",
                "add",
                json!({"id": 999, "fields": {k: 0}}),
                not_found,
            ),
            (
                "add, owner missing and bound id missing",
                "add",
                json!({"id": 999, "fields": {}}),
                not_found,
            ),
            (
                "add, owner and bound entity missing",
                "add",
                json!({"id": 999, "fields": {k: 999}}),
                not_found,
            ),
            // add: the bound id
            (
                "add, bound id missing",
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
                "add, bound id 0",
                "add",
                json!({"id": 1, "fields": {k: 0}}),
                not_valid,
            ),
            (
                "add, bound id abc",
                "add",
                json!({"id": 1, "fields": {k: "abc"}}),
                not_valid,
            ),
            (
                "add, bound id -5",
                "add",
                json!({"id": 1, "fields": {k: -5}}),
                not_valid,
            ),
            (
                "add, bound entity missing",
                "add",
                json!({"id": 1, "fields": {k: 999}}),
                &missing_999,
            ),
            (
                "add, bound entity missing, asked primary",
                "add",
                json!({"id": 1, "fields": {k: 3, "IS_PRIMARY": "Y"}}),
                &missing_3,
            ),
            // delete
            (
                "delete, id missing",
                "delete",
                json!({"fields": {k: 1}}),
                bad_owner,
            ),
            (
                "delete, id 0",
                "delete",
                json!({"id": 0, "fields": {k: 1}}),
                bad_owner,
            ),
            (
                "delete, id -1",
                "delete",
                json!({"id": -1, "fields": {k: 1}}),
                bad_owner,
            ),
            (
                "delete, id abc",
                "delete",
                json!({"id": "abc", "fields": {k: 1}}),
                bad_owner,
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
                "delete, owner missing",
                "delete",
                json!({"id": 999, "fields": {k: 1}}),
                not_found,
            ),
            (
                "delete, owner missing and bound id invalid",
                "delete",
                json!({"id": 999, "fields": {k: "abc"}}),
                not_found,
            ),
            (
                "delete, bound id missing",
                "delete",
                json!({"id": 1, "fields": {}}),
                not_valid,
            ),
            (
                "delete, bound id 0",
                "delete",
                json!({"id": 1, "fields": {k: 0}}),
                not_valid,
            ),
            (
                "delete, bound id abc",
                "delete",
                json!({"id": 1, "fields": {k: "abc"}}),
                not_valid,
            ),
            (
                "delete, bound id -5",
                "delete",
                json!({"id": 1, "fields": {k: -5}}),
                not_valid,
            ),
            // items.get / items.delete
            (
                "items.get, id missing",
                "items.get",
                json!({}),
                bad_owner_items,
            ),
            (
                "items.get, id 0",
                "items.get",
                json!({"id": 0}),
                bad_owner_items,
            ),
            (
                "items.get, id -3",
                "items.get",
                json!({"id": -3}),
                bad_owner_items,
            ),
            (
                "items.get, id abc",
                "items.get",
                json!({"id": "abc"}),
                bad_owner_items,
            ),
            (
                "items.delete, id missing",
                "items.delete",
                json!({}),
                bad_owner_items,
            ),
            (
                "items.delete, id 0",
                "items.delete",
                json!({"id": 0}),
                bad_owner_items,
            ),
            (
                "items.delete, id -3",
                "items.delete",
                json!({"id": -3}),
                bad_owner_items,
            ),
            (
                "items.delete, id abc",
                "items.delete",
                json!({"id": "abc"}),
                bad_owner_items,
            ),
            // items.set
            (
                "items.set, id missing",
                "items.set",
                json!({"items": [{k: 1}]}),
                bad_owner_items,
            ),
            (
                "items.set, id 0",
                "items.set",
                json!({"id": 0, "items": [{k: 1}]}),
                bad_owner_items,
            ),
            (
                "items.set, id -3",
                "items.set",
                json!({"id": -3, "items": [{k: 1}]}),
                bad_owner_items,
            ),
            (
                "items.set, id abc",
                "items.set",
                json!({"id": "abc", "items": [{k: 1}]}),
                bad_owner_items,
            ),
            (
                "items.set, id bad and items missing: id first",
                "items.set",
                json!({"id": 0}),
                bad_owner_items,
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
                "items.set, items a string on a missing owner",
                "items.set",
                json!({"id": 999, "items": "x"}),
                items_array,
            ),
            (
                "items.set, owner missing",
                "items.set",
                json!({"id": 999, "items": [{k: 1}]}),
                not_found,
            ),
            (
                "items.set, owner missing, empty items",
                "items.set",
                json!({"id": 999, "items": []}),
                not_found,
            ),
            (
                "items.set, owner and bound entity missing",
                "items.set",
                json!({"id": 999, "items": [{k: 999}]}),
                not_found,
            ),
        ];
        for (name, method, params, text) in cases {
            // Act
            let got = app.call(&fam.m(method), params.clone()).await;
            // Assert
            assert!(
                got.0 == 400 && got.1["error_description"] == text,
                "{}: {name}: {params} → {} {}",
                fam.prefix,
                got.0,
                got.1
            );
            assert_err(fam, name, &got, 400, "", text);
            assert_state(&app, fam, owner, &[(1, 10, true)], name).await;
        }
        assert_no_set(
            &app,
            fam,
            999,
            "no binding was created for the missing owner",
        )
        .await;

        // Anything else under the family is an unknown method (§1.2), checked before params.
        for method in ["update", "list", "items", "items.add"] {
            let method = fam.m(method);
            assert_err(
                fam,
                &method,
                &app.call(&method, json!({"id": 1})).await,
                404,
                "ERROR_METHOD_NOT_FOUND",
                "Method not found!",
            );
        }
    }
}

#[tokio::test]
async fn fields_describes_sort_primary_and_the_bound_key_in_order() {
    for fam in FAMILIES {
        // Arrange
        let app = TestApp::spawn().await;
        let want = format!(
            r#"{{"SORT":{{"type":"integer","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"Sorting"}},"IS_PRIMARY":{{"type":"char","isRequired":false,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"Primary"}},"{}":{{"type":"integer","isRequired":true,"isReadOnly":false,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"{}"}}}}"#,
            fam.bound_key, fam.bound_title
        );
        for (name, got) in [
            (
                "JSON, no params",
                app.call(&fam.m("fields"), json!({})).await,
            ),
            (
                "form, stray params",
                app.form(&fam.m("fields"), "id=1&x=y").await,
            ),
        ] {
            // Assert
            assert_eq!(got.0, 200, "{}: {name}: {}", fam.prefix, got.1);
            assert_eq!(
                serde_json::to_string(&got.1["result"]).unwrap(),
                want,
                "{}: {name}",
                fam.prefix
            );
        }
    }
}

#[tokio::test]
async fn form_encoded_and_case_variant_calls_work_like_json() {
    for fam in FAMILIES {
        // Arrange
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        bound_entities(&app, fam, 5).await;
        let owner = new_owner(&app, fam).await;
        assert_eq!(owner, 1, "{}: fresh owner id", fam.prefix);
        let steps: [(&str, String, String, Value, &[Row]); 9] = [
            (
                "form add with brackets",
                fam.m("add"),
                format!("id=1&fields[{k}]=1&fields[IS_PRIMARY]=Y"),
                json!(true),
                &[(1, 10, true)],
            ),
            (
                "form add with percent-encoded brackets",
                fam.m("add"),
                format!("id=1&fields%5B{k}%5D=2&fields%5BSORT%5D=5"),
                json!(true),
                &[(2, 5, false), (1, 10, true)],
            ),
            (
                "form add with upper-case ID and FIELDS",
                fam.m("add"),
                format!("ID=1&FIELDS[{k}]=3&FIELDS[IS_PRIMARY]=Y"),
                json!(true),
                &[(2, 5, false), (1, 10, false), (3, 20, true)],
            ),
            (
                "form add with arFields and an id of 1abc",
                fam.m("add"),
                format!("id=1abc&arFields[{k}]=4&arFields[SORT]=15"),
                json!(true),
                &[(2, 5, false), (1, 10, false), (4, 15, false), (3, 20, true)],
            ),
            (
                "form add of an already bound entity",
                fam.m("add"),
                format!("id=1&fields[{k}]=4&fields[IS_PRIMARY]=Y"),
                json!(false),
                &[(2, 5, false), (1, 10, false), (4, 15, false), (3, 20, true)],
            ),
            (
                "form delete of the primary",
                fam.m("delete"),
                format!("id=1&fields[{k}]=3"),
                json!(true),
                &[(2, 5, true), (1, 10, false), (4, 15, false)],
            ),
            (
                "form items.set",
                fam.m("items.set"),
                format!("id=1&items[0][{k}]=1&items[1][{k}]=2&items[1][IS_PRIMARY]=Y"),
                json!(true),
                &[(1, 10, false), (2, 20, true)],
            ),
            (
                "form items.set with percent-encoded brackets and upper-case names",
                fam.m("items.set"),
                format!(
                    "ID=1&ITEMS%5B0%5D%5B{k}%5D=3&ITEMS%5B0%5D%5BSORT%5D=7&ITEMS%5B1%5D%5B{k}%5D=4"
                ),
                json!(true),
                &[(3, 7, true), (4, 20, false)],
            ),
            (
                "form items.set with an empty-key list",
                fam.m("items.set"),
                format!("id=1&items[][{k}]=5&items[][{k}]=1"),
                json!(true),
                &[(5, 10, true), (1, 20, false)],
            ),
        ];
        for (name, method, body, result, after) in steps {
            // Act
            let got = app.form(&method, &body).await;
            // Assert
            assert_result_body(fam, &got, &result, name);
            assert_state(&app, fam, owner, after, name).await;
        }

        // items.get form-encoded gives the same text as JSON.
        let got = app.form(&fam.m("items.get"), "id=1").await;
        assert_result_body(
            fam,
            &got,
            &rows(fam, &[(5, 10, true), (1, 20, false)]),
            "form items.get",
        );

        // A form cannot express an empty list: items missing → the "must be array" error.
        assert_err(
            fam,
            "form items.set without items",
            &app.form(&fam.m("items.set"), "id=1").await,
            400,
            "",
            fam.items_not_array,
        );
        assert_err(
            fam,
            "form add with a scalar fields",
            &app.form(&fam.m("add"), "id=1&fields=5").await,
            400,
            "",
            fam.fields_not_array,
        );

        // Method names are case-insensitive: `CRM.Lead.Contact.Add`, `CRM.LEAD.CONTACT.DELETE`,
        // `Crm.Lead.Contact.Items.Set`, …
        let mixed = [
            (
                format!("CRM{}", &title_case(&fam.m("add"))[3..]),
                json!({"id": 1, "fields": {k: 2, "IS_PRIMARY": "Y"}}),
                json!(true),
                &[(5, 10, false), (1, 20, false), (2, 30, true)][..],
            ),
            (
                fam.m("delete").to_uppercase(),
                json!({"ID": 1, "FIELDS": {k: 5}}),
                json!(true),
                &[(1, 20, false), (2, 30, true)][..],
            ),
            (
                title_case(&fam.m("items.set")),
                json!({"id": 1, "Items": [{k: 4}]}),
                json!(true),
                &[(4, 10, true)][..],
            ),
        ];
        for (method, params, result, after) in mixed {
            assert_ne!(
                method,
                method.to_lowercase(),
                "{}: a case variant",
                fam.prefix
            );
            assert_result(&app, fam, &method, params, result, &method).await;
            assert_state(&app, fam, owner, after, &method).await;
        }
        assert_result(
            &app,
            fam,
            &title_case(&fam.m("items.get")),
            json!({"id": 1}),
            rows(fam, &[(4, 10, true)]),
            "mixed-case items.get",
        )
        .await;
        assert_result(
            &app,
            fam,
            &fam.m("items.delete").to_uppercase(),
            json!({"id": 1}),
            json!(true),
            "upper-case items.delete",
        )
        .await;
        assert_state(&app, fam, owner, &[], "after upper-case items.delete").await;

        // `ID` is read before `id`; a GET query string works like a body.
        assert_result(
            &app,
            fam,
            &fam.m("add"),
            json!({"ID": 1, "id": 999, "fields": {k: 3}}),
            json!(true),
            "ID wins over id",
        )
        .await;
        assert_state(&app, fam, owner, &[(3, 10, true)], "after ID-over-id add").await;
        let got = app
            .get(&format!("{}{}?id=1", app.hook, fam.m("items.get")))
            .await;
        assert_result_body(
            fam,
            &got,
            &rows(fam, &[(3, 10, true)]),
            "GET items.get?id=1",
        );
    }
}

#[tokio::test]
async fn owner_add_with_bound_ids_binds_them_through_the_same_engine() {
    for fam in FAMILIES.iter().filter(|f| shared_entities(f)) {
        // Arrange
        let app = TestApp::spawn().await;
        let ids = bound_entities(&app, fam, 2).await;
        let (a, b) = (ids[0], ids[1]);
        let (many, one) = (fam.ids_field, fam.mirror);
        let cases: [(String, Value, &[Row], &str); 5] = [
            (
                format!("{many} [a, b]"),
                json!({many: [a, b]}),
                &[(a, 10, true), (b, 20, false)],
                "Y",
            ),
            (
                format!("{many} with zeros and repeats skips them"),
                json!({many: [0, b, -1, b, a]}),
                &[(b, 10, true), (a, 20, false)],
                "Y",
            ),
            (format!("{one} a"), json!({one: a}), &[(a, 10, true)], "Y"),
            (
                format!("{one} as a string"),
                json!({one: b.to_string()}),
                &[(b, 10, true)],
                "Y",
            ),
            ("no bound entities".into(), json!({}), &[], "N"),
        ];
        for (name, fields, after, returning) in cases {
            // Act
            let id = ok(
                &app,
                fam,
                &fam.owner_m("add"),
                json!({"fields": with((fam.owner_fields)(), fields)}),
            )
            .await;
            // Assert
            let owner = id
                .as_i64()
                .unwrap_or_else(|| panic!("{}: {name}: integer id {id}", fam.prefix));
            assert_state(&app, fam, owner, after, &name).await;
            let got = ok(&app, fam, &fam.owner_m("get"), json!({"id": owner})).await;
            // Lead only (`IS_RETURN_CUSTOMER`): other owners have no such flag.
            if let Some(flag) = fam.returning_flag {
                assert_eq!(got[flag], returning, "{}: {name}: {got}", fam.prefix);
            }
            assert!(
                got.get(many).is_none(),
                "{}: {name}: {many} is write-only: {got}",
                fam.prefix
            );
        }

        // A missing bound entity rejects the whole owner.
        let last = ok(
            &app,
            fam,
            &fam.owner_m("add"),
            json!({"fields": (fam.owner_fields)()}),
        )
        .await
        .as_i64()
        .unwrap_or_else(|| panic!("{}: id", fam.prefix));
        for (name, fields) in [
            (format!("{many} with a missing id"), json!({many: [a, 999]})),
            (format!("{one} missing"), json!({one: 999})),
        ] {
            // Act
            let got = app
                .call(
                    &fam.owner_m("add"),
                    json!({"fields": with((fam.owner_fields)(), fields)}),
                )
                .await;
            // Assert
            assert_err(fam, &name, &got, 400, "", &fam.bound_missing(999));
            assert_err(
                fam,
                &format!("{name}: the rejected owner does not exist"),
                &app.call(&fam.owner_m("get"), json!({"id": last + 1})).await,
                400,
                "",
                fam.owner_get_missing,
            );
            assert_no_set(
                &app,
                fam,
                last + 1,
                &format!("{name}: no bindings for the rejected owner"),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn deleting_a_bound_entity_or_an_owner_cascades_to_bindings() {
    for fam in FAMILIES.iter().filter(|f| shared_entities(f)) {
        // Arrange: entity 1 is primary on owners 1 and 3, non-primary on owner 2.
        let app = TestApp::spawn().await;
        let k = fam.bound_key;
        let [c1, c2, c3] = <[i64; 3]>::try_from(bound_entities(&app, fam, 3).await).unwrap();
        let (o1, o2, o3) = (
            new_owner(&app, fam).await,
            new_owner(&app, fam).await,
            new_owner(&app, fam).await,
        );
        let sets = [
            (
                o1,
                json!([
                    {k: c1, "SORT": 10, "IS_PRIMARY": "Y"},
                    {k: c3, "SORT": 20},
                    {k: c2, "SORT": 15}
                ]),
            ),
            (
                o2,
                json!([
                    {k: c2, "IS_PRIMARY": "Y"},
                    {k: c1},
                    {k: c3}
                ]),
            ),
            (o3, json!([{k: c1}])),
        ];
        for (owner, items) in sets {
            ok(
                &app,
                fam,
                &fam.m("items.set"),
                json!({"id": owner, "items": items}),
            )
            .await;
        }
        assert_state(
            &app,
            fam,
            o1,
            &[(c1, 10, true), (c2, 15, false), (c3, 20, false)],
            "owner 1 before",
        )
        .await;
        assert_state(
            &app,
            fam,
            o2,
            &[(c2, 10, true), (c1, 20, false), (c3, 30, false)],
            "owner 2 before",
        )
        .await;
        assert_state(&app, fam, o3, &[(c1, 10, true)], "owner 3 before").await;

        // Act: delete entity 1.
        assert_result(
            &app,
            fam,
            &fam.bound_m("delete"),
            json!({"id": c1}),
            json!(true),
            "delete bound entity 1",
        )
        .await;

        // Assert: each owner lost it and re-elected by SORT where it was primary.
        assert_state(
            &app,
            fam,
            o1,
            &[(c2, 15, true), (c3, 20, false)],
            "owner 1: lowest SORT re-elected",
        )
        .await;
        assert_state(
            &app,
            fam,
            o2,
            &[(c2, 10, true), (c3, 30, false)],
            "owner 2: primary kept",
        )
        .await;
        assert_state(&app, fam, o3, &[], "owner 3: empty, mirror column null").await;
        assert_err(
            fam,
            "bind the deleted entity again",
            &app.call(&fam.m("add"), json!({"id": o3, "fields": {k: c1}}))
                .await,
            400,
            "",
            &fam.bound_missing(c1),
        );
        assert_state(&app, fam, o3, &[], "a deleted entity cannot be bound again").await;

        // Act: delete owner 2.
        assert_result(
            &app,
            fam,
            &fam.owner_m("delete"),
            json!({"id": o2}),
            json!(true),
            "delete owner 2",
        )
        .await;

        // Assert: no rows left for owner 2, the others untouched, bound entities still exist.
        assert_no_set(&app, fam, o2, "items.get of the deleted owner").await;
        let stored = app
            .services
            .store
            .bindings(fam.kind, o2)
            .await
            .unwrap_or_else(|e| panic!("{}: store read: {e}", fam.prefix));
        assert_eq!(
            stored,
            Vec::<Binding>::new(),
            "{}: store rows of deleted owner 2",
            fam.prefix
        );
        assert_state(
            &app,
            fam,
            o1,
            &[(c2, 15, true), (c3, 20, false)],
            "owner 1 after deleting owner 2",
        )
        .await;
        for c in [c2, c3] {
            ok(&app, fam, &fam.bound_m("get"), json!({"id": c})).await;
        }
        let stored = app
            .services
            .store
            .bindings(fam.kind, o1)
            .await
            .unwrap_or_else(|e| panic!("{}: store read: {e}", fam.prefix));
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
            "{}: store rows of owner 1",
            fam.prefix
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_binding_calls_keep_every_owner_consistent() {
    for fam in FAMILIES.iter().filter(|f| shared_entities(f)) {
        // Arrange: 3 owners, 6 bound entities.
        let app = TestApp::spawn().await;
        let p = fam.prefix;
        let k = fam.bound_key;
        let bound = bound_entities(&app, fam, 6).await;
        let mut owners = Vec::new();
        for _ in 0..3 {
            owners.push(new_owner(&app, fam).await);
        }
        const CALLS: usize = 300;
        let mut tasks = tokio::task::JoinSet::new();

        // Act: fire every call at once over real HTTP.
        for i in 0..CALLS {
            let owner = owners[i % 3];
            let entity = bound[(i * 7 + i / 5) % 6];
            let (method, params) = match i % 4 {
                0 => (
                    fam.m("add"),
                    json!({"id": owner, "fields": {k: entity, "IS_PRIMARY": "Y"}}),
                ),
                1 => (
                    fam.m("add"),
                    json!({"id": owner, "fields": {k: entity, "SORT": (i % 5) * 10}}),
                ),
                2 => (fam.m("delete"), json!({"id": owner, "fields": {k: entity}})),
                _ => {
                    let other = bound[(i * 5 + 1) % 6];
                    let third = bound[(i / 3) % 6];
                    (
                        fam.m("items.set"),
                        json!({"id": owner, "items": [
                            {k: entity},
                            {k: other, "IS_PRIMARY": if i % 8 == 3 { "Y" } else { "N" }},
                            {k: third, "SORT": i % 30}
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
                    .unwrap_or_else(|e| panic!("{p}: request: {e}"));
                (i, method, params, read(res).await)
            });
        }
        let mut done = 0;
        while let Some(joined) = tasks.join_next().await {
            let (i, method, params, (status, body)) =
                joined.unwrap_or_else(|e| panic!("{p}: task: {e}"));
            assert!(
                status == 200 && body["result"].is_boolean() && body.get("error").is_none(),
                "{p}: call #{i} {method} {params} → {status} {body}"
            );
            done += 1;
        }
        assert_eq!(done, CALLS, "{p}: every call answered");

        // Assert: every owner has a consistent set.
        for owner in owners {
            let got = ok(&app, fam, &fam.m("items.get"), json!({"id": owner})).await;
            let set = got
                .as_array()
                .unwrap_or_else(|| panic!("{p}: owner {owner}: array {got}"));
            let ids: Vec<i64> = set
                .iter()
                .map(|b| {
                    b[k].as_i64()
                        .unwrap_or_else(|| panic!("{p}: owner {owner}: integer {k} in {got}"))
                })
                .collect();
            let unique: HashSet<i64> = ids.iter().copied().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "{p}: owner {owner}: duplicate ids {got}"
            );
            let keys: Vec<(i64, i64)> = set
                .iter()
                .map(|b| {
                    (
                        b["SORT"]
                            .as_i64()
                            .unwrap_or_else(|| panic!("{p}: owner {owner}: SORT in {got}")),
                        b[k].as_i64().unwrap(),
                    )
                })
                .collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(
                keys, sorted,
                "{p}: owner {owner}: ordered by SORT, {k}: {got}"
            );
            let primaries: Vec<i64> = set
                .iter()
                .filter(|b| b["IS_PRIMARY"] == "Y")
                .map(|b| b[k].as_i64().unwrap())
                .collect();
            assert!(
                set.iter()
                    .all(|b| b["IS_PRIMARY"] == "Y" || b["IS_PRIMARY"] == "N"),
                "{p}: owner {owner}: Y/N flags {got}"
            );
            let expected_primary = if set.is_empty() {
                assert!(primaries.is_empty(), "{p}: owner {owner}: {got}");
                Value::Null
            } else {
                assert_eq!(
                    primaries.len(),
                    1,
                    "{p}: owner {owner}: exactly one primary: {got}"
                );
                json!(primaries[0].to_string())
            };
            assert_eq!(
                mirror(&app, fam, owner).await,
                expected_primary,
                "{p}: owner {owner}: {} mirrors the primary of {got}",
                fam.mirror
            );
            let stored = app
                .services
                .store
                .bindings(fam.kind, owner)
                .await
                .unwrap_or_else(|e| panic!("{p}: store read: {e}"));
            let stored_rows: Vec<Row> = stored
                .iter()
                .map(|b| (b.bound_id, b.sort, b.is_primary))
                .collect();
            assert_eq!(
                rows(fam, &stored_rows),
                got,
                "{p}: owner {owner}: store and API agree"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_entities_deleted_during_concurrent_binding_never_leave_dangling_rows() {
    for fam in FAMILIES.iter().filter(|f| shared_entities(f)) {
        // Arrange: 3 owners, 12 bound entities; the even-numbered ones get deleted
        // mid-flight.
        let app = TestApp::spawn().await;
        let p = fam.prefix;
        let k = fam.bound_key;
        let bound = bound_entities(&app, fam, 12).await;
        let mut owners = Vec::new();
        for _ in 0..3 {
            owners.push(new_owner(&app, fam).await);
        }
        let doomed: HashSet<i64> = bound.iter().copied().filter(|c| c % 2 == 0).collect();
        let bound_delete = fam.bound_m("delete");
        let mut calls: Vec<(String, Value)> = Vec::new();
        for (i, &c) in bound.iter().enumerate() {
            for (j, &owner) in owners.iter().enumerate() {
                calls.push((
                    fam.m("add"),
                    json!({"id": owner, "fields": {k: c, "IS_PRIMARY": if (i + j) % 3 == 0 { "Y" } else { "N" }}}),
                ));
            }
            if doomed.contains(&c) {
                calls.push((bound_delete.clone(), json!({"id": c})));
            }
            let owner = owners[i % 3];
            calls.push((
                fam.m("items.set"),
                json!({"id": owner, "items": [{k: c}, {k: bound[(i + 1) % 12]}]}),
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
                    .unwrap_or_else(|e| panic!("{p}: request: {e}"));
                (method, params, read(res).await)
            });
        }

        // Assert: every answer is a boolean result or the missing-entity error.
        let gone_prefix = format!("{} #", fam.bound_title);
        while let Some(joined) = tasks.join_next().await {
            let (method, params, (status, body)) =
                joined.unwrap_or_else(|e| panic!("{p}: task: {e}"));
            let answered = status == 200 && body["result"].is_boolean();
            let gone = status == 400
                && body["error"] == ""
                && body["error_description"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&gone_prefix) && t.ends_with(" is not found."));
            assert!(answered || gone, "{p}: {method} {params} → {status} {body}");
            if method == bound_delete {
                assert_eq!(
                    body["result"],
                    json!(true),
                    "{p}: {method} {params} → {body}"
                );
            }
        }
        for owner in owners {
            let got = ok(&app, fam, &fam.m("items.get"), json!({"id": owner})).await;
            let set = got
                .as_array()
                .unwrap_or_else(|| panic!("{p}: owner {owner}: array {got}"));
            assert!(
                set.iter()
                    .all(|b| !doomed.contains(&b[k].as_i64().unwrap())),
                "{p}: owner {owner}: a deleted entity is still bound: {got}"
            );
            let primaries: Vec<&Value> = set.iter().filter(|b| b["IS_PRIMARY"] == "Y").collect();
            let want = if set.is_empty() {
                Value::Null
            } else {
                assert_eq!(primaries.len(), 1, "{p}: owner {owner}: one primary: {got}");
                json!(primaries[0][k].as_i64().unwrap().to_string())
            };
            assert_eq!(
                mirror(&app, fam, owner).await,
                want,
                "{p}: owner {owner}: {} mirrors the primary of {got}",
                fam.mirror
            );
        }
    }
}
