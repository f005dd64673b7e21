//! The operator's changes to the pins (docs/pins.md): `countersign pins accept` and
//! `countersign pins forget`, killed at each step of the audit record and of the pin
//! file's write or removal (under its lock file). Whenever the change is in the pins, its
//! `tools` record is in the log (the record is written first), the pins load, and running
//! the command again finishes the change.

use std::path::Path;

use serde_json::Value;

use super::{countersign, session, verified, walk, Run};
use crate::support::audit_records;

/// Pins of label `crash` with `read_file` changed since it was pinned (seen, not accepted).
fn a_changed_tool(home: &Path) {
    session(home, Run { list_changed: true, ..Run::named("pins") });
    assert!(pins(home).contains("changed:"), "read_file is changed: {}", pins(home));
}

/// `countersign pins --server crash`, which must load.
fn pins(home: &Path) -> String {
    let out = countersign(home, None).args(["pins", "--server", "crash"]).output().unwrap();
    assert!(out.status.success(), "the pins load: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pins_cli(home: &Path, crash: Option<&str>, args: &[&str]) -> std::process::Output {
    countersign(home, crash).arg("pins").args(args).output().unwrap()
}

/// `tools` records of the operator's pin changes that `matches`.
fn recorded(home: &Path, matches: impl Fn(&Value) -> bool) -> usize {
    let tools = audit_records(&home.join("audit")).into_iter().filter(|r| r["event"] == "tools" && r["by"].is_string());
    tools.filter(|r| matches(r)).count()
}

fn accepted_read_file(r: &Value) -> bool {
    r["tools"].as_array().is_some_and(|t| t.iter().any(|t| t["name"] == "read_file" && t["pin"] == "accepted"))
}

#[test]
fn pins_accept_killed_at_any_step_is_never_an_acceptance_the_log_does_not_show() {
    let accept = |home: &Path, crash: String| pins_cli(home, Some(&crash), &["accept", "crash", "read_file"]).status;
    let walked = walk(a_changed_tool, accept, |home, at| {
        verified(home, None, at);
        if !pins(home).contains("changed:") {
            assert_eq!(recorded(home, accepted_read_file), 1, "{at}: accepted in the pins, so in the log");
        }
        let again = pins_cli(home, None, &["accept", "crash", "read_file"]);
        assert!(again.status.success(), "{at}: {}", String::from_utf8_lossy(&again.stderr));
        assert!(!pins(home).contains("changed:"), "{at}: accepted once run again");
        assert!(recorded(home, accepted_read_file) >= 1, "{at}");
        verified(home, None, at);
    });
    walked.report("pins accept", &["audit: day file", "crash.json: rename"]);
}

#[test]
fn pins_forget_killed_at_any_step_is_never_a_forget_the_log_does_not_show() {
    let forget = |home: &Path, crash: String| pins_cli(home, Some(&crash), &["forget", "crash"]).status;
    let forgotten = |r: &Value| r["pins"] == "forgotten";
    let walked = walk(a_changed_tool, forget, |home, at| {
        verified(home, None, at);
        if pins(home) == "no pins\n" {
            assert_eq!(recorded(home, forgotten), 1, "{at}: forgotten, so in the log");
        }
        let again = pins_cli(home, None, &["forget", "crash"]);
        assert!(again.status.success(), "{at}: {}", String::from_utf8_lossy(&again.stderr));
        assert_eq!(pins(home), "no pins\n", "{at}");
        assert!(recorded(home, forgotten) >= 1, "{at}");
    });
    walked.report("pins forget", &["audit: day file", "crash.json: remove"]);
}
