//! Tests of the SQLite backend's schema and query plans.

use super::migrate::migrate;
use super::rows;
use crate::sql::{self, Dialect, table};
use crm_core::entity::EntityType;
use crm_core::permission::Reach;
use rusqlite::Connection;

/// The query plan of a list page over 100,000 leads: filtered and ordered pages are
/// served from an index, never by scanning the table or sorting all matches.
#[test]
fn filtered_ordered_pages_use_an_index_on_a_large_table() {
    use crm_core::query::{ListQuery, page, parse_filter, parse_order};
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
         INSERT INTO crm_lead (TITLE, STATUS_ID, ASSIGNED_BY_ID, DATE_CREATE, DATE_MODIFY) \
         SELECT 'Lead ' || i, CASE i % 5 WHEN 0 THEN 'JUNK' ELSE 'NEW' END, i % 20, 1700000000 + i, 1700000000 + i FROM n",
        [],
    )
    .unwrap();
    tx.commit().unwrap();
    let tz = chrono::FixedOffset::east_opt(0).unwrap();
    let cases = [
        (
            serde_json::json!({">ID": 5000}),
            serde_json::json!({"ID": "ASC"}),
        ),
        (
            serde_json::json!({"STATUS_ID": "JUNK"}),
            serde_json::json!({"ID": "ASC"}),
        ),
        (
            serde_json::json!({"ASSIGNED_BY_ID": 7, ">ID": 10}),
            serde_json::json!({}),
        ),
        (
            serde_json::json!({">=DATE_CREATE": "2023-11-20T00:00:00+00:00"}),
            serde_json::json!({"DATE_CREATE": "DESC"}),
        ),
        (
            serde_json::json!({}),
            serde_json::json!({"DATE_MODIFY": "ASC"}),
        ),
        // A long value list is one JSON parameter, still looked up through the key.
        (
            serde_json::json!({"@ID": (1..=5000).collect::<Vec<i64>>()}),
            serde_json::json!({"ID": "ASC"}),
        ),
        // The control: an unindexed sort key must be detected as a full sort.
        (
            serde_json::json!({}),
            serde_json::json!({"COMMENTS": "ASC"}),
        ),
    ];
    for (filter, order) in cases {
        let control = order.get("COMMENTS").is_some();
        let (offset, count) = page(0);
        let q = ListQuery {
            filter: parse_filter(
                &crm_core::schema::Schema::standard(EntityType::Lead),
                filter.as_object().unwrap(),
                tz,
            )
            .unwrap(),
            order: parse_order(
                &crm_core::schema::Schema::standard(EntityType::Lead),
                order.as_object().unwrap(),
            ),
            offset,
            limit: 50,
            count,
            with_multi: false,
            visible: Reach::Everything,
        };
        let built = sql::list(Dialect::Sqlite, EntityType::Lead, &q);
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", built.page.sql))
            .unwrap()
            .query_map(
                rusqlite::params_from_iter(rows::params(&built.page.args)),
                |r| r.get::<_, String>(3),
            )
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let text = plan.join(" | ");
        if control {
            assert!(
                text.contains("USE TEMP B-TREE FOR ORDER BY"),
                "control case: {text}"
            );
            continue;
        }
        // "FOR LAST TERM" only orders ties of the indexed key; a full sort says "FOR ORDER BY".
        assert!(
            !text.contains("USE TEMP B-TREE FOR ORDER BY"),
            "{filter} {order}: sorts all matches: {text}"
        );
        assert!(
            text.contains("INDEX") || text.contains("INTEGER PRIMARY KEY"),
            "{filter} {order}: {text}"
        );
        assert!(
            !text.contains("SCAN t") || text.contains("USING INDEX"),
            "{filter} {order}: full scan: {text}"
        );
    }
}

#[test]
fn every_stored_field_has_a_column() {
    let conn = Connection::open_in_memory().unwrap();
    let mut conn = conn;
    migrate(&mut conn).unwrap();
    for entity in EntityType::ALL {
        let cols: Vec<String> = conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{}')",
                table(entity)
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for f in entity.columns() {
            assert!(
                cols.iter().any(|c| c == f.name),
                "{entity:?} lacks column {}",
                f.name
            );
        }
        assert!(
            cols.iter().any(|c| c == crate::sql::UF),
            "{entity:?} lacks UF"
        );
        assert_eq!(
            cols.len(),
            entity.columns().count() + 2,
            "{entity:?} has extra columns"
        );
    }
}

#[test]
fn a_lock_not_obtained_in_time_is_a_conflict() {
    use crm_core::store::StoreError;
    let busy = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some("database is locked".into()),
    );
    assert!(matches!(super::db(busy), StoreError::Conflict(_)));
    let other = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        None,
    );
    let e = super::db(other);
    assert!(matches!(e, StoreError::Backend(_)));
    assert!(std::error::Error::source(&e).is_some(), "the cause is kept");
}
