//! The audit log through the real binary: write-ahead, failure, sharing, days, verify, tail.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::os::unix::fs::PermissionsExt;

use serde_json::json;
use support::{audit_records, run, text, Wrap};

fn allow_deletes(w: &Wrap) -> String {
    let policy = w.path("policy.toml");
    std::fs::write(&policy, "[[rules]]\nid = \"deletes-ok\"\ntool = \"delete_file\"\naction = \"allow\"\n").unwrap();
    policy.display().to_string()
}

#[test]
fn a_state_changing_call_is_on_disk_before_the_server_runs_it() {
    let w = Wrap::fake();
    let policy = allow_deletes(&w);
    let audit = w.audit_dir().display().to_string();
    let mut s = w.arg("--policy").arg(&policy).server_arg("--audit-dir").server_arg(&audit).start();
    s.initialize("2025-11-25");
    let r = s.call(1, "delete_file", json!({"path": "/tmp/x", "password": "hunter2"}));
    assert_eq!(text(&r), "decision on disk before execution: true", "{r}");
    s.wait();
    let records = s.audit_records();
    let decision = records.iter().find(|r| r["event"] == "decision").unwrap();
    assert_eq!(decision["decision"], "allow");
    assert_eq!(decision["rule"], "deletes-ok");
    assert_eq!(decision["args"]["password"], "[REDACTED]");
    assert_eq!(decision["args"]["path"], "/tmp/x");
    let result = records.iter().find(|r| r["event"] == "result").unwrap();
    assert_eq!(result["digest"], decision["digest"]);
    assert_eq!(result["is_error"], false);
    for event in ["session_start", "client", "tools", "decision", "result", "session_end"] {
        assert!(records.iter().any(|r| r["event"] == event), "no {event} record");
    }
    let (code, out, _) = run(&["audit", "verify", "--dir", &audit], b"");
    assert_eq!(code, 0, "{out}");
    // Files and directory are private.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.wrap.audit_dir()), 0o700);
    for e in std::fs::read_dir(s.wrap.audit_dir()).unwrap() {
        assert_eq!(mode(&e.unwrap().path()), 0o600);
    }
}

#[test]
fn an_unwritable_audit_directory_denies_what_changes_state() {
    // A path under a regular file can never be created, even by root.
    let w = Wrap::fake();
    let policy = allow_deletes(&w);
    std::fs::write(w.path("file"), "").unwrap();
    let mut s = Wrap::fake().arg("--policy").arg(&policy).audit_in(w.path("file/audit")).start();
    s.initialize("2025-11-25");
    assert_eq!(s.call(1, "read_file", json!({}))["result"]["isError"], false, "read-only still passes");
    let d = s.call(2, "delete_file", json!({}));
    assert!(text(&d).contains("reason=audit_unavailable"), "{d}");
    s.wait();
    assert!(s.stderr_text().contains("audit"));
}

#[test]
fn a_refused_audit_directory_is_used_once_it_is_made_private() {
    let w = Wrap::fake();
    let policy = allow_deletes(&w);
    let audit = w.path("shared-audit");
    std::fs::create_dir(&audit).unwrap();
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o750)).unwrap();
    let mut s = Wrap::fake().arg("--policy").arg(&policy).audit_in(&audit).start();
    s.initialize("2025-11-25");
    let d = text(&s.call(1, "delete_file", json!({"path": "/a"})));
    assert!(d.contains("reason=audit_unavailable"), "refused while open to the group: {d}");
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o700)).unwrap();
    let ran = text(&s.call(2, "delete_file", json!({"path": "/b"})));
    assert!(!ran.contains("countersign denied"), "the setup is tried again and the call runs: {ran}");
    s.wait();
    let decided: Vec<String> = audit_records(&audit)
        .iter()
        .filter(|r| r["event"] == "decision")
        .map(|r| format!("{} {}", r["args"]["path"], r["decision"]))
        .collect();
    assert!(decided.contains(&r#""/b" "allow""#.to_owned()), "{decided:?}");
    let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_audit_directory_open_to_others_is_refused_and_no_approval_is_kept_for_later() {
    let home = tempfile::tempdir().unwrap();
    let w = Wrap::fake();
    let audit = w.path("shared-audit");
    std::fs::create_dir(&audit).unwrap();
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Nobody can be asked (no terminal, no console): without the audit log, the call is
    // not kept as a pending approval that could never be approved.
    let mut s = Wrap::fake().asking().runtime(home.path()).audit_in(&audit).start();
    s.initialize("2025-11-25");
    let d = text(&s.call(1, "delete_file", json!({"path": "/a"})));
    assert!(d.contains("reason=audit_unavailable") && d.contains("open to other users"), "{d}");
    assert!(!d.contains("countersign approve"), "{d}");
    assert_eq!(s.call(2, "read_file", json!({}))["result"]["isError"], false, "read-only still passes");
    s.wait();
    let named = format!("{} is open to other users (mode 755)", audit.display());
    assert!(s.stderr_text().contains(&named), "{}", s.stderr_text());
    let mode = std::fs::metadata(&audit).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the user's directory is left as it was");
    assert_eq!(std::fs::read_dir(&audit).unwrap().count(), 0, "nothing was written there");
    let pending = std::process::Command::new(support::bin())
        .arg("pending")
        .env("COUNTERSIGN_HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&pending.stdout), "no pending approvals\n");
}

#[test]
fn a_call_that_needs_a_human_is_open_again_once_the_audit_directory_is_fixed() {
    let home = tempfile::tempdir().unwrap();
    let w = Wrap::fake();
    let audit = w.path("shared-audit");
    std::fs::create_dir(&audit).unwrap();
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut s = Wrap::fake().asking().runtime(home.path()).audit_in(&audit).start();
    s.initialize("2025-11-25");
    let d = text(&s.call(1, "delete_file", json!({"path": "/a"})));
    assert!(d.contains("reason=audit_unavailable"), "{d}");
    // The records so far are tried (after the writer's 5 ms batching window) and lost.
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Fixed, and nothing else happens: the writer finds out by itself (PRODUCT.md section
    // 7: as soon as the log can be written, calls are recorded and run).
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o700)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !audit.join(countersign::edge::audit_log::HEAD_FILE).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let d = text(&s.call(2, "delete_file", json!({"path": "/b"})));
    assert!(d.contains("reason=approval_pending"), "the first call after the fix goes to a human: {d}");
    s.wait();
    let events: Vec<String> = audit_records(&audit).iter().map(|r| r["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(events[0], "recovered", "what was lost while it was down is said first: {events:?}");
    let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn three_processes_share_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit").display().to_string();
    let mut sessions: Vec<_> =
        (0..3).map(|i| Wrap::fake().audit_in(&audit).arg("--name").arg(&format!("srv{i}")).start()).collect();
    for s in &mut sessions {
        s.initialize("2025-11-25");
    }
    for round in 0..40 {
        for s in &mut sessions {
            s.send(json!({"jsonrpc":"2.0","id":round,"method":"tools/call","params":{"name":"echo","arguments":{"r":round}}}));
        }
        for s in &mut sessions {
            s.answer(round);
        }
    }
    for s in &mut sessions {
        s.wait();
    }
    let (code, out, _) = run(&["audit", "verify", "--dir", &audit], b"");
    assert_eq!(code, 0, "{out}");
    let records = audit_records(std::path::Path::new(&audit));
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let servers: std::collections::HashSet<_> =
        records.iter().map(|r| r["server"].as_str().unwrap().to_owned()).collect();
    assert_eq!(servers.len(), 3);
    assert!(records.iter().filter(|r| r["event"] == "result").count() >= 120);
}

#[test]
fn the_chain_crosses_midnight_into_a_new_file() {
    let w = Wrap::fake().env("COUNTERSIGN_TEST_CLOCK", "2026-11-23T23:59:59.300000Z");
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({}));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    s.call(2, "echo", json!({}));
    s.wait();
    assert!(audit.join("2026-11-23.jsonl").exists() && audit.join("2026-11-24.jsonl").exists());
    let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("in 2 files"), "{out}");
}

#[test]
fn verify_names_the_line_that_was_edited_and_a_cut_off_end() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({"amount": 100}));
    s.wait();
    let file = std::fs::read_dir(&audit)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let original = std::fs::read_to_string(&file).unwrap();
    let dir = audit.to_str().unwrap();

    std::fs::write(&file, original.replacen("\"amount\":100", "\"amount\":1", 1)).unwrap();
    let (code, out, _) = run(&["audit", "verify", "--dir", dir], b"");
    assert_eq!(code, 1);
    let edited = original.lines().position(|l| l.contains("\"amount\":100")).unwrap() + 1;
    assert!(out.contains(&format!(".jsonl:{edited}: this line was edited")), "{out}");
    assert!(out.contains(&format!("audit log: {dir}")), "names the directory it read: {out}");
    // Both lines around the break, the edited one marked.
    assert!(out.contains(&format!(":{edited}: {{")) && out.contains(&format!(":{}: {{", edited + 1)), "{out}");
    assert!(out.contains("\"amount\":1}") && out.contains("<- edited"), "{out}");

    let mut lines: Vec<&str> = original.lines().collect();
    lines.pop();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (code, out, _) = run(&["audit", "verify", "--dir", dir], b"");
    assert_eq!(code, 1);
    assert!(out.contains("cut off the end"), "{out}");
}

#[test]
fn retention_removes_whole_old_days_only() {
    let w = Wrap::fake().arg("--audit-retention-days").arg("2");
    let audit = w.audit_dir();
    std::fs::create_dir_all(&audit).unwrap();
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(audit.join("2000-01-01.jsonl"), "").unwrap();
    std::fs::write(audit.join("notes.txt"), "mine").unwrap();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.wait();
    assert!(!audit.join("2000-01-01.jsonl").exists());
    assert!(audit.join("notes.txt").exists());
}

#[test]
fn tail_shows_decisions_readably_and_as_json() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.call(1, "read_file", json!({}));
    s.call(2, "delete_file", json!({"path": "\u{1b}[2J"}));
    s.wait();
    let dir = audit.to_str().unwrap();
    let (code, out, _) = run(&["audit", "tail", "--dir", dir, "--decision", "deny"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("deny delete_file [destructive] denied_headless by headless"), "{out}");
    assert!(!out.contains('\u{1b}'), "tail must not print raw escapes: {out:?}");
    assert!(!out.contains("read_file"));
    let (_, out, _) = run(&["audit", "tail", "--dir", dir, "--json", "--tool", "read_*"], b"");
    let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!records.is_empty() && records.iter().all(|r| r["tool"] == "read_file"));
}

#[test]
fn tail_keeps_the_servers_a_glob_names() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    // Two servers write into one directory, interleaved.
    for name in ["alpha-bank", "beta-files", "alpha-mail"] {
        let mut s = Wrap::fake().arg("--name").arg(name).audit_in(&audit).start();
        s.initialize("2025-11-25");
        s.call(1, "read_file", json!({}));
        s.wait();
    }
    let dir = audit.to_str().unwrap();
    let servers = |glob: &str| {
        let (code, out, err) = run(&["audit", "tail", "--dir", dir, "-n", "100", "--json", "--server", glob], b"");
        assert_eq!(code, 0, "{err}");
        let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let mut names: Vec<String> = records.iter().map(|r| r["server"].as_str().unwrap().to_owned()).collect();
        names.dedup();
        (records.len(), names)
    };
    let (kept, names) = servers("alpha-*");
    assert_eq!(names, ["alpha-bank", "alpha-mail"], "each alpha server's records, no other");
    assert!(kept >= 8, "all of their records: {kept}");
    assert_eq!(servers("beta-files").1, ["beta-files"]);
    let (code, out, _) = run(&["audit", "tail", "--dir", dir, "--server", "gamma*"], b"");
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, _, err) = run(&["audit", "tail", "--dir", dir, "--server", "[a"], b"");
    assert_eq!(code, 125, "a bad glob is a usage error: {err}");
    assert!(err.contains("--server"), "{err}");
}

fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn day_file(audit: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(audit)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files.pop().unwrap()
}

#[test]
fn cutting_the_front_of_the_log_is_a_break_without_retention() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    for i in 0..4 {
        s.call(i, "echo", json!({"i": i}));
    }
    s.wait();
    let dir = audit.to_str().unwrap();
    assert_eq!(run(&["audit", "verify", "--dir", dir], b"").0, 0);
    // `sed -i '1,5d'`
    let file = day_file(&audit);
    let lines = lines_of(&file);
    std::fs::write(&file, lines[5..].join("\n") + "\n").unwrap();
    let (code, out, _) = run(&["audit", "verify", "--dir", dir], b"");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(".jsonl:1: the log starts at seq 6") && out.contains("cut from the front"), "{out}");
}

#[test]
fn retention_records_where_the_kept_log_starts_and_more_cut_is_a_break() {
    let w = Wrap::fake().env("COUNTERSIGN_TEST_CLOCK", "2020-01-01T12:00:00Z");
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({}));
    s.wait();
    assert!(audit.join("2020-01-01.jsonl").exists());
    let mut s = Wrap::fake().audit_in(&audit).arg("--audit-retention-days").arg("1").start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({}));
    s.wait();
    assert!(!audit.join("2020-01-01.jsonl").exists(), "the old day went");
    let dir = audit.to_str().unwrap();
    let (code, out, _) = run(&["audit", "verify", "--dir", dir], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("removed by retention"), "{out}");
    let file = day_file(&audit);
    let lines = lines_of(&file);
    std::fs::write(&file, lines[2..].join("\n") + "\n").unwrap();
    let (code, out, _) = run(&["audit", "verify", "--dir", dir], b"");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the head anchor says the kept log starts after seq"), "{out}");
}

#[test]
fn secrets_the_review_found_stay_out_of_the_log() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.call(
        1,
        "echo",
        json!({"pass": "hunter2", "pwd": "hunter3", "passcode": "hunter4", "otp_code": "123456", "key": "k3y-secret",
               "dsn": "postgresql://admin:pgpass99@db:5432/app", "url": "mysql://root:rootpw77@db/x", "apiKey": "ak-xyz-123",
               "note": "sk-proj-abcdefghijklmnopqrstuvwx", "keyboard": "qwerty"}),
    );
    s.wait();
    let text: String = std::fs::read_dir(&audit)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    for secret in [
        "hunter2",
        "hunter3",
        "hunter4",
        "123456",
        "k3y-secret",
        "pgpass99",
        "rootpw77",
        "ak-xyz-123",
        "abcdefghijklmnop",
    ] {
        assert!(!text.contains(secret), "{secret} reached the log");
    }
    assert!(text.contains("mysql://root:[REDACTED]@db/x") && text.contains("qwerty"));
}

#[test]
fn tail_json_escapes_hostile_characters_and_keeps_the_values() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    let hostile = "a\u{85}b\u{9b}c\u{202e}d\u{200b}e\u{2066}f\u{feff}g\u{7f}h";
    s.call(1, "echo", json!({"text": hostile}));
    s.wait();
    let (code, out, _) = run(&["audit", "tail", "--dir", audit.to_str().unwrap(), "--json", "--tool", "echo"], b"");
    assert_eq!(code, 0);
    for c in ['\u{85}', '\u{9b}', '\u{202e}', '\u{200b}', '\u{2066}', '\u{feff}', '\u{7f}'] {
        assert!(!out.contains(c), "raw {:?} in tail --json: {out:?}", c);
    }
    assert!(out.contains("\\u0085") && out.contains("\\u202e") && out.contains("\\u200b"), "{out}");
    let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let decision = records.iter().find(|r| r["event"] == "decision").unwrap();
    assert_eq!(decision["args"]["text"], hostile);
}

#[test]
fn fresh_installs_and_empty_directories_are_said_plainly() {
    let w = Wrap::fake();
    let missing = w.path("never-written");
    let m = missing.to_str().unwrap();
    let (code, out, err) = run(&["audit", "tail", "--dir", m], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no audit records yet"), "{out}");
    let (code, out, _) = run(&["audit", "verify", "--dir", m], b"");
    assert_eq!(code, 1);
    assert!(out.contains(&format!("no audit log at {m}: the directory does not exist")), "{out}");
    std::fs::create_dir(&missing).unwrap();
    let (code, out, _) = run(&["audit", "verify", "--dir", m], b"");
    assert_eq!(code, 0);
    assert!(out.contains("no records yet") && !out.contains("intact: 0"), "{out}");
}

#[test]
fn tail_follows_new_records_from_where_it_was() {
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = Wrap::fake().audit_in(&audit).start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({"n": "first"}));
    s.wait();
    let mut tail = std::process::Command::new(support::bin())
        .args(["audit", "tail", "-f", "--json", "--tool", "echo", "--dir", audit.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = Wrap::fake().audit_in(&audit).start();
    s.initialize("2025-11-25");
    s.call(2, "echo", json!({"n": "second"}));
    s.call(3, "echo", json!({"n": "third"}));
    s.wait();
    std::thread::sleep(std::time::Duration::from_millis(800));
    tail.kill().unwrap();
    let out = String::from_utf8(tail.wait_with_output().unwrap().stdout).unwrap();
    let ns: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["event"] == "decision")
        .map(|r| r["args"]["n"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ns, ["first", "second", "third"], "{out}");
    drop(w);
}

/// Issue: records held raw U+2028, U+2029, U+0085, C1 and bidi characters, which line
/// readers in log shippers and JavaScript split on and `cat` shows reordered. Every record
/// is one line for any splitter, holds the same values, and the chain verifies.
#[test]
fn every_record_is_one_line_for_every_line_splitter() {
    let odd = "a\u{2028}b\u{2029}c\u{85}d\u{9b}[2Je\u{202e}f\u{2067}g\u{200f}h\u{61c}i";
    let w = Wrap::fake();
    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({ "text": odd, odd: 1 }));
    s.call(2, odd, json!({}));
    s.wait();
    let bytes = std::fs::read(day_file(&audit)).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.is_ascii(), "nothing but escapes: {text}");
    let splits = ['\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}'];
    let pieces: Vec<&str> = text.split(|c| splits.contains(&c)).filter(|l| !l.is_empty()).collect();
    assert_eq!(pieces.len(), text.lines().count(), "a splitter on all of them sees the same lines");
    let records: Vec<serde_json::Value> = pieces.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let echo = records.iter().find(|r| r["event"] == "decision" && r["tool"] == "echo").unwrap();
    assert_eq!((echo["args"]["text"].as_str(), echo["args"][odd].as_i64()), (Some(odd), Some(1)), "{echo}");
    assert!(records.iter().any(|r| r["event"] == "decision" && r["tool"] == odd), "the tool name too");
    let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
}

/// `audit verify` while a writer sets the log up and appends (an operator's cron job while
/// agents work): it judges the log as it stood between two batches, never a line without
/// its anchor, so it never says BROKEN about an honest log.
#[test]
fn verify_never_calls_a_live_log_broken() {
    for _ in 0..3 {
        let w = Wrap::fake();
        let audit = w.audit_dir();
        let dir = audit.to_str().unwrap().to_owned();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        let verifier = std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (code, out, err) = run(&["audit", "verify", "--dir", &dir], b"");
                assert!(code == 0 || out.contains("does not exist"), "run {runs}: {out}{err}");
                runs += 1;
            }
            runs
        });
        let mut s = w.start();
        s.initialize("2025-11-25");
        for id in 1..=100 {
            s.call(id, "echo", json!({ "n": id }));
        }
        s.wait();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let runs = verifier.join().unwrap();
        assert!(runs > 3, "verified {runs} times while the log was written");
        let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
        assert_eq!(code, 0, "{out}");
    }
}
