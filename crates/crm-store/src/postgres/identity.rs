//! `IdentityStore` on PostgreSQL: users and webhooks (secret hashes only).

use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{USER_COLUMNS, WEBHOOK_COLUMNS, parse_scopes, scopes_text};
use async_trait::async_trait;
use crm_core::identity::{Scope, User, Webhook};
use crm_core::store::{IdentityStore, StoreError, StoreResult};
use deadpool_postgres::GenericClient;

/// A user from `SELECT USER_COLUMNS …`.
pub(super) fn user_row(r: &tokio_postgres::Row) -> StoreResult<User> {
    Ok(User {
        id: r.try_get(0).map_err(pg)?,
        name: r.try_get(1).map_err(pg)?,
        last_name: r.try_get(2).map_err(pg)?,
        admin: r.try_get(3).map_err(pg)?,
        active: r.try_get(4).map_err(pg)?,
    })
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
            tx.execute(
                "INSERT INTO app_user (ID, NAME, LAST_NAME, ADMIN, ACTIVE) VALUES ($1, $2, $3, $4, $5)",
                &[&admin.id, &admin.name, &admin.last_name, &admin.admin, &admin.active],
            )
            .await
            .map_err(pg)?;
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
        let client = self.pool.get().await.map_err(pool_error)?;
        let sql = format!("SELECT {USER_COLUMNS} FROM app_user WHERE ID = $1");
        let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
        client
            .query_opt(&stmt, &[&id])
            .await
            .map_err(pg)?
            .as_ref()
            .map(user_row)
            .transpose()
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
            let known = tx
                .query_opt(
                    "SELECT 1 FROM app_user WHERE ID = $1 FOR KEY SHARE",
                    &[&user_id],
                )
                .await
                .map_err(pg)?
                .is_some();
            if !known {
                return Err(StoreError::NotFound);
            }
            insert_webhook(&tx, user_id, secret_hash, scopes, now).await?
        })
    }

    async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhook ORDER BY ID");
        let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
        client
            .query(&stmt, &[])
            .await
            .map_err(pg)?
            .iter()
            .map(webhook_row)
            .collect()
    }

    async fn active_webhooks(&self, user_id: i64) -> StoreResult<Vec<Webhook>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE USER_ID = $1 AND NOT REVOKED");
        let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
        client
            .query(&stmt, &[&user_id])
            .await
            .map_err(pg)?
            .iter()
            .map(webhook_row)
            .collect()
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
