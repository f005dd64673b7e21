//! Terminal modes: whether a full-screen program holds the terminal (non-canonical
//! input), and raw input for single key presses, restored on every way out.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

fn attributes(fd: i32) -> io::Result<libc::termios> {
    // SAFETY: termios is plain data; tcgetattr fills it for a valid descriptor.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid termios for tcgetattr to fill.
    if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(t)
}

/// Is the terminal in canonical (line) mode, as a shell or a plain script leaves it?
/// Full-screen programs (Claude Code, Codex, Gemini CLI, editors) turn `ICANON` off.
pub(super) fn is_canonical(tty: &File) -> io::Result<bool> {
    Ok(attributes(tty.as_raw_fd())?.c_lflag & libc::ICANON != 0)
}

/// Drops input typed before now (keys pressed before a prompt never answer it).
pub(super) fn flush_input(tty: &File) -> io::Result<()> {
    // SAFETY: tcflush on a descriptor we own.
    if unsafe { libc::tcflush(tty.as_raw_fd(), libc::TCIFLUSH) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Terminal settings to put back if the process ends while a prompt is up (its thread
/// never unwinds then): see [`restore`].
static SAVED: std::sync::Mutex<Vec<(i32, libc::termios)>> = std::sync::Mutex::new(Vec::new());

/// Restores every terminal a prompt has put in raw mode. Called on the way out.
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    for (fd, termios) in saved.iter() {
        // SAFETY: restoring attributes saved from a descriptor still owned by a prompt.
        unsafe {
            libc::tcsetattr(*fd, libc::TCSANOW, termios);
        }
    }
}

/// Raw input (no echo, no line editing, no signals from keys) until dropped.
pub(super) struct RawMode {
    fd: i32,
    saved: libc::termios,
}

impl RawMode {
    pub(super) fn enter(tty: &File) -> io::Result<RawMode> {
        let fd = tty.as_raw_fd();
        let saved = attributes(fd)?;
        let mut raw = saved;
        raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
        raw.c_iflag &= !(libc::IXON | libc::ICRNL);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        SAVED.lock().unwrap_or_else(|p| p.into_inner()).push((fd, saved));
        // SAFETY: setting attributes we just read, modified, on the same descriptor.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            let e = io::Error::last_os_error();
            SAVED.lock().unwrap_or_else(|p| p.into_inner()).retain(|(f, _)| *f != fd);
            return Err(e);
        }
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        SAVED.lock().unwrap_or_else(|p| p.into_inner()).retain(|(fd, _)| *fd != self.fd);
        // SAFETY: restoring the attributes saved from this descriptor.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved);
        }
    }
}
