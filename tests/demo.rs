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
