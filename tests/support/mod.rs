//! Drives the real `countersign` binary with a real child server, from the client's side.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const WAIT: Duration = Duration::from_secs(20);

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign"))
}

/// The built-in demo server (`countersign demo-server`) as a command line.
pub fn fake_server() -> Vec<String> {
    vec![bin().display().to_string(), "demo-server".into()]
}

/// A builder for one wrapped run (the `just` test-builder habit).
pub struct Wrap {
    args: Vec<String>,
    server: Vec<String>,
    env: Vec<(String, String)>,
    audit: PathBuf,
    tty: bool,
    detached: bool,
    runtime: Option<PathBuf>,
    sockets: bool,
    pub dir: tempfile::TempDir,
}

impl Wrap {
    /// countersign in front of the fake server, headless, auditing into a temp dir.
    pub fn fake() -> Wrap {
        let dir = tempfile::tempdir().unwrap();
        Wrap {
            args: vec!["--headless".into()],
            server: fake_server(),
            env: vec![],
            audit: dir.path().join("audit"),
            tty: false,
            detached: false,
            runtime: None,
            sockets: false,
            dir,
        }
    }

    /// Not headless, but without a terminal (a new session with no controlling
    /// terminal, as under Claude Desktop): only an approver console can answer.
    pub fn asking(mut self) -> Wrap {
        self.args.retain(|a| a != "--headless");
        self.detached = true;
        self
    }

    /// Share a runtime directory (where the approver console listens) with other runs.
    pub fn runtime(mut self, dir: impl Into<PathBuf>) -> Wrap {
        self.runtime = Some(dir.into());
        self
    }

    /// Not headless, and with a real pseudo-terminal as the controlling terminal (its
    /// own session), so `/dev/tty` in countersign is that terminal.
    pub fn with_tty(mut self) -> Wrap {
        self.args.retain(|a| a != "--headless");
        self.tty = true;
        self
    }

    /// The demo server records every line it receives in `server.log` (see
    /// [`Session::server_log`]).
    pub fn logged(self) -> Wrap {
        self.server_arg("--log").server_path("server.log")
    }

    /// stdin and stdout are socket pairs, as Node.js clients (libuv) spawn servers, rather
    /// than pipes.
    pub fn over_sockets(mut self) -> Wrap {
        self.sockets = true;
        self
    }

    /// Audit somewhere else than the run's own directory.
    pub fn audit_in(mut self, dir: impl Into<PathBuf>) -> Wrap {
        self.audit = dir.into();
        self
    }

    pub fn command(server: &[&str]) -> Wrap {
        let mut w = Wrap::fake();
        w.server = server.iter().map(|s| s.to_string()).collect();
        w
    }

    pub fn arg(mut self, a: &str) -> Wrap {
        self.args.push(a.into());
        self
    }

    /// An argument naming a path inside the run's temp dir.
    pub fn arg_path(mut self, rel: &str) -> Wrap {
        self.args.push(self.dir.path().join(rel).display().to_string());
        self
    }

    pub fn server_arg(mut self, a: &str) -> Wrap {
        self.server.push(a.into());
        self
    }

    pub fn server_path(mut self, rel: &str) -> Wrap {
        self.server.push(self.dir.path().join(rel).display().to_string());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Wrap {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.audit.clone()
    }

    pub fn start(self) -> Session {
        let mut cmd = Command::new(bin());
        cmd.args(&self.args)
            .arg("--audit-dir")
            .arg(&self.audit)
            .arg("--")
            .args(&self.server)
            .env_remove("COUNTERSIGN_POLICY")
            .env("XDG_CONFIG_HOME", self.dir.path().join("no-config"))
            .env("COUNTERSIGN_HOME", self.runtime.clone().unwrap_or_else(|| self.dir.path().join("home")))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::piped());
        let mut client_ends = None;
        if self.sockets {
            let (ours_in, theirs_in) = UnixStream::pair().unwrap();
            let (ours_out, theirs_out) = UnixStream::pair().unwrap();
            cmd.stdin(OwnedFd::from(theirs_in)).stdout(OwnedFd::from(theirs_out));
            client_ends = Some((ours_in, ours_out));
        } else {
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        }
        if self.detached {
            use std::os::unix::process::CommandExt;
            // SAFETY: setsid is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| if libc::setsid() < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
            }
        }
        let tty = self.tty.then(|| Pty::attach(&mut cmd));
        let mut child = cmd.spawn().expect("spawn countersign");
        let tty = tty.map(Pty::spawned);
        // The command (and with it the child's ends) is dropped here, so closing ours is EOF.
        drop(cmd);
        let (stdin, lines): (Option<Box<dyn Write + Send>>, _) = match client_ends {
            Some((input, output)) => (Some(Box::new(input)), reader(output)),
            None => (Some(Box::new(child.stdin.take().unwrap())), reader(child.stdout.take().unwrap())),
        };
        let stderr = reader(child.stderr.take().unwrap());
        Session { child, stdin, lines, stderr, wrap: self, tty }
    }
}

fn reader(stream: impl std::io::Read + Send + 'static) -> Receiver<Vec<u8>> {
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

pub struct Session {
    pub child: Child,
    stdin: Option<Box<dyn Write + Send>>,
    lines: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
    pub wrap: Wrap,
    pub tty: Option<Pty>,
}

impl Session {
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    pub fn send(&mut self, msg: Value) {
        self.send_raw(msg.to_string().as_bytes());
    }

    pub fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        self.answer(id)
    }

    /// The legacy handshake at `revision`.
    pub fn initialize(&mut self, revision: &str) -> Value {
        let r = self.request(
            0,
            "initialize",
            json!({"protocolVersion": revision, "capabilities": {}, "clientInfo": {"name": "itest", "version": "1"}}),
        );
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        r
    }

    pub fn call(&mut self, id: i64, tool: &str, args: Value) -> Value {
        self.request(id, "tools/call", json!({"name": tool, "arguments": args}))
    }

    /// The next line on stdout, raw.
    pub fn next_raw(&mut self) -> Vec<u8> {
        self.lines.recv_timeout(WAIT).expect("countersign wrote nothing in time")
    }

    pub fn next(&mut self) -> Value {
        let raw = self.next_raw();
        serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {}", String::from_utf8_lossy(&raw)))
    }

    /// Reads until the answer for `id`, skipping notifications.
    pub fn answer(&mut self, id: i64) -> Value {
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
    pub fn server_gone_errors(&mut self, n: usize) -> Vec<i64> {
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
    pub fn silent_for(&mut self, d: Duration) -> bool {
        matches!(self.lines.recv_timeout(d), Err(RecvTimeoutError::Timeout))
    }

    /// The client's end of countersign's stdin, for a writer thread.
    pub fn take_stdin(&mut self) -> Box<dyn Write + Send> {
        self.stdin.take().expect("stdin open")
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    pub fn wait(&mut self) -> ExitStatus {
        self.close_stdin();
        self.wait_open()
    }

    /// Waits for the exit without closing stdin (the exit must come from elsewhere).
    pub fn wait_open(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "countersign did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_text(&mut self) -> String {
        let mut out = String::new();
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            out.push_str(&String::from_utf8_lossy(&l));
            out.push('\n');
        }
        out
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Lines the fake server received (with `--log server.log`).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.wrap.path("server.log")).unwrap_or_default()
    }

    pub fn audit_records(&self) -> Vec<Value> {
        audit_records(&self.wrap.audit_dir())
    }
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub fn audit_records(dir: &Path) -> Vec<Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// The text of a tool result.
pub fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

/// Runs `countersign ARGS` to completion.
pub fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The master side of a pseudo-terminal whose slave is a child's controlling terminal.
pub struct Pty {
    master: std::fs::File,
    slave: Option<std::os::fd::OwnedFd>,
    screen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Pty {
    /// Opens a pty and makes `cmd` start a new session with it as controlling terminal.
    pub fn attach(cmd: &mut Command) -> Pty {
        use std::os::fd::{FromRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: 50, ws_col: 160, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty fills two descriptors we then own.
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty failed");
        let slave_fd = slave;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // The child keeps its copy of the slave open: reading the master fails
                // with EIO whenever no slave descriptor is open.
                if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // SAFETY: the descriptors are ours and open.
        let master = unsafe { std::fs::File::from_raw_fd(master) };
        let slave = Some(unsafe { OwnedFd::from_raw_fd(slave) });
        Pty { master, slave, screen: Default::default() }
    }

    /// Like [`Pty::attach`], and the terminal is also `cmd`'s stdin, stdout and stderr.
    pub fn attach_stdio(cmd: &mut Command) -> Pty {
        let pty = Pty::attach(cmd);
        let slave = pty.slave.as_ref().unwrap();
        cmd.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave.try_clone().unwrap());
        pty
    }

    /// After spawning: close our copy of the slave, start collecting what is drawn.
    pub fn spawned(mut self) -> Pty {
        self.slave.take();
        let mut reader = self.master.try_clone().unwrap();
        let screen = self.screen.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            // Until the test drops the Pty; EIO only means no slave is open right now.
            while std::sync::Arc::strong_count(&screen) > 1 {
                match reader.read(&mut buf) {
                    Ok(n) if n > 0 => screen.lock().unwrap().extend_from_slice(&buf[..n]),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        self
    }

    /// Everything drawn so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    pub fn raw(&self) -> Vec<u8> {
        self.screen.lock().unwrap().clone()
    }

    /// Waits until `needle` has been drawn `count` times; returns the screen text.
    pub fn wait_for(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text();
            if text.matches(needle).count() >= count {
                return text;
            }
            assert!(Instant::now() < deadline, "never saw {needle:?} {count}x on the terminal:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Is the terminal back in its usual cooked mode (echo and line editing on)?
    pub fn is_cooked(&self) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: termios is plain data filled by tcgetattr on our open master.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) }, 0);
        t.c_lflag & libc::ECHO != 0 && t.c_lflag & libc::ICANON != 0
    }

    pub fn press(&mut self, key: u8) {
        self.master.write_all(&[key]).unwrap();
    }
}
