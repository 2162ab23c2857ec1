//! HTTP/1.1 over a plain TCP socket, for requests no client library would send (broken
//! framing, stalled bodies, invalid bytes in the request line) and for watching when the
//! server closes a connection. Every read has a deadline.

use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a raw exchange may take before the test fails.
pub(crate) const READ_DEADLINE: Duration = Duration::from_secs(30);

/// A connected socket with a read timeout.
pub(crate) fn connect(port: u16) -> TcpStream {
    try_connect(port).expect("connect")
}

/// [`connect`], or the error when nothing listens (any more).
pub(crate) fn try_connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A parsed answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The status line and headers.
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not JSON).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} (status {})",
                String::from_utf8_lossy(&self.body),
                self.status
            )
        })
    }
}

/// Reads until the peer closes the connection, fails, or `within` passes. Returns the bytes
/// and whether the connection was closed (EOF or reset).
pub(crate) fn read_until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let until = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

/// Splits a complete HTTP/1.1 response; `None` when there is none.
pub(crate) fn parse(bytes: &[u8]) -> Option<Answer> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = bytes[end + 4..].to_vec();
    Some(Answer { status, head, body })
}

/// Sends `request` (which should ask for `Connection: close`) and reads the answer until
/// the server closes the connection; `None` when it closed without answering.
pub(crate) fn exchange(port: u16, request: &[u8]) -> Option<Answer> {
    let mut s = connect(port);
    // The server may answer and close before it has read everything (a refused length).
    let _ = s.write_all(request);
    let (bytes, closed) = read_until_closed(&mut s, READ_DEADLINE);
    assert!(
        closed,
        "the server neither answered nor closed within {} s; got {:?}",
        READ_DEADLINE.as_secs(),
        String::from_utf8_lossy(&bytes)
    );
    parse(&bytes)
}

/// A `POST` of `body` to `path` with the given content type, closing after the answer.
pub(crate) fn post(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}
