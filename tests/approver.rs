//! The approver console in a real pseudo-terminal, answering calls held by two wrapped
//! servers that have no terminal of their own.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::{console, press_after_grace, text, Pty, Wrap};

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
    press_after_grace(&mut pty, b'y');
    pty.wait_for("1 held call(s)", 1);
    press_after_grace(&mut pty, b'n');
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
fn without_a_console_or_terminal_the_call_is_kept_for_later() {
    let run = tempfile::tempdir().unwrap();
    let mut s = Wrap::fake().asking().runtime(run.path()).start();
    s.initialize("2025-11-25");
    let r = s.call(1, "delete_file", json!({}));
    let text = text(&r);
    assert!(text.contains("reason=approval_pending") && text.contains("`countersign approve "), "{r}");
    s.wait();
    let asked = s.audit_records().into_iter().find(|r| r["event"] == "approval").expect("an approval record");
    assert_eq!((asked["action"].as_str(), asked["tool"].as_str()), (Some("asked"), Some("delete_file")), "{asked}");
    let id = asked["id"].as_str().unwrap();
    assert!(text.contains(&format!("pending approval {id}")), "{text}");
    // The same words, in one line, on countersign's stderr (clients keep it in their logs).
    let err = s.stderr_text();
    assert_eq!(err.lines().filter(|l| l.contains(&format!("run `countersign approve {id}`"))).count(), 1, "{err}");
    let dir = s.wrap.audit_dir();
    let (code, out, _) = support::run(&["audit", "tail", "--dir", dir.to_str().unwrap()], b"");
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("approval      countersign asked {id} delete_file sha256:")),
        "readable in tail:\n{out}"
    );
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
    let raw = pty.raw();
    let title = b"\x1b]0;countersign: 1 held\x07";
    assert!(raw.windows(title.len()).any(|w| w == title), "the title says a call waits");
    assert!(raw.windows(1).filter(|w| w[0] == 0x07).count() >= 2, "and the bell rang");
    press_after_grace(&mut pty, b'y');
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
    // Down picks the second (newer) call; the first keeps waiting. Keys in the grace
    // period after a call arrives are ignored, so wait it out first.
    std::thread::sleep(Duration::from_millis(400));
    pty.press_seq(b"\x1b[B");
    press_after_grace(&mut pty, b'n');
    pty.wait_for("Enter sends", 1);
    for k in b"use staging" {
        pty.press(*k);
    }
    pty.press(b'\r');
    assert!(text(&b.answer(1)).contains("denied_by_operator"));
    pty.wait_for("denied: use staging", 1);
    // The window title counts down as calls are answered.
    pty.wait_for("countersign: 1 held", 2);
    pty.wait_for("1 held call(s)", 1);
    // Quitting while a call waits asks once more, then is a timeout for the wrapper,
    // never "headless", and the model is told the console was closed.
    pty.press(b'q');
    pty.wait_for("q again quits", 1);
    pty.press(b'q');
    assert!(child.wait().unwrap().success());
    let r = a.answer(1);
    assert!(text(&r).contains("reason=approval_timeout"), "{r}");
    assert!(text(&r).contains("the approver console was closed before anyone answered"), "{r}");
    a.wait();
    b.wait();
}

/// The official TypeScript SDK client with its default environment (HOME, LOGNAME, PATH,
/// SHELL, TERM, USER: no XDG_RUNTIME_DIR) and a console started from a full desktop
/// session (XDG_RUNTIME_DIR and friends set): they meet, and the console's answer decides.
#[test]
fn the_typescript_sdk_client_reaches_a_console_from_a_desktop_session() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let npm = root.join(".cache/npm");
    let package = std::fs::read_to_string(root.join("tests/interop/package.json")).unwrap();
    if std::fs::read_to_string(npm.join(".installed")).ok().as_deref() != Some(&package) {
        std::fs::create_dir_all(&npm).unwrap();
        std::fs::write(npm.join("package.json"), &package).unwrap();
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&npm)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot install the TypeScript SDK (the interop tests need npm)");
        std::fs::write(npm.join(".installed"), &package).unwrap();
    }
    let script = npm.join("client-approver.mjs");
    std::fs::copy(root.join("tests/interop/client.mjs"), &script).unwrap();

    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("xdg-run");
    std::fs::create_dir(&xdg).unwrap();
    let mut console = Command::new(support::bin());
    console
        .arg("approver")
        .env_remove("COUNTERSIGN_HOME")
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", &xdg)
        .env("XDG_STATE_HOME", home.path().join("xdg-state"))
        .env("XDG_CONFIG_HOME", home.path().join("xdg-config"))
        .env("DISPLAY", ":0")
        .env("TERM", "xterm");
    let pty = Pty::attach_stdio(&mut console);
    let mut console = console.spawn().unwrap();
    let _stop = Kill(console.id());
    let mut pty = pty.spawned();
    pty.wait_for("0 held call(s)", 1);

    let bin = support::bin();
    let mut client = Command::new("node");
    client.arg(&script).arg("--").arg(&bin).arg("--").arg(&bin).arg("demo-server");
    client.env_clear().env("HOME", home.path()).env("PATH", std::env::var_os("PATH").unwrap());
    client.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    client.stderr(std::process::Stdio::piped());
    let mut client = client.spawn().unwrap();
    use std::io::Write;
    let steps =
        json!([{"call": "delete_file", "args": {"path": "/ts"}}, {"call": "delete_file", "args": {"path": "/no"}}]);
    client.stdin.take().unwrap().write_all(steps.to_string().as_bytes()).unwrap();
    let screen = pty.wait_for("1 held call(s)", 1);
    assert!(screen.contains("\"path\": \"/ts\""), "{screen}");
    press_after_grace(&mut pty, b'y');
    pty.wait_for("\"path\": \"/no\"", 1);
    press_after_grace(&mut pty, b'n');
    pty.wait_for("Enter sends", 1);
    pty.press(0x1b);
    let out = client.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[1]["is_error"], false, "{stdout}");
    assert_eq!(lines[1]["text"], "deleted \"/ts\"");
    assert_eq!(lines[2]["is_error"], true, "{stdout}");
    assert!(lines[2]["text"].as_str().unwrap().contains("denied_by_operator"), "{stdout}");
    pty.press(b'q');
    assert!(console.wait().unwrap().success());
}
