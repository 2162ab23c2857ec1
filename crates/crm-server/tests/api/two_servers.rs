//! Two server processes on one PostgreSQL database, as behind a load balancer: binding
//! calls of every kind split across them on a few leads keep every set consistent, and
//! none of them is answered 5xx.

use crate::process::{ServerProcess, fresh_postgres, webhook_path};
use crate::raw::{self, post};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Calls a method over a fresh connection; the status and body.
fn call(port: u16, path: &str, method: &str, body: &Value) -> (u16, Value) {
    let request = post(
        &format!("{path}{method}"),
        "application/json",
        body.to_string().as_bytes(),
    );
    let answer = raw::exchange(port, &request).expect("an answer");
    (answer.status, answer.json())
}

#[test]
fn two_servers_on_one_postgres_keep_binding_sets_consistent() {
    let Some(db) =
        fresh_postgres("two_servers::two_servers_on_one_postgres_keep_binding_sets_consistent")
    else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = ServerProcess::start(dir_a.path(), &["--database-url", &db.url]);
    let b = ServerProcess::start(dir_b.path(), &["--database-url", &db.url]);
    assert!(b.hook().is_none(), "only the first server bootstraps");
    let hook = a.hook().expect("the first server prints a webhook");
    let path = webhook_path(hook);
    let ports = [a.port(), b.port()];

    let mut leads = Vec::new();
    for i in 0..10 {
        let (status, body) = call(
            ports[i % 2],
            &path,
            "crm.lead.add",
            &json!({"fields": {"TITLE": format!("L{i}")}}),
        );
        assert_eq!(status, 200, "{body}");
        leads.push(body["result"].as_i64().unwrap());
    }
    let mut contacts = Vec::new();
    for i in 0..30 {
        let (status, body) = call(
            ports[i % 2],
            &path,
            "crm.contact.add",
            &json!({"fields": {"NAME": format!("C{i}")}}),
        );
        assert_eq!(status, 200, "{body}");
        contacts.push(body["result"].as_i64().unwrap());
    }

    let statuses = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let (path, leads, contacts, statuses) = (&path, &leads, &contacts, &statuses);
            s.spawn(move || {
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for i in 0..70u64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let port = ports[((t + i) % 2) as usize];
                    let lead = leads[(x % 10) as usize];
                    let pick = |k: u64| contacts[((x >> (8 + k * 5)) % 30) as usize];
                    let primary = if (x >> 40) % 2 == 0 { "Y" } else { "N" };
                    let (method, body) = match (x >> 44) % 6 {
                        0 | 1 => (
                            "crm.lead.contact.add",
                            json!({"id": lead, "fields": {"CONTACT_ID": pick(0), "IS_PRIMARY": primary}}),
                        ),
                        2 => (
                            "crm.lead.contact.delete",
                            json!({"id": lead, "fields": {"CONTACT_ID": pick(0)}}),
                        ),
                        3 | 4 => (
                            "crm.lead.contact.items.set",
                            json!({"id": lead, "items": [
                                {"CONTACT_ID": pick(0)},
                                {"CONTACT_ID": pick(1), "IS_PRIMARY": primary},
                                {"CONTACT_ID": pick(2)}
                            ]}),
                        ),
                        _ => ("crm.lead.contact.items.delete", json!({"id": lead})),
                    };
                    let (status, answer) = call(port, path, method, &body);
                    statuses.lock().unwrap().push((status, method, answer));
                }
            });
        }
    });
    let statuses = statuses.into_inner().unwrap();
    assert_eq!(statuses.len(), 1_120);
    let bad: Vec<_> = statuses.iter().filter(|(s, _, _)| *s != 200).collect();
    assert!(
        bad.is_empty(),
        "{} calls were not 200: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    for lead in &leads {
        let (_, items) = call(
            ports[0],
            &path,
            "crm.lead.contact.items.get",
            &json!({"id": lead}),
        );
        let set = items["result"].as_array().unwrap();
        let ids: BTreeSet<i64> = set
            .iter()
            .map(|b| b["CONTACT_ID"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), set.len(), "duplicates on lead {lead}: {set:?}");
        let primaries: Vec<&Value> = set.iter().filter(|b| b["IS_PRIMARY"] == "Y").collect();
        assert_eq!(
            primaries.len(),
            usize::from(!set.is_empty()),
            "lead {lead}: {set:?}"
        );
        let (_, row) = call(ports[1], &path, "crm.lead.get", &json!({"id": lead}));
        let mirrored = primaries
            .first()
            .map_or(Value::Null, |p| json!(p["CONTACT_ID"].to_string()));
        assert_eq!(row["result"]["CONTACT_ID"], mirrored, "lead {lead}");
    }
    for server in [a, b] {
        let log = server.stderr();
        assert!(!log.contains("panicked"), "{log}");
        assert_eq!(server.terminate().code(), Some(0));
    }
}

/// Servers started at the same moment on an empty database: the migrations run once
/// (behind an advisory lock), exactly one creates the administrator, all of them serve.
#[test]
fn servers_starting_together_migrate_and_bootstrap_once() {
    let Some(db) =
        fresh_postgres("two_servers::servers_starting_together_migrate_and_bootstrap_once")
    else {
        return;
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers: Vec<ServerProcess> = std::thread::scope(|s| {
        let started: Vec<_> = dirs
            .iter()
            .map(|d| {
                let url = &db.url;
                s.spawn(move || ServerProcess::start(d.path(), &["--database-url", url]))
            })
            .collect();
        started.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let hooks: Vec<&str> = servers.iter().filter_map(ServerProcess::hook).collect();
    assert_eq!(hooks.len(), 1, "exactly one server bootstraps");
    let path = webhook_path(hooks[0]);
    for server in &servers {
        let (status, body) = call(server.port(), &path, "profile", &json!({}));
        assert_eq!(
            (status, &body["result"]["ID"]),
            (200, &json!("1")),
            "{body}"
        );
    }
    for server in servers {
        assert_eq!(server.terminate().code(), Some(0));
    }
}

/// The database password stays out of `--help` (where clap would show the value of
/// the environment variable) and out of start-up errors.
#[test]
fn database_passwords_stay_out_of_help_and_errors() {
    let url = "postgres://crm:pw-not-for-eyes@127.0.0.1:1/crm";
    let help = std::process::Command::new(crate::process::bin())
        .arg("--help")
        .env("CRM_DATABASE_URL", url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--database-url"), "{text}");
    assert!(!text.contains("pw-not-for-eyes"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = crate::process::cli(dir.path(), &["--database-url", url, "webhook", "list"]);
    assert!(!ok, "{out}");
    assert!(out.contains("postgres://crm:***@127.0.0.1:1/crm"), "{out}");
    assert!(!out.contains("pw-not-for-eyes"), "{out}");
}
