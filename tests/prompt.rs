//! The operator prompt in a real pseudo-terminal, through the real binary.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::{run, text, Wrap};

const PROMPT: &str = "a tool call is waiting for your approval";

/// Keys pressed within this long of a prompt being drawn are ignored (src/edge/tty).
const GRACE: Duration = Duration::from_millis(300);

/// Presses `key` once the prompt's grace period has passed.
fn press(pty: &mut support::Pty, key: u8) {
    std::thread::sleep(GRACE + Duration::from_millis(100));
    pty.press(key);
}

fn interactive() -> Wrap {
    Wrap::fake().with_tty().logged()
}

#[test]
fn y_runs_the_call_once_and_the_digest_matches() {
    let mut s = interactive().start();
    s.initialize("2025-11-25");
    let args = json!({"path": "/data/report.csv", "force": true});
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":args}}));
    let screen = s.tty.as_ref().unwrap().wait_for("s left", 1);
    let (_, expected, _) = run(&["digest"], json!({"name": "delete_file", "arguments": args}).to_string().as_bytes());
    assert!(screen.contains(&format!("digest    {}", expected.trim())), "{screen}");
    assert!(screen.contains("tool      delete_file — Delete a file"), "{screen}");
    assert!(screen.contains("\"path\": \"/data/report.csv\""), "{screen}");
    assert!(screen.contains("client: itest"), "{screen}");
    press(s.tty.as_mut().unwrap(), b'y');
    let r = s.answer(1);
    assert_eq!(text(&r), "deleted \"/data/report.csv\"", "{r}");
    // Approval is for this call only: the next one asks again.
    s.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":args}}));
    s.tty.as_ref().unwrap().wait_for(PROMPT, 2);
    press(s.tty.as_mut().unwrap(), b'n');
    let r = s.answer(2);
    assert!(text(&r).contains("reason=denied_by_operator"), "{r}");
    s.wait();
    assert_eq!(s.server_log().matches("delete_file").count(), 1);
    let decisions: Vec<_> = s.audit_records().into_iter().filter(|r| r["event"] == "decision").collect();
    let by = decisions[0]["by"].as_str().unwrap();
    assert!(by.starts_with("operator:") && by.ends_with("@tty"), "{by}");
    assert_eq!(decisions[0]["reason"], "approved_by_operator");
    assert_eq!(decisions[1]["reason"], "denied_by_operator");
}

#[test]
fn hostile_text_is_shown_inert() {
    let mut s = interactive().start();
    s.initialize("2025-11-25");
    let args = json!({"path": "\u{1b}[2J\u{1b}]0;owned\u{7}", "note": "abc\u{202e}fdp.exe\u{200b}", "\u{9b}31m": 1});
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":args}}));
    let tty = s.tty.as_ref().unwrap();
    let screen = tty.wait_for("s left", 1);
    assert!(screen.contains("\\u001b[2J\\u001b]0;owned\\u0007"), "{screen}");
    assert!(screen.contains("abc\\u202efdp.exe\\u200b"), "{screen}");
    assert!(screen.contains("\\u009b31m"), "{screen}");
    let raw = tty.raw();
    let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"\x1b[2J") && !has(b"\x1b]0;") && !has("\u{202e}".as_bytes()) && !has("\u{9b}".as_bytes()));
    press(s.tty.as_mut().unwrap(), b'n');
    s.answer(1);
    s.wait();
}

#[test]
fn v_shows_the_whole_payload() {
    let mut s = interactive().start();
    s.initialize("2025-11-25");
    let long = format!("{}END", "w".repeat(500));
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"text": long}}}));
    let screen = s.tty.as_ref().unwrap().wait_for("s left", 1);
    assert!(screen.contains("more chars") && !screen.contains("END"), "{screen}");
    press(s.tty.as_mut().unwrap(), b'v');
    s.tty.as_ref().unwrap().wait_for("wEND", 1);
    press(s.tty.as_mut().unwrap(), b'n');
    s.answer(1);
    s.wait();
}

#[test]
fn timeout_denies_as_approval_timeout_and_progress_keeps_the_client_waiting() {
    let mut s = interactive().arg("--approval-timeout").arg("6").start();
    s.initialize("2025-11-25");
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{},"_meta":{"progressToken":"tok"}}}));
    let progress = s.next();
    assert_eq!(progress["method"], "notifications/progress", "{progress}");
    assert_eq!(progress["params"]["progressToken"], "tok");
    let r = s.answer(1);
    assert!(text(&r).contains("reason=approval_timeout"), "{r}");
    // A timeout is not a denial: the call is kept for the user to approve later.
    assert!(text(&r).contains("It is kept as pending approval ") && text(&r).contains("`countersign approve "), "{r}");
    s.tty.as_ref().unwrap().wait_for("timed out", 1);
    s.wait();
    assert!(!s.server_log().contains("delete_file"));
}

#[test]
fn a_cancelled_call_withdraws_its_prompt() {
    let mut s = interactive().start();
    s.initialize("2025-11-25");
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{}}}));
    s.tty.as_ref().unwrap().wait_for("s left", 1);
    s.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}));
    s.tty.as_ref().unwrap().wait_for("withdrawn", 1);
    let r = s.request(2, "ping", json!({}));
    assert_eq!(r["id"], 2, "no answer for the cancelled call, and the relay flows");
    press(s.tty.as_mut().unwrap(), b'y');
    assert!(s.silent_for(Duration::from_millis(500)));
    s.wait();
    assert!(!s.server_log().contains("delete_file"));
}

#[test]
fn a_lease_allows_the_tool_for_a_while() {
    let mut s = interactive().start();
    s.initialize("2025-11-25");
    s.send(
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"a"}}}),
    );
    s.tty.as_ref().unwrap().wait_for("s left", 1);
    press(s.tty.as_mut().unwrap(), b'a');
    assert_eq!(s.answer(1)["result"]["isError"], false);
    let r = s.call(2, "delete_file", json!({"path": "b"}));
    assert_eq!(r["result"]["isError"], false, "{r}");
    assert_eq!(s.tty.as_ref().unwrap().text().matches(PROMPT).count(), 1, "the lease must not ask again");
    s.wait();
    let decisions: Vec<_> = s.audit_records().into_iter().filter(|r| r["event"] == "decision").collect();
    let granted = decisions[0]["detail"].as_str().unwrap();
    let id = granted.split_whitespace().nth(1).unwrap();
    assert_eq!(decisions[1]["by"], format!("lease:{id}"));
    assert_eq!(decisions[1]["reason"], "approved_by_lease");
}

#[test]
fn held_calls_queue_while_the_relay_keeps_flowing() {
    let mut s = interactive().start();
    s.initialize("2025-11-25");
    for id in [1, 2] {
        s.send(
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"delete_file","arguments":{"n":id}}}),
        );
    }
    s.tty.as_ref().unwrap().wait_for("s left", 1);
    assert_eq!(s.call(3, "read_file", json!({}))["result"]["isError"], false, "read-only passes while calls are held");
    assert_eq!(s.tty.as_ref().unwrap().text().matches(PROMPT).count(), 1, "one prompt at a time");
    press(s.tty.as_mut().unwrap(), b'y');
    s.tty.as_ref().unwrap().wait_for(PROMPT, 2);
    press(s.tty.as_mut().unwrap(), b'y');
    let mut ids = vec![s.next()["id"].as_i64().unwrap(), s.next()["id"].as_i64().unwrap()];
    ids.sort();
    assert_eq!(ids, [1, 2]);
    s.wait();
}

#[test]
fn two_processes_on_one_terminal_take_turns() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let fifo = |name: &str| {
        let path = dir.path().join(name);
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a fresh path in our temp dir.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        path
    };
    let (in1, out1, in2, out2) = (fifo("in1"), fifo("out1"), fifo("in2"), fifo("out2"));
    let bin = support::bin().display().to_string();
    let one = |n: u8, input: &std::path::Path, output: &std::path::Path| {
        format!(
            "'{bin}' --name srv{n} --audit-dir '{}' -- '{bin}' demo-server < '{}' > '{}' &",
            dir.path().join("audit").display(),
            input.display(),
            output.display()
        )
    };
    // One shell owns the terminal; both countersign processes are its children.
    let script = format!("{} {} wait", one(1, &in1, &out1), one(2, &in2, &out2));
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).env("COUNTERSIGN_HOME", dir.path().join("home"));
    let pty = support::Pty::attach(&mut cmd);
    let mut shell = cmd.spawn().unwrap();
    let mut pty = pty.spawned();
    let mut peers: Vec<_> = [(&in1, &out1), (&in2, &out2)]
        .iter()
        .map(|(i, o)| {
            let w = std::fs::OpenOptions::new().write(true).open(i).unwrap();
            let r = BufReader::new(std::fs::File::open(o).unwrap());
            (w, r)
        })
        .collect();
    let answer = |peer: &mut (std::fs::File, BufReader<std::fs::File>), id: i64| loop {
        let mut line = String::new();
        assert!(peer.1.read_line(&mut line).unwrap() > 0, "countersign ended");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["id"] == id {
            return v;
        }
    };
    for peer in &mut peers {
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"two","version":"1"}}});
        writeln!(peer.0, "{init}").unwrap();
        writeln!(peer.0, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();
        answer(peer, 0);
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{}}});
        writeln!(peer.0, "{call}").unwrap();
    }
    pty.wait_for("s left", 1);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(pty.text().matches(PROMPT).count(), 1, "the second process must wait its turn:\n{}", pty.text());
    press(&mut pty, b'y');
    pty.wait_for(PROMPT, 2);
    press(&mut pty, b'n');
    let texts: Vec<String> = peers.iter_mut().map(|p| text(&answer(p, 1))).collect();
    assert_eq!(texts.iter().filter(|t| t.starts_with("deleted")).count(), 1, "{texts:?}");
    assert_eq!(texts.iter().filter(|t| t.contains("denied_by_operator")).count(), 1, "{texts:?}");
    drop(peers);
    assert!(shell.wait().unwrap().success());
}

#[test]
fn an_approval_runs_one_call_and_a_retry_with_a_state_the_server_never_issued_is_asked_again() {
    let mut s = interactive().start();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let call = json!({"name": "delete_file", "arguments": {"path": "/a"}, "_meta": meta});
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":call}));
    s.tty.as_ref().unwrap().wait_for("s left", 1);
    press(s.tty.as_mut().unwrap(), b'y');
    assert_eq!(s.answer(1)["result"]["isError"], false);
    // The same payload again, as a retry carrying a state the server never returned:
    // same digest, but an approval authorizes one execution.
    let mut retry = call.clone();
    retry["requestState"] = json!("opaque-state");
    retry["inputResponses"] = json!({"k": {"action": "accept"}});
    s.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":retry}));
    s.tty.as_ref().unwrap().wait_for(PROMPT, 2);
    press(s.tty.as_mut().unwrap(), b'n');
    assert!(text(&s.answer(2)).contains("denied_by_operator"));
    s.wait();
}

#[test]
fn a_key_meant_for_a_withdrawn_prompt_never_answers_the_next() {
    let mut s = interactive().start();
    s.initialize("2025-11-25");
    for id in [1, 2] {
        s.send(
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"delete_file","arguments":{"n":id}}}),
        );
    }
    s.tty.as_ref().unwrap().wait_for("s left", 1);
    std::thread::sleep(GRACE);
    // The client cancels the first call just before the operator's key lands.
    s.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}));
    std::thread::sleep(Duration::from_millis(120));
    s.tty.as_mut().unwrap().press(b'y');
    assert!(s.silent_for(Duration::from_millis(800)), "the key must not approve the call that replaced it");
    s.tty.as_ref().unwrap().wait_for(PROMPT, 2);
    press(s.tty.as_mut().unwrap(), b'n');
    assert!(text(&s.answer(2)).contains("denied_by_operator"));
    s.wait();
    assert!(!s.server_log().contains("delete_file"));
}

#[test]
fn confirm_digest_takes_the_code_and_a_wrong_one_approves_nothing() {
    let w = interactive();
    std::fs::write(w.path("policy.toml"), "[defaults]\nconfirm = \"digest\"\n").unwrap();
    let mut s = w.arg("--policy").arg_path("policy.toml").start();
    s.initialize("2025-11-25");
    let args = json!({"path": "/data"});
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":args}}));
    let screen = s.tty.as_ref().unwrap().wait_for("s left", 1);
    assert!(screen.contains("digits to approve") && !screen.contains("[a] allow"), "{screen}");
    let (_, digest, _) = run(&["digest"], json!({"name": "delete_file", "arguments": args}).to_string().as_bytes());
    let code: Vec<u8> = digest.trim().trim_start_matches("sha256:").bytes().take(4).collect();
    let wrong: Vec<u8> = code.iter().map(|c| if *c == b'0' { b'1' } else { b'0' }).collect();
    press(s.tty.as_mut().unwrap(), b'y');
    for k in &wrong {
        s.tty.as_mut().unwrap().press(*k);
    }
    s.tty.as_ref().unwrap().wait_for("nothing approved, the call still waits", 1);
    assert!(s.silent_for(Duration::from_millis(500)), "neither y nor a wrong code approves");
    for k in &code {
        s.tty.as_mut().unwrap().press(*k);
    }
    assert_eq!(s.answer(1)["result"]["isError"], false);
    s.wait();
    assert_eq!(s.server_log().matches("delete_file").count(), 1);
}
