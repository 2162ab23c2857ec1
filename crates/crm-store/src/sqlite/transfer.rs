//! `TransferStore` on SQLite: bulk reads for export, verbatim writes for import.

use super::access::{insert_app, insert_role};
use super::identity::insert_user;
use super::pipeline::{insert_category, insert_status};
use super::rows::Sql;
use super::{SqliteStore, db};
use crate::sql::{self, Dialect, WEBHOOK_COLUMNS};
use async_trait::async_trait;
use crm_core::binding::{Binding, BindingKind};
use crm_core::comm::{match_code, search_key};
use crm_core::entity::EntityType;
use crm_core::identity::scopes_text;
use crm_core::store::{ImportBatch, StoreResult, TransferStore, id_kinds};
use rusqlite::{ToSql, params};
use std::collections::HashMap;

#[async_trait]
impl TransferStore for SqliteStore {
    async fn bindings_after(
        &self,
        kind: BindingKind,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, Binding)>> {
        self.read(move |conn| {
            conn.prepare_cached(&sql::bindings_after(Dialect::Sqlite))
                .and_then(|mut s| {
                    s.query_map(params![kind.code, after.0, after.1, limit], |r| {
                        Ok((
                            r.get(0)?,
                            Binding {
                                bound_id: r.get(1)?,
                                sort: r.get(2)?,
                                role_id: r.get(3)?,
                                is_primary: r.get::<_, String>(4)? == "Y",
                            },
                        ))
                    })?
                    .collect()
                })
                .map_err(db)
        })
        .await
    }

    async fn is_empty(&self) -> StoreResult<bool> {
        self.read(|conn| {
            conn.prepare_cached(&sql::any_row())
                .and_then(|mut s| s.exists([]))
                .map(|any| !any)
                .map_err(db)
        })
        .await
    }

    async fn import(&self, batch: ImportBatch) -> StoreResult<()> {
        self.write(move |tx| {
            for smart in &batch.types {
                super::types::import_type(tx, smart)?;
            }
            if batch.clear_statuses {
                tx.execute("DELETE FROM crm_status", []).map_err(db)?;
            }
            for c in &batch.categories {
                insert_category(tx, c)?;
            }
            for s in &batch.statuses {
                insert_status(tx, s)?;
            }
            for (name, value) in &batch.settings {
                tx.execute(
                    "INSERT INTO portal_setting (NAME, VALUE) VALUES (?1, ?2) \
                     ON CONFLICT (NAME) DO UPDATE SET VALUE = excluded.VALUE",
                    params![name, value],
                )
                .map_err(db)?;
            }
            if let Some(member_id) = &batch.member_id {
                tx.execute(
                    "UPDATE portal_setting SET VALUE = ?1 WHERE NAME = 'MEMBER_ID'",
                    [member_id],
                )
                .map_err(db)?;
            }
            for d in &batch.departments {
                tx.prepare_cached(
                    "INSERT INTO department (ID, NAME, SORT, PARENT_ID, HEAD_ID) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (ID) DO UPDATE SET NAME = excluded.NAME, SORT = excluded.SORT, \
                     PARENT_ID = excluded.PARENT_ID, HEAD_ID = excluded.HEAD_ID",
                )
                .and_then(|mut s| s.execute(params![d.id, d.name, d.sort, d.parent, d.head]))
                .map_err(db)?;
            }
            for u in &batch.users {
                insert_user(tx, u, Some(u.id))?;
            }
            for role in &batch.roles {
                insert_role(tx, role, Some(role.id))?;
            }
            for app in &batch.apps {
                insert_app(tx, app)?;
            }
            for w in &batch.webhooks {
                let sql = format!("INSERT INTO webhook ({WEBHOOK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
                tx.prepare_cached(&sql)
                    .and_then(|mut s| {
                        s.execute(params![
                            w.id,
                            w.user_id,
                            w.secret_hash,
                            scopes_text(&w.scopes),
                            w.created_at,
                            w.revoked
                        ])
                    })
                    .map_err(db)?;
            }
            for field in &batch.user_fields {
                super::userfield::import_user_field(tx, field)?;
            }
            let inserts: HashMap<EntityType, String> = batch
                .rows
                .iter()
                .map(|(e, _)| (*e, sql::insert_with_id(Dialect::Sqlite, *e)))
                .collect();
            let insert_multi = sql::insert_multi_with_id(Dialect::Sqlite);
            for (entity, row) in &batch.rows {
                let insert = &inserts[entity];
                let values: Vec<Sql<'_>> = entity
                    .columns()
                    .map(|f| Sql(row.values.get(f.name).unwrap_or(&crm_core::field::Stored::Null)))
                    .collect();
                let uf = sql::uf_text(&row.uf);
                let mut args: Vec<&dyn ToSql> = vec![&row.id];
                args.extend(values.iter().map(|v| v as &dyn ToSql));
                args.push(&uf);
                tx.prepare_cached(insert)
                    .and_then(|mut s| s.execute(args.as_slice()))
                    .map_err(db)?;
                for m in &row.multi {
                    tx.prepare_cached(&insert_multi)
                        .and_then(|mut s| {
                            s.execute(params![
                                m.id,
                                entity.type_id(),
                                row.id,
                                m.type_id,
                                m.value_type,
                                m.value,
                                search_key(&m.value),
                                match_code(&m.type_id, &m.value)
                            ])
                        })
                        .map_err(db)?;
                }
            }
            for (kind, owner, b) in &batch.bindings {
                tx.prepare_cached(
                    "INSERT INTO crm_binding (KIND, OWNER_ID, BOUND_ID, SORT, ROLE_ID, IS_PRIMARY) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| {
                    let flag = if b.is_primary { "Y" } else { "N" };
                    s.execute(params![kind.code, owner, b.bound_id, b.sort, b.role_id, flag])
                })
                .map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    async fn highest_ids(&self) -> StoreResult<Vec<(String, i64)>> {
        self.read(|conn| {
            let mut out = Vec::new();
            let dynamic: Vec<String> = conn
                .prepare_cached("SELECT ENTITY_TYPE_ID FROM crm_type ORDER BY ENTITY_TYPE_ID")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok(EntityType::Dynamic(r.get(0)?).code().to_string()))?
                        .collect()
                })
                .map_err(db)?;
            for kind in id_kinds().map(str::to_string).chain(dynamic) {
                let kind = kind.as_str();
                let table = sql::id_table(kind).unwrap_or_default();
                // AUTOINCREMENT tables remember their highest id in sqlite_sequence;
                // app_user has explicit ids only.
                let sql = format!(
                    "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), \
                     COALESCE((SELECT MAX(ID) FROM {table}), 0))"
                );
                let high: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(db)?;
                out.push((kind.to_string(), high));
            }
            Ok(out)
        })
        .await
    }

    async fn finish_import(&self, highest: &[(String, i64)]) -> StoreResult<()> {
        let highest = highest.to_vec();
        self.write(move |tx| {
            for (kind, high) in &highest {
                let Some(table) = sql::id_table(kind) else {
                    continue;
                };
                if table == "app_user" {
                    continue;
                }
                // Inserted rows already moved the counter to their highest id; a
                // source's deleted ids beyond it are remembered too.
                tx.execute(
                    "DELETE FROM sqlite_sequence WHERE name = ?1 AND seq < ?2",
                    params![table, high],
                )
                .map_err(db)?;
                tx.execute(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 \
                     WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
                    params![table, high],
                )
                .map_err(db)?;
            }
            Ok(())
        })
        .await
    }
}
