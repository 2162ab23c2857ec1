//! `EntityStore`: leads and contacts with their multi-field values, created, updated and
//! deleted together with the binding sets they own or appear in.

use super::binding::{check_bound, edit_holders_in, load_bindings, write_bindings};
use super::rows::{Sql, exists, list_rows, load_row};
use super::{SqliteStore, db};
use crate::sql::{self, Dialect, table};
use async_trait::async_trait;
use crm_core::binding::{BindingKind, plan_holders_set, plan_remove};
use crm_core::comm::{match_code, search_key};
use crm_core::entity::EntityType;
use crm_core::entity::binding_kinds;
use crm_core::field::Stored;
use crm_core::query::ListQuery;
use crm_core::store::{
    EntityStore, NewEntity, NewMultiValue, Row, StoreError, StoreResult, UpdatePlan,
};
use rusqlite::{ToSql, Transaction, params};

/// Inserts multi-field values of one entity.
fn insert_multi(
    tx: &Transaction<'_>,
    entity: EntityType,
    id: i64,
    values: &[NewMultiValue],
) -> StoreResult<()> {
    let mut put = tx
        .prepare_cached(
            "INSERT INTO crm_multifield \
             (ENTITY_TYPE_ID, ENTITY_ID, TYPE_ID, VALUE_TYPE, VALUE, VALUE_KEY, COMM_CODE) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    for m in values {
        put.execute(params![
            entity.type_id(),
            id,
            m.type_id,
            m.value_type,
            m.value,
            search_key(&m.value),
            match_code(&m.type_id, &m.value)
        ])
        .map_err(db)?;
    }
    Ok(())
}

/// Every binding family whose sets hold entities of `entity`: the built-in ones and
/// those of the smart processes that exist.
fn kinds_binding(tx: &Transaction<'_>, entity: EntityType) -> StoreResult<Vec<BindingKind>> {
    let types: Vec<i64> = tx
        .prepare_cached("SELECT ENTITY_TYPE_ID FROM crm_type ORDER BY ENTITY_TYPE_ID")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(db)?;
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
impl EntityStore for SqliteStore {
    async fn create(&self, entity: EntityType, new: NewEntity) -> StoreResult<i64> {
        self.write(move |tx| {
            for (kind, set) in &new.bindings {
                let ids: Vec<i64> = set.iter().map(|b| b.bound_id).collect();
                check_bound(tx, *kind, &ids)?;
            }
            let mut values = new.values.clone();
            if let Some(id) = new.id {
                if exists(tx, entity, id)? {
                    return Err(StoreError::Rejected(format!(
                        "{} #{id} already exists",
                        entity.title()
                    )));
                }
                // AUTOINCREMENT moves past an explicit id by itself.
                values.push(("ID", Stored::Int(id)));
            }
            if !new.uf.is_empty() {
                values.push((sql::UF, Stored::Text(sql::uf_text(&new.uf))));
            }
            let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
            let sql = sql::insert_new(Dialect::Sqlite, entity, &names);
            let args: Vec<Sql<'_>> = values.iter().map(|(_, v)| Sql(v)).collect();
            let refs: Vec<&dyn ToSql> = args.iter().map(|a| a as &dyn ToSql).collect();
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute(refs.as_slice()))
                .map_err(db)?;
            let id = tx.last_insert_rowid();
            if let Some(after) = new.after_insert {
                for (name, v) in after(id) {
                    let sql = format!("UPDATE {} SET {name} = ?1 WHERE ID = ?2", table(entity));
                    tx.prepare_cached(&sql)
                        .and_then(|mut s| s.execute(params![Sql(&v), id]))
                        .map_err(db)?;
                }
            }
            insert_multi(tx, entity, id, &new.multi)?;
            for (kind, set) in &new.bindings {
                write_bindings(tx, *kind, id, &[], set)?;
            }
            for (kind, items) in &new.held {
                let owners: Vec<i64> = items.iter().map(|b| b.bound_id).collect();
                edit_holders_in(tx, *kind, id, &owners, &|sets| {
                    plan_holders_set(sets, id, items)
                })?;
            }
            Ok(id)
        })
        .await
    }

    async fn get(&self, entity: EntityType, id: i64) -> StoreResult<Option<Row>> {
        self.read(move |conn| load_row(conn, entity, id)).await
    }

    async fn update(&self, entity: EntityType, id: i64, plan: UpdatePlan) -> StoreResult<bool> {
        self.write(move |tx| {
            let Some(row) = load_row(tx, entity, id)? else { return Ok(false) };
            let mut sets = Vec::new();
            for kind in entity.def().owns {
                sets.push((*kind, load_bindings(tx, *kind, id)?));
            }
            let update = plan(&row, &sets).map_err(|e| StoreError::Rejected(e.0))?;
            for (kind, set) in &update.bindings {
                let ids: Vec<i64> = set.iter().map(|b| b.bound_id).collect();
                check_bound(tx, *kind, &ids)?;
            }
            let uf = update.uf.as_ref().map(|doc| (sql::UF, Stored::Text(sql::uf_text(doc))));
            for (name, v) in update.values.iter().chain(uf.iter()) {
                let sql = format!("UPDATE {} SET {name} = ?1 WHERE ID = ?2", table(entity));
                tx.prepare_cached(&sql)
                    .and_then(|mut s| s.execute(params![Sql(v), id]))
                    .map_err(db)?;
            }
            for mid in &update.delete_multi {
                tx.prepare_cached("DELETE FROM crm_multifield WHERE ID = ?1 AND ENTITY_TYPE_ID = ?2 AND ENTITY_ID = ?3")
                    .and_then(|mut s| s.execute(params![mid, entity.type_id(), id]))
                    .map_err(db)?;
            }
            for (mid, m) in &update.set_multi {
                tx.prepare_cached(
                    "UPDATE crm_multifield SET VALUE_TYPE = ?1, VALUE = ?2, VALUE_KEY = ?3, \
                     COMM_CODE = ?4 WHERE ID = ?5 AND ENTITY_TYPE_ID = ?6 AND ENTITY_ID = ?7",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        m.value_type,
                        m.value,
                        search_key(&m.value),
                        match_code(&m.type_id, &m.value),
                        mid,
                        entity.type_id(),
                        id
                    ])
                })
                .map_err(db)?;
            }
            insert_multi(tx, entity, id, &update.add_multi)?;
            for (kind, new) in &update.bindings {
                let old = sets.iter().find(|(k, _)| k == kind).map(|(_, s)| s.as_slice()).unwrap_or(&[]);
                write_bindings(tx, *kind, id, old, new)?;
            }
            for (kind, items) in &update.held {
                let owners: Vec<i64> = items.iter().map(|b| b.bound_id).collect();
                edit_holders_in(tx, *kind, id, &owners, &|sets| plan_holders_set(sets, id, items))?;
            }
            Ok(true)
        })
        .await
    }

    async fn list(&self, entity: EntityType, query: ListQuery) -> StoreResult<(Vec<Row>, i64)> {
        self.read(move |conn| list_rows(conn, entity, &query)).await
    }

    async fn lists(
        &self,
        queries: Vec<(EntityType, ListQuery)>,
    ) -> StoreResult<Vec<(Vec<Row>, i64)>> {
        // One trip to a reader thread for all of them.
        self.read(move |conn| {
            queries
                .iter()
                .map(|(entity, query)| list_rows(conn, *entity, query))
                .collect()
        })
        .await
    }

    async fn exists(&self, entity: EntityType, id: i64) -> StoreResult<bool> {
        self.read(move |conn| exists(conn, entity, id)).await
    }

    async fn delete(&self, entity: EntityType, id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            if !exists(tx, entity, id)? {
                return Ok(false);
            }
            for kind in kinds_binding(tx, entity)? {
                let owners: Vec<i64> = tx
                    .prepare_cached(
                        "SELECT OWNER_ID FROM crm_binding WHERE KIND = ?1 AND BOUND_ID = ?2",
                    )
                    .and_then(|mut s| s.query_map(params![kind.code, id], |r| r.get(0))?.collect())
                    .map_err(db)?;
                for owner in owners {
                    let old = load_bindings(tx, kind, owner)?;
                    if let Some(new) = plan_remove(&old, id) {
                        write_bindings(tx, kind, owner, &old, &new)?;
                    }
                }
            }
            for kind in entity.def().owns {
                tx.prepare_cached("DELETE FROM crm_binding WHERE KIND = ?1 AND OWNER_ID = ?2")
                    .and_then(|mut s| s.execute(params![kind.code, id]))
                    .map_err(db)?;
            }
            tx.prepare_cached(
                "DELETE FROM crm_multifield WHERE ENTITY_TYPE_ID = ?1 AND ENTITY_ID = ?2",
            )
            .and_then(|mut s| s.execute(params![entity.type_id(), id]))
            .map_err(db)?;
            let sql = format!("DELETE FROM {} WHERE ID = ?1", table(entity));
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute([id]))
                .map_err(db)?;
            Ok(true)
        })
        .await
    }
}
