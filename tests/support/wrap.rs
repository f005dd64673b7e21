//! [`Wrap`]: a builder for one wrapped run of the real binary in front of a child server.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::session::{reader, Session};
use super::{bin, fake_server, Pty};

/// A builder for one wrapped run (the `just` test-builder habit).
pub(crate) struct Wrap {
    args: Vec<String>,
    server: Vec<String>,
    env: Vec<(String, String)>,
    audit: PathBuf,
    tty: bool,
    detached: bool,
    runtime: Option<PathBuf>,
    sockets: bool,
    /// The browser approval page is on (the built-in default); off unless asked for, so
    /// that a call nobody can answer becomes pending at once.
    web: bool,
    pub dir: tempfile::TempDir,
}

impl Wrap {
    /// countersign in front of the fake server, headless, auditing into a temp dir.
    pub(crate) fn fake() -> Wrap {
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
            web: false,
            dir,
        }
    }

    /// Not headless, but without a terminal (a new session with no controlling
    /// terminal, as under Claude Desktop): only an approver console can answer (and the
    /// approval page, with [`Wrap::web`]).
    pub(crate) fn asking(mut self) -> Wrap {
        self.args.retain(|a| a != "--headless");
        self.detached = true;
        self
    }

    /// Share a runtime directory (where the approver console listens) with other runs.
    /// It is also the state directory (pins): made private, as countersign requires.
    pub(crate) fn runtime(mut self, dir: impl Into<PathBuf>) -> Wrap {
        let dir = dir.into();
        if dir.exists() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        self.runtime = Some(dir);
        self
    }

    /// Not headless, and with a real pseudo-terminal as the controlling terminal (its
    /// own session), so `/dev/tty` in countersign is that terminal.
    pub(crate) fn with_tty(mut self) -> Wrap {
        self.args.retain(|a| a != "--headless");
        self.tty = true;
        self
    }

    /// The default policy as users have it: the browser approval page on. Without this,
    /// the run's default policy (the one under `XDG_CONFIG_HOME`) says `web = false`; a
    /// `--policy` given replaces it.
    pub(crate) fn web(mut self) -> Wrap {
        self.web = true;
        self
    }

    /// The demo server records every line it receives in `server.log` (see
    /// [`Session::server_log`]).
    pub(crate) fn logged(self) -> Wrap {
        self.server_arg("--log").server_path("server.log")
    }

    /// stdin and stdout are socket pairs, as Node.js clients (libuv) spawn servers, rather
    /// than pipes.
    pub(crate) fn over_sockets(mut self) -> Wrap {
        self.sockets = true;
        self
    }

    /// Audit somewhere else than the run's own directory.
    pub(crate) fn audit_in(mut self, dir: impl Into<PathBuf>) -> Wrap {
        self.audit = dir.into();
        self
    }

    pub(crate) fn command(server: &[&str]) -> Wrap {
        let mut w = Wrap::fake();
        w.server = server.iter().map(|s| s.to_string()).collect();
        w
    }

    pub(crate) fn arg(mut self, a: &str) -> Wrap {
        self.args.push(a.into());
        self
    }

    /// An argument naming a path inside the run's temp dir.
    pub(crate) fn arg_path(mut self, rel: &str) -> Wrap {
        self.args.push(self.dir.path().join(rel).display().to_string());
        self
    }

    pub(crate) fn server_arg(mut self, a: &str) -> Wrap {
        self.server.push(a.into());
        self
    }

    pub(crate) fn server_path(mut self, rel: &str) -> Wrap {
        self.server.push(self.dir.path().join(rel).display().to_string());
        self
    }

    pub(crate) fn env(mut self, k: &str, v: &str) -> Wrap {
        self.env.push((k.into(), v.into()));
        self
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn audit_dir(&self) -> PathBuf {
        self.audit.clone()
    }

    pub(crate) fn start(self) -> Session {
        if !self.web {
            super::without_web(&self.dir.path().join("no-config"));
        }
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
        Session::new(child, stdin, lines, stderr, self, tty)
    }
}
