//! Secrets in the records the relay builds itself: the server's argv (`session_start`)
//! and `rejected` excerpts (`core::audit::redact::redact_argv` and `redact_excerpt`).
#![allow(clippy::unwrap_used)]

use crate::support;

use serde_json::json;
use support::Wrap;

fn log_text(audit: &std::path::Path) -> String {
    std::fs::read_dir(audit).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default()).collect()
}

#[test]
fn the_server_argv_is_redacted() {
    // `sh -c` runs the demo server and ignores the arguments after it: they are only
    // there to be recorded in session_start, as a real server's secrets would be.
    let bin = support::bin().display().to_string();
    let w = Wrap::command(&[
        "sh",
        "-c",
        "exec \"$0\" demo-server",
        &bin,
        "--token=sk-live-abcdefghijklmnopqrstuvwx",
        "postgresql://admin:pgpass99@db:5432/app",
        "API_KEY=plainvalue42",
    ]);
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.wait();
    let text = log_text(&audit);
    for secret in ["abcdefghijklmnopqrstuvwx", "pgpass99", "plainvalue42"] {
        assert!(!text.contains(secret), "{secret} reached the log");
    }
    assert!(text.contains("--token=[REDACTED]") && text.contains("admin:[REDACTED]@db"), "{text}");
}

#[test]
fn rejected_excerpts_are_redacted() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    // Duplicate keys: ambiguous, rejected, and its excerpt logged.
    s.send_raw(
        br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"password":"hunter2","password":"x"}}}
"#,
    );
    let _ = s.next();
    s.send(json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo","arguments":["sk-proj-abcdefghijklmnopqrstuvwx"]}}));
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.wait();
    let text = log_text(&audit);
    assert!(text.contains("\"event\":\"rejected\""), "{text}");
    for secret in ["hunter2", "abcdefghijklmnopqrstuvwx"] {
        assert!(!text.contains(secret), "{secret} reached the log");
    }
}
