//! PostgreSQL backend: `tokio-postgres` through a `deadpool-postgres` pool, for several
//! stateless servers sharing one database.
//!
//! Every operation is one transaction at READ COMMITTED with explicit row locks, so the
//! storage contract holds across processes: a binding set is edited only under a lock on
//! its owner row (`SELECT … FOR UPDATE`), bound rows are locked against deletion while
//! they are bound (`FOR KEY SHARE`), and locks are always taken bound rows first, then
//! owners, each in ascending id order, which keeps deadlocks rare. A transaction that still
//! loses a race (serialization failure, deadlock, lock not available) is retried from the
//! start, with a short randomised back-off, before the store reports a conflict.
//!
//! # Layout
//! - this module: the pool, the retry loop, error mapping;
//! - `migrate`: the embedded schema migrations, run under an advisory lock;
//! - [`values`]: parameters and row mapping, and the reads every operation shares;
//! - `entity`, `binding`, `identity`: the three storage traits.

mod access;
mod binding;
mod entity;
mod identity;
mod migrate;
mod pipeline;
mod reset;
mod snapshot;
mod transfer;
mod types;
mod userfield;
mod values;

use anyhow::Context;
use async_trait::async_trait;
use crm_core::store::{Store, StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// Attempts of one operation before a conflict is reported.
const ATTEMPTS: u32 = 12;

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PostgresStore {
    pool: Pool,
}

/// A PostgreSQL failure as a store error: a lost race (serialization failure, deadlock,
/// a lock not available) is a conflict, anything else a backend failure.
pub(super) fn pg(e: tokio_postgres::Error) -> StoreError {
    if is_race(&e) {
        StoreError::conflict(e)
    } else {
        StoreError::backend(e)
    }
}

fn is_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::LOCK_NOT_AVAILABLE
    })
}

/// A pool failure (no connection could be had).
fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::backend(e)
}

/// Waits a little before attempt `n` (1-based) of an operation that lost a race:
/// exponential from 2 ms, capped at 200 ms, with jitter so retrying servers spread out.
async fn back_off(n: u32) {
    let base = 2u64.saturating_mul(1 << n.min(7)).min(200);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = u64::from(nanos) % (base + 1);
    tokio::time::sleep(Duration::from_millis(base / 2 + jitter / 2)).await;
}

/// Runs `$body` (an expression that may use `?` and `.await`, with the transaction bound
/// to `$tx`) in a transaction on a pooled connection, committing at the end; a lost race
/// is retried from the start, up to [`ATTEMPTS`] times.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let result: crm_core::store::StoreResult<_> = async {
                let mut client = $store
                    .pool
                    .get()
                    .await
                    .map_err($crate::postgres::pool_error)?;
                let $tx = client.transaction().await.map_err($crate::postgres::pg)?;
                let out = $body;
                $tx.commit().await.map_err($crate::postgres::pg)?;
                Ok(out)
            }
            .await;
            match result {
                Err(crm_core::store::StoreError::Conflict(_))
                    if attempt < $crate::postgres::ATTEMPTS =>
                {
                    $crate::postgres::back_off(attempt).await;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use in_transaction;

impl PostgresStore {
    /// Connects with a pool of at most `pool_size` connections and brings the schema up to
    /// date (servers starting at once take turns through an advisory lock).
    pub async fn connect(url: &str, pool_size: usize) -> anyhow::Result<Self> {
        let store = Self {
            pool: pool(url, pool_size)?,
        };
        migrate::migrate(&store.pool).await?;
        Ok(store)
    }
}

/// A pool of at most `size` connections to `url`.
fn pool(url: &str, size: usize) -> anyhow::Result<Pool> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL: {e}"))?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .build()
        .context("building the PostgreSQL connection pool")
}

/// Parameters of a statement.
pub(super) type Params<'a> = [&'a (dyn tokio_postgres::types::ToSql + Sync)];

impl PostgresStore {
    /// Runs a read on a pooled connection (the statement is prepared once per
    /// connection) and maps every row.
    pub(super) async fn read_all<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        map: impl Fn(&tokio_postgres::Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let stmt = client.prepare_cached(sql).await.map_err(pg)?;
        client
            .query(&stmt, params)
            .await
            .map_err(pg)?
            .iter()
            .map(map)
            .collect()
    }

    /// [`PostgresStore::read_all`] for at most one row.
    pub(super) async fn read_one<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        map: impl Fn(&tokio_postgres::Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let stmt = client.prepare_cached(sql).await.map_err(pg)?;
        client
            .query_opt(&stmt, params)
            .await
            .map_err(pg)?
            .as_ref()
            .map(map)
            .transpose()
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn close(&self) {
        self.pool.close();
    }
}

#[cfg(test)]
mod tests {
    /// Newest-first and oldest-first pages of 20,000 leads, also a deep one, walk an index
    /// in either direction: no page sorts every matching row. (The same database shows
    /// the trigram indexes in place.)
    #[tokio::test]
    async fn list_orders_walk_an_index_in_both_directions() {
        use crate::sql::{self, Dialect};
        use crm_core::entity::EntityType;
        use crm_core::permission::Reach;
        use crm_core::query::{ListQuery, parse_filter, parse_order};
        let Some(db) = crate::testing::FreshDatabase::create("list orders").await else {
            return;
        };
        let pool = super::pool(&db.url, 1).unwrap();
        super::migrate::migrate(&pool).await.unwrap();
        let client = pool.get().await.unwrap();
        // The substring filters' trigram indexes cover the columns `text_indexed` names.
        for entity in EntityType::ALL {
            for column in sql::text_indexed(entity) {
                let name = format!("ix_{}_{}_trgm", sql::table(entity), column.to_lowercase());
                let found = client
                    .query_opt("SELECT 1 FROM pg_indexes WHERE indexname = $1", &[&name])
                    .await
                    .unwrap();
                assert!(found.is_some(), "{name} is missing");
            }
        }
        client
            .batch_execute(
                "INSERT INTO crm_lead (TITLE, STATUS_ID, DATE_CREATE, DATE_MODIFY) \
                 SELECT 'Lead ' || i, CASE i % 4 WHEN 0 THEN 'JUNK' ELSE 'NEW' END, \
                 1700000000 + i, 1700000000 + i FROM generate_series(1, 20000) AS i",
            )
            .await
            .unwrap();
        client
            .batch_execute("VACUUM ANALYZE crm_lead")
            .await
            .unwrap();
        let tz = chrono::FixedOffset::east_opt(0).unwrap();
        let schema = crm_core::schema::Schema::standard(EntityType::Lead);
        for (filter, order, offset) in [
            (
                serde_json::json!({"STATUS_ID": "NEW"}),
                serde_json::json!({"DATE_CREATE": "DESC"}),
                5000,
            ),
            (
                serde_json::json!({"STATUS_ID": "NEW"}),
                serde_json::json!({"DATE_CREATE": "ASC"}),
                5000,
            ),
            (
                serde_json::json!({}),
                serde_json::json!({"DATE_MODIFY": "DESC"}),
                0,
            ),
            (
                serde_json::json!({}),
                serde_json::json!({"DATE_MODIFY": "ASC"}),
                0,
            ),
        ] {
            let q = ListQuery {
                filter: parse_filter(&schema, filter.as_object().unwrap(), tz).unwrap(),
                order: parse_order(&schema, order.as_object().unwrap()),
                offset,
                limit: 50,
                count: false,
                with_multi: false,
                visible: Reach::Everything,
            };
            let page = sql::list(Dialect::Postgres, EntityType::Lead, &q).page;
            let args = super::values::params(&page.args);
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                args.iter().map(|a| a.as_ref() as _).collect();
            let plan: Vec<String> = client
                .query(&format!("EXPLAIN {}", page.sql), &refs)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let text = plan.join("\n");
            assert!(!text.contains("Seq Scan"), "{order}: {text}");
            assert!(
                !text.lines().any(|l| l.trim_start().starts_with("->  Sort")),
                "{order}: sorts every match: {text}"
            );
        }
        drop(client);
        pool.close();
        drop(db);
    }

    /// Values stored before the lookup keys existed get them when the database is
    /// migrated.
    #[tokio::test]
    async fn migrating_fills_in_the_keys_of_values_stored_before() {
        let Some(db) = crate::testing::FreshDatabase::create("migration 10").await else {
            return;
        };
        let pool = super::pool(&db.url, 1).unwrap();
        super::migrate::migrate_to(&pool, 9).await.unwrap();
        let client = pool.get().await.unwrap();
        client
            .batch_execute(
                "INSERT INTO crm_multifield (ENTITY_TYPE_ID, ENTITY_ID, TYPE_ID, VALUE_TYPE, VALUE) \
                 VALUES (1, 1, 'PHONE', 'WORK', '8 (999) 123-45-67'), \
                 (3, 2, 'EMAIL', 'HOME', ' Ann@X.org'), (4, 3, 'WEB', 'WORK', 'Example.ORG')",
            )
            .await
            .unwrap();
        drop(client);
        super::migrate::migrate(&pool).await.unwrap();
        let rows = pool
            .get()
            .await
            .unwrap()
            .query(
                "SELECT VALUE_KEY, COMM_CODE FROM crm_multifield ORDER BY ID",
                &[],
            )
            .await
            .unwrap();
        let got: Vec<(String, Option<String>)> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            got,
            [
                ("8 (999) 123-45-67".into(), Some("79991234567".into())),
                (" ann@x.org".into(), Some("ann@x.org".into())),
                ("example.org".into(), None),
            ]
        );
        pool.close();
        drop(db);
    }

    #[test]
    fn races_are_conflicts() {
        // The SQLSTATEs the retry loop treats as lost races.
        use tokio_postgres::error::SqlState;
        for code in ["40001", "40P01", "55P03"] {
            let state = SqlState::from_code(code);
            assert!(
                [
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::LOCK_NOT_AVAILABLE
                ]
                .contains(&state),
                "{code}"
            );
        }
    }
}
