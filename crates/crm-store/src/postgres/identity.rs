//! `IdentityStore` on PostgreSQL: users, departments, webhooks (secret hashes only) and
//! the portal's member id.

use super::{PostgresStore, in_transaction, pg};
use crate::sql::{self, DEPARTMENT_COLUMNS, Dialect, WEBHOOK_COLUMNS, parse_ids, parse_scopes};
use async_trait::async_trait;
use crm_core::identity::{Department, Scope, User, Webhook, scopes_text};
use crm_core::store::{IdentityStore, StoreError, StoreResult};
use deadpool_postgres::GenericClient;

/// A user from [`sql::select_users`].
pub(super) fn user_row(r: &tokio_postgres::Row) -> StoreResult<User> {
    let departments: String = r.try_get(7).map_err(pg)?;
    Ok(User {
        id: r.try_get(0).map_err(pg)?,
        name: r.try_get(1).map_err(pg)?,
        last_name: r.try_get(2).map_err(pg)?,
        email: r.try_get(3).map_err(pg)?,
        admin: r.try_get(4).map_err(pg)?,
        active: r.try_get(5).map_err(pg)?,
        registered_at: r.try_get(6).map_err(pg)?,
        departments: parse_ids(&departments),
    })
}

/// A department from `SELECT DEPARTMENT_COLUMNS …`.
pub(super) fn department_row(r: &tokio_postgres::Row) -> StoreResult<Department> {
    Ok(Department {
        id: r.try_get(0).map_err(pg)?,
        name: r.try_get(1).map_err(pg)?,
        sort: r.try_get(2).map_err(pg)?,
        parent: r.try_get(3).map_err(pg)?,
        head: r.try_get(4).map_err(pg)?,
    })
}

/// Whether a row with this id exists in `table` (a fixed name, never input), locking it
/// against deletion until the transaction ends.
pub(super) async fn row_exists(c: &impl GenericClient, table: &str, id: i64) -> StoreResult<bool> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT 1 FROM {table} WHERE ID = $1 FOR KEY SHARE"
        ))
        .await
        .map_err(pg)?;
    Ok(c.query_opt(&stmt, &[&id]).await.map_err(pg)?.is_some())
}

/// Inserts a user with its id (`None`: allocated) and departments; returns the id.
pub(super) async fn insert_user(
    c: &impl GenericClient,
    u: &User,
    id: Option<i64>,
) -> StoreResult<i64> {
    for d in &u.departments {
        if !row_exists(c, "department", *d).await? {
            return Err(StoreError::NotFound);
        }
    }
    let stmt = c
        .prepare_cached(
            "INSERT INTO app_user (ID, NAME, LAST_NAME, EMAIL, ADMIN, ACTIVE, DATE_REGISTER) \
             VALUES (COALESCE($1, nextval(pg_get_serial_sequence('app_user', 'id'))), \
             $2, $3, $4, $5, $6, $7) RETURNING ID",
        )
        .await
        .map_err(pg)?;
    let id: i64 = c
        .query_one(
            &stmt,
            &[
                &id,
                &u.name,
                &u.last_name,
                &u.email,
                &u.admin,
                &u.active,
                &u.registered_at,
            ],
        )
        .await
        .map_err(pg)?
        .get(0);
    let member = c
        .prepare_cached(
            "INSERT INTO user_department (USER_ID, DEPARTMENT_ID) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(pg)?;
    for d in &u.departments {
        c.execute(&member, &[&id, d]).await.map_err(pg)?;
    }
    Ok(id)
}

fn webhook_row(r: &tokio_postgres::Row) -> StoreResult<Webhook> {
    let scopes: String = r.try_get(3).map_err(pg)?;
    Ok(Webhook {
        id: r.try_get(0).map_err(pg)?,
        user_id: r.try_get(1).map_err(pg)?,
        secret_hash: r.try_get(2).map_err(pg)?,
        scopes: parse_scopes(&scopes),
        created_at: r.try_get(4).map_err(pg)?,
        revoked: r.try_get(5).map_err(pg)?,
    })
}

async fn insert_webhook(
    c: &impl GenericClient,
    user_id: i64,
    secret_hash: &str,
    scopes: &[Scope],
    now: i64,
) -> StoreResult<i64> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO webhook (USER_ID, SECRET_HASH, SCOPES, CREATED_AT) \
             VALUES ($1, $2, $3, $4) RETURNING ID",
        )
        .await
        .map_err(pg)?;
    let row = c
        .query_one(&stmt, &[&user_id, &secret_hash, &scopes_text(scopes), &now])
        .await
        .map_err(pg)?;
    Ok(row.get(0))
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn bootstrap(
        &self,
        admin: User,
        secret_hash: String,
        scopes: Vec<Scope>,
        now: i64,
    ) -> StoreResult<bool> {
        let (admin, secret_hash, scopes) = (&admin, &secret_hash, &scopes);
        in_transaction!(self, |tx| {
            // Servers starting at once on an empty database: one of them bootstraps.
            tx.batch_execute("LOCK TABLE app_user IN EXCLUSIVE MODE")
                .await
                .map_err(pg)?;
            let users: i64 = tx
                .query_one("SELECT COUNT(*) FROM app_user", &[])
                .await
                .map_err(pg)?
                .get(0);
            if users > 0 {
                return Ok(false);
            }
            insert_user(&tx, admin, Some(admin.id)).await?;
            // The explicit id bypassed the identity sequence: move it past the id used.
            tx.execute(
                "SELECT setval(pg_get_serial_sequence('app_user', 'id'), \
                 (SELECT MAX(ID) FROM app_user))",
                &[],
            )
            .await
            .map_err(pg)?;
            insert_webhook(&tx, admin.id, secret_hash, scopes, now).await?;
            true
        })
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        let sql = format!("{} WHERE u.ID = $1", sql::select_users(Dialect::Postgres));
        self.read_one(&sql, &[&id], user_row).await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("{} ORDER BY u.ID", sql::select_users(Dialect::Postgres));
        self.read_all(&sql, &[], user_row).await
    }

    async fn create_user(&self, user: User) -> StoreResult<i64> {
        let user = &user;
        in_transaction!(self, |tx| {
            let chosen = (user.id > 0).then_some(user.id);
            if let Some(id) = chosen
                && row_exists(&tx, "app_user", id).await?
            {
                return Err(StoreError::Rejected(format!("User #{id} already exists")));
            }
            let id = insert_user(&tx, user, chosen).await?;
            if chosen.is_some() {
                // A chosen id does not move the identity sequence: move it past.
                tx.execute(
                    "SELECT setval(pg_get_serial_sequence('app_user', 'id'), GREATEST(\
                     (SELECT MAX(ID) FROM app_user), COALESCE(pg_sequence_last_value(\
                     pg_get_serial_sequence('app_user', 'id')::regclass), 1)))",
                    &[],
                )
                .await
                .map_err(pg)?;
            }
            id
        })
    }

    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<bool> {
        in_transaction!(self, |tx| {
            tx.execute(
                "UPDATE app_user SET ACTIVE = $2 WHERE ID = $1",
                &[&id, &active],
            )
            .await
            .map_err(pg)?
                > 0
        })
    }

    async fn departments(&self) -> StoreResult<Vec<Department>> {
        let sql = format!("SELECT {DEPARTMENT_COLUMNS} FROM department ORDER BY ID");
        self.read_all(&sql, &[], department_row).await
    }

    async fn create_department(&self, d: Department) -> StoreResult<i64> {
        let d = &d;
        in_transaction!(self, |tx| {
            if let Some(parent) = d.parent
                && !row_exists(&tx, "department", parent).await?
            {
                return Err(StoreError::NotFound);
            }
            if let Some(head) = d.head
                && !row_exists(&tx, "app_user", head).await?
            {
                return Err(StoreError::NotFound);
            }
            tx.query_one(
                "INSERT INTO department (NAME, SORT, PARENT_ID, HEAD_ID) VALUES ($1, $2, $3, $4) \
                 RETURNING ID",
                &[&d.name, &d.sort, &d.parent, &d.head],
            )
            .await
            .map_err(pg)?
            .get::<_, i64>(0)
        })
    }

    async fn department_members(&self, departments: Vec<i64>) -> StoreResult<Vec<i64>> {
        let sql = "SELECT DISTINCT USER_ID FROM user_department \
                   WHERE DEPARTMENT_ID = ANY($1::bigint[]) ORDER BY USER_ID";
        self.read_all(sql, &[&departments], |r| r.try_get(0).map_err(pg))
            .await
    }

    async fn member_id(&self) -> StoreResult<String> {
        let sql = "SELECT VALUE FROM portal_setting WHERE NAME = 'MEMBER_ID'";
        self.read_one(sql, &[], |r| r.try_get(0).map_err(pg))
            .await?
            .ok_or_else(|| StoreError::backend("the member id is missing"))
    }

    async fn create_webhook(
        &self,
        user_id: i64,
        secret_hash: String,
        scopes: Vec<Scope>,
        now: i64,
    ) -> StoreResult<i64> {
        let (secret_hash, scopes) = (&secret_hash, &scopes);
        in_transaction!(self, |tx| {
            if !row_exists(&tx, "app_user", user_id).await? {
                return Err(StoreError::NotFound);
            }
            insert_webhook(&tx, user_id, secret_hash, scopes, now).await?
        })
    }

    async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhook ORDER BY ID");
        self.read_all(&sql, &[], webhook_row).await
    }

    async fn active_webhooks(&self, user_id: i64) -> StoreResult<Vec<Webhook>> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE USER_ID = $1 AND NOT REVOKED");
        self.read_all(&sql, &[&user_id], webhook_row).await
    }

    async fn revoke_webhook(&self, id: i64) -> StoreResult<bool> {
        in_transaction!(self, |tx| {
            tx.execute(
                "UPDATE webhook SET REVOKED = true WHERE ID = $1 AND NOT REVOKED",
                &[&id],
            )
            .await
            .map_err(pg)?
                > 0
        })
    }
}
