//! `UserFieldStore` on PostgreSQL: definitions (`crm_userfield`), the lists of
//! enumeration fields (`crm_userfield_enum`) and, on delete, the values in the owner's
//! rows.

use super::{PostgresStore, in_transaction, pg, pool_error};
use crate::sql::{self, ENUM_COLUMNS};
use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::store::{StoreError, StoreResult, UserFieldStore};
use crm_core::userfield::{EnumItem, UserField, parse_type_owner};
use deadpool_postgres::GenericClient;

/// The definitions of one owner (or all), with their lists.
async fn load(c: &impl GenericClient, owner: Option<&str>) -> StoreResult<Vec<UserField>> {
    let rows = c
        .query(
            "SELECT ID, DEFINITION FROM crm_userfield \
             WHERE $1::text IS NULL OR ENTITY_ID = $1 ORDER BY ID",
            &[&owner],
        )
        .await
        .map_err(pg)?;
    let items = c
        .query(
            &format!(
                "SELECT {ENUM_COLUMNS} FROM crm_userfield_enum WHERE FIELD_ID IN \
                 (SELECT ID FROM crm_userfield WHERE $1::text IS NULL OR ENTITY_ID = $1) \
                 ORDER BY ID"
            ),
            &[&owner],
        )
        .await
        .map_err(pg)?;
    let mut items: Vec<(i64, EnumItem)> = items
        .iter()
        .map(|r| {
            Ok((
                r.try_get(1).map_err(pg)?,
                EnumItem {
                    id: r.try_get(0).map_err(pg)?,
                    value: r.try_get(2).map_err(pg)?,
                    def: r.try_get::<_, String>(3).map_err(pg)? == "Y",
                    sort: r.try_get(4).map_err(pg)?,
                    xml_id: r.try_get(5).map_err(pg)?,
                },
            ))
        })
        .collect::<StoreResult<_>>()?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get(0).map_err(pg)?;
            let text: String = r.try_get(1).map_err(pg)?;
            let (mine, rest): (Vec<_>, Vec<_>) = items.drain(..).partition(|(f, _)| *f == id);
            items = rest;
            sql::definition(id, &text, mine.into_iter().map(|(_, i)| i).collect())
        })
        .collect()
}

/// Writes a field's list: items with id 0 are inserted, stored items missing from it
/// deleted, the others rewritten.
async fn write_items(c: &impl GenericClient, field: &UserField) -> StoreResult<()> {
    let keep: Vec<i64> = field
        .items
        .iter()
        .map(|i| i.id)
        .filter(|id| *id > 0)
        .collect();
    c.execute(
        "DELETE FROM crm_userfield_enum WHERE FIELD_ID = $1 AND NOT (ID = ANY($2))",
        &[&field.id, &keep],
    )
    .await
    .map_err(pg)?;
    for item in &field.items {
        let def = if item.def { "Y" } else { "N" };
        if item.id > 0 {
            c.execute(
                "UPDATE crm_userfield_enum SET VALUE = $1, DEF = $2, SORT = $3, XML_ID = $4 \
                 WHERE ID = $5 AND FIELD_ID = $6",
                &[
                    &item.value,
                    &def,
                    &item.sort,
                    &item.xml_id,
                    &item.id,
                    &field.id,
                ],
            )
            .await
            .map_err(pg)?;
        } else {
            c.execute(
                "INSERT INTO crm_userfield_enum (FIELD_ID, VALUE, DEF, SORT, XML_ID) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&field.id, &item.value, &def, &item.sort, &item.xml_id],
            )
            .await
            .map_err(pg)?;
        }
    }
    Ok(())
}

/// Inserts a definition (id 0 allocates one) and its list; `Rejected` when its owner has
/// a field of that name. (Two inserts of one name at once: the unique index refuses the
/// second, which is retried as a conflict and then finds the name taken.)
pub(super) async fn insert_user_field(
    c: &impl GenericClient,
    field: &UserField,
) -> StoreResult<i64> {
    let taken = c
        .query_opt(
            "SELECT 1 FROM crm_userfield WHERE ENTITY_ID = $1 AND FIELD_NAME = $2",
            &[&field.entity_id, &field.field_name],
        )
        .await
        .map_err(pg)?
        .is_some();
    if taken {
        return Err(StoreError::Rejected(sql::already_exists(field)));
    }
    let id: i64 = c
        .query_one(
            "INSERT INTO crm_userfield (ID, ENTITY_ID, FIELD_NAME, DEFINITION) \
             VALUES (COALESCE(NULLIF($1::bigint, 0), nextval(pg_get_serial_sequence('crm_userfield', 'id'))), \
             $2, $3, $4) RETURNING ID",
            &[
                &field.id,
                &field.entity_id,
                &field.field_name,
                &sql::definition_text(field),
            ],
        )
        .await
        .map_err(pg)?
        .get(0);
    write_items(
        c,
        &UserField {
            id,
            ..field.clone()
        },
    )
    .await?;
    Ok(id)
}

/// Writes a definition and its list exactly as exported, ids included.
pub(super) async fn import_user_field(
    c: &impl GenericClient,
    field: &UserField,
) -> StoreResult<()> {
    insert_user_field(
        c,
        &UserField {
            items: Vec::new(),
            ..field.clone()
        },
    )
    .await?;
    for item in &field.items {
        let def = if item.def { "Y" } else { "N" };
        c.execute(
            &format!(
                "INSERT INTO crm_userfield_enum ({ENUM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            &[
                &item.id,
                &field.id,
                &item.value,
                &def,
                &item.sort,
                &item.xml_id,
            ],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

#[async_trait]
impl UserFieldStore for PostgresStore {
    async fn user_fields(&self, owner: Option<String>) -> StoreResult<Vec<UserField>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        load(&client, owner.as_deref()).await
    }

    async fn create_user_field(&self, field: UserField) -> StoreResult<i64> {
        let field = &UserField { id: 0, ..field };
        in_transaction!(self, |tx| insert_user_field(&tx, field).await?)
    }

    async fn update_user_field(&self, field: UserField) -> StoreResult<bool> {
        let field = &field;
        in_transaction!(self, |tx| {
            let stored = tx
                .query_opt(
                    "SELECT DEFINITION FROM crm_userfield WHERE ID = $1 FOR UPDATE",
                    &[&field.id],
                )
                .await
                .map_err(pg)?;
            match stored {
                None => false,
                Some(row) => {
                    // The owner, name, type and multiplicity stay as stored.
                    let old = sql::definition(field.id, &row.get::<_, String>(0), Vec::new())?;
                    let field = UserField {
                        entity_id: old.entity_id,
                        field_name: old.field_name,
                        user_type: old.user_type,
                        multiple: old.multiple,
                        ..field.clone()
                    };
                    tx.execute(
                        "UPDATE crm_userfield SET DEFINITION = $1 WHERE ID = $2",
                        &[&sql::definition_text(&field), &field.id],
                    )
                    .await
                    .map_err(pg)?;
                    write_items(&tx, &field).await?;
                    true
                }
            }
        })
    }

    async fn delete_user_field(&self, id: i64) -> StoreResult<bool> {
        in_transaction!(self, |tx| {
            let found = tx
                .query_opt(
                    "DELETE FROM crm_userfield WHERE ID = $1 RETURNING ENTITY_ID, FIELD_NAME",
                    &[&id],
                )
                .await
                .map_err(pg)?;
            match found {
                None => false,
                Some(row) => {
                    let owner: String = row.get(0);
                    let name: String = row.get(1);
                    tx.execute("DELETE FROM crm_userfield_enum WHERE FIELD_ID = $1", &[&id])
                        .await
                        .map_err(pg)?;
                    let table = match (sql::owner_table(&owner), parse_type_owner(&owner)) {
                        (Some(table), _) => Some(table.to_string()),
                        (None, Some(type_id)) => tx
                            .query_opt(
                                "SELECT ENTITY_TYPE_ID FROM crm_type WHERE ID = $1",
                                &[&type_id],
                            )
                            .await
                            .map_err(pg)?
                            .map(|r| sql::table(EntityType::Dynamic(r.get(0))).to_string()),
                        (None, None) => None,
                    };
                    if let Some(table) = table {
                        tx.execute(
                            &format!(
                                "UPDATE {table} SET {uf} = ({uf}::jsonb - $1::text)::text \
                                 WHERE jsonb_exists({uf}::jsonb, $1::text)",
                                uf = sql::UF
                            ),
                            &[&name],
                        )
                        .await
                        .map_err(pg)?;
                    }
                    true
                }
            }
        })
    }
}
