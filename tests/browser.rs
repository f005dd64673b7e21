//! The approval page in a real browser: headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs), driven by playwright-core (`tests/interop/browser.mjs`), loads the
//! page a held call is served on, reads it as a person would and answers it; a page of
//! another origin tries to answer it for them and is refused.
//!
//! Without a Chromium (a machine where it cannot be installed) these tests say so and
//! pass: the page's HTTP-level checks are in tests/web.rs and run everywhere.
#![allow(clippy::unwrap_used)]

use crate::support::{self, peers, text, Session, Wrap};

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::http::Link;

fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED: no Chromium at {} (install Debian's chromium, or set CHROMIUM)", path.display());
        None
    }
}

/// Runs browser.mjs in `mode` on `link`; what it printed.
fn browse(mode: &str, link: &Link, shot: Option<&std::path::Path>) -> Value {
    let script = peers::peers().node_modules.parent().unwrap().join("browser.mjs");
    std::fs::copy(peers::root().join("tests/interop/browser.mjs"), &script).unwrap();
    let url = format!("{}{}", link.origin(), link.path);
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(mode).arg(url);
    if let Some(shot) = shot {
        cmd.arg(shot);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "browser.mjs {mode}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(out.stdout.trim_ascii()).unwrap()
}

fn held(args: Value) -> (Session, Link) {
    let mut s = Wrap::fake().asking().web().logged().arg("--approval-timeout").arg("40").start();
    s.initialize("2025-11-25");
    s.request(2, "tools/list", json!({}));
    s.send(json!({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"delete_file","arguments":args}}));
    let line = s.stderr_line("waits for approval");
    (s, Link::find(&line))
}

#[test]
fn a_person_approves_the_call_in_chromium() {
    if chromium().is_none() {
        return;
    }
    let (mut s, link) = held(json!({"path": "/srv/data/report.csv", "note": "first line\nsecond line"}));
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("page.png");
    let seen = browse("approve", &link, Some(&shot));
    assert!(seen["text"].as_str().unwrap().contains("Approved once"), "{seen}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000, "a screenshot was taken");
    let r = s.answer(10);
    assert!(text(&r).starts_with("deleted"), "{r}");
    assert_eq!(s.server_log().matches("\"delete_file\"").count(), 1);
}

#[test]
fn a_person_denies_it_with_a_reason_by_pressing_enter() {
    if chromium().is_none() {
        return;
    }
    let (mut s, link) = held(json!({"path": "/etc/passwd"}));
    let seen = browse("deny", &link, None);
    assert!(seen["text"].as_str().unwrap().contains("Denied"), "Enter in the reason field denies: {seen}");
    let t = text(&s.answer(10));
    assert!(t.contains("reason=denied_by_operator") && t.contains("not this file"), "{t}");
    assert!(!s.server_log().contains("\"delete_file\""));
}

#[test]
fn another_origin_cannot_answer_frame_or_fetch_the_page() {
    if chromium().is_none() {
        return;
    }
    let (mut s, link) = held(json!({"path": "/srv"}));
    let seen = browse("attack", &link, None);
    assert_eq!(seen["form"], 403, "a form posted from another site: {seen}");
    assert_eq!(seen["framed"], false, "the page never shows inside another's frame: {seen}");
    assert!(seen["fetch"].as_str().unwrap().starts_with("sent"), "{seen}");
    // Nothing was answered: the call still waits, and its own page still decides it.
    assert!(s.silent_for(Duration::from_millis(300)));
    assert!(!s.server_log().contains("\"delete_file\""));
    let page = link.get().body;
    assert_eq!(link.post(&support::http::answer(&page, "deny")).status, 200);
    assert!(text(&s.answer(10)).contains("reason=denied_by_operator"));
}
