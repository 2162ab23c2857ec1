//! `PipelineStore` on SQLite: reference lists (`crm_status`) and deal categories.

use super::{SqliteStore, db};
use crate::sql::{CATEGORY_COLUMNS, STATUS_COLUMNS};
use async_trait::async_trait;
use crm_core::pipeline::{Category, Status};
use crm_core::store::{CategoryStages, PipelineStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// A status from `SELECT STATUS_COLUMNS …`.
pub(super) fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Status> {
    Ok(Status {
        id: r.get(0)?,
        entity_id: r.get(1)?,
        status_id: r.get(2)?,
        name: r.get(3)?,
        name_init: r.get(4)?,
        sort: r.get(5)?,
        system: r.get::<_, String>(6)? == "Y",
        color: r.get(7)?,
        semantics: r.get(8)?,
        category_id: r.get(9)?,
    })
}

/// A category from `SELECT CATEGORY_COLUMNS …`.
pub(super) fn category_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Category> {
    Ok(Category {
        id: r.get(0)?,
        entity_type_id: r.get(1)?,
        name: r.get(2)?,
        sort: r.get(3)?,
        created: r.get(4)?,
    })
}

/// Inserts a status (`status.id` 0 allocates one); `Rejected` when the code is taken.
pub(super) fn insert_status(conn: &Connection, s: &Status) -> StoreResult<i64> {
    let taken = conn
        .prepare_cached("SELECT 1 FROM crm_status WHERE ENTITY_ID = ?1 AND STATUS_ID = ?2")
        .and_then(|mut q| q.exists(params![s.entity_id, s.status_id]))
        .map_err(db)?;
    if taken {
        return Err(StoreError::Rejected(
            "The specified status ID already exists.".into(),
        ));
    }
    conn.prepare_cached(&format!(
        "INSERT INTO crm_status ({STATUS_COLUMNS}) \
         VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .and_then(|mut q| {
        q.execute(params![
            s.id,
            s.entity_id,
            s.status_id,
            s.name,
            s.name_init,
            s.sort,
            if s.system { "Y" } else { "N" },
            s.color,
            s.semantics,
            s.category_id
        ])
    })
    .map_err(db)?;
    Ok(conn.last_insert_rowid())
}

/// Inserts a category with its id (`category.id` 0 allocates one).
pub(super) fn insert_category(conn: &Connection, c: &Category) -> StoreResult<i64> {
    conn.prepare_cached(&format!(
        "INSERT INTO crm_category ({CATEGORY_COLUMNS}) VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5)"
    ))
    .and_then(|mut q| q.execute(params![c.id, c.entity_type_id, c.name, c.sort, c.created]))
    .map_err(db)?;
    Ok(conn.last_insert_rowid())
}

#[async_trait]
impl PipelineStore for SqliteStore {
    async fn statuses(&self) -> StoreResult<Vec<Status>> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {STATUS_COLUMNS} FROM crm_status ORDER BY ENTITY_ID, SORT, ID"
            ))
            .and_then(|mut s| s.query_map([], status_row)?.collect())
            .map_err(db)
        })
        .await
    }

    async fn create_status(&self, status: Status) -> StoreResult<i64> {
        self.write(move |tx| insert_status(tx, &Status { id: 0, ..status }))
            .await
    }

    async fn update_status(&self, s: Status) -> StoreResult<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE crm_status SET NAME = ?1, SORT = ?2, COLOR = ?3 WHERE ID = ?4",
                    params![s.name, s.sort, s.color, s.id],
                )
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_status(&self, id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM crm_status WHERE ID = ?1", [id])
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn categories(&self, entity_type_id: i64) -> StoreResult<Vec<Category>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {CATEGORY_COLUMNS} FROM crm_category WHERE ENTITY_TYPE_ID = ?1 \
                 ORDER BY SORT, ID"
            ))
            .and_then(|mut s| s.query_map([entity_type_id], category_row)?.collect())
            .map_err(db)
        })
        .await
    }

    async fn create_category(
        &self,
        category: Category,
        stages: CategoryStages,
    ) -> StoreResult<i64> {
        self.write(move |tx| {
            let id = insert_category(tx, &Category { id: 0, ..category })?;
            for s in stages(id) {
                insert_status(tx, &s)?;
            }
            Ok(id)
        })
        .await
    }

    async fn update_category(&self, c: Category) -> StoreResult<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE crm_category SET NAME = ?1, SORT = ?2 WHERE ID = ?3",
                    params![c.name, c.sort, c.id],
                )
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_category(&self, id: i64, list: String) -> StoreResult<bool> {
        self.write(move |tx| {
            let found = tx
                .query_row("SELECT 1 FROM crm_category WHERE ID = ?1", [id], |_| Ok(()))
                .optional()
                .map_err(db)?
                .is_some();
            if !found {
                return Ok(false);
            }
            tx.execute("DELETE FROM crm_status WHERE ENTITY_ID = ?1", [&list])
                .map_err(db)?;
            tx.execute("DELETE FROM crm_category WHERE ID = ?1", [id])
                .map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn setting(&self, name: String) -> StoreResult<Option<String>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT VALUE FROM portal_setting WHERE NAME = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn set_setting(&self, name: String, value: Option<String>) -> StoreResult<()> {
        self.write(move |tx| {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO portal_setting (NAME, VALUE) VALUES (?1, ?2) \
                     ON CONFLICT (NAME) DO UPDATE SET VALUE = excluded.VALUE",
                    params![name, v],
                ),
                None => tx.execute("DELETE FROM portal_setting WHERE NAME = ?1", [name]),
            }
            .map_err(db)?;
            Ok(())
        })
        .await
    }
}
