//! `EntityStore` on PostgreSQL: leads and contacts with their multi-field values, created,
//! updated and deleted together with the binding sets they own or appear in.

use super::binding::{edit_holders_in, load_bindings, lock_bound, lock_row, write_bindings};
use super::values::{PgValue, exists, list_rows, load_row};
use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{self, Dialect, table};
use async_trait::async_trait;
use crm_core::binding::{plan_holders_set, plan_remove};
use crm_core::comm::{match_code, search_key};
use crm_core::entity::EntityType;
use crm_core::entity::binding_kinds;
use crm_core::field::Stored;
use crm_core::query::ListQuery;
use crm_core::store::{
    EntityStore, NewEntity, NewMultiValue, Row, StoreError, StoreResult, UpdatePlan,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

/// Inserts multi-field values of one entity.
async fn insert_multi(
    c: &impl GenericClient,
    entity: EntityType,
    id: i64,
    values: &[NewMultiValue],
) -> StoreResult<()> {
    if values.is_empty() {
        return Ok(());
    }
    let put = c
        .prepare_cached(
            "INSERT INTO crm_multifield \
             (ENTITY_TYPE_ID, ENTITY_ID, TYPE_ID, VALUE_TYPE, VALUE, VALUE_KEY, COMM_CODE) \
             SELECT $1, $2, t, vt, v, k, c \
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) \
             WITH ORDINALITY AS u(t, vt, v, k, c, n) ORDER BY n",
        )
        .await
        .map_err(pg)?;
    let types: Vec<&str> = values.iter().map(|m| m.type_id.as_str()).collect();
    let value_types: Vec<&str> = values.iter().map(|m| m.value_type.as_str()).collect();
    let texts: Vec<&str> = values.iter().map(|m| m.value.as_str()).collect();
    let keys: Vec<String> = values.iter().map(|m| search_key(&m.value)).collect();
    let codes: Vec<Option<String>> = values
        .iter()
        .map(|m| match_code(&m.type_id, &m.value))
        .collect();
    c.execute(
        &put,
        &[
            &entity.type_id(),
            &id,
            &types,
            &value_types,
            &texts,
            &keys,
            &codes,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Sets columns of one row in a single statement.
async fn set_columns(
    c: &impl GenericClient,
    entity: EntityType,
    id: i64,
    values: &[(&'static str, Stored)],
) -> StoreResult<()> {
    if values.is_empty() {
        return Ok(());
    }
    let sets: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{name} = ${}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE {} SET {} WHERE ID = ${}",
        table(entity),
        sets.join(", "),
        values.len() + 1
    );
    let args: Vec<PgValue<'_>> = values.iter().map(|(_, v)| PgValue(v)).collect();
    let mut refs: Vec<&(dyn ToSql + Sync)> =
        args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
    refs.push(&id);
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    c.execute(&stmt, &refs).await.map_err(pg)?;
    Ok(())
}

/// Fails with `BoundNotFound` unless every entity the sets bind exists, locking them.
async fn lock_sets_bound(
    c: &impl GenericClient,
    sets: &[(
        crm_core::binding::BindingKind,
        Vec<crm_core::binding::Binding>,
    )],
) -> StoreResult<()> {
    for (kind, set) in sets {
        let ids: Vec<i64> = set.iter().map(|b| b.bound_id).collect();
        if let Some(id) = lock_bound(c, *kind, &ids).await? {
            return Err(StoreError::BoundNotFound {
                entity: kind.bound,
                id,
            });
        }
    }
    Ok(())
}

/// Every binding family whose sets hold entities of `entity`: the built-in ones and
/// those of the smart processes that exist.
async fn kinds_binding(
    c: &impl GenericClient,
    entity: EntityType,
) -> StoreResult<Vec<crm_core::binding::BindingKind>> {
    let types: Vec<i64> = c
        .query(
            "SELECT ENTITY_TYPE_ID FROM crm_type ORDER BY ENTITY_TYPE_ID",
            &[],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(binding_kinds()
        .chain(
            types
                .into_iter()
                .flat_map(|t| EntityType::Dynamic(t).def().owns.iter().copied()),
        )
        .filter(|k| k.bound == entity)
        .collect())
}

#[async_trait]
impl EntityStore for PostgresStore {
    async fn create(&self, entity: EntityType, new: NewEntity) -> StoreResult<i64> {
        let new = &new;
        in_transaction!(self, |tx| {
            lock_sets_bound(&tx, &new.bindings).await?;
            let mut values = new.values.clone();
            if let Some(id) = new.id {
                if exists(&tx, entity, id, false).await? {
                    return Err(StoreError::Rejected(format!(
                        "{} #{id} already exists",
                        entity.title()
                    )));
                }
                values.push(("ID", Stored::Int(id)));
            }
            if !new.uf.is_empty() {
                values.push((sql::UF, Stored::Text(sql::uf_text(&new.uf))));
            }
            let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
            let sql = sql::insert_new(Dialect::Postgres, entity, &names);
            let args: Vec<PgValue<'_>> = values.iter().map(|(_, v)| PgValue(v)).collect();
            let refs: Vec<&(dyn ToSql + Sync)> =
                args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
            let stmt = tx.prepare_cached(&sql).await.map_err(pg)?;
            let id: i64 = tx.query_one(&stmt, &refs).await.map_err(pg)?.get(0);
            if new.id.is_some() {
                // An explicit id does not move the identity sequence: move it past.
                let t = table(entity);
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{t}', 'id'), GREATEST(\
                         COALESCE((SELECT MAX(ID) FROM {t}), 1), COALESCE(pg_sequence_last_value(\
                         pg_get_serial_sequence('{t}', 'id')::regclass), 1)))"
                    ),
                    &[],
                )
                .await
                .map_err(pg)?;
            }
            if let Some(after) = &new.after_insert {
                set_columns(&tx, entity, id, &after(id)).await?;
            }
            insert_multi(&tx, entity, id, &new.multi).await?;
            for (kind, set) in &new.bindings {
                write_bindings(&tx, *kind, id, &[], set).await?;
            }
            for (kind, items) in &new.held {
                let owners: Vec<i64> = items.iter().map(|b| b.bound_id).collect();
                let edit = |sets: &[(i64, Vec<_>)]| plan_holders_set(sets, id, items);
                edit_holders_in(&tx, *kind, id, &owners, &edit).await?;
            }
            id
        })
    }

    async fn get(&self, entity: EntityType, id: i64) -> StoreResult<Option<Row>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        load_row(&client, entity, id, false).await
    }

    async fn update(&self, entity: EntityType, id: i64, plan: UpdatePlan) -> StoreResult<bool> {
        let plan = &plan;
        in_transaction!(self, |tx| {
            let Some(row) = load_row(&tx, entity, id, true).await? else {
                return Ok(false);
            };
            let mut sets = Vec::new();
            for kind in entity.def().owns {
                sets.push((*kind, load_bindings(&tx, *kind, id).await?));
            }
            let update = plan(&row, &sets).map_err(|e| StoreError::Rejected(e.0))?;
            lock_sets_bound(&tx, &update.bindings).await?;
            let mut values = update.values.clone();
            if let Some(doc) = &update.uf {
                values.push((sql::UF, Stored::Text(sql::uf_text(doc))));
            }
            set_columns(&tx, entity, id, &values).await?;
            if !update.delete_multi.is_empty() {
                let stmt = tx
                    .prepare_cached(
                        "DELETE FROM crm_multifield \
                         WHERE ID = ANY($1) AND ENTITY_TYPE_ID = $2 AND ENTITY_ID = $3",
                    )
                    .await
                    .map_err(pg)?;
                tx.execute(&stmt, &[&update.delete_multi, &entity.type_id(), &id])
                    .await
                    .map_err(pg)?;
            }
            if !update.set_multi.is_empty() {
                let stmt = tx
                    .prepare_cached(
                        "UPDATE crm_multifield SET VALUE_TYPE = $1, VALUE = $2, VALUE_KEY = $3, \
                         COMM_CODE = $4 WHERE ID = $5 AND ENTITY_TYPE_ID = $6 AND ENTITY_ID = $7",
                    )
                    .await
                    .map_err(pg)?;
                for (mid, m) in &update.set_multi {
                    let (key, code) = (search_key(&m.value), match_code(&m.type_id, &m.value));
                    tx.execute(
                        &stmt,
                        &[
                            &m.value_type,
                            &m.value,
                            &key,
                            &code,
                            mid,
                            &entity.type_id(),
                            &id,
                        ],
                    )
                    .await
                    .map_err(pg)?;
                }
            }
            insert_multi(&tx, entity, id, &update.add_multi).await?;
            for (kind, new) in &update.bindings {
                let old = sets
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map_or(&[][..], |(_, s)| s.as_slice());
                write_bindings(&tx, *kind, id, old, new).await?;
            }
            for (kind, items) in &update.held {
                let owners: Vec<i64> = items.iter().map(|b| b.bound_id).collect();
                let edit = |sets: &[(i64, Vec<_>)]| plan_holders_set(sets, id, items);
                edit_holders_in(&tx, *kind, id, &owners, &edit).await?;
            }
            true
        })
    }

    async fn list(&self, entity: EntityType, query: ListQuery) -> StoreResult<(Vec<Row>, i64)> {
        let client = self.pool.get().await.map_err(pool_error)?;
        list_rows(&client, entity, &query).await
    }

    async fn exists(&self, entity: EntityType, id: i64) -> StoreResult<bool> {
        let client = self.pool.get().await.map_err(pool_error)?;
        exists(&client, entity, id, false).await
    }

    async fn delete(&self, entity: EntityType, id: i64) -> StoreResult<bool> {
        in_transaction!(self, |tx| {
            // The entity first (it is the bound side of the sets it appears in), then
            // those sets' owners in ascending order.
            if !lock_row(&tx, entity, id).await? {
                return Ok(false);
            }
            for kind in kinds_binding(&tx, entity).await? {
                let stmt = tx
                    .prepare_cached(
                        "SELECT OWNER_ID FROM crm_binding WHERE KIND = $1 AND BOUND_ID = $2 \
                         ORDER BY OWNER_ID",
                    )
                    .await
                    .map_err(pg)?;
                let owners: Vec<i64> = tx
                    .query(&stmt, &[&kind.code, &id])
                    .await
                    .map_err(pg)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                for owner in owners {
                    lock_row(&tx, kind.owner, owner).await?;
                    let old = load_bindings(&tx, kind, owner).await?;
                    if let Some(new) = plan_remove(&old, id) {
                        write_bindings(&tx, kind, owner, &old, &new).await?;
                    }
                }
            }
            for kind in entity.def().owns {
                let stmt = tx
                    .prepare_cached("DELETE FROM crm_binding WHERE KIND = $1 AND OWNER_ID = $2")
                    .await
                    .map_err(pg)?;
                tx.execute(&stmt, &[&kind.code, &id]).await.map_err(pg)?;
            }
            let stmt = tx
                .prepare_cached(
                    "DELETE FROM crm_multifield WHERE ENTITY_TYPE_ID = $1 AND ENTITY_ID = $2",
                )
                .await
                .map_err(pg)?;
            tx.execute(&stmt, &[&entity.type_id(), &id])
                .await
                .map_err(pg)?;
            let sql = format!("DELETE FROM {} WHERE ID = $1", table(entity));
            let stmt = tx.prepare_cached(&sql).await.map_err(pg)?;
            tx.execute(&stmt, &[&id]).await.map_err(pg)?;
            true
        })
    }
}
