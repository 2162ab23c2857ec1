//! Tests of the SQLite backend's schema and query plans.

use super::migrate::migrate;
use super::rows;
use crate::sql::{self, Dialect, table};
use crm_core::entity::EntityType;
use crm_core::permission::Reach;
use rusqlite::Connection;

/// The query plan of a built statement, its steps joined by " | ".
fn plan_of(conn: &Connection, stmt: &sql::Built) -> String {
    let steps: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", stmt.sql))
        .unwrap()
        .query_map(rusqlite::params_from_iter(rows::params(&stmt.args)), |r| {
            r.get(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    steps.join(" | ")
}

/// The names of a table's columns.
fn column_names(conn: &Connection, table: &str) -> Vec<String> {
    conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

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
        let text = plan_of(&conn, &built.page);
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

/// Lookups by phone and e-mail over 100,000 leads with an e-mail each: the list filter
/// reads a range of the search-key index, the duplicate search the match-code index, and
/// neither scans the leads.
#[test]
fn lookups_by_phone_and_e_mail_read_the_key_indexes() {
    use crm_core::query::{Condition, ListQuery, parse_filter};
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
         INSERT INTO crm_lead (TITLE, DATE_CREATE) SELECT 'Lead ' || i, 1700000000 + i FROM n; \
         INSERT INTO crm_multifield (ENTITY_TYPE_ID, ENTITY_ID, TYPE_ID, VALUE_TYPE, VALUE, \
         VALUE_KEY, COMM_CODE) SELECT 1, ID, 'EMAIL', 'WORK', 'L' || ID || '@ex.org', \
         'l' || ID || '@ex.org', 'l' || ID || '@ex.org' FROM crm_lead; ANALYZE;",
    )
    .unwrap();
    tx.commit().unwrap();
    let tz = chrono::FixedOffset::east_opt(0).unwrap();
    let schema = crm_core::schema::Schema::standard(EntityType::Lead);
    let by_filter = parse_filter(
        &schema,
        serde_json::json!({"EMAIL": "L500@ex"}).as_object().unwrap(),
        tz,
    )
    .unwrap();
    let by_code = vec![Condition::Comm {
        type_id: "EMAIL",
        code: "l500@ex.org".into(),
    }];
    for (filter, index) in [
        (by_filter, "ix_multifield_key"),
        (by_code, "ix_multifield_code"),
    ] {
        let q = ListQuery {
            filter,
            order: Vec::new(),
            offset: 0,
            limit: 50,
            count: true,
            with_multi: false,
            visible: Reach::Everything,
        };
        let built = sql::list(Dialect::Sqlite, EntityType::Lead, &q);
        for stmt in [&built.page, built.count.as_ref().unwrap()] {
            let args = rows::params(&stmt.args);
            let text = plan_of(&conn, stmt);
            assert!(text.contains(index), "{}: {text}", stmt.sql);
            assert!(
                !text.contains("SCAN t"),
                "{}: scans the leads: {text}",
                stmt.sql
            );
            let found: Vec<i64> = conn
                .prepare(&stmt.sql)
                .unwrap()
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(found == [500] || found == [1], "{}: {found:?}", stmt.sql);
        }
    }
}

/// A substring filter over 100,000 leads reads the trigram index and fetches only the
/// leads it names; a pattern without three literal characters in a row cannot use it.
#[test]
fn substring_filters_read_the_trigram_index() {
    use crm_core::query::{ListQuery, parse_filter};
    let mut conn = Connection::open_in_memory().unwrap();
    super::like::install(&conn).unwrap();
    migrate(&mut conn).unwrap();
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
         INSERT INTO crm_lead (TITLE, DATE_CREATE) SELECT 'Lead ' || i, 1700000000 + i FROM n;",
    )
    .unwrap();
    let tz = chrono::FixedOffset::east_opt(0).unwrap();
    let schema = crm_core::schema::Schema::standard(EntityType::Lead);
    for (pattern, indexed, found) in [("lead 9999", true, 11), ("d_5", false, 11_111)] {
        let filter = serde_json::json!({"%TITLE": pattern});
        let q = ListQuery {
            filter: parse_filter(&schema, filter.as_object().unwrap(), tz).unwrap(),
            order: Vec::new(),
            offset: 0,
            limit: 50,
            count: true,
            with_multi: false,
            visible: Reach::Everything,
        };
        let count = sql::list(Dialect::Sqlite, EntityType::Lead, &q)
            .count
            .unwrap();
        let args = rows::params(&count.args);
        let text = plan_of(&conn, &count);
        assert_eq!(
            text.contains("VIRTUAL TABLE INDEX"),
            indexed,
            "{pattern}: {text}"
        );
        assert_eq!(text.contains("SCAN t"), !indexed, "{pattern}: {text}");
        let n: i64 = conn
            .query_row(&count.sql, rusqlite::params_from_iter(args.iter()), |r| {
                r.get(0)
            })
            .unwrap();
        // "Lead 9999" and "Lead 99990" to "Lead 99999"; every "Lead 5…" for "d_5".
        assert_eq!(n, found, "{pattern}");
    }
}

/// The trigram tables index exactly the columns `sql::text_indexed` names, which the
/// filters rely on.
#[test]
fn trigram_tables_hold_the_text_indexed_columns() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    for entity in EntityType::ALL {
        let columns = column_names(&conn, &format!("{}_text", table(entity)));
        assert_eq!(columns, sql::text_indexed(entity), "{entity:?}");
    }
}

/// Values stored before the lookup keys existed get them when the database is migrated.
#[test]
fn migrating_fills_in_the_keys_of_values_stored_before() {
    let mut conn = Connection::open_in_memory().unwrap();
    super::migrate::migrate_to(&mut conn, 9).unwrap();
    conn.execute_batch(
        "INSERT INTO crm_multifield (ENTITY_TYPE_ID, ENTITY_ID, TYPE_ID, VALUE_TYPE, VALUE) VALUES \
         (1, 1, 'PHONE', 'WORK', '8 (999) 123-45-67'), (3, 2, 'EMAIL', 'HOME', ' Ann@X.org'), \
         (4, 3, 'WEB', 'WORK', 'Example.ORG');",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let got: Vec<(String, Option<String>)> = conn
        .prepare("SELECT VALUE_KEY, COMM_CODE FROM crm_multifield ORDER BY ID")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        got,
        [
            ("8 (999) 123-45-67".into(), Some("79991234567".into())),
            (" ann@x.org".into(), Some("ann@x.org".into())),
            ("example.org".into(), None),
        ]
    );
}

#[test]
fn every_stored_field_has_a_column() {
    let conn = Connection::open_in_memory().unwrap();
    let mut conn = conn;
    migrate(&mut conn).unwrap();
    for entity in EntityType::ALL {
        let cols = column_names(&conn, table(entity));
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

/// Group commit: writes queued behind a slow one share its transaction, yet each keeps its
/// own outcome — a write that fails or panics leaves nothing, the others are all committed,
/// and every caller hears only after the commit.
mod group_commit {
    use super::super::SqliteStore;
    use crm_core::store::{Store, StoreError};
    use std::sync::Arc;
    use std::time::Duration;

    /// A store on a fresh file with a `scratch (x)` table.
    pub(super) async fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
        let store = Arc::new(SqliteStore::open(&dir.path().join("crm.sqlite3")).unwrap());
        store
            .run(true, |conn| {
                conn.execute_batch("CREATE TABLE scratch (x INTEGER NOT NULL)")
                    .map_err(super::super::db)
            })
            .await
            .unwrap();
        store
    }

    /// The `x` values of `scratch`, in order.
    pub(super) async fn values(store: &SqliteStore) -> Vec<i64> {
        store
            .read(|conn| {
                let mut st = conn
                    .prepare("SELECT x FROM scratch ORDER BY x")
                    .map_err(super::super::db)?;
                let rows = st.query_map([], |r| r.get(0)).map_err(super::super::db)?;
                rows.collect::<Result<Vec<i64>, _>>()
                    .map_err(super::super::db)
            })
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_panicking_write_in_a_group_leaves_the_others_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        // The first write holds the writer long enough for the others to queue behind it.
        let slow = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(|tx| {
                        std::thread::sleep(Duration::from_millis(200));
                        tx.execute("INSERT INTO scratch VALUES (0)", [])
                            .map_err(super::super::db)?;
                        Ok(0)
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let before = store.group_commits();
        let mut queued = Vec::new();
        for i in 1..=60_i64 {
            let store = store.clone();
            queued.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        tx.execute("INSERT INTO scratch VALUES (?1)", [i])
                            .map_err(super::super::db)?;
                        match i % 10 {
                            3 => Err(StoreError::NotFound),
                            7 => panic!("write {i} panics after writing"),
                            _ => Ok(i),
                        }
                    })
                    .await
            }));
        }
        assert_eq!(slow.await.unwrap().unwrap(), 0);
        let mut committed = vec![0];
        for (i, handle) in (1..=60_i64).zip(queued) {
            let outcome = handle.await.unwrap();
            match i % 10 {
                3 => assert!(
                    matches!(outcome, Err(StoreError::NotFound)),
                    "{i}: {outcome:?}"
                ),
                7 => assert!(
                    matches!(outcome, Err(StoreError::Backend(_))),
                    "{i}: {outcome:?}"
                ),
                _ => {
                    assert_eq!(outcome.unwrap(), i);
                    committed.push(i);
                }
            }
        }
        assert_eq!(values(&store).await, committed);
        // The slow write's group and the one after it took all 60: far fewer commits.
        let commits = store.group_commits() - before;
        assert!(
            (1..=3).contains(&commits),
            "{commits} commits for 61 writes"
        );
        store.close().await;
        // What was answered as written is on disk: a new store on the file sees it all.
        let reopened = SqliteStore::open(&dir.path().join("crm.sqlite3")).unwrap();
        assert_eq!(values(&reopened).await, committed);
        reopened.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_raw_job_between_writes_sees_the_writes_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let mut handles = Vec::new();
        for i in 1..=20_i64 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        tx.execute("INSERT INTO scratch VALUES (?1)", [i])
                            .map_err(super::super::db)
                    })
                    .await
                    .unwrap();
                // A raw job on the writer ends any group: it sees this write committed.
                store
                    .run(true, move |conn| {
                        conn.query_row("SELECT count(*) FROM scratch WHERE x = ?1", [i], |r| {
                            r.get::<_, i64>(0)
                        })
                        .map_err(super::super::db)
                    })
                    .await
                    .unwrap()
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), 1);
        }
        assert_eq!(values(&store).await, (1..=20).collect::<Vec<_>>());
        store.close().await;
    }
}

/// A unit of work (a `batch`): its writes are committed together, its reads see its own
/// uncommitted writes, a failed write in it leaves the others, and what it wrote is on
/// disk when it returns.
mod unit_of_work {
    use super::super::{SqliteStore, db};
    use crm_core::store::{Store, StoreError};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_units_writes_share_one_commit_and_its_reads_see_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::group_commit::store(&dir).await;
        let before = store.group_commits();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let work = {
            let store = Arc::clone(&store);
            let seen = Arc::clone(&seen);
            async move {
                for i in 1..=50_i64 {
                    let outcome = store
                        .write(move |tx| {
                            tx.execute("INSERT INTO scratch VALUES (?1)", [i])
                                .map_err(db)?;
                            if i % 10 == 0 {
                                return Err(StoreError::NotFound);
                            }
                            Ok(())
                        })
                        .await;
                    assert_eq!(outcome.is_err(), i % 10 == 0, "{i}");
                    // The unit's own read sees its writes before they are committed.
                    let count = store
                        .read(|conn| {
                            conn.query_row("SELECT count(*) FROM scratch", [], |r| {
                                r.get::<_, i64>(0)
                            })
                            .map_err(db)
                        })
                        .await
                        .unwrap();
                    seen.lock().unwrap().push(count);
                }
            }
        };
        store.grouped(Box::pin(work)).await.unwrap();
        let expected: Vec<i64> = (1..=50).map(|i| i - i / 10).collect();
        assert_eq!(*seen.lock().unwrap(), expected);
        let commits = store.group_commits() - before;
        assert!(commits <= 3, "{commits} commits for one unit of 50 writes");
        store.close().await;
        let reopened = SqliteStore::open(&dir.path().join("crm.sqlite3")).unwrap();
        let kept: Vec<i64> = (1..=50).filter(|i| i % 10 != 0).collect();
        assert_eq!(super::group_commit::values(&reopened).await, kept);
        reopened.close().await;
    }
}

/// A list statement taken from the cache runs as prepared with new values: SQLite
/// re-prepares a statement when a parameter its planner read is bound again (it reads
/// LIMIT's), which cost more than half of every list call.
#[test]
fn list_statements_are_not_re_prepared_for_new_values() {
    use crm_core::query::{ListQuery, parse_filter};
    use rusqlite::StatementStatus;
    let mut conn = Connection::open_in_memory().unwrap();
    super::like::install(&conn).unwrap();
    migrate(&mut conn).unwrap();
    let tz = chrono::FixedOffset::east_opt(0).unwrap();
    let schema = crm_core::schema::Schema::standard(EntityType::Lead);
    for f in [
        serde_json::json!({"EMAIL": "x"}),
        serde_json::json!({"STATUS_ID": "NEW"}),
        serde_json::json!({"%TITLE": "x"}),
    ] {
        let q = |v: &str| {
            let mut f = f.clone();
            for (_, x) in f.as_object_mut().unwrap().iter_mut() {
                *x = serde_json::json!(v);
            }
            ListQuery {
                filter: parse_filter(&schema, f.as_object().unwrap(), tz).unwrap(),
                order: Vec::new(),
                offset: 0,
                limit: 50,
                count: true,
                with_multi: false,
                visible: Reach::Everything,
            }
        };
        for which in ["page", "count"] {
            let built = sql::list(Dialect::Sqlite, EntityType::Lead, &q("a"));
            let stmt_sql = if which == "page" {
                built.page.sql.clone()
            } else {
                built.count.clone().unwrap().sql
            };
            let mut s = conn.prepare(&stmt_sql).unwrap();
            for v in ["a", "b", "c"] {
                let b = sql::list(Dialect::Sqlite, EntityType::Lead, &q(v));
                let st = if which == "page" {
                    b.page
                } else {
                    b.count.unwrap()
                };
                let mut rows = s
                    .query(rusqlite::params_from_iter(rows::params(&st.args)))
                    .unwrap();
                while rows.next().unwrap().is_some() {}
            }
            assert_eq!(
                s.get_status(StatementStatus::RePrepare),
                0,
                "{which} {f}: {stmt_sql}"
            );
        }
    }
}
