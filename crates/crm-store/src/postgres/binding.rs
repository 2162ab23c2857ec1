//! Binding sets on PostgreSQL: locking, loading, writing the difference between two sets
//! with the owner's mirror column, and `BindingStore`.

use super::{PostgresStore, in_transaction, pg};
use crate::sql;
use async_trait::async_trait;
use crm_core::binding::holders_of;
use crm_core::binding::{Binding, BindingKind, diff, sort_bindings};
use crm_core::entity::EntityType;
use crm_core::store::{
    BindingEdit, BindingStore, HoldersEdit, HoldersPlan, StoreError, StoreResult,
};
use deadpool_postgres::GenericClient;
use std::collections::BTreeSet;

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

/// The owners whose set of `kind` binds `bound`.
async fn holder_ids(
    c: &impl GenericClient,
    kind: BindingKind,
    bound: i64,
) -> StoreResult<Vec<i64>> {
    let stmt = c
        .prepare_cached("SELECT OWNER_ID FROM crm_binding WHERE KIND = $1 AND BOUND_ID = $2")
        .await
        .map_err(pg)?;
    Ok(c.query(&stmt, &[&kind.code, &bound])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Locks the owners' rows for update in ascending id order; the ids that exist.
async fn lock_owners(
    c: &impl GenericClient,
    kind: BindingKind,
    ids: &BTreeSet<i64>,
) -> StoreResult<BTreeSet<i64>> {
    let ids: Vec<i64> = ids.iter().copied().collect();
    let sql = format!(
        "SELECT ID FROM {} WHERE ID = ANY($1) ORDER BY ID FOR UPDATE",
        sql::table(kind.owner)
    );
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    Ok(c.query(&stmt, &[&ids])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The sets of the given owners, ascending by owner.
async fn load_sets(
    c: &impl GenericClient,
    kind: BindingKind,
    owners: &BTreeSet<i64>,
) -> StoreResult<Vec<(i64, Vec<Binding>)>> {
    let mut sets = Vec::with_capacity(owners.len());
    for &o in owners {
        sets.push((o, load_bindings(c, kind, o).await?));
    }
    Ok(sets)
}

/// Edits, inside a transaction, every set of `kind` that binds `bound` and the sets of
/// `owners` (which must exist), locking the owners' rows in ascending id order (and any
/// owner that starts holding `bound` meanwhile): the plan gets the sets ascending by
/// owner and returns those to write. Whether anything changed.
pub(super) async fn edit_holders_in(
    tx: &impl GenericClient,
    kind: BindingKind,
    bound: i64,
    owners: &[i64],
    edit: &HoldersPlan<'_>,
) -> StoreResult<bool> {
    let mut wanted: BTreeSet<i64> = owners.iter().copied().collect();
    let mut locked = BTreeSet::new();
    let mut existing = BTreeSet::new();
    // An owner may start holding `bound` while we lock: lock until no new one.
    loop {
        wanted.extend(holder_ids(tx, kind, bound).await?);
        let fresh: BTreeSet<i64> = wanted.difference(&locked).copied().collect();
        if fresh.is_empty() {
            break;
        }
        existing.extend(lock_owners(tx, kind, &fresh).await?);
        locked.extend(fresh);
    }
    if let Some(&id) = owners.iter().find(|id| !existing.contains(id)) {
        return Err(StoreError::BoundNotFound {
            entity: kind.owner,
            id,
        });
    }
    let sets = load_sets(tx, kind, &existing).await?;
    let changes = edit(&sets);
    for (owner, new) in &changes {
        let old = sets
            .iter()
            .find(|(o, _)| o == owner)
            .map_or(&[][..], |(_, s)| s.as_slice());
        write_bindings(tx, kind, *owner, old, new).await?;
    }
    Ok(!changes.is_empty())
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

    async fn holders(&self, kind: BindingKind, bound: i64) -> StoreResult<Vec<(i64, Binding)>> {
        let client = self.pool.get().await.map_err(super::pool_error)?;
        let ids: BTreeSet<i64> = holder_ids(&client, kind, bound)
            .await?
            .into_iter()
            .collect();
        let sets = load_sets(&client, kind, &ids).await?;
        Ok(holders_of(&sets, bound))
    }

    async fn edit_holders(
        &self,
        kind: BindingKind,
        bound: i64,
        require_bound: bool,
        owners: Vec<i64>,
        edit: HoldersEdit,
    ) -> StoreResult<bool> {
        in_transaction!(self, |tx| {
            // The bound row first (NO KEY UPDATE: serialises edits from this side without
            // blocking the owners' KEY SHARE locks on it), then the owners ascending.
            let sql = format!(
                "SELECT 1 FROM {} WHERE ID = $1 FOR NO KEY UPDATE",
                sql::table(kind.bound)
            );
            let stmt = tx.prepare_cached(&sql).await.map_err(pg)?;
            let found = tx.query_opt(&stmt, &[&bound]).await.map_err(pg)?.is_some();
            if require_bound && !found {
                return Err(StoreError::NotFound);
            }
            edit_holders_in(&tx, kind, bound, &owners, &*edit).await?
        })
    }
}
