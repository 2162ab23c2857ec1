//! The backends the conformance tests run against: a SQLite file in a temporary directory,
//! and a fresh PostgreSQL database (`crm_store::testing`) created for the test and dropped
//! after it.

#![allow(dead_code, unreachable_pub)]

use crm_core::store::Store;
use crm_store::testing::FreshDatabase;
use std::sync::Arc;

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
