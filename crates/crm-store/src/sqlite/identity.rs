//! `IdentityStore` on SQLite: users, departments, webhooks (secret hashes only) and the
//! portal's member id.

use super::{SqliteStore, db};
use crate::sql::{self, DEPARTMENT_COLUMNS, Dialect, WEBHOOK_COLUMNS, parse_ids, parse_scopes};
use async_trait::async_trait;
use crm_core::identity::{Department, Scope, User, Webhook, scopes_text};
use crm_core::store::{IdentityStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// A user from [`sql::select_users`].
pub(super) fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let departments: String = r.get(7)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        last_name: r.get(2)?,
        email: r.get(3)?,
        admin: r.get(4)?,
        active: r.get(5)?,
        registered_at: r.get(6)?,
        departments: parse_ids(&departments),
    })
}

/// A department from `SELECT DEPARTMENT_COLUMNS …`.
pub(super) fn department_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Department> {
    Ok(Department {
        id: r.get(0)?,
        name: r.get(1)?,
        sort: r.get(2)?,
        parent: r.get(3)?,
        head: r.get(4)?,
    })
}

fn webhook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    let scopes: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        user_id: r.get(1)?,
        secret_hash: r.get(2)?,
        scopes: parse_scopes(&scopes),
        created_at: r.get(4)?,
        revoked: r.get::<_, i64>(5)? != 0,
    })
}

/// Whether a row with this id exists in `table` (a fixed name, never input).
pub(super) fn row_exists(tx: &rusqlite::Connection, table: &str, id: i64) -> StoreResult<bool> {
    tx.prepare_cached(&format!("SELECT 1 FROM {table} WHERE ID = ?1"))
        .and_then(|mut s| s.exists([id]))
        .map_err(db)
}

/// Inserts a user with its id (`None`: allocated) and departments; returns the id.
pub(super) fn insert_user(tx: &Transaction<'_>, u: &User, id: Option<i64>) -> StoreResult<i64> {
    tx.prepare_cached(
        "INSERT INTO app_user (ID, NAME, LAST_NAME, EMAIL, ADMIN, ACTIVE, DATE_REGISTER) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            u.name,
            u.last_name,
            u.email,
            u.admin,
            u.active,
            u.registered_at
        ])
    })
    .map_err(db)?;
    let id = tx.last_insert_rowid();
    for d in &u.departments {
        if !row_exists(tx, "department", *d)? {
            return Err(StoreError::NotFound);
        }
        tx.prepare_cached(
            "INSERT OR IGNORE INTO user_department (USER_ID, DEPARTMENT_ID) VALUES (?1, ?2)",
        )
        .and_then(|mut s| s.execute(params![id, d]))
        .map_err(db)?;
    }
    Ok(id)
}

fn insert_webhook(
    tx: &Transaction<'_>,
    user_id: i64,
    secret_hash: &str,
    scopes: &[Scope],
    now: i64,
) -> StoreResult<i64> {
    tx.prepare_cached(
        "INSERT INTO webhook (USER_ID, SECRET_HASH, SCOPES, CREATED_AT) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![user_id, secret_hash, scopes_text(scopes), now]))
    .map_err(db)?;
    Ok(tx.last_insert_rowid())
}

/// The active webhooks of a user.
fn active_webhooks(conn: &Connection, user_id: i64) -> StoreResult<Vec<Webhook>> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE USER_ID = ?1 AND REVOKED = 0");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_map([user_id], webhook_row)?.collect())
        .map_err(db)
}

/// One user.
fn user(conn: &Connection, id: i64) -> StoreResult<Option<User>> {
    let sql = format!("{} WHERE u.ID = ?1", sql::select_users(Dialect::Sqlite));
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([id], user_row).optional())
        .map_err(db)
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn bootstrap(
        &self,
        admin: User,
        secret_hash: String,
        scopes: Vec<Scope>,
        now: i64,
    ) -> StoreResult<bool> {
        self.write(move |tx| {
            let users: i64 = tx
                .query_row("SELECT COUNT(*) FROM app_user", [], |r| r.get(0))
                .map_err(db)?;
            if users > 0 {
                return Ok(false);
            }
            insert_user(tx, &admin, Some(admin.id))?;
            insert_webhook(tx, admin.id, &secret_hash, &scopes, now)?;
            Ok(true)
        })
        .await
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn| user(conn, id)).await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.read(|conn| {
            let sql = format!("{} ORDER BY u.ID", sql::select_users(Dialect::Sqlite));
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_map([], user_row)?.collect())
                .map_err(db)
        })
        .await
    }

    async fn create_user(&self, user: User) -> StoreResult<i64> {
        self.write(move |tx| {
            let chosen = (user.id > 0).then_some(user.id);
            if let Some(id) = chosen
                && row_exists(tx, "app_user", id)?
            {
                return Err(StoreError::Rejected(format!("User #{id} already exists")));
            }
            insert_user(tx, &user, chosen)
        })
        .await
    }

    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<bool> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE app_user SET ACTIVE = ?2 WHERE ID = ?1",
                params![id, active],
            )
            .map(|n| n > 0)
            .map_err(db)
        })
        .await
    }

    async fn departments(&self) -> StoreResult<Vec<Department>> {
        self.read(|conn| {
            let sql = format!("SELECT {DEPARTMENT_COLUMNS} FROM department ORDER BY ID");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_map([], department_row)?.collect())
                .map_err(db)
        })
        .await
    }

    async fn create_department(&self, d: Department) -> StoreResult<i64> {
        self.write(move |tx| {
            if let Some(parent) = d.parent
                && !row_exists(tx, "department", parent)?
            {
                return Err(StoreError::NotFound);
            }
            if let Some(head) = d.head
                && !row_exists(tx, "app_user", head)?
            {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO department (NAME, SORT, PARENT_ID, HEAD_ID) VALUES (?1, ?2, ?3, ?4)",
                params![d.name, d.sort, d.parent, d.head],
            )
            .map_err(db)?;
            Ok(tx.last_insert_rowid())
        })
        .await
    }

    async fn department_members(&self, departments: Vec<i64>) -> StoreResult<Vec<i64>> {
        self.read(move |conn| {
            let list = serde_json::to_string(&departments).map_err(StoreError::backend)?;
            conn.prepare_cached(
                "SELECT DISTINCT USER_ID FROM user_department \
                 WHERE DEPARTMENT_ID IN (SELECT value FROM json_each(?1)) ORDER BY USER_ID",
            )
            .and_then(|mut s| s.query_map([list], |r| r.get(0))?.collect())
            .map_err(db)
        })
        .await
    }

    async fn member_id(&self) -> StoreResult<String> {
        self.read(|conn| {
            conn.query_row(
                "SELECT VALUE FROM portal_setting WHERE NAME = 'MEMBER_ID'",
                [],
                |r| r.get(0),
            )
            .map_err(db)
        })
        .await
    }

    async fn create_webhook(
        &self,
        user_id: i64,
        secret_hash: String,
        scopes: Vec<Scope>,
        now: i64,
    ) -> StoreResult<i64> {
        self.write(move |tx| {
            if !row_exists(tx, "app_user", user_id)? {
                return Err(StoreError::NotFound);
            }
            insert_webhook(tx, user_id, &secret_hash, &scopes, now)
        })
        .await
    }

    async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        self.read(|conn| {
            let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhook ORDER BY ID");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_map([], webhook_row)?.collect())
                .map_err(db)
        })
        .await
    }

    async fn active_webhooks(&self, user_id: i64) -> StoreResult<Vec<Webhook>> {
        self.read(move |conn| active_webhooks(conn, user_id)).await
    }

    async fn webhook_owner(&self, user_id: i64) -> StoreResult<(Vec<Webhook>, Option<User>)> {
        // One trip to a reader thread (and one read transaction) for both.
        self.read(move |conn| Ok((active_webhooks(conn, user_id)?, user(conn, user_id)?)))
            .await
    }

    async fn revoke_webhook(&self, id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE webhook SET REVOKED = 1 WHERE ID = ?1 AND REVOKED = 0",
                [id],
            )
            .map(|n| n > 0)
            .map_err(db)
        })
        .await
    }
}
