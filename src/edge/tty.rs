//! The prompt on the controlling terminal: `/dev/tty`, never stdin, stdout or stderr
//! (they carry the protocol and the client's logs). Raw mode for single key presses,
//! restored on every way out; one prompt at a time across processes (a lock file).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::core::prompt::{key, keys_line, render, render_full, Answer, Held, Key};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answer(Answer),
    Timeout,
    /// The call was withdrawn (the client cancelled it) before anyone answered.
    Withdrawn,
}

/// Can a prompt be shown here at all?
pub fn available() -> bool {
    open().is_ok()
}

fn open() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/tty")
}

/// Shows `held` and waits for a key, the deadline, or `withdrawn`. Blocks: run it on a
/// blocking thread.
pub fn ask(held: &Held, deadline: Instant, withdrawn: &AtomicBool) -> io::Result<Outcome> {
    let mut tty = open()?;
    let Some(_turn) = TurnLock::wait(deadline, withdrawn)? else {
        return Ok(if withdrawn.load(Ordering::SeqCst) { Outcome::Withdrawn } else { Outcome::Timeout });
    };
    let _raw = RawMode::enter(&tty)?;
    let mut out = String::from("\x07\r\n");
    for line in render(held) {
        out.push_str(&line);
        out.push_str("\r\n");
    }
    tty.write_all(out.as_bytes())?;
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
            tty.write_all(format!("\r\x1b[2K{}", keys_line(secs)).as_bytes())?;
        }
        if !readable(&tty, Duration::from_millis(100).min(left))? {
            continue;
        }
        let mut byte = [0u8; 1];
        if tty.read(&mut byte)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the terminal closed"));
        }
        match key(byte[0]) {
            Some(Key::Answer(answer)) => {
                let said = match answer {
                    Answer::Approve => "approved once",
                    Answer::Deny => "denied",
                    Answer::Lease => "approved; this tool is allowed on this server for 15 minutes",
                };
                tty.write_all(format!("\r\x1b[2K  → {said}\r\n").as_bytes())?;
                return Ok(Outcome::Answer(answer));
            }
            Some(Key::View) => {
                let mut full = String::from("\r\x1b[2K");
                for line in render_full(held) {
                    full.push_str(&line);
                    full.push_str("\r\n");
                }
                tty.write_all(full.as_bytes())?;
                shown_secs = u64::MAX;
            }
            None => {}
        }
    }
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
struct RawMode {
    fd: i32,
    saved: libc::termios,
}

impl RawMode {
    fn enter(tty: &File) -> io::Result<RawMode> {
        let fd = tty.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it for a valid descriptor.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw = saved;
        raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
        raw.c_iflag &= !(libc::IXON | libc::ICRNL);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: setting attributes we just read, modified, on the same descriptor.
        SAVED.lock().unwrap_or_else(|p| p.into_inner()).push((fd, saved));
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
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

/// Takes turns on the terminal with other countersign processes of this user.
struct TurnLock(File);

impl TurnLock {
    /// Waits for the turn; `None` when the deadline passed or the call was withdrawn first.
    fn wait(deadline: Instant, withdrawn: &AtomicBool) -> io::Result<Option<TurnLock>> {
        let path = super::runtime_dir::runtime_dir()?.join("tty.lock");
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        loop {
            // SAFETY: flock on our own descriptor.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Some(TurnLock(file)));
            }
            if withdrawn.load(Ordering::SeqCst) || Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TurnLock {
    fn drop(&mut self) {
        // SAFETY: unlocking our own descriptor.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}
