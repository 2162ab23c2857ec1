//! `RoleStore` and `OAuthStore` on PostgreSQL: CRM roles, OAuth applications, their tokens
//! and authorization codes (hashes only).

use super::identity::row_exists;
use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{APP_COLUMNS, TOKEN_COLUMNS, parse_scopes};
use async_trait::async_trait;
use crm_core::identity::{App, Grant, NewTokens, Role, Scope, TokenGrant, scopes_text};
use crm_core::permission::{Action, Level};
use crm_core::store::{OAuthStore, RoleStore, StoreError, StoreResult};
use deadpool_postgres::GenericClient;

/// A grant from `SELECT ENTITY, ACTION, LEVEL …` (unknown codes: `None`).
fn grant_row(r: &tokio_postgres::Row) -> Option<Grant> {
    let (entity, action, level): (String, String, String) = (r.get(0), r.get(1), r.get(2));
    Action::parse(&action)
        .zip(Level::parse(&level))
        .map(|(action, level)| Grant {
            entity,
            action,
            level,
        })
}

/// An application from `SELECT APP_COLUMNS …`.
pub(super) fn app_row(r: &tokio_postgres::Row) -> StoreResult<App> {
    let scopes: String = r.try_get(4).map_err(pg)?;
    Ok(App {
        id: r.try_get(0).map_err(pg)?,
        client_id: r.try_get(1).map_err(pg)?,
        secret_hash: r.try_get(2).map_err(pg)?,
        name: r.try_get(3).map_err(pg)?,
        scopes: parse_scopes(&scopes),
        redirect_uri: r.try_get(5).map_err(pg)?,
        created_at: r.try_get(6).map_err(pg)?,
    })
}

fn token_row(r: &tokio_postgres::Row) -> StoreResult<TokenGrant> {
    let scopes: String = r.try_get(3).map_err(pg)?;
    Ok(TokenGrant {
        id: r.try_get(0).map_err(pg)?,
        app_id: r.try_get(1).map_err(pg)?,
        user_id: r.try_get(2).map_err(pg)?,
        scopes: parse_scopes(&scopes),
        access_expires: r.try_get(4).map_err(pg)?,
    })
}

/// Inserts a role with its grants and users (`id`: `None` allocates one).
pub(super) async fn insert_role(
    c: &impl GenericClient,
    role: &Role,
    id: Option<i64>,
) -> StoreResult<i64> {
    // Two roles created at once under one name: the unique index refuses the second,
    // which is reported as a conflict and retried, and then finds the name taken.
    let taken = c
        .query_opt("SELECT 1 FROM crm_role WHERE NAME = $1", &[&role.name])
        .await
        .map_err(pg)?
        .is_some();
    if taken {
        return Err(StoreError::Rejected(format!(
            "a role named `{}` exists",
            role.name
        )));
    }
    let id: i64 = c
        .query_one(
            "INSERT INTO crm_role (ID, NAME) VALUES \
             (COALESCE($1, nextval(pg_get_serial_sequence('crm_role', 'id'))), $2) RETURNING ID",
            &[&id, &role.name],
        )
        .await
        .map_err(pg)?
        .get(0);
    for g in &role.grants {
        c.execute(
            "INSERT INTO crm_role_grant (ROLE_ID, ENTITY, ACTION, LEVEL) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (ROLE_ID, ENTITY, ACTION) DO UPDATE SET LEVEL = excluded.LEVEL",
            &[&id, &g.entity, &g.action.code(), &g.level.code()],
        )
        .await
        .map_err(pg)?;
    }
    for u in &role.users {
        c.execute(
            "INSERT INTO crm_role_user (USER_ID, ROLE_ID) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[u, &id],
        )
        .await
        .map_err(pg)?;
    }
    Ok(id)
}

/// Inserts an application (`app.id` 0 allocates one).
pub(super) async fn insert_app(c: &impl GenericClient, app: &App) -> StoreResult<i64> {
    let taken = c
        .query_opt(
            "SELECT 1 FROM oauth_app WHERE CLIENT_ID = $1",
            &[&app.client_id],
        )
        .await
        .map_err(pg)?
        .is_some();
    if taken {
        return Err(StoreError::Rejected(format!(
            "an application with client id `{}` exists",
            app.client_id
        )));
    }
    let id = (app.id > 0).then_some(app.id);
    Ok(c.query_one(
        &format!(
            "INSERT INTO oauth_app ({APP_COLUMNS}) VALUES \
                 (COALESCE($1, nextval(pg_get_serial_sequence('oauth_app', 'id'))), \
                 $2, $3, $4, $5, $6, $7) RETURNING ID"
        ),
        &[
            &id,
            &app.client_id,
            &app.secret_hash,
            &app.name,
            &scopes_text(&app.scopes),
            &app.redirect_uri,
            &app.created_at,
        ],
    )
    .await
    .map_err(pg)?
    .get(0))
}

/// Stores a token pair and drops pairs and codes that can no longer be used.
async fn insert_tokens(
    c: &impl GenericClient,
    app_id: i64,
    user_id: i64,
    scopes: &[Scope],
    t: &NewTokens,
    now: i64,
) -> StoreResult<TokenGrant> {
    c.execute(
        "DELETE FROM oauth_token WHERE ACCESS_EXPIRES < $1 AND (REFRESHED OR REFRESH_EXPIRES < $1)",
        &[&now],
    )
    .await
    .map_err(pg)?;
    c.execute("DELETE FROM oauth_code WHERE EXPIRES < $1 OR USED", &[&now])
        .await
        .map_err(pg)?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO oauth_token (APP_ID, USER_ID, SCOPES, ACCESS_HASH, ACCESS_EXPIRES, \
             REFRESH_HASH, REFRESH_EXPIRES, CREATED_AT) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING ID",
        )
        .await
        .map_err(pg)?;
    let id: i64 = c
        .query_one(
            &stmt,
            &[
                &app_id,
                &user_id,
                &scopes_text(scopes),
                &t.access_hash,
                &t.access_expires,
                &t.refresh_hash,
                &t.refresh_expires,
                &now,
            ],
        )
        .await
        .map_err(pg)?
        .get(0);
    Ok(TokenGrant {
        id,
        app_id,
        user_id,
        scopes: scopes.to_vec(),
        access_expires: t.access_expires,
    })
}

#[async_trait]
impl RoleStore for PostgresStore {
    async fn create_role(&self, name: String, grants: Vec<Grant>) -> StoreResult<i64> {
        let role = Role {
            id: 0,
            name,
            grants,
            users: Vec::new(),
        };
        let role = &role;
        in_transaction!(self, |tx| insert_role(&tx, role, None).await?)
    }

    async fn assign_role(&self, name: String, user_id: i64) -> StoreResult<bool> {
        let name = &name;
        in_transaction!(self, |tx| {
            let role: Option<i64> = tx
                .query_opt(
                    "SELECT ID FROM crm_role WHERE NAME = $1 FOR KEY SHARE",
                    &[name],
                )
                .await
                .map_err(pg)?
                .map(|r| r.get(0));
            let Some(role) = role else {
                return Err(StoreError::NotFound);
            };
            if !row_exists(&tx, "app_user", user_id).await? {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO crm_role_user (USER_ID, ROLE_ID) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&user_id, &role],
            )
            .await
            .map_err(pg)?
                > 0
        })
    }

    async fn roles(&self) -> StoreResult<Vec<Role>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let heads = client
            .query("SELECT ID, NAME FROM crm_role ORDER BY ID", &[])
            .await
            .map_err(pg)?;
        let mut out = Vec::with_capacity(heads.len());
        for h in heads {
            let id: i64 = h.get(0);
            let grants = client
                .query(
                    "SELECT ENTITY, ACTION, LEVEL FROM crm_role_grant WHERE ROLE_ID = $1 \
                     ORDER BY ENTITY, ACTION",
                    &[&id],
                )
                .await
                .map_err(pg)?
                .iter()
                .filter_map(grant_row)
                .collect();
            let users = client
                .query(
                    "SELECT USER_ID FROM crm_role_user WHERE ROLE_ID = $1 ORDER BY USER_ID",
                    &[&id],
                )
                .await
                .map_err(pg)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            out.push(Role {
                id,
                name: h.get(1),
                grants,
                users,
            });
        }
        Ok(out)
    }

    async fn user_grants(&self, user_id: i64) -> StoreResult<Vec<Grant>> {
        let sql = "SELECT g.ENTITY, g.ACTION, g.LEVEL FROM crm_role_user u \
                   JOIN crm_role_grant g ON g.ROLE_ID = u.ROLE_ID WHERE u.USER_ID = $1";
        let grants = self
            .read_all(sql, &[&user_id], |r| Ok(grant_row(r)))
            .await?;
        Ok(grants.into_iter().flatten().collect())
    }
}

#[async_trait]
impl OAuthStore for PostgresStore {
    async fn create_app(&self, app: App) -> StoreResult<i64> {
        let app = &App { id: 0, ..app };
        in_transaction!(self, |tx| insert_app(&tx, app).await?)
    }

    async fn apps(&self) -> StoreResult<Vec<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM oauth_app ORDER BY ID");
        self.read_all(&sql, &[], app_row).await
    }

    async fn app_by_client_id(&self, client_id: String) -> StoreResult<Option<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM oauth_app WHERE CLIENT_ID = $1");
        self.read_one(&sql, &[&client_id], app_row).await
    }

    async fn app(&self, id: i64) -> StoreResult<Option<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM oauth_app WHERE ID = $1");
        self.read_one(&sql, &[&id], app_row).await
    }

    async fn issue_tokens(
        &self,
        app_id: i64,
        user_id: i64,
        scopes: Vec<Scope>,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<TokenGrant> {
        let (scopes, tokens) = (&scopes, &tokens);
        in_transaction!(self, |tx| {
            if !row_exists(&tx, "oauth_app", app_id).await?
                || !row_exists(&tx, "app_user", user_id).await?
            {
                return Err(StoreError::NotFound);
            }
            insert_tokens(&tx, app_id, user_id, scopes, tokens, now).await?
        })
    }

    async fn access_token(&self, access_hash: String) -> StoreResult<Option<TokenGrant>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM oauth_token WHERE ACCESS_HASH = $1");
        self.read_one(&sql, &[&access_hash], token_row).await
    }

    async fn refresh_tokens(
        &self,
        app_id: i64,
        refresh_hash: String,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<Option<TokenGrant>> {
        let (refresh_hash, tokens) = (&refresh_hash, &tokens);
        in_transaction!(self, |tx| {
            // The row lock of the UPDATE makes a second refresh with the same token wait,
            // then find it used.
            let old = tx
                .query_opt(
                    "UPDATE oauth_token SET REFRESHED = true WHERE REFRESH_HASH = $1 \
                     AND APP_ID = $2 AND NOT REFRESHED AND REFRESH_EXPIRES > $3 \
                     RETURNING USER_ID, SCOPES",
                    &[refresh_hash, &app_id, &now],
                )
                .await
                .map_err(pg)?;
            match old {
                Some(r) => {
                    let scopes = parse_scopes(&r.get::<_, String>(1));
                    Some(insert_tokens(&tx, app_id, r.get(0), &scopes, tokens, now).await?)
                }
                None => None,
            }
        })
    }

    async fn create_code(
        &self,
        app_id: i64,
        user_id: i64,
        code_hash: String,
        expires: i64,
    ) -> StoreResult<()> {
        let code_hash = &code_hash;
        in_transaction!(self, |tx| {
            if !row_exists(&tx, "oauth_app", app_id).await?
                || !row_exists(&tx, "app_user", user_id).await?
            {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO oauth_code (CODE_HASH, APP_ID, USER_ID, EXPIRES) VALUES ($1, $2, $3, $4)",
                &[code_hash, &app_id, &user_id, &expires],
            )
            .await
            .map_err(pg)?;
        })
    }

    async fn redeem_code(
        &self,
        app_id: i64,
        code_hash: String,
        tokens: NewTokens,
        now: i64,
    ) -> StoreResult<Option<TokenGrant>> {
        let (code_hash, tokens) = (&code_hash, &tokens);
        in_transaction!(self, |tx| {
            let found = tx
                .query_opt(
                    "UPDATE oauth_code c SET USED = true FROM oauth_app a \
                     WHERE c.CODE_HASH = $1 AND c.APP_ID = $2 AND NOT c.USED AND c.EXPIRES > $3 \
                     AND a.ID = c.APP_ID RETURNING c.USER_ID, a.SCOPES",
                    &[code_hash, &app_id, &now],
                )
                .await
                .map_err(pg)?;
            match found {
                Some(r) => {
                    let scopes = parse_scopes(&r.get::<_, String>(1));
                    Some(insert_tokens(&tx, app_id, r.get(0), &scopes, tokens, now).await?)
                }
                None => None,
            }
        })
    }
}
