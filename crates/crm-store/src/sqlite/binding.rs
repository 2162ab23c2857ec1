//! Binding sets: loading, writing the difference between two sets with the owner's
//! mirror column, and `BindingStore`.

use super::rows::exists;
use super::{SqliteStore, db};
use crate::sql;
use async_trait::async_trait;
use crm_core::binding::holders_of;
use crm_core::binding::{Binding, BindingKind, diff, sort_bindings};
use crm_core::store::{
    BindingEdit, BindingStore, HoldersEdit, HoldersPlan, StoreError, StoreResult,
};
use rusqlite::{Connection, Transaction, params};

/// The owner's set, ordered by SORT then bound id.
pub(super) fn load_bindings(
    conn: &Connection,
    kind: BindingKind,
    owner: i64,
) -> StoreResult<Vec<Binding>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT BOUND_ID, SORT, ROLE_ID, IS_PRIMARY FROM crm_binding \
             WHERE KIND = ?1 AND OWNER_ID = ?2 ORDER BY SORT, BOUND_ID",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![kind.code, owner], |r| {
            Ok(Binding {
                bound_id: r.get(0)?,
                sort: r.get(1)?,
                role_id: r.get(2)?,
                is_primary: r.get::<_, String>(3)? == "Y",
            })
        })
        .map_err(db)?;
    let mut set = rows.collect::<Result<Vec<_>, _>>().map_err(db)?;
    sort_bindings(&mut set);
    Ok(set)
}

/// Writes the difference between two sets and mirrors the primary into the owner row.
/// Demotions are written before the new primary so the one-primary index never trips.
pub(super) fn write_bindings(
    tx: &Transaction<'_>,
    kind: BindingKind,
    owner: i64,
    old: &[Binding],
    new: &[Binding],
) -> StoreResult<()> {
    let (removed, mut upserts) = diff(old, new);
    let mut del = tx
        .prepare_cached(
            "DELETE FROM crm_binding WHERE KIND = ?1 AND OWNER_ID = ?2 AND BOUND_ID = ?3",
        )
        .map_err(db)?;
    for id in removed {
        del.execute(params![kind.code, owner, id]).map_err(db)?;
    }
    upserts.sort_by_key(|b| b.is_primary);
    let mut put = tx
        .prepare_cached(
            "INSERT INTO crm_binding (KIND, OWNER_ID, BOUND_ID, SORT, ROLE_ID, IS_PRIMARY) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (KIND, OWNER_ID, BOUND_ID) DO UPDATE SET \
             SORT = excluded.SORT, ROLE_ID = excluded.ROLE_ID, IS_PRIMARY = excluded.IS_PRIMARY",
        )
        .map_err(db)?;
    for b in upserts {
        let flag = if b.is_primary { "Y" } else { "N" };
        put.execute(params![
            kind.code, owner, b.bound_id, b.sort, b.role_id, flag
        ])
        .map_err(db)?;
    }
    let primary = new.iter().find(|b| b.is_primary).map(|b| b.bound_id);
    let sql = format!(
        "UPDATE {} SET {} = ?1 WHERE ID = ?2",
        sql::table(kind.owner),
        kind.owner_column
    );
    tx.prepare_cached(&sql)
        .and_then(|mut s| s.execute(params![primary, owner]))
        .map_err(db)?;
    Ok(())
}

/// Fails with `BoundNotFound` for the first id that is not an existing bound entity.
pub(super) fn check_bound(conn: &Connection, kind: BindingKind, ids: &[i64]) -> StoreResult<()> {
    for &id in ids {
        if !exists(conn, kind.bound, id)? {
            return Err(StoreError::BoundNotFound {
                entity: kind.bound,
                id,
            });
        }
    }
    Ok(())
}

/// The owners whose set of `kind` binds `bound`.
fn holder_ids(conn: &Connection, kind: BindingKind, bound: i64) -> StoreResult<Vec<i64>> {
    conn.prepare_cached("SELECT OWNER_ID FROM crm_binding WHERE KIND = ?1 AND BOUND_ID = ?2")
        .and_then(|mut s| {
            s.query_map(params![kind.code, bound], |r| r.get(0))?
                .collect()
        })
        .map_err(db)
}

/// The sets of the given owners, ascending by owner, each owner once.
fn load_sets(
    conn: &Connection,
    kind: BindingKind,
    mut owners: Vec<i64>,
) -> StoreResult<Vec<(i64, Vec<Binding>)>> {
    owners.sort_unstable();
    owners.dedup();
    owners
        .into_iter()
        .map(|o| Ok((o, load_bindings(conn, kind, o)?)))
        .collect()
}

/// Edits, inside a transaction, every set of `kind` that binds `bound` and the sets of
/// `owners` (which must exist): the plan gets them ascending by owner and returns the
/// sets to write. Whether anything changed.
pub(super) fn edit_holders_in(
    tx: &Transaction<'_>,
    kind: BindingKind,
    bound: i64,
    owners: &[i64],
    edit: &HoldersPlan<'_>,
) -> StoreResult<bool> {
    for &id in owners {
        if !exists(tx, kind.owner, id)? {
            return Err(StoreError::BoundNotFound {
                entity: kind.owner,
                id,
            });
        }
    }
    let mut ids = holder_ids(tx, kind, bound)?;
    ids.extend(owners);
    let sets = load_sets(tx, kind, ids)?;
    let changes = edit(&sets);
    for (owner, new) in &changes {
        let old = sets
            .iter()
            .find(|(o, _)| o == owner)
            .map_or(&[][..], |(_, s)| s.as_slice());
        write_bindings(tx, kind, *owner, old, new)?;
    }
    Ok(!changes.is_empty())
}

#[async_trait]
impl BindingStore for SqliteStore {
    async fn bindings(&self, kind: BindingKind, owner: i64) -> StoreResult<Vec<Binding>> {
        self.read(move |conn| load_bindings(conn, kind, owner))
            .await
    }

    async fn edit_bindings(
        &self,
        kind: BindingKind,
        owner: i64,
        require_owner: bool,
        must_exist: Vec<i64>,
        edit: BindingEdit,
    ) -> StoreResult<bool> {
        self.write(move |tx| {
            if require_owner && !exists(tx, kind.owner, owner)? {
                return Err(StoreError::NotFound);
            }
            check_bound(tx, kind, &must_exist)?;
            let old = load_bindings(tx, kind, owner)?;
            match edit(&old) {
                Some(new) => {
                    write_bindings(tx, kind, owner, &old, &new)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
        .await
    }

    async fn holders(&self, kind: BindingKind, bound: i64) -> StoreResult<Vec<(i64, Binding)>> {
        self.read(move |conn| {
            let sets = load_sets(conn, kind, holder_ids(conn, kind, bound)?)?;
            Ok(holders_of(&sets, bound))
        })
        .await
    }

    async fn edit_holders(
        &self,
        kind: BindingKind,
        bound: i64,
        require_bound: bool,
        owners: Vec<i64>,
        edit: HoldersEdit,
    ) -> StoreResult<bool> {
        self.write(move |tx| {
            if require_bound && !exists(tx, kind.bound, bound)? {
                return Err(StoreError::NotFound);
            }
            edit_holders_in(tx, kind, bound, &owners, &*edit)
        })
        .await
    }
}
