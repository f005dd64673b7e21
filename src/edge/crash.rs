//! A test hook at the edges: `COUNTERSIGN_TEST_CRASH`, read once. Every durable step of
//! every file countersign writes (a write, an fsync, a rename) is a crash point:
//!
//! - `count:<file>` appends each point's name to `<file>` as it is reached;
//! - `at:<n>` kills the process with SIGKILL at the `n`th point reached (1-based): before
//!   an fsync or a rename, or, at a write, after the first half of its bytes (a torn
//!   write, as a crash in the middle of a large write leaves);
//! - `on:<k>:<name>` does the same at the `k`th time the point named `<name>` is reached:
//!   the order in which the points of different files are reached can vary from run to
//!   run, as threads interleave, and this names one step whatever the others do.
//!
//! `tests/crash.rs` walks every point of a run and checks what a restart finds. Without
//! the variable each point costs one load of a set-once value.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

enum Hook {
    Count(PathBuf),
    At(u64),
    On(u64, String),
}

fn hook() -> Option<&'static Hook> {
    static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
    HOOK.get_or_init(|| {
        let value = std::env::var("COUNTERSIGN_TEST_CRASH").ok()?;
        match value.split_once(':')? {
            ("count", file) => Some(Hook::Count(file.into())),
            ("at", n) => n.parse().ok().map(Hook::At),
            ("on", point) => {
                let (k, name) = point.split_once(':')?;
                k.parse().ok().map(|k| Hook::On(k, name.to_owned()))
            }
            _ => None,
        }
    })
    .as_ref()
}

/// Is this the point to die at? (Counts it, or writes its name down.)
fn reached(name: &str) -> bool {
    static REACHED: AtomicU64 = AtomicU64::new(0);
    match hook() {
        None => false,
        Some(Hook::Count(file)) => {
            let log = std::fs::OpenOptions::new().create(true).append(true).open(file);
            let _ = log.and_then(|mut f| writeln!(f, "{name}"));
            false
        }
        Some(Hook::At(n)) => REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n,
        Some(Hook::On(k, point)) => point == name && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *k,
    }
}

fn die() -> ! {
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    // SIGKILL cannot be caught: this is never reached.
    std::process::abort()
}

/// A crash point before a step that is not a write (an fsync, a rename).
pub fn point(name: &str) {
    if reached(name) {
        die();
    }
}

/// `out.write_all(bytes)`, a crash point: torn half-way when it is the one to die at.
pub fn write_all(name: &str, out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    if reached(name) {
        let _ = out.write_all(&bytes[..bytes.len() / 2]);
        let _ = out.flush();
        die();
    }
    out.write_all(bytes)
}
