//! The relay: wires one wrapped server's process, the client's stdio, the operator and
//! the audit log around one session ([`crate::core::session`]). [`run`] is the real
//! thing; [`run_with`] takes its I/O, operator, clock and shutdown as arguments, so a
//! whole session runs in-process in tests, on paused time.

mod book;
mod operator;
mod owner;
mod peers;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::oneshot;

use crate::core::audit::{Event, Origin};
use crate::core::config::Config;
use crate::core::pins::Pins;
use crate::core::session::{Counts, Settings};
use crate::edge::audit_log::{AuditLog, AuditSettings};
use crate::edge::child::{exit_code, Server, SpawnError};
use crate::edge::clock::{random_id, Clock};
use crate::edge::pin_store::PinStore;

pub use book::Book;
pub use operator::{Human, Operator, Web};
pub use owner::{run_with, Hooks, Io};

/// Runs one wrapped server until it exits; returns the wrapper's exit code.
pub async fn run(config: Config, pins: Option<(PinStore, Pins)>) -> Result<i32, SpawnError> {
    // Caught before the server is spawned: a signal that comes while countersign sets up
    // is passed on too, not lost or fatal, and the server starts with the three at their
    // default action even when countersign was started with them ignored (a background
    // job of a shell, nohup): exec keeps an ignored signal ignored, but resets a caught
    // one. Otherwise a signal passed on to such a server would do nothing.
    let caught = caught_signals();
    // Built while the server starts, not after it: `session_start` redacts the command line.
    let _ = std::thread::Builder::new().name("countersign-prep".into()).spawn(crate::core::audit::secrets::prepare);
    let (mut server, child_in, child_out, child_err) = Server::spawn_piped(&config.command)?;
    let stderr = tokio::spawn(crate::edge::stderr::pass(child_err));
    let (stdin, stdout, _restore_stdio) = crate::edge::stdio::open();
    let session = random_id();
    let clock = Clock::from_env();
    let origin = Origin { session: session.clone(), server: config.name.clone() };
    let settings =
        AuditSettings { dir: config.audit_dir.clone(), origin, clock, retention_days: config.audit_retention_days };
    // Setting the directory up may wait for another process's lock, apply retention and
    // seal finished days: off the runtime's one thread.
    let (audit, audit_thread) = tokio::task::spawn_blocking(move || AuditLog::start(settings))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    audit.record(session_start(&config, server.pid())).await;
    let signals = tokio::spawn(pass_signals(caught, server.pid()));

    // Headless sessions never ask a human, so they keep nothing for one either.
    let book = (!config.headless).then(|| Book {
        store: crate::edge::approvals::Store::open().map_err(|e| {
            tracing::warn!("{e}; calls nobody can answer now will not be kept for later");
            e.to_string()
        }),
        label: config.name.clone(),
        audit_dir: config.audit_dir.display().to_string(),
        session: session.clone(),
        clock,
    });
    let settings = Settings {
        session,
        label: config.name.clone(),
        policy: config.policy.clone(),
        headless: config.headless,
        approval_timeout: config.approval_timeout,
        pins: pins.as_ref().map(|(_, p)| p.clone()).unwrap_or_default(),
        dialog: (!config.headless && config.policy.channels.in_client_for(&config.name))
            .then(|| crate::core::session::Dialog { user: crate::edge::runtime_dir::user_name(), secret: random_id() }),
    };
    let io = Io { client_in: stdin, client_out: stdout, server_in: child_in, server_out: child_out };
    let (client_closed, closed) = oneshot::channel();
    let (exited_tx, exited) = oneshot::channel::<()>();
    let lifecycle = async move {
        // The client closing its end starts the ladder: its stdin is closed by then;
        // wait, SIGTERM, wait, SIGKILL. A server that exits by itself just exits.
        let by_itself = tokio::select! {
            status = server.wait() => Some(status),
            _ = closed => None,
        };
        let status = match by_itself {
            Some(status) => status,
            None => server.stop().await,
        };
        let _ = exited_tx.send(());
        status
    };
    let hooks = Hooks {
        client_closed: Some(client_closed),
        server_exited: async {
            let _ = exited.await;
        },
        clock,
        pins: pins.map(|(store, _)| store),
        book,
    };
    // The session runs as a task of its own, not as the future the runtime blocks on:
    // waking that future costs the runtime an extra poll of its I/O driver (an
    // `epoll_wait`) for every message, waking a task does not.
    let session = tokio::spawn(run_with(io, settings, audit.clone(), Arc::new(human(&config)), hooks));
    let (counts, status) = tokio::join!(session, lifecycle);
    let counts = counts.unwrap_or_else(|e| {
        tracing::error!("the session ended abnormally: {e}");
        Counts::default()
    });
    signals.abort();
    // The server's last words on stderr.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), stderr).await;
    // A prompt may still be up (the server died, or a signal ended the run).
    crate::edge::tty::restore();

    let code = match status {
        Ok(status) => exit_code(status),
        Err(e) => {
            tracing::error!("cannot wait for the server: {e}");
            crate::EXIT_FAILURE
        }
    };
    audit.record(session_end(code, counts)).await;
    audit.close().await;
    let _ = tokio::task::spawn_blocking(move || audit_thread.join()).await;
    Ok(code)
}

/// The operator as the policy's `[approvals]` allows: the page only with `web` on (and
/// never headless, where nobody is asked).
fn human(config: &Config) -> Human {
    let channels = &config.policy.channels;
    Human { web: (channels.web && !config.headless).then(|| Web::new(channels.notify)) }
}

/// SIGINT, SIGTERM and SIGHUP, caught from now on (delivered to the streams, which keep
/// what arrives before they are read). `None` when they cannot be caught.
fn caught_signals() -> Option<[tokio::signal::unix::Signal; 3]> {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
        (Ok(int), Ok(term), Ok(hup)) => Some([int, term, hup]),
        _ => {
            tracing::warn!("cannot install signal handlers");
            None
        }
    }
}

/// Passes SIGINT, SIGTERM and SIGHUP on to the server's process group. A second SIGINT
/// kills the server at once.
async fn pass_signals(caught: Option<[tokio::signal::unix::Signal; 3]>, pgid: u32) {
    let Some([mut int, mut term, mut hup]) = caught else {
        return;
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
        crate::edge::child::signal_group(pgid, sig);
    }
}

fn session_start(config: &Config, pid: u32) -> Event {
    let argv: Vec<String> = config.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let argv = crate::core::audit::redact::redact_argv(&argv);
    let (policy, policy_digest) = match &config.policy_source {
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
            "headless": config.headless,
        }),
    )
}

fn session_end(code: i32, counts: Counts) -> Event {
    Event::new(
        "session_end",
        json!({
            "exit_status": code,
            "counts": {"allowed": counts.allowed, "denied": counts.denied, "rejected": counts.rejected},
        }),
    )
}
