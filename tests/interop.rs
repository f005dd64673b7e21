//! Interop with parts the project did not write: the official Python SDK client (`mcp`
//! from PyPI), the official TypeScript SDK client and reference servers from npm, all
//! pinned and installed into `.cache/` on first run. The same scripted session runs with and without countersign in between.
#![allow(clippy::unwrap_used)]

use crate::support::{self, peers};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use peers::{peers, root};

use serde_json::{json, Value};

/// Runs the SDK client in `mode` against `server` with `steps`; returns one JSON value per
/// step (after the first line, which names the negotiated revision).
fn drive(mode: &str, server: &[String], steps: Value) -> (String, Vec<Value>) {
    let mut client = Command::new(&peers().python);
    client.arg(root().join("tests/interop/client.py")).arg(mode).arg("--").args(server);
    let mut lines = run_client(client, steps).into_iter();
    let version = lines.next().unwrap()["protocol_version"].as_str().unwrap_or_default().to_owned();
    (version, lines.collect())
}

/// Runs the official TypeScript SDK client (which spawns the server with socket pairs, as
/// every Node.js client does) against `server` with `steps`; one JSON value per step.
fn drive_node(server: &[String], steps: Value) -> Vec<Value> {
    // Node resolves the SDK from the script's own folder: run it from the npm cache.
    let script = peers().node_modules.parent().unwrap().join("client.mjs");
    std::fs::copy(root().join("tests/interop/client.mjs"), &script).unwrap();
    let mut client = Command::new("node");
    client.arg(&script).arg("--").args(server);
    run_client(client, steps).into_iter().skip(1).collect()
}

/// Feeds `steps` to a client script and reads its JSON lines.
fn run_client(mut client: Command, steps: Value) -> Vec<Value> {
    let mut child = client.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(steps.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect()
}

/// `server` behind countersign (headless, auditing into `audit`), as a command line.
fn gated(audit: &Path, extra: &[&str], server: &[String]) -> Vec<String> {
    let mut cmd = vec![support::bin().display().to_string(), "--headless".into(), "--audit-dir".into()];
    cmd.push(audit.display().to_string());
    cmd.extend(extra.iter().map(|s| s.to_string()));
    cmd.push("--".into());
    cmd.extend(server.iter().cloned());
    cmd
}

fn node_server(package: &str, args: &[&str]) -> Vec<String> {
    let entry = peers().node_modules.join(format!("@modelcontextprotocol/{package}/dist/index.js"));
    let mut cmd = vec!["node".to_owned(), entry.display().to_string()];
    cmd.extend(args.iter().map(|s| s.to_string()));
    cmd
}

/// A folder holding `a.txt`, `server-filesystem` serving it, and an audit directory.
struct Files {
    _dir: tempfile::TempDir,
    root: PathBuf,
    server: Vec<String>,
    audit: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("files");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.txt"), "hello from a file").unwrap();
        let server = node_server("server-filesystem", &[root.to_str().unwrap()]);
        let audit = dir.path().join("audit");
        Files { _dir: dir, root, server, audit }
    }
}

fn verify(audit: &Path) {
    let (code, out, _) = support::run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn filesystem_server_legacy_era_through_countersign() {
    let Files { _dir, root: root_dir, server, audit } = Files::new();
    let path = |name: &str| root_dir.join(name).display().to_string();
    let steps = json!([
        {"list": true},
        {"call": "read_text_file", "args": {"path": path("a.txt")}},
        {"call": "write_file", "args": {"path": path("b.txt"), "content": "should not exist"}},
        {"call": "create_directory", "args": {"path": path("sub")}},
    ]);
    let (direct_version, direct) =
        drive("legacy", &server, json!([{"call": "read_text_file", "args": {"path": path("a.txt")}}]));
    let (version, out) = drive("legacy", &gated(&audit, &[], &server), steps);
    assert_eq!(version, direct_version, "countersign must not change the negotiated revision");
    assert_eq!(out[0]["tools"]["write_file"]["destructiveHint"], true);
    assert_eq!(out[1], direct[0], "a read-only call answers the same with and without countersign");
    assert_eq!(out[1]["text"], "hello from a file");
    assert_eq!(out[2]["is_error"], true);
    let denial = out[2]["text"].as_str().unwrap();
    assert!(
        denial.starts_with("countersign denied write_file:") && denial.contains("reason=denied_headless"),
        "{denial}"
    );
    assert!(!root_dir.join("b.txt").exists(), "the denied write ran");
    assert_eq!(out[3]["is_error"], false, "{}", out[3]);
    assert!(root_dir.join("sub").is_dir(), "create_directory is non-destructive and passes");
    verify(&audit);
}

#[test]
fn a_path_rule_allows_writes_under_one_directory_only() {
    let dir = tempfile::tempdir().unwrap();
    let root_dir = dir.path().join("files");
    std::fs::create_dir_all(root_dir.join("scratch")).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[[rules]]\nid = \"scratch-writes\"\ntool = \"write_file\"\naction = \"allow\"\n[rules.args]\n\"/path\" = {{ path = \"{}/scratch/**\" }}\n",
            root_dir.display()
        ),
    )
    .unwrap();
    let server = node_server("server-filesystem", &[root_dir.to_str().unwrap()]);
    let audit = dir.path().join("audit");
    let path = |name: &str| root_dir.join(name).display().to_string();
    let steps = json!([
        {"call": "write_file", "args": {"path": path("scratch/ok.txt"), "content": "allowed"}},
        {"call": "write_file", "args": {"path": path("scratch/../escape.txt"), "content": "no"}},
        {"call": "write_file", "args": {"path": path("other.txt"), "content": "no"}},
    ]);
    let (_, out) = drive("legacy", &gated(&audit, &["--policy", policy.to_str().unwrap()], &server), steps);
    assert_eq!(out[0]["is_error"], false, "{}", out[0]);
    assert_eq!(std::fs::read_to_string(root_dir.join("scratch/ok.txt")).unwrap(), "allowed");
    for denied in &out[1..] {
        assert!(denied["text"].as_str().unwrap().contains("denied_headless"), "{denied}");
    }
    assert!(!root_dir.join("escape.txt").exists() && !root_dir.join("other.txt").exists());
    let records = support::audit_records(&audit);
    let allowed = records.iter().find(|r| r["event"] == "decision" && r["decision"] == "allow").unwrap();
    assert_eq!(allowed["rule"], "scratch-writes");
}

#[test]
fn everything_server_answers_the_same_through_countersign() {
    let dir = tempfile::tempdir().unwrap();
    let server = node_server("server-everything", &["stdio"]);
    let steps = json!([
        {"call": "echo", "args": {"message": "héllo \u{1b}[2J"}},
        {"call": "get-sum", "args": {"a": 2, "b": 40}},
    ]);
    let (v1, direct) = drive("legacy", &server, steps.clone());
    let (v2, through) = drive("legacy", &gated(&dir.path().join("audit"), &[], &server), steps);
    assert_eq!(v1, v2);
    assert_eq!(direct, through);
    assert!(through[1]["text"].as_str().unwrap().contains("42"), "{}", through[1]);
    verify(&dir.path().join("audit"));
}

/// Node.js clients (Claude Desktop, VS Code, Cursor) give countersign socket pairs, not
/// pipes, for stdin and stdout.
#[test]
fn the_typescript_sdk_client_over_socket_pairs() {
    let Files { _dir, root: root_dir, server, audit } = Files::new();
    let path = |name: &str| root_dir.join(name).display().to_string();
    let read = json!({"call": "read_text_file", "args": {"path": path("a.txt")}});
    let direct = drive_node(&server, json!([read]));
    let steps = json!([
        {"list": true},
        read,
        {"call": "write_file", "args": {"path": path("b.txt"), "content": "should not exist"}},
    ]);
    let out = drive_node(&gated(&audit, &[], &server), steps);
    assert_eq!(out[0]["tools"]["read_text_file"]["readOnlyHint"], true, "{}", out[0]);
    assert_eq!(out[1], direct[0], "a read-only call answers the same with and without countersign");
    assert_eq!(out[1]["text"], "hello from a file");
    assert_eq!(out[2]["is_error"], true);
    assert!(out[2]["text"].as_str().unwrap().contains("reason=denied_headless"), "{}", out[2]);
    assert!(!root_dir.join("b.txt").exists(), "the denied write ran");
    verify(&audit);
}

#[test]
fn python_sdk_server_in_the_2026_07_28_era() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        vec![peers().python.display().to_string(), root().join("tests/interop/server_2026.py").display().to_string()];
    let audit = dir.path().join("audit");
    // No tools/list from the client: countersign must learn the tools itself.
    let steps = json!([
        {"call": "read_note", "args": {"key": "a"}},
        {"call": "write_note", "args": {"key": "a", "value": "b"}},
        {"call": "delete_all", "args": {}},
        {"call": "plain", "args": {"x": 1}},
        {"list": true},
    ]);
    let (version, out) = drive("2026-07-28", &gated(&audit, &[], &server), steps.clone());
    assert_eq!(version, "2026-07-28");
    assert_eq!(out[0], json!({"is_error": false, "text": "note a = hello"}));
    assert_eq!(out[1], json!({"is_error": false, "text": "wrote a=b"}));
    for denied in [&out[2], &out[3]] {
        assert_eq!(denied["is_error"], true);
        assert!(denied["text"].as_str().unwrap().contains("reason=denied_headless"), "{denied}");
    }
    assert_eq!(out[4]["tools"].as_object().unwrap().len(), 4);
    let records = support::audit_records(&audit);
    let client = records.iter().find(|r| r["event"] == "client").expect("the 2026 client's identity is audited");
    assert_eq!(client["protocol"], "2026-07-28");
    verify(&audit);

    // The auto mode discovers first; countersign passes server/discover through untouched.
    let (version, out) =
        drive("auto", &gated(&audit, &[], &server), json!([{"call": "read_note", "args": {"key": "z"}}]));
    assert_eq!(version, "2026-07-28");
    assert_eq!(out[0]["is_error"], false);
}
