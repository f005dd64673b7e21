//! Turns on the terminal between countersign processes of this user: an exclusive
//! `flock` on `<runtime>/tty.lock`. The lock is waited for on a helper thread blocked in
//! `flock(2)` (no polling of the lock); the caller waits on a channel and gives up at the
//! deadline or when its call is withdrawn. A helper whose caller gave up drops the lock
//! the moment it gets it.
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::edge::locked_file::{lock_exclusive, try_lock_exclusive};

/// How often a waiting call looks at its withdrawn flag.
const CHECK: Duration = Duration::from_millis(50);

/// The turn; released when dropped (closing the descriptor drops the lock).
pub(super) struct Turn(#[allow(dead_code)] File);

/// Waits for the turn. `None` when the deadline passed or the call was withdrawn first.
pub(super) fn wait(deadline: Instant, withdrawn: &AtomicBool) -> io::Result<Option<Turn>> {
    let path = crate::edge::runtime_dir::runtime_dir()?.join("tty.lock");
    // A fresh open file description per wait: flock locks belong to it.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?;
    if matches!(try_lock_exclusive(&file), Ok(true)) {
        return Ok(Some(Turn(file)));
    }
    let (tx, rx) = mpsc::sync_channel::<io::Result<File>>(1);
    std::thread::Builder::new().name("tty-turn".into()).spawn(move || {
        let got = lock_exclusive(&file).map(|()| file);
        // When the caller has gone, the file (and its lock) is dropped right here.
        let _ = tx.send(got);
    })?;
    loop {
        if withdrawn.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match rx.recv_timeout(left.min(CHECK)) {
            Ok(Ok(file)) => return Ok(Some(Turn(file))),
            Ok(Err(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(io::Error::other("the lock waiter ended")),
        }
    }
}
