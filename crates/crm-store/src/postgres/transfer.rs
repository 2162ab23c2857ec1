//! `TransferStore` on PostgreSQL: bulk reads for export, verbatim writes for import.

use super::access::{insert_app, insert_role};
use super::identity::insert_user;
use super::pipeline::{insert_category, insert_status};
use super::values::PgValue;
use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{self, Dialect, WEBHOOK_COLUMNS};
use async_trait::async_trait;
use crm_core::binding::{Binding, BindingKind};
use crm_core::comm::{match_code, search_key};
use crm_core::entity::EntityType;
use crm_core::field::Stored;
use crm_core::identity::scopes_text;
use crm_core::store::{ImportBatch, StoreResult, TransferStore, id_kinds};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

#[async_trait]
impl TransferStore for PostgresStore {
    async fn bindings_after(
        &self,
        kind: BindingKind,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, Binding)>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let stmt = client
            .prepare_cached(&sql::bindings_after(Dialect::Postgres))
            .await
            .map_err(pg)?;
        let rows = client
            .query(&stmt, &[&kind.code, &after.0, &after.1, &limit])
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Binding {
                        bound_id: r.get(1),
                        sort: r.get(2),
                        role_id: r.get(3),
                        is_primary: r.get::<_, String>(4) == "Y",
                    },
                )
            })
            .collect())
    }

    async fn is_empty(&self) -> StoreResult<bool> {
        let client = self.pool.get().await.map_err(pool_error)?;
        Ok(client
            .query_opt(&sql::any_row(), &[])
            .await
            .map_err(pg)?
            .is_none())
    }

    async fn import(&self, batch: ImportBatch) -> StoreResult<()> {
        let batch = &batch;
        in_transaction!(self, |tx| {
            // The statements of a batch are sent without waiting for each answer
            // (pipelined on the one connection, in order), then all answers are awaited.
            // Departments, users, roles and applications first, one at a time (they are
            // few, and users name departments).
            for smart in &batch.types {
                super::types::import_type(&tx, smart).await?;
            }
            if batch.clear_statuses {
                tx.execute("DELETE FROM crm_status", &[])
                    .await
                    .map_err(pg)?;
            }
            for c in &batch.categories {
                insert_category(&tx, c).await?;
            }
            for s in &batch.statuses {
                insert_status(&tx, s).await?;
            }
            for (name, value) in &batch.settings {
                tx.execute(
                    "INSERT INTO portal_setting (NAME, VALUE) VALUES ($1, $2) \
                     ON CONFLICT (NAME) DO UPDATE SET VALUE = excluded.VALUE",
                    &[name, value],
                )
                .await
                .map_err(pg)?;
            }
            if let Some(member_id) = &batch.member_id {
                tx.execute(
                    "UPDATE portal_setting SET VALUE = $1 WHERE NAME = 'MEMBER_ID'",
                    &[member_id],
                )
                .await
                .map_err(pg)?;
            }
            for d in &batch.departments {
                tx.execute(
                    "INSERT INTO department (ID, NAME, SORT, PARENT_ID, HEAD_ID) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (ID) DO UPDATE SET NAME = excluded.NAME, SORT = excluded.SORT, \
                     PARENT_ID = excluded.PARENT_ID, HEAD_ID = excluded.HEAD_ID",
                    &[&d.id, &d.name, &d.sort, &d.parent, &d.head],
                )
                .await
                .map_err(pg)?;
            }
            for u in &batch.users {
                insert_user(&tx, u, Some(u.id)).await?;
            }
            for role in &batch.roles {
                insert_role(&tx, role, Some(role.id)).await?;
            }
            for app in &batch.apps {
                insert_app(&tx, app).await?;
            }
            let webhook = tx
                .prepare_cached(&format!(
                    "INSERT INTO webhook ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .await
                .map_err(pg)?;
            let multi = tx
                .prepare_cached(&sql::insert_multi_with_id(Dialect::Postgres))
                .await
                .map_err(pg)?;
            for field in &batch.user_fields {
                super::userfield::import_user_field(&tx, field).await?;
            }
            let mut inserts = HashMap::new();
            for (entity, _) in &batch.rows {
                if !inserts.contains_key(entity) {
                    let sql = sql::insert_with_id(Dialect::Postgres, *entity);
                    inserts.insert(*entity, tx.prepare_cached(&sql).await.map_err(pg)?);
                }
            }
            let binding = tx
                .prepare_cached(
                    "INSERT INTO crm_binding (KIND, OWNER_ID, BOUND_ID, SORT, ROLE_ID, IS_PRIMARY) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .await
                .map_err(pg)?;
            let scopes: Vec<String> = batch
                .webhooks
                .iter()
                .map(|w| scopes_text(&w.scopes))
                .collect();
            let values: Vec<Vec<PgValue<'_>>> = batch
                .rows
                .iter()
                .map(|(entity, row)| {
                    entity
                        .columns()
                        .map(|f| PgValue(row.values.get(f.name).unwrap_or(&Stored::Null)))
                        .collect()
                })
                .collect();
            let ufs: Vec<String> = batch
                .rows
                .iter()
                .map(|(_, r)| sql::uf_text(&r.uf))
                .collect();
            let type_ids: Vec<i64> = batch.rows.iter().map(|(e, _)| e.type_id()).collect();
            let flags: Vec<&str> = batch
                .bindings
                .iter()
                .map(|(_, _, b)| if b.is_primary { "Y" } else { "N" })
                .collect();
            let keys: Vec<Vec<(String, Option<String>)>> = batch
                .rows
                .iter()
                .map(|(_, r)| {
                    r.multi
                        .iter()
                        .map(|m| (search_key(&m.value), match_code(&m.type_id, &m.value)))
                        .collect()
                })
                .collect();
            type Params<'p> = Vec<&'p (dyn ToSql + Sync)>;
            let mut pending = Vec::new();
            for (w, scopes) in batch.webhooks.iter().zip(&scopes) {
                let p: Params<'_> = vec![
                    &w.id,
                    &w.user_id,
                    &w.secret_hash,
                    scopes,
                    &w.created_at,
                    &w.revoked,
                ];
                pending.push(tx.execute_raw(&webhook, p));
            }
            for (((((entity, row), values), type_id), uf), keys) in batch
                .rows
                .iter()
                .zip(&values)
                .zip(&type_ids)
                .zip(&ufs)
                .zip(&keys)
            {
                let stmt = &inserts[entity];
                let mut p: Params<'_> = vec![&row.id];
                p.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
                p.push(uf);
                pending.push(tx.execute_raw(stmt, p));
                for (m, (key, code)) in row.multi.iter().zip(keys) {
                    let p: Params<'_> = vec![
                        &m.id,
                        type_id,
                        &row.id,
                        &m.type_id,
                        &m.value_type,
                        &m.value,
                        key,
                        code,
                    ];
                    pending.push(tx.execute_raw(&multi, p));
                }
            }
            for ((kind, owner, b), flag) in batch.bindings.iter().zip(&flags) {
                let p: Params<'_> = vec![&kind.code, owner, &b.bound_id, &b.sort, &b.role_id, flag];
                pending.push(tx.execute_raw(&binding, p));
            }
            futures_util::future::try_join_all(pending)
                .await
                .map_err(pg)?;
        })
    }

    async fn highest_ids(&self) -> StoreResult<Vec<(String, i64)>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let mut out = Vec::new();
        for kind in id_kinds()
            .map(str::to_string)
            .chain(dynamic_kinds(&client).await?)
        {
            let kind = kind.as_str();
            let table = sql::id_table(kind).unwrap_or_default();
            let sql = format!(
                "SELECT GREATEST(COALESCE(pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')::regclass), 0), \
                 COALESCE((SELECT MAX(ID) FROM {table}), 0))"
            );
            let high: i64 = client.query_one(&sql, &[]).await.map_err(pg)?.get(0);
            out.push((kind.to_string(), high));
        }
        Ok(out)
    }

    async fn finish_import(&self, highest: &[(String, i64)]) -> StoreResult<()> {
        in_transaction!(self, |tx| {
            let dynamic = dynamic_kinds(&tx).await?;
            for kind in id_kinds().map(str::to_string).chain(dynamic) {
                let kind = kind.as_str();
                let table = sql::id_table(kind).unwrap_or_default();
                let source = highest
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map_or(0, |(_, h)| *h);
                // Past both the highest row here and the source's highest id ever, so
                // an id deleted before the export is not handed out again.
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         GREATEST($1::bigint, COALESCE((SELECT MAX(ID) FROM {table}), 0)) + 1, false)"
                    ),
                    &[&source],
                )
                .await
                .map_err(pg)?;
            }
        })?;
        // A bulk load leaves the visibility map empty and the statistics stale, so the
        // planner would read the heap for every row an index walk passes (a deep page at
        // 100,000 leads: 48 ms by bitmap scan and sort instead of 12 ms index-only) until
        // autovacuum comes by. VACUUM cannot run in a transaction: one pool connection.
        let client = self.pool.get().await.map_err(super::pool_error)?;
        client.batch_execute("VACUUM (ANALYZE)").await.map_err(pg)?;
        Ok(())
    }
}

/// The id kinds of the smart processes' items (`dynamic_1030`), one per stored type.
async fn dynamic_kinds(c: &impl GenericClient) -> StoreResult<Vec<String>> {
    Ok(c.query(
        "SELECT ENTITY_TYPE_ID FROM crm_type ORDER BY ENTITY_TYPE_ID",
        &[],
    )
    .await
    .map_err(pg)?
    .iter()
    .map(|r| EntityType::Dynamic(r.get(0)).code().to_string())
    .collect())
}
