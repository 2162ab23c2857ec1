//! Storage backends behind [`crm_core::store::Store`].
//!
//! # Layout
//! - [`sqlite`]: the embedded default — `rusqlite` on dedicated threads (one writer that
//!   runs each operation as one transaction, a few readers), bridged to async callers
//!   through channels.
//! - [`connect`]: picks a backend from the database URL.

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
