//! `TypeStore` on PostgreSQL: smart processes (`crm_type`) with their items' tables,
//! categories and stage lists.

use super::pipeline::{insert_category, insert_status};
use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{self, Dialect};
use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::entity::dynamic::{FIRST_ID, stage_list};
use crm_core::pipeline::Category;
use crm_core::smart::SmartType;
use crm_core::store::{StoreError, StoreResult, TypeStages, TypeStore};
use crm_core::userfield::type_owner;
use deadpool_postgres::GenericClient;

/// A stored type by id, locked for the transaction.
async fn load(c: &impl GenericClient, id: i64) -> StoreResult<Option<SmartType>> {
    c.query_opt(
        "SELECT DEFINITION FROM crm_type WHERE ID = $1 FOR UPDATE",
        &[&id],
    )
    .await
    .map_err(pg)?
    .map(|r| sql::type_of(&r.get::<_, String>(0)))
    .transpose()
}

async fn write(c: &impl GenericClient, smart: &SmartType) -> StoreResult<()> {
    c.execute(
        "UPDATE crm_type SET DEFINITION = $1 WHERE ID = $2",
        &[&sql::type_text(smart), &smart.id],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Writes a smart process exactly as exported (id and `entityTypeId` kept) and creates
/// its items' table.
pub(super) async fn import_type(c: &impl GenericClient, smart: &SmartType) -> StoreResult<()> {
    c.execute(
        "INSERT INTO crm_type (ID, ENTITY_TYPE_ID, DEFINITION) VALUES ($1, $2, $3)",
        &[&smart.id, &smart.entity_type_id, &sql::type_text(smart)],
    )
    .await
    .map_err(pg)?;
    let entity = EntityType::Dynamic(smart.entity_type_id);
    for statement in sql::create_item_table(Dialect::Postgres, entity) {
        c.batch_execute(&statement).await.map_err(pg)?;
    }
    Ok(())
}

#[async_trait]
impl TypeStore for PostgresStore {
    async fn types(&self) -> StoreResult<Vec<SmartType>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .query("SELECT DEFINITION FROM crm_type ORDER BY ID", &[])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| sql::type_of(&r.get::<_, String>(0)))
            .collect()
    }

    async fn create_type(
        &self,
        smart: SmartType,
        category: Category,
        stages: TypeStages,
    ) -> StoreResult<SmartType> {
        let (smart, category, stages) = (&smart, &category, &stages);
        in_transaction!(self, |tx| {
            // One type created at a time, so two servers never pick the same id.
            tx.execute("LOCK TABLE crm_type IN EXCLUSIVE MODE", &[])
                .await
                .map_err(pg)?;
            let mut smart = smart.clone();
            if smart.entity_type_id == 0 {
                let high: Option<i64> = tx
                    .query_one(
                        "SELECT MAX(ENTITY_TYPE_ID) FROM crm_type WHERE ENTITY_TYPE_ID >= $1",
                        &[&FIRST_ID],
                    )
                    .await
                    .map_err(pg)?
                    .get(0);
                smart.entity_type_id = high.map_or(FIRST_ID, |h| h + 2);
            }
            let taken = tx
                .query_opt(
                    "SELECT 1 FROM crm_type WHERE ENTITY_TYPE_ID = $1",
                    &[&smart.entity_type_id],
                )
                .await
                .map_err(pg)?
                .is_some();
            if taken {
                return Err(StoreError::Rejected(format!(
                    "A smart process with entityTypeId {} already exists",
                    smart.entity_type_id
                )));
            }
            smart.id = tx
                .query_one(
                    "INSERT INTO crm_type (ENTITY_TYPE_ID, DEFINITION) VALUES ($1, '{}') \
                     RETURNING ID",
                    &[&smart.entity_type_id],
                )
                .await
                .map_err(pg)?
                .get(0);
            let entity = EntityType::Dynamic(smart.entity_type_id);
            for statement in sql::create_item_table(Dialect::Postgres, entity) {
                tx.batch_execute(&statement).await.map_err(pg)?;
            }
            let category = Category {
                id: 0,
                entity_type_id: smart.entity_type_id,
                ..category.clone()
            };
            let category_id = insert_category(&tx, &category).await?;
            for status in stages(smart.entity_type_id, category_id) {
                insert_status(&tx, &status).await?;
            }
            smart.default_category = category_id;
            write(&tx, &smart).await?;
            smart
        })
    }

    async fn update_type(&self, smart: SmartType) -> StoreResult<bool> {
        let smart = &smart;
        in_transaction!(self, |tx| {
            match load(&tx, smart.id).await? {
                None => false,
                Some(stored) => {
                    let smart = SmartType {
                        entity_type_id: stored.entity_type_id,
                        created_by: stored.created_by,
                        created_time: stored.created_time,
                        ..smart.clone()
                    };
                    write(&tx, &smart).await?;
                    true
                }
            }
        })
    }

    async fn delete_type(&self, id: i64) -> StoreResult<bool> {
        in_transaction!(self, |tx| {
            match load(&tx, id).await? {
                None => false,
                Some(smart) => {
                    let etid = smart.entity_type_id;
                    let entity = EntityType::Dynamic(etid);
                    tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", sql::table(entity)))
                        .await
                        .map_err(pg)?;
                    tx.execute(
                        "DELETE FROM crm_category WHERE ENTITY_TYPE_ID = $1",
                        &[&etid],
                    )
                    .await
                    .map_err(pg)?;
                    let list = stage_list(etid);
                    tx.execute(
                        "DELETE FROM crm_status WHERE ENTITY_ID = $1 OR left(ENTITY_ID, length($1) + 1) = $1 || '_'",
                        &[&list],
                    )
                    .await
                    .map_err(pg)?;
                    for kind in entity.def().owns {
                        tx.execute("DELETE FROM crm_binding WHERE KIND = $1", &[&kind.code])
                            .await
                            .map_err(pg)?;
                    }
                    tx.execute(
                        "DELETE FROM crm_multifield WHERE ENTITY_TYPE_ID = $1",
                        &[&etid],
                    )
                    .await
                    .map_err(pg)?;
                    let owner = type_owner(smart.id);
                    tx.execute(
                        "DELETE FROM crm_userfield_enum WHERE FIELD_ID IN \
                         (SELECT ID FROM crm_userfield WHERE ENTITY_ID = $1)",
                        &[&owner],
                    )
                    .await
                    .map_err(pg)?;
                    tx.execute("DELETE FROM crm_userfield WHERE ENTITY_ID = $1", &[&owner])
                        .await
                        .map_err(pg)?;
                    tx.execute("DELETE FROM crm_type WHERE ID = $1", &[&id])
                        .await
                        .map_err(pg)?;
                    true
                }
            }
        })
    }
}
