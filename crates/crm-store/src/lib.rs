//! Storage backends behind [`crm_core::store::Store`].
//!
//! # Layout
//! - `sql`: SQL shared by the backends — table and column names from the field tables,
//!   and list queries (filter, order, paging) rendered for a dialect.
//! - [`sqlite`]: the embedded default — `rusqlite` on dedicated threads (one writer that
//!   runs each operation as one transaction, a few readers), bridged to async callers
//!   through channels.
//! - [`connect`]: picks a backend from the database URL.

mod sql;
pub mod sqlite;

use anyhow::{Context, bail};
use crm_core::store::Store;
use std::path::Path;
use std::sync::Arc;

/// Opens the store named by `url`: `sqlite://<path>` (file created with its directory and
/// migrated on first use) or `sqlite::memory:`. `postgres://` is recognised but not
/// available yet.
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let store = if rest == ":memory:" || rest == "//:memory:" {
            sqlite::SqliteStore::open_in_memory()?
        } else {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                bail!("database URL `{url}` names no file");
            }
            let path = Path::new(path);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating database directory {}", dir.display()))?;
            }
            sqlite::SqliteStore::open(path)?
        };
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!(
            "the PostgreSQL backend is not available in this version; use a sqlite:// database URL"
        );
    }
    bail!("unsupported database URL scheme (expected sqlite:// or postgres://)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn postgres_urls_fail_clearly_until_the_backend_exists() {
        let err = connect("postgres://postgres@127.0.0.1:5432/crm")
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("PostgreSQL backend is not available"),
            "{err}"
        );
        let err = connect("mysql://x").await.unwrap_err();
        assert!(
            err.to_string().contains("unsupported database URL"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_file_database_is_created_with_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/crm.sqlite3");
        let store = connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        assert!(path.exists());
        assert_eq!(store.user(1).await.unwrap(), None);
        store.close().await;
    }
}
