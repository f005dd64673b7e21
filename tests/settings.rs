//! Where the wrapper finds its settings when no flag names them (PRODUCT.md section 2):
//! environment variables, the XDG default locations, the default server label.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Runs one delete_file call through countersign with only `env` set; returns the
/// answer's text.
fn call_with(env: &[(&str, &Path)], extra_env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(support::bin());
    cmd.arg("--headless").arg("--").args(support::fake_server());
    for var in [
        "COUNTERSIGN_POLICY",
        "COUNTERSIGN_AUDIT_DIR",
        "COUNTERSIGN_NAME",
        "COUNTERSIGN_HOME",
        "XDG_CONFIG_HOME",
        "XDG_STATE_HOME",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"s","version":"1"}}});
    writeln!(stdin, "{init}").unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"delete_file","arguments":{{}}}}}}"#
    )
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let answer = loop {
        let v: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        if v["id"] == 1 {
            break v;
        }
    };
    drop(stdin);
    assert!(child.wait().unwrap().success());
    support::text(&answer)
}

const ALLOW_DELETES: &str = "[[rules]]\nid = \"from-file\"\ntool = \"delete_file\"\naction = \"allow\"\n";

#[test]
fn defaults_for_policy_and_audit() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    // An XDG_STATE_HOME a desktop session may set is not where the audit goes: a server
    // started by an SDK client never sees it (PRODUCT.md section 2).
    let state = home.path().join("state");
    std::fs::create_dir_all(config.join("countersign")).unwrap();
    std::fs::write(config.join("countersign/policy.toml"), ALLOW_DELETES).unwrap();
    let text = call_with(&[("XDG_CONFIG_HOME", &config), ("XDG_STATE_HOME", &state), ("HOME", home.path())], &[]);
    assert!(text.starts_with("deleted"), "the default policy file applies: {text}");
    assert!(!state.join("countersign").exists());
    let records = support::audit_records(&home.path().join(".local/state/countersign/audit"));
    let decision = records.iter().find(|r| r["event"] == "decision").expect("audit in ~/.local/state");
    assert_eq!(decision["rule"], "from-file");
    assert_eq!(decision["server"], "countersign", "the default label is the command's file name");
}

#[test]
fn environment_variables_name_policy_audit_dir_and_label() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, ALLOW_DELETES).unwrap();
    let audit = dir.path().join("audit");
    let empty = dir.path().join("empty-config");
    let text = call_with(
        &[("COUNTERSIGN_POLICY", &policy), ("COUNTERSIGN_AUDIT_DIR", &audit), ("XDG_CONFIG_HOME", &empty)],
        &[("COUNTERSIGN_NAME", "files")],
    );
    assert!(text.starts_with("deleted"), "{text}");
    let records = support::audit_records(&audit);
    assert!(records.iter().all(|r| r["server"] == "files"));
    let start = records.iter().find(|r| r["event"] == "session_start").unwrap();
    assert_eq!(start["policy"], policy.display().to_string());
    assert!(start["policy_digest"].as_str().unwrap().starts_with("sha256:"));

    // Without any policy: the built-in defaults ask, and headless denies.
    let text = call_with(&[("COUNTERSIGN_AUDIT_DIR", &audit), ("XDG_CONFIG_HOME", &empty)], &[]);
    assert!(text.contains("reason=denied_headless"), "{text}");
}
