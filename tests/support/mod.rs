//! Drives the real `countersign` binary with a real child server, from the client's side.
//!
//! One file per helper: [`Wrap`] builds a run, [`Session`] drives it, [`Pty`] is a real
//! terminal, `console` starts an approver console in one, `audit` reads the log,
//! `process` runs one-shot commands, `peers` installs the pinned interop peers. Add a new
//! helper as a file of its own here and re-export it below.
// Test helpers: unwrap is how a helper fails its test; pre_exec and ioctls need unsafe.
#![allow(unsafe_code, clippy::unwrap_used)]

mod audit;
mod console;
pub(crate) mod http;
pub(crate) mod peers;
mod process;
mod pty;
mod session;
mod wrap;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use audit::audit_records;
pub(crate) use console::{console, press_after_grace};
pub(crate) use process::{rss_kib, run};
pub(crate) use pty::Pty;
pub(crate) use session::{text, Session};
pub(crate) use wrap::Wrap;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Writes the user's policy under `config` (an `XDG_CONFIG_HOME`, or `~/.config`) with the
/// browser approval page off, as a user who wants a call nobody can answer at once kept
/// as a pending approval (otherwise it waits for the page until the approval timeout).
pub(crate) fn without_web(config: &std::path::Path) {
    let dir = config.join("countersign");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.toml"), "[approvals]\nweb = false\n").unwrap();
}

pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign"))
}

/// The built-in demo server (`countersign demo-server`) as a command line.
pub(crate) fn fake_server() -> Vec<String> {
    vec![bin().display().to_string(), "demo-server".into()]
}
