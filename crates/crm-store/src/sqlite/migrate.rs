//! The schema, as SQL files embedded in the binary and applied in order on open;
//! `PRAGMA user_version` records how many have run.

use anyhow::Context;
use crm_core::comm::{match_code, search_key};
use rusqlite::{Connection, TransactionBehavior};

/// The migrations, applied in order.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_users_roles_oauth.sql"),
    include_str!("../../migrations/sqlite/0003_deals.sql"),
    include_str!("../../migrations/sqlite/0004_companies.sql"),
    include_str!("../../migrations/sqlite/0005_statuses_categories.sql"),
    include_str!("../../migrations/sqlite/0006_contact_face_id.sql"),
    include_str!("../../migrations/sqlite/0007_user_fields.sql"),
    include_str!("../../migrations/sqlite/0008_smart_processes.sql"),
    include_str!("../../migrations/sqlite/0009_list_indexes.sql"),
    include_str!("../../migrations/sqlite/0010_comm_keys.sql"),
    include_str!("../../migrations/sqlite/0011_text_index.sql"),
    include_str!("../../migrations/sqlite/0012_null_order_indexes.sql"),
];

/// The migration that added the lookup keys of multi-field values (1-based).
const COMM_KEYS: usize = 10;

/// Computes the lookup keys of every stored multi-field value (the rows written before the
/// keys existed), in chunks by id.
fn fill_comm_keys(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let mut read = tx.prepare(
        "SELECT ID, TYPE_ID, VALUE FROM crm_multifield WHERE ID > ?1 ORDER BY ID LIMIT 10000",
    )?;
    let mut write =
        tx.prepare("UPDATE crm_multifield SET VALUE_KEY = ?1, COMM_CODE = ?2 WHERE ID = ?3")?;
    let mut after = 0_i64;
    loop {
        let rows: Vec<(i64, String, String)> = read
            .query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.0;
        for (id, type_id, value) in &rows {
            write.execute(rusqlite::params![
                search_key(value),
                match_code(type_id, value),
                id
            ])?;
        }
    }
}

pub(super) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies the migrations up to the `target`-th (tests start from an older schema).
pub(super) fn migrate_to(conn: &mut Connection, target: usize) -> anyhow::Result<()> {
    // The version is read inside the writing transaction, so two processes opening a new
    // file at once apply each migration exactly once.
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let Some(sql) = MIGRATIONS.get(version).filter(|_| version < target) else {
            return Ok(());
        };
        tx.execute_batch(sql)
            .with_context(|| format!("applying migration {}", version + 1))?;
        if version + 1 == COMM_KEYS {
            fill_comm_keys(&tx).context("filling in the lookup keys of multi-field values")?;
        }
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
