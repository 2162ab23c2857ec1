//! `SnapshotStore` on SQLite: a snapshot is a copy of the database file made with
//! `VACUUM INTO`; a restore attaches it and copies every table back in one transaction
//! (tables the snapshot lacks are dropped, tables only it has are created).

use super::{SqliteStore, db};
use async_trait::async_trait;
use crm_core::store::{SnapshotStore, StoreError, StoreResult, valid_snapshot_name};
use rusqlite::Connection;
use std::path::PathBuf;

fn checked(name: &str) -> StoreResult<()> {
    if valid_snapshot_name(name) {
        Ok(())
    } else {
        Err(StoreError::Rejected(
            "A snapshot name is 1 to 40 of a-z, 0-9 and _".into(),
        ))
    }
}

/// The tables of a schema (`main` or `snap`) with their SQL, ours only. A full-text
/// index's virtual table is left out: its shadow tables (`…_data`, `…_idx`, …) are
/// ordinary tables and are copied like the others, after the entity table whose triggers
/// touch them.
fn tables(conn: &Connection, schema: &str) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare(&format!(
        "SELECT name, sql FROM {schema}.sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
    ))?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// Copies every table of the attached `snap` over `main`, in one transaction.
fn copy_back(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Tables are copied in name order: foreign keys are checked once, at the commit.
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    let ours = tables(&tx, "main")?;
    let theirs = tables(&tx, "snap")?;
    for (name, _) in &ours {
        if !theirs.iter().any(|(n, _)| n == name) {
            tx.execute_batch(&format!("DROP TABLE main.{name}"))?;
        }
    }
    for (name, sql) in &theirs {
        if !ours.iter().any(|(n, _)| n == name) {
            tx.execute_batch(sql)?;
            let indexes: Vec<String> = tx
                .prepare(
                    "SELECT sql FROM snap.sqlite_master WHERE type = 'index' \
                     AND tbl_name = ?1 AND sql IS NOT NULL",
                )?
                .query_map([name], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for index in indexes {
                tx.execute_batch(&index)?;
            }
        }
        tx.execute_batch(&format!(
            "DELETE FROM main.{name}; INSERT INTO main.{name} SELECT * FROM snap.{name};"
        ))?;
    }
    tx.execute_batch(
        "DELETE FROM main.sqlite_sequence; \
         INSERT INTO main.sqlite_sequence SELECT * FROM snap.sqlite_sequence;",
    )?;
    tx.commit()
}

impl SqliteStore {
    fn snapshot_path(&self, name: &str) -> PathBuf {
        self.snapshots.join(format!("{name}.sqlite3"))
    }
}

#[async_trait]
impl SnapshotStore for SqliteStore {
    async fn snapshot(&self, name: String) -> StoreResult<()> {
        checked(&name)?;
        std::fs::create_dir_all(&self.snapshots).map_err(StoreError::backend)?;
        let path = self.snapshot_path(&name);
        let fresh = path.with_extension("sqlite3.new");
        let _ = std::fs::remove_file(&fresh);
        let target = fresh.display().to_string();
        self.run(true, move |conn| {
            conn.execute("VACUUM INTO ?1", [target]).map_err(db)?;
            Ok(())
        })
        .await?;
        std::fs::rename(&fresh, &path).map_err(StoreError::backend)
    }

    async fn restore(&self, name: String) -> StoreResult<bool> {
        checked(&name)?;
        let path = self.snapshot_path(&name);
        if !path.exists() {
            return Ok(false);
        }
        let file = path.display().to_string();
        self.run(true, move |conn| {
            // The snapshot is consistent as a whole; copied table by table, its rows would
            // trip the foreign keys between tables on the way (and SQLite's deferred
            // checking miscounts a parent deleted and re-inserted in one transaction), so
            // they are off for the copy and on again after it.
            conn.execute_batch("PRAGMA foreign_keys = OFF")
                .map_err(db)?;
            conn.execute("ATTACH DATABASE ?1 AS snap", [file])
                .map_err(db)?;
            let copied = copy_back(conn);
            let detached = conn.execute_batch("DETACH DATABASE snap");
            let checked = conn.execute_batch("PRAGMA foreign_keys = ON");
            copied.map_err(db)?;
            detached.map_err(db)?;
            checked.map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn snapshots(&self) -> StoreResult<Vec<String>> {
        let Ok(entries) = std::fs::read_dir(&self.snapshots) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".sqlite3"))
                    .filter(|n| valid_snapshot_name(n))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        Ok(names)
    }

    async fn delete_snapshot(&self, name: String) -> StoreResult<bool> {
        checked(&name)?;
        match std::fs::remove_file(self.snapshot_path(&name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::backend(e)),
        }
    }
}
