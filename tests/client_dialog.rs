//! The client's own dialog (PRODUCT.md section 6, step 3) with the official Python SDK
//! client, started as a user starts it (its default environment, the server in a new
//! session) from a terminal a full-screen program holds in raw mode, so that no terminal
//! can be asked: the held call is asked in the client's elicitation dialog.
#![allow(clippy::unwrap_used)]

use crate::support::{self, peers, Pty};

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Runs the Python SDK client with `policy` as the user's policy and `elicit` as its
/// dialog's answer (`None`: a client without elicitation); one JSON value per step.
fn drive(policy: &str, elicit: Option<Value>, steps: Value) -> (Vec<Value>, String, Vec<Value>) {
    drive_as("legacy", policy, elicit, steps, r#""$CS" demo-server --log "$LOG""#)
}

/// [`drive`] in `mode`, in front of `server` (a shell word list; `$CS`, `$PY` and `$LOG`
/// are set).
fn drive_as(
    mode: &str,
    policy: &str,
    elicit: Option<Value>,
    steps: Value,
    server: &str,
) -> (Vec<Value>, String, Vec<Value>) {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let config = home.path().join(".config/countersign");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("policy.toml"), policy).unwrap();
    let log = home.path().join("server.log");
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/client.py");
    let script = format!(r#"stty raw -echo < /dev/tty; exec "$PY" "$CLIENT" {mode} -- "$CS" -- {server}"#);
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).env_clear();
    let python = peers::peers().python.clone();
    let bin = support::bin();
    for (k, v) in [
        ("HOME", home.path().as_os_str()),
        ("PATH", &std::env::var_os("PATH").unwrap()),
        ("TERM", "xterm".as_ref()),
        ("PY", python.as_os_str()),
        ("CLIENT", client.as_os_str()),
        ("CS", bin.as_os_str()),
        ("LOG", log.as_os_str()),
    ] {
        cmd.env(k, v);
    }
    if let Some(answer) = &elicit {
        cmd.env("ELICIT", answer.to_string());
    }
    let pty = Pty::attach(&mut cmd);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let _pty = pty.spawned();
    child.stdin.take().unwrap().write_all(steps.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let steps = stdout.lines().skip(1).map(|l| serde_json::from_str(l.trim()).unwrap()).collect();
    let audit = support::audit_records(&home.path().join(".local/state/countersign/audit"));
    (steps, std::fs::read_to_string(&log).unwrap_or_default(), audit)
}

const IN_CLIENT: &str = "[approvals]\napprove_in_client = true\nweb = false\n";

fn call(path: &str) -> Value {
    json!({"call": "delete_file", "args": {"path": path}})
}

#[test]
fn the_python_sdk_clients_dialog_approves_the_held_call() {
    let accept = json!({"action": "accept", "content": {"decision": "approve"}});
    let (out, log, audit) = drive(IN_CLIENT, Some(accept), json!([{"list": true}, call("/srv/a")]));
    let ran = &out[1];
    assert_eq!(ran["is_error"], false, "{ran}");
    assert!(ran["text"].as_str().unwrap().starts_with("deleted"), "{ran}");
    let shown = ran["elicited"][0]["message"].as_str().unwrap();
    assert!(
        shown.contains("Tool: delete_file") && shown.contains("/srv/a") && shown.contains("Digest: sha256:"),
        "{shown}"
    );
    assert_eq!(ran["elicited"][0]["schema"]["properties"]["decision"]["enum"], json!(["approve", "deny"]));
    // The server saw the call, and nothing of the dialog.
    assert_eq!(log.matches("\"delete_file\"").count(), 1, "{log}");
    assert!(!log.contains("countersign-dialog") && !log.contains("\"action\""), "{log}");
    let decision = audit.iter().find(|r| r["event"] == "decision" && r["tool"] == "delete_file").unwrap();
    assert_eq!(decision["reason"], "approved_by_operator");
    assert!(decision["by"].as_str().unwrap().ends_with("@client"), "{decision}");
}

#[test]
fn a_decline_in_the_clients_dialog_denies_and_a_bare_accept_approves_nothing() {
    let (out, log, _) = drive(IN_CLIENT, Some(json!({"action": "decline"})), json!([call("/x")]));
    let t = out[0]["text"].as_str().unwrap();
    assert!(t.contains("reason=denied_by_operator"), "{t}");
    // A client (or a hook) that accepts every dialog without filling it in: no approval;
    // with the page off, the call is kept as pending.
    let (out, log2, _) = drive(IN_CLIENT, Some(json!({"action": "accept", "content": {}})), json!([call("/y")]));
    let t = out[0]["text"].as_str().unwrap();
    assert!(t.contains("reason=approval_pending"), "{t}");
    assert!(!log.contains("\"delete_file\"") && !log2.contains("\"delete_file\""));
}

#[test]
fn no_dialog_unless_the_policy_opts_in_or_for_a_client_without_elicitation() {
    let accept = json!({"action": "accept", "content": {"decision": "approve"}});
    // The policy does not opt in: the client's dialog is never used.
    let (out, log, _) = drive("[approvals]\nweb = false\n", Some(accept), json!([call("/x")]));
    assert_eq!(out[0]["elicited"], json!([]), "{}", out[0]);
    assert!(out[0]["text"].as_str().unwrap().contains("reason=approval_pending"), "{}", out[0]);
    // A client that declares no elicitation never gets a dialog (it would fail it).
    let (out, _, _) = drive(IN_CLIENT, None, json!([call("/y")]));
    assert!(out[0]["text"].as_str().unwrap().contains("reason=approval_pending"), "{}", out[0]);
    assert!(!log.contains("\"delete_file\""));
}

/// The 2026-07-28 client against the official SDK's own 2026 server: the dialog comes as
/// countersign's `input_required` result, the SDK retries with the answer, and the server
/// runs the call without ever seeing countersign's state or answer (it would refuse a
/// `requestState` it did not issue).
#[test]
fn on_2026_07_28_the_dialog_is_an_input_required_result_and_its_retry_runs_once() {
    let server = format!(r#""$PY" "{}""#, peers::root().join("tests/interop/server_2026.py").display());
    let accept = json!({"action": "accept", "content": {"decision": "approve"}});
    let call = json!({"call": "delete_all", "args": {}});
    let (out, _, audit) = drive_as("2026-07-28", IN_CLIENT, Some(accept), json!([call, call]), &server);
    for ran in &out {
        assert_eq!(ran["is_error"], false, "{ran}");
        assert_eq!(ran["text"], "deleted everything", "{ran}");
        let shown = ran["elicited"][0]["message"].as_str().unwrap();
        assert!(shown.contains("Tool: delete_all"), "each call is asked for itself: {shown}");
    }
    let decisions: Vec<_> = audit.iter().filter(|r| r["event"] == "decision" && r["tool"] == "delete_all").collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert!(decisions.iter().all(|d| d["by"].as_str().unwrap().ends_with("@client")), "{decisions:?}");
    // Denied in the dialog: the model reads it, nothing ran.
    let decline = json!({"action": "accept", "content": {"decision": "deny", "reason": "not now"}});
    let (out, _, _) =
        drive_as("2026-07-28", IN_CLIENT, Some(decline), json!([{"call": "delete_all", "args": {}}]), &server);
    let t = out[0]["text"].as_str().unwrap();
    assert!(t.contains("reason=denied_by_operator") && t.contains("not now"), "{t}");
}
