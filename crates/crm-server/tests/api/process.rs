//! The real `crm-server` binary as a child process, for tests that need a process of their
//! own (start-up output, CLI subcommands, signals, crashes).
//!
//! Nothing here waits without a deadline: the server binds port 0 and announces its address
//! in its last start-up line (`crm-server listening on <url>`), stdout is read on a thread
//! and received with a timeout, and stopping or running a subcommand is bounded too. A
//! server that hangs or prints nothing therefore fails the test, with its output so far,
//! instead of hanging the run. The deadlines are generous because the heavy tests run in
//! parallel on small machines.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The server binary built for these tests.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_crm-server");

/// The binary the process tests run: [`BIN`], or the one named by `CRM_TEST_SERVER_BIN`
/// (to show that a regression test fails on an older build).
pub(crate) fn bin() -> String {
    std::env::var("CRM_TEST_SERVER_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// How long start-up, shutdown, a CLI subcommand or a readiness poll may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// The readiness marker: the server's last start-up line, printed once it is bound.
const LISTENING: &str = "crm-server listening on ";
/// Start-up line with the first start's administrator webhook.
const WEBHOOK: &str = "Administrator webhook (shown once, keep it): ";
/// Start-up line with the generated certificate's path (`--tls-self-signed`).
const CERT: &str = "TLS certificate (trust it in clients): ";

/// A running server binary; killed and reaped when dropped while still running.
pub(crate) struct ServerProcess {
    child: Child,
    /// Stdout lines up to and including the `listening` line.
    lines: Vec<String>,
    /// Stdout lines from the reader thread (later ones are left in the channel).
    rx: Receiver<String>,
    /// The file stderr goes to (deleted on drop).
    stderr: tempfile::NamedTempFile,
    base: String,
    port: u16,
}

impl ServerProcess {
    /// Starts the binary with `--data-dir <dir> --listen 127.0.0.1:0 --log warn` plus
    /// `extra` (a `--log` or `--listen` there replaces the default), stderr captured
    /// to a file, and waits (deadline [`DEADLINE`]) for the `crm-server listening on <url>`
    /// line; panics with the output so far if the process exits or the deadline passes.
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::launch(Command::new(bin()), dir, extra, DEADLINE).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Self::start`] with any program and deadline; the error describes what went wrong
    /// and shows the output so far (the process is killed and reaped by then).
    fn launch(
        mut command: Command,
        dir: &Path,
        extra: &[&str],
        deadline: Duration,
    ) -> Result<Self, String> {
        let stderr = tempfile::NamedTempFile::new().expect("temp file for stderr");
        let mut child = command
            .arg("--data-dir")
            .arg(dir)
            .args(defaults_not_in(
                extra,
                &[("--listen", "127.0.0.1:0"), ("--log", "warn")],
            ))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let rx = read_lines(&mut child);
        let mut server = Self {
            child,
            lines: Vec::new(),
            rx,
            stderr,
            base: String::new(),
            port: 0,
        };
        let until = Instant::now() + deadline;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match server.rx.recv_timeout(left) {
                Ok(line) => {
                    let url = line.strip_prefix(LISTENING).map(str::to_string);
                    server.lines.push(line);
                    if let Some(url) = url {
                        server.port = port_of(&url).ok_or_else(|| {
                            server.failure(&format!("printed no port in `{url}`"))
                        })?;
                        server.base = url;
                        return Ok(server);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    server.stop_now();
                    return Err(server.failure(&format!(
                        "printed no `{}` line within {} s",
                        LISTENING.trim_end(),
                        deadline.as_secs()
                    )));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Stdout closed: the process is exiting (or closed it on purpose).
                    let status = server.wait_until(Instant::now() + Duration::from_secs(5));
                    let what = match status {
                        Some(status) => format!("exited during start-up ({status})"),
                        None => {
                            server.stop_now();
                            "closed its stdout during start-up".to_string()
                        }
                    };
                    return Err(server.failure(&what));
                }
            }
        }
    }

    /// The server's base URL, e.g. `http://127.0.0.1:41234` (`https://` with TLS).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The port the system picked.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The administrator webhook URL (ends in `/`) when this start printed one, i.e. on the
    /// first start with an empty database.
    pub(crate) fn hook(&self) -> Option<&str> {
        self.line_value(WEBHOOK)
    }

    /// The certificate path printed with `--tls-self-signed`.
    pub(crate) fn cert(&self) -> Option<&str> {
        self.line_value(CERT)
    }

    /// The start-up stdout lines, the `listening` line last.
    pub(crate) fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Everything the server wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.stderr.path()).unwrap_or_default()).into_owned()
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits (deadline [`DEADLINE`]) for the exit; returns the exit
    /// status. Panics, after killing the process, when it does not stop in time.
    pub(crate) fn terminate(mut self) -> ExitStatus {
        signal(self.pid(), "-TERM");
        match self.wait_until(Instant::now() + DEADLINE) {
            Some(status) => status,
            None => {
                self.stop_now();
                panic!(
                    "{}",
                    self.failure(&format!(
                        "did not stop within {} s of SIGTERM",
                        DEADLINE.as_secs()
                    ))
                );
            }
        }
    }

    /// Sends SIGKILL and reaps the process (usable while other threads still talk to it).
    pub(crate) fn kill9(&mut self) {
        signal(self.pid(), "-KILL");
        if self.wait_until(Instant::now() + DEADLINE).is_none() {
            panic!("{}", self.failure("survived SIGKILL"));
        }
    }

    /// Polls for the exit until `until`; `None` if the process is still running then.
    fn wait_until(&mut self, until: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills and reaps the process if it is still running.
    fn stop_now(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A failure message with the output so far.
    fn failure(&self, what: &str) -> String {
        format!(
            "crm-server {what}\n-- stdout so far --\n{}\n-- stderr --\n{}",
            self.lines.join("\n"),
            self.stderr()
        )
    }

    fn line_value(&self, prefix: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| l.strip_prefix(prefix))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Reads the child's stdout on a thread, one line per message. The thread ends at EOF.
fn read_lines(child: &mut Child) -> Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // A dropped receiver is fine: keep draining so the server never blocks.
            let _ = tx.send(line.trim_end().to_string());
        }
    });
    rx
}

/// The port of `scheme://host:port`.
fn port_of(url: &str) -> Option<u16> {
    url.rsplit_once(':')?.1.parse().ok().filter(|p| *p != 0)
}

/// Sends a signal with the `kill` command (the crate has no unsafe code for `libc::kill`).
fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("the kill command runs");
    assert!(status.success(), "kill {which} {pid}: {status}");
}

/// The `(flag, value)` defaults whose flag `extra` does not set itself (clap refuses a
/// flag given twice).
fn defaults_not_in<'a>(extra: &[&str], defaults: &[(&'a str, &'a str)]) -> Vec<&'a str> {
    defaults
        .iter()
        .filter(|(flag, _)| {
            !extra
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        })
        .flat_map(|(flag, value)| [*flag, *value])
        .collect()
}

/// Runs a CLI subcommand of the binary (`--data-dir <dir> --log warn` plus `args`) with a
/// deadline of [`DEADLINE`]; returns whether it succeeded and its stdout followed by its
/// stderr. Panics, after killing it, when it does not finish in time.
pub(crate) fn cli(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = tempfile::tempdir().expect("temp dir for output");
    let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .args(["--log", "warn"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).expect("stdout file"))
        .stderr(File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("start crm-server");
    let until = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let output = format!("{}{}", text(&stdout), text(&stderr));
    let Some(status) = status else {
        panic!(
            "crm-server {args:?} did not finish within {} s; output:\n{output}",
            DEADLINE.as_secs()
        );
    };
    (status.success(), output)
}

/// The path of a webhook URL (`/rest/1/<secret>/`), to call any server of the database.
pub(crate) fn webhook_path(hook: &str) -> String {
    let (_, path) = hook.split_once("/rest/").expect("a webhook URL");
    format!("/rest/{path}")
}

/// A fresh PostgreSQL database for a test of the binary; `None` (after a visible
/// `SKIPPED` line) without a server outside CI.
pub(crate) fn fresh_postgres(test: &str) -> Option<crm_store::testing::FreshDatabase> {
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(crm_store::testing::FreshDatabase::create(test))
}

/// Polls `ready` every 50 ms until it returns true; panics after [`DEADLINE`].
pub(crate) fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !ready() {
        assert!(
            Instant::now() < until,
            "{what}: not ready within {} s",
            DEADLINE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The deadlines themselves, with stand-in programs.
mod tests {
    use super::*;

    /// A program that ignores its arguments; `script` is run by `sh -c`.
    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script, "sh"]);
        c
    }

    #[test]
    fn a_silent_server_fails_at_the_deadline_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let err = ServerProcess::launch(
            sh("echo starting; exec sleep 1000"),
            dir.path(),
            &[],
            Duration::from_secs(2),
        )
        .err()
        .expect("must fail");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert_eq!(
            err,
            "crm-server printed no `crm-server listening on` line within 2 s\n\
             -- stdout so far --\nstarting\n-- stderr --\n"
        );
    }

    #[test]
    fn a_server_that_exits_during_start_up_fails_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let err = ServerProcess::launch(
            sh("echo one; echo boom >&2; exit 3"),
            dir.path(),
            &[],
            DEADLINE,
        )
        .err()
        .expect("must fail");
        assert_eq!(
            err,
            "crm-server exited during start-up (exit status: 3)\n\
             -- stdout so far --\none\n-- stderr --\nboom\n"
        );
    }

    #[test]
    fn kill9_stops_the_real_server_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut server = ServerProcess::start(dir.path(), &[]);
        let pid = server.pid().to_string();
        assert!(server.is_running());
        server.kill9();
        let alive = Command::new("kill").args(["-0", &pid]).output().unwrap();
        assert!(!alive.status.success(), "process {pid} still exists");
    }
}
