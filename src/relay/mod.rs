//! The relay: wires the client's stdio, the server child, the gate and the audit log.
//! Every message in either direction passes through [`Relay::on_client_line`] or
//! [`Relay::on_server_line`]; those are the only places that decide what goes where.

mod ask;
mod client;
mod gate;
mod server;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::json;

use crate::core::audit::{Event, Origin};
use crate::core::config::Config;
use crate::core::protocol::{code, error_response, Id};
use crate::edge::audit_log::{AuditLog, AuditSettings};
use crate::edge::child::{exit_code, Server, SpawnError};
use crate::edge::clock::{random_id, Clock};
use crate::edge::lines::{Line, LineReader};
use crate::edge::sink::Sink;

use state::State;
pub use state::To;

/// Shared by every task of one run.
pub struct Relay {
    config: Config,
    session: String,
    state: Mutex<State>,
    to_client: Sink,
    to_server: Sink,
    audit: AuditLog,
    /// One listing of the server's tools at a time.
    listing: tokio::sync::Mutex<()>,
    /// Wakes [`Relay::fail_inflight`] as held calls finish.
    held_done: tokio::sync::Notify,
}

/// The error a request gets when the server will never answer it.
const SERVER_GONE: &str = "the MCP server exited before answering";

/// Runs one wrapped server until it exits; returns the wrapper's exit code.
pub async fn run(config: Config) -> Result<i32, SpawnError> {
    let (mut server, child_in, child_out) = Server::spawn(&config.command)?;
    let (stdin, stdout, _restore_stdio) = crate::edge::stdio::open();
    let session = random_id();
    let origin = Origin { session: session.clone(), server: config.name.clone() };
    let (audit, audit_thread) = AuditLog::start(AuditSettings {
        dir: config.audit_dir.clone(),
        origin,
        clock: Clock::from_env(),
        retention_days: config.audit_retention_days,
    });
    let relay = Arc::new(Relay {
        session,
        state: Mutex::new(State::default()),
        to_client: Sink::new(stdout),
        to_server: Sink::new(child_in),
        audit,
        listing: tokio::sync::Mutex::new(()),
        held_done: tokio::sync::Notify::new(),
        config,
    });
    relay.audit.record(relay.session_start(server.pid())).await;

    let signals = tokio::spawn(pass_signals(server.pid()));
    let mut client_loop = tokio::spawn(relay.clone().client_loop(stdin));
    let mut server_loop = tokio::spawn(relay.clone().server_loop(child_out));
    let server_done = tokio::select! {
        _ = &mut client_loop => { tracing::debug!("client closed its end"); false }
        _ = &mut server_loop => { tracing::debug!("server closed its stdout"); true }
    };
    // Either way the ladder runs: close the server's stdin, wait, SIGTERM, wait, SIGKILL.
    relay.to_server.close().await;
    let status = server.stop().await;
    // Let the server's last answers through before failing what is left in flight.
    if !server_done && tokio::time::timeout(Duration::from_secs(1), &mut server_loop).await.is_err() {
        server_loop.abort();
    }
    client_loop.abort();
    signals.abort();
    relay.fail_inflight().await;
    // A prompt may still be up (the server died, or a signal ended the run).
    crate::edge::tty::restore();

    let code = match status {
        Ok(status) => exit_code(status),
        Err(e) => {
            tracing::error!("cannot wait for the server: {e}");
            crate::EXIT_FAILURE
        }
    };
    relay.audit.record(relay.session_end(code)).await;
    // Held calls may still own the relay (a prompt is up): close the log explicitly.
    relay.audit.close().await;
    let _ = tokio::task::spawn_blocking(move || audit_thread.join()).await;
    Ok(code)
}

/// Passes SIGINT, SIGTERM and SIGHUP on to the server's process group. A second SIGINT
/// kills the server at once.
async fn pass_signals(pgid: u32) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
    else {
        tracing::warn!("cannot install signal handlers");
        return;
    };
    let send = |sig: i32| {
        // SAFETY: kill(2) has no memory effects.
        unsafe {
            libc::kill(-(pgid as i32), sig);
        }
    };
    let mut interrupts = 0;
    loop {
        let sig = tokio::select! {
            _ = int.recv() => {
                interrupts += 1;
                if interrupts > 1 { libc::SIGKILL } else { libc::SIGINT }
            }
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
        };
        tracing::info!("passing signal {sig} to the server");
        send(sig);
    }
}

impl Relay {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the client's messages until it closes stdin. Not cancel-safe: abort only
    /// after the reader is no longer needed.
    async fn client_loop(self: Arc<Self>, stdin: crate::edge::stdio::Input) {
        let mut lines = LineReader::new(stdin);
        loop {
            match lines.next().await {
                Ok(Line::Message(bytes)) => self.on_client_line(bytes).await,
                Ok(Line::TooLong(n)) => {
                    let why = format!("message of {n} bytes is larger than the limit");
                    self.reject("client", &why, b"").await;
                    self.reply(To::Client, error_response(None, code::INVALID_REQUEST, &why).into_bytes()).await;
                }
                Ok(Line::Eof) => return,
                Err(e) => {
                    tracing::error!("reading from the client: {e}");
                    return;
                }
            }
        }
    }

    async fn server_loop(self: Arc<Self>, stdout: tokio::process::ChildStdout) {
        let mut lines = LineReader::new(stdout);
        loop {
            match lines.next().await {
                Ok(Line::Message(bytes)) => self.on_server_line(bytes).await,
                Ok(Line::TooLong(n)) => {
                    let why = format!("dropped a server message of {n} bytes: larger than the limit");
                    tracing::error!("{why}");
                    self.reject("server", &why, b"").await;
                }
                Ok(Line::Eof) => return,
                Err(e) => {
                    tracing::error!("reading from the server: {e}");
                    return;
                }
            }
        }
    }

    /// Sends one line to the client, or adds it to the batch it answers.
    async fn reply(&self, to: To, line: Vec<u8>) {
        let out = match to {
            To::Client => Some(line),
            To::Batch(batch) => self.state().batch_answer(batch, Some(line)),
        };
        if let Some(out) = out {
            if let Err(e) = self.to_client.send(&out).await {
                tracing::debug!("client stdout closed: {e}");
            }
        }
    }

    /// Forwards original bytes to the server.
    async fn forward(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.to_server.send(bytes).await
    }

    /// Answers every request the server will now never answer, held calls included (they
    /// are never forwarded now), and waits a moment for the held ones to be recorded.
    async fn fail_inflight(&self) {
        let pending: Vec<_> = self.state().inflight.drain().collect();
        for (id, p) in pending {
            let line = error_response(Some(&id), code::INTERNAL_ERROR, SERVER_GONE);
            self.reply(p.to, line.into_bytes()).await;
        }
        let held: Vec<_> = self.state().held.drain().collect();
        for (_, session_over) in held {
            let _ = session_over.send(());
        }
        let give_up = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(give_up);
        loop {
            let finished = self.held_done.notified();
            if self.state().held_tasks == 0 {
                return;
            }
            tokio::select! {
                _ = finished => {}
                _ = &mut give_up => return,
            }
        }
    }

    async fn reject(&self, from: &str, why: &str, bytes: &[u8]) {
        self.state().counts.rejected += 1;
        let excerpt = crate::core::audit::redact::cut(&String::from_utf8_lossy(&bytes[..bytes.len().min(512)]));
        self.audit.record(Event::new("rejected", json!({"from": from, "reason": why, "excerpt": excerpt}))).await;
    }

    fn session_start(&self, pid: u32) -> Event {
        let argv: Vec<String> = self.config.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let (policy, policy_digest) = match &self.config.policy_source {
            Some((path, digest)) => (json!(path.display().to_string()), json!(digest)),
            None => (json!(null), json!(null)),
        };
        Event::new(
            "session_start",
            json!({
                "version": env!("CARGO_PKG_VERSION"),
                "argv": argv,
                "pid": pid,
                "wrapper_pid": std::process::id(),
                "policy": policy,
                "policy_digest": policy_digest,
                "headless": self.config.headless,
            }),
        )
    }

    fn session_end(&self, code: i32) -> Event {
        let s = self.state();
        Event::new(
            "session_end",
            json!({
                "exit_status": code,
                "counts": {"allowed": s.counts.allowed, "denied": s.counts.denied, "rejected": s.counts.rejected},
            }),
        )
    }

    fn internal_id(&self) -> Id {
        let mut s = self.state();
        s.next_internal += 1;
        Id::String(format!("countersign-{}-{}", self.session, s.next_internal))
    }
}
