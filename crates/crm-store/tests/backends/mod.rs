//! The backends the conformance tests run against: a SQLite file in a temporary directory,
//! and a fresh PostgreSQL database created for the test and dropped after it.
//!
//! PostgreSQL is found at `CRM_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, the server the fresh databases are made
//! on). Without one, the PostgreSQL half of a test is skipped with a `SKIPPED` line on
//! stderr, except under `CI=true`, where it fails.

#![allow(dead_code, unreachable_pub)]

use crm_core::store::Store;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server fresh databases are created on.
pub fn postgres_server() -> String {
    std::env::var("CRM_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// True under CI: `CI` is set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// A store under test, with what keeps it alive (a directory, a database to drop).
pub struct Backend {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The URL it was opened with (to open a second store on the same database).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _db: Option<FreshDatabase>,
}

impl Backend {
    /// A SQLite file in a temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("crm.sqlite3").display());
        let store = crm_store::connect(&url, crm_store::Options::default())
            .await
            .unwrap();
        Self {
            store,
            url,
            _dir: Some(dir),
            _db: None,
        }
    }

    /// A fresh PostgreSQL database; `None` (after saying so) when no server is reachable
    /// outside CI.
    pub async fn postgres(test: &str) -> Option<Self> {
        let db = FreshDatabase::create(test).await?;
        let store = crm_store::connect(&db.url, crm_store::Options { pool_size: 8 })
            .await
            .unwrap();
        Some(Self {
            store,
            url: db.url.clone(),
            _dir: None,
            _db: Some(db),
        })
    }

    /// Opens a second store on the same database (another server process would).
    pub async fn another(&self) -> Arc<dyn Store> {
        crm_store::connect(&self.url, crm_store::Options { pool_size: 8 })
            .await
            .unwrap()
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A database created for one test and dropped (with its connections) when done.
pub struct FreshDatabase {
    /// Its URL.
    pub url: String,
    name: String,
}

impl FreshDatabase {
    /// Creates `crm_test_<pid>_<n>` on the test server; `None` outside CI when there is
    /// no server (after writing a visible `SKIPPED` line).
    pub async fn create(test: &str) -> Option<Self> {
        let server = postgres_server();
        let admin = match tokio_postgres::connect(&server, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                client
            }
            Err(e) if in_ci() => {
                panic!("PostgreSQL is required under CI ({e}); set CRM_TEST_POSTGRES")
            }
            Err(e) => {
                // Not eprintln!: the harness hides the captured output of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test} on PostgreSQL: no server at {} ({e}); under CI=true this fails",
                    crm_store::redact(&server)
                );
                return None;
            }
        };
        let name = format!(
            "crm_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        Some(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (server, name) = (postgres_server(), self.name.clone());
        // Drop runs outside any runtime: a small one of its own does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&server, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Runs a contract case on both backends, as two tests: `<case>::sqlite` and
/// `<case>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let b = $crate::backends::Backend::sqlite().await;
                super::$case(&b).await;
                b.store.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(b) = $crate::backends::Backend::postgres(concat!(stringify!($case))).await else {
                    return;
                };
                super::$case(&b).await;
                b.store.close().await;
            }
        }
    )*};
}
