//! The real binary's front door under abuse: what an unauthenticated request may cost,
//! connection timeouts and the connection cap, early refusals, and what reaches the log.

use crate::process::{ServerProcess, cli, wait_for, webhook_path};
use crate::raw::{READ_DEADLINE, connect, exchange, parse, post, read_until_closed};
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// Peak resident memory of a process in kB (`VmHWM`).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn healthy(port: u16) -> bool {
    exchange(
        port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .is_some_and(|a| a.status == 200)
}

/// An 8 MB `[0,0,…]` to a wrong webhook secret cost 5 s and a 1 GB memory peak before
/// its 401; now the secret is checked before the body is read, and on the OAuth route the
/// body is refused by the parser's bounds before a tree is built.
#[test]
fn unauthenticated_bodies_cost_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let port = server.port();
    let body = format!("[{}0]", "0,".repeat(4_000_000));
    assert!(body.len() < 8 * 1024 * 1024);
    let before = peak_rss_kb(server.pid());
    let mut answers = Vec::new();
    std::thread::scope(|s| {
        let mut tasks = Vec::new();
        for path in [
            "/rest/1/wrongsecret/crm.lead.add",
            "/rest/1/wrongsecret/crm.lead.add",
            "/rest/crm.lead.add",
        ] {
            let request = post(path, "application/json", body.as_bytes());
            tasks.push(s.spawn(move || exchange(port, &request).expect("an answer")));
        }
        // The health check answers while they are handled.
        assert!(healthy(port));
        answers = tasks.into_iter().map(|t| t.join().unwrap()).collect();
    });
    let grown_mb = (peak_rss_kb(server.pid()) - before) / 1024;
    assert!(
        grown_mb < 96,
        "three 8 MB bodies raised the peak memory by {grown_mb} MB"
    );
    for a in &answers[..2] {
        assert_eq!(
            (a.status, a.json()),
            (
                401,
                json!({"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"})
            )
        );
    }
    assert_eq!(
        (answers[2].status, answers[2].json()),
        (
            400,
            json!({"error": "INVALID_REQUEST", "error_description": "The JSON body has more than 500000 elements"})
        )
    );
    assert!(healthy(port));
    server.terminate();
}

/// A declared length over the limit is refused before the body is sent.
#[test]
fn an_oversized_declared_length_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--max-body-bytes", "1000"]);
    let hook = server.hook().unwrap().to_string();
    let path = webhook_path(&hook);
    let mut s = connect(server.port());
    s.write_all(
        format!(
            "POST {path}crm.lead.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 1000000000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .unwrap();
    let (bytes, _) = read_until_closed(&mut s, Duration::from_secs(5));
    let answer = parse(&bytes).expect("an answer without sending the body");
    assert_eq!(
        (answer.status, answer.json()),
        (
            413,
            json!({"error": "INVALID_REQUEST", "error_description": "Request body is larger than the 1000-byte limit"})
        )
    );
    server.terminate();
}

/// Unfinished headers, idle keep-alive connections and stalled bodies were never closed.
#[test]
fn slow_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        dir.path(),
        &[
            "--header-timeout",
            "1",
            "--body-timeout",
            "2",
            "--idle-timeout",
            "4",
        ],
    );
    let port = server.port();
    let hook = server.hook().unwrap().to_string();
    let path = webhook_path(&hook);

    // Headers that never end.
    let mut s = connect(port);
    s.write_all(b"POST /rest/server.time HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let (_, closed) = read_until_closed(&mut s, READ_DEADLINE);
    assert!(closed, "a connection with unfinished headers stayed open");

    // A keep-alive connection after its answer, then nothing.
    let mut s = connect(port);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (bytes, closed) = read_until_closed(&mut s, READ_DEADLINE);
    assert!(closed, "an idle keep-alive connection stayed open");
    assert_eq!(parse(&bytes).map(|a| a.status), Some(200));

    // A body that stops halfway: 408 with the envelope.
    let mut s = connect(port);
    let started = Instant::now();
    s.write_all(
        format!(
            "POST {path}server.time HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{{\"a\":"
        )
        .as_bytes(),
    )
    .unwrap();
    let (bytes, _) = read_until_closed(&mut s, READ_DEADLINE);
    let answer = parse(&bytes).expect("an answer to a stalled body");
    assert_eq!(
        (answer.status, answer.json()),
        (
            408,
            json!({"error": "INVALID_REQUEST", "error_description": "The request body was not received within 2 s"})
        )
    );
    assert!(started.elapsed() >= Duration::from_secs(2));

    // A connection that never sends a byte is closed by the idle timeout.
    let mut s = connect(port);
    let (_, closed) = read_until_closed(&mut s, READ_DEADLINE);
    assert!(closed, "a silent connection stayed open");
    server.terminate();
}

/// Thousands of idle sockets exhausted the file descriptors; past the cap, new
/// connections are closed at once and the ones inside it keep working.
#[test]
fn connections_past_the_cap_are_closed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--max-connections", "4"]);
    let port = server.port();
    let held: Vec<_> = (0..4).map(|_| connect(port)).collect();
    // Let the server accept all four before the fifth arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = connect(port);
    let (_, closed) = read_until_closed(&mut extra, Duration::from_secs(10));
    assert!(closed, "a connection past the cap stayed open");
    // One held connection still gets answers.
    let mut first = held.into_iter().next().unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (bytes, _) = read_until_closed(&mut first, READ_DEADLINE);
    assert_eq!(parse(&bytes).map(|a| a.status), Some(200));
    // Closing connections frees their slots.
    wait_for("a free connection slot", || healthy(port));
    server.terminate();
}

/// `/rest/<secret>` logged the secret as the method name; only registered names are
/// logged now.
#[test]
fn unknown_method_names_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--log", "info"]);
    let port = server.port();
    let secret = "q8x2kzsecretlookingvalue93m";
    for path in [
        format!("/rest/{secret}"),
        format!("/rest/1/{secret}"),
        format!("/rest/{secret}/x/y/z"),
        format!("/rest/1/{secret}/crm.lead.nope"),
    ] {
        let a = exchange(
            port,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
        assert_eq!(a.status, 404, "{path}");
    }
    let a = exchange(
        port,
        b"GET /rest/server.time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(a.status, 401);
    wait_for("the request log lines", || {
        server.stderr().matches("status=401").count() == 1
    });
    let log = server.stderr();
    assert!(!log.contains(secret), "the secret reached the log:\n{log}");
    assert_eq!(log.matches("method=-").count(), 4, "{log}");
    assert!(log.contains("method=server.time"), "{log}");
    server.terminate();
}

/// Our own endpoints answer a wrong HTTP method with the error envelope.
#[test]
fn healthz_answers_other_methods_with_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let a = exchange(server.port(), &post("/healthz", "application/json", b"{}")).unwrap();
    assert_eq!(
        (a.status, a.json()),
        (
            405,
            json!({"error": "INVALID_REQUEST", "error_description": "Only GET and HEAD are allowed on /healthz"})
        )
    );
    assert!(
        a.head
            .to_ascii_lowercase()
            .contains("content-type: application/json; charset=utf-8"),
        "{}",
        a.head
    );
    let a = exchange(
        server.port(),
        b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(a.status, 200);
    server.terminate();
}

/// The documented `webhook create` while the server runs used to make concurrent binding
/// calls fail with `database is locked` (a 500).
#[test]
fn the_cli_writes_while_the_server_binds_without_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let hook = server.hook().unwrap().to_string();
    let path = webhook_path(&hook);
    let port = server.port();
    let call = |method: &str, body: serde_json::Value| {
        let a = exchange(
            port,
            &post(
                &format!("{path}{method}"),
                "application/json",
                body.to_string().as_bytes(),
            ),
        )
        .expect("an answer");
        (a.status, a.json())
    };
    let lead = call("crm.lead.add", json!({"fields": {"TITLE": "L"}})).1["result"].clone();
    for _ in 0..20 {
        assert_eq!(
            call("crm.contact.add", json!({"fields": {"NAME": "C"}})).0,
            200
        );
    }
    let statuses = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..15 {
                let (ok, out) = cli(dir.path(), &["webhook", "create", "--scope", "crm"]);
                assert!(ok, "{out}");
            }
        });
        for t in 0..4 {
            let (call, statuses, lead) = (&call, &statuses, &lead);
            s.spawn(move || {
                for i in 0..60 {
                    let contact = 1 + (i * 7 + t) % 20;
                    let (method, body) = match i % 3 {
                        0 => ("crm.lead.contact.add", json!({"id": lead, "fields": {"CONTACT_ID": contact, "IS_PRIMARY": "Y"}})),
                        1 => ("crm.lead.contact.delete", json!({"id": lead, "fields": {"CONTACT_ID": contact}})),
                        _ => ("crm.lead.update", json!({"id": lead, "fields": {"COMMENTS": format!("{t}-{i}")}})),
                    };
                    statuses.lock().unwrap().push(call(method, body).0);
                }
            });
        }
    });
    let statuses = statuses.into_inner().unwrap();
    assert_eq!(statuses.len(), 240);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (_, listing) = cli(dir.path(), &["webhook", "list"]);
    assert_eq!(listing.matches("active").count(), 16, "{listing}");
    let items = call("crm.lead.contact.items.get", json!({"id": lead})).1;
    let items = items["result"].as_array().unwrap().clone();
    if !items.is_empty() {
        assert_eq!(items.iter().filter(|b| b["IS_PRIMARY"] == "Y").count(), 1);
    }
    server.terminate();
}
