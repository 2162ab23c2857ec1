//! Test support shared by the test suites of the workspace: fresh PostgreSQL databases,
//! one per test, dropped afterwards.
//!
//! The server they are made on is `CRM_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without a reachable server, a test's
//! PostgreSQL half is skipped with a `SKIPPED` line on stderr, except under `CI=true`,
//! where it fails.

use std::io::Write;
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
                    crate::redact(&server)
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
