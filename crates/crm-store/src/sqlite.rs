//! SQLite backend: `rusqlite` on dedicated threads.
//!
//! One writer thread owns the only write connection and runs every mutating operation as
//! one closure inside one transaction, so binding changes are serialised without locks
//! in the domain. Reader threads (WAL mode) serve reads concurrently. Async callers send
//! closures over channels and await the answer on a oneshot.

use anyhow::Context;
use async_trait::async_trait;
use crm_core::binding::{ALL_KINDS, Binding, BindingKind, diff, plan_remove, sort_bindings};
use crm_core::entity::EntityType;
use crm_core::field::Stored;
use crm_core::identity::{Scope, User, Webhook};
use crm_core::query::{Condition, Dir, ListQuery, Op, stage_order};
use crm_core::store::{
    BindingEdit, BindingStore, EntityStore, IdentityStore, MultiValue, NewEntity, NewMultiValue,
    Row, Store, StoreError, StoreResult, UpdatePlan,
};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/sqlite/0001_init.sql")];

/// Reader threads per file database.
const READERS: usize = 3;

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    channels: Mutex<Option<Channels>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug, Clone)]
struct Channels {
    writer: Sender<Job>,
    readers: Sender<Job>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// How long a statement waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on the WAL file. SQLite truncates the log to this size whenever it restarts it,
/// and the writer checkpoints and truncates it as soon as it grows past it.
const WAL_LIMIT_BYTES: u64 = 16 * 1024 * 1024;

/// After this long without a write, a WAL that has been written is checkpointed and
/// truncated: readers that never pause would otherwise keep SQLite from ever restarting
/// the log, and it grows without bound.
const CHECKPOINT_IDLE: Duration = Duration::from_secs(1);

/// How long such a checkpoint waits for readers to leave the log before it gives up and
/// tries again later (writes queue behind it meanwhile).
const CHECKPOINT_WAIT: Duration = Duration::from_millis(200);

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    // The version is read inside the writing transaction, so two processes opening a new
    // file at once apply each migration exactly once.
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let Some(sql) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(sql)
            .with_context(|| format!("applying migration {}", version + 1))?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Runs one job. A panic inside it is contained: the job's transaction rolls back as it
/// unwinds, its caller gets "the database thread stopped" (a storage failure), and the
/// thread and its connection keep serving the next job.
fn run_job(job: Job, conn: &mut Connection) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn)));
    if outcome.is_err() {
        tracing::error!("a storage operation panicked; its transaction was rolled back");
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

fn spawn(name: String, rx: Receiver<Job>, mut conn: Connection) -> anyhow::Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new().name(name).spawn(move || {
        while let Ok(job) = rx.recv() {
            run_job(job, &mut conn);
        }
    })?)
}

/// Checkpoints the whole WAL into the database and truncates it to zero bytes, waiting at
/// most [`CHECKPOINT_WAIT`] for readers; `true` when it completed.
fn checkpoint(conn: &Connection) -> bool {
    let _ = conn.busy_timeout(CHECKPOINT_WAIT);
    let done = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        })
        .is_ok_and(|busy| busy == 0);
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    done
}

/// The writer thread: runs write jobs in order, keeps the WAL bounded, and at shutdown
/// waits for the readers so that its connection closes last (the last connection to
/// close checkpoints the log and removes it).
fn spawn_writer(
    rx: Receiver<Job>,
    mut conn: Connection,
    wal: Option<PathBuf>,
    readers: Vec<JoinHandle<()>>,
) -> anyhow::Result<JoinHandle<()>> {
    let wal_size = move || {
        wal.as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    };
    Ok(std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            let mut dirty = false;
            let mut jobs: u32 = 0;
            loop {
                match rx.recv_timeout(CHECKPOINT_IDLE) {
                    Ok(job) => {
                        run_job(job, &mut conn);
                        dirty = true;
                        jobs = jobs.wrapping_add(1);
                        if jobs.is_multiple_of(64)
                            && wal_size() > WAL_LIMIT_BYTES
                            && checkpoint(&conn)
                        {
                            dirty = false;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if dirty && wal_size() > 0 && checkpoint(&conn) {
                            dirty = false;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            for reader in readers {
                let _ = reader.join();
            }
            let _ = conn.pragma_update(None, "optimize", "");
        })?)
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) a database file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut writer = Connection::open(path)
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        configure(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
        migrate(&mut writer)?;
        let mut readers = Vec::new();
        for _ in 0..READERS {
            let r = Connection::open(path)?;
            configure(&r)?;
            readers.push(r);
        }
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Self::start(writer, readers, Some(PathBuf::from(wal)))
    }

    /// A private in-memory database (one connection serves reads and writes).
    pub fn open_in_memory() -> anyhow::Result<Self> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Self::start(conn, Vec::new(), None)
    }

    fn start(
        writer: Connection,
        readers: Vec<Connection>,
        wal: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let (wtx, wrx) = crossbeam_channel::unbounded::<Job>();
        let mut reader_threads = Vec::new();
        let rtx = if readers.is_empty() {
            wtx.clone()
        } else {
            let (rtx, rrx) = crossbeam_channel::unbounded::<Job>();
            for (i, conn) in readers.into_iter().enumerate() {
                reader_threads.push(spawn(format!("sqlite-reader-{i}"), rrx.clone(), conn)?);
            }
            rtx
        };
        let writer = spawn_writer(wrx, writer, wal, reader_threads)?;
        Ok(Self {
            channels: Mutex::new(Some(Channels {
                writer: wtx,
                readers: rtx,
            })),
            threads: Mutex::new(vec![writer]),
        })
    }

    fn channels(&self) -> StoreResult<Channels> {
        self.channels
            .lock()
            .map_err(backend)?
            .clone()
            .ok_or_else(|| StoreError::Backend("the store is closed".into()))
    }

    async fn run<T, F>(&self, write: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let channels = self.channels()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        let sender = if write {
            &channels.writer
        } else {
            &channels.readers
        };
        sender.send(job).map_err(backend)?;
        rx.await
            .map_err(|_| StoreError::Backend("the database thread stopped".into()))?
    }

    /// Runs `f` in a transaction on the writer thread.
    ///
    /// The transaction starts as a writer (`BEGIN IMMEDIATE`): a deferred one would read
    /// first and then upgrade, and SQLite does not call the busy handler on that upgrade,
    /// so a lock held by another process (the `webhook` CLI, a backup) would fail the
    /// write at once instead of waiting up to the busy timeout.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.run(true, move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let out = f(&tx)?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    /// Runs `f` on a reader thread.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.run(false, move |conn| f(conn)).await
    }
}

struct Sql<'a>(&'a Stored);

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

/// The table of an entity type (a fixed whitelist: never built from input).
fn table(entity: EntityType) -> &'static str {
    match entity {
        EntityType::Lead => "crm_lead",
        EntityType::Contact => "crm_contact",
    }
}

fn exists(conn: &Connection, entity: EntityType, id: i64) -> StoreResult<bool> {
    let sql = format!("SELECT 1 FROM {} WHERE ID = ?1", table(entity));
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.exists([id]))
        .map_err(backend)
}

fn load_bindings(conn: &Connection, kind: BindingKind, owner: i64) -> StoreResult<Vec<Binding>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT BOUND_ID, SORT, ROLE_ID, IS_PRIMARY FROM crm_binding \
             WHERE KIND = ?1 AND OWNER_ID = ?2 ORDER BY SORT, BOUND_ID",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![kind.code, owner], |r| {
            Ok(Binding {
                bound_id: r.get(0)?,
                sort: r.get(1)?,
                role_id: r.get(2)?,
                is_primary: r.get::<_, String>(3)? == "Y",
            })
        })
        .map_err(backend)?;
    let mut set = rows.collect::<Result<Vec<_>, _>>().map_err(backend)?;
    sort_bindings(&mut set);
    Ok(set)
}

/// Writes the difference between two sets and mirrors the primary into the owner row.
/// Demotions are written before the new primary so the one-primary index never trips.
fn write_bindings(
    tx: &Transaction<'_>,
    kind: BindingKind,
    owner: i64,
    old: &[Binding],
    new: &[Binding],
) -> StoreResult<()> {
    let (removed, mut upserts) = diff(old, new);
    let mut del = tx
        .prepare_cached(
            "DELETE FROM crm_binding WHERE KIND = ?1 AND OWNER_ID = ?2 AND BOUND_ID = ?3",
        )
        .map_err(backend)?;
    for id in removed {
        del.execute(params![kind.code, owner, id])
            .map_err(backend)?;
    }
    upserts.sort_by_key(|b| b.is_primary);
    let mut put = tx
        .prepare_cached(
            "INSERT INTO crm_binding (KIND, OWNER_ID, BOUND_ID, SORT, ROLE_ID, IS_PRIMARY) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (KIND, OWNER_ID, BOUND_ID) DO UPDATE SET \
             SORT = excluded.SORT, ROLE_ID = excluded.ROLE_ID, IS_PRIMARY = excluded.IS_PRIMARY",
        )
        .map_err(backend)?;
    for b in upserts {
        let flag = if b.is_primary { "Y" } else { "N" };
        put.execute(params![
            kind.code, owner, b.bound_id, b.sort, b.role_id, flag
        ])
        .map_err(backend)?;
    }
    let primary = new.iter().find(|b| b.is_primary).map(|b| b.bound_id);
    let sql = format!(
        "UPDATE {} SET {} = ?1 WHERE ID = ?2",
        table(kind.owner),
        kind.owner_column
    );
    tx.prepare_cached(&sql)
        .and_then(|mut s| s.execute(params![primary, owner]))
        .map_err(backend)?;
    Ok(())
}

fn insert_multi(
    tx: &Transaction<'_>,
    entity: EntityType,
    id: i64,
    values: &[NewMultiValue],
) -> StoreResult<()> {
    let mut put = tx
        .prepare_cached(
            "INSERT INTO crm_multifield (ENTITY_TYPE_ID, ENTITY_ID, TYPE_ID, VALUE_TYPE, VALUE) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(backend)?;
    for m in values {
        put.execute(params![
            entity.type_id(),
            id,
            m.type_id,
            m.value_type,
            m.value
        ])
        .map_err(backend)?;
    }
    Ok(())
}

fn check_bound(conn: &Connection, kind: BindingKind, ids: &[i64]) -> StoreResult<()> {
    for &id in ids {
        if !exists(conn, kind.bound, id)? {
            return Err(StoreError::BoundNotFound {
                entity: kind.bound,
                id,
            });
        }
    }
    Ok(())
}

fn select_sql(entity: EntityType) -> String {
    let cols: Vec<&str> = entity.columns().map(|f| f.name).collect();
    format!(
        "SELECT ID, {} FROM {} WHERE ID = ?1",
        cols.join(", "),
        table(entity)
    )
}

fn sql_value(v: &Stored) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Stored::Null => V::Null,
        Stored::Int(i) => V::Integer(*i),
        Stored::Real(f) => V::Real(*f),
        Stored::Text(s) => V::Text(s.clone()),
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

/// A value that also matches NULL for `=` (the portal's "empty" filter values).
fn is_empty_value(v: &Stored) -> bool {
    matches!(v, Stored::Null | Stored::Int(0)) || matches!(v, Stored::Text(s) if s.is_empty())
}

/// Binds `v` and returns its placeholder.
fn bind(args: &mut Vec<rusqlite::types::Value>, v: rusqlite::types::Value) -> String {
    args.push(v);
    format!("?{}", args.len())
}

/// One condition as SQL. A list of values is bound as one JSON array read back with
/// `json_each`, so lists of any length cost one parameter and no expression depth.
fn condition_sql(
    entity: EntityType,
    c: &Condition,
    args: &mut Vec<rusqlite::types::Value>,
) -> String {
    match c {
        Condition::Field {
            field,
            op,
            values,
            negate,
        } => {
            let col = format!("t.{}", field.name);
            let sql_op = match op {
                Op::Eq => "=",
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Like => "LIKE",
            };
            let test = match values.as_slice() {
                [one] => format!("{col} {sql_op} {}", bind(args, sql_value(one))),
                many => {
                    let list = serde_json::Value::Array(many.iter().map(json_value).collect());
                    let p = bind(args, rusqlite::types::Value::Text(list.to_string()));
                    if *op == Op::Eq {
                        format!("{col} IN (SELECT value FROM json_each({p}))")
                    } else {
                        format!("EXISTS (SELECT 1 FROM json_each({p}) WHERE {col} {sql_op} value)")
                    }
                }
            };
            let any = if *op == Op::Eq && values.iter().any(is_empty_value) {
                format!("({col} IS NULL OR {test})")
            } else {
                format!("({test})")
            };
            if *negate {
                format!("NOT COALESCE({any}, 0)")
            } else {
                any
            }
        }
        Condition::Multi { type_id, pattern } => {
            // The entity type and multi-field type come from code, never from input.
            let p = bind(args, rusqlite::types::Value::Text(pattern.clone()));
            format!(
                "EXISTS (SELECT 1 FROM crm_multifield m WHERE m.ENTITY_TYPE_ID = {} \
                 AND m.ENTITY_ID = t.ID AND m.TYPE_ID = '{type_id}' AND m.VALUE LIKE {p})",
                entity.type_id()
            )
        }
    }
}

/// `a AND b AND …` as a balanced tree, so thousands of conditions nest only a few levels
/// deep (a flat chain would pass SQLite's expression-depth limit of 1,000).
fn conjunction(parts: &[String]) -> String {
    match parts {
        [] => "1".into(),
        [one] => one.clone(),
        _ => {
            let (a, b) = parts.split_at(parts.len() / 2);
            format!("({} AND {})", conjunction(a), conjunction(b))
        }
    }
}

/// Builds the WHERE clause of a list query. Column names come from the entity's field
/// table; every value is a bound parameter.
fn where_clause(
    entity: EntityType,
    filter: &[Condition],
    args: &mut Vec<rusqlite::types::Value>,
) -> String {
    if filter.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = filter
        .iter()
        .map(|c| condition_sql(entity, c, args))
        .collect();
    format!(" WHERE {}", conjunction(&parts))
}

fn order_clause(order: &[(&'static crm_core::field::FieldDef, Dir)]) -> String {
    let mut keys: Vec<String> = order
        .iter()
        .map(|(f, dir)| {
            let d = if *dir == Dir::Desc { "DESC" } else { "ASC" };
            match stage_order(f) {
                Some(stages) => {
                    let whens: Vec<String> = stages
                        .iter()
                        .enumerate()
                        .map(|(i, (code, _))| format!("WHEN '{code}' THEN {i}"))
                        .collect();
                    format!(
                        "CASE t.{} {} ELSE {} END {d}",
                        f.name,
                        whens.join(" "),
                        stages.len()
                    )
                }
                None => format!("t.{} {d}", f.name),
            }
        })
        .collect();
    if !order.iter().any(|(f, _)| f.name == "ID") {
        keys.push("t.ID ASC".into());
    }
    format!(" ORDER BY {}", keys.join(", "))
}

/// The page query of a list request and its arguments.
fn page_sql(
    entity: EntityType,
    q: &ListQuery,
    mut args: Vec<rusqlite::types::Value>,
    wh: &str,
) -> (String, Vec<rusqlite::types::Value>) {
    let cols: Vec<String> = entity.columns().map(|f| format!("t.{}", f.name)).collect();
    let n = args.len();
    let sql = format!(
        "SELECT t.ID, {} FROM {} t{wh}{} LIMIT ?{} OFFSET ?{}",
        cols.join(", "),
        table(entity),
        order_clause(&q.order),
        n + 1,
        n + 2
    );
    args.push(rusqlite::types::Value::Integer(q.limit));
    args.push(rusqlite::types::Value::Integer(q.offset));
    (sql, args)
}

fn list_rows(conn: &Connection, entity: EntityType, q: &ListQuery) -> StoreResult<(Vec<Row>, i64)> {
    let mut args = Vec::new();
    let wh = where_clause(entity, &q.filter, &mut args);
    let total = if q.count {
        let sql = format!("SELECT COUNT(*) FROM {} t{wh}", table(entity));
        conn.prepare_cached(&sql)
            .and_then(|mut s| s.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
            .map_err(backend)?
    } else {
        0
    };
    let (sql, args) = page_sql(entity, q, args, &wh);
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let mut rows: Vec<Row> = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            entity_row(entity, r)
        })
        .and_then(Iterator::collect)
        .map_err(backend)?;
    if q.with_multi {
        attach_multi(conn, entity, &mut rows)?;
    }
    Ok((rows, total))
}

/// An entity row from `SELECT ID, <columns in field-table order> …`.
fn entity_row(entity: EntityType, r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let mut values = HashMap::new();
    for (i, f) in entity.columns().enumerate() {
        values.insert(f.name, stored(r.get_ref(i + 1)?));
    }
    Ok(Row {
        id: r.get(0)?,
        values,
        multi: Vec::new(),
    })
}

/// Loads the multi-field values of `rows` in one query, in insertion order.
fn attach_multi(conn: &Connection, entity: EntityType, rows: &mut [Row]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let marks: Vec<String> = (0..rows.len()).map(|i| format!("?{}", i + 2)).collect();
    let sql = format!(
        "SELECT ENTITY_ID, ID, TYPE_ID, VALUE_TYPE, VALUE FROM crm_multifield \
         WHERE ENTITY_TYPE_ID = ?1 AND ENTITY_ID IN ({}) ORDER BY ID",
        marks.join(", ")
    );
    let mut args = vec![rusqlite::types::Value::Integer(entity.type_id())];
    args.extend(rows.iter().map(|r| rusqlite::types::Value::Integer(r.id)));
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
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
        .map_err(backend)?;
    for (owner, m) in values {
        if let Some(row) = rows.iter_mut().find(|r| r.id == owner) {
            row.multi.push(m);
        }
    }
    Ok(())
}

fn load_row(conn: &Connection, entity: EntityType, id: i64) -> StoreResult<Option<Row>> {
    let mut stmt = conn.prepare_cached(&select_sql(entity)).map_err(backend)?;
    let Some(row) = stmt
        .query_row([id], |r| entity_row(entity, r))
        .optional()
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let mut rows = [row];
    attach_multi(conn, entity, &mut rows)?;
    let [row] = rows;
    Ok(Some(row))
}

#[async_trait]
impl EntityStore for SqliteStore {
    async fn create(&self, entity: EntityType, new: NewEntity) -> StoreResult<i64> {
        self.write(move |tx| {
            for (kind, set) in &new.bindings {
                let ids: Vec<i64> = set.iter().map(|b| b.bound_id).collect();
                check_bound(tx, *kind, &ids)?;
            }
            let names: Vec<&str> = new.values.iter().map(|(n, _)| *n).collect();
            let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
            let sql = if names.is_empty() {
                format!("INSERT INTO {} DEFAULT VALUES", table(entity))
            } else {
                format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    table(entity),
                    names.join(", "),
                    marks.join(", ")
                )
            };
            let args: Vec<Sql<'_>> = new.values.iter().map(|(_, v)| Sql(v)).collect();
            let refs: Vec<&dyn ToSql> = args.iter().map(|a| a as &dyn ToSql).collect();
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute(refs.as_slice()))
                .map_err(backend)?;
            let id = tx.last_insert_rowid();
            if let Some(after) = new.after_insert {
                for (name, v) in after(id) {
                    let sql = format!("UPDATE {} SET {name} = ?1 WHERE ID = ?2", table(entity));
                    tx.prepare_cached(&sql)
                        .and_then(|mut s| s.execute(params![Sql(&v), id]))
                        .map_err(backend)?;
                }
            }
            insert_multi(tx, entity, id, &new.multi)?;
            for (kind, set) in &new.bindings {
                write_bindings(tx, *kind, id, &[], set)?;
            }
            Ok(id)
        })
        .await
    }

    async fn get(&self, entity: EntityType, id: i64) -> StoreResult<Option<Row>> {
        self.read(move |conn| load_row(conn, entity, id)).await
    }

    async fn update(&self, entity: EntityType, id: i64, plan: UpdatePlan) -> StoreResult<bool> {
        self.write(move |tx| {
            let Some(row) = load_row(tx, entity, id)? else { return Ok(false) };
            let mut sets = Vec::new();
            for kind in ALL_KINDS.iter().filter(|k| k.owner == entity) {
                sets.push((*kind, load_bindings(tx, *kind, id)?));
            }
            let update = plan(&row, &sets).map_err(|e| StoreError::Rejected(e.0))?;
            for (kind, set) in &update.bindings {
                let ids: Vec<i64> = set.iter().map(|b| b.bound_id).collect();
                check_bound(tx, *kind, &ids)?;
            }
            for (name, v) in &update.values {
                let sql = format!("UPDATE {} SET {name} = ?1 WHERE ID = ?2", table(entity));
                tx.prepare_cached(&sql)
                    .and_then(|mut s| s.execute(params![Sql(v), id]))
                    .map_err(backend)?;
            }
            for mid in &update.delete_multi {
                tx.prepare_cached("DELETE FROM crm_multifield WHERE ID = ?1 AND ENTITY_TYPE_ID = ?2 AND ENTITY_ID = ?3")
                    .and_then(|mut s| s.execute(params![mid, entity.type_id(), id]))
                    .map_err(backend)?;
            }
            for (mid, value_type, value) in &update.set_multi {
                tx.prepare_cached(
                    "UPDATE crm_multifield SET VALUE_TYPE = ?1, VALUE = ?2 \
                     WHERE ID = ?3 AND ENTITY_TYPE_ID = ?4 AND ENTITY_ID = ?5",
                )
                .and_then(|mut s| s.execute(params![value_type, value, mid, entity.type_id(), id]))
                .map_err(backend)?;
            }
            insert_multi(tx, entity, id, &update.add_multi)?;
            for (kind, new) in &update.bindings {
                let old = sets.iter().find(|(k, _)| k == kind).map(|(_, s)| s.as_slice()).unwrap_or(&[]);
                write_bindings(tx, *kind, id, old, new)?;
            }
            Ok(true)
        })
        .await
    }

    async fn list(&self, entity: EntityType, query: ListQuery) -> StoreResult<(Vec<Row>, i64)> {
        self.read(move |conn| list_rows(conn, entity, &query)).await
    }

    async fn exists(&self, entity: EntityType, id: i64) -> StoreResult<bool> {
        self.read(move |conn| exists(conn, entity, id)).await
    }

    async fn delete(&self, entity: EntityType, id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            if !exists(tx, entity, id)? {
                return Ok(false);
            }
            for kind in ALL_KINDS.iter().filter(|k| k.bound == entity) {
                let owners: Vec<i64> = tx
                    .prepare_cached(
                        "SELECT OWNER_ID FROM crm_binding WHERE KIND = ?1 AND BOUND_ID = ?2",
                    )
                    .and_then(|mut s| s.query_map(params![kind.code, id], |r| r.get(0))?.collect())
                    .map_err(backend)?;
                for owner in owners {
                    let old = load_bindings(tx, *kind, owner)?;
                    if let Some(new) = plan_remove(&old, id) {
                        write_bindings(tx, *kind, owner, &old, &new)?;
                    }
                }
            }
            for kind in ALL_KINDS.iter().filter(|k| k.owner == entity) {
                tx.prepare_cached("DELETE FROM crm_binding WHERE KIND = ?1 AND OWNER_ID = ?2")
                    .and_then(|mut s| s.execute(params![kind.code, id]))
                    .map_err(backend)?;
            }
            tx.prepare_cached(
                "DELETE FROM crm_multifield WHERE ENTITY_TYPE_ID = ?1 AND ENTITY_ID = ?2",
            )
            .and_then(|mut s| s.execute(params![entity.type_id(), id]))
            .map_err(backend)?;
            let sql = format!("DELETE FROM {} WHERE ID = ?1", table(entity));
            tx.prepare_cached(&sql)
                .and_then(|mut s| s.execute([id]))
                .map_err(backend)?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl BindingStore for SqliteStore {
    async fn bindings(&self, kind: BindingKind, owner: i64) -> StoreResult<Vec<Binding>> {
        self.read(move |conn| load_bindings(conn, kind, owner))
            .await
    }

    async fn edit_bindings(
        &self,
        kind: BindingKind,
        owner: i64,
        require_owner: bool,
        must_exist: Vec<i64>,
        edit: BindingEdit,
    ) -> StoreResult<bool> {
        self.write(move |tx| {
            if require_owner && !exists(tx, kind.owner, owner)? {
                return Err(StoreError::NotFound);
            }
            check_bound(tx, kind, &must_exist)?;
            let old = load_bindings(tx, kind, owner)?;
            match edit(&old) {
                Some(new) => {
                    write_bindings(tx, kind, owner, &old, &new)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
        .await
    }
}

fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.code())
        .collect::<Vec<_>>()
        .join(",")
}

fn webhook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    let scopes: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        user_id: r.get(1)?,
        secret_hash: r.get(2)?,
        scopes: scopes.split(',').filter_map(Scope::parse).collect(),
        created_at: r.get(4)?,
        revoked: r.get::<_, i64>(5)? != 0,
    })
}

const WEBHOOK_COLUMNS: &str = "ID, USER_ID, SECRET_HASH, SCOPES, CREATED_AT, REVOKED";

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn bootstrap(
        &self,
        admin: User,
        secret_hash: String,
        scopes: Vec<Scope>,
    ) -> StoreResult<bool> {
        self.write(move |tx| {
            let users: i64 = tx
                .query_row("SELECT COUNT(*) FROM app_user", [], |r| r.get(0))
                .map_err(backend)?;
            if users > 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO app_user (ID, NAME, LAST_NAME, ADMIN, ACTIVE) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![admin.id, admin.name, admin.last_name, admin.admin, admin.active],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO webhook (USER_ID, SECRET_HASH, SCOPES, CREATED_AT) VALUES (?1, ?2, ?3, ?4)",
                params![admin.id, secret_hash, scopes_text(&scopes), unix_now()],
            )
            .map_err(backend)?;
            Ok(true)
        })
        .await
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT ID, NAME, LAST_NAME, ADMIN, ACTIVE FROM app_user WHERE ID = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok(User {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        last_name: r.get(2)?,
                        admin: r.get(3)?,
                        active: r.get(4)?,
                    })
                })
                .optional()
            })
            .map_err(backend)
        })
        .await
    }

    async fn create_webhook(
        &self,
        user_id: i64,
        secret_hash: String,
        scopes: Vec<Scope>,
    ) -> StoreResult<i64> {
        self.write(move |tx| {
            let known: bool = tx
                .prepare_cached("SELECT 1 FROM app_user WHERE ID = ?1")
                .and_then(|mut s| s.exists([user_id]))
                .map_err(backend)?;
            if !known {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO webhook (USER_ID, SECRET_HASH, SCOPES, CREATED_AT) VALUES (?1, ?2, ?3, ?4)",
                params![user_id, secret_hash, scopes_text(&scopes), unix_now()],
            )
            .map_err(backend)?;
            Ok(tx.last_insert_rowid())
        })
        .await
    }

    async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        self.read(|conn| {
            let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhook ORDER BY ID");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_map([], webhook_row)?.collect())
                .map_err(backend)
        })
        .await
    }

    async fn active_webhooks(&self, user_id: i64) -> StoreResult<Vec<Webhook>> {
        self.read(move |conn| {
            let sql =
                format!("SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE USER_ID = ?1 AND REVOKED = 0");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_map([user_id], webhook_row)?.collect())
                .map_err(backend)
        })
        .await
    }

    async fn revoke_webhook(&self, id: i64) -> StoreResult<bool> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE webhook SET REVOKED = 1 WHERE ID = ?1 AND REVOKED = 0",
                [id],
            )
            .map(|n| n > 0)
            .map_err(backend)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        // Dropping the senders ends the threads' loops once queued work is done.
        if let Ok(mut ch) = self.channels.lock() {
            ch.take();
        }
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                filter: parse_filter(EntityType::Lead, filter.as_object().unwrap(), tz).unwrap(),
                order: parse_order(EntityType::Lead, order.as_object().unwrap()),
                offset,
                limit: 50,
                count,
                with_multi: false,
            };
            let mut args = Vec::new();
            let wh = where_clause(EntityType::Lead, &q.filter, &mut args);
            let (sql, args) = page_sql(EntityType::Lead, &q, args, &wh);
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    r.get::<_, String>(3)
                })
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
        for entity in [EntityType::Lead, EntityType::Contact] {
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
            assert_eq!(
                cols.len(),
                entity.columns().count() + 1,
                "{entity:?} has extra columns"
            );
        }
    }
}
