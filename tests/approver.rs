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

#[test]
fn the_console_survives_garbage_an_overlong_line_and_a_silent_peer() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let run = tempfile::tempdir().unwrap();
    let (mut child, mut pty) = console(run.path());
    let _stop = Kill(child.id());
    let socket = run.path().join("run/approver.sock");
    let mut garbage = UnixStream::connect(&socket).unwrap();
    garbage.write_all(b"\x00\xff{not json at all\n").unwrap();
    let mut wrong_shape = UnixStream::connect(&socket).unwrap();
    wrong_shape.write_all(b"{\"held\": 1, \"ms_left\": \"soon\"}\n").unwrap();
    let mut overlong = UnixStream::connect(&socket).unwrap();
    // 2 MiB without a line end: more than any held call may be.
    let _ = overlong.write_all(&vec![b'x'; 2 << 20]);
    let _silent = UnixStream::connect(&socket).unwrap();
    let mut half = UnixStream::connect(&socket).unwrap();
    half.write_all(b"{\"held\":").unwrap();
    // Then a real call: still shown and answered.
    let mut s = Wrap::fake().asking().runtime(run.path()).arg("--name").arg("after").start();
    s.initialize("2025-11-25");
    s.send(
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/z"}}}),
    );
    pty.wait_for("1 held call(s)", 1);
    press(&mut pty, b'y');
    assert!(text(&s.answer(1)).starts_with("deleted"), "the console still answers");
    s.wait();
    pty.press(b'q');
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_operator_picks_the_call_and_a_denial_carries_a_reason() {
    let run = tempfile::tempdir().unwrap();
    let (mut child, mut pty) = console(run.path());
    let _stop = Kill(child.id());
    let mut a = Wrap::fake().asking().runtime(run.path()).arg("--name").arg("first").start();
    a.initialize("2025-11-25");
    a.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"text":"line one\nline two"}}}));
    pty.wait_for("1 held call(s)", 1);
    let mut b = Wrap::fake().asking().runtime(run.path()).arg("--name").arg("second").start();
    b.initialize("2025-11-25");
    b.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{}}}));
    let screen = pty.wait_for("2 held call(s)", 1);
    assert!(screen.contains("│line one") && screen.contains("│line two"), "real line breaks:\n{screen}");
    // Down picks the second (newer) call; the first keeps waiting.
    pty.press(0x1b);
    pty.press(b'[');
    pty.press(b'B');
    press(&mut pty, b'n');
    pty.wait_for("Enter sends", 1);
    for k in b"use staging" {
        pty.press(*k);
    }
    pty.press(b'\r');
    assert!(text(&b.answer(1)).contains("denied_by_operator"));
    pty.wait_for("deny: use staging", 1);
    pty.wait_for("1 held call(s)", 1);
    // Quitting while a call waits is a timeout for the wrapper, never "headless".
    pty.press(b'q');
    assert!(child.wait().unwrap().success());
    let r = a.answer(1);
    assert!(text(&r).contains("reason=approval_timeout"), "{r}");
    a.wait();
    b.wait();
}
