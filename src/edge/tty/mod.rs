//! The prompt on the operator's terminal (PRODUCT.md section 6, step 2): found by
//! [`find`], never stdin, stdout or stderr (they carry the protocol and the client's
//! logs). Not drawn at all when a full-screen program holds the terminal in raw mode.
//! Raw mode for single key presses, restored on every way out; one prompt at a time
//! across processes ([`turn`]). What the operator sees is what they approve: pending
//! input is flushed when the prompt is drawn, keys in the first [`GRACE`] after it are
//! ignored, and the server's stderr is held back while it is up ([`showing`]).
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

mod confirm;
mod find;
mod raw;
mod turn;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub use confirm::{confirm, own_terminal_available, Confirmed};
pub use find::{parse_stat, split_dev};
pub use raw::restore;

use crate::core::prompt::{render, render_full, Answer, Held, Keys, Step, CODE_DIGITS};

/// Keys pressed this soon after a prompt is drawn are ignored: they were meant for
/// something else (a previous prompt, the shell).
pub use crate::core::prompt::GRACE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answer(Answer),
    Timeout,
    /// The call was withdrawn (the client cancelled it) before anyone answered.
    Withdrawn,
}

/// Can a prompt be shown here at all?
pub fn available() -> bool {
    find::open().is_ok()
}

/// Shows `held` on the operator's terminal and waits for an answer, the deadline, or
/// `withdrawn`. Blocks: run it on a blocking thread, one call at a time per process.
///
/// Errors when there is no terminal to ask, or when a full-screen program holds it
/// (`ErrorKind::ResourceBusy`): nothing was drawn or read, ask someone else.
pub fn ask(held: &Held, deadline: Instant, withdrawn: &AtomicBool) -> io::Result<Outcome> {
    let (mut tty, path) = find::open()?;
    let Some(_turn) = turn::wait(deadline, withdrawn)? else {
        return Ok(if withdrawn.load(Ordering::SeqCst) { Outcome::Withdrawn } else { Outcome::Timeout });
    };
    // Checked with the turn held: another countersign's prompt has put its raw mode back.
    if !raw::is_canonical(&tty)? {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!("{} is in raw mode, held by a full-screen program, so nothing is asked there", path.display()),
        ));
    }
    let _raw = raw::RawMode::enter(&tty)?;
    let _showing = Showing::start(tty.metadata()?.rdev());
    raw::flush_input(&tty)?;
    let mut out = String::from("\x07\r\n");
    push_lines(&mut out, render(held));
    tty.write_all(out.as_bytes())?;
    let drawn = Instant::now();
    let mut keys = Keys::new(held);
    let mut shown_secs = u64::MAX;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if withdrawn.load(Ordering::SeqCst) {
            tty.write_all(b"\r\x1b[2K  withdrawn: the client cancelled this call\r\n")?;
            return Ok(Outcome::Withdrawn);
        }
        if left.is_zero() {
            tty.write_all(b"\r\x1b[2K  timed out: denied (approval_timeout)\r\n")?;
            return Ok(Outcome::Timeout);
        }
        let secs = left.as_secs_f64().ceil() as u64;
        if secs != shown_secs {
            shown_secs = secs;
            tty.write_all(format!("\r\x1b[2K{}", keys.line(secs)).as_bytes())?;
        }
        let Some(byte) = next_key(&mut tty, left)? else {
            continue;
        };
        if drawn.elapsed() < GRACE || !byte.is_ascii() {
            continue;
        }
        match keys.press(byte as char) {
            Step::Answer(answer) => {
                let said = match answer {
                    Answer::Approve => "approved once",
                    Answer::Deny => "denied",
                    Answer::Lease => "approved; this tool is allowed on this server for 15 minutes",
                    Answer::AcceptPin => "the new definition is pinned; the call is decided by its class and rules",
                };
                tty.write_all(format!("\r\x1b[2K  → {said}\r\n").as_bytes())?;
                return Ok(Outcome::Answer(answer));
            }
            step => {
                if show_step(&mut tty, held, &step)? {
                    shown_secs = u64::MAX;
                }
            }
        }
    }
}

/// What a key that answers nothing shows: `v` draws the whole payload, a wrong code
/// says so (the call still waits). Returns whether the keys line is to be drawn again
/// (also while a code is being typed).
fn show_step(tty: &mut File, held: &Held, step: &Step) -> io::Result<bool> {
    match step {
        Step::View => {
            let mut full = String::from("\r\x1b[2K");
            push_lines(&mut full, render_full(held));
            tty.write_all(full.as_bytes())?;
        }
        Step::Wrong(code) => {
            let said = format!(
                "\r\x1b[2K  {code} is not the digest's first {CODE_DIGITS} digits: nothing approved, the call still waits\r\n"
            );
            tty.write_all(said.as_bytes())?;
        }
        Step::Typing(_) => {}
        Step::Answer(_) | Step::Ignored => return Ok(false),
    }
    Ok(true)
}

fn push_lines(out: &mut String, lines: Vec<String>) {
    for line in lines {
        out.push_str(&line);
        out.push_str("\r\n");
    }
}

/// The next byte typed, waiting at most 100 ms (and no longer than `left`): `None` when
/// nothing came. An error when the terminal closed.
fn next_key(tty: &mut File, left: Duration) -> io::Result<Option<u8>> {
    if !readable(tty, Duration::from_millis(100).min(left))? {
        return Ok(None);
    }
    let mut byte = [0u8; 1];
    if tty.read(&mut byte)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the terminal closed"));
    }
    Ok(Some(byte[0]))
}

fn readable(tty: &File, wait: Duration) -> io::Result<bool> {
    let mut fds = libc::pollfd { fd: tty.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut fds, 1, wait.as_millis() as libc::c_int) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
    }
    if n > 0 && fds.revents & (libc::POLLHUP | libc::POLLERR) != 0 && fds.revents & libc::POLLIN == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the terminal hung up"));
    }
    Ok(n > 0)
}

/// The terminal (device number) a prompt of this process is up on, if any. Whoever writes
/// the server's stderr to a terminal holds this lock while writing a line and does not
/// write to that device while it is set.
static SHOWING: Mutex<Option<u64>> = Mutex::new(None);

fn changes() -> &'static tokio::sync::watch::Sender<()> {
    static CHANGES: OnceLock<tokio::sync::watch::Sender<()>> = OnceLock::new();
    CHANGES.get_or_init(|| tokio::sync::watch::channel(()).0)
}

/// The prompt's device number, locked: writers hold the guard while they write.
pub fn showing() -> MutexGuard<'static, Option<u64>> {
    SHOWING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wakes when a prompt comes or goes (call `borrow_and_update` before checking [`showing`]).
pub fn showing_changes() -> tokio::sync::watch::Receiver<()> {
    changes().subscribe()
}

/// The device number of the terminal at `path` (for comparing with [`showing`]).
pub fn device_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.rdev())
}

/// Marks a prompt as up on a device until dropped.
struct Showing;

impl Showing {
    fn start(dev: u64) -> Showing {
        *showing() = Some(dev);
        changes().send_replace(());
        Showing
    }
}

impl Drop for Showing {
    fn drop(&mut self) {
        *showing() = None;
        changes().send_replace(());
    }
}
