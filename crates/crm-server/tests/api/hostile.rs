//! The hostile-input suite: over a thousand requests, generated from tables, against one
//! real server binary that holds a few leads, contacts and bindings. The inputs: invalid
//! and deeply nested JSON, huge and negative numbers, wrong parameter types, PHP bracket
//! names 1,000 levels deep, NUL and invalid UTF-8, overlong method names, `batch` self-,
//! forward- and missing references and nested batches, wrong content types, multipart
//! oddities, and what no client library sends (raw bytes in the request line, broken
//! chunked encoding, Content-Length mismatches, garbage request lines, absurd headers,
//! stalled requests). Parameter tables go out as JSON, form body, query string and
//! multipart.
//!
//! Every answer from our code must be a 200 success envelope (`result` and the 8-key
//! `time`) or a 4xx error envelope (exactly `error` and a non-empty `error_description`,
//! JSON content type), never a 5xx; a good share of cases also pin the exact code, text
//! or result. Where hyper refuses a request before our code runs (400/414/431 with an
//! empty body, or a closed connection) the table says so, and those cases are counted
//! apart. Afterwards the rows no case targets read back unchanged, every lead with
//! contacts has exactly one primary (mirrored in its `CONTACT_ID`, null without contacts),
//! `/healthz` answers, the log holds no panic and no 5xx request line, and SIGTERM stops
//! the process cleanly.
//!
//! Inputs that once broke the server are listed in [`FIXED_BUGS`] with what they did; the
//! second test runs each in a process of its own (one of them used to kill the store's
//! writer thread) and fails if any misbehaves again.

use crate::helpers::TIME_KEYS;
use crate::process::ServerProcess;
use crate::raw::{READ_DEADLINE, connect, read_until_closed};
use crm_server::wire::php_query::build_query;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

// ---------------------------------------------------------------------------------------
// Texts the server answers with.

const ID_INVALID: &str = "ID is not defined or invalid.";
const NOT_FOUND: &str = "Not found";
const OWNER_QUOTED: &str = "The parameter 'ownerEntityID' is invalid or not defined.";
const OWNER_ITEMS: &str = "The parameter ownerEntityID is invalid or not defined.";
const FIELDS_ARRAY: &str = "Parameter 'fields' must be array.";
const PARAMS_ARRAY: &str = "Parameter 'params' must be array.";
const GOT_ARRAY: &str = "Invalid parameters: expected a string, got an array";
const DEEP: &str = "The JSON body is nested deeper than 64 levels";
const MANY: &str = "The JSON body has more than 500000 elements";
const UNREADABLE: &str = "The request body could not be read";
const NOT_IN_BATCH: &str = "ERROR_BATCH_METHOD_NOT_ALLOWED";
const BATCH_TOO_LONG: &str = "ERROR_BATCH_LENGTH_EXCEEDED";
const NO_METHOD: &str = "ERROR_METHOD_NOT_FOUND";
const BAD_REQUEST: &str = "INVALID_REQUEST";
const TOO_LARGE: &str = "Request body is larger than the 8388608-byte limit";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The batch answer when no command ran.
fn empty_batch() -> Value {
    json!({
        "result": [], "result_error": [], "result_total": [], "result_next": [], "result_time": []
    })
}

/// The multipart boundary of generated bodies (never inside a value).
const BOUNDARY: &str = "hostile-7f3a9c";

/// The suite's server flags: short header and body timeouts so the stalled requests
/// finish in seconds (the idle timeout stays well above any request's processing time).
const SERVER_FLAGS: [&str; 8] = [
    "--log",
    "info",
    "--header-timeout",
    "2",
    "--body-timeout",
    "2",
    "--idle-timeout",
    "5",
];

// ---------------------------------------------------------------------------------------
// Cases, answers and their checks.

/// A check of a whole success body.
type BodyCheck = Box<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// What a case must get back.
enum Expect {
    /// Any envelope from our code: a 200 success or a 4xx error.
    Envelope,
    /// A 200 success envelope.
    Success,
    /// A 200 success envelope whose body passes the check.
    SuccessWith(BodyCheck),
    /// Exactly this error envelope.
    Error(u16, &'static str, String),
    /// Our answer with this status and exactly this JSON body (`OPTIONS`, `/healthz`).
    Exact(u16, Value),
    /// Our answer to `HEAD`: this status, JSON content type, no body.
    Head(u16),
    /// Refused by hyper before our code runs: this 4xx with an empty body.
    Hyper(u16),
    /// Refused by hyper with a 4xx and an empty body, or the connection closed without an
    /// HTTP/1 answer (timeouts, non-HTTP/1 bytes).
    HyperOrClosed,
    /// Our error envelope with this status and code, or a connection closed (reset)
    /// without an answer: the server refuses a body while the client is still sending it.
    ErrorOrClosed(u16, &'static str),
    /// Our HTML page (the OAuth consent page) with this status.
    Html(u16),
    /// Several answers on one connection (pipelining), in order.
    Pipelined(Vec<Self>),
}

impl Expect {
    /// Whether the case pins more than "some valid answer".
    fn is_specific(&self) -> bool {
        !matches!(self, Self::Envelope | Self::Success | Self::HyperOrClosed)
    }

    fn describe(&self) -> String {
        match self {
            Self::Envelope => "an envelope".into(),
            Self::Success => "a success".into(),
            Self::SuccessWith(_) => "a success passing its check".into(),
            Self::Error(s, c, t) => format!("{s} {c:?} {t:?}"),
            Self::Exact(s, v) => format!("{s} {v}"),
            Self::Head(s) => format!("HEAD answer {s}"),
            Self::Hyper(s) => format!("hyper's own {s}"),
            Self::HyperOrClosed => "hyper's own 4xx or a close".into(),
            Self::ErrorOrClosed(s, c) => format!("{s} {c:?} or a close"),
            Self::Html(s) => format!("an HTML page with status {s}"),
            Self::Pipelined(all) => format!("{} pipelined answers", all.len()),
        }
    }
}

fn invalid(text: &str) -> Expect {
    Expect::Error(400, "", text.to_string())
}

fn error(status: u16, code: &'static str, text: &str) -> Expect {
    Expect::Error(status, code, text.to_string())
}

/// A success whose body has `want` at each JSON pointer.
fn at(checks: &[(&str, Value)]) -> Expect {
    let checks: Vec<(String, Value)> = checks
        .iter()
        .map(|(p, v)| ((*p).to_string(), v.clone()))
        .collect();
    Expect::SuccessWith(Box::new(move |body| {
        for (pointer, want) in &checks {
            match body.pointer(pointer) {
                Some(got) if got == want => {}
                Some(got) => return Err(format!("{pointer} is {got}, want {want}")),
                None => return Err(format!("{pointer} is missing, want {want}")),
            }
        }
        Ok(())
    }))
}

/// A success whose body passes `check` (`what` describes it in failures).
fn success_where(
    what: &'static str,
    check: impl Fn(&Value) -> bool + Send + Sync + 'static,
) -> Expect {
    Expect::SuccessWith(Box::new(move |body| {
        if check(body) {
            Ok(())
        } else {
            Err(format!("not {what}"))
        }
    }))
}

/// One hostile request and what it must get.
struct Case {
    category: &'static str,
    label: String,
    request: Vec<u8>,
    expect: Expect,
}

impl Case {
    fn new(
        category: &'static str,
        label: impl Into<String>,
        request: Vec<u8>,
        expect: Expect,
    ) -> Self {
        Self {
            category,
            label: label.into(),
            request,
            expect,
        }
    }
}

/// One HTTP/1 answer read off the wire.
#[derive(Debug)]
enum Reply {
    /// From our handler (it always sets `x-content-type-options`).
    Ours {
        status: u16,
        head: String,
        body: Vec<u8>,
    },
    /// From hyper itself.
    Hyper { status: u16, body_len: usize },
}

/// Where an answer came from, for the counts.
enum Seen {
    Ours,
    Hyper,
    Closed,
}

/// The answers in `bytes`, interim `1xx` answers skipped; anything that is not HTTP/1
/// (an HTTP/2 frame) ends the list.
fn replies(bytes: &[u8]) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.starts_with(b"HTTP/") {
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let Some(status) = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
        else {
            break;
        };
        rest = &rest[end + 4..];
        if (100..200).contains(&status) {
            continue;
        }
        let lower = head.to_ascii_lowercase();
        let len = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(rest.len())
            .min(rest.len());
        let (body, after) = rest.split_at(len);
        rest = after;
        if lower.contains("\r\nx-content-type-options: nosniff") {
            out.push(Reply::Ours {
                status,
                head,
                body: body.to_vec(),
            });
        } else {
            out.push(Reply::Hyper {
                status,
                body_len: body.len(),
            });
        }
    }
    out
}

/// Sends `request` on a new connection and reads until the server closes it.
fn roundtrip(port: u16, request: &[u8]) -> Result<Vec<Reply>, String> {
    let mut s = connect(port);
    // The server may answer and close before it has read everything.
    let _ = s.write_all(request);
    let (bytes, closed) = read_until_closed(&mut s, READ_DEADLINE);
    if !closed {
        return Err(format!(
            "neither answered nor closed within {} s (got {:?})",
            READ_DEADLINE.as_secs(),
            lossy(&bytes)
        ));
    }
    Ok(replies(&bytes))
}

fn lossy(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut cut: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        cut.push('…');
    }
    cut
}

/// A 200 body: `result`, maybe `next`/`total`, and the 8-key `time` object.
fn success_shape(v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("a 200 body that is not an object")?;
    if !obj.contains_key("result") {
        return Err("a 200 body without `result`".into());
    }
    if let Some(k) = obj
        .keys()
        .find(|k| !["result", "next", "total", "time"].contains(&k.as_str()))
    {
        return Err(format!("a 200 body with the key {k:?}"));
    }
    let keys: Vec<&str> = obj
        .get("time")
        .and_then(Value::as_object)
        .ok_or("a 200 body without a `time` object")?
        .keys()
        .map(String::as_str)
        .collect();
    if keys != TIME_KEYS {
        return Err(format!("`time` has the keys {keys:?}"));
    }
    Ok(())
}

/// A 4xx body: exactly `error` (a string) and a non-empty `error_description`.
fn error_shape(v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("an error body that is not an object")?;
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    if keys != ["error", "error_description"] {
        return Err(format!("an error body with the keys {keys:?}"));
    }
    if !obj["error"].is_string() {
        return Err("`error` is not a string".into());
    }
    if obj["error_description"].as_str().is_none_or(str::is_empty) {
        return Err("`error_description` is not a non-empty string".into());
    }
    Ok(())
}

/// Checks one of our answers: never 5xx, JSON content type, the envelope's shape, then
/// the case's own expectation.
fn verify_ours(expect: &Expect, status: u16, head: &str, body: &[u8]) -> Result<(), String> {
    let text = lossy(body);
    if !(status == 200 || (400..500).contains(&status)) {
        return Err(format!("status {status}: {text}"));
    }
    if let Expect::Html(want) = expect {
        let html = head
            .to_ascii_lowercase()
            .contains("\r\ncontent-type: text/html; charset=utf-8");
        return if status == *want && html && text.starts_with("<!DOCTYPE html>") {
            Ok(())
        } else {
            Err(format!("got {status} {head} {text}"))
        };
    }
    if !head
        .to_ascii_lowercase()
        .contains("\r\ncontent-type: application/json; charset=utf-8")
    {
        return Err(format!(
            "status {status} without the JSON content type: {head}"
        ));
    }
    if let Expect::Head(want) = expect {
        return if status == *want && body.is_empty() {
            Ok(())
        } else {
            Err(format!("HEAD answered {status} with {} bytes", body.len()))
        };
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("status {status}, not JSON ({e}): {text}"))?;
    if let Expect::Exact(want_status, want) = expect {
        return if status == *want_status && v == *want {
            Ok(())
        } else {
            Err(format!("got {status} {v}"))
        };
    }
    if status == 200 {
        success_shape(&v)
    } else {
        error_shape(&v)
    }
    .map_err(|e| format!("{e}: {text}"))?;
    let ok = match expect {
        Expect::Envelope => true,
        Expect::Success => status == 200,
        Expect::SuccessWith(check) => {
            if status != 200 {
                return Err(format!("got {status} {text}"));
            }
            return check(&v).map_err(|e| format!("{e} in {text}"));
        }
        Expect::Error(s, code, t) => {
            status == *s && v["error"] == *code && v["error_description"] == t.as_str()
        }
        Expect::ErrorOrClosed(s, code) => status == *s && v["error"] == *code,
        Expect::Hyper(_) | Expect::HyperOrClosed => {
            return Err(format!("our code answered {status} {text}"));
        }
        Expect::Exact(..) | Expect::Head(_) | Expect::Html(_) | Expect::Pipelined(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("got {status} {text}"))
    }
}

fn verify_one(expect: &Expect, reply: Option<&Reply>) -> Result<Seen, String> {
    match (expect, reply) {
        (_, Some(Reply::Ours { status, head, body })) => {
            verify_ours(expect, *status, head, body).map(|()| Seen::Ours)
        }
        (Expect::Hyper(want), Some(Reply::Hyper { status, body_len }))
            if status == want && *body_len == 0 =>
        {
            Ok(Seen::Hyper)
        }
        (Expect::HyperOrClosed, Some(Reply::Hyper { status, body_len }))
            if (400..500).contains(status) && *body_len == 0 =>
        {
            Ok(Seen::Hyper)
        }
        (Expect::HyperOrClosed | Expect::ErrorOrClosed(..), None) => Ok(Seen::Closed),
        (_, None) => Err("the connection closed without an answer".into()),
        (_, Some(other)) => Err(format!("got {other:?}")),
    }
}

fn verify(expect: &Expect, got: &[Reply]) -> Result<Seen, String> {
    let Expect::Pipelined(all) = expect else {
        if got.len() > 1 {
            return Err(format!("{} answers to one request", got.len()));
        }
        return verify_one(expect, got.first());
    };
    if got.len() != all.len() {
        return Err(format!(
            "{} answers, want {}: {got:?}",
            got.len(),
            all.len()
        ));
    }
    for (i, (e, r)) in all.iter().zip(got).enumerate() {
        verify_one(e, Some(r)).map_err(|m| format!("answer {i}: {m}"))?;
    }
    Ok(Seen::Ours)
}

// ---------------------------------------------------------------------------------------
// Building requests.

/// A raw HTTP/1.1 request that asks to close the connection after the answer; a body
/// gets its `Content-Length`.
fn http(method: &str, target: &[u8], headers: &[(&str, &[u8])], body: Option<&[u8]>) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(method.as_bytes());
    r.push(b' ');
    r.extend_from_slice(target);
    r.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        r.extend_from_slice(name.as_bytes());
        r.extend_from_slice(b": ");
        r.extend_from_slice(value);
        r.extend_from_slice(b"\r\n");
    }
    if let Some(body) = body {
        r.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        r.extend_from_slice(body);
    } else {
        r.extend_from_slice(b"\r\n");
    }
    r
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `method target HTTP/1.1`, `Host`, the header lines as given, `Connection: close`, a
/// blank line and `body` as is: no `Content-Length` unless a header line sets one.
fn raw(method: &str, target: &[u8], headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut r = concat(&[
        method.as_bytes(),
        b" ",
        target,
        b" HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    ]);
    for line in headers {
        r.extend_from_slice(line);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"Connection: close\r\n\r\n");
    r.extend_from_slice(body);
    r
}

/// How a parameter tree travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enc {
    Json,
    Form,
    Query,
    Multipart,
}

impl Enc {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Form => "form",
            Self::Query => "query",
            Self::Multipart => "multipart",
        }
    }
}

/// The PHP names and values of a tree, as `http_build_query` writes them (null and empty
/// arrays leave nothing, booleans are 1/0), not percent-encoded: multipart field names.
fn php_pairs(params: &Value) -> Vec<(String, Vec<u8>)> {
    fn walk(name: String, v: &Value, out: &mut Vec<(String, Vec<u8>)>) {
        match v {
            Value::Null => {}
            Value::Bool(b) => out.push((name, if *b { b"1".to_vec() } else { b"0".to_vec() })),
            Value::Number(n) => out.push((name, n.to_string().into_bytes())),
            Value::String(s) => out.push((name, s.as_bytes().to_vec())),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(format!("{name}[{i}]"), x, out);
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    walk(format!("{name}[{k}]"), x, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (k, v) in params.as_object().expect("parameters are an object") {
        walk(k.clone(), v, &mut out);
    }
    out
}

/// A multipart body of text fields.
fn multipart(fields: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        assert!(
            !name.contains(['"', '\r', '\n', '\0']),
            "a multipart name the generator cannot write: {name:?}"
        );
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// `{key: value, …}` with keys chosen at run time.
fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect::<Map<String, Value>>(),
    )
}

// ---------------------------------------------------------------------------------------
// The suite runner.

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    cases: usize,
    specific: usize,
    ours: usize,
    hyper: usize,
    closed: usize,
}

/// The server under test and what the suite has seen so far.
struct Suite {
    port: u16,
    /// The admin webhook path, `/rest/1/<secret>/`.
    hook: String,
    stats: BTreeMap<&'static str, Stats>,
    failures: Vec<String>,
}

impl Suite {
    fn new(server: &ServerProcess) -> Self {
        let url = server
            .hook()
            .expect("a first start prints the admin webhook");
        let (_, path) = url.split_once("/rest/").expect("a webhook URL");
        Self {
            port: server.port(),
            hook: format!("/rest/{path}"),
            stats: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// The webhook path of `method`.
    fn path(&self, method: &str) -> String {
        format!("{}{method}", self.hook)
    }

    /// A POST of `body` with `content_type` to the webhook's `method`.
    fn post(&self, method: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
        http(
            "POST",
            self.path(method).as_bytes(),
            &[("Content-Type", content_type.as_bytes())],
            Some(body),
        )
    }

    /// `params` (an object) sent to `method` in the given encoding.
    fn encoded(&self, enc: Enc, method: &str, params: &Value) -> Vec<u8> {
        let map = params.as_object().expect("parameters are an object");
        match enc {
            Enc::Json => self.post(method, "application/json", params.to_string().as_bytes()),
            Enc::Form => self.post(
                method,
                "application/x-www-form-urlencoded",
                build_query(map).as_bytes(),
            ),
            Enc::Query => {
                let query = build_query(map);
                let target = if query.is_empty() {
                    self.path(method)
                } else {
                    format!("{}?{query}", self.path(method))
                };
                http("GET", target.as_bytes(), &[], None)
            }
            Enc::Multipart => self.post(method, &multipart_type(), &multipart(&php_pairs(params))),
        }
    }

    /// Runs one case and records the outcome.
    fn run(&mut self, case: Case) {
        let outcome = roundtrip(self.port, &case.request);
        self.record(&case, outcome);
    }

    fn record(&mut self, case: &Case, outcome: Result<Vec<Reply>, String>) {
        let stats = self.stats.entry(case.category).or_default();
        stats.cases += 1;
        if case.expect.is_specific() {
            stats.specific += 1;
        }
        match outcome.and_then(|got| verify(&case.expect, &got)) {
            Ok(Seen::Ours) => stats.ours += 1,
            Ok(Seen::Hyper) => stats.hyper += 1,
            Ok(Seen::Closed) => stats.closed += 1,
            Err(e) => self.failures.push(format!(
                "[{}] {} (want {}): {e}",
                case.category,
                case.label,
                case.expect.describe()
            )),
        }
    }

    fn run_all(&mut self, cases: Vec<Case>) {
        for case in cases {
            self.run(case);
        }
    }

    /// A JSON call that must succeed; returns `result` (setup and read-back, not a case).
    fn call(&self, method: &str, params: Value) -> Value {
        let request = self.encoded(Enc::Json, method, &params);
        let got = roundtrip(self.port, &request).unwrap_or_else(|e| panic!("{method}: {e}"));
        match got.first() {
            Some(Reply::Ours {
                status: 200, body, ..
            }) => serde_json::from_slice::<Value>(body).expect("a JSON body")["result"].clone(),
            other => panic!("{method} {params}: {other:?}"),
        }
    }

    /// `/healthz` answers 200 `{"status":"ok"}`.
    fn healthy(&self) -> bool {
        let request = http("GET", b"/healthz", &[], None);
        roundtrip(self.port, &request)
            .is_ok_and(|got| verify(&Expect::Exact(200, json!({"status": "ok"})), &got).is_ok())
    }
}

/// The log is clean: no panic, no 5xx request line.
fn clean_log(log: &str) -> Result<(), String> {
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("panicked") || l.contains("status=5"))
        .take(10)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the log has panics or 5xx answers:\n{}",
            bad.join("\n")
        ))
    }
}

// ---------------------------------------------------------------------------------------
// The data the cases run against.

/// Lead 1 and contact 1 are targets: hostile updates and bindings may change them. Lead 2
/// is bound to contacts 3 and 4 and is changed by the batch cases; contact 2 is the batch
/// cases' target. Lead 3 (bound to contact 5) and contact 5 are guards no case may touch:
/// no hostile id resolves to 3 or 5. Lead 4 takes the extreme SORT values.
const GUARD_LEAD: i64 = 3;
const GUARD_CONTACT: i64 = 5;
const SORT_LEAD: i64 = 4;

fn seed(s: &Suite) {
    for (i, name) in ["Target", "Batch", "Bound A", "Bound B", "Guard"]
        .into_iter()
        .enumerate()
    {
        let mut fields = json!({"NAME": name, "LAST_NAME": "Seed"});
        if name == "Guard" {
            fields["PHONE"] = json!([{"VALUE": "+1 555 0100", "VALUE_TYPE": "WORK"}]);
            fields["EMAIL"] = json!([{"VALUE": "guard@example.com", "VALUE_TYPE": "HOME"}]);
        }
        let id = s.call("crm.contact.add", json!({"fields": fields}));
        assert_eq!(id, json!(i + 1), "contact ids start at 1 on a fresh server");
    }
    let leads = [
        json!({"TITLE": "Target lead"}),
        json!({"TITLE": "Bind lead", "CONTACT_IDS": [3, 4]}),
        json!({
            "TITLE": "Guard lead — «untouched» ✓",
            "NAME": "Gu\u{00e4}rd",
            "OPPORTUNITY": "1234.50",
            "CURRENCY_ID": "EUR",
            "COMMENTS": "multi\nline",
            "PHONE": [{"VALUE": "+49 30 1234567", "VALUE_TYPE": "MOBILE"}],
            "EMAIL": [{"VALUE": "lead@example.com"}],
            "CONTACT_IDS": [GUARD_CONTACT]
        }),
        json!({"TITLE": "Sort lead"}),
    ];
    for (i, fields) in leads.into_iter().enumerate() {
        let id = s.call("crm.lead.add", json!({"fields": fields}));
        assert_eq!(id, json!(i + 1), "lead ids start at 1 on a fresh server");
    }
}

/// What the guard rows read back as.
fn guard_snapshot(s: &Suite) -> Value {
    json!({
        "lead": s.call("crm.lead.get", json!({"id": GUARD_LEAD})),
        "contact": s.call("crm.contact.get", json!({"id": GUARD_CONTACT})),
        "items": s.call("crm.lead.contact.items.get", json!({"id": GUARD_LEAD})),
    })
}

/// Every lead's contact set has exactly one primary when it is not empty (so never two),
/// and the lead's `CONTACT_ID` mirrors it (null for an empty set). Returns how many leads
/// were checked.
fn check_primaries(s: &Suite, failures: &mut Vec<String>) -> usize {
    let mut ids = Vec::new();
    let mut start = 0;
    loop {
        let request = s.encoded(
            Enc::Json,
            "crm.lead.list",
            &json!({"select": ["ID"], "order": {"ID": "ASC"}, "start": start}),
        );
        let got = roundtrip(s.port, &request).expect("crm.lead.list");
        let Some(Reply::Ours {
            status: 200, body, ..
        }) = got.first()
        else {
            panic!("crm.lead.list: {got:?}");
        };
        let page: Value = serde_json::from_slice(body).unwrap();
        for row in page["result"].as_array().unwrap() {
            ids.push(row["ID"].as_str().unwrap().parse::<i64>().unwrap());
        }
        match page["next"].as_i64() {
            Some(next) => start = next,
            None => break,
        }
    }
    for &id in &ids {
        let items = s.call("crm.lead.contact.items.get", json!({"id": id}));
        let items = items.as_array().unwrap();
        let primaries: Vec<&Value> = items.iter().filter(|b| b["IS_PRIMARY"] == "Y").collect();
        let lead = s.call("crm.lead.get", json!({"id": id}));
        let mirrored = match primaries.as_slice() {
            [] if items.is_empty() => lead["CONTACT_ID"].is_null(),
            [one] => lead["CONTACT_ID"] == json!(one["CONTACT_ID"].to_string()),
            _ => false,
        };
        if !mirrored {
            failures.push(format!(
                "lead {id}: CONTACT_ID {} with the contact set {items:?}",
                lead["CONTACT_ID"]
            ));
        }
    }
    ids.len()
}

// ---------------------------------------------------------------------------------------
// The tables.

/// What a method answers when it gets no parameters at all (invalid JSON, a scalar body).
fn no_params(method: &str) -> Expect {
    match method {
        "crm.lead.get" | "crm.contact.get" | "crm.lead.update" | "crm.contact.update"
        | "crm.lead.delete" | "crm.contact.delete" => invalid(ID_INVALID),
        "crm.lead.contact.add" | "crm.lead.contact.delete" => invalid(OWNER_QUOTED),
        "crm.lead.contact.items.get"
        | "crm.lead.contact.items.set"
        | "crm.lead.contact.items.delete" => invalid(OWNER_ITEMS),
        "batch" => at(&[("/result", empty_batch())]),
        _ => Expect::Success,
    }
}

/// A success holding lead or contact 1.
fn lead_one() -> Expect {
    at(&[("/result/ID", json!("1"))])
}

/// What a method answers to `{"id": 1}` (lead 1 / contact 1 exist).
fn with_id_one(method: &str) -> Expect {
    match method {
        "crm.lead.get" | "crm.contact.get" => at(&[("/result/ID", json!("1"))]),
        "batch" => at(&[("/result", empty_batch())]),
        _ => Expect::Success,
    }
}

fn invalid_json(s: &Suite) -> Vec<Case> {
    let bodies: [(&str, &[u8]); 30] = [
        ("an empty body", b""),
        ("blanks", b" \r\n\t "),
        ("{", b"{"),
        ("}", b"}"),
        ("[", b"["),
        ("]", b"]"),
        ("a cut-off value", b"{\"id\":"),
        ("a trailing comma", b"{\"id\":1,}"),
        ("single quotes", b"{'id':1}"),
        ("a missing colon", b"{\"id\" 1}"),
        ("two objects", b"{\"id\":1}{\"id\":2}"),
        ("trailing garbage", b"{\"id\":1} x"),
        ("a byte-order mark", b"\xEF\xBB\xBF{\"id\":1}"),
        ("UTF-16", b"\xFF\xFE{\0\"\0i\0d\0\"\0:\x001\0}\0"),
        ("NaN", b"{\"id\":NaN}"),
        ("Infinity", b"{\"id\":Infinity}"),
        ("1e400", b"{\"id\":1e400}"),
        ("a leading zero", b"{\"id\":01}"),
        ("a lone minus", b"{\"id\":-}"),
        ("a lone surrogate", b"{\"id\":\"\\ud800\"}"),
        ("invalid UTF-8 in a string", b"{\"id\":\"\xff\xfe\"}"),
        ("a raw NUL in a string", b"{\"id\":\"1\x00\"}"),
        ("NUL bytes", b"\0\0\0\0"),
        ("a bare word", b"nul"),
        ("null", b"null"),
        ("true", b"true"),
        ("a number", b"-1"),
        ("a string", b"\"id=1\""),
        ("a list of ids", b"[1,2,3]"),
        ("a list holding the object", b"[{\"id\":1}]"),
    ];
    let mut cases = Vec::new();
    for method in [
        "crm.lead.get",
        "crm.lead.update",
        "crm.lead.contact.items.get",
        "batch",
    ] {
        for (label, body) in bodies {
            cases.push(Case::new(
                "invalid-json",
                format!("{method} <- {label}"),
                s.post(method, "application/json", body),
                no_params(method),
            ));
        }
    }
    // Valid JSON where the casing of the name decides: `ID` is looked up before `id`.
    cases.push(Case::new(
        "invalid-json",
        "crm.lead.get <- {\"ID\":1,\"id\":0}",
        s.post("crm.lead.get", "application/json", br#"{"ID":1,"id":0}"#),
        at(&[("/result/ID", json!("1"))]),
    ));
    cases
}

fn deep_json(s: &Suite) -> Vec<Case> {
    enum Want {
        Deep,
        Many,
        NoParams,
        IdOne,
    }
    let list = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let object = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    let zeros = |commas: usize| format!("[{}0]", "0,".repeat(commas));
    let bodies: Vec<(&str, String, Want, bool)> = vec![
        ("a list 64 deep", list(64), Want::NoParams, true),
        ("a list 65 deep", list(65), Want::Deep, true),
        ("a list 200 deep", list(200), Want::Deep, true),
        ("a list 100,000 deep", list(100_000), Want::Deep, true),
        (
            "1,000,000 unclosed [",
            "[".repeat(1_000_000),
            Want::Deep,
            false,
        ),
        ("an object 64 deep", object(64), Want::NoParams, true),
        ("an object 65 deep", object(65), Want::Deep, true),
        ("an object 1,000 deep", object(1_000), Want::Deep, true),
        (
            "id beside a list 63 deep",
            format!("{{\"id\":1,\"x\":{}}}", list(63)),
            Want::IdOne,
            true,
        ),
        (
            "id beside a list 64 deep",
            format!("{{\"id\":1,\"x\":{}}}", list(64)),
            Want::Deep,
            true,
        ),
        (
            "id beside fields 65 deep",
            format!("{{\"id\":1,\"fields\":{{\"TITLE\":{}}}}}", object(63)),
            Want::Deep,
            true,
        ),
        (
            "100,000 brackets inside a string",
            format!("{{\"id\":1,\"s\":\"{}\"}}", "[{".repeat(50_000)),
            Want::IdOne,
            true,
        ),
        (
            "an escaped quote, then brackets in the string",
            format!("{{\"id\":1,\"s\":\"\\\"{}\"}}", "[".repeat(100)),
            Want::IdOne,
            true,
        ),
        (
            "an escaped backslash, then 65 levels",
            format!("{{\"id\":1,\"s\":\"\\\\\",\"x\":{}}}", list(65)),
            Want::Deep,
            true,
        ),
        (
            "1,000 closers first",
            format!("{}{{\"id\":1}}", "]".repeat(1_000)),
            Want::NoParams,
            true,
        ),
        ("500,001 elements", zeros(500_000), Want::Many, true),
        ("499,999 elements", zeros(499_998), Want::NoParams, false),
        (
            "id beside 500,001 elements",
            format!("{{\"id\":1,\"x\":{}}}", zeros(500_000)),
            Want::Many,
            false,
        ),
        (
            "600,000 commas inside a string",
            format!("{{\"id\":1,\"s\":\"{}\"}}", ",".repeat(600_000)),
            Want::IdOne,
            false,
        ),
    ];
    let mut cases = Vec::new();
    for (label, body, want, every_method) in &bodies {
        let methods: &[&str] = if *every_method {
            &["crm.lead.get", "crm.lead.list", "batch"]
        } else {
            &["crm.lead.get"]
        };
        for method in methods {
            let expect = match want {
                Want::Deep => error(400, BAD_REQUEST, DEEP),
                Want::Many => error(400, BAD_REQUEST, MANY),
                Want::NoParams => no_params(method),
                Want::IdOne => with_id_one(method),
            };
            cases.push(Case::new(
                "deep-json",
                format!("{method} <- {label}"),
                s.post(method, "application/json", body.as_bytes()),
                expect,
            ));
        }
    }
    // The OAuth-style route parses the body (the token may be in it) before the
    // credentials; a webhook's secret is checked before its body is read.
    let deep = list(65);
    let oauth = |body: &str| {
        http(
            "POST",
            b"/rest/crm.lead.get",
            &[("Content-Type", b"application/json")],
            Some(body.as_bytes()),
        )
    };
    cases.push(Case::new(
        "deep-json",
        "OAuth route <- 65 levels",
        oauth(&deep),
        error(400, BAD_REQUEST, DEEP),
    ));
    cases.push(Case::new(
        "deep-json",
        "OAuth route <- a token beside 65 levels",
        oauth(&format!("{{\"auth\":\"x\",\"x\":{deep}}}")),
        error(400, BAD_REQUEST, DEEP),
    ));
    cases.push(Case::new(
        "deep-json",
        "OAuth route <- 64 levels",
        oauth(&list(64)),
        error(401, "NO_AUTH_FOUND", "Wrong authorization data"),
    ));
    cases.push(Case::new(
        "deep-json",
        "wrong webhook secret <- 65 levels",
        http(
            "POST",
            b"/rest/1/wrongsecret/crm.lead.get",
            &[("Content-Type", b"application/json")],
            Some(deep.as_bytes()),
        ),
        error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
    ));
    cases
}

/// What an id parameter resolves to on the server (PHP's `(int)` cast).
#[derive(Clone, Copy)]
enum Id {
    /// Zero, negative or absent: "not defined or invalid".
    Invalid,
    /// 1: the target rows.
    One,
    /// Far past every row.
    Huge,
}

/// Id values that resolve the same way in every encoding.
fn id_shapes() -> Vec<(&'static str, Value, Id)> {
    vec![
        ("null", json!(null), Id::Invalid),
        ("\"\"", json!(""), Id::Invalid),
        ("\"abc\"", json!("abc"), Id::Invalid),
        ("blanks", json!("   "), Id::Invalid),
        ("0", json!(0), Id::Invalid),
        ("-1", json!(-1), Id::Invalid),
        ("\"-1\"", json!("-1"), Id::Invalid),
        ("i64::MIN", json!(i64::MIN), Id::Invalid),
        (
            "\"-9223372036854775809\"",
            json!("-9223372036854775809"),
            Id::Invalid,
        ),
        ("\"0x1\"", json!("0x1"), Id::Invalid),
        ("\"\\u0000 1\"", json!("\u{0}1"), Id::Invalid),
        ("Arabic-Indic 1", json!("\u{0661}"), Id::Invalid),
        ("fullwidth 1", json!("\u{FF11}"), Id::Invalid),
        ("[]", json!([]), Id::Invalid),
        ("[1,2]", json!([1, 2]), Id::Invalid),
        ("{\"a\":1}", json!({"a": 1}), Id::Invalid),
        ("[[[[1]]]]", json!([[[[1]]]]), Id::Invalid),
        ("false", json!(false), Id::Invalid),
        ("-0.5", json!(-0.5), Id::Invalid),
        ("true", json!(true), Id::One),
        ("\"1abc\"", json!("1abc"), Id::One),
        ("\" 1\"", json!(" 1"), Id::One),
        ("\"\\t1\"", json!("\t1"), Id::One),
        ("\"1 \"", json!("1 "), Id::One),
        ("1.9", json!(1.9), Id::One),
        ("\"1.9\"", json!("1.9"), Id::One),
        ("\"1\\u0000\"", json!("1\u{0}"), Id::One),
        ("\"+1\"", json!("+1"), Id::One),
        ("\"00001\"", json!("00001"), Id::One),
        ("\"1e9\"", json!("1e9"), Id::One),
        ("i64::MAX", json!(i64::MAX), Id::Huge),
        (
            "\"9223372036854775807\"",
            json!("9223372036854775807"),
            Id::Huge,
        ),
        (
            "a 23-digit string",
            json!("99999999999999999999999"),
            Id::Huge,
        ),
        ("u64::MAX", json!(u64::MAX), Id::Huge),
        ("999999", json!(999_999), Id::Huge),
        ("\"+999999\"", json!("+999999"), Id::Huge),
    ]
}

/// The spellings an id parameter may arrive in.
const ID_KEYS: [&str; 4] = ["id", "ID", "Id", "arId"];

fn id_cases(s: &Suite) -> Vec<Case> {
    let mut cases = Vec::new();
    let reads: [(&str, Enc); 4] = [
        ("crm.lead.get", Enc::Json),
        ("crm.lead.get", Enc::Form),
        ("crm.contact.get", Enc::Query),
        ("crm.lead.contact.items.get", Enc::Multipart),
    ];
    for (method, enc) in reads {
        for (i, (label, value, id)) in id_shapes().into_iter().enumerate() {
            let key = ID_KEYS[i % ID_KEYS.len()];
            let expect = match (method, id) {
                ("crm.lead.contact.items.get", Id::Invalid) => invalid(OWNER_ITEMS),
                ("crm.lead.contact.items.get", Id::One) => Expect::Success,
                ("crm.lead.contact.items.get", Id::Huge) => at(&[("/result", json!([]))]),
                (_, Id::Invalid) => invalid(ID_INVALID),
                (_, Id::One) => at(&[("/result/ID", json!("1"))]),
                (_, Id::Huge) => invalid(NOT_FOUND),
            };
            cases.push(Case::new(
                "types:ids",
                format!("{method} {key}={label} as {}", enc.name()),
                s.encoded(enc, method, &obj(&[(key, value)])),
                expect,
            ));
        }
    }
    // Writes only with ids that resolve to no row: nothing may change.
    let writes: [(&str, Enc, Value); 5] = [
        (
            "crm.lead.update",
            Enc::Json,
            json!({"fields": {"TITLE": "never stored"}}),
        ),
        ("crm.lead.delete", Enc::Form, json!({})),
        ("crm.contact.delete", Enc::Multipart, json!({})),
        (
            "crm.lead.contact.add",
            Enc::Query,
            json!({"fields": {"CONTACT_ID": 1}}),
        ),
        ("crm.lead.contact.items.delete", Enc::Json, json!({})),
    ];
    for (method, enc, extra) in writes {
        for (i, (label, value, id)) in id_shapes().into_iter().enumerate() {
            let key = ID_KEYS[i % ID_KEYS.len()];
            let expect = match (method, id) {
                (_, Id::One) => continue,
                ("crm.lead.contact.add", Id::Invalid) => invalid(OWNER_QUOTED),
                ("crm.lead.contact.add", Id::Huge) => invalid("Not found."),
                ("crm.lead.contact.items.delete", Id::Invalid) => invalid(OWNER_ITEMS),
                ("crm.lead.contact.items.delete", Id::Huge) => at(&[("/result", json!(true))]),
                ("crm.lead.update", Id::Huge) => invalid("Lead is not found"),
                (_, Id::Invalid) => invalid(ID_INVALID),
                (_, Id::Huge) => invalid(NOT_FOUND),
            };
            let mut params = extra.clone();
            params[key] = value;
            cases.push(Case::new(
                "types:ids",
                format!("{method} {key}={label} as {}", enc.name()),
                s.encoded(enc, method, &params),
                expect,
            ));
        }
    }
    // The body wins over the query string on a clash.
    cases.push(Case::new(
        "types:ids",
        "crm.lead.get id=1 in the query, id=0 in the body",
        http(
            "POST",
            format!("{}?id=1", s.path("crm.lead.get")).as_bytes(),
            &[("Content-Type", b"application/json")],
            Some(br#"{"id":0}"#),
        ),
        invalid(ID_INVALID),
    ));
    cases
}

/// `fields` values for `crm.lead.update` (lead 1) and `crm.lead.add`; `None` = success.
fn lead_field_shapes() -> Vec<(&'static str, Value, Option<&'static str>)> {
    let invalid_value = Some("Field \"OPPORTUNITY\" has an invalid value.");
    let work_email = Some("The field Work e-mail contains an invalid address");
    vec![
        ("a string", json!("x"), Some(FIELDS_ARRAY)),
        ("a number", json!(1), Some(FIELDS_ARRAY)),
        ("true", json!(true), Some(FIELDS_ARRAY)),
        ("an empty string", json!(""), Some(FIELDS_ARRAY)),
        ("null", json!(null), None),
        ("[]", json!([]), None),
        ("{}", json!({}), None),
        ("a nested list", json!([[[[1]]]]), None),
        ("TITLE as an object", json!({"TITLE": {"a": 1}}), None),
        ("TITLE as a list", json!({"TITLE": ["a", "b"]}), None),
        (
            "OPPORTUNITY \"abc\"",
            json!({"OPPORTUNITY": "abc"}),
            invalid_value,
        ),
        (
            "OPPORTUNITY \"1e5\"",
            json!({"OPPORTUNITY": "1e5"}),
            invalid_value,
        ),
        (
            "OPPORTUNITY \"-\"",
            json!({"OPPORTUNITY": "-"}),
            invalid_value,
        ),
        (
            "OPPORTUNITY \"1.2.3\"",
            json!({"OPPORTUNITY": "1.2.3"}),
            invalid_value,
        ),
        (
            "OPPORTUNITY in Arabic digits",
            json!({"OPPORTUNITY": "\u{0661}\u{0662}"}),
            invalid_value,
        ),
        ("OPPORTUNITY \"1,5\"", json!({"OPPORTUNITY": "1,5"}), None),
        (
            "OPPORTUNITY \" 1 000 \"",
            json!({"OPPORTUNITY": " 1 000 "}),
            None,
        ),
        ("OPPORTUNITY as a list", json!({"OPPORTUNITY": [1]}), None),
        (
            "EMAIL not an address",
            json!({"EMAIL": [{"VALUE": "not-an-email"}]}),
            work_email,
        ),
        (
            "EMAIL without a dot, HOME",
            json!({"EMAIL": [{"VALUE": "a@b", "VALUE_TYPE": "HOME"}]}),
            Some("The field Home e-mail contains an invalid address"),
        ),
        (
            "EMAIL with two @, unknown type",
            json!({"EMAIL": [{"VALUE": "a@@b.c", "VALUE_TYPE": "nonsense"}]}),
            work_email,
        ),
        (
            "EMAIL as an object of entries",
            json!({"EMAIL": {"x": {"VALUE": "a b@c.d"}}}),
            work_email,
        ),
        (
            "CONTACT_IDS with a missing contact",
            json!({"CONTACT_IDS": [999_999]}),
            Some("Contact #999999 is not found."),
        ),
        (
            "CONTACT_ID of a missing contact",
            json!({"CONTACT_ID": "999999"}),
            Some("Contact #999999 is not found."),
        ),
        ("PHONE as a string", json!({"PHONE": "123"}), None),
        ("PHONE nested lists", json!({"PHONE": [[["1"]]]}), None),
        (
            "PHONE with an empty value",
            json!({"PHONE": [{"VALUE": ""}]}),
            None,
        ),
        (
            "PHONE value as an object",
            json!({"PHONE": [{"VALUE": {"a": 1}}]}),
            None,
        ),
        ("a read-only ID", json!({"ID": 77}), None),
        (
            "DATE_CREATE garbage",
            json!({"DATE_CREATE": "garbage"}),
            None,
        ),
        (
            "BIRTHDATE 99999-99-99",
            json!({"BIRTHDATE": "99999-99-99"}),
            None,
        ),
        ("STATUS_ID unknown", json!({"STATUS_ID": "NOPE"}), None),
        ("STATUS_ID as a list", json!({"STATUS_ID": ["JUNK"]}), None),
        (
            "ASSIGNED_BY_ID as an object",
            json!({"ASSIGNED_BY_ID": {"a": 1}}),
            None,
        ),
        ("OPENED as a list", json!({"OPENED": [1]}), None),
        ("an empty key", json!({"": 1}), None),
        ("an unknown field", json!({"UF_CRM_NOPE": "x"}), None),
    ]
}

fn field_cases(s: &Suite) -> Vec<Case> {
    let mut cases = Vec::new();
    for enc in [Enc::Json, Enc::Form] {
        for (label, fields, err) in lead_field_shapes() {
            let expect = err.map_or(Expect::Success, invalid);
            cases.push(Case::new(
                "types:fields",
                format!("crm.lead.update fields={label} as {}", enc.name()),
                s.encoded(enc, "crm.lead.update", &json!({"id": 1, "fields": fields})),
                expect,
            ));
        }
    }
    // Only the refused shapes on add: nothing may be created.
    for (label, fields, err) in lead_field_shapes() {
        if let Some(text) = err {
            cases.push(Case::new(
                "types:fields",
                format!("crm.lead.add fields={label} as query"),
                s.encoded(Enc::Query, "crm.lead.add", &json!({"fields": fields})),
                invalid(text),
            ));
        }
    }
    // Keys a form cannot carry but JSON can.
    for (label, fields) in [
        ("a NUL key", json!({"\u{0}": "x"})),
        ("a key with a NUL", json!({"TITLE\u{0}": 1})),
        ("a 10 KB key", obj(&[(&"K".repeat(10_000), json!(1))])),
    ] {
        cases.push(Case::new(
            "types:fields",
            format!("crm.lead.update fields={label} as json"),
            s.encoded(
                Enc::Json,
                "crm.lead.update",
                &json!({"id": 1, "fields": fields}),
            ),
            Expect::Success,
        ));
    }
    let contact: [(&str, Value, Option<&str>); 6] = [
        ("a string", json!("x"), Some(FIELDS_ARRAY)),
        ("true", json!(true), Some(FIELDS_ARRAY)),
        (
            "EMAIL not an address",
            json!({"EMAIL": [{"VALUE": "nope"}]}),
            Some("The field Work e-mail contains an invalid address"),
        ),
        ("NAME as an object", json!({"NAME": {"a": 1}}), None),
        ("PHONE as a string", json!({"PHONE": "1"}), None),
        ("TYPE_ID as a list", json!({"TYPE_ID": ["CLIENT"]}), None),
    ];
    for (label, fields, err) in contact {
        let expect = err.map_or(Expect::Success, invalid);
        cases.push(Case::new(
            "types:fields",
            format!("crm.contact.update fields={label} as multipart"),
            s.encoded(
                Enc::Multipart,
                "crm.contact.update",
                &json!({"id": 1, "fields": fields}),
            ),
            expect,
        ));
        if let Some(text) = err {
            cases.push(Case::new(
                "types:fields",
                format!("crm.contact.add fields={label} as json"),
                s.encoded(Enc::Json, "crm.contact.add", &json!({"fields": fields})),
                invalid(text),
            ));
        }
    }
    for (method, enc) in [("crm.lead.update", Enc::Json), ("crm.lead.add", Enc::Form)] {
        cases.push(Case::new(
            "types:fields",
            format!("{method} params=\"x\" as {}", enc.name()),
            s.encoded(
                enc,
                method,
                &json!({"id": 1, "fields": {"TITLE": "p"}, "params": "x"}),
            ),
            invalid(PARAMS_ARRAY),
        ));
    }
    cases
}

/// Wrong types in every other parameter.
fn param_cases(s: &Suite) -> Vec<Case> {
    let items_array = "The parameter items must be array.";
    let not_valid = "The parameter 'fields' is not valid.";
    let table: Vec<(&str, Value, Expect)> = vec![
        (
            "crm.lead.list",
            json!({"order": "x"}),
            invalid("Parameter 'order' must be array."),
        ),
        (
            "crm.lead.list",
            json!({"filter": "x"}),
            invalid("Parameter 'filter' must be array."),
        ),
        (
            "crm.lead.list",
            json!({"filter": 0}),
            invalid("Parameter 'filter' must be array."),
        ),
        (
            "crm.contact.list",
            json!({"order": true}),
            invalid("Parameter 'order' must be array."),
        ),
        ("crm.lead.list", json!({"select": "ID"}), Expect::Success),
        (
            "crm.lead.list",
            json!({"select": {"a": "ID", "b": ["x"]}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"select": [[], {}, null, "ID; DROP TABLE crm_lead"]}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"order": {"ID; DROP TABLE crm_lead": "DESC"}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"order": {"ID": "DESC; DROP TABLE crm_lead"}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"order": {"ID": {"a": 1}}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"@ID": []}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"@ID": [[1], {"a": 1}]}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"%TITLE": "%_\\"}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"%TITLE": "x".repeat(10_000)}}),
            at(&[("/total", json!(0))]),
        ),
        (
            "crm.lead.list",
            json!({"filter": {"!><=@%TITLE": "x", "": 1, "\u{0}ID": 1}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"PHONE": {"a": {"b": 1}}}}),
            Expect::Success,
        ),
        (
            "crm.contact.list",
            json!({"filter": {">=DATE_CREATE": ["x", {}, []]}}),
            Expect::Success,
        ),
        (
            "crm.status.list",
            json!({"filter": "x"}),
            invalid("Parameter 'filter' must be array."),
        ),
        (
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": {"a": {"b": 1}}}}),
            at(&[("/total", json!(0))]),
        ),
        (
            "crm.status.list",
            json!({"filter": {"=ENTITY_ID": "STATUS", "NOPE": "x"}}),
            Expect::Success,
        ),
        ("method.get", json!({"name": {"a": 1}}), invalid(GOT_ARRAY)),
        (
            "method.get",
            json!({"name": ["crm.lead.add"]}),
            invalid(GOT_ARRAY),
        ),
        (
            "method.get",
            json!({"name": 1}),
            at(&[("/result/isExisting", json!(false))]),
        ),
        ("methods", json!({"scope": ["crm"]}), invalid(GOT_ARRAY)),
        ("methods", json!({"full": {"a": 1}}), Expect::Success),
        ("scope", json!({"full": [1]}), Expect::Success),
        ("profile", json!({"x": [[1]]}), Expect::Success),
        ("user.current", json!({"x": [[1]]}), Expect::Success),
        ("user.get", json!({"FILTER": "x"}), Expect::Success),
        (
            "user.get",
            json!({"filter": {"ID": {"a": [1]}}}),
            Expect::Success,
        ),
        (
            "user.get",
            json!({"ID": "1e999", "start": "-5"}),
            Expect::Success,
        ),
        (
            "user.get",
            json!({"sort": ["x"], "order": {"a": 1}, "start": "9999999999999999999999"}),
            Expect::Success,
        ),
        (
            "user.get",
            json!({"filter": {">=ID": [], "%NAME": [[1]], "UF_DEPARTMENT": {"a": "b"}}}),
            Expect::Success,
        ),
        ("department.get", json!({"FILTER": [1, 2]}), Expect::Success),
        (
            "department.get",
            json!({"sort": "NAME", "order": "DESC", "START": -1, "PARENT": [[]]}),
            Expect::Success,
        ),
        (
            "department.get",
            json!({"SORT": {"a": 1}, "ID": "x"}),
            Expect::Success,
        ),
        ("app.info", json!({"x": {"y": null}}), Expect::Success),
        ("server.time", json!({"x": [1]}), Expect::Success),
        ("crm.lead.fields", json!({"x": [1]}), Expect::Success),
        ("crm.contact.fields", json!({"x": "y"}), Expect::Success),
        ("crm.status.fields", json!({"x": [1]}), Expect::Success),
        (
            "crm.lead.contact.fields",
            json!({"id": [1]}),
            Expect::Success,
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": "x"}),
            invalid("The parameter 'fields' must be array."),
        ),
        (
            "crm.lead.contact.delete",
            json!({"id": 1, "fields": "x"}),
            invalid("The parameter 'item' must be array."),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {}}),
            invalid(not_valid),
        ),
        (
            "crm.lead.contact.delete",
            json!({"id": 1, "fields": []}),
            invalid(not_valid),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": -1}}),
            invalid(not_valid),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": "abc"}}),
            invalid(not_valid),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": [1]}}),
            invalid(not_valid),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": {"a": 1}}}),
            invalid(not_valid),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": 999_999}}),
            invalid("Contact #999999 is not found."),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": i64::MAX}}),
            invalid("Contact #9223372036854775807 is not found."),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": 1, "IS_PRIMARY": "y"}}),
            Expect::Success,
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": 2, "IS_PRIMARY": ["Y"]}}),
            Expect::Success,
        ),
        (
            "crm.lead.contact.add",
            json!({"id": 1, "fields": {"CONTACT_ID": 2, "IS_PRIMARY": true}}),
            at(&[("/result", json!(false))]),
        ),
        (
            "crm.lead.contact.delete",
            json!({"id": 1, "fields": {"CONTACT_ID": 999_999}}),
            at(&[("/result", json!(false))]),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": 1, "items": "x"}),
            invalid(items_array),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": 1, "items": 1}),
            invalid(items_array),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": 1}),
            invalid(items_array),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": 1, "items": [1, "x", null, [], {}]}),
            at(&[("/result", json!(true))]),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": 1, "items": [{"CONTACT_ID": 999_999}]}),
            invalid("Contact #999999 is not found."),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": 1, "items": [
                {"CONTACT_ID": "1abc"},
                {"CONTACT_ID": 1},
                {"CONTACT_ID": 2, "IS_PRIMARY": "Y"},
                {"CONTACT_ID": 1, "IS_PRIMARY": "Y"}
            ]}),
            at(&[("/result", json!(true))]),
        ),
        (
            "crm.lead.contact.items.get",
            json!({"id": 1}),
            at(&[
                ("/result/0/CONTACT_ID", json!(1)),
                ("/result/0/IS_PRIMARY", json!("N")),
                ("/result/1/CONTACT_ID", json!(2)),
                ("/result/1/IS_PRIMARY", json!("Y")),
            ]),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": 1, "items": {
                "a": {"CONTACT_ID": 2},
                "b": {"CONTACT_ID": 1, "IS_PRIMARY": "Y"}
            }}),
            at(&[("/result", json!(true))]),
        ),
        (
            "crm.lead.contact.items.get",
            json!({"id": 1}),
            at(&[
                ("/result/0/CONTACT_ID", json!(2)),
                ("/result/1/IS_PRIMARY", json!("Y")),
            ]),
        ),
        (
            "batch",
            json!({"halt": {"a": [1]}, "cmd": {"a": "server.time"}}),
            Expect::Success,
        ),
    ];
    table
        .into_iter()
        .map(|(method, params, expect)| {
            Case::new(
                "types:params",
                format!("{method} {}", lossy(params.to_string().as_bytes())),
                s.encoded(Enc::Json, method, &params),
                expect,
            )
        })
        .collect()
}

/// Huge, negative and out-of-range numbers, as JSON numbers and as form strings.
fn number_cases(s: &Suite) -> Vec<Case> {
    let empty_page = success_where("an empty page without `next`", |b| {
        b["result"] == json!([]) && b.get("next").is_none()
    });
    let first_page = at(&[("/result/0/ID", json!("1"))]);
    let mut table: Vec<(&str, Value, Expect)> = vec![
        (
            "crm.lead.list",
            json!({"start": -1}),
            at(&[("/total", json!(0)), ("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": -2}),
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": i64::MIN}),
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": -1e308}),
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": "-99999999999999999999"}),
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": 1.5}),
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": "1e308"}),
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": [5]}),
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            json!({"start": 1_000_000_000_000_000_000_i64}),
            empty_page,
        ),
        // The largest start whose page end still fits in an i64 (see KNOWN_BUGS for larger).
        (
            "crm.lead.list",
            json!({"start": 9_223_372_036_854_775_799_i64}),
            success_where("an empty page without `next`", |b| {
                b["result"] == json!([]) && b.get("next").is_none()
            }),
        ),
        (
            "crm.contact.list",
            json!({"start": -1e308, "select": ["ID"]}),
            first_page,
        ),
        (
            "crm.status.list",
            json!({"start": i64::MAX}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"ID": 1e308}}),
            at(&[("/total", json!(0))]),
        ),
        (
            "crm.lead.list",
            json!({"filter": {">ID": -1e308}, "select": ["ID"]}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"@ID": [1e308, -1e308, 0, -0.0, u64::MAX]}}),
            at(&[("/total", json!(0))]),
        ),
        (
            "crm.lead.list",
            json!({"filter": {"ID": "99999999999999999999999"}}),
            at(&[("/total", json!(0))]),
        ),
        (
            "crm.lead.list",
            json!({"filter": {">=ID": i64::MIN, "<=ID": i64::MAX}, "select": ["ID"]}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"OPPORTUNITY": 1e308}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {">OPPORTUNITY": format!("1{}", "0".repeat(400))}}),
            at(&[("/total", json!(0))]),
        ),
        (
            "crm.lead.list",
            json!({"filter": {"<OPPORTUNITY": format!("-1{}", "0".repeat(400))}}),
            at(&[("/total", json!(0))]),
        ),
        // An amount past the range of a double is refused, not stored as infinity.
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"OPPORTUNITY": format!("1{}", "0".repeat(400))}}),
            invalid("Field \"OPPORTUNITY\" has an invalid value."),
        ),
        (
            "crm.lead.add",
            json!({"fields": {"OPPORTUNITY": format!("-1{},5", "0".repeat(400))}}),
            invalid("Field \"OPPORTUNITY\" has an invalid value."),
        ),
        (
            "crm.lead.list",
            json!({"filter": {"ADDRESS_LOC_ADDR_ID": u64::MAX}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {">DATE_CREATE": "+262143-12-31"}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"<DATE_CREATE": "-262143-01-01T00:00:00"}}),
            Expect::Success,
        ),
        (
            "crm.lead.list",
            json!({"filter": {"BIRTHDATE": "0000-00-00"}}),
            Expect::Success,
        ),
        (
            "crm.contact.list",
            json!({"filter": {">=DATE_MODIFY": 1e308, "ID": -0.0}}),
            Expect::Success,
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"ADDRESS_LOC_ADDR_ID": i64::MIN}}),
            Expect::Success,
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"ADDRESS_LOC_ADDR_ID": u64::MAX}}),
            Expect::Success,
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"ADDRESS_LOC_ADDR_ID": -1e308}}),
            Expect::Success,
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"ADDRESS_LOC_ADDR_ID": "-99999999999999999999"}}),
            Expect::Success,
        ),
        (
            "crm.lead.get",
            json!({"id": 1}),
            at(&[("/result/ADDRESS_LOC_ADDR_ID", json!(i64::MIN.to_string()))]),
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"OPPORTUNITY": 1e308}}),
            Expect::Success,
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"OPPORTUNITY": -1e-320}}),
            Expect::Success,
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"ASSIGNED_BY_ID": 1e300, "BIRTHDATE": "+262143-12-31"}}),
            Expect::Success,
        ),
        (
            "crm.lead.update",
            json!({"id": 1, "fields": {"ASSIGNED_BY_ID": 1, "BIRTHDATE": "-262143-01-01"}}),
            Expect::Success,
        ),
        ("crm.lead.get", json!({"id": 1}), Expect::Success),
        (
            "crm.contact.update",
            json!({"id": 1, "fields": {"ADDRESS_LOC_ADDR_ID": 1e308, "BIRTHDATE": 1e308}}),
            Expect::Success,
        ),
    ];
    // SORT values on the sort lead: non-positive ones become (position + 1) × 10, huge
    // ones are kept (an add without SORT after one near i64::MAX is a KNOWN_BUGS entry,
    // so the set is reset at the end).
    let sort = SORT_LEAD;
    table.extend([
        (
            "crm.lead.contact.items.set",
            json!({"id": sort, "items": [
                {"CONTACT_ID": 2, "SORT": i64::MIN},
                {"CONTACT_ID": 1, "SORT": -5}
            ]}),
            at(&[("/result", json!(true))]),
        ),
        (
            "crm.lead.contact.items.get",
            json!({"id": sort}),
            at(&[(
                "/result",
                json!([
                    {"CONTACT_ID": 2, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
                    {"CONTACT_ID": 1, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"}
                ]),
            )]),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": sort, "items": [
                {"CONTACT_ID": 1, "SORT": i64::MAX},
                {"CONTACT_ID": 2, "SORT": 1e308},
                {"CONTACT_ID": 4, "SORT": "99999999999999999999"}
            ]}),
            at(&[("/result", json!(true))]),
        ),
        (
            "crm.lead.contact.items.get",
            json!({"id": sort}),
            at(&[
                ("/result/0/SORT", json!(i64::MAX)),
                ("/result/2/SORT", json!(i64::MAX)),
                ("/result/0/IS_PRIMARY", json!("Y")),
            ]),
        ),
        (
            "crm.lead.contact.add",
            json!({"id": sort, "fields": {"CONTACT_ID": 3, "SORT": i64::MIN, "IS_PRIMARY": "Y"}}),
            at(&[("/result", json!(true))]),
        ),
        (
            "crm.lead.contact.items.get",
            json!({"id": sort}),
            at(&[
                ("/result/0/CONTACT_ID", json!(3)),
                ("/result/0/SORT", json!(i64::MIN)),
                ("/result/0/IS_PRIMARY", json!("Y")),
            ]),
        ),
        (
            "crm.lead.contact.delete",
            json!({"id": sort, "fields": {"CONTACT_ID": 3}}),
            at(&[("/result", json!(true))]),
        ),
        (
            "crm.lead.contact.items.set",
            json!({"id": sort, "items": [
                {"CONTACT_ID": 1, "SORT": 10},
                {"CONTACT_ID": 2, "SORT": 20}
            ]}),
            at(&[("/result", json!(true))]),
        ),
    ]);
    let mut cases: Vec<Case> = table
        .into_iter()
        .map(|(method, params, expect)| {
            Case::new(
                "numbers",
                format!("{method} {}", lossy(params.to_string().as_bytes())),
                s.encoded(Enc::Json, method, &params),
                expect,
            )
        })
        .collect();
    // A JSON integer past u64 (read as a float) in a raw body.
    cases.push(Case::new(
        "numbers",
        "crm.lead.update OPPORTUNITY 123456789012345678901234567890 as raw JSON",
        s.post(
            "crm.lead.update",
            JSON,
            concat!(
                r#"{"id":1,"fields":{"OPPORTUNITY":123456789012345678901234567890,"#,
                r#""ADDRESS_LOC_ADDR_ID":-123456789012345678901234567890}}"#
            )
            .as_bytes(),
        ),
        at(&[("/result", json!(true))]),
    ));
    // The same kinds of numbers as form text: no JSON number semantics.
    let forms: [(&str, &str, Expect); 6] = [
        (
            "crm.lead.update",
            "id=1&fields[OPPORTUNITY]=1e308",
            invalid("Field \"OPPORTUNITY\" has an invalid value."),
        ),
        (
            "crm.lead.update",
            "id=1&fields[OPPORTUNITY]=-0",
            Expect::Success,
        ),
        (
            "crm.lead.update",
            "id=1&fields[ADDRESS_LOC_ADDR_ID]=99999999999999999999",
            Expect::Success,
        ),
        (
            "crm.lead.get",
            "id=1",
            at(&[("/result/ADDRESS_LOC_ADDR_ID", json!(i64::MAX.to_string()))]),
        ),
        (
            "crm.lead.list",
            "start=-9223372036854775809&select[]=ID",
            at(&[("/result/0/ID", json!("1"))]),
        ),
        (
            "crm.lead.list",
            "start=9223372036854775799&select[]=ID",
            at(&[("/result", json!([]))]),
        ),
    ];
    for (method, body, expect) in forms {
        cases.push(Case::new(
            "numbers",
            format!("{method} {body} as form"),
            s.post(method, "application/x-www-form-urlencoded", body.as_bytes()),
            expect,
        ));
    }
    cases
}

/// PHP bracket names: each string goes out as a form body, a query string and, where the
/// name needs no percent-decoding, as multipart field names.
fn php_name_cases(s: &Suite) -> Vec<Case> {
    /// What `method.get` answers.
    #[derive(Clone, Copy)]
    enum Want {
        /// `isExisting` for the name it ended up with.
        Exists(bool),
        /// `name` became an array.
        Array,
    }
    let deep = |n: usize| "[a]".repeat(n);
    let pairs = |n: usize| "x=1&".repeat(n);
    // (label, form text, answer, also as multipart, also as a query string)
    let table: Vec<(&str, String, Want, bool, bool)> = vec![
        (
            "the plain name",
            "name=crm.lead.add".into(),
            Want::Exists(true),
            true,
            true,
        ),
        (
            "then the name 65 levels deep",
            format!("name=crm.lead.add&name{}=1", deep(65)),
            Want::Exists(false),
            true,
            true,
        ),
        (
            "then the name 1,000 levels deep",
            format!("name=crm.lead.add&name{}=1", deep(1_000)),
            Want::Exists(false),
            true,
            true,
        ),
        (
            "1,000 levels, then the plain name",
            format!("name{}=1&name=crm.lead.add", deep(1_000)),
            Want::Exists(true),
            true,
            true,
        ),
        (
            "64 levels",
            format!("name{}=1", deep(64)),
            Want::Array,
            true,
            true,
        ),
        (
            "64 levels of []",
            format!("name{}=1", "[]".repeat(64)),
            Want::Array,
            true,
            true,
        ),
        (
            "65 levels of []",
            format!("name=crm.lead.add&name{}=1", "[]".repeat(65)),
            Want::Exists(false),
            true,
            true,
        ),
        (
            "1,000 unmatched [",
            format!("name=crm.lead.add&name{}=1", "[".repeat(1_000)),
            Want::Exists(true),
            true,
            true,
        ),
        (
            "1,000 stray ]",
            format!("name{}=1&name=crm.lead.add", "]".repeat(1_000)),
            Want::Exists(true),
            true,
            true,
        ),
        (
            "name[]",
            "name[]=crm.lead.add".into(),
            Want::Array,
            true,
            true,
        ),
        (
            "the last duplicate wins",
            "name=crm.lead.add&name=nope".into(),
            Want::Exists(false),
            true,
            true,
        ),
        (
            "the last duplicate wins again",
            "name=nope&name=crm.lead.add".into(),
            Want::Exists(true),
            true,
            true,
        ),
        (
            "an array overwritten by a scalar",
            "name[a]=1&name=crm.lead.add".into(),
            Want::Exists(true),
            true,
            true,
        ),
        (
            "a scalar turned into an array",
            "name=crm.lead.add&name[a]=1".into(),
            Want::Array,
            true,
            true,
        ),
        (
            "an append after i64::MAX",
            "name[9223372036854775807]=a&name[]=b".into(),
            Want::Array,
            true,
            true,
        ),
        ("index -0", "name[-0]=a".into(), Want::Array, true, true),
        (
            "a 100,000-byte index",
            format!("name[{}]=1", "i".repeat(100_000)),
            Want::Array,
            true,
            false,
        ),
        (
            "dots and spaces",
            "n.a+m[e=crm.lead.add".into(),
            Want::Exists(false),
            true,
            true,
        ),
        (
            "%00 inside the name",
            "na%00me=x&name=crm.lead.add".into(),
            Want::Exists(true),
            false,
            true,
        ),
        (
            "%00 after the name",
            "name%00=crm.lead.add".into(),
            Want::Exists(true),
            false,
            true,
        ),
        (
            "%00 first",
            "%00name=crm.lead.add".into(),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "%00 in an index",
            "name=crm.lead.add&name[%00]=1".into(),
            Want::Exists(true),
            false,
            true,
        ),
        (
            "a leading space",
            "+name=crm.lead.add".into(),
            Want::Exists(true),
            false,
            true,
        ),
        (
            "a trailing space",
            "name+=crm.lead.add".into(),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "empty pieces",
            "&&&&name=crm.lead.add&&&&".into(),
            Want::Exists(true),
            false,
            true,
        ),
        (
            "10,000 pairs after it",
            format!("name=crm.lead.add&{}", pairs(10_000)),
            Want::Exists(true),
            false,
            true,
        ),
        (
            "10,000 pairs before it",
            format!("{}name=crm.lead.add", pairs(10_000)),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "percent-encoded dots",
            "name=crm%2Elead%2Eadd".into(),
            Want::Exists(true),
            false,
            true,
        ),
        (
            "a NUL after the value",
            "name=crm.lead.add%00".into(),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "invalid UTF-8 in the value",
            "name=%FF%FE".into(),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "an empty name",
            "=crm.lead.add".into(),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "bare =",
            "=&==&===".into(),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "lone percent signs",
            "%=%&%%%%&name=%&name=%z&name=%F".into(),
            Want::Exists(false),
            false,
            true,
        ),
        (
            "a name without a value",
            "name".into(),
            Want::Exists(false),
            false,
            true,
        ),
    ];
    let expect = |want: Want| match want {
        Want::Exists(yes) => at(&[("/result/isExisting", json!(yes))]),
        Want::Array => invalid(GOT_ARRAY),
    };
    let mut cases = Vec::new();
    for (label, form, want, as_multipart, as_query) in table {
        cases.push(Case::new(
            "php-names",
            format!("method.get {label} as form"),
            s.post(
                "method.get",
                "application/x-www-form-urlencoded",
                form.as_bytes(),
            ),
            expect(want),
        ));
        if as_query {
            cases.push(Case::new(
                "php-names",
                format!("method.get {label} as query"),
                http(
                    "GET",
                    format!("{}?{form}", s.path("method.get")).as_bytes(),
                    &[],
                    None,
                ),
                expect(want),
            ));
        }
        if as_multipart {
            let fields: Vec<(String, Vec<u8>)> = form
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.replace('+', " "), v.as_bytes().to_vec())
                })
                .collect();
            cases.push(Case::new(
                "php-names",
                format!("method.get {label} as multipart"),
                s.post("method.get", &multipart_type(), &multipart(&fields)),
                expect(want),
            ));
        }
    }
    // A name 1,000 levels deep removes the whole top-level entry: the update changes
    // nothing and the title stays.
    let update = |body: String| {
        s.post(
            "crm.lead.update",
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        )
    };
    cases.push(Case::new(
        "php-names",
        "crm.lead.update sets the title",
        update("id=1&fields[TITLE]=Before".into()),
        at(&[("/result", json!(true))]),
    ));
    cases.push(Case::new(
        "php-names",
        "crm.lead.update with fields 1,000 levels deep",
        update(format!("id=1&fields[TITLE]=Deep&fields{}=1", deep(1_000))),
        at(&[("/result", json!(true))]),
    ));
    cases.push(Case::new(
        "php-names",
        "crm.lead.get after the deep update",
        s.encoded(Enc::Json, "crm.lead.get", &json!({"id": 1})),
        at(&[("/result/TITLE", json!("Before"))]),
    ));
    cases.push(Case::new(
        "php-names",
        "crm.lead.get with id 1,000 levels deep",
        s.post(
            "crm.lead.get",
            "application/x-www-form-urlencoded",
            format!("id=1&id{}=1", deep(1_000)).as_bytes(),
        ),
        invalid(ID_INVALID),
    ));
    cases
}

/// NUL and invalid UTF-8 everywhere a request can carry them.
fn nul_utf8_cases(s: &Suite) -> Vec<Case> {
    let hook = s.hook.as_bytes();
    let to = |rest: &[u8]| concat(&[hook, rest]);
    let get = |target: &[u8]| http("GET", target, &[], None);
    let form = |method: &str, body: &[u8]| s.post(method, FORM, body);
    let json = |method: &str, params: Value| s.encoded(Enc::Json, method, &params);
    let with_header = |name: &'static str, value: &'static [u8]| {
        http("GET", &to(b"server.time"), &[(name, value)], None)
    };
    let read_back = || json("crm.contact.get", json!({"id": 1}));
    let name_is = |name: &str| at(&[("/result/NAME", json!(name))]);
    let done = || at(&[("/result", json!(true))]);
    let no_method = || error(404, NO_METHOD, "Method not found!");
    let bad_creds = || error(401, "INVALID_CREDENTIALS", "Invalid request credentials");
    let astral = "a\u{0}b\u{1F600}\u{FFFF}\u{10FFFF}";
    let raw_multipart = multipart(&[
        ("id".into(), b"1".to_vec()),
        ("fields[NAME]".into(), b"\xfe\x00\xe2\x82".to_vec()),
    ]);
    let table: Vec<(&str, Vec<u8>, Expect)> = vec![
        // Stored text comes back byte for byte (NUL included); invalid UTF-8 is U+FFFD.
        (
            "NAME with NUL and astral characters as json",
            json(
                "crm.contact.update",
                json!({"id": 1, "fields": {"NAME": astral, "LAST_NAME": "\u{0}"}}),
            ),
            done(),
        ),
        (
            "read back",
            read_back(),
            at(&[
                ("/result/NAME", json!(astral)),
                ("/result/LAST_NAME", json!("\u{0}")),
            ]),
        ),
        (
            "NAME with %FF%FE as form",
            form("crm.contact.update", b"id=1&fields[NAME]=%FF%FEx%00y"),
            done(),
        ),
        ("read back", read_back(), name_is("\u{FFFD}\u{FFFD}x\u{0}y")),
        (
            "raw bytes FF 00 in a form body",
            form("crm.contact.update", b"id=1&fields[NAME]=\xff\x00z\xc3"),
            done(),
        ),
        ("read back", read_back(), name_is("\u{FFFD}\u{0}z\u{FFFD}")),
        (
            "raw bytes in a multipart value",
            s.post("crm.contact.update", &multipart_type(), &raw_multipart),
            done(),
        ),
        ("read back", read_back(), name_is("\u{FFFD}\u{0}\u{FFFD}")),
        (
            "a NUL filter value",
            json("crm.contact.list", json!({"filter": {"NAME": astral}})),
            at(&[("/total", json!(0))]),
        ),
        (
            "a NUL LIKE value",
            json(
                "crm.contact.list",
                json!({"filter": {"%NAME": "\u{0}"}, "select": ["ID"]}),
            ),
            Expect::Success,
        ),
        (
            "invalid UTF-8 form keys",
            form(
                "crm.lead.update",
                b"id=1&fields[%FF]=1&%FE[x]=2&fields[\xff\xfe]=3",
            ),
            done(),
        ),
        (
            "a NUL-prefixed top-level JSON key",
            s.post("crm.lead.get", JSON, br#"{"\u0000id":1}"#),
            invalid(ID_INVALID),
        ),
        (
            "a NUL-suffixed top-level JSON key",
            s.post("crm.lead.get", JSON, br#"{"id\u0000":1}"#),
            invalid(ID_INVALID),
        ),
        (
            "%00 before the query value",
            get(&to(b"crm.lead.get?id=%001")),
            invalid(ID_INVALID),
        ),
        (
            "%00 after the query value",
            get(&to(b"crm.lead.get?id=1%00")),
            lead_one(),
        ),
        (
            "%FF%FE in the query",
            get(&to(b"crm.lead.get?id=%FF%FE&%FF=%FE")),
            invalid(ID_INVALID),
        ),
        // Percent escapes in the path are not decoded: no method has such a name.
        (
            "%00 in the method name",
            get(&to(b"crm.lead.get%00?id=1")),
            no_method(),
        ),
        (
            "%FF in the method name",
            get(&to(b"crm.lead.get%FF?id=1")),
            no_method(),
        ),
        (
            "an overlong dot in the method name",
            get(&to(b"crm%C0%AElead.get?id=1")),
            no_method(),
        ),
        (
            "%00 in the webhook user",
            get(b"/rest/1%00/x/server.time"),
            bad_creds(),
        ),
        (
            "%FF in the webhook secret",
            get(&concat(&[
                hook.strip_suffix(b"/").unwrap(),
                b"%FF/server.time",
            ])),
            bad_creds(),
        ),
        // Valid UTF-8 passes hyper (unlike FF FE below) and names no method.
        (
            "raw UTF-8 in the path",
            get(&to("crm.lead.g\u{00e9}t".as_bytes())),
            no_method(),
        ),
        // Raw bytes hyper refuses: the request line and header values must be ASCII
        // without controls.
        (
            "a raw NUL in the path",
            get(&to(b"crm.lead.get\0?id=1")),
            Expect::Hyper(400),
        ),
        (
            "raw FF FE in the path",
            get(&to(b"crm.lead.get\xff\xfe?id=1")),
            Expect::Hyper(400),
        ),
        (
            "raw FF FE in the query",
            get(&to(b"crm.lead.get?id=1&x=\xff\xfe")),
            Expect::Hyper(400),
        ),
        (
            "a raw NUL in the query",
            get(&to(b"crm.lead.get?id=1\0")),
            Expect::Hyper(400),
        ),
        (
            "a NUL in a header value",
            with_header("X-A", b"a\0b"),
            Expect::Hyper(400),
        ),
        (
            "a DEL in a header value",
            with_header("X-A", b"a\x7fb"),
            Expect::Hyper(400),
        ),
        (
            "a control byte in a header value",
            with_header("X-A", b"a\x01b"),
            Expect::Hyper(400),
        ),
        (
            "a NUL in a header name",
            with_header("X-\0A", b"b"),
            Expect::Hyper(400),
        ),
        (
            "a NUL in the Content-Type",
            s.post("crm.lead.get", "application/json\0", br#"{"id":1}"#),
            Expect::Hyper(400),
        ),
        // Bytes above 0x7F in header values reach our code, which ignores the header.
        (
            "FF in a header value",
            with_header("X-A", b"a\xffb"),
            Expect::Success,
        ),
        (
            "FF in the Content-Type: read as a form",
            http(
                "POST",
                &to(b"crm.lead.get"),
                &[("Content-Type", b"application/json\xff")],
                Some(b"id=1"),
            ),
            lead_one(),
        ),
        (
            "FF in a bearer token",
            http(
                "GET",
                b"/rest/server.time",
                &[("Authorization", b"Bearer \xff\xfe")],
                None,
            ),
            error(401, "NO_AUTH_FOUND", "Wrong authorization data"),
        ),
        (
            "a raw NUL as the HTTP method",
            raw("\0", b"/healthz", &[], b""),
            Expect::Hyper(400),
        ),
        (
            "FF as the HTTP method",
            raw("\u{ff}", b"/healthz", &[], b""),
            Expect::Hyper(400),
        ),
        (
            "DEL as the HTTP method",
            raw("\x7f", b"/healthz", &[], b""),
            Expect::Hyper(400),
        ),
    ];
    table
        .into_iter()
        .map(|(label, request, expect)| Case::new("nul-utf8", label, request, expect))
        .collect()
}

/// Method names, paths and HTTP methods.
fn method_name_cases(s: &Suite) -> Vec<Case> {
    let hook = s.hook.as_bytes();
    let get = |target: &[u8]| http("GET", target, &[], None);
    let not_found = || error(404, NO_METHOD, "Method not found!");
    let long = |n: usize| "crm.lead.get".repeat(n / 12 + 1)[..n].to_string();
    let mut cases = Vec::new();
    for (label, n, expect) in [
        ("10 KB", 10 * 1024, not_found()),
        ("60 KB", 60 * 1024, not_found()),
        // Past the 64 KB URI limit hyper answers 414 itself; past its ~400 KB read
        // buffer, 431 before the request line is even parsed.
        ("100 KB", 100 * 1024, Expect::Hyper(414)),
        ("1 MB", 1024 * 1024, Expect::Hyper(431)),
    ] {
        let name = long(n);
        cases.push(Case::new(
            "method-names",
            format!("a {label} name on the webhook"),
            get(&concat(&[hook, name.as_bytes()])),
            match &expect {
                Expect::Hyper(st) => Expect::Hyper(*st),
                _ => not_found(),
            },
        ));
        cases.push(Case::new(
            "method-names",
            format!("a {label} name on the OAuth route"),
            get(format!("/rest/{name}").as_bytes()),
            expect,
        ));
    }
    cases.push(Case::new(
        "method-names",
        "a 10 KB name with .json",
        get(&concat(&[hook, long(10 * 1024).as_bytes(), b".json"])),
        not_found(),
    ));
    cases.push(Case::new(
        "method-names",
        "a 10 KB name in a POST with a body",
        s.post(&long(10 * 1024), "application/json", b"{\"id\":1}"),
        not_found(),
    ));
    for name in [
        "crm.lead.get.json.xml",
        "server.time.json.json",
        "crm..lead.get",
        "crm.lead",
        "crm",
        ".",
        "..",
        "crm.lead.get;",
        "crm.lead.get%20",
        "%20crm.lead.get",
        "crm%2Elead%2Eget",
        "crm.lead.get%ZZ",
        "crm.lead.nope",
        "server.time.html",
        "~",
        "%2e%2e",
        "%D1%81%D0%B5%D1%80%D0%B2%D0%B5%D1%80",
    ] {
        cases.push(Case::new(
            "method-names",
            format!("the name {name:?}"),
            get(&concat(&[hook, name.as_bytes(), b"?id=1"])),
            not_found(),
        ));
    }
    for name in [
        "SERVER.TIME",
        "Server.Time.JSON",
        "server.time.xml",
        "server.time/",
        "/server.time",
        "//server.time//",
    ] {
        cases.push(Case::new(
            "method-names",
            format!("the name {name:?}"),
            get(&concat(&[hook, name.as_bytes()])),
            Expect::Success,
        ));
    }
    let slashes = "/".repeat(10_000);
    for (label, target, expect) in [
        ("/", "/".to_string(), not_found()),
        ("/rest", "/rest".into(), not_found()),
        ("/rest/", "/rest/".into(), not_found()),
        ("/rest//", "/rest//".into(), not_found()),
        ("/REST/server.time", "/REST/server.time".into(), not_found()),
        ("/rest/1/x (two segments)", "/rest/1/x".into(), not_found()),
        ("four segments", "/rest/a/b/c/d".into(), not_found()),
        (
            "a dot-dot segment",
            format!("/rest/..{}server.time", s.hook),
            not_found(),
        ),
        ("/healthz/", "/healthz/".into(), not_found()),
        (
            "/healthz with a query",
            "/healthz?x=%00&y[]=1".into(),
            Expect::Exact(200, json!({"status": "ok"})),
        ),
        (
            "10,000 slashes, OAuth",
            format!("/rest/{slashes}server.time"),
            error(401, "NO_AUTH_FOUND", "Wrong authorization data"),
        ),
        (
            "10,000 slashes inside the webhook",
            format!("{}{slashes}server.time{slashes}", s.hook),
            Expect::Success,
        ),
        (
            "webhook user 0",
            "/rest/0/x/server.time".into(),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
        (
            "webhook user -1",
            "/rest/-1/x/server.time".into(),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
        (
            "webhook user past i64",
            "/rest/99999999999999999999/x/server.time".into(),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
        (
            "webhook user 1.0",
            format!(
                "/rest/1.0/{}server.time",
                s.hook.trim_start_matches("/rest/1/")
            ),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
        (
            "a 10 KB secret",
            format!("/rest/1/{}/server.time", "s".repeat(10_240)),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
        (
            "the secret in upper case",
            format!(
                "{}server.time",
                s.hook.to_ascii_uppercase().replace("/REST/", "/rest/")
            ),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
        (
            "the secret plus one byte",
            format!("{}x/server.time", s.hook.trim_end_matches('/')),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
    ] {
        cases.push(Case::new(
            "method-names",
            format!("the path {label}"),
            get(target.as_bytes()),
            expect,
        ));
    }
    let time = s.path("server.time");
    for method in [
        "PUT",
        "DELETE",
        "PATCH",
        "TRACE",
        "FOO",
        "get",
        &"X".repeat(1_000),
    ] {
        cases.push(Case::new(
            "method-names",
            format!("HTTP method {}", lossy(method.as_bytes())),
            http(method, time.as_bytes(), &[], None),
            Expect::Success,
        ));
    }
    cases.push(Case::new(
        "method-names",
        "HTTP method HEAD",
        http("HEAD", time.as_bytes(), &[], None),
        Expect::Head(200),
    ));
    cases.push(Case::new(
        "method-names",
        "HTTP method OPTIONS",
        http("OPTIONS", time.as_bytes(), &[], None),
        Expect::Exact(200, Value::Null),
    ));
    cases.push(Case::new(
        "method-names",
        "OPTIONS on an unknown method",
        http("OPTIONS", b"/rest/nope", &[], None),
        Expect::Exact(200, Value::Null),
    ));
    cases.push(Case::new(
        "method-names",
        "CONNECT",
        http("CONNECT", b"evil.example:443", &[], None),
        not_found(),
    ));
    let only_get = || {
        error(
            405,
            BAD_REQUEST,
            "Only GET and HEAD are allowed on /healthz",
        )
    };
    cases.push(Case::new(
        "method-names",
        "POST /healthz",
        http(
            "POST",
            b"/healthz",
            &[("Content-Type", b"application/json")],
            Some(b"{}"),
        ),
        only_get(),
    ));
    cases.push(Case::new(
        "method-names",
        "DELETE /healthz",
        http("DELETE", b"/healthz", &[], None),
        only_get(),
    ));
    cases.push(Case::new(
        "method-names",
        "a 10,000-byte HTTP method on /healthz",
        http(&"A".repeat(10_000), b"/healthz", &[], None),
        only_get(),
    ));
    cases.push(Case::new(
        "method-names",
        "HEAD /healthz",
        http("HEAD", b"/healthz", &[], None),
        Expect::Head(200),
    ));
    cases
}

/// `batch`: references, nesting, limits and odd commands.
fn batch_cases(s: &Suite) -> Vec<Case> {
    let err_at = |key: &str, code: &str, text: &str| {
        at(&[(
            format!("/result/result_error/{key}").as_str(),
            json!({"error": code, "error_description": text}),
        )])
    };
    let nested = |key: &str| err_at(key, NOT_IN_BATCH, "Method is not allowed for batch usage");
    let mut table: Vec<(&str, Value, Expect)> = vec![
        (
            "a self-reference in text stays as written",
            json!({"cmd": {
                "a": "crm.contact.update?id=2&fields[NAME]=$result[a]",
                "b": "crm.contact.get?id=2"
            }}),
            at(&[
                ("/result/result/a", json!(true)),
                ("/result/result/b/NAME", json!("$result[a]")),
            ]),
        ),
        (
            "a missing reference in text stays as written",
            json!({"cmd": {
                "a": "crm.contact.update?id=2&fields[LAST_NAME]=x$result[nope]y",
                "b": "crm.contact.get?id=2"
            }}),
            at(&[("/result/result/b/LAST_NAME", json!("x$result[nope]y"))]),
        ),
        (
            "a self-reference as the id",
            json!({"cmd": {"a": "crm.lead.get?id=$result[a]"}}),
            at(&[
                ("/result/result", json!([])),
                (
                    "/result/result_error/a/error_description",
                    json!(ID_INVALID),
                ),
            ]),
        ),
        (
            "a missing reference as the id",
            json!({"cmd": {"a": "crm.lead.get?id=$result[nope]"}}),
            at(&[
                ("/result/result", json!([])),
                (
                    "/result/result_error/a/error_description",
                    json!(ID_INVALID),
                ),
            ]),
        ),
        (
            "a forward reference",
            json!({"cmd": {"a": "crm.lead.get?id=$result[b]", "b": "crm.lead.get?id=1"}}),
            at(&[
                (
                    "/result/result_error/a/error_description",
                    json!(ID_INVALID),
                ),
                ("/result/result/b/ID", json!("1")),
            ]),
        ),
        (
            "a reference into an error",
            json!({"cmd": {
                "a": "crm.lead.get?id=0",
                "b": "crm.contact.update?id=2&fields[SECOND_NAME]=$error[a][error_description]",
                "c": "crm.contact.get?id=2"
            }}),
            at(&[("/result/result/c/SECOND_NAME", json!(ID_INVALID))]),
        ),
        (
            "references walking a list",
            json!({"cmd": {
                "a": "crm.lead.list?filter[ID]=1&select[]=ID",
                "b": "crm.lead.get?id=$result[a][0][ID]",
                "c": "crm.lead.get?id=$result[a][0][ID][x][y]",
                "d": "crm.lead.get?id=$result[a][99][ID]"
            }}),
            at(&[
                ("/result/result/b/ID", json!("1")),
                ("/result/result/c/ID", json!("1")),
                (
                    "/result/result_error/d/error_description",
                    json!(ID_INVALID),
                ),
            ]),
        ),
        (
            "a list spliced into text stays as written",
            json!({"cmd": {
                "a": "crm.lead.list?filter[ID]=1&select[]=ID",
                "b": "crm.contact.update?id=2&fields[NAME]=x$result[a]",
                "c": "crm.contact.get?id=2"
            }}),
            at(&[("/result/result/c/NAME", json!("x$result[a]"))]),
        ),
        (
            "an unclosed reference",
            json!({"cmd": {
                "a": "server.time",
                "b": "crm.contact.update?id=2&fields[NAME]=$result[a",
                "c": "crm.contact.get?id=2"
            }}),
            at(&[("/result/result/c/NAME", json!("$result[a"))]),
        ),
        (
            "an empty reference key",
            json!({"cmd": {
                "a": "server.time",
                "b": "crm.contact.update?id=2&fields[NAME]=$result[]",
                "c": "crm.contact.get?id=2"
            }}),
            at(&[("/result/result/c/NAME", json!("$result[]"))]),
        ),
        (
            "a reference in mixed case",
            json!({"cmd": {
                "a": "crm.lead.get?id=1",
                "b": "crm.contact.update?id=2&fields[NAME]=<$ReSuLt[a][ID]>",
                "c": "crm.contact.get?id=2"
            }}),
            at(&[("/result/result/c/NAME", json!("<1>"))]),
        ),
        (
            "a reference to a time",
            json!({"cmd": {"a": "server.time", "b": "crm.lead.list?filter[ID]=$time[a][start]"}}),
            at(&[("/result/result/b", json!([]))]),
        ),
        (
            "a reference in a parameter name",
            json!({"cmd": {"a": "crm.lead.get?id=1", "b": "crm.lead.get?$result[a][ID]=1"}}),
            at(&[(
                "/result/result_error/b/error_description",
                json!(ID_INVALID),
            )]),
        ),
        (
            "a chain of 50 references",
            {
                let mut cmd = Map::new();
                cmd.insert("c0".into(), json!("crm.lead.get?id=1"));
                for i in 1..50 {
                    cmd.insert(
                        format!("c{i}"),
                        json!(format!("crm.lead.get?id=$result[c{}][ID]", i - 1)),
                    );
                }
                json!({"cmd": cmd})
            },
            at(&[
                ("/result/result/c49/ID", json!("1")),
                ("/result/result_error", json!([])),
            ]),
        ),
        (
            "a command of 100,000 unclosed references",
            json!({"cmd": {"a": format!("server.time?x={}", "$result[".repeat(100_000))}}),
            Expect::Success,
        ),
        (
            "a nested batch",
            json!({"cmd": {"a": "batch?cmd[b]=server.time"}}),
            nested("a"),
        ),
        (
            "a nested BATCH",
            json!({"cmd": {"a": "BATCH?cmd[b]=server.time"}}),
            nested("a"),
        ),
        (
            "a nested batch.json",
            json!({"cmd": {"a": "batch.json?cmd[b]=server.time"}}),
            nested("a"),
        ),
        (
            "a nested /batch/",
            json!({"cmd": {"a": "/batch/?cmd[b]=server.time"}}),
            nested("a"),
        ),
        (
            "a nested Batch.XML",
            json!({"cmd": {"a": "Batch.XML"}}),
            nested("a"),
        ),
        (
            "a batch nested twice",
            json!({"cmd": {"a": "batch?cmd[b]=batch%3Fcmd%5Bc%5D%3Dserver.time"}}),
            nested("a"),
        ),
        (
            "halt after a nested batch",
            json!({"halt": 1, "cmd": ["batch", "server.time"]}),
            at(&[
                ("/result/result", json!([])),
                ("/result/result_error/0/error", json!(NOT_IN_BATCH)),
            ]),
        ),
        (
            "51 nested batches",
            json!({"cmd": vec!["batch?cmd[x]=server.time"; 51]}),
            at(&[
                ("/result/result", json!([])),
                ("/result/result_error/0/error", json!(NOT_IN_BATCH)),
                ("/result/result_error/49/error", json!(NOT_IN_BATCH)),
                ("/result/result_error/50/error", json!(BATCH_TOO_LONG)),
            ]),
        ),
        (
            "60 commands",
            json!({"cmd": vec!["server.time"; 60]}),
            success_where("50 results and 10 ERROR_BATCH_LENGTH_EXCEEDED", |b| {
                let r = &b["result"];
                r["result"].as_array().is_some_and(|a| a.len() == 50)
                    && r["result_error"].as_object().is_some_and(|e| {
                        e.len() == 10
                            && (50..60).all(|i| {
                                e.get(&i.to_string())
                                    .is_some_and(|x| x["error"] == BATCH_TOO_LONG)
                            })
                    })
            }),
        ),
        (
            "1,000 commands",
            json!({"cmd": vec!["crm.lead.get?id=0"; 1_000]}),
            success_where("950 ERROR_BATCH_LENGTH_EXCEEDED", |b| {
                b["result"]["result_error"].as_array().is_some_and(|e| {
                    e.len() == 1_000
                        && e[49]["error_description"] == ID_INVALID
                        && e[50]["error"] == BATCH_TOO_LONG
                })
            }),
        ),
        (
            "cmd as a string",
            json!({"cmd": "crm.lead.get?id=1"}),
            at(&[("/result", empty_batch())]),
        ),
        (
            "cmd as a number",
            json!({"cmd": 1}),
            at(&[("/result", empty_batch())]),
        ),
        (
            "cmd as null",
            json!({"cmd": null}),
            at(&[("/result", empty_batch())]),
        ),
        (
            "cmd as []",
            json!({"cmd": []}),
            at(&[("/result", empty_batch())]),
        ),
        (
            "cmd as {}",
            json!({"cmd": {}}),
            at(&[("/result", empty_batch())]),
        ),
        (
            "commands that are not strings",
            json!({"cmd": [1, null, {"x": 1}, ["server.time"], true, "crm.lead.get?id=1"]}),
            success_where("only the string command ran", |b| {
                let r = &b["result"];
                r["result"]
                    .as_object()
                    .is_some_and(|m| m.len() == 1 && m["5"]["ID"] == "1")
                    && r["result_error"] == json!([])
            }),
        ),
        (
            "odd command keys",
            json!({"cmd": {
                "": "server.time",
                "$result[x]": "server.time",
                "a[b]": "server.time",
                ("k".repeat(10_000)): "server.time",
                "\u{0}": "server.time",
                "0": "server.time"
            }}),
            success_where("six results under the keys as sent", |b| {
                b["result"]["result"].as_object().is_some_and(|m| {
                    m.len() == 6
                        && m.contains_key("")
                        && m.contains_key("\u{0}")
                        && m.contains_key("$result[x]")
                })
            }),
        ),
        (
            "unknown methods",
            json!({"cmd": {
                "a": "",
                "b": "?",
                "c": "nope",
                "d": "crm.lead.get.json.xml?id=1",
                "e": "crm.lead.get%00?id=1",
                "f": format!("{}?id=1", "x".repeat(10_000)),
                "g": "crm.lead.get\u{0}?id=1",
                "h": " crm.lead.get ?id=1"
            }}),
            success_where(
                "seven ERROR_METHOD_NOT_FOUND and a trimmed name that runs",
                |b| {
                    let r = &b["result"];
                    r["result_error"].as_object().is_some_and(|e| {
                        e.len() == 7 && e.values().all(|x| x["error"] == NO_METHOD)
                    }) && r["result"]["h"]["ID"] == "1"
                },
            ),
        ),
        (
            "odd queries",
            json!({"cmd": {
                "a": "crm.lead.get?id[a][b]=1",
                "b": "crm.lead.get?id=1#frag",
                "c": "crm.lead.get??id=1",
                "d": "crm.lead.get?id=%001",
                "e": "crm.lead.get?&&&id=1&&&",
                "f": "crm.lead.get?id=1&id[]=2",
                "g": "crm.lead.get?id=%FF",
                "h": "crm.lead.get?id=1%00"
            }}),
            success_where("b, e and h found lead 1; the rest invalid", |b| {
                let r = &b["result"];
                ["b", "e", "h"].iter().all(|k| r["result"][*k]["ID"] == "1")
                    && ["a", "c", "d", "f", "g"]
                        .iter()
                        .all(|k| r["result_error"][*k]["error_description"] == ID_INVALID)
            }),
        ),
        (
            "names 1,000 levels deep in commands",
            json!({"cmd": {
                "a": format!("method.get?name=crm.lead.add&name{}=1", "[a]".repeat(1_000)),
                "b": format!("method.get?name{}=1&name=crm.lead.add", "[a]".repeat(1_000))
            }}),
            at(&[
                ("/result/result/a/isExisting", json!(false)),
                ("/result/result/b/isExisting", json!(true)),
            ]),
        ),
        (
            "bindings changed by reference",
            json!({"cmd": {
                "a": "crm.lead.contact.add?id=2&fields[CONTACT_ID]=1&fields[IS_PRIMARY]=y",
                "b": "crm.lead.contact.add?id=2&fields[CONTACT_ID]=2&fields[IS_PRIMARY]=Y\
                      &fields[SORT]=-5",
                "c": "crm.lead.contact.items.get?id=2",
                "d": "crm.lead.contact.delete?id=2&fields[CONTACT_ID]=$result[c][0][CONTACT_ID]",
                "e": "crm.lead.contact.items.get?id=2"
            }}),
            success_where("one primary before and after deleting it", |b| {
                let r = &b["result"]["result"];
                let primaries = |v: &Value| {
                    v.as_array().map(|a| {
                        a.iter()
                            .filter(|x| x["IS_PRIMARY"] == "Y")
                            .map(|x| x["CONTACT_ID"].clone())
                            .collect::<Vec<_>>()
                    })
                };
                r["d"] == json!(true)
                    && primaries(&r["c"]) == Some(vec![json!(2)])
                    && primaries(&r["e"]).is_some_and(|p| p.len() == 1 && p[0] != json!(2))
            }),
        ),
    ];
    for (halt, runs_on) in [
        (json!("Y"), false),
        (json!(1), false),
        (json!(true), false),
        (json!([1]), false),
        (json!("yes"), false),
        (json!("N"), true),
        (json!(0), true),
        (json!(""), true),
        (json!(false), true),
        (json!("false"), true),
        (json!(null), true),
        (json!([]), true),
    ] {
        let label = if runs_on {
            "a falsy halt runs on"
        } else {
            "a truthy halt stops"
        };
        let expect = if runs_on {
            at(&[("/result/result/1/ID", json!("1"))])
        } else {
            at(&[
                ("/result/result", json!([])),
                (
                    "/result/result_error/0/error_description",
                    json!(ID_INVALID),
                ),
            ])
        };
        table.push((
            label,
            json!({"halt": halt, "cmd": ["crm.lead.get?id=0", "crm.lead.get?id=1"]}),
            expect,
        ));
    }
    let mut cases: Vec<Case> = table
        .into_iter()
        .map(|(label, params, expect)| {
            Case::new(
                "batch",
                format!("{label}: {}", lossy(params.to_string().as_bytes())),
                s.encoded(Enc::Json, "batch", &params),
                expect,
            )
        })
        .collect();
    // The same over form bodies and query strings (commands encoded once more).
    cases.push(Case::new(
        "batch",
        "a reference in a form body",
        s.post(
            "batch",
            "application/x-www-form-urlencoded",
            b"cmd[a]=crm.lead.get%3Fid%3D1&cmd[b]=crm.lead.get%3Fid%3D%24result%5Ba%5D%5BID%5D",
        ),
        at(&[("/result/result/b/ID", json!("1"))]),
    ));
    cases.push(Case::new(
        "batch",
        "a nested batch in a form body",
        s.post(
            "batch",
            "application/x-www-form-urlencoded",
            b"cmd[a]=batch%3Fcmd%5Bb%5D%3Dserver.time",
        ),
        nested("a"),
    ));
    cases.push(Case::new(
        "batch",
        "a nested batch in a query string",
        http(
            "GET",
            format!("{}?cmd[a]=server.time&cmd[b]=batch", s.path("batch")).as_bytes(),
            &[],
            None,
        ),
        nested("b"),
    ));
    cases.push(Case::new(
        "batch",
        "a self-reference as multipart",
        s.encoded(
            Enc::Multipart,
            "batch",
            &json!({"cmd": {"a": "crm.lead.get?id=$result[a]"}}),
        ),
        at(&[(
            "/result/result_error/a/error_description",
            json!(ID_INVALID),
        )]),
    ));
    cases.push(Case::new(
        "batch",
        "cmd both scalar and array in a form",
        s.post(
            "batch",
            "application/x-www-form-urlencoded",
            b"cmd=x&cmd[a]=server.time",
        ),
        Expect::Success,
    ));
    cases.push(Case::new(
        "batch",
        "a command 1,000 levels deep in a form",
        s.post(
            "batch",
            "application/x-www-form-urlencoded",
            format!("cmd[a]=server.time&cmd{}=x", "[a]".repeat(1_000)).as_bytes(),
        ),
        at(&[("/result", empty_batch())]),
    ));
    cases
}

/// Content types: the same two bodies under each type. Only `application/json` (any case,
/// any parameters) is read as JSON; multipart needs a boundary; everything else is a form.
fn content_type_cases(s: &Suite) -> Vec<Case> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Read {
        Json,
        Multipart,
        Form,
        Refused,
    }
    let types: Vec<(String, Read)> = vec![
        ("application/json".into(), Read::Json),
        ("application/json; charset=utf-8".into(), Read::Json),
        ("APPLICATION/JSON".into(), Read::Json),
        ("Application/Json;charset=latin1".into(), Read::Json),
        (" application/json ".into(), Read::Json),
        ("application/json\t".into(), Read::Json),
        ("application/json;".into(), Read::Json),
        ("application/json; boundary=x".into(), Read::Json),
        (
            format!("application/json{}", ";a=b".repeat(1_000)),
            Read::Json,
        ),
        ("application/jsonx".into(), Read::Form),
        ("application/json-patch+json".into(), Read::Form),
        ("text/json".into(), Read::Form),
        ("application/vnd.api+json".into(), Read::Form),
        ("application/json, text/plain".into(), Read::Form),
        (";application/json".into(), Read::Form),
        ("text/plain".into(), Read::Form),
        ("text/html".into(), Read::Form),
        ("application/xml".into(), Read::Form),
        ("application/x-www-form-urlencoded".into(), Read::Form),
        (
            "application/x-www-form-urlencoded; charset=utf-8".into(),
            Read::Form,
        ),
        ("application/octet-stream".into(), Read::Form),
        (String::new(), Read::Form),
        ("*/*".into(), Read::Form),
        (";;;".into(), Read::Form),
        (format!("application/{}", "x".repeat(8_000)), Read::Form),
        ("multipart/mixed; boundary=zz".into(), Read::Form),
        ("multipart/form-data".into(), Read::Multipart),
        ("multipart/form-data; boundary=".into(), Read::Multipart),
        ("multipart/form-data; boundary=zz".into(), Read::Multipart),
        ("MULTIPART/FORM-DATA; boundary=zz".into(), Read::Multipart),
        ("multipart/form-data; boundary=\"".into(), Read::Multipart),
        ("application/json\u{0001}".into(), Read::Refused),
    ];
    let mut cases = Vec::new();
    for (ct, read) in &types {
        for (body_label, body, is_json) in [
            ("a JSON body", &br#"{"id":1}"#[..], true),
            ("a form body", b"id=1", false),
        ] {
            let expect = match (read, is_json) {
                (Read::Refused, _) => Expect::Hyper(400),
                (Read::Json, true) | (Read::Form, false) => at(&[("/result/ID", json!("1"))]),
                _ => invalid(ID_INVALID),
            };
            cases.push(Case::new(
                "content-type",
                format!("{body_label} as {}", lossy(ct.as_bytes())),
                http(
                    "POST",
                    s.path("crm.lead.get").as_bytes(),
                    &[("Content-Type", ct.as_bytes())],
                    Some(body),
                ),
                expect,
            ));
        }
    }
    let path = s.path("crm.lead.get");
    for (label, headers, body, expect) in [
        (
            "no Content-Type, a form body",
            vec![],
            &b"id=1"[..],
            at(&[("/result/ID", json!("1"))]),
        ),
        (
            "no Content-Type, a JSON body",
            vec![],
            br#"{"id":1}"#,
            invalid(ID_INVALID),
        ),
        (
            "two Content-Types, JSON first",
            vec![
                ("Content-Type", &b"application/json"[..]),
                ("Content-Type", b"text/plain"),
            ],
            br#"{"id":1}"#,
            at(&[("/result/ID", json!("1"))]),
        ),
        (
            "two Content-Types, form first",
            vec![
                ("Content-Type", &b"text/plain"[..]),
                ("Content-Type", b"application/json"),
            ],
            br#"{"id":1}"#,
            invalid(ID_INVALID),
        ),
        (
            "Content-Encoding gzip on plain text",
            vec![
                ("Content-Type", &b"application/json"[..]),
                ("Content-Encoding", b"gzip"),
            ],
            br#"{"id":1}"#,
            at(&[("/result/ID", json!("1"))]),
        ),
        (
            "gzip bytes as JSON",
            vec![
                ("Content-Type", &b"application/json"[..]),
                ("Content-Encoding", b"gzip"),
            ],
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\x56\xca\x4c\x51\xb2\x32\xac\x05\x00",
            invalid(ID_INVALID),
        ),
    ] {
        cases.push(Case::new(
            "content-type",
            label,
            http("POST", path.as_bytes(), &headers, Some(body)),
            expect,
        ));
    }
    cases
}

/// Multipart bodies that are malformed, truncated or just odd.
fn multipart_cases(s: &Suite) -> Vec<Case> {
    let part = |name: &[u8], value: &[u8], extra: &[u8]| {
        concat(&[
            b"--XX\r\nContent-Disposition: form-data; name=\"",
            name,
            b"\"",
            extra,
            b"\r\n\r\n",
            value,
            b"\r\n",
        ])
    };
    let end: &[u8] = b"--XX--\r\n";
    let id = |value: &[u8]| part(b"id", value, b"");
    let xx = "multipart/form-data; boundary=XX";
    let no_id = || invalid(ID_INVALID);
    let filler = |n: usize| {
        (0..n)
            .map(|i| part(format!("x{i}").as_bytes(), b"1", b""))
            .collect::<Vec<_>>()
            .concat()
    };
    let disposition: &[u8] = b"--XX\r\nContent-Disposition: form-data; name=\"id\"\r\n";
    let bounded = |boundary: &str| {
        let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n");
        (
            format!("multipart/form-data; boundary={boundary}"),
            format!("{head}1\r\n--{boundary}--\r\n").into_bytes(),
        )
    };
    let (quoted_type, _) = bounded("\"X X\"");
    let (_, quoted_body) = bounded("X X");
    let (long_type, long_body) = bounded(&"B".repeat(70));
    let (huge_type, huge_body) = bounded(&"B".repeat(5_000));
    let deep_name = format!("fields{}", "[a]".repeat(1_000));
    let big_header = concat(&[
        disposition,
        b"X-Big: ",
        &[b'a'; 200_000],
        b"\r\n\r\n1\r\n",
        end,
    ]);
    let many_headers = concat(&[disposition, &b"X: y\r\n".repeat(1_000), b"\r\n1\r\n", end]);
    let nested = concat(&[
        disposition,
        b"Content-Type: multipart/mixed; boundary=YY\r\n\r\n--YY\r\n\r\n1\r\n--YY--\r\n",
        end,
    ]);
    let bare_lf = b"--XX\nContent-Disposition: form-data; name=\"id\"\n\n1\n--XX--\n".to_vec();
    let table: Vec<(&str, String, Vec<u8>, Expect)> = vec![
        (
            "a plain part",
            xx.into(),
            concat(&[&id(b"1"), end]),
            lead_one(),
        ),
        (
            "no boundary parameter",
            "multipart/form-data".into(),
            concat(&[&id(b"1"), end]),
            no_id(),
        ),
        (
            "an empty boundary",
            "multipart/form-data; boundary=".into(),
            concat(&[&id(b"1"), end]),
            no_id(),
        ),
        (
            "the wrong boundary",
            xx.replace("XX", "YY"),
            concat(&[&id(b"1"), end]),
            no_id(),
        ),
        (
            "a quoted boundary with a space",
            quoted_type,
            quoted_body,
            lead_one(),
        ),
        ("a 70-byte boundary", long_type, long_body, lead_one()),
        (
            "a 5,000-byte boundary",
            huge_type,
            huge_body,
            Expect::Envelope,
        ),
        ("no closing delimiter", xx.into(), id(b"1"), no_id()),
        (
            "a truncated part",
            xx.into(),
            concat(&[disposition, b"\r\n1"]),
            no_id(),
        ),
        (
            "a part without Content-Disposition",
            xx.into(),
            concat(&[b"--XX\r\nX-A: y\r\n\r\n1\r\n", end]),
            no_id(),
        ),
        (
            "a part without a name",
            xx.into(),
            concat(&[b"--XX\r\nContent-Disposition: form-data\r\n\r\n1\r\n", end]),
            no_id(),
        ),
        (
            "a file part is skipped",
            xx.into(),
            concat(&[&part(b"id", b"0", b"; filename=\"a.txt\""), &id(b"1"), end]),
            lead_one(),
        ),
        (
            "only a file part with an empty name",
            xx.into(),
            concat(&[&part(b"id", b"1", b"; filename=\"\""), end]),
            no_id(),
        ),
        (
            "a NUL in the name",
            xx.into(),
            concat(&[&part(b"i\0d", b"1", b""), end]),
            no_id(),
        ),
        (
            "FF in the name",
            xx.into(),
            concat(&[&part(b"i\xffd", b"1", b""), end]),
            no_id(),
        ),
        (
            "FF FE as the value",
            xx.into(),
            concat(&[&id(b"\xff\xfe"), end]),
            no_id(),
        ),
        (
            "a name 1,000 levels deep, then id",
            xx.into(),
            concat(&[&part(deep_name.as_bytes(), b"1", b""), &id(b"1"), end]),
            lead_one(),
        ),
        (
            "id after 20,000 parts (past 10,000 pairs)",
            xx.into(),
            concat(&[&filler(20_000), &id(b"1"), end]),
            no_id(),
        ),
        (
            "id after 9,999 parts",
            xx.into(),
            concat(&[&filler(9_999), &id(b"1"), end]),
            lead_one(),
        ),
        (
            "a 200 KB part header",
            xx.into(),
            big_header,
            Expect::Envelope,
        ),
        ("1,000 part headers", xx.into(), many_headers, no_id()),
        ("a nested multipart/mixed part", xx.into(), nested, no_id()),
        (
            "a JSON part",
            xx.into(),
            concat(&[&id(br#"{"id":1}"#), end]),
            no_id(),
        ),
        ("bare LF line ends", xx.into(), bare_lf, no_id()),
        ("garbage", xx.into(), b"\x00\xff".repeat(1_000), no_id()),
        (
            "duplicate names: the last wins",
            xx.into(),
            concat(&[&id(b"0"), &id(b"1"), end]),
            lead_one(),
        ),
        (
            "bracket names",
            xx.into(),
            concat(&[
                &part(b"id[", b"1", b""),
                &part(b"id]", b"1", b""),
                &part(b"[id]", b"1", b""),
                end,
            ]),
            no_id(),
        ),
        (
            "the boundary inside a value",
            xx.into(),
            concat(&[&part(b"x", b"--X X --XX- --XXX", b""), &id(b"1"), end]),
            Expect::Envelope,
        ),
        ("an empty body", xx.into(), Vec::new(), no_id()),
        (
            "only the closing delimiter",
            xx.into(),
            end.to_vec(),
            no_id(),
        ),
        (
            "a preamble and an epilogue",
            xx.into(),
            concat(&[b"preamble\r\n", &id(b"1"), end, b"epilogue"]),
            lead_one(),
        ),
        (
            "a 1 MB value",
            xx.into(),
            concat(&[&part(b"x", &[b'v'; 1 << 20], b""), &id(b"1"), end]),
            lead_one(),
        ),
    ];
    let mut cases: Vec<Case> = table
        .into_iter()
        .map(|(label, ct, body, expect)| {
            Case::new(
                "multipart",
                label,
                s.post("crm.lead.get", &ct, &body),
                expect,
            )
        })
        .collect();
    // A declared length over the 8 MiB limit is refused before the body is sent.
    cases.push(Case::new(
        "multipart",
        "a declared 9 MiB multipart body, headers only",
        raw(
            "POST",
            s.path("crm.lead.get").as_bytes(),
            &[
                &concat(&[b"Content-Type: ", xx.as_bytes()]),
                b"Content-Length: 9437184",
            ],
            b"",
        ),
        error(413, BAD_REQUEST, TOO_LARGE),
    ));
    cases
}

/// Framing no client library sends, as raw bytes.
fn framing_cases(s: &Suite) -> Vec<Case> {
    let p = s.hook.as_bytes();
    let lead = s.path("crm.lead.get");
    let time = s.path("server.time");
    let (lead, time) = (lead.as_bytes(), time.as_bytes());
    let get = |target: &[u8], headers: &[&[u8]]| raw("GET", target, headers, b"");
    let post = |target: &[u8], headers: &[&[u8]], body: &[u8]| raw("POST", target, headers, body);
    let chunked: &[&[u8]] = &[b"Transfer-Encoding: chunked"];
    let length = |n: &str| format!("Content-Length: {n}").into_bytes();
    let unreadable = || error(400, BAD_REQUEST, UNREADABLE);
    let too_large = || error(413, BAD_REQUEST, TOO_LARGE);
    let healthz = || Expect::Exact(200, json!({"status": "ok"}));
    let header = |name: &str, value: &[u8]| concat(&[name.as_bytes(), b": ", value]);
    let a100k = header("X-A", &[b'a'; 100_000]);
    let a1m = header("X-A", &[b'a'; 1 << 20]);
    let many: Vec<Vec<u8>> = (0..200).map(|i| format!("X-{i}: y").into_bytes()).collect();
    let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let query = |pairs: usize, tail: &[u8]| {
        concat(&[p, b"crm.lead.get?", "a=1&".repeat(pairs).as_bytes(), tail])
    };
    let tls = concat(&[b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", &[0u8; 40]]);
    let h2 = concat(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &[0u8; 30]]);
    let mut cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "a garbage request line",
            b"HELLO\r\n\r\n".to_vec(),
            Expect::Hyper(400),
        ),
        (
            "HTTP/9.9",
            b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            Expect::Hyper(400),
        ),
        (
            "a lower-case protocol",
            b"GET /healthz http/1.1\r\nHost: x\r\n\r\n".to_vec(),
            Expect::Hyper(400),
        ),
        ("a TLS ClientHello", tls, Expect::Hyper(400)),
        ("an HTTP/2 preface and garbage", h2, Expect::HyperOrClosed),
        (
            "doubled spaces in the request line",
            get(&concat(&[b" ", time, b" "]), &[]),
            Expect::Hyper(400),
        ),
        (
            "a backslash path",
            get(b"\\rest\\server.time", &[]),
            Expect::Hyper(400),
        ),
        (
            "a relative path",
            get(b"rest/server.time", &[]),
            Expect::Hyper(400),
        ),
        (
            "a tab in the path",
            get(&concat(&[time, b"\t"]), &[]),
            Expect::Hyper(400),
        ),
        (
            "braces and pipes in the path",
            get(&concat(&[p, b"{crm}|^`"]), &[]),
            Expect::Hyper(400),
        ),
        (
            "quotes and braces in the query",
            get(&concat(&[lead, b"?id[]=1&x={\"a\":1}"]), &[]),
            Expect::Hyper(400),
        ),
        (
            "a fragment in the target",
            get(&concat(&[time, b"#frag"]), &[]),
            Expect::Success,
        ),
        (
            "an absolute-form target",
            get(b"http://evil.example/rest/server.time", &[]),
            error(401, "NO_AUTH_FOUND", "Wrong authorization data"),
        ),
        (
            "OPTIONS *",
            b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            Expect::Exact(200, Value::Null),
        ),
        (
            "no Host header",
            concat(&[b"GET ", time, b" HTTP/1.1\r\nConnection: close\r\n\r\n"]),
            Expect::Success,
        ),
        (
            "a control byte as the Host",
            get(time, &[b"Host: \x01"]),
            Expect::Hyper(400),
        ),
        (
            "HTTP/1.0",
            b"GET /healthz HTTP/1.0\r\n\r\n".to_vec(),
            healthz(),
        ),
        (
            "bare LF line ends",
            b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n".to_vec(),
            healthz(),
        ),
        (
            "a header without a colon",
            get(b"/healthz", &[b"Broken header"]),
            Expect::Hyper(400),
        ),
        (
            "a space in a header name",
            get(b"/healthz", &[b"Bad Name: y"]),
            Expect::Hyper(400),
        ),
        (
            "an obsolete folded header",
            get(b"/healthz", &[b"X-A: a\r\n b"]),
            Expect::Hyper(400),
        ),
        ("a 100 KB header", get(b"/healthz", &[&a100k]), healthz()),
        (
            "a 1 MB header",
            get(b"/healthz", &[&a1m]),
            Expect::Hyper(431),
        ),
        ("200 headers", get(b"/healthz", &many), Expect::Hyper(431)),
        (
            "a 100 KB query string",
            get(&query(25_000, b""), &[]),
            Expect::Hyper(414),
        ),
        (
            "a 36 KB query string",
            get(&query(9_000, b"id=1"), &[]),
            lead_one(),
        ),
        (
            "Content-Length -1",
            post(lead, &[&length("-1")], b"abc"),
            Expect::Hyper(400),
        ),
        (
            "Content-Length +4",
            post(lead, &[&length("+4")], b"id=1"),
            Expect::Hyper(400),
        ),
        (
            "Content-Length \"4 4\"",
            post(lead, &[&length("4 4")], b"id=1"),
            Expect::Hyper(400),
        ),
        (
            "Content-Length \"4, 4\"",
            post(lead, &[&length("4, 4")], b"id=1"),
            Expect::Hyper(400),
        ),
        (
            "two different Content-Lengths",
            post(lead, &[&length("3"), &length("4")], b"id=1"),
            Expect::Hyper(400),
        ),
        (
            "two equal Content-Lengths",
            post(lead, &[&length("4"), &length("4")], b"id=1"),
            lead_one(),
        ),
        (
            "a 23-digit Content-Length",
            post(lead, &[&length("99999999999999999999999")], b"id=1"),
            Expect::Hyper(400),
        ),
        (
            "a Content-Length shorter than the body",
            post(lead, &[&length("4")], b"id=1garbage garbage"),
            lead_one(),
        ),
        (
            "a declared 9 MiB body, headers only",
            post(lead, &[&length("9437184")], b""),
            too_large(),
        ),
        (
            "a declared 9 MiB body on the OAuth route",
            post(b"/rest/crm.lead.get", &[&length("9437184")], b""),
            too_large(),
        ),
        (
            "a declared 9 MiB body with a wrong secret",
            post(b"/rest/1/nope/crm.lead.get", &[&length("9437184")], b""),
            too_large(),
        ),
        (
            "a chunked body",
            post(lead, chunked, b"2\r\nid\r\n2\r\n=1\r\n0\r\n\r\n"),
            lead_one(),
        ),
        (
            "a chunk extension",
            post(lead, chunked, b"4;a=b\r\nid=1\r\n0\r\n\r\n"),
            lead_one(),
        ),
        (
            "a chunked trailer",
            post(lead, chunked, b"4\r\nid=1\r\n0\r\nX-T: y\r\n\r\n"),
            lead_one(),
        ),
        (
            "a non-hex chunk size",
            post(time, chunked, b"zz\r\nabc\r\n0\r\n\r\n"),
            unreadable(),
        ),
        (
            "a negative chunk size",
            post(lead, chunked, b"-4\r\nid=1\r\n0\r\n\r\n"),
            unreadable(),
        ),
        (
            "an 18-digit hex chunk size",
            post(time, chunked, b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
            unreadable(),
        ),
        (
            "a chunk without its CRLF",
            post(lead, chunked, b"4\r\nid=1XX0\r\n\r\n"),
            unreadable(),
        ),
        (
            "chunked plus Content-Length",
            post(time, &[chunked[0], &length("3")], b"0\r\n\r\n"),
            Expect::Success,
        ),
        (
            "Transfer-Encoding twice",
            post(time, &[chunked[0], chunked[0]], b"0\r\n\r\n"),
            Expect::Success,
        ),
        (
            "Transfer-Encoding gzip, chunked",
            post(time, &[b"Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n"),
            Expect::Success,
        ),
        (
            "Transfer-Encoding chunked, gzip",
            post(time, &[b"Transfer-Encoding: chunked, gzip"], b"0\r\n\r\n"),
            Expect::Hyper(400),
        ),
        (
            "Transfer-Encoding gzip",
            post(time, &[b"Transfer-Encoding: gzip"], b"abc"),
            Expect::Hyper(400),
        ),
        (
            "Expect: 100-continue",
            post(lead, &[b"Expect: 100-continue", &length("4")], b"id=1"),
            lead_one(),
        ),
        (
            "Expect: 999-nope",
            post(lead, &[b"Expect: 999-nope", &length("4")], b"id=1"),
            lead_one(),
        ),
        (
            "an h2c upgrade",
            get(
                time,
                &[
                    b"Connection: Upgrade, HTTP2-Settings",
                    b"Upgrade: h2c",
                    b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
                ],
            ),
            Expect::Success,
        ),
        (
            "a websocket upgrade",
            get(
                time,
                &[
                    b"Connection: Upgrade",
                    b"Upgrade: websocket",
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                    b"Sec-WebSocket-Version: 13",
                ],
            ),
            Expect::Success,
        ),
    ];
    // Pipelining: three requests in one write; then a body whose declared length is
    // shorter than what follows (the rest is read as the next request).
    cases.push((
        "three pipelined requests",
        concat(&[
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST ",
            lead,
            b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n",
            br#"{"id":1}"#,
            &get(time, &[]),
        ]),
        Expect::Pipelined(vec![healthz(), lead_one(), Expect::Success]),
    ));
    cases.push((
        "a short Content-Length on a kept-alive connection",
        concat(&[
            b"POST ",
            lead,
            b" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
        ])
        .into_iter()
        .chain(*b"id=1&x HTTP/1.1\r\n\r\n")
        .collect(),
        Expect::Pipelined(vec![invalid(ID_INVALID), Expect::Hyper(400)]),
    ));
    // The body is refused at the limit while the client is still sending: the 413
    // arrives unless the kernel resets the connection first.
    let big = "0,".repeat(4_800_000);
    let chunk = concat(&[
        format!("{:x}\r\n", big.len()).as_bytes(),
        big.as_bytes(),
        b"\r\n0\r\n\r\n",
    ]);
    cases.push((
        "a 9.6 MB chunked body",
        post(lead, chunked, &chunk),
        Expect::ErrorOrClosed(413, BAD_REQUEST),
    ));
    cases
        .into_iter()
        .map(|(label, request, expect)| Case::new("framing", label, request, expect))
        .collect()
}

/// Credentials on the OAuth-style route (every token is invalid today) and the webhook.
fn auth_cases(s: &Suite) -> Vec<Case> {
    let no_auth = || error(401, "NO_AUTH_FOUND", "Wrong authorization data");
    let bad_token = || error(401, "invalid_token", "The access token provided is invalid");
    let oauth = |query: &str, headers: &[(&str, &[u8])]| {
        http(
            "GET",
            format!("/rest/server.time{query}").as_bytes(),
            headers,
            None,
        )
    };
    let oauth_json = |body: &str| {
        http(
            "POST",
            b"/rest/server.time",
            &[("Content-Type", b"application/json")],
            Some(body.as_bytes()),
        )
    };
    let token = "t".repeat(10_000);
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("nothing", oauth("", &[]), no_auth()),
        ("auth=", oauth("?auth=", &[]), no_auth()),
        ("auth=x", oauth("?auth=x", &[]), bad_token()),
        ("auth[]=x", oauth("?auth[]=x", &[]), no_auth()),
        ("auth[a][b]=x", oauth("?auth[a][b]=x", &[]), no_auth()),
        ("auth=%00", oauth("?auth=%00", &[]), bad_token()),
        (
            "access_token of 10 KB",
            oauth(&format!("?access_token={token}"), &[]),
            bad_token(),
        ),
        (
            "auth 1,000 levels deep",
            oauth(&format!("?auth{}=x", "[a]".repeat(1_000)), &[]),
            no_auth(),
        ),
        ("AUTH in capitals", oauth("?AUTH=x", &[]), no_auth()),
        (
            "JSON auth as an object",
            oauth_json(r#"{"auth":{"a":1}}"#),
            no_auth(),
        ),
        (
            "JSON auth as a number",
            oauth_json(r#"{"auth":1}"#),
            no_auth(),
        ),
        (
            "JSON auth as a list",
            oauth_json(r#"{"auth":["x"]}"#),
            no_auth(),
        ),
        (
            "JSON auth null, access_token x",
            oauth_json(r#"{"auth":null,"access_token":"x"}"#),
            bad_token(),
        ),
        (
            "JSON auth \"x\"",
            oauth_json(r#"{"auth":"x"}"#),
            bad_token(),
        ),
        (
            "Bearer x",
            oauth("", &[("Authorization", b"Bearer x")]),
            bad_token(),
        ),
        (
            "bearer x",
            oauth("", &[("Authorization", b"bearer x")]),
            bad_token(),
        ),
        (
            "BEARER x",
            oauth("", &[("Authorization", b"BEARER x")]),
            no_auth(),
        ),
        (
            "Bearer alone",
            oauth("", &[("Authorization", b"Bearer")]),
            no_auth(),
        ),
        (
            "Bearer and blanks",
            oauth("", &[("Authorization", b"Bearer    ")]),
            no_auth(),
        ),
        (
            "Basic",
            oauth("", &[("Authorization", b"Basic eDp5")]),
            no_auth(),
        ),
        (
            "a 10 KB bearer token",
            oauth(
                "",
                &[("Authorization", format!("Bearer {token}").as_bytes())],
            ),
            bad_token(),
        ),
        (
            "two Authorization headers",
            oauth(
                "",
                &[
                    ("Authorization", b"Basic eDp5"),
                    ("Authorization", b"Bearer x"),
                ],
            ),
            no_auth(),
        ),
        (
            "an unknown method with a token",
            http("GET", b"/rest/nope.nope?auth=x", &[], None),
            error(404, NO_METHOD, "Method not found!"),
        ),
        (
            "a webhook with an auth parameter",
            http(
                "GET",
                format!("{}?auth=x", s.path("server.time")).as_bytes(),
                &[],
                None,
            ),
            Expect::Success,
        ),
        (
            "a webhook with a bearer header",
            http(
                "GET",
                s.path("server.time").as_bytes(),
                &[("Authorization", b"Bearer x")],
                None,
            ),
            Expect::Success,
        ),
        (
            "a wrong secret with a form body",
            http(
                "POST",
                b"/rest/1/nope/crm.lead.add",
                &[("Content-Type", b"application/x-www-form-urlencoded")],
                Some(b"fields[TITLE]=x"),
            ),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
    ];
    cases
        .into_iter()
        .map(|(label, request, expect)| Case::new("auth", label, request, expect))
        .collect()
}

/// The OAuth server's endpoints: the token endpoint's error bodies (JSON, like the rest)
/// and the consent page (HTML) under odd input. `app` is a registered application's
/// client id and secret.
fn oauth_cases(app: &(String, String)) -> Vec<Case> {
    let (client_id, secret) = (app.0.as_str(), app.1.as_str());
    let get = |query: &str| {
        http(
            "GET",
            format!("/oauth/token/?{query}").as_bytes(),
            &[],
            None,
        )
    };
    let post = |content_type: &str, body: &[u8]| {
        http(
            "POST",
            b"/oauth/token/",
            &[("Content-Type", content_type.as_bytes())],
            Some(body),
        )
    };
    let unsupported = || {
        error(
            400,
            "unsupported_grant_type",
            "grant_type must be refresh_token or authorization_code",
        )
    };
    let no = |what: &str| {
        error(
            400,
            "invalid_request",
            &format!("No \"{what}\" parameter found"),
        )
    };
    let bad_client = || error(401, "invalid_client", "Invalid client credentials");
    let bad_refresh = || {
        error(
            400,
            "invalid_grant",
            "The refresh token is invalid, expired or used",
        )
    };
    let long = "x".repeat(10_000);
    let with = |rest: &str| format!("client_id={client_id}&client_secret={secret}&{rest}");
    let page = |query: &str| {
        http(
            "GET",
            format!("/oauth/authorize/?{query}").as_bytes(),
            &[],
            None,
        )
    };
    let approve = |body: &str| {
        http(
            "POST",
            b"/oauth/authorize/",
            &[("Content-Type", FORM.as_bytes())],
            Some(body.as_bytes()),
        )
    };
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("no parameters", get(""), no("grant_type")),
        ("an empty grant_type", get("grant_type="), no("grant_type")),
        (
            "grant_type password",
            get("grant_type=password"),
            unsupported(),
        ),
        (
            "grant_type as a list",
            get("grant_type[]=refresh_token"),
            no("grant_type"),
        ),
        (
            "JSON grant_type as a list",
            post(JSON, br#"{"grant_type":["refresh_token"]}"#),
            no("grant_type"),
        ),
        (
            "no client_id",
            get("grant_type=refresh_token"),
            no("client_id"),
        ),
        (
            "client_id as an object",
            get("grant_type=refresh_token&client_id[a]=1"),
            no("client_id"),
        ),
        (
            "a 10 KB client_id",
            get(&format!("grant_type=refresh_token&client_id={long}")),
            bad_client(),
        ),
        (
            "client_id with NUL",
            get("grant_type=refresh_token&client_id=%00"),
            bad_client(),
        ),
        (
            "the right client_id, no secret",
            get(&format!("grant_type=refresh_token&client_id={client_id}")),
            bad_client(),
        ),
        (
            "the right client_id, a secret in invalid UTF-8",
            get(&format!(
                "grant_type=refresh_token&client_id={client_id}&client_secret=%FF"
            )),
            bad_client(),
        ),
        (
            "no refresh_token",
            get(&with("grant_type=refresh_token")),
            no("refresh_token"),
        ),
        (
            "an unknown refresh token",
            get(&with("grant_type=refresh_token&refresh_token=x")),
            bad_refresh(),
        ),
        (
            "a 10 KB refresh token",
            post(
                FORM,
                with(&format!("grant_type=refresh_token&refresh_token={long}")).as_bytes(),
            ),
            bad_refresh(),
        ),
        (
            "a refresh token as a list",
            get(&with("grant_type=refresh_token&refresh_token[]=x")),
            no("refresh_token"),
        ),
        (
            "an unknown code",
            get(&with("grant_type=authorization_code&code=x")),
            error(
                400,
                "invalid_grant",
                "The authorization code is invalid, expired or used",
            ),
        ),
        (
            "JSON nested past the limit",
            post(
                JSON,
                format!("{}1{}", "[".repeat(100), "]".repeat(100)).as_bytes(),
            ),
            error(400, "invalid_request", DEEP),
        ),
        (
            "invalid JSON",
            post(JSON, b"{\"grant_type\":"),
            no("grant_type"),
        ),
        (
            "PUT",
            http("PUT", b"/oauth/token/", &[], Some(b"")),
            error(405, "invalid_request", "Only GET and POST are allowed here"),
        ),
        (
            "the consent page without a client",
            page(""),
            Expect::Html(400),
        ),
        (
            "the consent page for a 10 KB client_id",
            page(&format!("client_id={long}")),
            Expect::Html(400),
        ),
        (
            "the consent page for an application without a redirect URI",
            page(&format!("client_id={client_id}&state=%3Cscript%3E")),
            Expect::Html(400),
        ),
        (
            "approving user abc",
            approve(&format!("client_id={client_id}&user_id=abc")),
            Expect::Html(400),
        ),
        (
            "approving user 1 for an unknown application",
            approve("client_id=local.nope.1&user_id=1"),
            Expect::Html(400),
        ),
        (
            "DELETE on the consent page",
            http("DELETE", b"/oauth/authorize/", &[], None),
            error(405, "invalid_request", "Only GET and POST are allowed here"),
        ),
    ];
    cases
        .into_iter()
        .map(|(label, request, expect)| Case::new("oauth", label, request, expect))
        .collect()
}

/// Requests that stall: each waits out a timeout, so they run in parallel.
fn slow_cases(s: &Suite) -> Vec<Case> {
    let timeout = || {
        error(
            408,
            BAD_REQUEST,
            "The request body was not received within 2 s",
        )
    };
    let length = |n: usize| format!("Content-Length: {n}").into_bytes();
    let time = s.path("server.time");
    let table: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "a body shorter than its Content-Length",
            raw(
                "POST",
                time.as_bytes(),
                &[b"Content-Type: application/json", &length(100)],
                b"{\"a\":",
            ),
            timeout(),
        ),
        (
            "a chunked body that stops",
            raw(
                "POST",
                s.path("crm.lead.get").as_bytes(),
                &[b"Transfer-Encoding: chunked"],
                b"5\r\nab",
            ),
            timeout(),
        ),
        (
            "a stalled body on the OAuth route",
            raw("POST", b"/rest/server.time", &[&length(10)], b"ab"),
            timeout(),
        ),
        (
            "a stalled body with a wrong secret",
            raw("POST", b"/rest/1/nope/server.time", &[&length(10)], b"ab"),
            error(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
        ),
        (
            // The body of an unknown method is drained, not refused by its declared length.
            "a declared 9 MiB body to an unknown method",
            raw("POST", b"/rest/nope", &[&length(9 << 20)], b""),
            error(404, NO_METHOD, "Method not found!"),
        ),
        (
            "headers that never end",
            b"POST /rest/server.time HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(),
            Expect::HyperOrClosed,
        ),
        (
            "half a request line",
            b"GET /rest/serv".to_vec(),
            Expect::HyperOrClosed,
        ),
        (
            "only line breaks",
            b"\r\n\r\n\r\n".to_vec(),
            Expect::HyperOrClosed,
        ),
        ("not a byte", Vec::new(), Expect::HyperOrClosed),
    ];
    table
        .into_iter()
        .map(|(label, request, expect)| Case::new("slow", label, request, expect))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn hostile_input_gets_envelopes_and_leaves_the_server_healthy() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &SERVER_FLAGS);
    let mut suite = Suite::new(&server);
    seed(&suite);
    let guard = guard_snapshot(&suite);
    let port = suite.port;
    let (made, created) = crate::process::cli(dir.path(), &["app", "create", "--name", "Hostile"]);
    assert!(made, "{created}");
    let created: Value = serde_json::from_str(created.trim()).expect("the app's JSON");
    let app = (
        created["client_id"].as_str().unwrap().to_string(),
        created["client_secret"].as_str().unwrap().to_string(),
    );

    let slow = slow_cases(&suite);
    let generators: [fn(&Suite) -> Vec<Case>; 13] = [
        invalid_json,
        deep_json,
        id_cases,
        field_cases,
        param_cases,
        number_cases,
        php_name_cases,
        nul_utf8_cases,
        method_name_cases,
        batch_cases,
        content_type_cases,
        multipart_cases,
        framing_cases,
    ];
    let slow_outcomes = std::thread::scope(|scope| {
        let waiting: Vec<_> = slow
            .iter()
            .map(|case| scope.spawn(move || roundtrip(port, &case.request)))
            .collect();
        for generate in generators {
            let cases = generate(&suite);
            let category = cases.first().map_or("-", |c| c.category);
            suite.run_all(cases);
            assert!(
                suite.healthy(),
                "/healthz failed after the {category} cases"
            );
        }
        suite.run_all(auth_cases(&suite));
        suite.run_all(oauth_cases(&app));
        waiting
            .into_iter()
            .map(|t| t.join().expect("a slow request thread"))
            .collect::<Vec<_>>()
    });
    for (case, outcome) in slow.iter().zip(slow_outcomes) {
        suite.record(case, outcome);
    }

    // The rows no case targets are unchanged; every contact set has one primary.
    let after = guard_snapshot(&suite);
    if after != guard {
        suite.failures.push(format!(
            "the guard rows changed:\nbefore {guard}\nafter  {after}"
        ));
    }
    let mut integrity = Vec::new();
    let leads = check_primaries(&suite, &mut integrity);
    suite.failures.extend(integrity);

    assert!(suite.healthy(), "/healthz does not answer after the suite");
    assert!(server.is_running(), "the server exited");
    if let Err(e) = clean_log(&server.stderr()) {
        suite.failures.push(e);
    }

    let total: usize = suite.stats.values().map(|s| s.cases).sum();
    let mut summary =
        String::from("hostile-input cases (category: cases / pinned / ours / hyper / closed)\n");
    for (category, st) in &suite.stats {
        summary.push_str(&format!(
            "  {category:<14} {:>4} / {:>4} / {:>4} / {:>3} / {:>3}\n",
            st.cases, st.specific, st.ours, st.hyper, st.closed
        ));
    }
    let sum = |f: fn(&Stats) -> usize| suite.stats.values().map(f).sum::<usize>();
    summary.push_str(&format!(
        "  {:<14} {total:>4} / {:>4} / {:>4} / {:>3} / {:>3}; {leads} leads checked; {:.1} s\n",
        "total",
        sum(|s| s.specific),
        sum(|s| s.ours),
        sum(|s| s.hyper),
        sum(|s| s.closed),
        started.elapsed().as_secs_f64()
    ));
    summary.push_str(&format!(
        "  fixed bugs, rechecked one process each by the second test: {}\n",
        FIXED_BUGS.len()
    ));
    eprintln!("{summary}");

    assert!(
        suite.failures.is_empty(),
        "{} hostile-input failures (first 40):\n{}",
        suite.failures.len(),
        suite
            .failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(total >= 300, "only {total} cases");
    let status = server.terminate();
    assert!(
        status.success(),
        "the server exited with {status} after SIGTERM"
    );
}

// ---------------------------------------------------------------------------------------
// Known bugs: inputs that still break the server. Each runs against a fresh process of
// its own; remove an entry (and move its case into the tables above) once it is fixed.

/// An input that still breaks the server.
struct FixedBug {
    name: &'static str,
    /// The smallest request sequence that shows it (paths relative to the admin webhook).
    repro: &'static str,
    /// What it did before the fix.
    before: &'static str,
    /// Runs the reproduction on a fresh server: `Ok` when the server now answers well.
    check: fn(&Suite) -> Result<(), String>,
}

const FIXED_BUGS: &[FixedBug] = &[
    FixedBug {
        name: "list `start` near i64::MAX overflows the next-page offset",
        repro: "POST crm.lead.list  start=9223372036854775800  (form; also JSON \
                {\"start\":1e300}, start=99999999999999999999, crm.contact.list, and the \
                batch command crm.lead.list?start=9223372036854775807)",
        before: "debug build: panic `attempt to add with overflow` at methods/crm/entity.rs \
                (offset + PAGE_SIZE), the connection closes without an answer; release build: \
                the sum wraps and `next` is a negative offset",
        check: |s| {
            for (label, request) in [
                (
                    "form",
                    s.post(
                        "crm.lead.list",
                        "application/x-www-form-urlencoded",
                        b"start=9223372036854775800",
                    ),
                ),
                (
                    "JSON 1e300",
                    s.post(
                        "crm.contact.list",
                        "application/json",
                        br#"{"start":1e300}"#,
                    ),
                ),
                (
                    "batch",
                    s.encoded(
                        Enc::Json,
                        "batch",
                        &json!({"cmd": {"a": "crm.lead.list?start=9223372036854775807"}}),
                    ),
                ),
            ] {
                let expect = success_where("a success without `next`", |b| {
                    b.get("next").is_none()
                        && b.pointer("/result/result/a")
                            .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty))
                });
                roundtrip(s.port, &request)
                    .and_then(|got| verify(&expect, &got))
                    .map_err(|e| format!("{label}: {e}"))?;
            }
            Ok(())
        },
    },
    FixedBug {
        name: "a binding SORT near i64::MAX overflows the next SORT and kills the store writer",
        repro: "POST crm.lead.contact.add  \
                id=1&fields[CONTACT_ID]=1&fields[SORT]=9223372036854775807  -> 200 true; then \
                POST crm.lead.contact.add  id=1&fields[CONTACT_ID]=2  (no SORT)",
        before: "the second call panics in the `sqlite-writer` thread (crm-core binding.rs, \
                `max + 10` in plan_add) and answers 500 ERROR_CORE \"SQL query error!\"; every \
                later write (e.g. crm.lead.add) answers the same 500 until the process restarts",
        check: |s| {
            s.call("crm.lead.add", json!({"fields": {"TITLE": "L"}}));
            s.call("crm.contact.add", json!({"fields": {"NAME": "A"}}));
            s.call("crm.contact.add", json!({"fields": {"NAME": "B"}}));
            let form = |body: &[u8]| {
                s.post(
                    "crm.lead.contact.add",
                    "application/x-www-form-urlencoded",
                    body,
                )
            };
            for (label, request, expect) in [
                (
                    "the huge SORT",
                    form(b"id=1&fields[CONTACT_ID]=1&fields[SORT]=9223372036854775807"),
                    Expect::Success,
                ),
                (
                    "the add without SORT",
                    form(b"id=1&fields[CONTACT_ID]=2"),
                    at(&[("/result", json!(true))]),
                ),
                (
                    "a later write",
                    s.encoded(
                        Enc::Json,
                        "crm.lead.add",
                        &json!({"fields": {"TITLE": "after"}}),
                    ),
                    Expect::Success,
                ),
            ] {
                roundtrip(s.port, &request)
                    .and_then(|got| verify(&expect, &got))
                    .map_err(|e| format!("{label}: {e}"))?;
            }
            Ok(())
        },
    },
    FixedBug {
        name: "a LIKE filter value of 49,999+ characters is a 500",
        repro: "POST crm.lead.list  {\"filter\":{\"%TITLE\":\"aaa…\"}}  with 50,000 `a` \
                (JSON or form; also `=%TITLE`, and `PHONE`/`EMAIL` filters once any row has \
                such a value)",
        before: "500 ERROR_CORE \"SQL query error!\"; the log says `LIKE or GLOB pattern too \
                complex` (SQLite's 50,000-byte LIKE pattern limit)",
        check: |s| {
            s.call(
                "crm.lead.add",
                json!({"fields": {"TITLE": "x", "PHONE": [{"VALUE": "1"}]}}),
            );
            let long = "a".repeat(50_000);
            let none = || at(&[("/result", json!([])), ("/total", json!(0))]);
            for (filter, expect) in [
                (
                    json!({"%TITLE": long}),
                    invalid("The filter value of TITLE is longer than 50000 bytes."),
                ),
                (json!({"=%TITLE": long}), none()),
                (json!({"PHONE": long}), none()),
                (
                    json!({"EMAIL": format!("{long}b")}),
                    invalid("The filter value of EMAIL is longer than 50000 bytes."),
                ),
            ] {
                let request = s.encoded(Enc::Json, "crm.lead.list", &json!({"filter": filter}));
                roundtrip(s.port, &request)
                    .and_then(|got| verify(&expect, &got))
                    .map_err(|e| format!("{}: {e}", lossy(filter.to_string().as_bytes())))?;
            }
            Ok(())
        },
    },
    FixedBug {
        name: "more than 2,000 `order` keys naming columns is a 500",
        repro: "POST crm.lead.list  {\"order\":{\" TITLE\":\"ASC\",\"  TITLE\":\"ASC\",…}}  \
                with 2,100 keys (1 to 2,100 leading spaces; the keys are trimmed, each becomes \
                an ORDER BY term)",
        before: "500 ERROR_CORE \"SQL query error!\"; the log says `too many terms in ORDER BY \
                clause`",
        check: |s| {
            s.call("crm.lead.add", json!({"fields": {"TITLE": "L"}}));
            let order: Map<String, Value> = (1..=2_100)
                .map(|i| (format!("{}TITLE", " ".repeat(i)), json!("ASC")))
                .collect();
            let request = s.encoded(
                Enc::Json,
                "crm.lead.list",
                &json!({"order": order, "select": ["ID"]}),
            );
            let expect = at(&[("/total", json!(1)), ("/result/0/ID", json!("1"))]);
            roundtrip(s.port, &request).and_then(|got| verify(&expect, &got))?;
            Ok(())
        },
    },
];

#[test]
fn fixed_hostile_input_bugs_stay_fixed() {
    let mut failed = Vec::new();
    for bug in FIXED_BUGS {
        let dir = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(dir.path(), &SERVER_FLAGS);
        let suite = Suite::new(&server);
        let verdict = (bug.check)(&suite)
            .and_then(|()| {
                if suite.healthy() {
                    Ok(())
                } else {
                    Err("/healthz fails afterwards".into())
                }
            })
            .and_then(|()| clean_log(&server.stderr()));
        if let Err(observed) = verdict {
            failed.push(format!(
                "{}\n    repro: {}\n    before the fix: {}\n    now: {}",
                bug.name,
                bug.repro,
                bug.before,
                observed.lines().take(3).collect::<Vec<_>>().join(" | ")
            ));
        }
        assert!(
            server.terminate().success(),
            "{}: unclean shutdown",
            bug.name
        );
    }
    assert!(
        failed.is_empty(),
        "fixed bugs are back:\n{}",
        failed.join("\n")
    );
}
