//! `PipelineStore` on PostgreSQL: reference lists (`crm_status`) and deal categories.

use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{CATEGORY_COLUMNS, STATUS_COLUMNS};
use async_trait::async_trait;
use crm_core::pipeline::{Category, Status};
use crm_core::store::{CategoryStages, PipelineStore, StoreError, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

/// A status from `SELECT STATUS_COLUMNS …`.
pub(super) fn status_row(r: &Row) -> StoreResult<Status> {
    Ok(Status {
        id: r.try_get(0).map_err(pg)?,
        entity_id: r.try_get(1).map_err(pg)?,
        status_id: r.try_get(2).map_err(pg)?,
        name: r.try_get(3).map_err(pg)?,
        name_init: r.try_get(4).map_err(pg)?,
        sort: r.try_get(5).map_err(pg)?,
        system: r.try_get::<_, String>(6).map_err(pg)? == "Y",
        color: r.try_get(7).map_err(pg)?,
        semantics: r.try_get(8).map_err(pg)?,
        category_id: r.try_get(9).map_err(pg)?,
    })
}

/// A category from `SELECT CATEGORY_COLUMNS …`.
pub(super) fn category_row(r: &Row) -> StoreResult<Category> {
    Ok(Category {
        id: r.try_get(0).map_err(pg)?,
        entity_type_id: r.try_get(1).map_err(pg)?,
        name: r.try_get(2).map_err(pg)?,
        sort: r.try_get(3).map_err(pg)?,
        created: r.try_get(4).map_err(pg)?,
    })
}

/// Inserts a status (`status.id` 0 allocates one); `Rejected` when the code is taken.
/// (Two inserts of one code at once: the unique index refuses the second, which is
/// retried as a conflict and then finds the code taken.)
pub(super) async fn insert_status(c: &impl GenericClient, s: &Status) -> StoreResult<i64> {
    let taken = c
        .query_opt(
            "SELECT 1 FROM crm_status WHERE ENTITY_ID = $1 AND STATUS_ID = $2",
            &[&s.entity_id, &s.status_id],
        )
        .await
        .map_err(pg)?
        .is_some();
    if taken {
        return Err(StoreError::Rejected(
            "The specified status ID already exists.".into(),
        ));
    }
    let id = (s.id > 0).then_some(s.id);
    let system = if s.system { "Y" } else { "N" };
    let row = c
        .query_one(
            &format!(
                "INSERT INTO crm_status ({STATUS_COLUMNS}) VALUES \
                 (COALESCE($1, nextval(pg_get_serial_sequence('crm_status', 'id'))), \
                 $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ID"
            ),
            &[
                &id,
                &s.entity_id,
                &s.status_id,
                &s.name,
                &s.name_init,
                &s.sort,
                &system,
                &s.color,
                &s.semantics,
                &s.category_id,
            ],
        )
        .await
        .map_err(pg)?;
    row.try_get(0).map_err(pg)
}

/// Inserts a category (`category.id` 0 allocates one).
pub(super) async fn insert_category(c: &impl GenericClient, cat: &Category) -> StoreResult<i64> {
    let id = (cat.id > 0).then_some(cat.id);
    let row = c
        .query_one(
            &format!(
                "INSERT INTO crm_category ({CATEGORY_COLUMNS}) VALUES \
                 (COALESCE($1, nextval(pg_get_serial_sequence('crm_category', 'id'))), \
                 $2, $3, $4, $5) RETURNING ID"
            ),
            &[&id, &cat.entity_type_id, &cat.name, &cat.sort, &cat.created],
        )
        .await
        .map_err(pg)?;
    row.try_get(0).map_err(pg)
}

#[async_trait]
impl PipelineStore for PostgresStore {
    async fn statuses(&self) -> StoreResult<Vec<Status>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let rows = client
            .query(
                &format!("SELECT {STATUS_COLUMNS} FROM crm_status ORDER BY ENTITY_ID, SORT, ID"),
                &[],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(status_row).collect()
    }

    async fn create_status(&self, status: Status) -> StoreResult<i64> {
        let status = &Status { id: 0, ..status };
        in_transaction!(self, |tx| insert_status(&tx, status).await?)
    }

    async fn update_status(&self, s: Status) -> StoreResult<bool> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let n = client
            .execute(
                "UPDATE crm_status SET NAME = $1, SORT = $2, COLOR = $3 WHERE ID = $4",
                &[&s.name, &s.sort, &s.color, &s.id],
            )
            .await
            .map_err(pg)?;
        Ok(n > 0)
    }

    async fn delete_status(&self, id: i64) -> StoreResult<bool> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let n = client
            .execute("DELETE FROM crm_status WHERE ID = $1", &[&id])
            .await
            .map_err(pg)?;
        Ok(n > 0)
    }

    async fn categories(&self, entity_type_id: i64) -> StoreResult<Vec<Category>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CATEGORY_COLUMNS} FROM crm_category WHERE ENTITY_TYPE_ID = $1 \
                     ORDER BY SORT, ID"
                ),
                &[&entity_type_id],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(category_row).collect()
    }

    async fn create_category(
        &self,
        category: Category,
        stages: CategoryStages,
    ) -> StoreResult<i64> {
        let category = &Category { id: 0, ..category };
        let stages = &stages;
        in_transaction!(self, |tx| {
            let id = insert_category(&tx, category).await?;
            for s in stages(id) {
                insert_status(&tx, &s).await?;
            }
            id
        })
    }

    async fn update_category(&self, c: Category) -> StoreResult<bool> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let n = client
            .execute(
                "UPDATE crm_category SET NAME = $1, SORT = $2 WHERE ID = $3",
                &[&c.name, &c.sort, &c.id],
            )
            .await
            .map_err(pg)?;
        Ok(n > 0)
    }

    async fn delete_category(&self, id: i64, list: String) -> StoreResult<bool> {
        let list = &list;
        in_transaction!(self, |tx| {
            let n = tx
                .execute("DELETE FROM crm_category WHERE ID = $1", &[&id])
                .await
                .map_err(pg)?;
            if n > 0 {
                tx.execute("DELETE FROM crm_status WHERE ENTITY_ID = $1", &[list])
                    .await
                    .map_err(pg)?;
            }
            n > 0
        })
    }

    async fn setting(&self, name: String) -> StoreResult<Option<String>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let row = client
            .query_opt("SELECT VALUE FROM portal_setting WHERE NAME = $1", &[&name])
            .await
            .map_err(pg)?;
        row.map(|r| r.try_get(0).map_err(pg)).transpose()
    }

    async fn set_setting(&self, name: String, value: Option<String>) -> StoreResult<()> {
        let client = self.pool.get().await.map_err(pool_error)?;
        match value {
            Some(v) => {
                client
                    .execute(
                        "INSERT INTO portal_setting (NAME, VALUE) VALUES ($1, $2) \
                         ON CONFLICT (NAME) DO UPDATE SET VALUE = excluded.VALUE",
                        &[&name, &v],
                    )
                    .await
            }
            None => {
                client
                    .execute("DELETE FROM portal_setting WHERE NAME = $1", &[&name])
                    .await
            }
        }
        .map_err(pg)?;
        Ok(())
    }
}
