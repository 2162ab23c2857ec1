//! `UserFieldStore` on SQLite: definitions (`crm_userfield`), the lists of enumeration
//! fields (`crm_userfield_enum`) and, on delete, the values in the owner's rows.

use super::{SqliteStore, db};
use crate::sql::{self, ENUM_COLUMNS};
use async_trait::async_trait;
use crm_core::entity::EntityType;
use crm_core::store::{StoreError, StoreResult, UserFieldStore};
use crm_core::userfield::{EnumItem, UserField, parse_type_owner};
use rusqlite::{Connection, OptionalExtension, params};

/// A list item from `SELECT ENUM_COLUMNS …` (with its field id).
fn enum_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, EnumItem)> {
    Ok((
        r.get(1)?,
        EnumItem {
            id: r.get(0)?,
            value: r.get(2)?,
            def: r.get::<_, String>(3)? == "Y",
            sort: r.get(4)?,
            xml_id: r.get(5)?,
        },
    ))
}

/// The definitions of one owner (or all), with their lists.
fn load(conn: &Connection, owner: Option<&str>) -> StoreResult<Vec<UserField>> {
    let rows: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT ID, DEFINITION FROM crm_userfield WHERE ?1 IS NULL OR ENTITY_ID = ?1 \
             ORDER BY ID",
        )
        .and_then(|mut s| {
            s.query_map([owner], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db)?;
    let mut items: Vec<(i64, EnumItem)> = conn
        .prepare_cached(&format!(
            "SELECT {ENUM_COLUMNS} FROM crm_userfield_enum WHERE FIELD_ID IN \
             (SELECT ID FROM crm_userfield WHERE ?1 IS NULL OR ENTITY_ID = ?1) ORDER BY ID"
        ))
        .and_then(|mut s| s.query_map([owner], enum_row)?.collect())
        .map_err(db)?;
    rows.into_iter()
        .map(|(id, text)| {
            let (mine, rest): (Vec<_>, Vec<_>) = items.drain(..).partition(|(f, _)| *f == id);
            items = rest;
            sql::definition(id, &text, mine.into_iter().map(|(_, i)| i).collect())
        })
        .collect()
}

/// Writes a field's list: items with id 0 are inserted, stored items missing from it
/// deleted, the others rewritten.
fn write_items(conn: &Connection, field: &UserField) -> StoreResult<()> {
    let keep: Vec<i64> = field
        .items
        .iter()
        .map(|i| i.id)
        .filter(|id| *id > 0)
        .collect();
    conn.prepare_cached(
        "DELETE FROM crm_userfield_enum WHERE FIELD_ID = ?1 \
         AND ID NOT IN (SELECT value FROM json_each(?2))",
    )
    .and_then(|mut s| {
        s.execute(params![
            field.id,
            serde_json::to_string(&keep).unwrap_or_default()
        ])
    })
    .map_err(db)?;
    for item in &field.items {
        let def = if item.def { "Y" } else { "N" };
        if item.id > 0 {
            conn.prepare_cached(
                "UPDATE crm_userfield_enum SET VALUE = ?1, DEF = ?2, SORT = ?3, XML_ID = ?4 \
                 WHERE ID = ?5 AND FIELD_ID = ?6",
            )
            .and_then(|mut s| {
                s.execute(params![
                    item.value,
                    def,
                    item.sort,
                    item.xml_id,
                    item.id,
                    field.id
                ])
            })
            .map_err(db)?;
        } else {
            conn.prepare_cached(
                "INSERT INTO crm_userfield_enum (FIELD_ID, VALUE, DEF, SORT, XML_ID) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![field.id, item.value, def, item.sort, item.xml_id]))
            .map_err(db)?;
        }
    }
    Ok(())
}

/// Inserts a definition (id 0 allocates one) and its list; `Rejected` when its owner has
/// a field of that name.
pub(super) fn insert_user_field(conn: &Connection, field: &UserField) -> StoreResult<i64> {
    let taken = conn
        .prepare_cached("SELECT 1 FROM crm_userfield WHERE ENTITY_ID = ?1 AND FIELD_NAME = ?2")
        .and_then(|mut s| s.exists(params![field.entity_id, field.field_name]))
        .map_err(db)?;
    if taken {
        return Err(StoreError::Rejected(sql::already_exists(field)));
    }
    conn.prepare_cached(
        "INSERT INTO crm_userfield (ID, ENTITY_ID, FIELD_NAME, DEFINITION) \
         VALUES (NULLIF(?1, 0), ?2, ?3, ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            field.id,
            field.entity_id,
            field.field_name,
            sql::definition_text(field)
        ])
    })
    .map_err(db)?;
    let id = conn.last_insert_rowid();
    write_items(
        conn,
        &UserField {
            id,
            ..field.clone()
        },
    )?;
    Ok(id)
}

/// Writes a definition and its list exactly as exported, ids included.
pub(super) fn import_user_field(conn: &Connection, field: &UserField) -> StoreResult<()> {
    insert_user_field(
        conn,
        &UserField {
            items: Vec::new(),
            ..field.clone()
        },
    )?;
    for item in &field.items {
        conn.prepare_cached(&format!(
            "INSERT INTO crm_userfield_enum ({ENUM_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                item.id,
                field.id,
                item.value,
                if item.def { "Y" } else { "N" },
                item.sort,
                item.xml_id
            ])
        })
        .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl UserFieldStore for SqliteStore {
    async fn user_fields(&self, owner: Option<String>) -> StoreResult<Vec<UserField>> {
        self.read(move |conn| load(conn, owner.as_deref())).await
    }

    async fn create_user_field(&self, field: UserField) -> StoreResult<i64> {
        self.write(move |tx| insert_user_field(tx, &UserField { id: 0, ..field }))
            .await
    }

    async fn update_user_field(&self, field: UserField) -> StoreResult<bool> {
        self.write(move |tx| {
            let stored: Option<String> = tx
                .prepare_cached("SELECT DEFINITION FROM crm_userfield WHERE ID = ?1")
                .and_then(|mut s| s.query_row([field.id], |r| r.get(0)).optional())
                .map_err(db)?;
            let Some(text) = stored else { return Ok(false) };
            // The owner, name, type and multiplicity stay as stored.
            let old = sql::definition(field.id, &text, Vec::new())?;
            let field = UserField {
                entity_id: old.entity_id,
                field_name: old.field_name,
                user_type: old.user_type,
                multiple: old.multiple,
                ..field
            };
            tx.prepare_cached("UPDATE crm_userfield SET DEFINITION = ?1 WHERE ID = ?2")
                .and_then(|mut s| s.execute(params![sql::definition_text(&field), field.id]))
                .map_err(db)?;
            write_items(tx, &field)?;
            Ok(true)
        })
        .await
    }

    async fn delete_user_field(&self, id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            let found: Option<(String, String)> = tx
                .prepare_cached("SELECT ENTITY_ID, FIELD_NAME FROM crm_userfield WHERE ID = ?1")
                .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(db)?;
            let Some((owner, name)) = found else {
                return Ok(false);
            };
            tx.execute("DELETE FROM crm_userfield_enum WHERE FIELD_ID = ?1", [id])
                .map_err(db)?;
            tx.execute("DELETE FROM crm_userfield WHERE ID = ?1", [id])
                .map_err(db)?;
            let table = match sql::owner_table(&owner) {
                Some(table) => Some(table.to_string()),
                None => match parse_type_owner(&owner) {
                    Some(type_id) => tx
                        .query_row(
                            "SELECT ENTITY_TYPE_ID FROM crm_type WHERE ID = ?1",
                            [type_id],
                            |r| r.get::<_, i64>(0),
                        )
                        .optional()
                        .map_err(db)?
                        .map(|etid| sql::table(EntityType::Dynamic(etid)).to_string()),
                    None => None,
                },
            };
            if let Some(table) = table {
                let path = format!("$.{name}");
                tx.execute(
                    &format!(
                        "UPDATE {table} SET {uf} = json_remove({uf}, ?1) \
                         WHERE json_type({uf}, ?1) IS NOT NULL",
                        uf = sql::UF
                    ),
                    [path],
                )
                .map_err(db)?;
            }
            Ok(true)
        })
        .await
    }
}
