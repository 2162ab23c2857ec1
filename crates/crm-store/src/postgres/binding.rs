//! Binding sets on PostgreSQL: locking, loading, writing the difference between two sets
//! with the owner's mirror column, and `BindingStore`.

use super::{PostgresStore, in_transaction, pg};
use crate::sql;
use async_trait::async_trait;
use crm_core::binding::{Binding, BindingKind, diff, sort_bindings};
use crm_core::entity::EntityType;
use crm_core::store::{BindingEdit, BindingStore, StoreError, StoreResult};
use deadpool_postgres::GenericClient;

/// The owner's set, ordered by SORT then bound id.
pub(super) async fn load_bindings(
    c: &impl GenericClient,
    kind: BindingKind,
    owner: i64,
) -> StoreResult<Vec<Binding>> {
    let stmt = c
        .prepare_cached(
            "SELECT BOUND_ID, SORT, ROLE_ID, IS_PRIMARY FROM crm_binding \
             WHERE KIND = $1 AND OWNER_ID = $2 ORDER BY SORT, BOUND_ID",
        )
        .await
        .map_err(pg)?;
    let rows = c.query(&stmt, &[&kind.code, &owner]).await.map_err(pg)?;
    let mut set: Vec<Binding> = rows
        .iter()
        .map(|r| Binding {
            bound_id: r.get(0),
            sort: r.get(1),
            role_id: r.get(2),
            is_primary: r.get::<_, String>(3) == "Y",
        })
        .collect();
    sort_bindings(&mut set);
    Ok(set)
}

/// Locks an entity row for update (the owner of a set about to change); `false` when it
/// does not exist.
pub(super) async fn lock_row(
    c: &impl GenericClient,
    entity: EntityType,
    id: i64,
) -> StoreResult<bool> {
    let sql = format!(
        "SELECT 1 FROM {} WHERE ID = $1 FOR UPDATE",
        sql::table(entity)
    );
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    Ok(c.query_opt(&stmt, &[&id]).await.map_err(pg)?.is_some())
}

/// Locks the rows of the entities about to be bound against deletion (in ascending id
/// order, in one statement); the first missing one in the caller's order, if any.
pub(super) async fn lock_bound(
    c: &impl GenericClient,
    kind: BindingKind,
    ids: &[i64],
) -> StoreResult<Option<i64>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT ID FROM {} WHERE ID = ANY($1) ORDER BY ID FOR KEY SHARE",
        sql::table(kind.bound)
    );
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    let found: std::collections::HashSet<i64> = c
        .query(&stmt, &[&ids])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(ids.iter().copied().find(|id| !found.contains(id)))
}

/// Writes the difference between two sets and mirrors the primary into the owner row.
/// Demotions are written before the new primary so the one-primary index never trips.
pub(super) async fn write_bindings(
    c: &impl GenericClient,
    kind: BindingKind,
    owner: i64,
    old: &[Binding],
    new: &[Binding],
) -> StoreResult<()> {
    let (removed, mut upserts) = diff(old, new);
    if !removed.is_empty() {
        let del = c
            .prepare_cached(
                "DELETE FROM crm_binding WHERE KIND = $1 AND OWNER_ID = $2 AND BOUND_ID = ANY($3)",
            )
            .await
            .map_err(pg)?;
        c.execute(&del, &[&kind.code, &owner, &removed])
            .await
            .map_err(pg)?;
    }
    // One statement for all rows, demotions first (rows are applied in the order given)
    // so the one-primary index never sees two primaries.
    upserts.sort_by_key(|b| b.is_primary);
    if !upserts.is_empty() {
        let put = c
            .prepare_cached(
                "INSERT INTO crm_binding (KIND, OWNER_ID, BOUND_ID, SORT, ROLE_ID, IS_PRIMARY) \
                 SELECT $1, $2, b, s, r, p \
                 FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[]) \
                      WITH ORDINALITY AS u(b, s, r, p, n) ORDER BY n \
                 ON CONFLICT (KIND, OWNER_ID, BOUND_ID) DO UPDATE SET \
                 SORT = excluded.SORT, ROLE_ID = excluded.ROLE_ID, IS_PRIMARY = excluded.IS_PRIMARY",
            )
            .await
            .map_err(pg)?;
        let bound: Vec<i64> = upserts.iter().map(|b| b.bound_id).collect();
        let sort: Vec<i64> = upserts.iter().map(|b| b.sort).collect();
        let role: Vec<i64> = upserts.iter().map(|b| b.role_id).collect();
        let flag: Vec<&str> = upserts
            .iter()
            .map(|b| if b.is_primary { "Y" } else { "N" })
            .collect();
        c.execute(&put, &[&kind.code, &owner, &bound, &sort, &role, &flag])
            .await
            .map_err(pg)?;
    }
    let primary = new.iter().find(|b| b.is_primary).map(|b| b.bound_id);
    let sql = format!(
        "UPDATE {} SET {} = $1 WHERE ID = $2",
        sql::table(kind.owner),
        kind.owner_column
    );
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    c.execute(&stmt, &[&primary, &owner]).await.map_err(pg)?;
    Ok(())
}

#[async_trait]
impl BindingStore for PostgresStore {
    async fn bindings(&self, kind: BindingKind, owner: i64) -> StoreResult<Vec<Binding>> {
        let client = self.pool.get().await.map_err(super::pool_error)?;
        load_bindings(&client, kind, owner).await
    }

    async fn edit_bindings(
        &self,
        kind: BindingKind,
        owner: i64,
        require_owner: bool,
        must_exist: Vec<i64>,
        edit: BindingEdit,
    ) -> StoreResult<bool> {
        in_transaction!(self, |tx| {
            // Bound rows first, then the owner: the order every operation locks in.
            let missing = lock_bound(&tx, kind, &must_exist).await?;
            let found = lock_row(&tx, kind.owner, owner).await?;
            if require_owner && !found {
                return Err(StoreError::NotFound);
            }
            if let Some(id) = missing {
                return Err(StoreError::BoundNotFound {
                    entity: kind.bound,
                    id,
                });
            }
            let old = load_bindings(&tx, kind, owner).await?;
            match edit(&old) {
                Some(new) => {
                    write_bindings(&tx, kind, owner, &old, &new).await?;
                    true
                }
                None => false,
            }
        })
    }
}
