//! `kill -9` under write load: every write answered 200 survives, the database stays intact,
//! and the binding invariants hold after a restart on the same data — on a SQLite file and
//! on a PostgreSQL database.

use crate::process::{ServerProcess, fresh_postgres, webhook_path};
use crate::raw::{self, post};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the writers were told was stored.
#[derive(Debug, Default)]
struct Acknowledged {
    leads: BTreeSet<i64>,
    contacts: BTreeSet<i64>,
    /// (lead, contact) pairs whose `crm.lead.contact.add` answered `true`.
    bindings: BTreeSet<(i64, i64)>,
}

/// Calls a method over a fresh connection; `None` when the server did not answer (it was
/// killed meanwhile) or answered something other than 200.
fn call(port: u16, path: &str, method: &str, body: &Value) -> Option<Value> {
    let mut s = raw::try_connect(port).ok()?;
    let request = post(
        &format!("{path}{method}"),
        "application/json",
        body.to_string().as_bytes(),
    );
    std::io::Write::write_all(&mut s, &request).ok()?;
    let (bytes, _) = raw::read_until_closed(&mut s, raw::READ_DEADLINE);
    let answer = raw::parse(&bytes)?;
    let complete = answer.head.to_ascii_lowercase().lines().any(|l| {
        l.strip_prefix("content-length:")
            .and_then(|n| n.trim().parse::<usize>().ok())
            == Some(answer.body.len())
    });
    (answer.status == 200 && complete).then(|| answer.json()["result"].clone())
}

/// Writers add leads, contacts and bindings until told to stop.
fn write_load(port: u16, path: &str, stop: &AtomicBool, acked: &Mutex<Acknowledged>, seed: i64) {
    let mut n = seed;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let Some(Value::Number(contact)) = call(
            port,
            path,
            "crm.contact.add",
            &json!({"fields": {"NAME": format!("C{n}"), "EMAIL": [{"VALUE": format!("c{n}@example.org")}]}}),
        ) else {
            continue;
        };
        let contact = contact.as_i64().unwrap();
        acked.lock().unwrap().contacts.insert(contact);
        let Some(Value::Number(lead)) = call(
            port,
            path,
            "crm.lead.add",
            &json!({"fields": {"TITLE": format!("L{n}"), "CONTACT_ID": contact}}),
        ) else {
            continue;
        };
        let lead = lead.as_i64().unwrap();
        {
            let mut a = acked.lock().unwrap();
            a.leads.insert(lead);
            a.bindings.insert((lead, contact));
        }
        // A second contact bound to an earlier lead, made primary half of the time.
        let earlier = lead - (n % 5);
        if earlier >= 1 {
            let primary = if n % 2 == 0 { "Y" } else { "N" };
            let body =
                json!({"id": earlier, "fields": {"CONTACT_ID": contact, "IS_PRIMARY": primary}});
            if call(port, path, "crm.lead.contact.add", &body) == Some(json!(true)) {
                acked.lock().unwrap().bindings.insert((earlier, contact));
            }
        }
    }
}

fn integrity_check(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// PostgreSQL keeps its own files consistent; what can break is ours: bindings to rows
/// that are gone, or an owner whose mirror column disagrees with its primary. Returns the
/// problems found, "ok" when none.
fn postgres_consistency(url: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let orphans: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM crm_binding b WHERE NOT EXISTS \
                 (SELECT 1 FROM crm_lead l WHERE l.ID = b.OWNER_ID) \
                 OR NOT EXISTS (SELECT 1 FROM crm_contact c WHERE c.ID = b.BOUND_ID)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let mismatched: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM crm_lead l WHERE l.CONTACT_ID IS DISTINCT FROM \
                 (SELECT b.BOUND_ID FROM crm_binding b WHERE b.KIND = 'lead_contact' \
                  AND b.OWNER_ID = l.ID AND b.IS_PRIMARY = 'Y')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if orphans == 0 && mismatched == 0 {
            "ok".to_string()
        } else {
            format!("{orphans} orphaned bindings, {mismatched} leads with a wrong CONTACT_ID")
        }
    })
}

/// Three rounds of write load, `kill -9` and restart on one data directory (and, with
/// `database_url`, one PostgreSQL database); `check` runs on the stored data after each
/// kill and at the end.
fn crash_rounds(database_url: Option<&str>, check: &dyn Fn() -> String) {
    let dir = tempfile::tempdir().unwrap();
    let extra: Vec<&str> = database_url
        .map(|u| vec!["--database-url", u])
        .unwrap_or_default();
    let first = ServerProcess::start(dir.path(), &extra);
    let hook = first
        .hook()
        .expect("first start prints a webhook")
        .to_string();
    let path = webhook_path(&hook);
    let acked = Mutex::new(Acknowledged::default());
    let mut server = first;
    for round in 0..3 {
        let port = server.port();
        let stop = AtomicBool::new(false);
        let before = acked.lock().unwrap().leads.len();
        std::thread::scope(|s| {
            for w in 0..4 {
                let (path, stop, acked) = (&path, &stop, &acked);
                s.spawn(move || write_load(port, path, stop, acked, (round * 4 + w) * 1_000_000));
            }
            // Kill once the writers have been acknowledged a good number of writes.
            let until = Instant::now() + Duration::from_secs(60);
            while acked.lock().unwrap().leads.len() < before + 150 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            server.kill9();
            stop.store(true, Ordering::Relaxed);
        });
        assert!(
            acked.lock().unwrap().leads.len() >= before + 150,
            "round {round}: the writers made too little progress"
        );
        assert_eq!(check(), "ok", "round {round}");
        server = ServerProcess::start(dir.path(), &extra);
        let port = server.port();
        let a = acked.lock().unwrap();
        for lead in &a.leads {
            let got = call(port, &path, "crm.lead.get", &json!({"id": lead}));
            assert!(
                got.is_some(),
                "round {round}: lead {lead} was acknowledged but is gone"
            );
        }
        for contact in &a.contacts {
            let got = call(port, &path, "crm.contact.get", &json!({"id": contact}))
                .unwrap_or_else(|| panic!("round {round}: contact {contact} is gone"));
            assert_eq!(got["HAS_EMAIL"], "Y");
        }
        // Every acknowledged binding is there; every set has one primary, mirrored.
        for lead in &a.leads {
            let set = call(
                port,
                &path,
                "crm.lead.contact.items.get",
                &json!({"id": lead}),
            )
            .expect("items.get");
            let set = set.as_array().unwrap();
            let bound: BTreeSet<i64> = set
                .iter()
                .map(|b| b["CONTACT_ID"].as_i64().unwrap())
                .collect();
            for (_, c) in a.bindings.range((*lead, i64::MIN)..=(*lead, i64::MAX)) {
                assert!(
                    bound.contains(c),
                    "round {round}: lead {lead} lost contact {c}"
                );
            }
            let primaries: Vec<&Value> = set.iter().filter(|b| b["IS_PRIMARY"] == "Y").collect();
            assert_eq!(
                primaries.len(),
                usize::from(!set.is_empty()),
                "lead {lead}: {set:?}"
            );
            let lead_row = call(port, &path, "crm.lead.get", &json!({"id": lead})).unwrap();
            let mirrored = primaries
                .first()
                .map_or(Value::Null, |p| json!(p["CONTACT_ID"].to_string()));
            assert_eq!(lead_row["CONTACT_ID"], mirrored, "lead {lead}");
        }
        eprintln!(
            "round {round}: {} leads, {} contacts, {} bindings acknowledged and present",
            a.leads.len(),
            a.contacts.len(),
            a.bindings.len()
        );
    }
    assert_eq!(server.terminate().code(), Some(0));
    assert_eq!(check(), "ok");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.sqlite3");
    let url = format!("sqlite://{}", db.display());
    crash_rounds(Some(&url), &|| integrity_check(&db));
}

#[test]
fn acknowledged_writes_survive_kill_9_on_postgres() {
    let Some(db) = fresh_postgres("crash::acknowledged_writes_survive_kill_9_on_postgres") else {
        return;
    };
    crash_rounds(Some(&db.url), &|| postgres_consistency(&db.url));
}
