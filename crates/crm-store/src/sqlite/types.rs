//! `TypeStore` on SQLite: smart processes (`crm_type`) with their items' tables,
//! categories and stage lists.

use super::pipeline::{insert_category, insert_status};
use super::{SqliteStore, db};
use crate::sql::{self, Dialect};
use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::entity::dynamic::{FIRST_ID, stage_list};
use crm_core::pipeline::Category;
use crm_core::smart::SmartType;
use crm_core::store::{StoreError, StoreResult, TypeStages, TypeStore};
use crm_core::userfield::type_owner;
use rusqlite::{Connection, OptionalExtension, params};

/// A stored type by id.
fn load(conn: &Connection, id: i64) -> StoreResult<Option<SmartType>> {
    conn.prepare_cached("SELECT DEFINITION FROM crm_type WHERE ID = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get::<_, String>(0)).optional())
        .map_err(db)?
        .map(|t| sql::type_of(&t))
        .transpose()
}

fn write(conn: &Connection, smart: &SmartType) -> StoreResult<()> {
    conn.prepare_cached("UPDATE crm_type SET DEFINITION = ?1 WHERE ID = ?2")
        .and_then(|mut s| s.execute(params![sql::type_text(smart), smart.id]))
        .map_err(db)?;
    Ok(())
}

/// Writes a smart process exactly as exported (id and `entityTypeId` kept) and creates
/// its items' table.
pub(super) fn import_type(conn: &Connection, smart: &SmartType) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO crm_type (ID, ENTITY_TYPE_ID, DEFINITION) VALUES (?1, ?2, ?3)",
        params![smart.id, smart.entity_type_id, sql::type_text(smart)],
    )
    .map_err(db)?;
    for statement in
        sql::create_item_table(Dialect::Sqlite, EntityType::Dynamic(smart.entity_type_id))
    {
        conn.execute(&statement, []).map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl TypeStore for SqliteStore {
    async fn types(&self) -> StoreResult<Vec<SmartType>> {
        self.read(|conn| {
            let texts: Vec<String> = conn
                .prepare_cached("SELECT DEFINITION FROM crm_type ORDER BY ID")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(db)?;
            texts.iter().map(|t| sql::type_of(t)).collect()
        })
        .await
    }

    async fn create_type(
        &self,
        smart: SmartType,
        category: Category,
        stages: TypeStages,
    ) -> StoreResult<SmartType> {
        self.write(move |tx| {
            let mut smart = smart;
            if smart.entity_type_id == 0 {
                let high: Option<i64> = tx
                    .query_row(
                        "SELECT MAX(ENTITY_TYPE_ID) FROM crm_type WHERE ENTITY_TYPE_ID >= ?1",
                        [FIRST_ID],
                        |r| r.get(0),
                    )
                    .map_err(db)?;
                smart.entity_type_id = high.map_or(FIRST_ID, |h| h + 2);
            }
            let taken = tx
                .prepare_cached("SELECT 1 FROM crm_type WHERE ENTITY_TYPE_ID = ?1")
                .and_then(|mut s| s.exists([smart.entity_type_id]))
                .map_err(db)?;
            if taken {
                return Err(StoreError::Rejected(format!(
                    "A smart process with entityTypeId {} already exists",
                    smart.entity_type_id
                )));
            }
            tx.execute(
                "INSERT INTO crm_type (ENTITY_TYPE_ID, DEFINITION) VALUES (?1, '{}')",
                [smart.entity_type_id],
            )
            .map_err(db)?;
            smart.id = tx.last_insert_rowid();
            let entity = EntityType::Dynamic(smart.entity_type_id);
            for statement in sql::create_item_table(Dialect::Sqlite, entity) {
                tx.execute(&statement, []).map_err(db)?;
            }
            let category = Category {
                id: 0,
                entity_type_id: smart.entity_type_id,
                ..category
            };
            let category_id = insert_category(tx, &category)?;
            for status in stages(smart.entity_type_id, category_id) {
                insert_status(tx, &status)?;
            }
            smart.default_category = category_id;
            write(tx, &smart)?;
            Ok(smart)
        })
        .await
    }

    async fn update_type(&self, smart: SmartType) -> StoreResult<bool> {
        self.write(move |tx| {
            let Some(stored) = load(tx, smart.id)? else {
                return Ok(false);
            };
            let smart = SmartType {
                entity_type_id: stored.entity_type_id,
                created_by: stored.created_by,
                created_time: stored.created_time,
                ..smart
            };
            write(tx, &smart)?;
            Ok(true)
        })
        .await
    }

    async fn delete_type(&self, id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            let Some(smart) = load(tx, id)? else {
                return Ok(false);
            };
            let etid = smart.entity_type_id;
            let entity = EntityType::Dynamic(etid);
            tx.execute(&format!("DROP TABLE IF EXISTS {}", sql::table(entity)), [])
                .map_err(db)?;
            tx.execute("DELETE FROM crm_category WHERE ENTITY_TYPE_ID = ?1", [etid])
                .map_err(db)?;
            let list = stage_list(etid);
            tx.execute(
                "DELETE FROM crm_status WHERE ENTITY_ID = ?1 OR substr(ENTITY_ID, 1, length(?1) + 1) = ?1 || '_'",
                [&list],
            )
            .map_err(db)?;
            for kind in entity.def().owns {
                tx.execute("DELETE FROM crm_binding WHERE KIND = ?1", [kind.code])
                    .map_err(db)?;
            }
            tx.execute("DELETE FROM crm_multifield WHERE ENTITY_TYPE_ID = ?1", [etid])
                .map_err(db)?;
            let owner = type_owner(smart.id);
            tx.execute(
                "DELETE FROM crm_userfield_enum WHERE FIELD_ID IN \
                 (SELECT ID FROM crm_userfield WHERE ENTITY_ID = ?1)",
                [&owner],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM crm_userfield WHERE ENTITY_ID = ?1", [&owner])
                .map_err(db)?;
            tx.execute("DELETE FROM crm_type WHERE ID = ?1", [id])
                .map_err(db)?;
            Ok(true)
        })
        .await
    }
}
