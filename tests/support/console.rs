//! The approver console (`countersign approver`) in a real pseudo-terminal, listening in
//! a runtime directory that wrapped runs share ([`super::Wrap::runtime`]).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::Pty;

/// Starts a console in `runtime` and waits until it listens.
pub(crate) fn console(runtime: &std::path::Path) -> (Child, Pty) {
    let mut cmd = Command::new(super::bin());
    cmd.arg("approver").env("COUNTERSIGN_HOME", runtime).env("TERM", "xterm");
    let pty = Pty::attach_stdio(&mut cmd);
    let child = cmd.spawn().unwrap();
    let pty = pty.spawned();
    let socket = runtime.join("run/approver.sock");
    let deadline = Instant::now() + super::WAIT;
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the console never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, pty)
}

/// Presses `key` once the console's grace period for a newly shown call has passed.
pub(crate) fn press_after_grace(pty: &mut Pty, key: u8) {
    std::thread::sleep(Duration::from_millis(400));
    pty.press(key);
}
