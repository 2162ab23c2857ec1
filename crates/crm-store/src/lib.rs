//! Storage backends behind [`crm_core::store::Store`].
//!
//! # Layout
//! - `sql`: SQL shared by the backends — table and column names from the field tables,
//!   list queries (filter, order, paging) rendered for a dialect, stored formats.
//! - [`sqlite`]: the embedded default — `rusqlite` on dedicated threads (one writer that
//!   runs each operation as one transaction, a few readers), bridged to async callers
//!   through channels.
//! - [`postgres`]: `tokio-postgres` with a connection pool, for several servers on one
//!   database.
//! - [`connect`]: picks a backend from the database URL.
//! - [`testing`]: fresh PostgreSQL databases for the test suites.

pub mod postgres;
mod sql;
pub mod sqlite;
pub mod testing;

use anyhow::{Context, bail};
use crm_core::store::Store;
use std::path::Path;
use std::sync::Arc;

/// Settings of a store beyond its URL.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Most connections a PostgreSQL store keeps open.
    pub pool_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { pool_size: 16 }
    }
}

/// The URL with its password (in the user part or a `password=` parameter) replaced by
/// `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Opens the store named by `url`: `sqlite://<path>` (file created with its directory and
/// migrated on first use), `sqlite::memory:`, or `postgres://…` / `postgresql://…`
/// (migrated on first use). Error messages never contain the URL's password.
pub async fn connect(url: &str, options: Options) -> anyhow::Result<Arc<dyn Store>> {
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
        let store = postgres::PostgresStore::connect(url, options.pool_size)
            .await
            .with_context(|| format!("opening PostgreSQL database {}", redact(url)))?;
        return Ok(Arc::new(store));
    }
    bail!("unsupported database URL scheme (expected sqlite:// or postgres://)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_schemes_fail_clearly_and_passwords_stay_out_of_errors() {
        let err = connect("mysql://x", Options::default()).await.unwrap_err();
        assert!(
            err.to_string().contains("unsupported database URL"),
            "{err}"
        );
        // Nothing listens on port 1: the error names the database without its password.
        let err = connect(
            "postgres://crm:s3cr3t-pw@127.0.0.1:1/crm",
            Options::default(),
        )
        .await
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(!text.contains("s3cr3t-pw"), "{text}");
        assert!(
            text.contains("postgres://crm:***@127.0.0.1:1/crm"),
            "{text}"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        for (url, want) in [
            ("postgres://u:p@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?sslmode=disable&password=x",
                "postgres://h/db?sslmode=disable&password=***",
            ),
            ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
            ("sqlite://data/crm.sqlite3", "sqlite://data/crm.sqlite3"),
        ] {
            assert_eq!(redact(url), want, "{url}");
        }
    }

    #[tokio::test]
    async fn a_file_database_is_created_with_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/crm.sqlite3");
        let store = connect(&format!("sqlite://{}", path.display()), Options::default())
            .await
            .unwrap();
        assert!(path.exists());
        assert_eq!(store.user(1).await.unwrap(), None);
        store.close().await;
    }
}
