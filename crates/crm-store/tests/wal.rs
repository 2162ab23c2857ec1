//! The WAL stays bounded under constant reads, and shutdown leaves no WAL behind.

use crm_core::entity::EntityType;
use crm_core::field::Stored;
use crm_core::store::{NewEntity, Store};
use crm_store::sqlite::SqliteStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn lead(comment: &str) -> NewEntity {
    NewEntity {
        id: None,
        uf: serde_json::Map::new(),
        values: vec![("COMMENTS", Stored::Text(comment.into()))],
        multi: Vec::new(),
        bindings: Vec::new(),
        held: Vec::new(),
        after_insert: None,
    }
}

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Readers that never pause kept SQLite from restarting the log, so it grew with every
/// write (24 MB against a 3 MB database was seen). After a moment without writes the
/// writer now checkpoints and truncates it, while the readers go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_truncated_under_constant_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.sqlite3");
    let wal = dir.path().join("crm.sqlite3-wal");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let first = store.create(EntityType::Lead, lead("x")).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert!(store.get(EntityType::Lead, first).await.unwrap().is_some());
                reads += 1;
            }
            reads
        }));
    }
    // About 8 MB of pages written in small transactions.
    let text = "w".repeat(2_000);
    for _ in 0..4_000 {
        store.create(EntityType::Lead, lead(&text)).await.unwrap();
    }
    let peak = size(&wal);
    // Then only reads: within a few seconds the log must be truncated.
    let deadline = Instant::now() + Duration::from_secs(20);
    while size(&wal) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = size(&wal);
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(reads > 1_000, "the readers kept reading ({reads} reads)");
    assert!(peak > 0, "the writes went through the WAL");
    assert_eq!(
        after, 0,
        "WAL still {after} bytes (peak {peak}) after the writes stopped"
    );
    store.close().await;
    assert!(!wal.exists(), "the WAL was not removed on close");
}

/// Closing the store closes the readers first and the writer last, so the last
/// connection checkpoints and removes the WAL (when readers and writer closed at once,
/// neither could, now and then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_removes_the_wal_every_time() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let path = dir.path().join(format!("crm{round}.sqlite3"));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let id = store.create(EntityType::Lead, lead("x")).await.unwrap();
        let mut reads = Vec::new();
        for _ in 0..6 {
            let store = Arc::clone(&store);
            reads.push(tokio::spawn(async move {
                store.get(EntityType::Lead, id).await.unwrap()
            }));
        }
        for r in reads {
            assert!(r.await.unwrap().is_some());
        }
        store.close().await;
        let wal = dir.path().join(format!("crm{round}.sqlite3-wal"));
        assert!(!wal.exists(), "round {round}: the WAL was left behind");
    }
}
