//! Values, row mapping and the reads every operation shares.

use super::db;
use crate::sql::{self, Arg, Dialect};
use crm_core::entity::EntityType;
use crm_core::field::Stored;
use crm_core::query::ListQuery;
use crm_core::store::{MultiValue, Row, StoreResult};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql};
use std::collections::HashMap;

/// A stored value as a SQLite parameter.
pub(super) struct Sql<'a>(pub(super) &'a Stored);

impl ToSql for Sql<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Stored::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Stored::Int(i) => ToSqlOutput::from(*i),
            Stored::Real(f) => ToSqlOutput::from(*f),
            Stored::Text(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

/// A SQLite value as a stored value.
fn stored(v: ValueRef<'_>) -> Stored {
    match v {
        ValueRef::Null => Stored::Null,
        ValueRef::Integer(i) => Stored::Int(i),
        ValueRef::Real(f) => Stored::Real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Stored::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}

fn sql_value(v: &Stored) -> SqlValue {
    match v {
        Stored::Null => SqlValue::Null,
        Stored::Int(i) => SqlValue::Integer(*i),
        Stored::Real(f) => SqlValue::Real(*f),
        Stored::Text(s) => SqlValue::Text(s.clone()),
    }
}

fn json_value(v: &Stored) -> serde_json::Value {
    match v {
        Stored::Null => serde_json::Value::Null,
        Stored::Int(i) => serde_json::Value::from(*i),
        Stored::Real(f) => serde_json::Value::from(*f),
        Stored::Text(s) => serde_json::Value::from(s.as_str()),
    }
}

/// The SQLite parameters of a built statement: a list becomes one JSON array text, read
/// back with `json_each`.
pub(super) fn params(args: &[Arg]) -> Vec<SqlValue> {
    args.iter()
        .map(|a| match a {
            Arg::Value(v) => sql_value(v),
            Arg::List(vs) => SqlValue::Text(
                serde_json::Value::Array(vs.iter().map(json_value).collect()).to_string(),
            ),
        })
        .collect()
}

/// Whether the entity exists.
pub(super) fn exists(conn: &Connection, entity: EntityType, id: i64) -> StoreResult<bool> {
    let sql = format!("SELECT 1 FROM {} WHERE ID = ?1", sql::table(entity));
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.exists([id]))
        .map_err(db)
}

/// One page of a list query and the total when asked.
pub(super) fn list_rows(
    conn: &Connection,
    entity: EntityType,
    q: &ListQuery,
) -> StoreResult<(Vec<Row>, i64)> {
    let built = sql::list(Dialect::Sqlite, entity, q);
    let total = match &built.count {
        Some(count) => conn
            .prepare_cached(&count.sql)
            .and_then(|mut s| {
                s.query_row(rusqlite::params_from_iter(params(&count.args)), |r| {
                    r.get(0)
                })
            })
            .map_err(db)?,
        None => 0,
    };
    let mut stmt = conn.prepare_cached(&built.page.sql).map_err(db)?;
    let mut rows: Vec<Row> = stmt
        .query_map(rusqlite::params_from_iter(params(&built.page.args)), |r| {
            entity_row(entity, r)
        })
        .and_then(Iterator::collect)
        .map_err(db)?;
    if q.with_multi {
        attach_multi(conn, entity, &mut rows)?;
    }
    Ok((rows, total))
}

/// An entity row from `SELECT ID, <columns in field-table order> …`.
pub(super) fn entity_row(entity: EntityType, r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    // Sized once: growing it column by column rehashed it several times per row.
    let mut values = HashMap::with_capacity(entity.columns().count());
    let mut n = 1;
    for f in entity.columns() {
        values.insert(f.name, stored(r.get_ref(n)?));
        n += 1;
    }
    let uf = match r.get_ref(n)? {
        ValueRef::Text(t) => sql::uf_doc(&String::from_utf8_lossy(t)),
        _ => serde_json::Map::new(),
    };
    Ok(Row {
        id: r.get(0)?,
        values,
        uf,
        multi: Vec::new(),
    })
}

/// Loads the multi-field values of `rows` in one query, in insertion order.
pub(super) fn attach_multi(
    conn: &Connection,
    entity: EntityType,
    rows: &mut [Row],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let marks: Vec<String> = (0..rows.len()).map(|i| format!("?{}", i + 2)).collect();
    let sql = format!(
        "SELECT ENTITY_ID, ID, TYPE_ID, VALUE_TYPE, VALUE FROM crm_multifield \
         WHERE ENTITY_TYPE_ID = ?1 AND ENTITY_ID IN ({}) ORDER BY ID",
        marks.join(", ")
    );
    let mut args = vec![SqlValue::Integer(entity.type_id())];
    args.extend(rows.iter().map(|r| SqlValue::Integer(r.id)));
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let values: Vec<(i64, MultiValue)> = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((
                r.get(0)?,
                MultiValue {
                    id: r.get(1)?,
                    type_id: r.get(2)?,
                    value_type: r.get(3)?,
                    value: r.get(4)?,
                },
            ))
        })
        .and_then(Iterator::collect)
        .map_err(db)?;
    for (owner, m) in values {
        if let Some(row) = rows.iter_mut().find(|r| r.id == owner) {
            row.multi.push(m);
        }
    }
    Ok(())
}

pub(super) fn load_row(conn: &Connection, entity: EntityType, id: i64) -> StoreResult<Option<Row>> {
    let mut stmt = conn
        .prepare_cached(&sql::select_by_id(Dialect::Sqlite, entity))
        .map_err(db)?;
    let Some(row) = stmt
        .query_row([id], |r| entity_row(entity, r))
        .optional()
        .map_err(db)?
    else {
        return Ok(None);
    };
    let mut rows = [row];
    attach_multi(conn, entity, &mut rows)?;
    let [row] = rows;
    Ok(Some(row))
}
