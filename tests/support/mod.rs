//! Drives the real `countersign` binary with a real child server, from the client's side.
//!
//! One file per helper: [`Wrap`] builds a run, [`Session`] drives it, [`Pty`] is a real
//! terminal, `audit` reads the log, `process` runs one-shot commands. Add a new helper as
//! a file of its own here and re-export it below.
#![allow(dead_code, unused_imports)]

mod audit;
mod process;
mod pty;
mod session;
mod wrap;

use std::path::PathBuf;
use std::time::Duration;

pub use audit::audit_records;
pub use process::{rss_kib, run};
pub use pty::Pty;
pub use session::{text, Session};
pub use wrap::Wrap;

pub const WAIT: Duration = Duration::from_secs(20);

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign"))
}

/// The built-in demo server (`countersign demo-server`) as a command line.
pub fn fake_server() -> Vec<String> {
    vec![bin().display().to_string(), "demo-server".into()]
}
