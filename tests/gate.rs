//! The gate through the real binary: classes, policy, self-listing, re-learning,
//! cancellation while held.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::{run, text, Wrap};

#[test]
fn classes_decide_by_default_headless() {
    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-11-25");
    s.request(1, "tools/list", json!({}));
    assert_eq!(s.call(2, "read_file", json!({"path": "/a"}))["result"]["isError"], false);
    assert_eq!(s.call(3, "write_note", json!({"text": "hi"}))["result"]["isError"], false);
    let d = s.call(4, "delete_file", json!({"path": "/a"}));
    assert!(text(&d).starts_with("countersign denied delete_file: "), "{d}");
    assert!(text(&d).contains("reason=denied_headless digest=sha256:"), "{d}");
    let p = s.call(5, "plain", json!({}));
    assert!(text(&p).contains("denied_headless"), "an unannotated tool is destructive: {p}");
    let u = s.call(6, "never_listed", json!({}));
    assert!(text(&u).contains("denied_headless"), "{u}");
    assert!(u.get("error").is_none(), "a denial is a tool result, never a JSON-RPC error");
    s.wait();
    let log = s.server_log();
    assert!(!log.contains("delete_file") && !log.contains("\"plain\"") && !log.contains("never_listed"), "{log}");
    let records = s.audit_records();
    let decisions: Vec<_> = records.iter().filter(|r| r["event"] == "decision").collect();
    assert_eq!(decisions.len(), 5);
    let unknown = decisions.iter().find(|r| r["tool"] == "never_listed").unwrap();
    assert_eq!((unknown["class"].as_str(), unknown["by"].as_str()), (Some("unknown"), Some("headless")));
}

#[test]
fn the_denial_digest_is_the_digest_command() {
    let mut s = Wrap::fake().start();
    s.initialize("2025-11-25");
    let args = json!({"path": "/tmp/x", "n": 1.50, "nested": {"b": [true, null], "a": "é"}});
    let d = s.call(1, "delete_file", args.clone());
    s.wait();
    let payload = json!({"name": "delete_file", "arguments": args}).to_string();
    let (code, out, _) = run(&["digest"], payload.as_bytes());
    assert_eq!(code, 0);
    assert!(text(&d).ends_with(&format!("digest={}", out.trim())), "{d} vs {out}");
}

#[test]
fn a_2026_client_may_call_without_listing() {
    let mut s = Wrap::fake().logged().server_arg("--paginate").start();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "itest-2026", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let r = s.request(1, "tools/call", json!({"name": "read_file", "arguments": {}, "_meta": meta}));
    assert_eq!(r["result"]["isError"], false, "{r}");
    let d = s.request(2, "tools/call", json!({"name": "delete_file", "arguments": {}, "_meta": meta}));
    assert!(text(&d).contains("denied_headless"), "{d}");
    assert_eq!(d["result"]["resultType"], "complete", "2026-07-28 results say their type");
    s.close_stdin();
    s.wait();
    // countersign listed every page itself, with the client's revision, and never
    // initialized or discovered on its own.
    let log = s.server_log();
    let lists: Vec<&str> = log.lines().filter(|l| l.contains("tools/list")).collect();
    assert_eq!(lists.len(), 8, "{log}");
    assert!(lists.iter().all(|l| l.contains("2026-07-28") && l.contains("\"countersign-")), "{log}");
    assert!(!log.contains("initialize") && !log.contains("server/discover"));
    // The client named itself on every request, but its identity is recorded once.
    let clients: Vec<_> = s.audit_records().into_iter().filter(|r| r["event"] == "client").collect();
    assert_eq!(clients.len(), 1, "{clients:?}");
    assert_eq!(clients[0]["client"]["name"], "itest-2026");
    assert!(lists.iter().all(|l| l.contains("itest-2026") && l.contains("clientCapabilities")), "{log}");
}

#[test]
fn a_legacy_client_that_never_lists_gets_its_tools_learned_after_the_handshake() {
    let mut s = Wrap::fake().logged().start();
    s.initialize("2024-11-05");
    let r = s.call(1, "read_file", json!({}));
    assert_eq!(r["result"]["isError"], false, "{r}");
    s.wait();
    assert!(s.server_log().contains("\"method\":\"tools/list\""));
}

#[test]
fn list_changed_makes_the_gate_learn_again() {
    let mut s = Wrap::fake().logged().server_arg("--list-changed").start();
    s.initialize("2025-11-25");
    s.request(1, "tools/list", json!({}));
    assert_eq!(s.call(2, "read_file", json!({}))["result"]["isError"], false);
    // The server now says read_file is destructive, and notified the client: its
    // definition differs from the pin taken at the first listing (PRODUCT.md 7a).
    let again = s.call(3, "read_file", json!({}));
    assert!(text(&again).contains("reason=tool_changed"), "{again}");
    s.wait();
}

#[test]
fn policy_rules_first_match_wins_with_path_matching() {
    let w = Wrap::fake().logged();
    let policy = w.path("policy.toml");
    std::fs::write(
        &policy,
        r#"
[defaults]
write = "deny"

[[rules]]
id = "scratch-deletes"
tool = "delete_*"
action = "allow"
[rules.args]
"/path" = { path = "/scratch/**" }

[[rules]]
id = "no-echo-secrets"
tool = "echo"
action = "deny"
[rules.args]
"/text" = { regex = ".*secret.*" }
"#,
    )
    .unwrap();
    let mut s = w.arg("--policy").arg(policy.to_str().unwrap()).start();
    s.initialize("2025-11-25");
    let ok = s.call(1, "delete_file", json!({"path": "/scratch/a/b.txt"}));
    assert_eq!(ok["result"]["isError"], false, "{ok}");
    let out = s.call(2, "delete_file", json!({"path": "/scratch/../etc/passwd"}));
    assert!(text(&out).contains("denied_headless"), "{out}");
    let rel = s.call(3, "delete_file", json!({"path": "scratch/x"}));
    assert!(text(&rel).contains("denied_headless"), "{rel}");
    let w = s.call(4, "write_note", json!({}));
    assert!(text(&w).contains("reason=denied_by_rule"), "{w}");
    assert!(text(&w).contains("defaults.write"), "{w}");
    let e = s.call(5, "echo", json!({"text": "my secret"}));
    assert!(text(&e).contains("policy no-echo-secrets denies"), "{e}");
    assert_eq!(s.call(6, "echo", json!({"text": "hello"}))["result"]["isError"], false);
    s.wait();
    let log = s.server_log();
    assert!(log.contains("/scratch/a/b.txt") && !log.contains("passwd") && !log.contains("my secret"));
    let allowed = s.audit_records().into_iter().find(|r| r["event"] == "decision" && r["request_id"] == "1").unwrap();
    assert_eq!(allowed["rule"], "scratch-deletes");
    assert_eq!(allowed["by"], "policy");
}

#[test]
fn a_call_cancelled_while_held_is_never_forwarded_nor_answered() {
    let mut s = Wrap::fake().logged().server_arg("--slow-list").server_arg("1500").start();
    s.initialize("2025-11-25");
    // The gate must list tools first (slowly): the call is held meanwhile.
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{}}}));
    std::thread::sleep(Duration::from_millis(200));
    // The relay keeps flowing while a call is held.
    s.send(json!({"jsonrpc":"2.0","id":2,"method":"ping"}));
    s.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"user"}}));
    std::thread::sleep(Duration::from_millis(2500));
    s.send(json!({"jsonrpc":"2.0","id":3,"method":"ping"}));
    let mut ids = vec![];
    while ids.len() < 2 {
        let v = s.next();
        ids.push(v["id"].as_i64().unwrap());
    }
    assert_eq!(ids, [2, 3], "no answer for the cancelled call");
    s.wait();
    let log = s.server_log();
    assert!(!log.contains("read_file"), "{log}");
    assert!(!log.contains("notifications/cancelled"), "the server never saw the call: {log}");
    let cancelled = s.audit_records().into_iter().find(|r| r["event"] == "decision").unwrap();
    assert_eq!(cancelled["reason"], "cancelled");
}

#[test]
fn headless_comes_from_the_environment_too() {
    // Without --headless and without a terminal, nobody can be asked: still denied.
    let server = support::fake_server();
    let w = Wrap::command(&server.iter().map(String::as_str).collect::<Vec<_>>());
    let mut s = w.env("COUNTERSIGN_HEADLESS", "1").start();
    s.initialize("2025-11-25");
    assert!(text(&s.call(1, "delete_file", json!({}))).contains("denied_headless"));
    s.wait();
}

#[test]
fn policy_check_prints_rules_and_names_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[rules]]\nid = \"r1\"\ntool = \"refund\"\naction = \"allow\"\n[rules.args]\n\"/amount_cents\" = { lt = 50000 }\n").unwrap();
    let (code, out, _) = run(&["policy", "check", good.to_str().unwrap()], b"");
    assert_eq!(code, 0);
    assert!(out.contains("r1 -> allow") && out.contains("lt 50000"), "{out}");
    assert!(out.contains("[pinning]\n  mode         ask"), "the pinning mode is part of the policy: {out}");
    let hide = dir.path().join("hide.toml");
    std::fs::write(&hide, "[pinning]\nmode = \"hide\"\n").unwrap();
    let (code, out, _) = run(&["policy", "check", hide.to_str().unwrap()], b"");
    assert_eq!(code, 0);
    assert!(out.contains("  mode         hide"), "{out}");
    // No file named and none at the default place: says where it looked.
    let check = |policy: Option<&std::path::Path>| {
        let mut cmd = std::process::Command::new(support::bin());
        cmd.args(["policy", "check"]).env("XDG_CONFIG_HOME", dir.path().join("config"));
        match policy {
            Some(path) => cmd.env("COUNTERSIGN_POLICY", path),
            None => cmd.env_remove("COUNTERSIGN_POLICY"),
        };
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let expected =
        format!("no policy file at {}: built-in defaults", dir.path().join("config/countersign/policy.toml").display());
    let out = check(None);
    assert!(out.starts_with(&expected), "{out}");
    // The file the wrapper would use: COUNTERSIGN_POLICY, as for the wrapper.
    let out = check(Some(&hide));
    assert!(
        out.starts_with(&format!("policy {} is valid", hide.display())) && out.contains("mode         hide"),
        "{out}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rules]]\nid = \"r1\"\ntool = \"re[fund\"\naction = \"allow\"\n").unwrap();
    let (code, _, err) = run(&["policy", "check", bad.to_str().unwrap()], b"");
    assert_eq!(code, 125);
    assert!(err.contains("bad.toml:3:8"), "{err}");
}

#[test]
fn a_denied_task_augmented_call_gets_a_failed_task_that_answers_for_itself() {
    let mut s = Wrap::fake().logged().start();
    s.initialize("2025-11-25");
    let r = s.request(1, "tools/call", json!({"name": "delete_file", "arguments": {}, "task": {"ttl": 60000}}));
    let task = &r["result"]["task"];
    assert_eq!(task["status"], "failed", "{r}");
    let task_id = task["taskId"].as_str().unwrap().to_owned();
    assert!(task["statusMessage"].as_str().unwrap().contains("denied_headless"));
    let got = s.request(2, "tasks/get", json!({"taskId": task_id}));
    assert_eq!(got["result"]["status"], "failed");
    let result = s.request(3, "tasks/result", json!({"taskId": task_id}));
    assert_eq!(result["result"]["isError"], true);
    assert!(text(&result).contains("reason=denied_headless"));
    // Someone else's task ids still go to the server.
    let other = s.request(4, "tasks/get", json!({"taskId": "abc"}));
    assert_eq!(other["error"]["code"], -32601, "the demo server has no tasks: {other}");
    s.wait();
    let log = s.server_log();
    assert!(!log.contains("delete_file") && !log.contains(&task_id), "{log}");
}

#[test]
fn a_2026_multi_round_trip_retry_is_gated_again() {
    let mut s = Wrap::fake().logged().start();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    let retry = json!({"name": "delete_file", "arguments": {}, "_meta": meta,
        "inputResponses": {"confirm": {"action": "accept", "content": {"ok": true}}}, "requestState": "opaque"});
    let r = s.request(1, "tools/call", retry);
    assert!(text(&r).contains("reason=denied_headless"), "{r}");
    s.wait();
    assert!(!s.server_log().contains("delete_file"));
}
