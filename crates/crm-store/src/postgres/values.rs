//! Parameters and row mapping for PostgreSQL, and the reads every operation shares.
//!
//! Stored values are loosely typed (as in SQLite); a parameter converts itself to the type
//! PostgreSQL inferred for its placeholder, so `Stored::Int` binds to a `bigint` column as
//! well as to a `double precision` one, and a value list binds as an array of the column's
//! type.

use super::pg;
use crate::sql::{self, Arg, Dialect};
use bytes::BytesMut;
use crm_core::entity::EntityType;
use crm_core::field::Stored;
use crm_core::query::ListQuery;
use crm_core::store::{MultiValue, Row, StoreResult};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use std::error::Error;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

type BoxError = Box<dyn Error + Sync + Send>;

/// A stored value as a parameter of whatever scalar type its placeholder has.
#[derive(Debug)]
pub(super) struct PgValue<'a>(pub(super) &'a Stored);

fn mismatch(v: &Stored, ty: &Type) -> BoxError {
    format!("cannot bind {v:?} as {ty}").into()
}

impl ToSql for PgValue<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let text = matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        );
        match self.0 {
            Stored::Null => Ok(IsNull::Yes),
            Stored::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ if text => i.to_string().to_sql(ty, out),
                _ => Err(mismatch(self.0, ty)),
            },
            Stored::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                #[allow(clippy::cast_possible_truncation)]
                Type::INT8 if f.fract() == 0.0 => (*f as i64).to_sql(ty, out),
                _ if text => f.to_string().to_sql(ty, out),
                _ => Err(mismatch(self.0, ty)),
            },
            Stored::Text(s) => match *ty {
                _ if text => s.as_str().to_sql(ty, out),
                Type::INT8 => s.trim().parse::<i64>()?.to_sql(ty, out),
                Type::FLOAT8 => s.trim().parse::<f64>()?.to_sql(ty, out),
                _ => Err(mismatch(self.0, ty)),
            },
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::FLOAT8
                | Type::BOOL
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
        )
    }

    to_sql_checked!();
}

/// A list of stored values as an array parameter of its placeholder's array type.
#[derive(Debug)]
pub(super) struct PgList<'a>(pub(super) &'a [Stored]);

impl ToSql for PgList<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let tokio_postgres::types::Kind::Array(member) = ty.kind() else {
            return Err(format!("{ty} is not an array type").into());
        };
        let items: Vec<PgValue<'_>> = self.0.iter().map(PgValue).collect();
        // Each element converts itself to the member type, as a scalar parameter would.
        let array = postgres_array_of(&items, member)?;
        array.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8_ARRAY | Type::FLOAT8_ARRAY | Type::TEXT_ARRAY | Type::INT4_ARRAY
        )
    }

    to_sql_checked!();
}

/// Elements typed for the array's member type.
enum Elements {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl std::fmt::Debug for Elements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Elements")
    }
}

impl ToSql for Elements {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Self::Int(v) => v.to_sql(ty, out),
            Self::Float(v) => v.to_sql(ty, out),
            Self::Text(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn postgres_array_of(items: &[PgValue<'_>], member: &Type) -> Result<Elements, BoxError> {
    Ok(match *member {
        Type::INT8 | Type::INT4 => Elements::Int(
            items
                .iter()
                .map(|v| match v.0 {
                    Stored::Null => Ok(None),
                    Stored::Int(i) => Ok(Some(*i)),
                    Stored::Real(f) => Ok(Some(*f as i64)),
                    Stored::Text(s) => s.trim().parse().map(Some).map_err(BoxError::from),
                })
                .collect::<Result<_, _>>()?,
        ),
        Type::FLOAT8 => Elements::Float(
            items
                .iter()
                .map(|v| match v.0 {
                    Stored::Null => Ok(None),
                    Stored::Int(i) => Ok(Some(*i as f64)),
                    Stored::Real(f) => Ok(Some(*f)),
                    Stored::Text(s) => s.trim().parse().map(Some).map_err(BoxError::from),
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => Elements::Text(
            items
                .iter()
                .map(|v| match v.0 {
                    Stored::Null => None,
                    Stored::Int(i) => Some(i.to_string()),
                    Stored::Real(f) => Some(f.to_string()),
                    Stored::Text(s) => Some(s.clone()),
                })
                .collect(),
        ),
    })
}

/// The parameters of a built statement.
pub(super) fn params(args: &[Arg]) -> Vec<Box<dyn ToSql + Sync + Send + '_>> {
    args.iter()
        .map(|a| -> Box<dyn ToSql + Sync + Send + '_> {
            match a {
                Arg::Value(v) => Box::new(PgValue(v)),
                Arg::List(vs) => Box::new(PgList(vs)),
            }
        })
        .collect()
}

/// Borrowed parameter references, as the client methods take them.
pub(super) fn refs<'a>(
    params: &'a [Box<dyn ToSql + Sync + Send + 'a>],
) -> Vec<&'a (dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// A column as a stored value, by its PostgreSQL type.
fn stored(row: &tokio_postgres::Row, i: usize) -> Result<Stored, tokio_postgres::Error> {
    Ok(match *row.columns()[i].type_() {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Stored::Null, Stored::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Stored::Null, |v| Stored::Int(i64::from(v))),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(Stored::Null, Stored::Real),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Stored::Null, |b| Stored::Int(i64::from(b))),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Stored::Null, Stored::Text),
    })
}

/// An entity row from `SELECT ID, <columns in field-table order> …`.
pub(super) fn entity_row(entity: EntityType, row: &tokio_postgres::Row) -> StoreResult<Row> {
    let mut values = HashMap::new();
    let mut n = 1;
    for f in entity.columns() {
        values.insert(f.name, stored(row, n).map_err(pg)?);
        n += 1;
    }
    let uf = row
        .try_get::<_, Option<String>>(n)
        .map_err(pg)?
        .map(|t| sql::uf_doc(&t))
        .unwrap_or_default();
    Ok(Row {
        id: row.try_get(0).map_err(pg)?,
        values,
        uf,
        multi: Vec::new(),
    })
}

/// Whether the entity exists; with `lock`, the row is also locked against deletion until
/// the transaction ends (`FOR KEY SHARE`).
pub(super) async fn exists(
    c: &impl GenericClient,
    entity: EntityType,
    id: i64,
    lock: bool,
) -> StoreResult<bool> {
    let sql = format!(
        "SELECT 1 FROM {} WHERE ID = $1{}",
        sql::table(entity),
        if lock { " FOR KEY SHARE" } else { "" }
    );
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    Ok(c.query_opt(&stmt, &[&id]).await.map_err(pg)?.is_some())
}

/// Loads the multi-field values of `rows` in one query, in insertion order.
pub(super) async fn attach_multi(
    c: &impl GenericClient,
    entity: EntityType,
    rows: &mut [Row],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let stmt = c
        .prepare_cached(
            "SELECT ENTITY_ID, ID, TYPE_ID, VALUE_TYPE, VALUE FROM crm_multifield \
             WHERE ENTITY_TYPE_ID = $1 AND ENTITY_ID = ANY($2) ORDER BY ID",
        )
        .await
        .map_err(pg)?;
    let found = c
        .query(&stmt, &[&entity.type_id(), &ids])
        .await
        .map_err(pg)?;
    let position: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for r in found {
        let owner: i64 = r.get(0);
        if let Some(&i) = position.get(&owner) {
            rows[i].multi.push(MultiValue {
                id: r.get(1),
                type_id: r.get(2),
                value_type: r.get(3),
                value: r.get(4),
            });
        }
    }
    Ok(())
}

/// One entity with its multi-field values; with `lock`, its row is locked for update
/// until the transaction ends.
pub(super) async fn load_row(
    c: &impl GenericClient,
    entity: EntityType,
    id: i64,
    lock: bool,
) -> StoreResult<Option<Row>> {
    let mut sql = sql::select_by_id(Dialect::Postgres, entity).to_string();
    if lock {
        sql.push_str(" FOR UPDATE");
    }
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    let Some(found) = c.query_opt(&stmt, &[&id]).await.map_err(pg)? else {
        return Ok(None);
    };
    let mut rows = [entity_row(entity, &found)?];
    attach_multi(c, entity, &mut rows).await?;
    let [row] = rows;
    Ok(Some(row))
}

/// One page of a list query and the total when asked.
pub(super) async fn list_rows(
    c: &impl GenericClient,
    entity: EntityType,
    q: &ListQuery,
) -> StoreResult<(Vec<Row>, i64)> {
    let built = sql::list(Dialect::Postgres, entity, q);
    let total = match &built.count {
        Some(count) => {
            let stmt = c.prepare_cached(&count.sql).await.map_err(pg)?;
            let p = params(&count.args);
            c.query_one(&stmt, &refs(&p)).await.map_err(pg)?.get(0)
        }
        None => 0,
    };
    let stmt = c.prepare_cached(&built.page.sql).await.map_err(pg)?;
    let p = params(&built.page.args);
    let found = c.query(&stmt, &refs(&p)).await.map_err(pg)?;
    let mut rows = found
        .iter()
        .map(|r| entity_row(entity, r))
        .collect::<StoreResult<Vec<_>>>()?;
    if q.with_multi {
        attach_multi(c, entity, &mut rows).await?;
    }
    Ok((rows, total))
}
