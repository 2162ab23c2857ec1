//! The schema, as SQL files embedded in the binary, applied in order at start-up inside
//! one transaction that holds an advisory lock, so servers starting together take turns;
//! the table `schema_version` records how many have run.

use anyhow::Context;
use crm_core::comm::{match_code, search_key};
use deadpool_postgres::Pool;

/// The migrations, applied in order.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_users_roles_oauth.sql"),
    include_str!("../../migrations/postgres/0003_deals.sql"),
    include_str!("../../migrations/postgres/0004_companies.sql"),
    include_str!("../../migrations/postgres/0005_statuses_categories.sql"),
    include_str!("../../migrations/postgres/0006_contact_face_id.sql"),
    include_str!("../../migrations/postgres/0007_user_fields.sql"),
    include_str!("../../migrations/postgres/0008_smart_processes.sql"),
    include_str!("../../migrations/postgres/0009_list_indexes.sql"),
    include_str!("../../migrations/postgres/0010_comm_keys.sql"),
    include_str!("../../migrations/postgres/0011_text_index.sql"),
    include_str!("../../migrations/postgres/0012_null_order_indexes.sql"),
];

/// The advisory lock key that serialises migrations between servers starting at once.
const MIGRATION_LOCK: i64 = 0x0063_726d_5f6d_6967; // "crm_mig"

/// The migration that added the lookup keys of multi-field values (1-based).
const COMM_KEYS: usize = 10;

/// Computes the lookup keys of every stored multi-field value (the rows written before the
/// keys existed), in chunks by id.
async fn fill_comm_keys(tx: &deadpool_postgres::Transaction<'_>) -> anyhow::Result<()> {
    let mut after = 0_i64;
    loop {
        let rows = tx
            .query(
                "SELECT ID, TYPE_ID, VALUE FROM crm_multifield WHERE ID > $1 ORDER BY ID \
                 LIMIT 10000",
                &[&after],
            )
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        let mut ids = Vec::with_capacity(rows.len());
        let mut keys = Vec::with_capacity(rows.len());
        let mut codes = Vec::with_capacity(rows.len());
        for row in &rows {
            let (type_id, value): (&str, &str) = (row.get(1), row.get(2));
            ids.push(row.get::<_, i64>(0));
            keys.push(search_key(value));
            codes.push(match_code(type_id, value));
        }
        tx.execute(
            "UPDATE crm_multifield m SET VALUE_KEY = k.key, COMM_CODE = k.code \
             FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k(id, key, code) \
             WHERE m.ID = k.id",
            &[&ids, &keys, &codes],
        )
        .await?;
    }
}

/// Brings the schema up to date, and checks what the queries need from the server.
pub(super) async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    migrate_to(pool, MIGRATIONS.len()).await
}

/// Applies the migrations up to the `target`-th (tests start from an older schema).
pub(super) async fn migrate_to(pool: &Pool, target: usize) -> anyhow::Result<()> {
    let mut client = pool.get().await.context("connecting to PostgreSQL")?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let exists = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?
        .get::<_, bool>(0);
    if !exists {
        tx.batch_execute("CREATE TABLE schema_version (VERSION BIGINT NOT NULL)")
            .await?;
    }
    let version: i64 = tx
        .query_opt("SELECT VERSION FROM schema_version", &[])
        .await?
        .map_or(0, |r| r.get(0));
    let done = usize::try_from(version).unwrap_or(usize::MAX);
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(done) {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying PostgreSQL migration {}", i + 1))?;
        if i + 1 == COMM_KEYS {
            fill_comm_keys(&tx)
                .await
                .context("filling in the lookup keys of multi-field values")?;
        }
    }
    let now = i64::try_from(target.max(done)).unwrap_or(i64::MAX);
    if version == 0 {
        tx.execute("INSERT INTO schema_version (VERSION) VALUES ($1)", &[&now])
            .await?;
    } else if version < now {
        tx.execute("UPDATE schema_version SET VERSION = $1", &[&now])
            .await?;
    }
    // Case-insensitive filters fold case with ICU: refuse to start without it rather
    // than fail every such filter later.
    tx.query_one("SELECT 'A' COLLATE \"und-x-icu\"", &[])
        .await
        .context(
            "PostgreSQL lacks the ICU collation \"und-x-icu\" that case-insensitive \
             filters use (a server built with ICU is needed)",
        )?;
    tx.commit().await?;
    Ok(())
}
