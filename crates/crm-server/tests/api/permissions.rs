//! CRM permissions over HTTP, for every level a role can grant: a user of the Sales
//! department calls through their own webhook, on leads and contacts assigned to
//! themselves, to a colleague in Sales, to someone in East (a department below Sales),
//! and to someone in Other (one item closed, one open to all). What each level reaches is
//! written out per level below from the portal's rules, not computed.

use crate::helpers::{TestApp, assert_error};
use crm_core::identity::{Department, Grant, ROOT_DEPARTMENT, Scope, User};
use crm_core::permission::{Action, Level};
use crm_server::auth::hash_secret;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The items of the world, by name: whose they are and whether they are open to all.
const ITEMS: [(&str, &str, &str); 5] = [
    ("own", "x", "N"),
    ("dee", "dee", "N"),
    ("bob", "bob", "N"),
    ("cid", "cid", "N"),
    ("cid-open", "cid", "Y"),
];

/// What each level reaches of [`ITEMS`].
fn reached(level: Level) -> &'static [&'static str] {
    match level {
        Level::None => &[],
        Level::Own => &["own"],
        Level::Department => &["own", "dee"],
        Level::Subdepartment => &["own", "dee", "bob"],
        Level::Open => &["own", "dee", "bob", "cid-open"],
        Level::All => &["own", "dee", "bob", "cid", "cid-open"],
    }
}

struct World {
    app: TestApp,
    /// The caller's webhook base URL.
    hook: String,
    x: i64,
    leads: BTreeMap<&'static str, i64>,
    contacts: BTreeMap<&'static str, i64>,
    deals: BTreeMap<&'static str, i64>,
}

pub(crate) fn person(name: &str, department: i64) -> User {
    User {
        id: 0,
        name: name.into(),
        last_name: String::new(),
        email: format!("{name}@example.org"),
        admin: false,
        active: true,
        departments: vec![department],
        registered_at: 0,
    }
}

/// A user with a webhook of scope `crm`; returns (user id, webhook base URL).
pub(crate) async fn user_with_hook(app: &TestApp, user: User) -> (i64, String) {
    let store = &app.services.store;
    let id = store.create_user(user).await.unwrap();
    let secret = crm_server::auth::new_secret().unwrap();
    store
        .create_webhook(id, hash_secret(&secret), vec![Scope::Crm], 0)
        .await
        .unwrap();
    (id, format!("{}/rest/{id}/{secret}/", app.base))
}

/// The world with the caller holding `grants` (through one role).
async fn world(grants: Vec<Grant>) -> World {
    let app = TestApp::spawn().await;
    let store = &app.services.store;
    let dept = |name: &str, parent| Department {
        id: 0,
        name: name.into(),
        sort: 500,
        parent: Some(parent),
        head: None,
    };
    let sales = store
        .create_department(dept("Sales", ROOT_DEPARTMENT))
        .await
        .unwrap();
    let east = store.create_department(dept("East", sales)).await.unwrap();
    let other = store
        .create_department(dept("Other", ROOT_DEPARTMENT))
        .await
        .unwrap();
    let (x, hook) = user_with_hook(&app, person("x", sales)).await;
    let mut owners = BTreeMap::from([("x", x)]);
    for (name, department) in [("dee", sales), ("bob", east), ("cid", other)] {
        owners.insert(
            name,
            store.create_user(person(name, department)).await.unwrap(),
        );
    }
    store.create_role("R".into(), grants).await.unwrap();
    store.assign_role("R".into(), x).await.unwrap();
    let mut leads = BTreeMap::new();
    let mut contacts = BTreeMap::new();
    let mut deals = BTreeMap::new();
    for (name, owner, opened) in ITEMS {
        let fields = json!({"ASSIGNED_BY_ID": owners[owner], "OPENED": opened});
        let mut lead = fields.clone();
        lead["TITLE"] = json!(name);
        leads.insert(
            name,
            as_id(app.ok("crm.lead.add", json!({"fields": lead})).await),
        );
        deals.insert(
            name,
            as_id(
                app.ok("crm.deal.add", json!({"fields": lead.clone()}))
                    .await,
            ),
        );
        let mut contact = fields;
        contact["NAME"] = json!(name);
        contacts.insert(
            name,
            as_id(app.ok("crm.contact.add", json!({"fields": contact})).await),
        );
    }
    World {
        app,
        hook,
        x,
        leads,
        contacts,
        deals,
    }
}

fn as_id(v: Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an id: {v}"))
}

/// Every right on leads, contacts and deals at one level.
fn everything_at(level: Level) -> Vec<Grant> {
    let mut out = Vec::new();
    if level == Level::None {
        return out;
    }
    for entity in ["lead", "contact", "deal"] {
        for action in Action::ALL {
            out.push(Grant {
                entity: entity.into(),
                action,
                level,
            });
        }
    }
    out
}

impl World {
    async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        let res = self
            .app
            .client
            .post(format!("{}{method}", self.hook))
            .json(&params)
            .send()
            .await
            .unwrap();
        crate::helpers::read(res).await
    }

    /// Ids a list method answers for the caller, and its total.
    async fn listed(&self, method: &str) -> (Vec<i64>, Value) {
        let (status, body) = self
            .call(method, json!({"order": {"ID": "ASC"}, "select": ["ID"]}))
            .await;
        assert_eq!(status, 200, "{method}: {body}");
        let ids = body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ID"].as_str().unwrap().parse().unwrap())
            .collect();
        (ids, body["total"].clone())
    }
}

fn denied(got: &(u16, Value)) {
    assert_error(got, 400, "", "Access denied.");
}

async fn holds_at(level: Level) {
    let w = world(everything_at(level)).await;
    let seen = reached(level);
    let visible = |name: &str| seen.contains(&name);

    // Lists: only what the level reaches, and a total that counts only that.
    for (method, ids) in [
        ("crm.lead.list", &w.leads),
        ("crm.contact.list", &w.contacts),
        ("crm.deal.list", &w.deals),
    ] {
        if level == Level::None {
            denied(&w.call(method, json!({})).await);
            continue;
        }
        let want: Vec<i64> = ITEMS
            .iter()
            .filter(|(name, ..)| visible(name))
            .map(|(name, ..)| ids[name])
            .collect();
        let (got, total) = w.listed(method).await;
        assert_eq!(
            (got, total),
            (want.clone(), json!(want.len())),
            "{level} {method}"
        );
    }

    // get, update and binding checks item by item.
    for (name, ..) in ITEMS {
        let lead = w.leads[name];
        let got = w.call("crm.lead.get", json!({"id": lead})).await;
        let contact = w
            .call("crm.contact.get", json!({"id": w.contacts[name]}))
            .await;
        let update = w
            .call(
                "crm.lead.update",
                json!({"id": lead, "fields": {"COMMENTS": "x"}}),
            )
            .await;
        let items = w
            .call("crm.lead.contact.items.get", json!({"id": lead}))
            .await;
        let deal = w.call("crm.deal.get", json!({"id": w.deals[name]})).await;
        let deal_items = w
            .call("crm.deal.contact.items.get", json!({"id": w.deals[name]}))
            .await;
        if visible(name) {
            assert_eq!(deal.1["result"]["TITLE"], json!(name), "{level} {name}");
            assert_eq!(deal_items.1["result"], json!([]), "{level} {name}");
            assert_eq!(
                (got.0, got.1["result"]["TITLE"].clone()),
                (200, json!(name))
            );
            assert_eq!(contact.1["result"]["NAME"], json!(name), "{level} {name}");
            assert_eq!(update.1["result"], json!(true), "{level} {name}");
            assert_eq!((items.0, items.1["result"].clone()), (200, json!([])));
        } else {
            denied(&got);
            denied(&contact);
            denied(&update);
            denied(&deal);
            assert_error(&deal_items, 403, "ACCESS_DENIED", "Access denied!");
            assert_error(&items, 403, "ACCESS_DENIED", "Access denied!");
            let (_, stored) = w.app.call("crm.lead.get", json!({"id": lead})).await;
            assert_eq!(
                stored["result"]["COMMENTS"],
                json!(null),
                "{level} {name} unchanged"
            );
        }
        // Binding the caller's own contact: the lead's update right decides (403); then
        // the contact's read right ("[Contact #id]", 400).
        let bind = w
            .call(
                "crm.lead.contact.add",
                json!({"id": lead, "fields": {"CONTACT_ID": w.contacts["own"]}}),
            )
            .await;
        if !visible(name) {
            assert_error(&bind, 403, "ACCESS_DENIED", "Access denied!");
        } else {
            assert_eq!(bind.1["result"], json!(true), "{level} {name}");
        }
    }
    if level != Level::None {
        // A contact out of reach cannot be bound to a lead in reach.
        if let Some((name, ..)) = ITEMS.iter().find(|(name, ..)| !visible(name)) {
            let id = w.contacts[name];
            let bind = w
                .call(
                    "crm.lead.contact.add",
                    json!({"id": w.leads["own"], "fields": {"CONTACT_ID": id}}),
                )
                .await;
            assert_error(&bind, 400, "", &format!("[Contact #{id}] Access denied."));
            let set = w
                .call(
                    "crm.lead.contact.items.set",
                    json!({"id": w.leads["own"], "items": [{"CONTACT_ID": id}]}),
                )
                .await;
            assert_error(&set, 400, "", &format!("[Contact #{id}] Access denied."));
        }
    }

    // Ids that do not exist: only a full right passes the check and learns "Not found".
    let missing = w.call("crm.lead.get", json!({"id": 999_999})).await;
    match level {
        Level::All => assert_error(&missing, 400, "", "Not found"),
        _ => denied(&missing),
    }

    // Adding needs any add right; a new item is the caller's own.
    for (entity, fields) in [
        ("lead", json!({"TITLE": "new"})),
        ("contact", json!({"NAME": "new"})),
    ] {
        let added = w
            .call(&format!("crm.{entity}.add"), json!({"fields": fields}))
            .await;
        if level == Level::None {
            denied(&added);
        } else {
            let id = as_id(added.1["result"].clone());
            let (_, got) = w
                .call(&format!("crm.{entity}.get"), json!({"id": id}))
                .await;
            assert_eq!(got["result"]["ASSIGNED_BY_ID"], json!(w.x.to_string()));
        }
    }

    // Contacts are updated under the same rule.
    for (name, ..) in ITEMS {
        let contact = w.contacts[name];
        let update = w
            .call(
                "crm.contact.update",
                json!({"id": contact, "fields": {"POST": "x"}}),
            )
            .await;
        let (_, stored) = w.app.call("crm.contact.get", json!({"id": contact})).await;
        if visible(name) {
            assert_eq!(update.1["result"], json!(true), "{level} {name}");
            assert_eq!(stored["result"]["POST"], "x");
        } else {
            denied(&update);
            assert_eq!(
                stored["result"]["POST"],
                json!(null),
                "{level} {name} unchanged"
            );
        }
    }

    // Deleting: out of reach is refused and nothing is removed.
    for (name, ..) in ITEMS {
        for (entity, ids, key) in [
            ("lead", &w.leads, "TITLE"),
            ("contact", &w.contacts, "NAME"),
        ] {
            let id = ids[name];
            let deleted = w
                .call(&format!("crm.{entity}.delete"), json!({"id": id}))
                .await;
            let still = w
                .app
                .call(&format!("crm.{entity}.get"), json!({"id": id}))
                .await;
            if visible(name) {
                assert_eq!(deleted.1["result"], json!(true), "{level} {entity} {name}");
                assert_error(&still, 400, "", "Not found");
            } else {
                denied(&deleted);
                assert_eq!(still.1["result"][key], json!(name));
            }
        }
    }
}

#[tokio::test]
async fn level_none_reaches_nothing() {
    holds_at(Level::None).await;
}

#[tokio::test]
async fn level_own_reaches_the_callers_items() {
    holds_at(Level::Own).await;
}

#[tokio::test]
async fn level_department_reaches_the_department() {
    holds_at(Level::Department).await;
}

#[tokio::test]
async fn level_subdepartment_reaches_departments_below() {
    holds_at(Level::Subdepartment).await;
}

#[tokio::test]
async fn level_open_adds_items_open_to_all() {
    holds_at(Level::Open).await;
}

#[tokio::test]
async fn level_all_reaches_everything() {
    holds_at(Level::All).await;
}

/// The example: leads "own", no contact right: bindings only on the caller's
/// leads, contacts never readable, lists count only the caller's leads; several roles
/// combine to the highest level.
#[tokio::test]
async fn own_leads_without_contact_rights() {
    let grants = ["lead.read=own", "lead.update=own", "lead.add=own"]
        .iter()
        .map(|g| Grant::parse(g).unwrap())
        .collect();
    let w = world(grants).await;
    let bind = |lead: i64, contact: i64| {
        w.call(
            "crm.lead.contact.add",
            json!({"id": lead, "fields": {"CONTACT_ID": contact, "IS_PRIMARY": "Y"}}),
        )
    };
    assert_error(
        &bind(w.leads["dee"], w.contacts["own"]).await,
        403,
        "ACCESS_DENIED",
        "Access denied!",
    );
    let own = w.contacts["own"];
    assert_error(
        &bind(w.leads["own"], own).await,
        400,
        "",
        &format!("[Contact #{own}] Access denied."),
    );
    denied(&w.call("crm.contact.list", json!({})).await);
    let (ids, total) = w.listed("crm.lead.list").await;
    assert_eq!((ids, total), (vec![w.leads["own"]], json!(1)));
    // Lists through batch see the same.
    let (_, batch) = w
        .call("batch", json!({"cmd": {"l": "crm.lead.list?select[]=ID"}}))
        .await;
    assert_eq!(batch["result"]["result_total"]["l"], json!(1), "{batch}");

    // A second role with contact reading: the binding goes through.
    let store = &w.app.services.store;
    store
        .create_role(
            "Contacts".into(),
            vec![Grant::parse("contact.read=all").unwrap()],
        )
        .await
        .unwrap();
    store.assign_role("Contacts".into(), w.x).await.unwrap();
    assert_eq!(
        bind(w.leads["own"], w.contacts["cid"]).await.1["result"],
        json!(true)
    );
    let (_, items) = w
        .call("crm.lead.contact.items.get", json!({"id": w.leads["own"]}))
        .await;
    assert_eq!(items["result"][0]["CONTACT_ID"], json!(w.contacts["cid"]));
    // Another user's lead stays out of reach for reading as well.
    denied(&w.call("crm.lead.get", json!({"id": w.leads["dee"]})).await);
}

/// Deal rights per category: the caller may do everything with deals in general, but in
/// category 1 only read and change their own deals and not add any.
#[tokio::test]
async fn deal_rights_differ_by_category() {
    let mut grants = everything_at(Level::All);
    for (action, level) in [
        (Action::Read, Level::Own),
        (Action::Update, Level::Own),
        (Action::Add, Level::None),
    ] {
        grants.push(Grant::parse(&format!("deal_c1.{}={level}", action.code())).unwrap());
    }
    let w = world(grants).await;
    let app = &w.app;
    app.ok(
        "crm.category.add",
        json!({"entityTypeId": 2, "fields": {"name": "Restricted"}}),
    )
    .await;
    let mut in_one = BTreeMap::new();
    for (name, owner) in [("own", w.x), ("other", 1)] {
        let id = app
            .ok(
                "crm.deal.add",
                json!({"fields": {"TITLE": name, "CATEGORY_ID": 1, "ASSIGNED_BY_ID": owner}}),
            )
            .await;
        in_one.insert(name, as_id(id));
    }
    // The list: every deal of category 0, only the caller's own in category 1.
    let (ids, total) = w.listed("crm.deal.list").await;
    let mut want: Vec<i64> = w.deals.values().copied().collect();
    want.push(in_one["own"]);
    want.sort_unstable();
    assert_eq!((ids, total), (want.clone(), json!(want.len())));
    // Items: the other's deal in category 1 is out of reach for read and update.
    denied(&w.call("crm.deal.get", json!({"id": in_one["other"]})).await);
    denied(
        &w.call(
            "crm.deal.update",
            json!({"id": in_one["other"], "fields": {"TITLE": "x"}}),
        )
        .await,
    );
    let own = w.call("crm.deal.get", json!({"id": in_one["own"]})).await;
    assert_eq!(own.1["result"]["TITLE"], "own", "{own:?}");
    // Adding: allowed in category 0, refused in category 1.
    denied(
        &w.call("crm.deal.add", json!({"fields": {"CATEGORY_ID": 1}}))
            .await,
    );
    let added = w
        .call("crm.deal.add", json!({"fields": {"CATEGORY_ID": 0}}))
        .await;
    assert_eq!(added.0, 200, "{added:?}");
    // Grant texts name the category; other entities have none.
    assert!(Grant::parse("lead_c1.read=all").is_err());
    assert_eq!(Grant::parse("DEAL_C2.read=own").unwrap().entity, "deal_c2");
}
