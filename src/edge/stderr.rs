//! The server's stderr, passed on to countersign's own (PRODUCT.md section 6, "What the
//! operator sees is what they approve"):
//!
//! - when countersign's stderr is a terminal, line by line and made inert (a server that
//!   logs an argument must not be able to move the cursor and redraw a prompt), and held
//!   back while a prompt of this process is up on that same terminal (the device numbers
//!   are compared), released after it;
//! - when it is a file or a pipe (a client's log), unchanged, bytes as they come.
//!
//! While lines are held, reading goes on up to [`HELD_MAX`] bytes, so a chatty server is
//! not stopped by a prompt; beyond that the pipe fills and the server waits.

use std::io::Write;
use std::os::unix::fs::MetadataExt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStderr;

use crate::core::sanitize::inert;
use crate::edge::tty;

/// Most bytes held back while a prompt is up.
pub const HELD_MAX: usize = 1 << 20;
/// A line longer than this is passed on in pieces of this size.
pub const LINE_MAX: usize = 64 * 1024;

/// Copies the server's stderr to ours until it closes. Cancel-safe (what was read and not
/// yet written is lost with the task).
pub async fn pass(child_stderr: ChildStderr) {
    match terminal_device() {
        Some(dev) => pass_lines(child_stderr, dev).await,
        None => pass_bytes(child_stderr).await,
    }
}

/// The device number of countersign's stderr when it is a terminal.
fn terminal_device() -> Option<u64> {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    std::fs::metadata("/dev/fd/2").ok().map(|m| m.rdev())
}

/// Unchanged, bytes as they come. Writes go through tokio's blocking pool: a client that
/// stops reading our stderr stalls this copy, never the relay.
async fn pass_bytes(mut from: ChildStderr) {
    let mut to = tokio::io::stderr();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() || to.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes `lines` unless a prompt is up on `dev`; gives them back when it is. The check
/// and the write happen under the prompt's lock (so no line lands inside a prompt), on a
/// blocking thread (so a stalled terminal never stalls the relay).
async fn write_unless_showing(lines: Vec<String>, dev: u64) -> Result<(), Vec<String>> {
    let written = tokio::task::spawn_blocking(move || {
        let showing = tty::showing();
        if *showing == Some(dev) {
            return Err(lines);
        }
        let mut err = std::io::stderr().lock();
        for line in &lines {
            let _ = err.write_all(line.as_bytes());
        }
        let _ = err.flush();
        Ok(())
    })
    .await;
    written.unwrap_or(Ok(()))
}

async fn pass_lines(mut from: ChildStderr, dev: u64) {
    let mut changes = tty::showing_changes();
    let mut pending: Vec<u8> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut held = 0usize;
    let mut open = true;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        changes.borrow_and_update();
        if !lines.is_empty() {
            match write_unless_showing(std::mem::take(&mut lines), dev).await {
                Ok(()) => held = 0,
                Err(back) => lines = back,
            }
        }
        if !open {
            if lines.is_empty() {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            read = from.read(&mut buf), if held < HELD_MAX => match read {
                Ok(0) | Err(_) => {
                    open = false;
                    if !pending.is_empty() {
                        lines.push(line_of(&std::mem::take(&mut pending)));
                    }
                }
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    for line in split_lines(&mut pending) {
                        held += line.len();
                        lines.push(line);
                    }
                }
            },
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

/// Takes the complete lines (and over-long pieces) out of `pending`, made inert.
fn split_lines(pending: &mut Vec<u8>) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(at) = memchr::memchr(b'\n', &pending[start..]) {
        out.push(line_of(&pending[start..start + at]));
        start += at + 1;
    }
    while pending.len() - start >= LINE_MAX {
        out.push(line_of(&pending[start..start + LINE_MAX]));
        start += LINE_MAX;
    }
    pending.drain(..start);
    out
}

/// One line for the terminal: invalid UTF-8 replaced, every control shown escaped.
fn line_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut line = inert(&text).into_owned();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_made_inert() {
        let mut pending = b"one\x1b[2J\ntwo\r\npart".to_vec();
        assert_eq!(split_lines(&mut pending), ["one\\u001b[2J\n", "two\\u000d\n"]);
        assert_eq!(pending, b"part");
        let mut long = vec![b'x'; LINE_MAX + 3];
        assert_eq!(split_lines(&mut long).len(), 1);
        assert_eq!(long.len(), 3);
    }
}
