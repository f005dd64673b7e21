//! Faults through the real binary: each ends with no hang, no crash, nothing forwarded
//! that should not be, and an audit chain that verifies.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{run, text, Wrap};

fn verify(dir: &std::path::Path) {
    let (code, out, _) = run(&["audit", "verify", "--dir", dir.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
}

fn server_pid(s: &support::Session) -> i32 {
    let deadline = Instant::now() + support::WAIT;
    loop {
        if let Some(r) = s.audit_records().into_iter().find(|r| r["event"] == "session_start") {
            return r["pid"].as_i64().unwrap() as i32;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_server_killed_mid_call_fails_the_call_and_the_run() {
    let mut s = Wrap::fake().start();
    s.initialize("2025-11-25");
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"test/hang"}));
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill(2) on the server process countersign started.
    unsafe { libc::kill(server_pid(&s), libc::SIGKILL) };
    let r = s.answer(1);
    assert_eq!(r["error"]["code"], -32603, "{r}");
    assert_eq!(s.wait().code(), Some(128 + 9));
    let end = s.audit_records().pop().unwrap();
    assert_eq!((end["event"].as_str(), end["exit_status"].as_i64()), (Some("session_end"), Some(137)));
    verify(&s.wrap.audit_dir());
}

#[test]
fn a_server_that_never_reads_gets_back_pressure() {
    let mut s = Wrap::fake().server_arg("--no-read").start();
    let mut stdin = s.take_stdin();
    let writer = std::thread::spawn(move || {
        // Notifications: each one is forwarded, none is answered.
        let line =
            json!({"jsonrpc":"2.0","method":"notifications/message","params":{"pad":"p".repeat(1000)}}).to_string();
        for _ in 0..50_000 {
            if writeln!(stdin, "{line}").is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let rss = support::rss_kib(s.child.id());
    assert!(rss < 64 * 1024, "countersign holds {rss} KiB for a server that does not read");
    assert!(!writer.is_finished(), "50 MB cannot have gone anywhere");
    // SAFETY: kill(2) on the server process.
    unsafe { libc::kill(server_pid(&s), libc::SIGTERM) };
    assert_eq!(s.wait().code(), Some(128 + 15));
    writer.join().unwrap();
}

#[test]
fn the_audit_disk_going_away_mid_session_denies_what_changes_state() {
    let w = Wrap::fake();
    let policy = w.path("policy.toml");
    std::fs::write(&policy, "[[rules]]\nid = \"ok\"\ntool = \"delete_file\"\naction = \"allow\"\n").unwrap();
    let audit = w.audit_dir();
    let mut s = w.arg("--policy").arg(policy.to_str().unwrap()).start();
    s.initialize("2025-11-25");
    assert_eq!(s.call(1, "delete_file", json!({}))["result"]["isError"], false);
    let moved = s.wrap.path("moved");
    std::fs::rename(&audit, &moved).unwrap();
    std::fs::write(&audit, "not a directory").unwrap();
    let d = s.call(2, "delete_file", json!({}));
    assert!(text(&d).contains("reason=audit_unavailable"), "{d}");
    assert_eq!(s.call(3, "read_file", json!({}))["result"]["isError"], false, "read-only calls still pass");
    s.wait();
    verify(&moved);
}

/// A session with a terminal in which `delete_file` (id 1) waits at the prompt.
fn delete_file_held_at_the_prompt() -> support::Session {
    let mut s = Wrap::fake().with_tty().logged().start();
    s.initialize("2025-11-25");
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{}}}));
    s.tty.as_ref().unwrap().wait_for("s left", 1);
    s
}

#[test]
fn the_client_leaving_while_a_call_is_held_runs_nothing() {
    let mut s = delete_file_held_at_the_prompt();
    let status = s.wait();
    assert!(status.success(), "{status:?}");
    assert!(!s.server_log().contains("delete_file"));
    assert!(s.tty.as_ref().unwrap().is_cooked(), "the terminal was left in raw mode");
    verify(&s.wrap.audit_dir());
}

#[test]
fn sigterm_during_a_held_call_restores_the_terminal_and_runs_nothing() {
    let mut s = delete_file_held_at_the_prompt();
    assert!(!s.tty.as_ref().unwrap().is_cooked(), "the prompt reads single keys");
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait_open().code(), Some(128 + 15));
    assert!(s.tty.as_ref().unwrap().is_cooked(), "the terminal was left in raw mode");
    assert!(!s.server_log().contains("delete_file"));
    verify(&s.wrap.audit_dir());
}

#[test]
fn a_server_crash_during_a_held_call_answers_it_too() {
    let mut s = delete_file_held_at_the_prompt();
    // A read-only call passes while the other is held, and takes the server down.
    s.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"crash","arguments":{}}}));
    assert_eq!(s.server_gone_errors(2), [1, 2], "the held call gets an error too, not silence");
    assert_eq!(s.wait().code(), Some(3), "the server's own exit code");
    assert!(s.tty.as_ref().unwrap().is_cooked(), "the terminal was left in raw mode");
    assert!(!s.server_log().contains("delete_file"));
    let records = s.audit_records();
    let held = records.iter().find(|r| r["event"] == "decision" && r["tool"] == "delete_file").unwrap();
    assert_eq!(held["reason"], "cancelled", "{held}");
    assert_eq!(held["detail"], "the session ended before the call was decided");
    assert_eq!(records.last().unwrap()["event"], "session_end", "the held call was recorded before the end");
    verify(&s.wrap.audit_dir());
}

#[test]
fn a_closed_stderr_is_no_crash() {
    // The client closes countersign's stderr while it logs (-vv logs every message).
    let mut child = std::process::Command::new(support::bin())
        .args(["-vv", "--headless", "--audit-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg("--")
        .args(support::fake_server())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let mut stdin = child.stdin.take().unwrap();
    for id in 0..200 {
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 200);
}
