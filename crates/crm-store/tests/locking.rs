//! Another process holding SQLite's write lock (the `webhook` CLI while the server runs, a
//! backup tool, a second server) must make writes wait for the lock, never fail at once.

use crm_core::binding::{Binding, LEAD_CONTACT, NewBinding, plan_add};
use crm_core::entity::EntityType;
use crm_core::store::{NewEntity, Store};
use crm_store::sqlite::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn empty_entity() -> NewEntity {
    NewEntity {
        id: None,
        uf: serde_json::Map::new(),
        values: Vec::new(),
        multi: Vec::new(),
        bindings: Vec::new(),
        held: Vec::new(),
        after_insert: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_a_lock_held_by_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.sqlite3");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let lead = store
        .create(EntityType::Lead, empty_entity())
        .await
        .unwrap();
    let mut contacts = Vec::new();
    for _ in 0..8 {
        contacts.push(
            store
                .create(EntityType::Contact, empty_entity())
                .await
                .unwrap(),
        );
    }

    // A second connection takes the write lock and keeps it for a second.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.execute("UPDATE crm_lead SET COMMENTS = 'held' WHERE ID = 1", [])
            .unwrap();
        locked_tx.send(Instant::now()).unwrap();
        std::thread::sleep(Duration::from_secs(1));
        conn.execute_batch("COMMIT").unwrap();
    });
    let locked_at = locked_rx.recv().unwrap();

    // Binding edits read the set before they write: they must wait for the lock and
    // then succeed, in order.
    let mut tasks = Vec::new();
    for &contact in &contacts {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let new = NewBinding {
                bound_id: contact,
                sort: None,
                primary: false,
            };
            store
                .edit_bindings(
                    LEAD_CONTACT,
                    lead,
                    true,
                    vec![contact],
                    Box::new(move |old: &[Binding]| plan_add(old, new)),
                )
                .await
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap(), "every binding was added");
    }
    assert!(
        locked_at.elapsed() >= Duration::from_millis(900),
        "the writes did not wait for the lock"
    );
    holder.join().unwrap();

    let set = store.bindings(LEAD_CONTACT, lead).await.unwrap();
    assert_eq!(set.len(), contacts.len());
    assert_eq!(set.iter().filter(|b| b.is_primary).count(), 1);
    let row = store.get(EntityType::Lead, lead).await.unwrap().unwrap();
    assert_eq!(
        row.values["COMMENTS"],
        crm_core::field::Stored::Text("held".into()),
        "the other connection's write committed too"
    );
    store.close().await;
}
