//! The real binary on a free port: first start prints a webhook, the webhook subcommands,
//! HTTPS with the generated certificate, graceful shutdown on SIGTERM.

use crate::helpers::read;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_crm-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server binary, killed if a test panics before stopping it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts the binary and reads stdout up to the line that contains `last`.
fn start(dir: &Path, port: u16, extra: &[&str], last: &str) -> (Server, Vec<String>) {
    let mut child = Command::new(BIN)
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log",
            "warn",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..3 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        lines.push(line.trim().to_string());
        if line.contains(last) {
            break;
        }
    }
    (Server(Some(child)), lines)
}

fn cli(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["--data-dir", dir.to_str().unwrap(), "--log", "warn"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn url_in(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.split_whitespace().find(|w| w.contains("/rest/1/")))
        .unwrap_or_else(|| panic!("no webhook URL in {lines:?}"))
        .to_string()
}

fn terminate(mut server: Server) {
    let mut child = server.0.take().expect("running");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "server exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("server did not stop on SIGTERM");
}

async fn wait_up(client: &reqwest::Client, url: &str) {
    for _ in 0..100 {
        if client.get(url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not come up at {url}");
}

#[tokio::test]
async fn the_binary_serves_manages_webhooks_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (child, lines) = start(dir.path(), port, &[], "webhook");
    let hook = url_in(&lines);
    assert!(
        hook.starts_with(&format!("http://127.0.0.1:{port}/rest/1/")),
        "{hook}"
    );
    let client = reqwest::Client::new();
    wait_up(&client, &format!("http://127.0.0.1:{port}/healthz")).await;
    let (status, body) = read(
        client
            .post(format!("{hook}server.time"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A second webhook with only the user scope; listed without secrets; revoked → 401.
    let (ok, out) = cli(
        dir.path(),
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "webhook",
            "create",
            "--user",
            "1",
            "--scope",
            "user",
        ],
    );
    assert!(ok, "{out}");
    let second = out.trim().to_string();
    assert!(
        second.starts_with(&format!("http://127.0.0.1:{port}/rest/1/")),
        "{second}"
    );
    let secret = second
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (status, body) = read(client.get(format!("{second}scope")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, serde_json::json!(["user"]))
    );
    let (ok, listing) = cli(dir.path(), &["webhook", "list"]);
    assert!(
        ok && listing.contains("user") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(&secret), "list printed a secret");
    let (ok, out) = cli(dir.path(), &["webhook", "revoke", "2"]);
    assert!(ok, "{out}");
    let (status, body) = read(client.get(format!("{second}scope")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("INVALID_CREDENTIALS")),
        "{body}"
    );
    let (ok, _) = cli(dir.path(), &["webhook", "revoke", "2"]);
    assert!(!ok, "revoking twice must fail");
    let (ok, out) = cli(dir.path(), &["webhook", "create", "--user", "7"]);
    assert!(!ok && out.contains("user 7 does not exist"), "{out}");
    let (ok, listing) = cli(dir.path(), &["webhook", "list"]);
    assert!(ok && listing.contains("revoked"), "{listing}");

    terminate(child);
    // A restart does not print a new administrator webhook, and the old one still works.
    let (child, lines) = start(dir.path(), port, &[], "listening");
    assert!(lines.iter().all(|l| !l.contains("/rest/1/")), "{lines:?}");
    wait_up(&client, &format!("http://127.0.0.1:{port}/healthz")).await;
    let (status, _) = read(client.get(format!("{hook}profile")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    terminate(child);
}

#[tokio::test]
async fn self_signed_tls_works_with_curl_and_the_printed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (child, lines) = start(dir.path(), port, &["--tls-self-signed"], "webhook");
    let hook = url_in(&lines);
    assert!(hook.starts_with("https://"), "{hook}");
    let cert = lines
        .iter()
        .find_map(|l| l.strip_prefix("TLS certificate (trust it in clients): "))
        .unwrap_or_else(|| panic!("no certificate path in {lines:?}"))
        .to_string();
    let mut body = Value::Null;
    for _ in 0..100 {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--cacert",
                &cert,
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                "{}",
            ])
            .arg(format!("{hook}server.time"))
            .output()
            .expect("curl is installed");
        if out.status.success() {
            body = serde_json::from_slice(&out.stdout).unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        body["result"].is_string() && body["time"].is_object(),
        "{body}"
    );
    // Over HTTP/2, errors answered before the method runs (here: an unknown method) must
    // still reach the client: the server reads the body before answering, because an
    // unread body makes it reset the stream and curl then drops the response.
    for i in 0..50 {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--http2",
                "--cacert",
                &cert,
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                r#"{"id":2}"#,
            ])
            .arg(format!("{hook}crm.lead.contact.frobnicate"))
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && body.contains("ERROR_METHOD_NOT_FOUND"),
            "attempt {i}: {body} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without trusting the certificate, curl refuses.
    let out = Command::new("curl")
        .args(["-sS", &format!("{hook}server.time")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    terminate(child);
    assert!(Path::new(&cert).exists());
}
