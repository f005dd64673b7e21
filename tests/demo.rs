//! `countersign demo`, the README's first command, headless (no terminal in tests).
#![allow(clippy::unwrap_used)]

use crate::support;

#[test]
fn the_demo_shows_a_pass_a_denial_a_refusal_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    let (code, out, err) = support::run(&["demo", "--headless", "--audit-dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}\n{err}");
    for needle in [
        "read_file ran with",
        "countersign denied delete_file",
        "reason=denied_headless",
        "reason=ambiguous_payload",
        "decision",
        "intact: 9 records",
    ] {
        assert!(out.contains(needle), "{needle} missing in:\n{out}");
    }
}

/// Issue: `countersign demo --headless | grep -q denied` closed the demo's output early;
/// the demo exited while its wrapper was still writing, and `audit verify` right after
/// called the log broken. The demo waits for its wrapper however it ends.
#[test]
fn the_demo_waits_for_its_wrapper_when_its_output_closes_early() {
    use std::io::{BufRead, BufReader};
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit");
        let mut demo = std::process::Command::new(support::bin())
            .args(["demo", "--headless", "--audit-dir", audit.to_str().unwrap()])
            .env("COUNTERSIGN_HOME", dir.path().join("state"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(demo.stdout.take().unwrap());
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 && !line.contains("denied") {}
        drop(out);
        demo.wait().unwrap();
        let records = support::audit_records(&audit);
        assert!(records.iter().any(|r| r["event"] == "session_end"), "the wrapper had finished: {records:?}");
        let (code, out, _) = support::run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
        assert_eq!(code, 0, "{out}");
    }
}
