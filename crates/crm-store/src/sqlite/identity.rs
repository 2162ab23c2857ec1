//! `IdentityStore`: users and webhooks (secret hashes only).

use super::{SqliteStore, db};
use crate::sql::{USER_COLUMNS, WEBHOOK_COLUMNS, parse_scopes, scopes_text};
use async_trait::async_trait;
use crm_core::identity::{Scope, User, Webhook};
use crm_core::store::{IdentityStore, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

/// A user from `SELECT USER_COLUMNS …`.
pub(super) fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        last_name: r.get(2)?,
        admin: r.get(3)?,
        active: r.get(4)?,
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
            tx.execute(
                "INSERT INTO app_user (ID, NAME, LAST_NAME, ADMIN, ACTIVE) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![admin.id, admin.name, admin.last_name, admin.admin, admin.active],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO webhook (USER_ID, SECRET_HASH, SCOPES, CREATED_AT) VALUES (?1, ?2, ?3, ?4)",
                params![admin.id, secret_hash, scopes_text(&scopes), now],
            )
            .map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn| {
            let sql = format!("SELECT {USER_COLUMNS} FROM app_user WHERE ID = ?1");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_row([id], user_row).optional())
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
            let known: bool = tx
                .prepare_cached("SELECT 1 FROM app_user WHERE ID = ?1")
                .and_then(|mut s| s.exists([user_id]))
                .map_err(db)?;
            if !known {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO webhook (USER_ID, SECRET_HASH, SCOPES, CREATED_AT) VALUES (?1, ?2, ?3, ?4)",
                params![user_id, secret_hash, scopes_text(&scopes), now],
            )
            .map_err(db)?;
            Ok(tx.last_insert_rowid())
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
        self.read(move |conn| {
            let sql =
                format!("SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE USER_ID = ?1 AND REVOKED = 0");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_map([user_id], webhook_row)?.collect())
                .map_err(db)
        })
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
