//! The schema, as SQL files embedded in the binary, applied in order at start-up inside
//! one transaction that holds an advisory lock, so servers starting together take turns;
//! the table `schema_version` records how many have run.

use anyhow::Context;
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
];

/// The advisory lock key that serialises migrations between servers starting at once.
const MIGRATION_LOCK: i64 = 0x0063_726d_5f6d_6967; // "crm_mig"

/// Brings the schema up to date, and checks what the queries need from the server.
pub(super) async fn migrate(pool: &Pool) -> anyhow::Result<()> {
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
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying PostgreSQL migration {}", i + 1))?;
    }
    let now = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
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
