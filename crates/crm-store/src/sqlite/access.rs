//! `RoleStore` and `OAuthStore` on SQLite: CRM roles, OAuth applications, their tokens
//! and authorization codes (hashes only).

use super::identity::row_exists;
use super::{SqliteStore, db};
use crate::sql::{APP_COLUMNS, TOKEN_COLUMNS, parse_scopes};
use async_trait::async_trait;
use crm_core::identity::{App, Grant, NewTokens, Role, Scope, TokenGrant, scopes_text};
use crm_core::permission::{Action, Level};
use crm_core::store::{OAuthStore, RoleStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// A grant from `SELECT ENTITY, ACTION, LEVEL …` (unknown codes: `None`).
fn grant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Grant>> {
    let (entity, action, level): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
    Ok(Action::parse(&action)
        .zip(Level::parse(&level))
        .map(|(action, level)| Grant {
            entity,
            action,
            level,
        }))
}

/// An application from `SELECT APP_COLUMNS …`.
pub(super) fn app_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<App> {
    let scopes: String = r.get(4)?;
    Ok(App {
        id: r.get(0)?,
        client_id: r.get(1)?,
        secret_hash: r.get(2)?,
        name: r.get(3)?,
        scopes: parse_scopes(&scopes),
        redirect_uri: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenGrant> {
    let scopes: String = r.get(3)?;
    Ok(TokenGrant {
        id: r.get(0)?,
        app_id: r.get(1)?,
        user_id: r.get(2)?,
        scopes: parse_scopes(&scopes),
        access_expires: r.get(4)?,
    })
}

/// Inserts a role with its grants and users (`id`: `None` allocates one).
pub(super) fn insert_role(tx: &Transaction<'_>, role: &Role, id: Option<i64>) -> StoreResult<i64> {
    let taken = tx
        .prepare_cached("SELECT 1 FROM crm_role WHERE NAME = ?1")
        .and_then(|mut s| s.exists([&role.name]))
        .map_err(db)?;
    if taken {
        return Err(StoreError::Rejected(format!(
            "a role named `{}` exists",
            role.name
        )));
    }
    tx.execute(
        "INSERT INTO crm_role (ID, NAME) VALUES (?1, ?2)",
        params![id, role.name],
    )
    .map_err(db)?;
    let id = tx.last_insert_rowid();
    for g in &role.grants {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO crm_role_grant (ROLE_ID, ENTITY, ACTION, LEVEL) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![id, g.entity, g.action.code(), g.level.code()]))
        .map_err(db)?;
    }
    for u in &role.users {
        tx.prepare_cached("INSERT OR IGNORE INTO crm_role_user (USER_ID, ROLE_ID) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![u, id]))
            .map_err(db)?;
    }
    Ok(id)
}

/// Inserts an application (`app.id` 0 allocates one).
pub(super) fn insert_app(tx: &Transaction<'_>, app: &App) -> StoreResult<i64> {
    let taken = tx
        .prepare_cached("SELECT 1 FROM oauth_app WHERE CLIENT_ID = ?1")
        .and_then(|mut s| s.exists([&app.client_id]))
        .map_err(db)?;
    if taken {
        return Err(StoreError::Rejected(format!(
            "an application with client id `{}` exists",
            app.client_id
        )));
    }
    let id = (app.id > 0).then_some(app.id);
    tx.execute(
        &format!("INSERT INTO oauth_app ({APP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            id,
            app.client_id,
            app.secret_hash,
            app.name,
            scopes_text(&app.scopes),
            app.redirect_uri,
            app.created_at
        ],
    )
    .map_err(db)?;
    Ok(tx.last_insert_rowid())
}

fn grants_of_role(conn: &Connection, role: i64) -> rusqlite::Result<Vec<Grant>> {
    let mut s = conn.prepare_cached(
        "SELECT ENTITY, ACTION, LEVEL FROM crm_role_grant WHERE ROLE_ID = ?1 ORDER BY ENTITY, ACTION",
    )?;
    let rows: Vec<Option<Grant>> = s.query_map([role], grant_row)?.collect::<Result<_, _>>()?;
    Ok(rows.into_iter().flatten().collect())
}

/// Stores a token pair and drops pairs that can no longer be used.
fn insert_tokens(
    tx: &Transaction<'_>,
    app_id: i64,
    user_id: i64,
    scopes: &[Scope],
    t: &NewTokens,
    now: i64,
) -> StoreResult<TokenGrant> {
    tx.execute(
        "DELETE FROM oauth_token WHERE ACCESS_EXPIRES < ?1 AND (REFRESHED = 1 OR REFRESH_EXPIRES < ?1)",
        [now],
    )
    .map_err(db)?;
    tx.execute(
        "DELETE FROM oauth_code WHERE EXPIRES < ?1 OR USED = 1",
        [now],
    )
    .map_err(db)?;
    tx.prepare_cached(
        "INSERT INTO oauth_token (APP_ID, USER_ID, SCOPES, ACCESS_HASH, ACCESS_EXPIRES, \
         REFRESH_HASH, REFRESH_EXPIRES, CREATED_AT) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            app_id,
            user_id,
            scopes_text(scopes),
            t.access_hash,
            t.access_expires,
            t.refresh_hash,
            t.refresh_expires,
            now
        ])
    })
    .map_err(db)?;
    Ok(TokenGrant {
        id: tx.last_insert_rowid(),
        app_id,
        user_id,
        scopes: scopes.to_vec(),
        access_expires: t.access_expires,
    })
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn create_role(&self, name: String, grants: Vec<Grant>) -> StoreResult<i64> {
        self.write(move |tx| {
            let role = Role {
                id: 0,
                name,
                grants,
                users: Vec::new(),
            };
            insert_role(tx, &role, None)
        })
        .await
    }

    async fn assign_role(&self, name: String, user_id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            let role: Option<i64> = tx
                .query_row("SELECT ID FROM crm_role WHERE NAME = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)?;
            let Some(role) = role else {
                return Err(StoreError::NotFound);
            };
            if !row_exists(tx, "app_user", user_id)? {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT OR IGNORE INTO crm_role_user (USER_ID, ROLE_ID) VALUES (?1, ?2)",
                params![user_id, role],
            )
            .map(|n| n > 0)
            .map_err(db)
        })
        .await
    }

    async fn roles(&self) -> StoreResult<Vec<Role>> {
        self.read(|conn| {
            let heads: Vec<(i64, String)> = conn
                .prepare_cached("SELECT ID, NAME FROM crm_role ORDER BY ID")
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(db)?;
            let mut out = Vec::with_capacity(heads.len());
            for (id, name) in heads {
                let users = conn
                    .prepare_cached(
                        "SELECT USER_ID FROM crm_role_user WHERE ROLE_ID = ?1 ORDER BY USER_ID",
                    )
                    .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
                    .map_err(db)?;
                out.push(Role {
                    id,
                    name,
                    grants: grants_of_role(conn, id).map_err(db)?,
                    users,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn user_grants(&self, user_id: i64) -> StoreResult<Vec<Grant>> {
        self.read(move |conn| {
            let rows: Vec<Option<Grant>> = conn
                .prepare_cached(
                    "SELECT g.ENTITY, g.ACTION, g.LEVEL FROM crm_role_user u \
                     JOIN crm_role_grant g ON g.ROLE_ID = u.ROLE_ID WHERE u.USER_ID = ?1",
                )
                .and_then(|mut s| s.query_map([user_id], grant_row)?.collect())
                .map_err(db)?;
            Ok(rows.into_iter().flatten().collect())
        })
        .await
    }
}

#[async_trait]
impl OAuthStore for SqliteStore {
    async fn create_app(&self, app: App) -> StoreResult<i64> {
        self.write(move |tx| insert_app(tx, &App { id: 0, ..app }))
            .await
    }

    async fn apps(&self) -> StoreResult<Vec<App>> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {APP_COLUMNS} FROM oauth_app ORDER BY ID"))
                .and_then(|mut s| s.query_map([], app_row)?.collect())
                .map_err(db)
        })
        .await
    }

    async fn app_by_client_id(&self, client_id: String) -> StoreResult<Option<App>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {APP_COLUMNS} FROM oauth_app WHERE CLIENT_ID = ?1"
            ))
            .and_then(|mut s| s.query_row([client_id], app_row).optional())
            .map_err(db)
        })
        .await
    }

    async fn app(&self, id: i64) -> StoreResult<Option<App>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {APP_COLUMNS} FROM oauth_app WHERE ID = ?1"
            ))
            .and_then(|mut s| s.query_row([id], app_row).optional())
            .map_err(db)
        })
        .await
    }

    async fn issue_tokens(
        &self,
        app_id: i64,
        user_id: i64,
        scopes: Vec<Scope>,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<TokenGrant> {
        self.write(move |tx| {
            if !row_exists(tx, "oauth_app", app_id)? || !row_exists(tx, "app_user", user_id)? {
                return Err(StoreError::NotFound);
            }
            insert_tokens(tx, app_id, user_id, &scopes, &tokens, now)
        })
        .await
    }

    async fn access_token(&self, access_hash: String) -> StoreResult<Option<TokenGrant>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM oauth_token WHERE ACCESS_HASH = ?1"
            ))
            .and_then(|mut s| s.query_row([access_hash], token_row).optional())
            .map_err(db)
        })
        .await
    }

    async fn refresh_tokens(
        &self,
        app_id: i64,
        refresh_hash: String,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<Option<TokenGrant>> {
        self.write(move |tx| {
            let old = tx
                .prepare_cached(
                    "UPDATE oauth_token SET REFRESHED = 1 WHERE REFRESH_HASH = ?1 AND APP_ID = ?2 \
                     AND REFRESHED = 0 AND REFRESH_EXPIRES > ?3 RETURNING USER_ID, SCOPES",
                )
                .and_then(|mut s| {
                    s.query_row(params![refresh_hash, app_id, now], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                    })
                    .optional()
                })
                .map_err(db)?;
            match old {
                Some((user_id, scopes)) => {
                    insert_tokens(tx, app_id, user_id, &parse_scopes(&scopes), &tokens, now)
                        .map(Some)
                }
                None => Ok(None),
            }
        })
        .await
    }

    async fn create_code(
        &self,
        app_id: i64,
        user_id: i64,
        code_hash: String,
        expires: i64,
    ) -> StoreResult<()> {
        self.write(move |tx| {
            if !row_exists(tx, "oauth_app", app_id)? || !row_exists(tx, "app_user", user_id)? {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO oauth_code (CODE_HASH, APP_ID, USER_ID, EXPIRES) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, app_id, user_id, expires],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn redeem_code(
        &self,
        app_id: i64,
        code_hash: String,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<Option<TokenGrant>> {
        self.write(move |tx| {
            let found = tx
                .prepare_cached(
                    "UPDATE oauth_code SET USED = 1 WHERE CODE_HASH = ?1 AND APP_ID = ?2 \
                     AND USED = 0 AND EXPIRES > ?3 RETURNING USER_ID",
                )
                .and_then(|mut s| {
                    s.query_row(params![code_hash, app_id, now], |r| r.get::<_, i64>(0))
                        .optional()
                })
                .map_err(db)?;
            let Some(user_id) = found else {
                return Ok(None);
            };
            let scopes: String = tx
                .query_row(
                    "SELECT SCOPES FROM oauth_app WHERE ID = ?1",
                    [app_id],
                    |r| r.get(0),
                )
                .map_err(db)?;
            insert_tokens(tx, app_id, user_id, &parse_scopes(&scopes), &tokens, now).map(Some)
        })
        .await
    }
}
