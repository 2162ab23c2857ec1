//! `crm-server export` and `import` through the real binary: a SQLite database with
//! leads, contacts, multi-fields, bindings and webhooks moves to PostgreSQL and back, and
//! every lead, contact and binding set reads back identically.

use crate::process::{ServerProcess, cli, fresh_postgres, webhook_path};
use serde_json::{Value, json};
use std::path::Path;

const LEADS: usize = 2_000;
const CONTACTS: usize = 900;
const DEALS: usize = 120;

/// A blocking JSON client for one server's admin webhook.
struct Api {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    hook: String,
}

impl Api {
    fn new(hook: &str) -> Self {
        Self {
            rt: tokio::runtime::Runtime::new().unwrap(),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
            hook: hook.to_string(),
        }
    }

    fn call(&self, method: &str, params: Value) -> Value {
        self.rt.block_on(async {
            let res = self
                .client
                .post(format!("{}{method}", self.hook))
                .json(&params)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            assert_eq!(status, 200, "{method}: {body}");
            body["result"].clone()
        })
    }

    /// Posts JSON to any URL; the status and the whole answer.
    fn post(&self, url: &str, params: Value) -> (u16, Value) {
        self.rt.block_on(async {
            let res = self.client.post(url).json(&params).send().await.unwrap();
            (res.status().as_u16(), res.json().await.unwrap())
        })
    }

    /// Runs commands 50 at a time; their results by key, in order.
    fn batch(&self, commands: Vec<String>) -> Vec<Value> {
        let mut out = Vec::new();
        for chunk in commands.chunks(50) {
            let r = self.call("batch", json!({ "cmd": chunk }));
            assert_eq!(r["result_error"], json!([]), "{r}");
            out.extend(r["result"].as_array().unwrap().iter().cloned());
        }
        out
    }
}

/// Every lead and contact (`*.get`) and every lead's `items.get` as the server answers
/// them (results and errors, 50 commands a batch; the timings are left out).
fn snapshot(api: &Api) -> Vec<Value> {
    let mut commands: Vec<String> = (1..=LEADS)
        .map(|i| format!("crm.lead.get?id={i}"))
        .collect();
    commands.extend((1..=CONTACTS).map(|i| format!("crm.contact.get?id={i}")));
    commands.extend((1..=LEADS).map(|i| format!("crm.lead.contact.items.get?id={i}")));
    commands.extend((1..=DEALS + 1).flat_map(|i| {
        [
            format!("crm.deal.get?id={i}"),
            format!("crm.deal.contact.items.get?id={i}"),
        ]
    }));
    commands.push("crm.company.get?id=1".to_string());
    commands.push("crm.status.list?order[ID]=ASC".to_string());
    commands.push("crm.category.list?entityTypeId=2".to_string());
    commands.push("crm.dealcategory.default.get".to_string());
    commands.extend(["user.get".to_string(), "department.get".to_string()]);
    commands.extend(
        [
            "crm.lead.userfield.list",
            "crm.contact.userfield.list",
            "crm.type.list",
            "crm.category.list?entityTypeId=1030",
            "crm.item.get?entityTypeId=1030&id=1",
            "crm.item.get?entityTypeId=1030&id=2",
            "crm.item.get?entityTypeId=1030&id=3",
        ]
        .map(str::to_string),
    );
    commands
        .chunks(50)
        .map(|chunk| {
            let r = api.call("batch", json!({ "cmd": chunk }));
            json!([r["result"], r["result_error"]])
        })
        .collect()
}

/// Compares two snapshots chunk by chunk, naming the first difference briefly.
fn assert_same(before: &[Value], after: &[Value], what: &str) {
    assert_eq!(before.len(), after.len(), "{what}");
    for (i, (a, b)) in before.iter().zip(after).enumerate() {
        if a != b {
            let (a, b) = (a.to_string(), b.to_string());
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            panic!(
                "{what}: batch {i} differs at byte {at}: …{}… vs …{}…",
                &a[at.saturating_sub(80)..(at + 80).min(a.len())],
                &b[at.saturating_sub(80)..(at + 80).min(b.len())]
            );
        }
    }
}

fn hook_of(server: &ServerProcess, hook: &str) -> String {
    format!("{}{}", server.base(), webhook_path(hook))
}

fn fill(api: &Api) {
    // User fields with values on some rows (a list field and a multiple one).
    api.call(
        "crm.lead.userfield.add",
        json!({"fields": {"FIELD_NAME": "GRADE", "USER_TYPE_ID": "enumeration",
               "EDIT_FORM_LABEL": {"en": "Grade", "de": "Stufe"},
               "LIST": [{"VALUE": "A"}, {"VALUE": "B", "DEF": "Y"}]}}),
    );
    api.call(
        "crm.contact.userfield.add",
        json!({"fields": {"FIELD_NAME": "NICKS", "USER_TYPE_ID": "string", "MULTIPLE": "Y"}}),
    );
    api.call(
        "crm.lead.userfield.add",
        json!({"fields": {"FIELD_NAME": "SEEN", "USER_TYPE_ID": "datetime"}}),
    );
    let contacts: Vec<String> = (1..=CONTACTS)
        .map(|i| {
            format!(
                "crm.contact.add?fields[NAME]=Name%20{i}&fields[LAST_NAME]=Фамилия{i}\
                 &fields[EMAIL][0][VALUE]=c{i}%40example.org&fields[PHONE][0][VALUE]=%2B1%20555%20{i}\
                 &fields[BIRTHDATE]=1990-01-{:02}&fields[UF_CRM_NICKS][]=n{i}&fields[UF_CRM_NICKS][]=m",
                i % 28 + 1
            )
        })
        .collect();
    api.batch(contacts);
    let leads: Vec<String> = (1..=LEADS)
        .map(|i| {
            let bound = if i % 3 == 0 {
                format!(
                    "&fields[CONTACT_IDS][]={}&fields[CONTACT_IDS][]={}",
                    i % CONTACTS + 1,
                    (i * 7) % CONTACTS + 1
                )
            } else {
                String::new()
            };
            format!(
                "crm.lead.add?fields[TITLE]=Lead%20{i}&fields[OPPORTUNITY]={}.5&fields[STATUS_ID]={}\
                 &fields[WEB][0][VALUE]=example.org/{i}&fields[UF_CRM_SEEN]=2026-01-{:02}T10:00:00{bound}",
                i * 3,
                if i % 5 == 0 { "JUNK" } else { "NEW" },
                i % 28 + 1
            )
        })
        .collect();
    api.batch(leads);
    // A pipeline with a stage of its own, a removed default stage, a renamed default
    // pipeline: reference lists are data and move too.
    api.call(
        "crm.category.add",
        json!({"entityTypeId": 2, "fields": {"name": "Wholesale", "sort": 10}}),
    );
    api.call(
        "crm.status.add",
        json!({"fields": {"ENTITY_ID": "DEAL_STAGE_1", "STATUS_ID": "CHECK", "NAME": "Check", "SORT": 15}}),
    );
    api.call("crm.dealcategory.default.set", json!({"NAME": "Main"}));
    let apology = api.call(
        "crm.status.list",
        json!({"filter": {"ENTITY_ID": "DEAL_STAGE", "STATUS_ID": "APOLOGY"}}),
    );
    api.call("crm.status.delete", json!({"id": apology[0]["ID"]}));
    api.call(
        "crm.deal.add",
        json!({"fields": {"TITLE": "In a pipeline", "CATEGORY_ID": 1, "STAGE_ID": "C1:CHECK"}}),
    );
    // Deals with contact sets and stages, and a company with a phone.
    let deals: Vec<String> = (1..=DEALS)
        .map(|i| {
            let stage = ["NEW", "WON", "LOSE"][i % 3];
            format!(
                "crm.deal.add?fields[TITLE]=Deal%20{i}&fields[STAGE_ID]={stage}\
                 &fields[CONTACT_IDS][]={}&fields[CONTACT_IDS][]={}",
                i % CONTACTS + 1,
                (i + 3) % CONTACTS + 1
            )
        })
        .collect();
    api.batch(deals);
    api.call(
        "crm.company.add",
        json!({"fields": {"TITLE": "Acme", "PHONE": [{"VALUE": "+1 555"}]}}),
    );
    // A smart process with a second pipeline, items bound to contacts, one moved on and
    // one deleted (so its id is not handed out again).
    api.call(
        "crm.type.add",
        json!({"fields": {"title": "Orders", "isCategoriesEnabled": "Y"}}),
    );
    let second = api.call(
        "crm.category.add",
        json!({"entityTypeId": 1030, "fields": {"name": "Wholesale"}}),
    )["category"]["id"]
        .clone();
    for (n, category) in [(1, Value::Null), (2, second), (3, Value::Null)] {
        api.call(
            "crm.item.add",
            json!({"entityTypeId": 1030, "fields": {"title": format!("Order {n}"),
                   "opportunity": n * 100, "contactIds": [n, n + 1], "categoryId": category}}),
        );
    }
    let first_category =
        api.call("crm.item.get", json!({"entityTypeId": 1030, "id": 1}))["item"]["categoryId"]
            .clone();
    api.call(
        "crm.item.update",
        json!({"entityTypeId": 1030, "id": 1,
               "fields": {"stageId": format!("DT1030_{first_category}:PREPARATION")}}),
    );
    api.call("crm.item.delete", json!({"entityTypeId": 1030, "id": 3}));
    // A removed contact and an edited set, so the data is not only fresh inserts.
    api.call("crm.contact.delete", json!({"id": CONTACTS}));
    api.call(
        "crm.lead.contact.add",
        json!({"id": 3, "fields": {"CONTACT_ID": 5, "IS_PRIMARY": "Y", "SORT": 5}}),
    );
}

fn export(dir: &Path, database: Option<&str>, file: &Path) -> String {
    let mut args = vec!["export", file.to_str().unwrap()];
    if let Some(url) = database {
        args.extend(["--database-url", url]);
    }
    let (ok, out) = cli(dir, &args);
    assert!(ok, "{out}");
    out
}

fn import(dir: &Path, database: Option<&str>, file: &Path) -> (bool, String) {
    let mut args = vec!["import", file.to_str().unwrap()];
    if let Some(url) = database {
        args.extend(["--database-url", url]);
    }
    cli(dir, &args)
}

#[test]
fn export_from_sqlite_imports_into_postgres_and_back_unchanged() {
    let Some(pg) =
        fresh_postgres("transfer::export_from_sqlite_imports_into_postgres_and_back_unchanged")
    else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let (dump, back) = (
        files.path().join("crm.ndjson"),
        files.path().join("back.ndjson"),
    );

    // The source: SQLite, filled over HTTP, with a second webhook.
    let sqlite_dir = tempfile::tempdir().unwrap();
    let source = ServerProcess::start(sqlite_dir.path(), &[]);
    let hook = source.hook().unwrap().to_string();
    let api = Api::new(&hook);
    fill(&api);
    let (ok, out) = cli(sqlite_dir.path(), &["webhook", "create", "--scope", "crm"]);
    assert!(ok, "{out}");
    // Users, departments, a role and an application move too.
    let (ok, sales) = cli(sqlite_dir.path(), &["department", "add", "Sales"]);
    assert!(ok, "{sales}");
    let (ok, out) = cli(
        sqlite_dir.path(),
        &[
            "user",
            "add",
            "--name",
            "Ann",
            "--email",
            "ann@example.org",
            "--department",
            sales.trim(),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(
        sqlite_dir.path(),
        &["role", "create", "Sales", "--grant", "lead.read=department"],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(
        sqlite_dir.path(),
        &["role", "assign", "Sales", "--user", "2"],
    );
    assert!(ok, "{out}");
    let (ok, app) = cli(
        sqlite_dir.path(),
        &["app", "create", "--name", "Moved", "--scope", "crm"],
    );
    assert!(ok, "{app}");
    let app: Value = serde_json::from_str(app.trim()).unwrap();
    let before = snapshot(&api);
    assert_eq!(source.terminate().code(), Some(0));

    let out = export(sqlite_dir.path(), None, &dump);
    assert!(
        out.contains(&format!(
            "exported 2 departments, 2 users, 1 roles, 1 apps, 2 webhooks, 1 smart processes, 3 user fields, {LEADS} leads, {} contacts, {} deals, 1 companies, 2 dynamic_1030_items",
            CONTACTS - 1,
            DEALS + 1
        )),
        "{out}"
    );
    // Into PostgreSQL: every answer identical, the second webhook works, ids continue.
    let pg_dir = tempfile::tempdir().unwrap();
    let (ok, out) = import(pg_dir.path(), Some(&pg.url), &dump);
    assert!(ok, "{out}");
    assert!(
        out.contains("imported 2 departments, 2 users, 1 roles, 1 apps, 2 webhooks"),
        "{out}"
    );
    let (ok, out) = import(pg_dir.path(), Some(&pg.url), &dump);
    assert!(
        !ok && out.contains("not empty"),
        "importing twice must fail: {out}"
    );
    let target = ServerProcess::start(pg_dir.path(), &["--database-url", &pg.url]);
    assert!(
        target.hook().is_none(),
        "the imported administrator is kept"
    );
    let api = Api::new(&hook_of(&target, &hook));
    assert_same(&before, &snapshot(&api), "after the move to PostgreSQL");
    let next = api.call("crm.lead.add", json!({"fields": {"TITLE": "next"}}));
    assert_eq!(next, json!(LEADS + 1));
    let next = api.call("crm.contact.add", json!({"fields": {"NAME": "next"}}));
    assert_eq!(
        next,
        json!(CONTACTS + 1),
        "a deleted id is not handed out again"
    );
    let next = api.call(
        "crm.item.add",
        json!({"entityTypeId": 1030, "fields": {"title": "next"}}),
    );
    assert_eq!(next["item"]["id"], 4, "a smart process's ids continue too");
    // The application's credentials work on the new database; its roles and
    // departments are in force.
    let (ok, out) = cli(
        pg_dir.path(),
        &[
            "app",
            "token",
            "--client-id",
            app["client_id"].as_str().unwrap(),
            "--user",
            "2",
            "--database-url",
            &pg.url,
        ],
    );
    assert!(ok, "{out}");
    let token: Value = serde_json::from_str(out.trim()).unwrap();
    let (status, leads) = api.post(
        &format!("{}/rest/crm.lead.list", target.base()),
        json!({"auth": token["access_token"]}),
    );
    assert_eq!(status, 200, "{leads}");
    assert_eq!(
        leads["total"],
        json!(0),
        "Ann's department holds no leads: {leads}"
    );
    assert_eq!(target.terminate().code(), Some(0));

    // And back into a new SQLite database from PostgreSQL's export.
    export(pg_dir.path(), Some(&pg.url), &back);
    let again = tempfile::tempdir().unwrap();
    let (ok, out) = import(again.path(), None, &back);
    assert!(ok, "{out}");
    let server = ServerProcess::start(again.path(), &[]);
    let api = Api::new(&hook_of(&server, &hook));
    assert_same(&before, &snapshot(&api), "after the round trip");
    let lead = api.call("crm.lead.get", json!({"id": LEADS + 1}));
    assert_eq!(lead["TITLE"], "next");
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn truncated_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let api = Api::new(server.hook().unwrap());
    api.call("crm.lead.add", json!({"fields": {"TITLE": "one"}}));
    assert_eq!(server.terminate().code(), Some(0));
    let file = dir.path().join("dump.ndjson");
    export(dir.path(), None, &file);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("\"format\":\"crm-server-export\""),
        "{}",
        lines[0]
    );
    assert!(lines.last().unwrap().starts_with("{\"type\":\"end\""));

    let cut = dir.path().join("cut.ndjson");
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let (ok, out) = import(fresh.path(), None, &cut);
    assert!(!ok && out.contains("incomplete"), "{out}");
    // The file is checked before anything is written: the database is still empty.
    let (ok, out) = import(fresh.path(), None, &file);
    assert!(ok, "{out}");

    let other = dir.path().join("other.ndjson");
    std::fs::write(&other, "{\"hello\":1}\n").unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let (ok, out) = import(fresh.path(), None, &other);
    assert!(!ok && out.contains("line 1"), "{out}");
}

/// A file in format version 2, as the build before reference lists were data wrote it
/// (counts keyed `leads`/`contacts`, no `status` or `category` lines), still imports: its
/// records arrive, and the database keeps the default reference lists.
#[test]
fn a_version_2_file_still_imports() {
    let secret = "version-two-secret";
    let lines = [
        json!({"type": "header", "format": "crm-server-export", "version": 2,
               "exported_at": "2026-01-01T00:00:00+00:00"}),
        json!({"type": "portal", "member_id": "0123456789abcdef0123456789abcdef"}),
        json!({"type": "department", "id": 1, "name": "Company", "sort": 500,
               "parent": null, "head": null}),
        json!({"type": "user", "id": 1, "name": "Admin", "last_name": "", "admin": true,
               "active": true, "email": "", "departments": [1], "registered_at": 0}),
        json!({"type": "webhook", "id": 1, "user_id": 1,
               "secret_hash": crm_server::auth::hash_secret(secret), "scopes": ["crm"],
               "created_at": 0, "revoked": false}),
        json!({"type": "entity", "entity": "contact", "id": 3, "values": {"NAME": "Old"},
               "multi": []}),
        json!({"type": "entity", "entity": "lead", "id": 5,
               "values": {"TITLE": "Old lead", "STATUS_ID": "NEW", "CONTACT_ID": 3},
               "multi": []}),
        json!({"type": "binding", "kind": "lead_contact", "owner": 5, "bound": 3,
               "sort": 10, "role_id": 0, "primary": true}),
        json!({"type": "end", "counts": {"users": 1, "webhooks": 1, "leads": 1,
               "contacts": 1, "multi_values": 0, "bindings": 1, "departments": 1,
               "roles": 0, "apps": 0},
               "highest_ids": {"lead": 5, "contact": 3}}),
    ];
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("v2.ndjson");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = import(dir.path(), None, &file);
    assert!(ok, "{out}");
    assert!(
        out.contains("1 leads, 1 contacts, 0 deals, 0 companies"),
        "{out}"
    );
    let server = ServerProcess::start(dir.path(), &[]);
    let api = Api::new(&format!("{}/rest/1/{secret}/", server.base()));
    let lead = api.call("crm.lead.get", json!({"id": 5}));
    assert_eq!(
        (&lead["TITLE"], &lead["CONTACT_ID"]),
        (&json!("Old lead"), &json!("3"))
    );
    let stages = api.call(
        "crm.status.list",
        json!({"filter": {"ENTITY_ID": "DEAL_STAGE"}}),
    );
    assert_eq!(stages.as_array().unwrap().len(), 8, "the defaults stay");
    assert_eq!(
        api.call("crm.lead.add", json!({"fields": {}})),
        json!(6),
        "ids continue after the file's"
    );
    assert_eq!(server.terminate().code(), Some(0));
}
