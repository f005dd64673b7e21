//! The wrapped server: a child process in its own process group, signals passed on, and
//! the shutdown ladder (close stdin, wait, SIGTERM, wait, SIGKILL).

use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// How long each rung of the shutdown ladder waits for the child to exit.
pub const GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("no server command given")]
    Empty,
    #[error("cannot find server command {0:?} on PATH (clients started from a desktop may not have your shell's PATH: give the command's full path)")]
    NotFound(OsString),
    #[error("cannot run server command {0:?}: {1}")]
    Failed(OsString, std::io::Error),
}

pub struct Server {
    child: Child,
    pgid: i32,
}

impl Server {
    /// Spawns `argv` with stdin, stdout and stderr piped. The caller passes stderr on
    /// with [`crate::edge::stderr::pass`] (never inherited: a server's log must not write
    /// raw bytes onto the operator's terminal).
    pub fn spawn_piped(argv: &[OsString]) -> Result<(Server, ChildStdin, ChildStdout, ChildStderr), SpawnError> {
        let (program, args) = argv.split_first().ok_or(SpawnError::Empty)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: a terminal's Ctrl-C reaches us, and we decide what the
            // server gets; signals then go to the whole group (npx -> node, sh -> python).
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SpawnError::NotFound(program.clone()),
            _ => SpawnError::Failed(program.clone(), e),
        })?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        // Large messages are the server's answers: only that direction gets a larger pipe.
        crate::edge::stdio::enlarge_pipe(&stdout);
        let pgid = child.id().map_or(0, |pid| pid as i32);
        Ok((Server { child, pgid }, stdin, stdout, stderr))
    }

    pub fn pid(&self) -> u32 {
        self.pgid as u32
    }

    /// Sends `signal` to the server's process group.
    pub fn signal(&self, signal: i32) {
        signal_group(self.pgid as u32, signal);
    }

    /// Waits for the server to exit. Cancel-safe.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// The rest of the ladder once stdin is closed: wait, SIGTERM, wait, SIGKILL.
    pub async fn stop(&mut self) -> std::io::Result<ExitStatus> {
        if let Ok(status) = tokio::time::timeout(GRACE, self.child.wait()).await {
            return status;
        }
        tracing::info!("server still running {GRACE:?} after its stdin closed: SIGTERM");
        self.signal(rustix::process::Signal::TERM.as_raw());
        if let Ok(status) = tokio::time::timeout(GRACE, self.child.wait()).await {
            return status;
        }
        tracing::warn!("server ignored SIGTERM for {GRACE:?}: SIGKILL");
        self.kill().await
    }

    pub async fn kill(&mut self) -> std::io::Result<ExitStatus> {
        self.signal(rustix::process::Signal::KILL.as_raw());
        self.child.wait().await
    }
}

/// Sends `signal` to the process group `pgid` (the server's: see [`Server::spawn_piped`]).
pub fn signal_group(pgid: u32, signal: i32) {
    if pgid > 0 {
        // A stale group id fails with ESRCH: nothing to do then.
        let group = rustix::process::Pid::from_raw(pgid as i32);
        if let (Some(group), Some(signal)) = (group, rustix::process::Signal::from_named_raw(signal)) {
            let _ = rustix::process::kill_process_group(group, signal);
        }
    }
}

/// The wrapper's exit code for a server exit status: its code, or 128+N for signal N.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    }
}
