//! `ResetStore` on SQLite: a test double's reset in one transaction.

use super::pipeline::insert_status;
use super::{SqliteStore, db};
use crate::sql::{self, ACCESS_KEPT, ACCESS_TABLES, CRM_TABLES};
use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::pipeline::Status;
use crm_core::store::{ResetStore, StoreResult};

#[async_trait]
impl ResetStore for SqliteStore {
    async fn reset(&self, all: bool, statuses: Vec<Status>) -> StoreResult<()> {
        self.write(move |tx| {
            let types: Vec<i64> = tx
                .prepare_cached("SELECT ENTITY_TYPE_ID FROM crm_type")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(db)?;
            for etid in types {
                let table = sql::table(EntityType::Dynamic(etid));
                tx.execute(&format!("DROP TABLE IF EXISTS {table}"), [])
                    .map_err(db)?;
                tx.execute("DELETE FROM sqlite_sequence WHERE name = ?1", [table])
                    .map_err(db)?;
            }
            let mut emptied: Vec<&str> = CRM_TABLES.to_vec();
            if all {
                emptied.extend(ACCESS_TABLES);
                for statement in ACCESS_KEPT {
                    tx.execute(statement, []).map_err(db)?;
                }
            }
            for table in &emptied {
                tx.execute(&format!("DELETE FROM {table}"), [])
                    .map_err(db)?;
                tx.execute("DELETE FROM sqlite_sequence WHERE name = ?1", [table])
                    .map_err(db)?;
            }
            tx.execute("DELETE FROM portal_setting WHERE NAME <> 'MEMBER_ID'", [])
                .map_err(db)?;
            for status in &statuses {
                insert_status(tx, status)?;
            }
            Ok(())
        })
        .await
    }
}
