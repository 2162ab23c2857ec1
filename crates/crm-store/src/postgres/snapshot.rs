//! `SnapshotStore` on PostgreSQL: a snapshot is a schema `crm_snap_<name>` holding a copy
//! of every table and the identity sequences' positions; a restore empties the live
//! tables, recreates the smart processes' item tables from the restored types, copies
//! every table back and puts the sequences where they were, in one transaction.

use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{self, Dialect};
use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::store::{SnapshotStore, StoreError, StoreResult, valid_snapshot_name};
use deadpool_postgres::GenericClient;

/// The schema a snapshot lives in.
fn schema(name: &str) -> StoreResult<String> {
    if valid_snapshot_name(name) {
        Ok(format!("crm_snap_{name}"))
    } else {
        Err(StoreError::Rejected(
            "A snapshot name is 1 to 40 of a-z, 0-9 and _".into(),
        ))
    }
}

/// The base tables of a schema, ours only (the migration bookkeeping stays as it is).
async fn tables(c: &impl GenericClient, schema: &str) -> StoreResult<Vec<String>> {
    Ok(c.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 \
             AND tablename <> 'schema_version' AND tablename <> 'crm_snapshot_sequences' \
             ORDER BY tablename",
        &[&schema],
    )
    .await
    .map_err(pg)?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

async fn schema_exists(c: &impl GenericClient, schema: &str) -> StoreResult<bool> {
    Ok(
        c.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
            .await
            .map_err(pg)?
            .is_some(),
    )
}

#[async_trait]
impl SnapshotStore for PostgresStore {
    async fn snapshot(&self, name: String) -> StoreResult<()> {
        let snap = &schema(&name)?;
        in_transaction!(self, |tx| {
            tx.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {snap} CASCADE; CREATE SCHEMA {snap}; \
                 CREATE TABLE {snap}.crm_snapshot_sequences (t TEXT NOT NULL, v BIGINT)"
            ))
            .await
            .map_err(pg)?;
            for t in tables(&tx, "public").await? {
                tx.batch_execute(&format!("CREATE TABLE {snap}.{t} AS TABLE public.{t}"))
                    .await
                    .map_err(pg)?;
                let has_id = tx
                    .query_opt(
                        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' \
                         AND table_name = $1 AND column_name = 'id'",
                        &[&t],
                    )
                    .await
                    .map_err(pg)?
                    .is_some();
                if has_id {
                    tx.execute(
                        &format!(
                            "INSERT INTO {snap}.crm_snapshot_sequences (t, v) \
                             SELECT $1::text, pg_sequence_last_value(s::regclass) \
                             FROM pg_get_serial_sequence('public.' || $1::text, 'id') AS s \
                             WHERE s IS NOT NULL"
                        ),
                        &[&t],
                    )
                    .await
                    .map_err(pg)?;
                }
            }
        })
    }

    async fn restore(&self, name: String) -> StoreResult<bool> {
        let snap = &schema(&name)?;
        in_transaction!(self, |tx| {
            if !schema_exists(&tx, snap).await? {
                return Ok(false);
            }
            let live = tables(&tx, "public").await?;
            let saved = tables(&tx, snap).await?;
            // The smart processes' item tables are made again from the restored types.
            let dynamic = |t: &str| t.starts_with("crm_dynamic_");
            for t in live.iter().filter(|t| dynamic(t)) {
                tx.batch_execute(&format!("DROP TABLE public.{t}"))
                    .await
                    .map_err(pg)?;
            }
            let fixed: Vec<&String> = live.iter().filter(|t| !dynamic(t)).collect();
            let list: Vec<String> = fixed.iter().map(|t| format!("public.{t}")).collect();
            tx.batch_execute(&format!("TRUNCATE {}", list.join(", ")))
                .await
                .map_err(pg)?;
            for t in fixed.iter().filter(|t| saved.contains(t)) {
                tx.batch_execute(&format!("INSERT INTO public.{t} SELECT * FROM {snap}.{t}"))
                    .await
                    .map_err(pg)?;
            }
            let types: Vec<i64> = tx
                .query("SELECT ENTITY_TYPE_ID FROM public.crm_type", &[])
                .await
                .map_err(pg)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for etid in types {
                let entity = EntityType::Dynamic(etid);
                for statement in sql::create_item_table(Dialect::Postgres, entity) {
                    tx.batch_execute(&statement).await.map_err(pg)?;
                }
                let t = sql::table(entity);
                if saved.iter().any(|s| s == t) {
                    tx.batch_execute(&format!("INSERT INTO public.{t} SELECT * FROM {snap}.{t}"))
                        .await
                        .map_err(pg)?;
                }
            }
            // Sequences where they were (never called: back to the start).
            let positions = tx
                .query(
                    &format!("SELECT t, v FROM {snap}.crm_snapshot_sequences"),
                    &[],
                )
                .await
                .map_err(pg)?;
            for row in positions {
                let t: String = row.get(0);
                let v: Option<i64> = row.get(1);
                let (value, called) = match v {
                    Some(v) => (v, true),
                    None => (1, false),
                };
                tx.execute(
                    "SELECT setval(pg_get_serial_sequence('public.' || $1::text, 'id'), $2, $3)",
                    &[&t, &value, &called],
                )
                .await
                .map_err(pg)?;
            }
            true
        })
    }

    async fn snapshots(&self) -> StoreResult<Vec<String>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        Ok(client
            .query(
                "SELECT substr(nspname, 10) FROM pg_namespace \
                 WHERE nspname LIKE 'crm\\_snap\\_%' ORDER BY nspname",
                &[],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    async fn delete_snapshot(&self, name: String) -> StoreResult<bool> {
        let snap = &schema(&name)?;
        in_transaction!(self, |tx| {
            let existed = schema_exists(&tx, snap).await?;
            if existed {
                tx.batch_execute(&format!("DROP SCHEMA {snap} CASCADE"))
                    .await
                    .map_err(pg)?;
            }
            existed
        })
    }
}
