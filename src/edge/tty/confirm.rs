//! `countersign approve`'s question (PRODUCT.md section 6a): the pending call shown as the
//! prompt shows it, on the command's own terminal (`/dev/tty`, never stdin), answered with
//! the prompt's keys: `y` (or the digest's code under `confirm = "digest"`) approves, `n`
//! denies, `v` views the whole payload, Ctrl-C or Escape leave without deciding. No lease
//! is offered here. As at the prompt,
//! pending input is flushed when the call is drawn and keys in the first [`GRACE`] are
//! ignored, so nothing typed before the operator saw the call can answer it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::{next_key, push_lines, raw, show_step, turn, GRACE};
use crate::core::prompt::{render, Answer, Held, Keys, Step};

/// The operator's answer to `countersign approve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    Approve,
    Deny,
    /// The deadline (the pending approval's lapse) passed first.
    Timeout,
    /// Ctrl-C or Escape: the operator left without deciding.
    Cancel,
}

/// This process's own controlling terminal, or why there is none.
fn own_terminal() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC).open("/dev/tty").map_err(
        |e| {
            io::Error::new(
                e.kind(),
                format!(
                    "no terminal to ask on (/dev/tty: {e}): `countersign approve` asks its own terminal, never stdin"
                ),
            )
        },
    )
}

/// Can `countersign approve` ask here? (Checked before anything else is done.)
pub fn own_terminal_available() -> io::Result<()> {
    own_terminal().map(drop)
}

/// Shows `held` on this process's terminal and waits for the operator's answer or the
/// deadline. Errors when there is no terminal (nothing drawn, nothing read).
pub fn confirm(held: &Held, deadline: Instant) -> io::Result<Confirmed> {
    let mut tty = own_terminal()?;
    // One prompt at a time on a terminal, with the relays of this user.
    let Some(_turn) = turn::wait(deadline, &AtomicBool::new(false))? else {
        return Ok(Confirmed::Timeout);
    };
    let _raw = raw::RawMode::enter(&tty)?;
    raw::flush_input(&tty)?;
    let mut out = String::from("\r\n");
    push_lines(&mut out, render(held));
    tty.write_all(out.as_bytes())?;
    let drawn = Instant::now();
    let mut keys = Keys::new(held).for_one_call();
    let mut shown_secs = u64::MAX;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tty.write_all(b"\r\x1b[2K  lapsed: nothing approved\r\n")?;
            return Ok(Confirmed::Timeout);
        }
        let secs = left.as_secs_f64().ceil() as u64;
        if secs != shown_secs {
            shown_secs = secs;
            let lapses = format!("lapses in {}", crate::core::approvals::span(secs));
            tty.write_all(format!("\r\x1b[2K{}", keys.line_ending(&lapses)).as_bytes())?;
        }
        let Some(byte) = next_key(&mut tty, left)? else {
            continue;
        };
        // Ctrl-C and Escape leave without deciding (at a prompt they deny: a held call
        // must be answered; a pending approval can wait).
        if byte == 0x03 || byte == 0x1b {
            tty.write_all(b"\r\x1b[2K  cancelled: nothing decided\r\n")?;
            return Ok(Confirmed::Cancel);
        }
        if drawn.elapsed() < GRACE || !byte.is_ascii() {
            continue;
        }
        match keys.press(byte as char) {
            Step::Answer(Answer::Approve) => {
                tty.write_all(b"\r\x1b[2K  \xe2\x86\x92 approved once\r\n")?;
                return Ok(Confirmed::Approve);
            }
            Step::Answer(Answer::Deny) => {
                tty.write_all(b"\r\x1b[2K  \xe2\x86\x92 denied\r\n")?;
                return Ok(Confirmed::Deny);
            }
            // No lease from here (`approve` answers one call): `a` shows nothing.
            step => {
                if show_step(&mut tty, held, &step)? {
                    shown_secs = u64::MAX;
                }
            }
        }
    }
}
