//! `ResetStore` on PostgreSQL: a test double's reset in one transaction.

use super::pipeline::insert_status;
use super::{PostgresStore, in_transaction, pg};
use crate::sql::{self, ACCESS_KEPT, ACCESS_TABLES, CRM_TABLES};
use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::pipeline::Status;
use crm_core::store::{ResetStore, StoreResult};

#[async_trait]
impl ResetStore for PostgresStore {
    async fn reset(&self, all: bool, statuses: Vec<Status>) -> StoreResult<()> {
        let statuses = &statuses;
        in_transaction!(self, |tx| {
            let types: Vec<i64> = tx
                .query("SELECT ENTITY_TYPE_ID FROM crm_type", &[])
                .await
                .map_err(pg)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for etid in types {
                let table = sql::table(EntityType::Dynamic(etid));
                tx.batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
                    .await
                    .map_err(pg)?;
            }
            let mut emptied: Vec<&str> = CRM_TABLES.to_vec();
            if all {
                emptied.extend(ACCESS_TABLES);
                for statement in ACCESS_KEPT {
                    tx.batch_execute(statement).await.map_err(pg)?;
                }
            }
            tx.batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", emptied.join(", ")))
                .await
                .map_err(pg)?;
            tx.batch_execute("DELETE FROM portal_setting WHERE NAME <> 'MEMBER_ID'")
                .await
                .map_err(pg)?;
            for status in statuses {
                insert_status(&tx, status).await?;
            }
        })
    }
}
