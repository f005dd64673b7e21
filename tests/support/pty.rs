//! [`Pty`]: a real pseudo-terminal as a child's controlling terminal.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use super::WAIT;

/// The master side of a pseudo-terminal whose slave is a child's controlling terminal.
pub(crate) struct Pty {
    master: std::fs::File,
    slave: Option<std::os::fd::OwnedFd>,
    screen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Pty {
    /// Opens a pty and makes `cmd` start a new session with it as controlling terminal.
    pub(crate) fn attach(cmd: &mut Command) -> Pty {
        use std::os::fd::{FromRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: 50, ws_col: 160, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty fills two descriptors we then own.
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty failed");
        // Neither end leaks into the children other tests of this process start meanwhile
        // (openpty leaves both inheritable).
        for fd in [master, slave] {
            // SAFETY: fcntl on descriptors we own and that are open.
            assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }, 0, "cannot set FD_CLOEXEC");
        }
        let slave_fd = slave;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // The child keeps a copy of the slave open across exec (`dup` clears
                // FD_CLOEXEC): reading the master fails with EIO whenever no slave
                // descriptor is open.
                if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0) < 0 || libc::dup(slave_fd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // SAFETY: the descriptors are ours and open.
        let master = unsafe { std::fs::File::from_raw_fd(master) };
        // SAFETY: as above: the slave descriptor is ours, open, and owned only here.
        let slave = Some(unsafe { OwnedFd::from_raw_fd(slave) });
        Pty { master, slave, screen: Default::default() }
    }

    /// Like [`Pty::attach`], and the terminal is also `cmd`'s stdin, stdout and stderr.
    pub(crate) fn attach_stdio(cmd: &mut Command) -> Pty {
        let pty = Pty::attach(cmd);
        let slave = pty.slave.as_ref().unwrap();
        cmd.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave.try_clone().unwrap());
        pty
    }

    /// After spawning: close our copy of the slave, start collecting what is drawn.
    pub(crate) fn spawned(mut self) -> Pty {
        self.slave.take();
        let mut reader = self.master.try_clone().unwrap();
        let screen = self.screen.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            // Until the test drops the Pty; EIO only means no slave is open right now.
            while std::sync::Arc::strong_count(&screen) > 1 {
                match reader.read(&mut buf) {
                    Ok(n) if n > 0 => screen.lock().unwrap().extend_from_slice(&buf[..n]),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        self
    }

    /// Everything drawn so far, as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    pub(crate) fn raw(&self) -> Vec<u8> {
        self.screen.lock().unwrap().clone()
    }

    /// Waits until `needle` has been drawn `count` times; returns the screen text.
    pub(crate) fn wait_for(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text();
            if text.matches(needle).count() >= count {
                return text;
            }
            assert!(Instant::now() < deadline, "never saw {needle:?} {count}x on the terminal:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Is the terminal back in its usual cooked mode (echo and line editing on)?
    pub(crate) fn is_cooked(&self) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: termios is plain data filled by tcgetattr on our open master.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `t` is a valid termios for tcgetattr to fill.
        assert_eq!(unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) }, 0);
        t.c_lflag & libc::ECHO != 0 && t.c_lflag & libc::ICANON != 0
    }

    pub(crate) fn press(&mut self, key: u8) {
        self.master.write_all(&[key]).unwrap();
    }

    /// A key that sends several bytes (an arrow: `ESC [ B`), in one write: split across
    /// writes, a loaded machine can deliver a lone ESC that reads as the Escape key.
    pub(crate) fn press_seq(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }
}
