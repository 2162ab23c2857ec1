//! `TestApp`: the real server (real SQLite file in a temp dir, real socket on port 0),
//! plus small call helpers.

use chrono::{DateTime, Utc};
use clap::Parser;
use crm_server::app::Application;
use crm_server::config::Cli;
use crm_server::rpc::Services;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A clock the test sets by hand.
#[derive(Debug)]
pub(crate) struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    /// A clock standing at `t`.
    pub(crate) fn at(t: DateTime<Utc>) -> Self {
        Self(Mutex::new(t))
    }

    /// Moves the clock to `t`.
    pub(crate) fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl crm_core::clock::Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The storage backend of the HTTP tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// A SQLite file in the test's temporary directory (the default).
    Sqlite,
    /// A fresh PostgreSQL database per test: `CRM_TEST_BACKEND=postgres`.
    Postgres,
}

/// The backend chosen for this run.
pub(crate) fn backend() -> Backend {
    match std::env::var("CRM_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// A running server for one test.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// The administrator's webhook base URL, ending in `/`.
    pub(crate) hook: String,
    dir: Option<TempDir>,
    /// The PostgreSQL database under `CRM_TEST_BACKEND=postgres` (dropped after the test).
    database: Option<crm_store::testing::FreshDatabase>,
    /// The server's services (store access for assertions).
    pub(crate) services: Arc<Services>,
    pub(crate) client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts a server with extra command-line flags.
    pub(crate) async fn spawn_with(extra: &[&str]) -> Self {
        Self::spawn_with_clock(extra, Arc::new(crm_core::clock::SystemClock)).await
    }

    /// Starts a server whose clock the test controls.
    pub(crate) async fn spawn_with_clock(
        extra: &[&str],
        clock: Arc<dyn crm_core::clock::Clock>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args = vec![
            "crm-server".to_string(),
            "--data-dir".into(),
            dir.path().display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        let database = match backend() {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let db = crm_store::testing::FreshDatabase::create("an HTTP test")
                    .await
                    .expect("CRM_TEST_BACKEND=postgres needs a PostgreSQL server");
                args.extend(["--database-url".to_string(), db.url.clone()]);
                Some(db)
            }
        };
        args.extend(extra.iter().map(|s| s.to_string()));
        let config = Cli::parse_from(args).config;
        let app = Application::builder(&config)
            .clock(clock)
            .build()
            .await
            .expect("server builds");
        let hook = app
            .bootstrap_webhook
            .clone()
            .expect("first start prints a webhook");
        let base = app.base_url.clone();
        let services = app.services();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self {
            base,
            hook,
            dir: Some(dir),
            database,
            services,
            // A hung server fails the test instead of hanging the run.
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Starts a server with default settings.
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// POSTs a JSON body to `<hook><method>`; returns status and body.
    pub(crate) async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}{method}", self.hook))
            .json(&params)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// POSTs raw bytes with a content type to `<hook><method>`.
    pub(crate) async fn post(
        &self,
        method: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}{method}", self.hook))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// POSTs a form-encoded body.
    pub(crate) async fn form(&self, method: &str, body: &str) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}{method}", self.hook))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// GETs an absolute URL.
    pub(crate) async fn get(&self, url: &str) -> (u16, Value) {
        read(self.client.get(url).send().await.expect("request")).await
    }

    /// Calls a method that must succeed; returns `result`.
    pub(crate) async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, params.clone()).await;
        assert_eq!(status, 200, "{method} {params} → {body}");
        assert!(body.get("error").is_none(), "{method} → {body}");
        body["result"].clone()
    }

    /// The backend this test runs on.
    pub(crate) fn backend(&self) -> Backend {
        if self.database.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The PostgreSQL database's URL, under `CRM_TEST_BACKEND=postgres`.
    pub(crate) fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    /// The server's SQLite database file.
    pub(crate) fn db_path(&self) -> std::path::PathBuf {
        self.dir
            .as_ref()
            .expect("data dir")
            .path()
            .join("crm.sqlite3")
    }

    /// Stops the server gracefully, waits for it, and hands back its data directory.
    pub(crate) async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stops cleanly");
        }
        self.dir.take().expect("data dir")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Status and JSON body of a response.
pub(crate) async fn read(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Asserts a Bitrix error envelope: code, text, status, and no `result`/`time`.
pub(crate) fn assert_error(got: &(u16, Value), status: u16, code: &str, text: &str) {
    let (s, body) = got;
    assert_eq!(
        (
            *s,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (status, Some(code), Some(text)),
        "{body}"
    );
    assert!(
        body.get("result").is_none() && body.get("time").is_none(),
        "{body}"
    );
}

/// Asserts that `v` is a server time string (RFC 3339) within a minute of now.
pub(crate) fn assert_now(v: &Value) {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("not a time string: {v}"));
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {text}"));
    let now = Utc::now();
    assert!(
        (now - t.to_utc()).num_seconds().abs() <= 60,
        "{text} is not now ({now})"
    );
}

/// The eight keys of the `time` object, in the order clients read them.
pub(crate) const TIME_KEYS: [&str; 8] = [
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating_reset_at",
    "operating",
];

/// The `ID`s of a list result, as integers.
pub(crate) fn ids(result: &Value) -> Vec<i64> {
    result
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {result}"))
        .iter()
        .map(|r| r["ID"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Adds leads 1..=n (on a fresh server) through batches of 50 `crm.lead.add` commands;
/// `query(i)` is the i-th command's query string.
pub(crate) async fn add_leads_with(app: &TestApp, n: usize, query: impl Fn(usize) -> String) {
    for chunk in (1..=n).collect::<Vec<_>>().chunks(50) {
        let cmd: Vec<Value> = chunk
            .iter()
            .map(|i| Value::String(format!("crm.lead.add?{}", query(*i))))
            .collect();
        let r = app.ok("batch", serde_json::json!({"cmd": cmd})).await;
        assert_eq!(r["result_error"], serde_json::json!([]), "{r}");
    }
}
