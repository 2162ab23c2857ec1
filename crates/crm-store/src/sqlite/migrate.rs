//! The schema, as SQL files embedded in the binary and applied in order on open;
//! `PRAGMA user_version` records how many have run.

use anyhow::Context;
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
];

pub(super) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    // The version is read inside the writing transaction, so two processes opening a new
    // file at once apply each migration exactly once.
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let Some(sql) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(sql)
            .with_context(|| format!("applying migration {}", version + 1))?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
