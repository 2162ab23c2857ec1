//! SQLite backend: `rusqlite` on dedicated threads.
//!
//! One writer thread owns the only write connection and runs every mutating operation as
//! one closure, so edits of one binding set are serialised without locks in the domain (and
//! a second process writing to the file makes them wait). Reader threads (WAL mode) serve
//! reads concurrently. Async callers send closures over channels and await the answer on a
//! oneshot.
//!
//! # Group commit
//! Writes that queue up while one runs share its transaction: the writer opens one
//! `IMMEDIATE` transaction, runs each waiting write under its own savepoint (a write that
//! fails rolls back to its savepoint and answers at once, without touching the others),
//! commits once, and only then answers the writes that succeeded — a caller hears of a
//! write only after it is committed, as before. One commit per group instead of one per
//! write is where the writer's time went under concurrent load.
//!
//! # Layout
//! - this module: the threads, their channels and connections, opening and closing;
//! - [`migrate`]: the embedded schema migrations;
//! - [`rows`]: values, row mapping and the reads every operation shares;
//! - `entity`, `binding`, `identity`: the three storage traits.

mod access;
mod binding;
mod entity;
mod identity;
mod like;
mod migrate;
mod pipeline;
mod reset;
mod rows;
mod snapshot;
mod transfer;
mod types;
mod userfield;

use anyhow::Context;
use async_trait::async_trait;
use crm_core::store::{Store, StoreError, StoreResult};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Work for a database thread.
enum Job {
    /// Runs on the bare connection: a read, or a write that manages its own transaction
    /// (snapshots). On the writer it ends the group before it.
    Raw(Box<dyn FnOnce(&mut Connection) + Send>),
    /// A write (or a read of a unit of work that has written) run inside the group's
    /// transaction, under its own savepoint (see the module documentation).
    Grouped(GroupedJob),
    /// A unit of work (a `batch`) begins: while one is open, a group waits a moment for its
    /// next write instead of committing at once.
    Open(u64),
    /// It ends; `reply` hears once everything it wrote is committed.
    Close(u64, Option<tokio::sync::oneshot::Sender<StoreResult<()>>>),
}

/// A grouped job: it gets the transaction, or the error that kept the group from beginning
/// one, and says how it went.
type GroupedJob = Box<dyn FnOnce(Result<&Transaction<'_>, StoreError>) -> Ran + Send>;

/// How a grouped job went.
enum Ran {
    /// It failed and has answered: its savepoint is rolled back.
    Failed,
    /// It succeeded and has answered already (a job of a unit of work, whose caller hears
    /// of the commit when the unit closes).
    Answered,
    /// It succeeded; its answer is sent once the group's commit is known.
    Pending(Deliver),
}

/// The answer of a successful grouped write, sent once its group's commit succeeded (or
/// replaced by the commit's error).
type Deliver = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// How long a group with an open unit of work waits for that unit's next job before it
/// commits what it has (a unit whose commands pause does not hold other writers' answers).
const UNIT_WAIT: Duration = Duration::from_millis(2);

tokio::task_local! {
    /// The unit of work the current task runs in, if any.
    static UNIT: Arc<Unit>;
}

/// A unit of work: whether it has written (from then on its reads go to the writer,
/// inside the open transaction, so they see its writes).
#[derive(Debug)]
struct Unit {
    wrote: std::sync::atomic::AtomicBool,
}

/// Closes a unit whose work ended early (its future was dropped: the client went away).
struct CloseOnDrop {
    writer: Sender<Job>,
    id: u64,
    armed: bool,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.writer.send(Job::Close(self.id, None));
        }
    }
}

/// Most writes one group commits together: bounds the wait of the first of them.
const GROUP_MAX: usize = 256;

/// Reader threads per file database.
const READERS: usize = 3;

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    channels: Mutex<Option<Channels>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Where snapshots are kept: beside the database file (`<file>.snapshots/`), or a
    /// temporary directory for an in-memory database.
    snapshots: PathBuf,
    /// Transactions the writer committed for grouped writes (one per group).
    commits: Arc<AtomicU64>,
}

#[derive(Debug, Clone)]
struct Channels {
    writer: Sender<Job>,
    readers: Sender<Job>,
}

/// A SQLite failure as a store error: a lock not obtained within the busy timeout is a
/// conflict with concurrent work, anything else a backend failure.
pub(super) fn db(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::conflict(e),
        _ => StoreError::backend(e),
    }
}

/// A failure of the thread machinery (a closed channel, a poisoned lock).
fn stopped(what: &str) -> StoreError {
    StoreError::backend(format!("the SQLite store {what}"))
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

/// Prepared statements each connection keeps. rusqlite's default (16) is fewer than the
/// distinct statements one busy connection runs, so they were prepared again and again
/// (a tenth of a `crm.lead.get`'s instructions went to `sqlite3_prepare`).
const STATEMENT_CACHE: usize = 512;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    like::install(conn)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Runs one job on the bare connection. A panic inside it is contained: the job's
/// transaction rolls back as it unwinds, its caller gets "the operation failed (it
/// panicked)" (a storage failure), and the thread and its connection keep serving the next
/// job.
fn run_raw(job: Box<dyn FnOnce(&mut Connection) + Send>, conn: &mut Connection) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn)));
    if outcome.is_err() {
        tracing::error!("a storage operation panicked; its transaction was rolled back");
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

/// Runs one job alone: a raw one as it is, a grouped one in a transaction of its own.
fn run_job(job: Job, conn: &mut Connection, commits: &AtomicU64) {
    match job {
        Job::Raw(job) => run_raw(job, conn),
        Job::Grouped(job) => {
            run_group(conn, commits, job, None, &mut HashSet::new());
        }
        Job::Open(_) => {}
        Job::Close(_, reply) => {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(()));
            }
        }
    }
}

/// Runs one statement through the connection's statement cache (`execute_batch` prepares
/// its text every time, which showed in profiles for these per-job statements).
fn cached(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

/// The same failure again, for each write of a group whose commit failed.
fn again(e: &rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::conflict(e.to_string())
        }
        _ => StoreError::backend(e.to_string()),
    }
}

/// The next job for the group: one already queued, or, while a unit of work is open, one
/// that arrives within [`UNIT_WAIT`].
fn next_job(rx: Option<&Receiver<Job>>, open: &HashSet<u64>) -> Option<Job> {
    let rx = rx?;
    match rx.try_recv() {
        Ok(job) => Some(job),
        Err(_) if !open.is_empty() => rx.recv_timeout(UNIT_WAIT).ok(),
        Err(_) => None,
    }
}

/// Runs `first` and the grouped jobs that follow it on `rx` in one transaction (see the
/// module documentation), commits it and delivers the answers. Units of work opening and
/// closing on the way are tracked in `open`. Returns the raw job that ended the group, which
/// has not run yet.
fn run_group(
    conn: &mut Connection,
    commits: &AtomicU64,
    first: GroupedJob,
    rx: Option<&Receiver<Job>>,
    open: &mut HashSet<u64>,
) -> Option<Job> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            if let Ran::Pending(deliver) = first(Err(db(e))) {
                deliver(Ok(()));
            }
            return None;
        }
    };
    let mut done: Vec<Deliver> = Vec::new();
    let mut ran = 0;
    let mut next = Some(first);
    let mut held = None;
    'group: while let Some(job) = next.take() {
        if cached(&tx, "SAVEPOINT w").is_err() {
            // Without a savepoint the write cannot be isolated: it runs in a group of its
            // own after this one.
            held = Some(Job::Grouped(job));
            break;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(&tx))));
        match outcome {
            Ok(Ran::Pending(deliver)) => {
                let _ = cached(&tx, "RELEASE w");
                done.push(deliver);
            }
            Ok(Ran::Answered) => {
                let _ = cached(&tx, "RELEASE w");
            }
            Ok(Ran::Failed) => {
                let _ = cached(&tx, "ROLLBACK TO w").and_then(|_| cached(&tx, "RELEASE w"));
            }
            Err(_) => {
                tracing::error!("a storage operation panicked; its writes were rolled back");
                let _ = cached(&tx, "ROLLBACK TO w").and_then(|_| cached(&tx, "RELEASE w"));
            }
        }
        if tx.is_autocommit() {
            // SQLite ended the transaction itself (a full disk, an I/O error): every write
            // of the group is lost with it.
            for deliver in done {
                deliver(Err(StoreError::backend(
                    "the transaction was rolled back by the database",
                )));
            }
            return held;
        }
        ran += 1;
        if ran >= GROUP_MAX {
            break;
        }
        loop {
            match next_job(rx, open) {
                Some(Job::Grouped(job)) => {
                    next = Some(job);
                    break;
                }
                Some(Job::Open(id)) => {
                    open.insert(id);
                }
                Some(Job::Close(id, reply)) => {
                    open.remove(&id);
                    if let Some(reply) = reply {
                        done.push(Box::new(move |committed| {
                            let _ = reply.send(committed);
                        }));
                    }
                }
                Some(raw) => {
                    held = Some(raw);
                    break 'group;
                }
                None => break 'group,
            }
        }
    }
    let committed = tx.commit();
    commits.fetch_add(1, Ordering::Relaxed);
    match committed {
        Ok(()) => done.into_iter().for_each(|deliver| deliver(Ok(()))),
        Err(e) => done.into_iter().for_each(|deliver| deliver(Err(again(&e)))),
    }
    held
}

/// A reader thread. Each job runs in one read transaction: its statements see one
/// snapshot, and the cost of starting a read (locks on the WAL index) is paid once per job
/// instead of once per statement, which profiles showed as the largest single cost of a
/// `crm.lead.get`.
fn spawn_reader(
    name: String,
    rx: Receiver<Job>,
    mut conn: Connection,
    commits: Arc<AtomicU64>,
) -> anyhow::Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new().name(name).spawn(move || {
        while let Ok(job) = rx.recv() {
            let began = cached(&conn, "BEGIN").is_ok();
            run_job(job, &mut conn, &commits);
            if began && !conn.is_autocommit() {
                let _ = cached(&conn, "COMMIT");
            }
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
    commits: Arc<AtomicU64>,
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
            let mut held: Option<Job> = None;
            let mut open = HashSet::new();
            loop {
                let job = match held.take() {
                    Some(job) => Ok(job),
                    None => rx.recv_timeout(CHECKPOINT_IDLE),
                };
                match job {
                    Ok(Job::Raw(job)) => {
                        run_raw(job, &mut conn);
                        dirty = true;
                    }
                    Ok(Job::Open(id)) => {
                        open.insert(id);
                    }
                    Ok(Job::Close(id, reply)) => {
                        open.remove(&id);
                        if let Some(reply) = reply {
                            let _ = reply.send(Ok(()));
                        }
                    }
                    Ok(Job::Grouped(first)) => {
                        held = run_group(&mut conn, &commits, first, Some(&rx), &mut open);
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
        migrate::migrate(&mut writer)?;
        let mut readers = Vec::new();
        for _ in 0..READERS {
            let r = Connection::open(path)?;
            configure(&r)?;
            readers.push(r);
        }
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mut snapshots = path.as_os_str().to_owned();
        snapshots.push(".snapshots");
        Self::start(
            writer,
            readers,
            Some(PathBuf::from(wal)),
            PathBuf::from(snapshots),
        )
    }

    /// A private in-memory database (one connection serves reads and writes).
    pub fn open_in_memory() -> anyhow::Result<Self> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrate::migrate(&mut conn)?;
        // Unique per store in this process: two in-memory stores keep their own.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let snapshots =
            std::env::temp_dir().join(format!("crm-memory-snapshots-{}-{n}", std::process::id()));
        Self::start(conn, Vec::new(), None, snapshots)
    }

    fn start(
        writer: Connection,
        readers: Vec<Connection>,
        wal: Option<PathBuf>,
        snapshots: PathBuf,
    ) -> anyhow::Result<Self> {
        let (wtx, wrx) = crossbeam_channel::unbounded::<Job>();
        let commits = Arc::new(AtomicU64::new(0));
        let mut reader_threads = Vec::new();
        let rtx = if readers.is_empty() {
            wtx.clone()
        } else {
            let (rtx, rrx) = crossbeam_channel::unbounded::<Job>();
            for (i, conn) in readers.into_iter().enumerate() {
                reader_threads.push(spawn_reader(
                    format!("sqlite-reader-{i}"),
                    rrx.clone(),
                    conn,
                    commits.clone(),
                )?);
            }
            rtx
        };
        let writer = spawn_writer(wrx, writer, wal, reader_threads, commits.clone())?;
        Ok(Self {
            channels: Mutex::new(Some(Channels {
                writer: wtx,
                readers: rtx,
            })),
            threads: Mutex::new(vec![writer]),
            snapshots,
            commits,
        })
    }

    /// How many transactions grouped writes have committed so far (fewer than the writes
    /// when they queued up together).
    pub fn group_commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn channels(&self) -> StoreResult<Channels> {
        self.channels
            .lock()
            .map_err(|_| stopped("lock is poisoned"))?
            .clone()
            .ok_or_else(|| stopped("is closed"))
    }

    /// Sends `job` to the writer (`write`) or to a reader, and awaits its answer.
    async fn send<T>(
        &self,
        write: bool,
        job: Job,
        rx: tokio::sync::oneshot::Receiver<StoreResult<T>>,
    ) -> StoreResult<T> {
        let channels = self.channels()?;
        let sender = if write {
            &channels.writer
        } else {
            &channels.readers
        };
        sender.send(job).map_err(|_| stopped("thread stopped"))?;
        rx.await
            .map_err(|_| stopped("operation failed (it panicked)"))?
    }

    /// Runs `f` on the bare connection of the writer (`write`) or of a reader.
    pub(super) async fn run<T, F>(&self, write: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Raw(Box::new(move |conn| {
            let _ = tx.send(f(conn));
        }));
        self.send(write, job, rx).await
    }

    /// Runs `f` in a transaction on the writer thread — its own savepoint in the
    /// transaction of a group of writes (see the module documentation); the answer comes
    /// once that transaction is committed.
    ///
    /// The transaction starts as a writer (`BEGIN IMMEDIATE`): a deferred one would read
    /// first and then upgrade, and SQLite does not call the busy handler on that upgrade,
    /// so a lock held by another process (the `webhook` CLI, a backup) would fail the
    /// write at once instead of waiting up to the busy timeout.
    pub(super) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let unit = UNIT.try_with(Arc::clone).ok();
        if let Some(unit) = &unit {
            unit.wrote.store(true, Ordering::Relaxed);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Grouped(Box::new(move |group| match group.and_then(f) {
            // In a unit of work the answer goes at once: the unit's caller hears of the
            // commit when the unit closes.
            Ok(value) if unit.is_some() => {
                let _ = tx.send(Ok(value));
                Ran::Answered
            }
            Ok(value) => Ran::Pending(Box::new(move |committed: StoreResult<()>| {
                let _ = tx.send(committed.map(|()| value));
            })),
            Err(e) => {
                let _ = tx.send(Err(e));
                Ran::Failed
            }
        }));
        self.send(true, job, rx).await
    }

    /// Runs `f` on a reader thread — or, in a unit of work that has written, on the writer
    /// inside the open transaction, so that it sees what the unit wrote.
    pub(super) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let wrote = UNIT
            .try_with(|u| u.wrote.load(Ordering::Relaxed))
            .unwrap_or(false);
        if !wrote {
            return self.run(false, move |conn| f(conn)).await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Grouped(Box::new(move |group| {
            let out = group.and_then(|t| f(t));
            let ran = if out.is_ok() {
                Ran::Answered
            } else {
                Ran::Failed
            };
            let _ = tx.send(out);
            ran
        }));
        self.send(true, job, rx).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn grouped<'a>(
        &'a self,
        work: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>,
    ) -> StoreResult<()> {
        if UNIT.try_with(|_| ()).is_ok() {
            work.await;
            return Ok(());
        }
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let writer = self.channels()?.writer;
        writer
            .send(Job::Open(id))
            .map_err(|_| stopped("thread stopped"))?;
        let mut guard = CloseOnDrop {
            writer: writer.clone(),
            id,
            armed: true,
        };
        let unit = Arc::new(Unit {
            wrote: std::sync::atomic::AtomicBool::new(false),
        });
        UNIT.scope(unit, work).await;
        guard.armed = false;
        let (tx, rx) = tokio::sync::oneshot::channel();
        writer
            .send(Job::Close(id, Some(tx)))
            .map_err(|_| stopped("thread stopped"))?;
        rx.await.map_err(|_| stopped("thread stopped"))?
    }

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
mod tests;
