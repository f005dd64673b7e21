//! The approver console in a real pseudo-terminal, answering calls held by two wrapped
//! servers that have no terminal of their own.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{text, Pty, Wrap};

/// Presses `key` once the console's grace period for a newly shown call has passed.
fn press(pty: &mut Pty, key: u8) {
    std::thread::sleep(Duration::from_millis(400));
    pty.press(key);
}

fn console(runtime: &std::path::Path) -> (std::process::Child, Pty) {
    let mut cmd = Command::new(support::bin());
    cmd.arg("approver").env("COUNTERSIGN_HOME", runtime).env("TERM", "xterm");
    let pty = Pty::attach_stdio(&mut cmd);
    let child = cmd.spawn().unwrap();
    let pty = pty.spawned();
    let socket = runtime.join("run/approver.sock");
    let deadline = Instant::now() + support::WAIT;
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the console never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, pty)
}

#[test]
fn the_console_answers_calls_from_two_servers() {
    let run = tempfile::tempdir().unwrap();
    let (mut child, mut pty) = console(run.path());
    let _stop = Kill(child.id());
    let mut a = Wrap::fake().asking().runtime(run.path()).arg("--name").arg("alpha").start();
    let mut b = Wrap::fake().asking().runtime(run.path()).arg("--name").arg("beta").start();
    for s in [&mut a, &mut b] {
        s.initialize("2025-11-25");
        s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/x\u{1b}[2J"}}}));
    }
    pty.wait_for("2 held call(s)", 1);
    let screen = pty.text();
    assert!(screen.contains("alpha") && screen.contains("beta"), "{screen}");
    assert!(screen.contains("\\u001b[2J") && !screen.contains("/x\u{1b}[2J"), "payloads are inert on the console");
    press(&mut pty, b'y');
    pty.wait_for("1 held call(s)", 1);
    press(&mut pty, b'n');
    pty.wait_for("Enter sends", 1);
    pty.press(b'\r');
    pty.wait_for("0 held call(s)", 1);
    let answers = [text(&a.answer(1)), text(&b.answer(1))];
    assert_eq!(answers.iter().filter(|t| t.starts_with("deleted")).count(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|t| t.contains("denied_by_operator")).count(), 1, "{answers:?}");
    for s in [&mut a, &mut b] {
        s.wait();
        let decision = s.audit_records().into_iter().find(|r| r["event"] == "decision").unwrap();
        assert!(decision["by"].as_str().unwrap().ends_with("@console"), "{decision}");
    }
    pty.press(b'q');
    assert!(child.wait().unwrap().success());
    assert!(!run.path().join("run/approver.sock").exists());
}

#[test]
fn without_a_console_or_terminal_nobody_is_asked() {
    let run = tempfile::tempdir().unwrap();
    let mut s = Wrap::fake().asking().runtime(run.path()).start();
    s.initialize("2025-11-25");
    let r = s.call(1, "delete_file", json!({}));
    assert!(text(&r).contains("reason=denied_headless"), "{r}");
    s.wait();
}

/// Ends the console if the test fails before it quits.
struct Kill(u32);

impl Drop for Kill {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child; harmless once it exited.
        unsafe {
            libc::kill(self.0 as i32, libc::SIGKILL);
        }
    }
}
