//! The relay through the real binary: framing, strictness, batches, lifecycle, exit codes.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{run, text, Wrap};

#[test]
fn messages_pass_unchanged_and_in_order() {
    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-11-25");
    // Odd spacing and key order must reach the server byte for byte.
    let odd = br#"{ "id" : 5 , "method":"ping","jsonrpc":"2.0" }"#;
    s.send_raw(odd);
    assert_eq!(s.next()["id"], 5);
    s.send(json!({"jsonrpc":"2.0","method":"notifications/whatever","params":{"_meta":{"x.y/z":1}}}));
    let r = s.request(6, "tools/list", json!({}));
    assert_eq!(r["result"]["tools"].as_array().unwrap().len(), 8);
    s.wait();
    let log = s.server_log();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.contains(&std::str::from_utf8(odd).unwrap()), "{log}");
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
    assert!(at("notifications/initialized") < at("\"ping\""));
    assert!(at("notifications/whatever") < at("tools/list"));
}

#[test]
fn stdout_carries_only_protocol_messages() {
    let mut s = Wrap::fake().logged().server_arg("--garbage").start();
    s.initialize("2025-11-25");
    let r = s.call(1, "read_file", json!({"path": "/a"}));
    assert_eq!(r["result"]["isError"], false);
    s.close_stdin();
    let status = s.wait();
    assert!(status.success());
    let err = s.stderr_text();
    assert!(err.contains("dropped a line from the server"), "{err}");
    let rejected = s.audit_records().into_iter().filter(|r| r["event"] == "rejected").count();
    assert!(rejected >= 2, "every dropped line is recorded");
}

#[test]
fn escaped_method_names_are_gated() {
    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-11-25");
    s.send_raw(br#"{"jsonrpc":"2.0","id":7,"method":"tools\/c\u0061ll","params":{"n\u0061me":"delete_file","arguments":{"path":"/etc"}}}"#);
    let r = s.answer(7);
    assert!(text(&r).contains("reason=denied_headless"), "{r}");
    s.wait();
    assert!(!s.server_log().contains("\"id\":7"), "the escaped call reached the server");
}

#[test]
fn ambiguous_and_malformed_requests_never_reach_the_server() {
    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-11-25");
    let cases: Vec<(i64, Vec<u8>, &str)> = vec![
        (10, br#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"read_file","name":"delete_file"}}"#.to_vec(), "ambiguous_payload"),
        (11, br#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"read_file","arguments":{"p":"\ud800"}}}"#.to_vec(), "ambiguous_payload"),
        (12, br#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"read_file","arguments":{"n":9007199254740993}}}"#.to_vec(), "ambiguous_payload"),
        (13, br#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"read_file","arguments":{"a":{"b":1,"b":2}}}}"#.to_vec(), "ambiguous_payload"),
    ];
    for (id, bytes, reason) in &cases {
        s.send_raw(bytes);
        let r = s.answer(*id);
        assert!(text(&r).contains(reason), "{id}: {r}");
        assert_eq!(r["result"]["isError"], true);
    }
    // Not JSON, invalid UTF-8, no jsonrpc, wrong jsonrpc: JSON-RPC errors.
    s.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"tools/call\",\"params\":{\"name\":\"read_\xff\"}}");
    assert_eq!(s.next()["error"]["code"], -32700);
    s.send_raw(b"hello");
    assert_eq!(s.next()["error"]["code"], -32700);
    s.send_raw(br#"{"id":21,"method":"tools/call","params":{"name":"read_file"}}"#);
    let r = s.next();
    assert_eq!((r["id"].clone(), r["error"]["code"].clone()), (json!(21), json!(-32600)));
    s.send_raw(br#"{"jsonrpc":"1.0","id":22,"method":"ping"}"#);
    assert_eq!(s.next()["error"]["code"], -32600);
    s.send_raw(br#"{"jsonrpc":"2.0","id":23,"method":"ping","method":"tools/call"}"#);
    let r = s.next();
    assert_eq!((r["id"].clone(), r["error"]["code"].clone()), (json!(23), json!(-32600)));
    s.wait();
    let log = s.server_log();
    for id in [10, 11, 12, 13, 20, 21, 22, 23] {
        assert!(!log.contains(&format!("\"id\":{id}")), "id {id} reached the server:\n{log}");
    }
    // An ambiguous call leaves the same decision record as any other, minus what is unclear.
    let records = s.audit_records();
    let refused = records.iter().find(|r| r["event"] == "decision" && r["request_id"] == "10").unwrap();
    assert_eq!((refused["decision"].as_str(), refused["reason"].as_str()), (Some("deny"), Some("ambiguous_payload")));
    assert!(refused["digest"].is_null() && refused["args"].is_null() && refused["detail"].is_string(), "{refused}");
    assert_eq!(refused["task"], false);
}

#[test]
fn batches_are_unbatched_on_2025_03_26_only() {
    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-03-26");
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{}}},
        {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/"}}},
        {"jsonrpc":"2.0","id":3,"method":"ping"}
    ]);
    s.send(batch);
    let answer = s.next();
    let items = answer.as_array().unwrap_or_else(|| panic!("one array answers the batch: {answer}"));
    let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    for id in [1, 2, 3] {
        assert!(ids.contains(&id), "{answer}");
    }
    let denied = items.iter().find(|i| i["id"] == 2).unwrap();
    assert!(text(denied).contains("denied_headless"));
    s.wait();
    let log = s.server_log();
    assert!(!log.contains("delete_file"), "{log}");
    assert!(log.lines().all(|l| !l.starts_with('[')), "the server got an array:\n{log}");
    assert!(log.contains(r#"{"id":3,"jsonrpc":"2.0","method":"ping"}"#), "{log}");

    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-06-18");
    s.send_raw(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#);
    let r = s.next();
    assert_eq!(r["error"]["code"], -32600, "{r}");
    s.wait();
    assert!(!s.server_log().contains("ping"));
}

#[test]
fn a_huge_message_passes_both_ways() {
    let mut s = Wrap::fake().start();
    s.initialize("2025-11-25");
    let size = 100 << 20;
    let payload = "y".repeat(size);
    let started = Instant::now();
    let r = s.call(1, "echo", json!({ "blob": payload }));
    assert!(text(&r).len() > size, "answer has {} bytes", text(&r).len());
    let r = s.call(2, "big", json!({ "size": size }));
    assert_eq!(text(&r).len(), size);
    eprintln!("two 100 MiB round trips in {:?}", started.elapsed());
    assert!(s.wait().success());
}

/// Node.js clients (Claude Desktop, VS Code, Cursor, the npm SDK) spawn servers with
/// socket pairs for stdin and stdout, not pipes.
#[test]
fn socket_stdio_from_node_clients_works_like_pipes() {
    let mut s = Wrap::fake().over_sockets().logged().start();
    s.initialize("2025-11-25");
    assert_eq!(s.request(1, "tools/list", json!({}))["result"]["tools"].as_array().unwrap().len(), 8);
    assert!(text(&s.call(2, "read_file", json!({"path": "/etc/hostname"}))).contains("/etc/hostname"));
    let denied = s.call(3, "delete_file", json!({"path": "/tmp/x"}));
    assert!(text(&denied).contains("reason=denied_headless"), "{denied}");
    let size = 8 << 20;
    assert_eq!(text(&s.call(4, "big", json!({ "size": size }))).len(), size);
    // Closing our end is the client's EOF: the server is stopped and its status returned.
    assert!(s.wait().success());
    assert!(!s.server_log().contains("delete_file"));
}

#[test]
fn a_slow_reader_gets_back_pressure_not_unbounded_memory() {
    let mut s = Wrap::fake().server_arg("--flood").server_arg("300000").start();
    // Do not read for a while: the server's notifications pile up in pipes, not in memory.
    std::thread::sleep(Duration::from_secs(2));
    let rss = support::rss_kib(s.child.id());
    assert!(rss < 64 * 1024, "countersign holds {rss} KiB while its reader is stalled");
    let mut n = 0;
    while n < 300_000 {
        let v = s.next();
        assert_eq!(v["method"], "notifications/message");
        n += 1;
    }
    assert!(s.wait().success());
}

#[test]
fn a_crash_mid_call_answers_every_request_in_flight() {
    let mut s = Wrap::fake().start();
    s.initialize("2025-11-25");
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"test/hang"}));
    s.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"crash","arguments":{}}}));
    assert_eq!(s.server_gone_errors(2), [1, 2]);
    let status = s.wait();
    assert_eq!(status.code(), Some(3), "the server's own exit code");
    let last = s.audit_records().pop().unwrap();
    assert_eq!(last["event"], "session_end");
    assert_eq!(last["exit_status"], 3);
}

#[test]
fn client_eof_closes_the_server_and_returns_its_status() {
    let mut s = Wrap::fake().server_arg("--exit-code").server_arg("7").start();
    s.initialize("2025-11-25");
    assert_eq!(s.wait().code(), Some(7));
}

#[test]
fn a_server_that_ignores_sigterm_is_killed() {
    let mut s = Wrap::fake().server_arg("--ignore-term").server_arg("--no-read").start();
    let started = Instant::now();
    let status = s.wait();
    let took = started.elapsed();
    assert_eq!(status.code(), Some(128 + 9), "SIGKILL gives 137");
    assert!(took >= Duration::from_millis(3500) && took < Duration::from_secs(10), "ladder took {took:?}");
}

#[test]
fn signals_are_passed_to_the_server() {
    let mut s = Wrap::fake().start();
    s.initialize("2025-11-25");
    s.signal(libc::SIGTERM);
    let status = s.wait_open();
    assert_eq!(status.code(), Some(128 + 15));
}

#[test]
fn own_failures_have_documented_exit_codes() {
    let (code, _, err) = run(&["--", "/nonexistent/server"], b"");
    assert_eq!(code, 127, "{err}");
    let (code, _, err) = run(&["--", "/etc"], b"");
    assert_eq!(code, 126, "{err}");
    let (code, _, err) = run(&["--no-such-flag", "--", "true"], b"");
    assert_eq!(code, 125, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("p.toml");
    std::fs::write(&bad, "[defaults]\nwrite = \"sometimes\"\n").unwrap();
    let (code, out, err) = run(&["--policy", bad.to_str().unwrap(), "--", "true"], b"");
    assert_eq!(code, 125);
    assert!(out.is_empty());
    assert!(err.contains("p.toml:2:"), "{err}");
    let (code, _, _) = run(&["--"], b"");
    assert_eq!(code, 125);
}

#[test]
fn an_oversized_line_is_refused_whole() {
    // The relay's limit is 128 MiB; a request just over it is answered, not forwarded.
    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-11-25");
    let blob = "z".repeat((128 << 20) + 10);
    s.send_raw(format!(r#"{{"jsonrpc":"2.0","id":9,"method":"ping","params":{{"b":"{blob}"}}}}"#).as_bytes());
    let r = s.next();
    assert_eq!(r["error"]["code"], -32600, "{}", r.to_string().chars().take(200).collect::<String>());
    let r: Value = s.request(10, "ping", json!({}));
    assert_eq!(r["id"], 10);
    s.wait();
    assert!(!s.server_log().contains("\"id\":9"));
}

#[test]
fn sigint_and_sighup_are_passed_to_the_server_too() {
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGHUP, 129)] {
        let mut s = Wrap::fake().start();
        s.initialize("2025-11-25");
        s.signal(sig);
        assert_eq!(s.wait_open().code(), Some(code), "signal {sig}");
    }
}

/// Issue: started with SIGINT and SIGHUP ignored (a background job of a non-interactive
/// shell, as CI runners and `nohup` start commands), countersign passed the signal on to
/// a server that had inherited the ignored disposition, and nothing ever exited. The
/// server starts with them at their default action.
#[test]
fn signals_pass_on_even_when_countersign_was_started_with_them_ignored() {
    use std::io::{BufRead, BufReader, Write};
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGHUP, 129), (libc::SIGTERM, 143)] {
        let dir = tempfile::tempdir().unwrap();
        let bin = support::bin();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' INT HUP TERM; exec \"$0\" \"$@\""])
            .arg(&bin)
            .args(["--headless", "--audit-dir"])
            .arg(dir.path().join("audit"))
            .arg("--")
            .arg(&bin)
            .arg("demo-server")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{init}").unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("\"id\":0"), "{line}");
        let sent = std::process::Command::new("kill").arg(format!("-{sig}")).arg(child.id().to_string()).status();
        assert!(sent.unwrap().success());
        let until = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < until, "signal {sig}: no exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(code), "signal {sig}");
        drop(stdin);
    }
}

#[test]
fn the_server_stderr_is_ours() {
    let mut s = Wrap::fake().server_arg("--stderr").server_arg("demo server says hello on stderr").start();
    s.initialize("2025-11-25");
    s.wait();
    assert!(s.stderr_text().contains("demo server says hello on stderr"));
}

/// When countersign's stderr is a pipe or a file (clients keep it in their logs), the
/// server's stderr passes byte for byte: escapes, invalid UTF-8, a last line without an
/// end. Made inert only for a terminal (tests/operator.rs).
#[test]
fn server_stderr_passes_unchanged_to_a_pipe() {
    let script = r#"printf 'esc \033[2J bad \377 end' >&2; exec "$0" demo-server"#;
    let bin = support::bin().display().to_string();
    let mut s = Wrap::command(&["sh", "-c", script, &bin]).start();
    s.initialize("2025-11-25");
    s.wait();
    let err = s.stderr_text();
    assert!(err.contains("esc \u{1b}[2J bad \u{fffd} end"), "{err:?}");
}

#[test]
fn server_requests_and_their_answers_pass_unchanged_even_with_a_clashing_id() {
    let w = Wrap::fake().logged();
    let policy = w.path("policy.toml");
    std::fs::write(&policy, "[[rules]]\nid = \"ask\"\ntool = \"ask_client\"\naction = \"allow\"\n").unwrap();
    let mut s = w.arg("--policy").arg(policy.to_str().unwrap()).start();
    s.initialize("2025-11-25");
    // Client request 1 is in flight while the server asks the client with its own id 1.
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask_client","arguments":{}}}));
    let ask = s.next();
    assert_eq!(ask["method"], "sampling/createMessage", "{ask}");
    assert_eq!(ask["id"], 1);
    let reply =
        r#"{"jsonrpc":"2.0","id":1,"result":{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"}}"#;
    s.send_raw(reply.as_bytes());
    let r = s.answer(1);
    assert_eq!(text(&r), format!("client said {reply}"), "the client's answer reached the server byte for byte");
    assert_eq!(r["result"]["isError"], false);
    s.wait();
    assert!(s.server_log().contains(reply));
}
