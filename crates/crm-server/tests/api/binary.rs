//! The real binary on a port the system picks: first start prints a webhook, the webhook
//! subcommands, HTTPS with the generated certificate, graceful shutdown on SIGTERM. Every
//! wait has a deadline (see [`crate::process`]).

use crate::helpers::{assert_now, read};
use crate::process::{DEADLINE, ServerProcess, cli, wait_for};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// An HTTP client whose requests cannot hang the run.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

/// Polls `<base>/healthz` until it answers 200; panics after [`DEADLINE`].
async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let until = Instant::now() + DEADLINE;
    loop {
        let answer = client.get(format!("{base}/healthz")).send().await;
        if answer.as_ref().is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(
            Instant::now() < until,
            "{base}/healthz not ready within {} s: {answer:?}",
            DEADLINE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The secret of a webhook URL `…/rest/<user>/<secret>/`.
fn secret_of(hook: &str) -> String {
    hook.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_binary_serves_manages_webhooks_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &[]);
    let base = server.base().to_string();
    assert_eq!(base, format!("http://127.0.0.1:{}", server.port()));
    let hook = server
        .hook()
        .expect("first start prints a webhook")
        .to_string();
    let secret = secret_of(&hook);
    assert_eq!(hook, format!("{base}/rest/1/{secret}/"));
    assert_eq!(secret.len(), 32, "{hook}");
    assert_eq!(
        server.lines(),
        [
            format!("Administrator webhook (shown once, keep it): {hook}"),
            format!("crm-server listening on {base}"),
        ]
    );
    let client = client();
    wait_healthy(&client, &base).await;
    let (status, body) = read(
        client
            .post(format!("{hook}server.time"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_now(&body["result"]);

    // A second webhook with only the user scope; listed without secrets; revoked → 401.
    let listen = format!("127.0.0.1:{}", server.port());
    let (ok, out) = cli(
        dir.path(),
        &[
            "--listen", &listen, "webhook", "create", "--user", "1", "--scope", "user",
        ],
    );
    assert!(ok, "{out}");
    let second = out.trim().to_string();
    let second_secret = secret_of(&second);
    assert_eq!(second, format!("{base}/rest/1/{second_secret}/"));
    assert_ne!(second_secret, secret);
    let (status, body) = read(client.get(format!("{second}scope")).send().await.unwrap()).await;
    assert_eq!((status, body["result"].clone()), (200, json!(["user"])));
    let (ok, listing) = cli(dir.path(), &["webhook", "list"]);
    assert!(ok, "{listing}");
    let rows: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{listing}");
    assert_eq!(rows[0], ["ID", "USER", "SCOPES", "CREATED", "STATE"]);
    assert_eq!(
        (rows[1][..3].to_vec(), rows[1][4]),
        (
            vec![
                "1",
                "1",
                "crm,user,user_basic,user_brief,department,userfieldconfig"
            ],
            "active"
        ),
        "{listing}"
    );
    assert_eq!(
        (rows[2][..3].to_vec(), rows[2][4]),
        (vec!["2", "1", "user"], "active"),
        "{listing}"
    );
    assert!(
        !listing.contains(&secret) && !listing.contains(&second_secret),
        "list printed a secret"
    );
    let (ok, out) = cli(dir.path(), &["webhook", "revoke", "2"]);
    assert_eq!((ok, out.as_str()), (true, "webhook 2 revoked\n"));
    let (status, body) = read(client.get(format!("{second}scope")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("INVALID_CREDENTIALS")),
        "{body}"
    );
    let (ok, out) = cli(dir.path(), &["webhook", "revoke", "2"]);
    assert_eq!(
        (ok, out.as_str()),
        (false, "error: no active webhook with id 2\n")
    );
    let (ok, out) = cli(dir.path(), &["webhook", "create", "--user", "7"]);
    assert_eq!(
        (ok, out.as_str()),
        (
            false,
            "error: user 7 does not exist (start the server once to create the administrator)\n"
        )
    );
    let (ok, listing) = cli(dir.path(), &["webhook", "list"]);
    assert!(ok, "{listing}");
    let states: Vec<&str> = listing
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(states, ["active", "revoked"], "{listing}");

    assert!(server.is_running());
    let log = server.stderr();
    assert_eq!(server.terminate().code(), Some(0), "{log}");

    // A restart does not print a new administrator webhook, and the old secret still works.
    let server = ServerProcess::start(dir.path(), &[]);
    assert_eq!(
        (server.lines(), server.hook()),
        (
            &[format!("crm-server listening on {}", server.base())][..],
            None
        )
    );
    wait_healthy(&client, server.base()).await;
    let (status, body) = read(
        client
            .get(format!("{}/rest/1/{secret}/profile", server.base()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["result"]["ID"].clone()), (200, json!("1")));
    assert_eq!(server.terminate().code(), Some(0));
}

/// `curl -sS` with a time limit; returns the exit code and the output (stdout, then stderr).
fn curl(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", &DEADLINE.as_secs().to_string()])
        .args(args)
        .output()
        .expect("curl is installed");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn self_signed_tls_works_with_curl_and_the_printed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--tls-self-signed"]);
    let base = server.base().to_string();
    assert_eq!(base, format!("https://127.0.0.1:{}", server.port()));
    let hook = server.hook().expect("webhook line").to_string();
    assert_eq!(hook, format!("{base}/rest/1/{}/", secret_of(&hook)));
    let cert = server.cert().expect("certificate line").to_string();
    assert_eq!(
        cert,
        dir.path()
            .join("tls")
            .join("cert.pem")
            .display()
            .to_string()
    );
    let plain_base = base.replace("https://", "http://");
    let plain_hook = hook.replace("https://", "http://");
    assert_eq!(
        server.lines(),
        [
            format!("TLS certificate (trust it in clients): {cert}"),
            format!("Administrator webhook (shown once, keep it): {hook}"),
            format!("The same webhook over plain HTTP (same port): {plain_hook}"),
            format!("Plain HTTP on the same port: {plain_base}"),
            format!("crm-server listening on {base}"),
        ]
    );
    let post = |method: &str, body: &str, http2: bool| {
        let url = format!("{hook}{method}");
        let mut args = vec!["--cacert", cert.as_str(), "-X", "POST"];
        args.extend([
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            url.as_str(),
        ]);
        if http2 {
            args.push("--http2");
        }
        curl(&args)
    };
    let mut answer = (None, String::new());
    wait_for("server.time over HTTPS", || {
        answer = post("server.time", "{}", false);
        answer.0 == Some(0)
    });
    let body: Value = serde_json::from_str(&answer.1).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
    assert_now(&body["result"]);
    assert!(body["time"].is_object(), "{body}");
    // Over HTTP/2, errors answered before the method runs (here: an unknown method) must
    // still reach the client: the server reads the body before answering, because an
    // unread body makes it reset the stream and curl then drops the response.
    for i in 0..50 {
        let (code, out) = post("crm.lead.contact.frobnicate", r#"{"id":2}"#, true);
        assert_eq!(
            (code, out.as_str()),
            (
                Some(0),
                r#"{"error":"ERROR_METHOD_NOT_FOUND","error_description":"Method not found!"}"#
            ),
            "attempt {i}"
        );
    }
    // The same port answers plain HTTP too.
    let (code, out) = curl(&["-X", "POST", &format!("{plain_hook}server.time")]);
    assert_eq!(code, Some(0), "{out}");
    let body: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_now(&body["result"]);
    // Without trusting the certificate, curl refuses (60: peer certificate not trusted).
    let (code, out) = curl(&[&format!("{hook}server.time")]);
    assert_eq!(code, Some(60), "{out}");
    assert_eq!(server.terminate().code(), Some(0));
    assert!(std::path::Path::new(&cert).exists());
}

#[tokio::test]
async fn the_seed_example_over_https_after_one_fixtures_call_on_a_port_that_also_speaks_http() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "seed-secret-42";
    let server = ServerProcess::start(
        dir.path(),
        &[
            "--tls-self-signed",
            "--control",
            "--admin-webhook-secret",
            secret,
        ],
    );
    let cert = server.cert().expect("certificate line").to_string();
    let https = server.base().to_string();
    let http = https.replace("https://", "http://");
    let (code, out) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"leads":[{"ID":1,"TITLE":"Seed lead"}],"contacts":[{"ID":1010,"NAME":"Seed contact"}]}"#,
        &format!("{http}/_crm/fixtures"),
    ]);
    assert_eq!(code, Some(0), "{out}");
    let loaded: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(loaded["loaded"], json!({"contacts": 1, "leads": 1}));
    // The documentation's cURL (webhook) example, verbatim but for the address.
    let url = format!("{https}/rest/1/{secret}/crm.lead.contact.add");
    let (code, out) = curl(&[
        "--cacert",
        &cert,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Accept: application/json",
        "-d",
        r#"{"id":1,"fields":{"CONTACT_ID":1010,"SORT":10,"IS_PRIMARY":"Y"}}"#,
        &url,
    ]);
    assert_eq!(code, Some(0), "{out}");
    let answer: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(answer["result"], true, "{answer}");
    let (code, out) = curl(&[&format!("{http}/_crm/journal?method=crm.lead.contact.add")]);
    assert_eq!(code, Some(0), "{out}");
    let journal: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        journal["calls"][0]["params"]["fields"],
        json!({"CONTACT_ID": 1010, "SORT": 10, "IS_PRIMARY": "Y"})
    );
}
