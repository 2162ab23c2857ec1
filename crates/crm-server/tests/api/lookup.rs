//! Finding a client by phone or e-mail: the multi-field list filters (a case-insensitive
//! prefix of the value as stored) and `crm.duplicate.findbycomm` (the portal's normalised
//! match codes), with the caller's rights, over HTTP on the configured backend.

use crate::helpers::{TestApp, assert_error};
use crate::permissions::{person, user_with_hook};
use crm_core::identity::{Grant, ROOT_DEPARTMENT};
use serde_json::{Value, json};

fn id_of(v: Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an id: {v}"))
}

fn list_ids(result: &Value) -> Vec<i64> {
    crate::helpers::ids(result)
}

/// Adds an entity of `method`'s type with the given phones and e-mails.
async fn add(app: &TestApp, method: &str, name: &str, phones: &[&str], emails: &[&str]) -> i64 {
    let values = |list: &[&str]| -> Value {
        list.iter()
            .map(|v| json!({"VALUE": v, "VALUE_TYPE": "WORK"}))
            .collect()
    };
    let fields = json!({
        "TITLE": name, "NAME": name, "LAST_NAME": name,
        "PHONE": values(phones), "EMAIL": values(emails),
    });
    id_of(app.ok(method, json!({"fields": fields})).await)
}

async fn lead_list(app: &TestApp, filter: Value) -> Vec<i64> {
    list_ids(
        &app.ok(
            "crm.lead.list",
            json!({"filter": filter, "select": ["ID"], "order": {"ID": "ASC"}}),
        )
        .await,
    )
}

#[tokio::test]
async fn list_filters_match_a_prefix_of_the_value_as_stored_ignoring_case() {
    let app = TestApp::spawn().await;
    let ann = add(
        &app,
        "crm.lead.add",
        "ann",
        &["+7 (999) 123-45-67"],
        &["Ann.Lee@Example.org"],
    )
    .await;
    let annex = add(
        &app,
        "crm.lead.add",
        "annex",
        &[],
        &["ann.lee@example.org.uk"],
    )
    .await;
    let bob = add(
        &app,
        "crm.lead.add",
        "bob",
        &["79991234567"],
        &["bob_1@example.org", "ANN.LEE@EXAMPLE.ORG"],
    )
    .await;
    let _other = add(&app, "crm.lead.add", "other", &["555"], &["x@y.z"]).await;
    // Mixed case on either side; a prefix also matches longer values.
    assert_eq!(
        lead_list(&app, json!({"EMAIL": "ann.lee@example.org"})).await,
        [ann, annex, bob]
    );
    assert_eq!(
        lead_list(&app, json!({"EMAIL": "ANN.LEE@EXAMPLE.ORG.UK"})).await,
        [annex]
    );
    // `_` matches any one character; a `%` is removed; surrounding blanks are trimmed.
    assert_eq!(lead_list(&app, json!({"EMAIL": "bob_1"})).await, [bob]);
    assert_eq!(lead_list(&app, json!({"EMAIL": "bo__1@"})).await, [bob]);
    assert_eq!(
        lead_list(&app, json!({"EMAIL": " %ann.lee@example.org.%uk "})).await,
        [annex]
    );
    // Phones compare as written: punctuation is not normalised in a list filter.
    assert_eq!(lead_list(&app, json!({"PHONE": "+7 (999)"})).await, [ann]);
    assert_eq!(lead_list(&app, json!({"PHONE": "7999"})).await, [bob]);
    assert_eq!(
        lead_list(&app, json!({"PHONE": "79991234567"})).await,
        [bob]
    );
    // Several values: only the first one counts. Both types: both must match.
    assert_eq!(
        lead_list(&app, json!({"EMAIL": ["bob", "ann"]})).await,
        [bob]
    );
    assert_eq!(
        lead_list(&app, json!({"EMAIL": "ann", "PHONE": "7"})).await,
        [bob]
    );
    assert_eq!(
        lead_list(&app, json!({"EMAIL": "nobody@"})).await,
        Vec::<i64>::new()
    );
    // A prefixed key filters nothing, as on a portal; neither does an empty value.
    assert_eq!(
        lead_list(&app, json!({"%EMAIL": "ann", "=PHONE": "x", "!EMAIL": "q"}))
            .await
            .len(),
        4
    );
    assert_eq!(lead_list(&app, json!({"EMAIL": "  "})).await.len(), 4);
    // The total counts matches only.
    let (_, body) = app
        .call(
            "crm.lead.list",
            json!({"filter": {"EMAIL": "ann.lee"}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(body["total"], 3, "{body}");

    // Contacts and companies have the same filters over their own values only.
    let contact = add(
        &app,
        "crm.contact.add",
        "c",
        &["+1 415 555 0100"],
        &["Ann.Lee@example.org"],
    )
    .await;
    let company = add(&app, "crm.company.add", "co", &["+1 415 555 0100"], &[]).await;
    let got = app
        .ok(
            "crm.contact.list",
            json!({"filter": {"EMAIL": "ann.lee@"}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(list_ids(&got), [contact]);
    let got = app
        .ok(
            "crm.company.list",
            json!({"filter": {"PHONE": "+1 415"}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(list_ids(&got), [company]);
    let got = app
        .ok(
            "crm.company.list",
            json!({"filter": {"EMAIL": "ann"}, "select": ["ID"]}),
        )
        .await;
    assert_eq!(list_ids(&got), Vec::<i64>::new());

    // A changed value is found by its new text only; a deleted one not at all.
    let got = app.ok("crm.lead.get", json!({"id": ann})).await;
    let email_id = got["EMAIL"][0]["ID"].clone();
    app.ok(
        "crm.lead.update",
        json!({"id": ann, "fields": {"EMAIL": [{"ID": email_id, "VALUE": "Ann@New.org"}]}}),
    )
    .await;
    assert_eq!(lead_list(&app, json!({"EMAIL": "ann@new"})).await, [ann]);
    assert_eq!(
        lead_list(&app, json!({"EMAIL": "ann.lee@example.org"})).await,
        [annex, bob]
    );
    app.ok("crm.lead.delete", json!({"id": bob})).await;
    assert_eq!(
        lead_list(&app, json!({"PHONE": "7999"})).await,
        Vec::<i64>::new()
    );
}

async fn find(app: &TestApp, params: Value) -> Value {
    app.ok("crm.duplicate.findbycomm", params).await
}

#[tokio::test]
async fn findbycomm_compares_normalised_phones_and_e_mails_in_lower_case() {
    let app = TestApp::spawn().await;
    let lead = add(
        &app,
        "crm.lead.add",
        "l",
        &["+7 (999) 123-45-67"],
        &["Ann@Example.org"],
    )
    .await;
    let lead2 = add(&app, "crm.lead.add", "l2", &["8 999 123 45 67#12"], &[]).await;
    let contact = add(
        &app,
        "crm.contact.add",
        "c",
        &["79991234567"],
        &[" ann@example.ORG "],
    )
    .await;
    let company = add(
        &app,
        "crm.company.add",
        "co",
        &["+1 (415) 555-0100"],
        &["ann@example.org"],
    )
    .await;
    let _deal = app
        .ok("crm.deal.add", json!({"fields": {"TITLE": "d"}}))
        .await;

    // Every spelling of the number finds every spelling stored; types in portal order,
    // integer ids.
    for phone in [
        "79991234567",
        "+7 999 123-45-67",
        "8(999)1234567",
        "+79991234567#1",
    ] {
        let got = find(&app, json!({"type": "PHONE", "values": [phone]})).await;
        assert_eq!(
            got,
            json!({"LEAD": [lead, lead2], "CONTACT": [contact]}),
            "{phone}"
        );
    }
    let got = find(
        &app,
        json!({"type": "email", "values": ["ANN@EXAMPLE.ORG"]}),
    )
    .await;
    assert_eq!(
        got,
        json!({"LEAD": [lead], "CONTACT": [contact], "COMPANY": [company]})
    );
    // An exact comparison: no prefixes.
    let got = find(&app, json!({"type": "EMAIL", "values": ["ann@example.or"]})).await;
    assert_eq!(got, json!([]));
    // One type; several values merged in order without repeats; blanks and non-text
    // values skipped.
    let got = find(
        &app,
        json!({"type": "PHONE", "values": ["14155550100", "", 79991234567_i64, "89991234567"], "entity_type": "company"}),
    )
    .await;
    assert_eq!(got, json!({"COMPANY": [company]}));
    let got = find(
        &app,
        json!({"type": "PHONE", "values": ["+1 415 555 0100", "79991234567"]}),
    )
    .await;
    assert_eq!(
        got,
        json!({"COMPANY": [company], "LEAD": [lead, lead2], "CONTACT": [contact]})
    );
    let got = find(
        &app,
        json!({"type": "PHONE", "values": ["79991234567"], "entity_type": "C"}),
    )
    .await;
    assert_eq!(got, json!({"CONTACT": [contact]}));
    // An unknown type name searches all three; a type without phones finds nothing.
    let got = find(
        &app,
        json!({"type": "PHONE", "values": ["14155550100"], "entity_type": "SPACESHIP"}),
    )
    .await;
    assert_eq!(got, json!({"COMPANY": [company]}));
    let got = find(
        &app,
        json!({"type": "PHONE", "values": ["14155550100"], "entity_type": "QUOTE"}),
    )
    .await;
    assert_eq!(got, json!([]));
    // Form-encoded, as PHP clients send it.
    let (status, body) = app
        .form(
            "crm.duplicate.findbycomm",
            "type=EMAIL&values[]=ann%40example.org&entity_type=LEAD",
        )
        .await;
    assert_eq!(
        (status, &body["result"]),
        (200, &json!({"LEAD": [lead]})),
        "{body}"
    );
    // A deleted entity is no longer found.
    app.ok("crm.contact.delete", json!({"id": contact})).await;
    let got = find(
        &app,
        json!({"type": "PHONE", "values": ["79991234567"], "entity_type": "CONTACT"}),
    )
    .await;
    assert_eq!(got, json!([]));
}

#[tokio::test]
async fn findbycomm_returns_twenty_per_value_leads_first_and_reads_twenty_values() {
    let app = TestApp::spawn().await;
    let mut leads = Vec::new();
    for i in 0..21 {
        leads.push(
            add(
                &app,
                "crm.lead.add",
                &format!("l{i}"),
                &["+44 20 7946 0000"],
                &[],
            )
            .await,
        );
    }
    add(&app, "crm.contact.add", "c", &["+44 20 7946 0000"], &[]).await;
    let got = find(&app, json!({"type": "PHONE", "values": ["442079460000"]})).await;
    assert_eq!(
        got,
        json!({"LEAD": leads[..20]}),
        "20 leads hide the contact"
    );
    // Values past the twentieth distinct one are ignored, without an error.
    let mut values: Vec<String> = (0..20).map(|i| format!("+1 000 000 00{i:02}")).collect();
    values.push("442079460000".into());
    let got = find(&app, json!({"type": "PHONE", "values": values})).await;
    assert_eq!(got, json!([]));
}

#[tokio::test]
async fn findbycomm_refuses_bad_parameters_as_a_portal_does() {
    let app = TestApp::spawn().await;
    for (params, text) in [
        (
            json!({"values": ["1"]}),
            "Communication type is not defined.",
        ),
        (
            json!({"type": "", "values": ["1"]}),
            "Communication type is not defined.",
        ),
        (
            json!({"type": "fax", "values": ["1"]}),
            "Communication type 'FAX' is not supported in current context.",
        ),
        (
            json!({"type": "PHONE"}),
            "Communication values is not defined.",
        ),
        (
            json!({"type": "PHONE", "values": []}),
            "Communication values is not defined.",
        ),
        (
            json!({"type": "PHONE", "values": "79991234567"}),
            "Communication values is not defined.",
        ),
        (
            json!({"type": "PHONE", "values": ["1"], "entity_type": "DEAL"}),
            "Deal is not supported in current context.",
        ),
    ] {
        let got = app.call("crm.duplicate.findbycomm", params.clone()).await;
        assert_error(&got, 400, "", text);
    }
}

#[tokio::test]
async fn a_caller_sees_only_what_they_may_read() {
    let app = TestApp::spawn().await;
    let store = &app.services.store;
    let lead = add(
        &app,
        "crm.lead.add",
        "l",
        &["+7 999 000 00 01"],
        &["x@example.org"],
    )
    .await;
    let contact = add(
        &app,
        "crm.contact.add",
        "c",
        &["+7 999 000 00 01"],
        &["x@example.org"],
    )
    .await;

    // No rights at all: both lookups are refused.
    let (_, nobody) = user_with_hook(&app, person("nobody", ROOT_DEPARTMENT)).await;
    let call = |hook: String, method: &'static str, params: Value| {
        let client = app.client.clone();
        async move {
            crate::helpers::read(
                client
                    .post(format!("{hook}{method}"))
                    .json(&params)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let got = call(
        nobody.clone(),
        "crm.duplicate.findbycomm",
        json!({"type": "EMAIL", "values": ["x@example.org"]}),
    )
    .await;
    assert_error(&got, 400, "", "Access denied.");
    let got = call(nobody, "crm.lead.list", json!({"filter": {"EMAIL": "x@"}})).await;
    assert_error(&got, 400, "", "Access denied.");

    // Contacts only: leads are neither listed nor found.
    let (reader, hook) = user_with_hook(&app, person("reader", ROOT_DEPARTMENT)).await;
    let grants = vec![Grant::parse("contact.read=all").unwrap()];
    store.create_role("contacts".into(), grants).await.unwrap();
    store.assign_role("contacts".into(), reader).await.unwrap();
    let (status, body) = call(
        hook.clone(),
        "crm.duplicate.findbycomm",
        json!({"type": "PHONE", "values": ["79990000001"]}),
    )
    .await;
    assert_eq!(
        (status, &body["result"]),
        (200, &json!({"CONTACT": [contact]})),
        "{body}"
    );
    let got = call(
        hook.clone(),
        "crm.lead.list",
        json!({"filter": {"PHONE": "+7"}}),
    )
    .await;
    assert_error(&got, 400, "", "Access denied.");

    // Own leads only: someone else's lead with the same e-mail is not found.
    let (owner, own_hook) = user_with_hook(&app, person("owner", ROOT_DEPARTMENT)).await;
    let grants = vec![Grant::parse("lead.read=own").unwrap()];
    store.create_role("own".into(), grants).await.unwrap();
    store.assign_role("own".into(), owner).await.unwrap();
    let mine = add(&app, "crm.lead.add", "mine", &[], &["x@example.org"]).await;
    app.ok(
        "crm.lead.update",
        json!({"id": mine, "fields": {"ASSIGNED_BY_ID": owner}}),
    )
    .await;
    let (status, body) = call(
        own_hook.clone(),
        "crm.duplicate.findbycomm",
        json!({"type": "EMAIL", "values": ["X@example.org"]}),
    )
    .await;
    assert_eq!(
        (status, &body["result"]),
        (200, &json!({"LEAD": [mine]})),
        "{body}"
    );
    let (status, body) = call(
        own_hook,
        "crm.lead.list",
        json!({"filter": {"EMAIL": "x@"}, "select": ["ID"]}),
    )
    .await;
    assert_eq!(
        (status, list_ids(&body["result"])),
        (200, vec![mine]),
        "{body}"
    );
    assert_ne!(lead, mine);
}

async fn ids_where(app: &TestApp, method: &str, filter: Value) -> Vec<i64> {
    let result = app
        .ok(
            method,
            json!({"filter": filter, "select": ["ID"], "order": {"ID": "ASC"}}),
        )
        .await;
    list_ids(&result)
}

/// Substring filters read a trigram index on the columns people search by; the answers
/// are those of a plain LIKE: any case, `_` and `%` as wildcards, short patterns, negation,
/// and the index follows adds, updates, deletes and a snapshot's restore.
#[tokio::test]
async fn substring_filters_answer_as_like_through_the_text_index() {
    let app = TestApp::spawn_with(&["--control"]).await;
    let mut leads = Vec::new();
    for (title, name) in [
        ("Иван Petrov deal", "Иван"),
        ("Big Order 2024", "Ann"),
        ("big_order", "Bob"),
        ("Lead 123", "Анна"),
        ("Lead 1234", "Joanna"),
    ] {
        let fields = json!({"TITLE": title, "NAME": name, "LAST_NAME": format!("{name}son")});
        leads.push(id_of(
            app.ok("crm.lead.add", json!({"fields": fields})).await,
        ));
    }
    let [ivan, big, big_, l123, l1234] = leads[..] else {
        unreachable!()
    };
    let lead = |filter: Value| ids_where(&app, "crm.lead.list", filter);
    assert_eq!(lead(json!({"%TITLE": "иван"})).await, [ivan]);
    assert_eq!(lead(json!({"%TITLE": "ORDER"})).await, [big, big_]);
    assert_eq!(lead(json!({"%TITLE": "g_or"})).await, [big, big_]);
    assert_eq!(lead(json!({"%TITLE": "ead%234"})).await, [l1234]);
    assert_eq!(lead(json!({"%TITLE": "Lead 12"})).await, [l123, l1234]);
    assert_eq!(lead(json!({"%TITLE": "12"})).await, [l123, l1234]);
    assert_eq!(lead(json!({"=%TITLE": "lead 1%"})).await, [l123, l1234]);
    assert_eq!(lead(json!({"%=TITLE": "%order"})).await, [big_]);
    assert_eq!(lead(json!({"!%TITLE": "order"})).await, [ivan, l123, l1234]);
    assert_eq!(lead(json!({"%NAME": "анн"})).await, [l123]);
    assert_eq!(lead(json!({"%NAME": "ann"})).await, [big, l1234]);
    assert_eq!(lead(json!({"%LAST_NAME": "NNASON"})).await, [l1234]);
    assert_eq!(
        lead(json!({"%TITLE": "order", "%NAME": "bo"})).await,
        [big_]
    );
    assert_eq!(lead(json!({"%TITLE": "nowhere"})).await, Vec::<i64>::new());

    // The other entities' text columns.
    let contact = add(&app, "crm.contact.add", "Valentina", &[], &[]).await;
    let company = add(&app, "crm.company.add", "Acme Holding", &[], &[]).await;
    let deal = id_of(
        app.ok("crm.deal.add", json!({"fields": {"TITLE": "Acme renewal"}}))
            .await,
    );
    assert_eq!(
        ids_where(&app, "crm.contact.list", json!({"%NAME": "LENT"})).await,
        [contact]
    );
    assert_eq!(
        ids_where(&app, "crm.contact.list", json!({"%LAST_NAME": "tina"})).await,
        [contact]
    );
    assert_eq!(
        ids_where(&app, "crm.company.list", json!({"%TITLE": "hold"})).await,
        [company]
    );
    assert_eq!(
        ids_where(&app, "crm.deal.list", json!({"%TITLE": "acme"})).await,
        [deal]
    );

    // Writes keep the index current.
    app.ok(
        "crm.lead.update",
        json!({"id": l123, "fields": {"TITLE": "Renamed"}}),
    )
    .await;
    assert_eq!(lead(json!({"%TITLE": "Lead 12"})).await, [l1234]);
    assert_eq!(lead(json!({"%TITLE": "renamed"})).await, [l123]);
    app.ok("crm.lead.delete", json!({"id": big})).await;
    assert_eq!(lead(json!({"%TITLE": "order"})).await, [big_]);

    // A restored snapshot brings its index back with its rows.
    let snapshot = |path: &str| {
        let url = format!("{}/_crm/{path}", app.base);
        let client = app.client.clone();
        async move { client.post(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(snapshot("snapshots/text").await, 200);
    let zebra = id_of(
        app.ok("crm.lead.add", json!({"fields": {"TITLE": "Zebra"}}))
            .await,
    );
    app.ok(
        "crm.lead.update",
        json!({"id": l1234, "fields": {"TITLE": "Gone"}}),
    )
    .await;
    assert_eq!(lead(json!({"%TITLE": "zebra"})).await, [zebra]);
    assert_eq!(snapshot("snapshots/text/restore").await, 200);
    assert_eq!(lead(json!({"%TITLE": "zebra"})).await, Vec::<i64>::new());
    assert_eq!(lead(json!({"%TITLE": "Lead 12"})).await, [l1234]);
    assert_eq!(lead(json!({"%TITLE": "gone"})).await, Vec::<i64>::new());
    // …and keeps following writes afterwards.
    app.ok(
        "crm.lead.update",
        json!({"id": l1234, "fields": {"TITLE": "After"}}),
    )
    .await;
    assert_eq!(lead(json!({"%TITLE": "after"})).await, [l1234]);
}
