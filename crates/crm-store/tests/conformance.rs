//! The storage contract (`crm_core::store`), held against every backend: each case runs
//! on a SQLite file and on a fresh PostgreSQL database (`<case>::sqlite`,
//! `<case>::postgres`).

mod backends;

use backends::Backend;
use chrono::FixedOffset;
use crm_core::binding::{
    Binding, LEAD_CONTACT, NewBinding, plan_add, plan_holder_add, plan_holder_remove,
    plan_holders_set, plan_ids, plan_remove,
};
use crm_core::entity::CONTACT_COMPANY;
use crm_core::entity::EntityType;
use crm_core::field::Stored;
use crm_core::identity::{App, Department, Grant, NewTokens, ROOT_DEPARTMENT, Role, Scope, User};
use crm_core::permission::Reach;
use crm_core::permission::{Action, Level};
use crm_core::pipeline::{Category, Status, default_statuses, new_category_stages};
use crm_core::query::{ListQuery, parse_filter, parse_order};
use crm_core::schema::Schema;
use crm_core::smart::SmartType;
use crm_core::store::TypeStages;
use crm_core::store::{NewEntity, NewMultiValue, Store, StoreError, Update};
use crm_core::userfield::{EnumItem, UserField};
use serde_json::json;
use std::sync::Arc;

fn text(s: &str) -> Stored {
    Stored::Text(s.into())
}

fn entity(values: Vec<(&'static str, Stored)>) -> NewEntity {
    NewEntity {
        id: None,
        values,
        uf: serde_json::Map::new(),
        multi: Vec::new(),
        bindings: Vec::new(),
        held: Vec::new(),
        after_insert: None,
    }
}

fn phone(v: &str) -> NewMultiValue {
    NewMultiValue {
        type_id: "PHONE".into(),
        value_type: "WORK".into(),
        value: v.into(),
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap()
}

/// A list query from JSON filter and order, a page of `limit` from `offset`, counted.
fn query(
    filter: serde_json::Value,
    order: serde_json::Value,
    offset: i64,
    limit: i64,
) -> ListQuery {
    ListQuery {
        filter: parse_filter(
            &crm_core::schema::Schema::standard(EntityType::Lead),
            filter.as_object().unwrap(),
            utc(),
        )
        .unwrap(),
        order: parse_order(
            &crm_core::schema::Schema::standard(EntityType::Lead),
            order.as_object().unwrap(),
        ),
        offset,
        limit,
        count: true,
        with_multi: true,
        visible: Reach::Everything,
    }
}

async fn ids_of(store: &dyn Store, q: ListQuery) -> (Vec<i64>, i64) {
    let (rows, total) = store.list(EntityType::Lead, q).await.unwrap();
    (rows.iter().map(|r| r.id).collect(), total)
}

/// Every kind of stored value, multi-fields and values computed from the new id survive
/// create, get, update and delete unchanged.
async fn entities_round_trip(b: &Backend) {
    let s = b.store.as_ref();
    let mut new = entity(vec![
        ("TITLE", text("Ünïcødé ✓ 'quoted' \"double\"")),
        ("OPPORTUNITY", Stored::Real(1234.5)),
        ("ASSIGNED_BY_ID", Stored::Int(7)),
        ("DATE_CREATE", Stored::Int(1_700_000_000)),
        ("BIRTHDATE", text("2001-11-11")),
        ("COMMENTS", Stored::Null),
    ]);
    new.multi = vec![phone("+1 555 0100"), phone("+1 555 0101")];
    new.after_insert = Some(Box::new(|id| {
        vec![("ORIGIN_ID", Stored::Text(format!("o{id}")))]
    }));
    let id = s.create(EntityType::Lead, new).await.unwrap();
    let row = s.get(EntityType::Lead, id).await.unwrap().unwrap();
    assert_eq!(row.id, id);
    assert_eq!(row.values["TITLE"], text("Ünïcødé ✓ 'quoted' \"double\""));
    assert_eq!(row.values["OPPORTUNITY"], Stored::Real(1234.5));
    assert_eq!(row.values["ASSIGNED_BY_ID"], Stored::Int(7));
    assert_eq!(row.values["DATE_CREATE"], Stored::Int(1_700_000_000));
    assert_eq!(row.values["BIRTHDATE"], text("2001-11-11"));
    assert_eq!(row.values["COMMENTS"], Stored::Null);
    assert_eq!(row.values["ORIGIN_ID"], Stored::Text(format!("o{id}")));
    assert_eq!(row.values.len(), EntityType::Lead.columns().count());
    let values: Vec<&str> = row.multi.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(values, ["+1 555 0100", "+1 555 0101"]);
    assert!(s.exists(EntityType::Lead, id).await.unwrap());
    assert!(!s.exists(EntityType::Contact, id + 1000).await.unwrap());

    let first = row.multi[0].id;
    let changed = s
        .update(
            EntityType::Lead,
            id,
            Box::new(move |_, _| {
                Ok(Update {
                    values: vec![("TITLE", text("renamed")), ("OPPORTUNITY", Stored::Int(3))],
                    delete_multi: vec![first],
                    add_multi: vec![phone("+1 555 0102")],
                    ..Update::default()
                })
            }),
        )
        .await
        .unwrap();
    assert!(changed);
    let row = s.get(EntityType::Lead, id).await.unwrap().unwrap();
    assert_eq!(row.values["TITLE"], text("renamed"));
    assert!(
        matches!(row.values["OPPORTUNITY"], Stored::Real(f) if f == 3.0)
            || row.values["OPPORTUNITY"] == Stored::Int(3),
        "{:?}",
        row.values["OPPORTUNITY"]
    );
    let values: Vec<&str> = row.multi.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(values, ["+1 555 0101", "+1 555 0102"]);

    // A rejected plan changes nothing; a missing row is `false`.
    let err = s
        .update(
            EntityType::Lead,
            id,
            Box::new(|_, _| Err(crm_core::field::InvalidValue("no".into()))),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Rejected(ref t) if t == "no"),
        "{err:?}"
    );
    assert_eq!(
        s.get(EntityType::Lead, id).await.unwrap().unwrap().values["TITLE"],
        text("renamed")
    );
    assert!(
        !s.update(
            EntityType::Lead,
            id + 99,
            Box::new(|_, _| Ok(Update::default()))
        )
        .await
        .unwrap()
    );
    assert!(s.delete(EntityType::Lead, id).await.unwrap());
    assert!(!s.delete(EntityType::Lead, id).await.unwrap());
    assert_eq!(s.get(EntityType::Lead, id).await.unwrap(), None);
}

/// Ids increase and are never handed out again, even after a delete.
async fn ids_increase_and_are_not_reused(b: &Backend) {
    let s = b.store.as_ref();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(s.create(EntityType::Contact, entity(vec![])).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");
    assert!(s.delete(EntityType::Contact, ids[2]).await.unwrap());
    let next = s.create(EntityType::Contact, entity(vec![])).await.unwrap();
    assert!(next > ids[2], "{next} after {ids:?}");
}

/// Filters, order (empty values first ascending, ties by id), paging and counts.
async fn lists_filter_order_and_page(b: &Backend) {
    let s = b.store.as_ref();
    let titles = [
        Some("Иван Петров"),
        Some("иван сидоров"),
        Some("ALPHA"),
        None,
        Some("alpha"),
        Some("50% off_sale"),
        Some("beta"),
    ];
    let mut ids = Vec::new();
    for (i, t) in titles.iter().enumerate() {
        let mut new = entity(vec![
            ("TITLE", t.map_or(Stored::Null, text)),
            ("OPPORTUNITY", Stored::Real(i as f64 * 10.0)),
            (
                "ASSIGNED_BY_ID",
                Stored::Int(if i % 2 == 0 { 1 } else { 2 }),
            ),
            ("OPENED", text(if i == 4 { "Y" } else { "N" })),
        ]);
        new.multi = vec![NewMultiValue {
            type_id: "EMAIL".into(),
            value_type: "WORK".into(),
            value: format!("Person{i}@Example.org"),
        }];
        ids.push(s.create(EntityType::Lead, new).await.unwrap());
    }
    let id = |i: usize| ids[i];
    let cases: Vec<(serde_json::Value, serde_json::Value, Vec<i64>)> = vec![
        // Substring filters ignore case, in Cyrillic too.
        (json!({"%TITLE": "ИВАН"}), json!({}), vec![id(0), id(1)]),
        (json!({"%TITLE": "alp"}), json!({}), vec![id(2), id(4)]),
        // `%` and `_` in a substring value are wildcards, as on a portal's LIKE.
        (json!({"%TITLE": "0%o"}), json!({}), vec![id(5)]),
        (json!({"=%TITLE": "bet_"}), json!({}), vec![id(6)]),
        // Only Latin "a" counts: the Cyrillic names hold a Cyrillic "а". An empty title
        // is not like anything, so the negation takes it.
        (
            json!({"!%TITLE": "a"}),
            json!({}),
            vec![id(0), id(1), id(3)],
        ),
        // Equality is exact.
        (json!({"TITLE": "alpha"}), json!({}), vec![id(4)]),
        (
            json!({"@ID": [id(1), id(3), 999_999]}),
            json!({}),
            vec![id(1), id(3)],
        ),
        (
            json!({"!@ID": [id(1), id(3)]}),
            json!({}),
            vec![id(0), id(2), id(4), id(5), id(6)],
        ),
        (
            json!({">ID": [id(4), id(5)]}),
            json!({}),
            vec![id(5), id(6)],
        ),
        (
            json!({">=OPPORTUNITY": 35, "ASSIGNED_BY_ID": 1}),
            json!({}),
            vec![id(4), id(6)],
        ),
        (json!({"TITLE": ""}), json!({}), vec![id(3)]),
        (
            json!({"EMAIL": "person2@example.ORG"}),
            json!({}),
            vec![id(2)],
        ),
        // Empty first ascending, bytewise order, ties by id.
        (
            json!({}),
            json!({"TITLE": "ASC"}),
            vec![id(3), id(5), id(2), id(4), id(6), id(0), id(1)],
        ),
        (
            json!({}),
            json!({"TITLE": "DESC"}),
            vec![id(1), id(0), id(6), id(4), id(2), id(5), id(3)],
        ),
        (
            json!({}),
            json!({"ASSIGNED_BY_ID": "DESC"}),
            vec![id(1), id(3), id(5), id(0), id(2), id(4), id(6)],
        ),
    ];
    for (filter, order, want) in cases {
        let (got, total) = ids_of(s, query(filter.clone(), order.clone(), 0, 50)).await;
        assert_eq!(got, want, "{filter} {order}");
        assert_eq!(total, want.len() as i64, "{filter} {order}");
    }
    // What the caller may read limits the page and the total alike.
    let visible_cases = [
        (Reach::only(vec![2], false), vec![id(1), id(3), id(5)]),
        (Reach::only(vec![2], true), vec![id(1), id(3), id(4), id(5)]),
        (Reach::only(vec![], true), vec![id(4)]),
        (Reach::only(vec![1, 2, 3], false), ids.clone()),
        (Reach::only(vec![9], false), vec![]),
    ];
    for (visible, want) in visible_cases {
        let mut q = query(json!({}), json!({}), 0, 50);
        q.visible = visible.clone();
        assert_eq!(
            ids_of(s, q).await,
            (want.clone(), want.len() as i64),
            "{visible:?}"
        );
    }
    let mut q = query(json!({">ID": id(0)}), json!({"ID": "DESC"}), 1, 1);
    q.visible = Reach::only(vec![2], false);
    assert_eq!(ids_of(s, q).await, (vec![id(3)], 3));
    let (page, total) = ids_of(s, query(json!({}), json!({"ID": "DESC"}), 2, 3)).await;
    assert_eq!((page, total), (vec![id(4), id(3), id(2)], 7));
    let mut q = query(json!({}), json!({}), 0, 2);
    q.count = false;
    let (rows, total) = s.list(EntityType::Lead, q).await.unwrap();
    assert_eq!((rows.len(), total), (2, 0));
    assert!(rows.iter().all(|r| r.multi.len() == 1));
}

fn add(bound_id: i64, primary: bool) -> crm_core::store::BindingEdit {
    Box::new(move |old| {
        plan_add(
            old,
            NewBinding {
                bound_id,
                sort: None,
                primary,
            },
        )
    })
}

async fn lead_contact_id(s: &dyn Store, lead: i64) -> Stored {
    s.get(EntityType::Lead, lead).await.unwrap().unwrap().values["CONTACT_ID"].clone()
}

/// The binding engine's plans through the store: one primary, the owner's mirror column,
/// the order of checks, and cascades on delete of either side.
async fn binding_sets_keep_their_invariants(b: &Backend) {
    let s = b.store.as_ref();
    let lead = s.create(EntityType::Lead, entity(vec![])).await.unwrap();
    let c: Vec<i64> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(s.create(EntityType::Contact, entity(vec![])).await.unwrap());
        }
        v
    };
    assert!(
        s.edit_bindings(LEAD_CONTACT, lead, true, vec![c[0]], add(c[0], false))
            .await
            .unwrap()
    );
    assert!(
        !s.edit_bindings(LEAD_CONTACT, lead, true, vec![c[0]], add(c[0], true))
            .await
            .unwrap()
    );
    assert!(
        s.edit_bindings(LEAD_CONTACT, lead, true, vec![c[1]], add(c[1], true))
            .await
            .unwrap()
    );
    assert!(
        s.edit_bindings(LEAD_CONTACT, lead, true, vec![c[2]], add(c[2], false))
            .await
            .unwrap()
    );
    let set = s.bindings(LEAD_CONTACT, lead).await.unwrap();
    let shape: Vec<(i64, i64, bool)> = set
        .iter()
        .map(|b| (b.bound_id, b.sort, b.is_primary))
        .collect();
    assert_eq!(
        shape,
        [(c[0], 10, false), (c[1], 20, true), (c[2], 30, false)]
    );
    assert_eq!(lead_contact_id(s, lead).await, Stored::Int(c[1]));

    // A missing owner is reported before a missing bound entity; nothing changes.
    let err = s
        .edit_bindings(
            LEAD_CONTACT,
            lead + 999,
            true,
            vec![c[0] + 999],
            add(c[0] + 999, false),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = s
        .edit_bindings(
            LEAD_CONTACT,
            lead,
            true,
            vec![c[0] + 999],
            add(c[0] + 999, false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::BoundNotFound { entity: EntityType::Contact, id } if id == c[0] + 999),
        "{err:?}"
    );
    assert_eq!(s.bindings(LEAD_CONTACT, lead).await.unwrap(), set);

    // Deleting the primary contact re-elects the first remaining one.
    assert!(s.delete(EntityType::Contact, c[1]).await.unwrap());
    let set = s.bindings(LEAD_CONTACT, lead).await.unwrap();
    let shape: Vec<(i64, bool)> = set.iter().map(|b| (b.bound_id, b.is_primary)).collect();
    assert_eq!(shape, [(c[0], true), (c[2], false)]);
    assert_eq!(lead_contact_id(s, lead).await, Stored::Int(c[0]));

    // Replacing and emptying the set; the mirror follows.
    let ids = vec![c[2], c[0]];
    let target = plan_ids(&ids);
    assert!(
        s.edit_bindings(
            LEAD_CONTACT,
            lead,
            true,
            ids,
            Box::new(move |_| Some(target.clone()))
        )
        .await
        .unwrap()
    );
    assert_eq!(lead_contact_id(s, lead).await, Stored::Int(c[2]));
    let gone = c[2];
    assert!(
        s.edit_bindings(
            LEAD_CONTACT,
            lead,
            true,
            vec![],
            Box::new(move |old| plan_remove(old, gone))
        )
        .await
        .unwrap()
    );
    assert!(
        s.edit_bindings(
            LEAD_CONTACT,
            lead,
            false,
            vec![],
            Box::new(|old: &[Binding]| (!old.is_empty()).then(Vec::new))
        )
        .await
        .unwrap()
    );
    assert_eq!(lead_contact_id(s, lead).await, Stored::Null);

    // A lead created with a set, then deleted: its set goes with it.
    let mut new = entity(vec![]);
    new.bindings = vec![(LEAD_CONTACT, plan_ids(&[c[0], c[2]]))];
    let second = s.create(EntityType::Lead, new).await.unwrap();
    assert_eq!(lead_contact_id(s, second).await, Stored::Int(c[0]));
    let mut missing = entity(vec![]);
    missing.bindings = vec![(LEAD_CONTACT, plan_ids(&[c[1]]))];
    let err = s.create(EntityType::Lead, missing).await.unwrap_err();
    assert!(matches!(err, StoreError::BoundNotFound { .. }), "{err:?}");
    assert!(s.delete(EntityType::Lead, second).await.unwrap());
    assert!(s.bindings(LEAD_CONTACT, second).await.unwrap().is_empty());
    // An update that binds: through the plan, checked and mirrored.
    let target = plan_ids(&[c[2]]);
    assert!(
        s.update(
            EntityType::Lead,
            lead,
            Box::new(move |_, _| Ok(Update {
                bindings: vec![(LEAD_CONTACT, target.clone())],
                ..Update::default()
            })),
        )
        .await
        .unwrap()
    );
    assert_eq!(lead_contact_id(s, lead).await, Stored::Int(c[2]));
}

/// Concurrent edits of a few sets from two stores on one database (two server processes
/// would do the same): afterwards every non-empty set has exactly one primary, mirrored by
/// its owner.
async fn concurrent_binding_edits_serialise(b: &Backend) {
    let first = Arc::clone(&b.store);
    let second = b.another().await;
    let mut leads = Vec::new();
    for _ in 0..4 {
        leads.push(
            first
                .create(EntityType::Lead, entity(vec![]))
                .await
                .unwrap(),
        );
    }
    let mut contacts = Vec::new();
    for _ in 0..12 {
        contacts.push(
            first
                .create(EntityType::Contact, entity(vec![]))
                .await
                .unwrap(),
        );
    }
    let mut tasks = Vec::new();
    for i in 0..400u64 {
        let store = if i % 2 == 0 {
            Arc::clone(&first)
        } else {
            Arc::clone(&second)
        };
        let x = i.wrapping_mul(2_654_435_761);
        let lead = leads[(x % 4) as usize];
        let contact = contacts[((x >> 8) % 12) as usize];
        let primary = (x >> 16) % 2 == 0;
        tasks.push(tokio::spawn(async move {
            let edit: crm_core::store::BindingEdit = match (x >> 20) % 4 {
                0 | 1 => add(contact, primary),
                2 => Box::new(move |old: &[Binding]| plan_remove(old, contact)),
                _ => {
                    let other = contact + 1;
                    let ids = vec![contact, other];
                    let set = plan_ids(&ids);
                    return store
                        .edit_bindings(
                            LEAD_CONTACT,
                            lead,
                            true,
                            ids,
                            Box::new(move |_| Some(set.clone())),
                        )
                        .await
                        .map(|_| ());
                }
            };
            store
                .edit_bindings(LEAD_CONTACT, lead, true, vec![contact], edit)
                .await
                .map(|_| ())
        }));
    }
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) | Err(StoreError::BoundNotFound { .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    for lead in leads {
        let set = first.bindings(LEAD_CONTACT, lead).await.unwrap();
        let mut seen: Vec<i64> = set.iter().map(|b| b.bound_id).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), set.len(), "duplicates in {set:?}");
        let primaries: Vec<i64> = set
            .iter()
            .filter(|b| b.is_primary)
            .map(|b| b.bound_id)
            .collect();
        assert_eq!(primaries.len(), usize::from(!set.is_empty()), "{set:?}");
        assert_eq!(
            lead_contact_id(first.as_ref(), lead).await,
            primaries.first().map_or(Stored::Null, |p| Stored::Int(*p)),
        );
    }
    second.close().await;
}

/// One relation edited from both sides at once (contacts' own sets and the companies'
/// views of them), from two stores on one database: afterwards every contact's set has
/// one primary mirrored in its `COMPANY_ID`, and each company's holders are exactly the
/// contacts whose sets name it.
async fn both_sides_of_a_relation_serialise(b: &Backend) {
    let first = Arc::clone(&b.store);
    let second = b.another().await;
    let mut contacts = Vec::new();
    for _ in 0..6 {
        contacts.push(
            first
                .create(EntityType::Contact, entity(vec![]))
                .await
                .unwrap(),
        );
    }
    let mut companies = Vec::new();
    for _ in 0..4 {
        companies.push(
            first
                .create(EntityType::Company, entity(vec![]))
                .await
                .unwrap(),
        );
    }
    let mut tasks = Vec::new();
    for i in 0..300u64 {
        let store = if i % 2 == 0 {
            Arc::clone(&first)
        } else {
            Arc::clone(&second)
        };
        let x = i.wrapping_mul(2_654_435_761);
        let contact = contacts[(x % 6) as usize];
        let other = contacts[((x >> 4) % 6) as usize];
        let company = companies[((x >> 8) % 4) as usize];
        tasks.push(tokio::spawn(async move {
            match (x >> 12) % 4 {
                0 => {
                    store
                        .edit_bindings(
                            CONTACT_COMPANY,
                            contact,
                            true,
                            vec![company],
                            add(company, false),
                        )
                        .await
                }
                1 => {
                    store
                        .edit_holders(
                            CONTACT_COMPANY,
                            company,
                            true,
                            vec![contact],
                            Box::new(move |sets| {
                                plan_holder_add(sets, company, contact, None).unwrap_or_default()
                            }),
                        )
                        .await
                }
                2 => {
                    store
                        .edit_holders(
                            CONTACT_COMPANY,
                            company,
                            true,
                            Vec::new(),
                            Box::new(move |sets| {
                                plan_holder_remove(sets, company, contact).unwrap_or_default()
                            }),
                        )
                        .await
                }
                _ => {
                    let items = vec![
                        Binding {
                            bound_id: contact,
                            sort: 10,
                            role_id: 0,
                            is_primary: true,
                        },
                        Binding {
                            bound_id: other,
                            sort: 20,
                            role_id: 0,
                            is_primary: false,
                        },
                    ];
                    let mut ids = vec![contact, other];
                    ids.dedup();
                    store
                        .edit_holders(
                            CONTACT_COMPANY,
                            company,
                            true,
                            ids,
                            Box::new(move |sets| {
                                let mut unique = items.clone();
                                unique.dedup_by_key(|b| b.bound_id);
                                plan_holders_set(sets, company, &unique)
                            }),
                        )
                        .await
                }
            }
            .map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap_or_else(|e| panic!("{e:?}"));
    }
    let mut holders: Vec<(i64, i64)> = Vec::new();
    for contact in &contacts {
        let set = first.bindings(CONTACT_COMPANY, *contact).await.unwrap();
        let primaries: Vec<i64> = set
            .iter()
            .filter(|b| b.is_primary)
            .map(|b| b.bound_id)
            .collect();
        assert_eq!(primaries.len(), usize::from(!set.is_empty()), "{set:?}");
        let row = first
            .get(EntityType::Contact, *contact)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.values["COMPANY_ID"],
            primaries.first().map_or(Stored::Null, |p| Stored::Int(*p)),
        );
        holders.extend(set.iter().map(|b| (b.bound_id, *contact)));
    }
    for company in &companies {
        let mut want: Vec<i64> = holders
            .iter()
            .filter(|(c, _)| c == company)
            .map(|(_, contact)| *contact)
            .collect();
        want.sort_unstable();
        let mut got: Vec<i64> = first
            .holders(CONTACT_COMPANY, *company)
            .await
            .unwrap()
            .iter()
            .map(|(owner, _)| *owner)
            .collect();
        got.sort_unstable();
        assert_eq!(got, want, "holders of company {company}");
    }
    second.close().await;
}

/// Reference lists start as a fresh portal's and are edited as data; a category comes
/// with its stage list and takes it along when deleted.
async fn statuses_and_categories(b: &Backend) {
    let s = b.store.as_ref();
    let strip = |list: Vec<Status>| -> Vec<Status> {
        let mut list: Vec<Status> = list.into_iter().map(|s| Status { id: 0, ..s }).collect();
        list.sort_by(|a, b| (&a.entity_id, a.sort).cmp(&(&b.entity_id, b.sort)));
        list
    };
    assert_eq!(
        strip(s.statuses().await.unwrap()),
        strip(default_statuses()),
        "the migration seeds the reference defaults"
    );
    let custom = Status {
        id: 0,
        entity_id: "DEAL_STAGE".into(),
        status_id: "UC_TEST".into(),
        name: "Test".into(),
        name_init: String::new(),
        sort: 55,
        system: false,
        color: Some("#123456".into()),
        semantics: None,
        category_id: None,
    };
    let id = s.create_status(custom.clone()).await.unwrap();
    assert!(matches!(
        s.create_status(custom.clone()).await,
        Err(StoreError::Rejected(_))
    ));
    assert!(
        s.update_status(Status {
            id,
            name: "Renamed".into(),
            sort: 5,
            ..custom.clone()
        })
        .await
        .unwrap()
    );
    let stored = s.statuses().await.unwrap();
    let got = stored.iter().find(|x| x.id == id).unwrap();
    assert_eq!((got.name.as_str(), got.sort), ("Renamed", 5));
    assert!(s.delete_status(id).await.unwrap());
    assert!(!s.delete_status(id).await.unwrap());

    let category = Category {
        id: 0,
        entity_type_id: 2,
        name: "Wholesale".into(),
        sort: 100,
        created: 1_700_000_000,
    };
    let one = s
        .create_category(category.clone(), Box::new(new_category_stages))
        .await
        .unwrap();
    let two = s
        .create_category(category.clone(), Box::new(new_category_stages))
        .await
        .unwrap();
    assert!(two > one);
    let list = format!("DEAL_STAGE_{one}");
    let stages: Vec<String> = s
        .statuses()
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.entity_id == list)
        .map(|x| x.status_id)
        .collect();
    assert_eq!(stages.len(), 8);
    assert_eq!(stages[0], format!("C{one}:NEW"));
    assert!(
        s.update_category(Category {
            id: one,
            name: "Retail".into(),
            ..category.clone()
        })
        .await
        .unwrap()
    );
    let names: Vec<String> = s
        .categories(2)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Retail", "Wholesale"]);
    assert!(s.delete_category(one, list.clone()).await.unwrap());
    assert!(!s.delete_category(one, list.clone()).await.unwrap());
    assert!(
        s.statuses()
            .await
            .unwrap()
            .iter()
            .all(|x| x.entity_id != list)
    );
    assert_eq!(s.categories(2).await.unwrap().len(), 1);
}

/// Users and webhooks: bootstrap happens once (also when two stores race), secrets are
/// stored as given (hashes), revocation sticks.
async fn identity_is_bootstrapped_once(b: &Backend) {
    let admin = || User {
        id: 1,
        name: "Admin".into(),
        last_name: String::new(),
        email: "admin@example.org".into(),
        admin: true,
        active: true,
        departments: vec![ROOT_DEPARTMENT],
        registered_at: 100,
    };
    let second = b.another().await;
    let (one, two) = tokio::join!(
        b.store
            .bootstrap(admin(), "h1".into(), Scope::ALL.to_vec(), 100),
        second.bootstrap(admin(), "h2".into(), Scope::ALL.to_vec(), 100),
    );
    assert_eq!(
        [one.unwrap(), two.unwrap()].iter().filter(|x| **x).count(),
        1,
        "exactly one bootstrap"
    );
    second.close().await;
    let s = b.store.as_ref();
    assert_eq!(s.user(1).await.unwrap(), Some(admin()));
    assert_eq!(s.user(2).await.unwrap(), None);
    let err = s
        .create_webhook(7, "x".into(), vec![Scope::Crm], 5)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let id = s
        .create_webhook(1, "h3".into(), vec![Scope::User], 200)
        .await
        .unwrap();
    let all = s.webhooks().await.unwrap();
    assert_eq!(all.len(), 2);
    let made = all.iter().find(|w| w.id == id).unwrap();
    assert_eq!(
        (
            made.user_id,
            made.secret_hash.as_str(),
            made.scopes.clone(),
            made.created_at,
            made.revoked
        ),
        (1, "h3", vec![Scope::User], 200, false)
    );
    assert!(s.revoke_webhook(id).await.unwrap());
    assert!(!s.revoke_webhook(id).await.unwrap());
    let active = s.active_webhooks(1).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_ne!(active[0].id, id);
}

/// Bulk reads and verbatim writes: what export and import are made of.
async fn records_transfer_verbatim(b: &Backend) {
    let s = b.store.as_ref();
    assert!(s.is_empty().await.unwrap());
    let contact = crm_core::store::Row {
        id: 40,
        values: [("NAME", text("Imported")), ("DATE_CREATE", Stored::Int(5))]
            .into_iter()
            .collect(),
        uf: serde_json::Map::new(),
        multi: vec![crm_core::store::MultiValue {
            id: 77,
            type_id: "EMAIL".into(),
            value_type: "HOME".into(),
            value: "i@example.org".into(),
        }],
    };
    let lead = crm_core::store::Row {
        id: 12,
        values: [
            ("TITLE", text("Old")),
            ("CONTACT_ID", Stored::Int(40)),
            ("OPPORTUNITY", Stored::Real(2.5)),
        ]
        .into_iter()
        .collect(),
        uf: json!({"UF_CRM_KIND": 31, "UF_CRM_TAGS": ["a", "b"]})
            .as_object()
            .unwrap()
            .clone(),
        multi: Vec::new(),
    };
    let kind = UserField {
        id: 8,
        items: vec![EnumItem {
            id: 31,
            value: "Hot".into(),
            def: false,
            sort: 10,
            xml_id: "hot".into(),
        }],
        ..definition("KIND", "enumeration")
    };
    let user = User {
        id: 3,
        name: "Ann".into(),
        last_name: "Lee".into(),
        email: "ann@example.org".into(),
        admin: false,
        active: true,
        departments: vec![ROOT_DEPARTMENT, 6],
        registered_at: 50,
    };
    let departments = vec![
        Department {
            id: ROOT_DEPARTMENT,
            name: "Imported Inc.".into(),
            sort: 500,
            parent: None,
            head: Some(3),
        },
        Department {
            id: 6,
            name: "Sales".into(),
            sort: 100,
            parent: Some(ROOT_DEPARTMENT),
            head: None,
        },
    ];
    let role = Role {
        id: 4,
        name: "Sales".into(),
        grants: vec![Grant::parse("lead.read=department").unwrap()],
        users: vec![3],
    };
    let app = App {
        id: 2,
        client_id: "local.x.1".into(),
        secret_hash: "secret-hash".into(),
        name: "Imported".into(),
        scopes: vec![Scope::Crm],
        redirect_uri: "https://app.example.org/cb".into(),
        created_at: 7,
    };
    s.import(crm_core::store::ImportBatch {
        member_id: Some("source-member".into()),
        departments: departments.clone(),
        roles: vec![role.clone()],
        apps: vec![app.clone()],
        users: vec![user.clone()],
        webhooks: vec![crm_core::identity::Webhook {
            id: 9,
            user_id: 3,
            secret_hash: "hash".into(),
            scopes: vec![Scope::Crm],
            created_at: 1,
            revoked: true,
        }],
        rows: vec![(EntityType::Contact, contact), (EntityType::Lead, lead)],
        bindings: vec![(
            LEAD_CONTACT,
            12,
            Binding {
                bound_id: 40,
                sort: 10,
                role_id: 0,
                is_primary: true,
            },
        )],
        clear_statuses: true,
        statuses: vec![Status {
            id: 300,
            entity_id: "DEAL_STAGE_4".into(),
            status_id: "C4:NEW".into(),
            name: "Start".into(),
            name_init: "Start".into(),
            sort: 10,
            system: true,
            color: Some("#39A8EF".into()),
            semantics: None,
            category_id: Some(4),
        }],
        categories: vec![Category {
            id: 4,
            entity_type_id: 2,
            name: "Imported".into(),
            sort: 3,
            created: 5,
        }],
        settings: vec![("DEFAULT_DEAL_CATEGORY_NAME".into(), "Main".into())],
        user_fields: vec![kind.clone()],
        types: Vec::new(),
    })
    .await
    .unwrap();
    assert!(!s.is_empty().await.unwrap());
    // The imported reference lists replace the defaults; ids continue after them.
    let statuses = s.statuses().await.unwrap();
    assert_eq!(
        statuses
            .iter()
            .map(|x| (x.id, x.status_id.as_str()))
            .collect::<Vec<_>>(),
        [(300, "C4:NEW")]
    );
    assert_eq!(s.categories(2).await.unwrap()[0].name, "Imported");
    assert_eq!(
        s.setting("DEFAULT_DEAL_CATEGORY_NAME".into())
            .await
            .unwrap(),
        Some("Main".into())
    );
    let highest: Vec<(String, i64)> = [("lead", 500), ("contact", 40), ("multi_value", 90)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    s.finish_import(&highest).await.unwrap();

    assert_eq!(s.users().await.unwrap(), vec![user]);
    assert_eq!(s.departments().await.unwrap(), departments);
    assert_eq!(s.roles().await.unwrap(), vec![role]);
    assert_eq!(s.apps().await.unwrap(), vec![app]);
    assert_eq!(s.member_id().await.unwrap(), "source-member");
    assert!(s.webhooks().await.unwrap()[0].revoked);
    let row = s.get(EntityType::Contact, 40).await.unwrap().unwrap();
    assert_eq!(row.values["NAME"], text("Imported"));
    assert_eq!(row.multi[0].id, 77);
    let row = s.get(EntityType::Lead, 12).await.unwrap().unwrap();
    assert_eq!(row.values["OPPORTUNITY"], Stored::Real(2.5));
    assert_eq!(row.uf["UF_CRM_TAGS"], json!(["a", "b"]));
    assert_eq!(s.user_fields(None).await.unwrap(), vec![kind]);
    assert_eq!(
        s.bindings_after(LEAD_CONTACT, (0, 0), 10).await.unwrap(),
        vec![(
            12,
            Binding {
                bound_id: 40,
                sort: 10,
                role_id: 0,
                is_primary: true
            }
        )]
    );
    assert!(
        s.bindings_after(LEAD_CONTACT, (12, 40), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // New ids continue after the source's highest, deleted ones included.
    let next_category = s
        .create_category(
            Category {
                id: 0,
                entity_type_id: 2,
                name: "After".into(),
                sort: 1,
                created: 6,
            },
            Box::new(|_| Vec::new()),
        )
        .await
        .unwrap();
    assert_eq!(next_category, 5);
    assert_eq!(
        s.create(EntityType::Lead, entity(vec![])).await.unwrap(),
        501
    );
    assert_eq!(
        s.create(EntityType::Contact, entity(vec![])).await.unwrap(),
        41
    );
    let mut with_value = entity(vec![]);
    with_value.multi = vec![phone("1")];
    let id = s.create(EntityType::Contact, with_value).await.unwrap();
    assert_eq!(
        s.get(EntityType::Contact, id).await.unwrap().unwrap().multi[0].id,
        91
    );
    let high = s.highest_ids().await.unwrap();
    assert!(high.contains(&("lead".to_string(), 501)), "{high:?}");
    assert!(high.contains(&("user".to_string(), 3)), "{high:?}");
    assert!(high.contains(&("department".to_string(), 6)), "{high:?}");
    assert!(high.contains(&("role".to_string(), 4)), "{high:?}");
    assert!(high.contains(&("app".to_string(), 2)), "{high:?}");
    // New users, departments, roles and applications continue after the imported ids.
    let new_user = User {
        id: 0,
        departments: vec![6],
        ..s.users().await.unwrap()[0].clone()
    };
    assert_eq!(s.create_user(new_user).await.unwrap(), 4);
    let new_department = Department {
        id: 0,
        name: "Support".into(),
        sort: 1,
        parent: Some(6),
        head: None,
    };
    assert_eq!(s.create_department(new_department).await.unwrap(), 7);
    assert_eq!(s.create_role("Other".into(), vec![]).await.unwrap(), 5);
    // And user fields and their list items after theirs.
    let next = s
        .create_user_field(UserField {
            items: vec![EnumItem {
                id: 0,
                value: "Cold".into(),
                def: false,
                sort: 20,
                xml_id: "cold".into(),
            }],
            ..definition("NEXT", "enumeration")
        })
        .await
        .unwrap();
    assert_eq!(next, 9);
    let fields = s.user_fields(Some("CRM_LEAD".into())).await.unwrap();
    assert_eq!(fields[1].items[0].id, 32);
}

/// Smart processes: `entityTypeId`s allocated or chosen, a table and a default category
/// with stages per type, items like any entity's, and everything of a type gone with it.
async fn smart_processes_have_tables_and_pipelines(b: &Backend) {
    let s = b.store.as_ref();
    let smart = |title: &str, etid: i64| SmartType {
        entity_type_id: etid,
        ..SmartType::from_fields(json!({ "title": title }).as_object().unwrap(), 1, 10)
    };
    let category = || Category {
        id: 0,
        entity_type_id: 0,
        name: "General".into(),
        sort: 500,
        created: 10,
    };
    let stages = || -> TypeStages { Box::new(crm_core::smart::new_stages) };
    let first = s
        .create_type(smart("A", 0), category(), stages())
        .await
        .unwrap();
    assert_eq!((first.id, first.entity_type_id), (1, 1030));
    let second = s
        .create_type(smart("B", 0), category(), stages())
        .await
        .unwrap();
    assert_eq!(second.entity_type_id, 1032);
    let chosen = s
        .create_type(smart("C", 140), category(), stages())
        .await
        .unwrap();
    assert_eq!(chosen.entity_type_id, 140);
    assert!(matches!(
        s.create_type(smart("D", 140), category(), stages()).await,
        Err(StoreError::Rejected(_))
    ));
    let categories = s.categories(1030).await.unwrap();
    assert_eq!(categories.len(), 1);
    assert_eq!(first.default_category, categories[0].id);
    let list = format!("DYNAMIC_1030_STAGE_{}", categories[0].id);
    let stages_of_first = s
        .statuses()
        .await
        .unwrap()
        .into_iter()
        .filter(|st| st.entity_id == list)
        .count();
    assert_eq!(stages_of_first, 5);
    // Items are rows like any entity's, bound to contacts like deals.
    let items = EntityType::Dynamic(1030);
    let contact = s
        .create(EntityType::Contact, entity(vec![("NAME", text("K"))]))
        .await
        .unwrap();
    let mut item = entity(vec![("TITLE", text("Order"))]);
    item.bindings = vec![(
        items.def().owns[0],
        vec![Binding {
            bound_id: contact,
            sort: 10,
            role_id: 0,
            is_primary: true,
        }],
    )];
    let id = s.create(items, item).await.unwrap();
    assert_eq!(id, 1);
    let row = s.get(items, id).await.unwrap().unwrap();
    assert_eq!(row.values["CONTACT_ID"], Stored::Int(contact));
    // A contact's deletion unbinds it from the item.
    assert!(s.delete(EntityType::Contact, contact).await.unwrap());
    let row = s.get(items, id).await.unwrap().unwrap();
    assert_eq!(row.values["CONTACT_ID"], Stored::Null);
    assert!(
        s.bindings(items.def().owns[0], id)
            .await
            .unwrap()
            .is_empty()
    );
    // Update keeps the entityTypeId; delete takes the table, categories and stages.
    let renamed = SmartType {
        title: "A2".into(),
        entity_type_id: 9999,
        ..first.clone()
    };
    assert!(s.update_type(renamed).await.unwrap());
    let got = s.types().await.unwrap();
    assert_eq!((got[0].title.as_str(), got[0].entity_type_id), ("A2", 1030));
    assert!(s.delete_type(first.id).await.unwrap());
    assert!(!s.delete_type(first.id).await.unwrap());
    assert!(s.categories(1030).await.unwrap().is_empty());
    assert!(
        !s.statuses()
            .await
            .unwrap()
            .iter()
            .any(|st| st.entity_id.starts_with("DYNAMIC_1030_"))
    );
    assert_eq!(s.types().await.unwrap().len(), 2);
}

/// Entities created with chosen ids (fixtures): the id is kept, a taken one refused, and
/// ids handed out later continue after the highest.
async fn chosen_ids_are_kept_and_later_ones_continue(b: &Backend) {
    let s = b.store.as_ref();
    let with_id = |id| NewEntity {
        id: Some(id),
        ..entity(vec![("NAME", text("Chosen"))])
    };
    assert_eq!(
        s.create(EntityType::Contact, with_id(1010)).await.unwrap(),
        1010
    );
    assert!(matches!(
        s.create(EntityType::Contact, with_id(1010)).await,
        Err(StoreError::Rejected(_))
    ));
    assert_eq!(s.create(EntityType::Contact, with_id(7)).await.unwrap(), 7);
    assert_eq!(
        s.create(EntityType::Contact, entity(vec![])).await.unwrap(),
        1011
    );
}

/// A reset empties the CRM, keeps (or with `all` trims) the people, restores the
/// reference lists and starts ids again at 1.
async fn reset_empties_the_crm_and_restarts_ids(b: &Backend) {
    let s = b.store.as_ref();
    let admin = || User {
        id: 1,
        name: "Admin".into(),
        last_name: String::new(),
        email: String::new(),
        admin: true,
        active: true,
        departments: vec![ROOT_DEPARTMENT],
        registered_at: 1,
    };
    s.bootstrap(admin(), "h".into(), vec![Scope::Crm], 1)
        .await
        .unwrap();
    for _ in 0..3 {
        s.create(EntityType::Lead, entity(vec![("TITLE", text("L"))]))
            .await
            .unwrap();
    }
    let smart = SmartType::from_fields(json!({"title": "T"}).as_object().unwrap(), 1, 1);
    let category = Category {
        id: 0,
        entity_type_id: 0,
        name: "General".into(),
        sort: 500,
        created: 1,
    };
    s.create_type(smart, category, Box::new(crm_core::smart::new_stages))
        .await
        .unwrap();
    s.create_user_field(definition("KIND", "string"))
        .await
        .unwrap();
    let other = User {
        id: 0,
        email: "b@example.org".into(),
        ..admin()
    };
    s.create_user(other).await.unwrap();
    let defaults = crm_core::pipeline::default_statuses();
    s.reset(false, defaults.clone()).await.unwrap();
    assert_eq!(
        s.create(EntityType::Lead, entity(vec![])).await.unwrap(),
        1,
        "ids start again"
    );
    assert!(s.types().await.unwrap().is_empty());
    assert!(s.user_fields(None).await.unwrap().is_empty());
    assert_eq!(s.statuses().await.unwrap().len(), defaults.len());
    assert_eq!(s.users().await.unwrap().len(), 2, "people stay");
    s.reset(true, defaults).await.unwrap();
    let users = s.users().await.unwrap();
    assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), [1]);
    assert_eq!(
        s.active_webhooks(1).await.unwrap().len(),
        1,
        "the admin's webhook stays"
    );
}

/// Snapshots: everything as it was, smart processes' tables included, ids continuing
/// from there; listed, replaced, deleted.
async fn snapshots_restore_everything_in_place(b: &Backend) {
    let s = b.store.as_ref();
    for n in 0..3 {
        s.create(
            EntityType::Lead,
            entity(vec![("TITLE", text(&format!("L{n}")))]),
        )
        .await
        .unwrap();
    }
    let smart = SmartType::from_fields(json!({"title": "T"}).as_object().unwrap(), 1, 1);
    let category = Category {
        id: 0,
        entity_type_id: 0,
        name: "General".into(),
        sort: 500,
        created: 1,
    };
    let t = s
        .create_type(smart, category, Box::new(crm_core::smart::new_stages))
        .await
        .unwrap();
    let items = EntityType::Dynamic(t.entity_type_id);
    s.create(items, entity(vec![("TITLE", text("kept"))]))
        .await
        .unwrap();
    s.snapshot("base".into()).await.unwrap();
    // Changes after the snapshot: more leads, one deleted, the type gone.
    for _ in 0..2 {
        s.create(EntityType::Lead, entity(vec![])).await.unwrap();
    }
    s.delete(EntityType::Lead, 1).await.unwrap();
    s.delete(items, 1).await.unwrap();
    assert!(s.delete_type(t.id).await.unwrap());
    assert!(s.restore("base".into()).await.unwrap());
    let (ids, total) = ids_of(s, query(json!({}), json!({}), 0, 50)).await;
    assert_eq!((ids, total), (vec![1, 2, 3], 3));
    assert_eq!(s.types().await.unwrap().len(), 1);
    let row = s.get(items, 1).await.unwrap().expect("the item is back");
    assert_eq!(row.values["TITLE"], text("kept"));
    assert_eq!(
        s.create(EntityType::Lead, entity(vec![])).await.unwrap(),
        4,
        "ids continue from the snapshot"
    );
    assert!(!s.restore("nope".into()).await.unwrap());
    assert!(matches!(
        s.snapshot("Bad Name".into()).await,
        Err(StoreError::Rejected(_))
    ));
    s.snapshot("second".into()).await.unwrap();
    assert_eq!(s.snapshots().await.unwrap(), ["base", "second"]);
    assert!(s.delete_snapshot("base".into()).await.unwrap());
    assert!(!s.delete_snapshot("base".into()).await.unwrap());
    assert_eq!(s.snapshots().await.unwrap(), ["second"]);
    s.delete_snapshot("second".into()).await.unwrap();
}

/// A lead user field definition of `ty` named `UF_CRM_<name>`, not stored yet.
fn definition(name: &str, ty: &str) -> UserField {
    UserField::from_add(
        "CRM_LEAD".into(),
        json!({"FIELD_NAME": name, "USER_TYPE_ID": ty})
            .as_object()
            .unwrap(),
    )
    .unwrap()
}

/// User field definitions: ids allocated, one name per owner, lists kept by item id, and
/// values going with a deleted field; filters and order on the values.
async fn user_fields_and_their_values(b: &Backend) {
    let s = b.store.as_ref();
    let mut tags = definition("TAGS", "string");
    tags.multiple = true;
    let tags = s.create_user_field(tags).await.unwrap();
    let score = s
        .create_user_field(definition("SCORE", "integer"))
        .await
        .unwrap();
    assert!(matches!(
        s.create_user_field(definition("SCORE", "string")).await,
        Err(StoreError::Rejected(_))
    ));
    let mut deal_score = definition("SCORE", "integer");
    deal_score.entity_id = "CRM_DEAL".into();
    s.create_user_field(deal_score).await.unwrap();
    assert_eq!(
        s.user_fields(Some("CRM_LEAD".into())).await.unwrap().len(),
        2
    );
    assert_eq!(s.user_fields(None).await.unwrap().len(), 3);
    // Rows with values, through create and update.
    let doc = |v: serde_json::Value| v.as_object().unwrap().clone();
    let mut ids = Vec::new();
    for (n, tags) in [(30, json!(["x", "y"])), (4, json!(["y"])), (200, json!([]))] {
        let mut new = entity(vec![("TITLE", text("L"))]);
        new.uf = doc(json!({"UF_CRM_SCORE": n, "UF_CRM_TAGS": tags}));
        ids.push(s.create(EntityType::Lead, new).await.unwrap());
    }
    let bump = doc(json!({"UF_CRM_SCORE": 5, "UF_CRM_TAGS": ["z"]}));
    s.update(
        EntityType::Lead,
        ids[1],
        Box::new(move |_, _| {
            Ok(Update {
                uf: Some(bump.clone()),
                ..Update::default()
            })
        }),
    )
    .await
    .unwrap();
    let schema = Schema::with_user_fields(
        EntityType::Lead,
        s.user_fields(Some("CRM_LEAD".into())).await.unwrap(),
    );
    let list = |filter: serde_json::Value, order: serde_json::Value| ListQuery {
        filter: parse_filter(&schema, filter.as_object().unwrap(), utc()).unwrap(),
        order: parse_order(&schema, order.as_object().unwrap()),
        offset: 0,
        limit: 50,
        count: true,
        with_multi: false,
        visible: crm_core::permission::Reach::Everything,
    };
    let (got, _) = ids_of(s, list(json!({}), json!({"UF_CRM_SCORE": "DESC"}))).await;
    assert_eq!(got, [ids[2], ids[0], ids[1]], "by the number, not its text");
    let (got, _) = ids_of(s, list(json!({">UF_CRM_SCORE": 5}), json!({}))).await;
    assert_eq!(got, [ids[0], ids[2]]);
    let (got, _) = ids_of(s, list(json!({"UF_CRM_TAGS": "y"}), json!({}))).await;
    assert_eq!(got, [ids[0]], "any value of a list matches");
    let (got, _) = ids_of(s, list(json!({"%UF_CRM_TAGS": "Z"}), json!({}))).await;
    assert_eq!(got, [ids[1]]);
    // Deleting a definition removes its values everywhere.
    assert!(s.delete_user_field(score).await.unwrap());
    assert!(!s.delete_user_field(score).await.unwrap());
    let row = s.get(EntityType::Lead, ids[0]).await.unwrap().unwrap();
    assert_eq!(row.uf, doc(json!({"UF_CRM_TAGS": ["x", "y"]})));
    // An update keeps the owner, name and type as stored and rewrites the list.
    let mut all = s.user_fields(Some("CRM_LEAD".into())).await.unwrap();
    let mut changed = all.remove(0);
    assert_eq!(changed.id, tags);
    changed.field_name = "UF_CRM_OTHER".into();
    changed.sort = 7;
    assert!(s.update_user_field(changed).await.unwrap());
    let got = &s.user_fields(Some("CRM_LEAD".into())).await.unwrap()[0];
    assert_eq!((got.field_name.as_str(), got.sort), ("UF_CRM_TAGS", 7));
}

/// Users with departments, the department tree, roles with grants: stored as given,
/// members found by department, the highest grant of several roles visible to the caller.
async fn users_departments_and_roles(b: &Backend) {
    let s = b.store.as_ref();
    assert_eq!(
        s.departments().await.unwrap().len(),
        1,
        "the root department"
    );
    assert_eq!(s.member_id().await.unwrap().len(), 32);
    let dept = |name: &str, parent| Department {
        id: 0,
        name: name.into(),
        sort: 500,
        parent: Some(parent),
        head: None,
    };
    let sales = s
        .create_department(dept("Sales", ROOT_DEPARTMENT))
        .await
        .unwrap();
    let east = s.create_department(dept("East", sales)).await.unwrap();
    assert!(matches!(
        s.create_department(dept("Orphan", 999)).await,
        Err(StoreError::NotFound)
    ));
    let user = |name: &str, departments: Vec<i64>| User {
        id: 0,
        name: name.into(),
        last_name: "Ü".into(),
        email: format!("{name}@example.org"),
        admin: false,
        active: true,
        departments,
        registered_at: 1_000,
    };
    let ann = s.create_user(user("ann", vec![sales])).await.unwrap();
    let bob = s.create_user(user("bob", vec![east, sales])).await.unwrap();
    assert!(matches!(
        s.create_user(user("eve", vec![999])).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.users().await.unwrap().len(),
        2,
        "a failed add leaves nothing"
    );
    let got = s.user(bob).await.unwrap().unwrap();
    assert_eq!(got.departments, vec![sales, east], "ascending");
    assert_eq!(got.last_name, "Ü");
    assert_eq!(
        s.department_members(vec![sales]).await.unwrap(),
        vec![ann, bob]
    );
    assert_eq!(
        s.department_members(vec![east, 999]).await.unwrap(),
        vec![bob]
    );
    assert!(s.department_members(vec![]).await.unwrap().is_empty());
    assert!(s.set_user_active(ann, false).await.unwrap());
    assert!(!s.user(ann).await.unwrap().unwrap().active);
    assert!(!s.set_user_active(999, false).await.unwrap());

    let own = vec![
        Grant::parse("lead.read=own").unwrap(),
        Grant::parse("lead.update=own").unwrap(),
    ];
    s.create_role("Own".into(), own).await.unwrap();
    s.create_role(
        "Reader".into(),
        vec![Grant::parse("lead.read=all").unwrap()],
    )
    .await
    .unwrap();
    assert!(matches!(
        s.create_role("Own".into(), vec![]).await,
        Err(StoreError::Rejected(_))
    ));
    assert!(s.assign_role("Own".into(), bob).await.unwrap());
    assert!(!s.assign_role("Own".into(), bob).await.unwrap());
    assert!(s.assign_role("Reader".into(), bob).await.unwrap());
    assert!(matches!(
        s.assign_role("Nope".into(), bob).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.assign_role("Own".into(), 999).await,
        Err(StoreError::NotFound)
    ));
    let mut grants: Vec<(Action, Level)> = s
        .user_grants(bob)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.action, g.level))
        .collect();
    grants.sort_by_key(|(a, l)| (a.code(), *l));
    assert_eq!(
        grants,
        [
            (Action::Read, Level::Own),
            (Action::Read, Level::All),
            (Action::Update, Level::Own)
        ]
    );
    assert!(s.user_grants(ann).await.unwrap().is_empty());
    let roles = s.roles().await.unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0].users, vec![bob]);
    assert_eq!(roles[0].grants.len(), 2);
}

fn tokens(tag: &str, access_expires: i64, refresh_expires: i64) -> NewTokens {
    NewTokens {
        access_hash: format!("a-{tag}"),
        access_expires,
        refresh_hash: format!("r-{tag}"),
        refresh_expires,
    }
}

/// OAuth: tokens are found by hash; a refresh token and a code are used once (also when
/// two exchanges race), only by their application and only before they expire.
async fn oauth_tokens_and_codes_are_single_use(b: &Backend) {
    let s = b.store.as_ref();
    s.bootstrap(
        User {
            id: 1,
            name: "A".into(),
            last_name: String::new(),
            email: String::new(),
            admin: true,
            active: true,
            departments: vec![ROOT_DEPARTMENT],
            registered_at: 0,
        },
        "h".into(),
        Scope::ALL.to_vec(),
        0,
    )
    .await
    .unwrap();
    let app = |client_id: &str| App {
        id: 0,
        client_id: client_id.into(),
        secret_hash: "sh".into(),
        name: "App".into(),
        scopes: vec![Scope::Crm, Scope::User],
        redirect_uri: String::new(),
        created_at: 1,
    };
    let one = s.create_app(app("local.one.1")).await.unwrap();
    let two = s.create_app(app("local.two.2")).await.unwrap();
    assert!(matches!(
        s.create_app(app("local.one.1")).await,
        Err(StoreError::Rejected(_))
    ));
    assert_eq!(
        s.app_by_client_id("local.two.2".into())
            .await
            .unwrap()
            .unwrap()
            .id,
        two
    );
    assert!(s.app(999).await.unwrap().is_none());
    assert!(matches!(
        s.issue_tokens(999, 1, vec![], tokens("x", 1, 1), 0).await,
        Err(StoreError::NotFound)
    ));

    let first = s
        .issue_tokens(one, 1, vec![Scope::Crm], tokens("1", 1_100, 5_000), 1_000)
        .await
        .unwrap();
    assert_eq!(
        s.access_token("a-1".into()).await.unwrap(),
        Some(first.clone())
    );
    assert!(s.access_token("r-1".into()).await.unwrap().is_none());
    // Another application cannot use the refresh token; this one can, once, even when
    // two refreshes race.
    assert!(
        s.refresh_tokens(two, "r-1".into(), tokens("2", 2_000, 9_000), 1_050)
            .await
            .unwrap()
            .is_none()
    );
    let other = b.another().await;
    let (x, y) = tokio::join!(
        s.refresh_tokens(one, "r-1".into(), tokens("3", 2_000, 9_000), 1_050),
        other.refresh_tokens(one, "r-1".into(), tokens("4", 2_000, 9_000), 1_050),
    );
    other.close().await;
    let won: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "exactly one refresh");
    assert_eq!(
        (won[0].user_id, won[0].scopes.clone()),
        (1, vec![Scope::Crm])
    );
    // The old access token stays until its own expiry.
    assert!(s.access_token("a-1".into()).await.unwrap().is_some());
    // An expired refresh token is refused.
    let late = s
        .issue_tokens(one, 1, vec![Scope::Crm], tokens("5", 1_100, 1_200), 1_000)
        .await
        .unwrap();
    assert_eq!(late.access_expires, 1_100);
    assert!(
        s.refresh_tokens(one, "r-5".into(), tokens("6", 9, 9), 1_200)
            .await
            .unwrap()
            .is_none()
    );

    s.create_code(one, 1, "c-1".into(), 3_000).await.unwrap();
    s.create_code(one, 1, "c-2".into(), 3_000).await.unwrap();
    assert!(matches!(
        s.create_code(one, 999, "c-3".into(), 3_000).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        s.redeem_code(two, "c-1".into(), tokens("7", 4_000, 9_000), 2_000)
            .await
            .unwrap()
            .is_none()
    );
    let redeemed = s
        .redeem_code(one, "c-1".into(), tokens("8", 4_000, 90_000), 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        redeemed.scopes,
        vec![Scope::Crm, Scope::User],
        "the app's scopes"
    );
    assert!(
        s.redeem_code(one, "c-1".into(), tokens("9", 4_000, 9_000), 2_000)
            .await
            .unwrap()
            .is_none()
    );
    // Expired codes are refused.
    assert!(
        s.redeem_code(one, "c-2".into(), tokens("10", 4_000, 9_000), 3_000)
            .await
            .unwrap()
            .is_none()
    );
    // Pairs that can no longer be used are dropped as new ones are issued.
    s.issue_tokens(one, 1, vec![], tokens("11", 20_000, 20_000), 10_000)
        .await
        .unwrap();
    assert!(s.access_token("a-1".into()).await.unwrap().is_none());
    assert!(
        s.access_token("a-8".into()).await.unwrap().is_some(),
        "refreshable"
    );
}

on_both_backends!(
    users_departments_and_roles,
    oauth_tokens_and_codes_are_single_use,
    records_transfer_verbatim,
    entities_round_trip,
    ids_increase_and_are_not_reused,
    lists_filter_order_and_page,
    binding_sets_keep_their_invariants,
    concurrent_binding_edits_serialise,
    both_sides_of_a_relation_serialise,
    statuses_and_categories,
    identity_is_bootstrapped_once,
    user_fields_and_their_values,
    smart_processes_have_tables_and_pipelines,
    chosen_ids_are_kept_and_later_ones_continue,
    reset_empties_the_crm_and_restarts_ids,
    snapshots_restore_everything_in_place,
);
