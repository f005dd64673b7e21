//! [`Session`]: one running countersign, driven from the client's side.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{audit_records, Pty, Wrap, WAIT};

/// Reads `stream` line by line on a thread of its own (the newline stripped).
pub(super) fn reader(stream: impl std::io::Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 20, stream);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line.ends_with(b"\n") {
                        line.pop();
                    }
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

pub(crate) struct Session {
    pub child: Child,
    stdin: Option<Box<dyn Write + Send>>,
    lines: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
    pub wrap: Wrap,
    pub tty: Option<Pty>,
}

impl Session {
    pub(super) fn new(
        child: Child,
        stdin: Option<Box<dyn Write + Send>>,
        lines: Receiver<Vec<u8>>,
        stderr: Receiver<Vec<u8>>,
        wrap: Wrap,
        tty: Option<Pty>,
    ) -> Session {
        Session { child, stdin, lines, stderr, wrap, tty }
    }

    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    pub(crate) fn send(&mut self, msg: Value) {
        self.send_raw(msg.to_string().as_bytes());
    }

    pub(crate) fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        self.answer(id)
    }

    /// The legacy handshake at `revision`.
    pub(crate) fn initialize(&mut self, revision: &str) -> Value {
        let r = self.request(
            0,
            "initialize",
            json!({"protocolVersion": revision, "capabilities": {}, "clientInfo": {"name": "itest", "version": "1"}}),
        );
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        r
    }

    pub(crate) fn call(&mut self, id: i64, tool: &str, args: Value) -> Value {
        self.request(id, "tools/call", json!({"name": tool, "arguments": args}))
    }

    /// The next line on stdout, raw.
    pub(crate) fn next_raw(&mut self) -> Vec<u8> {
        self.lines.recv_timeout(WAIT).expect("countersign wrote nothing in time")
    }

    pub(crate) fn next(&mut self) -> Value {
        let raw = self.next_raw();
        serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {}", String::from_utf8_lossy(&raw)))
    }

    /// Reads until the answer for `id`, skipping notifications.
    pub(crate) fn answer(&mut self, id: i64) -> Value {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let v = self.next();
            if v["id"] == json!(id) {
                return v;
            }
        }
        panic!("no answer for id {id}");
    }

    /// The next `n` lines are -32603 errors (the server will never answer); their ids, sorted.
    pub(crate) fn server_gone_errors(&mut self, n: usize) -> Vec<i64> {
        let mut ids: Vec<i64> = (0..n)
            .map(|_| {
                let v = self.next();
                assert_eq!(v["error"]["code"], -32603, "{v}");
                v["id"].as_i64().unwrap()
            })
            .collect();
        ids.sort();
        ids
    }

    /// Nothing arrives on stdout for `d`.
    pub(crate) fn silent_for(&mut self, d: Duration) -> bool {
        matches!(self.lines.recv_timeout(d), Err(RecvTimeoutError::Timeout))
    }

    /// The client's end of countersign's stdin, for a writer thread.
    pub(crate) fn take_stdin(&mut self) -> Box<dyn Write + Send> {
        self.stdin.take().expect("stdin open")
    }

    pub(crate) fn close_stdin(&mut self) {
        self.stdin.take();
    }

    pub(crate) fn wait(&mut self) -> ExitStatus {
        self.close_stdin();
        self.wait_open()
    }

    /// Waits for the exit without closing stdin (the exit must come from elsewhere).
    pub(crate) fn wait_open(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "countersign did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first line countersign writes to stderr that contains `needle` (waiting up to
    /// [`WAIT`] for it).
    pub(crate) fn stderr_line(&mut self, needle: &str) -> String {
        let until = Instant::now() + WAIT;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(l) if String::from_utf8_lossy(&l).contains(needle) => return String::from_utf8_lossy(&l).into(),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no stderr line with {needle:?}");
    }

    pub(crate) fn stderr_text(&mut self) -> String {
        let mut out = String::new();
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            out.push_str(&String::from_utf8_lossy(&l));
            out.push('\n');
        }
        out
    }

    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Lines the fake server received (with `--log server.log`).
    pub(crate) fn server_log(&self) -> String {
        std::fs::read_to_string(self.wrap.path("server.log")).unwrap_or_default()
    }

    pub(crate) fn audit_records(&self) -> Vec<Value> {
        audit_records(&self.wrap.audit_dir())
    }
}

/// The text of a tool result.
pub(crate) fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}
