//! `countersign pending`, `approve`, `deny` and `leases` through the real binary
//! (PRODUCT.md section 6a), with the book seeded as its JSON file and `approve` answered
//! in a real pseudo-terminal.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::{audit_records, Pty};

const D1: &str = "sha256:ab12cd34ef56000000000000000000000000000000000000000000000000000f";
const D2: &str = "sha256:9f8e7d6c5b4a000000000000000000000000000000000000000000000000000e";
const SEC: i64 = 1_000_000;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// A private `COUNTERSIGN_HOME`.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn audit_dir(home: &Path) -> PathBuf {
    home.join("audit")
}

/// A pending approval as the relay files it: asked a minute ago, lapsing in an hour.
fn pending(home: &Path, id: &str, digest: &str, confirm: &str) -> Value {
    let asked = now() - 60 * SEC;
    json!({
        "id": id, "label": "bank", "tool": "refund", "digest": digest,
        "held": {
            "server": "bank", "client": "claude-code", "tool": "refund", "title": "Refund a payment",
            "class": "destructive", "why": "server says destructiveHint: true (defaults.destructive)",
            "arguments": "{\"order\":\"A1\",\"api_key\":\"[REDACTED]\",\"note\":\"x\\u001b[2J\"}",
            "digest": digest, "confirm": confirm
        },
        "asked": asked, "lapses": asked + 3_600 * SEC,
        "audit_dir": audit_dir(home).display().to_string(), "session": "s1", "request_id": "7"
    })
}

fn lease(home: &Path, id: &str, tool: &str) -> Value {
    let granted = now() - 60 * SEC;
    json!({
        "id": id, "label": "bank", "tool": tool, "by": "operator:alice@tty",
        "granted": granted, "expires": granted + 900 * SEC,
        "audit_dir": audit_dir(home).display().to_string()
    })
}

fn seed(home: &Path, pending: Vec<Value>, leases: Vec<Value>) {
    let book = json!({"v": 1, "pending": pending, "receipts": [], "leases": leases});
    write_book(home, &serde_json::to_string_pretty(&book).unwrap());
}

fn write_book(home: &Path, text: &str) {
    let path = home.join("approvals.json");
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new().create_new(true).write(true).mode(0o600).open(path).unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
}

fn book(home: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(home.join("approvals.json")).unwrap()).unwrap()
}

fn command(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(support::bin());
    cmd.args(args)
        .env("COUNTERSIGN_HOME", home)
        .env("USER", "alice")
        .env_remove("COUNTERSIGN_AUDIT_DIR")
        .env_remove("COUNTERSIGN_TEST_CLOCK")
        .env("TERM", "xterm");
    cmd
}

/// Runs `countersign ARGS` with no terminal at all (a new session, no controlling tty).
fn cli(home: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = command(home, args);
    cmd.stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// `countersign approve ID` with a pseudo-terminal as its controlling terminal (stdin is
/// not the terminal: it asks on /dev/tty).
fn approve_in_pty(home: &Path, id: &str) -> (Child, Pty) {
    let mut cmd = command(home, &["approve", id]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let pty = Pty::attach(&mut cmd);
    let child = cmd.spawn().unwrap();
    (child, pty.spawned())
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The `approval` records, as (action, id).
fn approval_records(home: &Path) -> Vec<Value> {
    audit_records(&audit_dir(home)).into_iter().filter(|r| r["event"] == "approval").collect()
}

fn actions(home: &Path) -> Vec<(String, String)> {
    approval_records(home)
        .iter()
        .map(|r| (r["action"].as_str().unwrap().to_owned(), r["id"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair(action: &str, id: &str) -> (String, String) {
    (action.to_owned(), id.to_owned())
}

fn after_grace() {
    std::thread::sleep(Duration::from_millis(450));
}

#[test]
fn approve_without_a_terminal_refuses_and_approves_nothing() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    let (code, out, err) = cli(home.path(), &["approve", "7k3m9q"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("no terminal"), "{err}");
    assert_eq!(book(home.path())["pending"][0]["id"], "7k3m9q", "still pending");
    assert!(book(home.path())["receipts"].as_array().unwrap().is_empty());
    assert!(approval_records(home.path()).is_empty());
    let (code, out, _) = cli(home.path(), &["pending"]);
    assert_eq!(code, 0);
    assert!(out.contains("7k3m9q") && out.contains("refund") && out.contains("bank"), "{out}");
    assert!(out.contains("[REDACTED]") && out.contains("\\u001b[2J") && !out.contains('\u{1b}'), "{out}");
    assert!(out.contains("sha256:ab12cd34ef56…") && out.contains("1m ago") && out.contains("58m"), "{out}");
}

#[test]
fn approve_in_a_terminal_shows_the_call_and_y_makes_a_receipt() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    let (child, mut pty) = approve_in_pty(home.path(), "7K3M9Q");
    // Typed before the call is drawn: flushed, never an answer.
    pty.press(b'n');
    let screen = pty.wait_for("[y] approve once", 1);
    for needle in ["server    bank", "tool      refund — Refund a payment", "\"api_key\": \"[REDACTED]\"", D1] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    assert!(screen.contains("\\u001b[2J") && !screen.contains("x\u{1b}[2J"), "inert:\n{screen}");
    assert!(!screen.contains("[a]"), "approve offers no lease:\n{screen}");
    // The hour a pending approval has left reads as `countersign pending` writes it.
    let left = screen.split("lapses in ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap_or("");
    assert!(["57m", "58m", "59m"].contains(&left), "time left read at a glance: {left:?}\n{screen}");
    // Inside the grace: ignored.
    pty.press(b'n');
    after_grace();
    pty.press(b'y');
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}\n{}", pty.text());
    assert!(out.contains("approved 7k3m9q") && out.contains(D1), "{out}");
    assert!(pty.is_cooked(), "the terminal is put back");
    let b = book(home.path());
    assert!(b["pending"].as_array().unwrap().is_empty());
    assert_eq!(b["receipts"][0]["id"], "7k3m9q");
    assert_eq!(b["receipts"][0]["by"], "operator:alice@cli");
    let (_, listed, _) = cli(home.path(), &["pending"]);
    assert!(listed.contains("no pending approvals") && listed.contains("approved, waiting"), "{listed}");
    assert!(listed.contains("operator:alice@cli") && listed.contains("9m"), "{listed}");
    let records = approval_records(home.path());
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(
        (r["action"].as_str(), r["id"].as_str(), r["tool"].as_str()),
        (Some("approved"), Some("7k3m9q"), Some("refund"))
    );
    assert_eq!(
        (r["digest"].as_str(), r["by"].as_str(), r["server"].as_str()),
        (Some(D1), Some("operator:alice@cli"), Some("bank"))
    );
    assert!(r["expires"].as_str().unwrap().ends_with('Z'));
    let (code, out, err) =
        cli(home.path(), &["audit", "verify", "--dir", &audit_dir(home.path()).display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    // Denying the approved, unused call withdraws the approval, and says so.
    let (code, out, err) = cli(home.path(), &["deny", "7k3m9q"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("withdrew the approval 7k3m9q"), "{out}");
    assert!(book(home.path())["receipts"].as_array().unwrap().is_empty());
}

#[test]
fn n_in_the_terminal_denies() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    let (child, mut pty) = approve_in_pty(home.path(), "7k3m9q");
    pty.wait_for("[y] approve once", 1);
    after_grace();
    pty.press(b'n');
    let (code, out, err) = finish(child);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("denied 7k3m9q"), "{out}");
    let b = book(home.path());
    assert!(b["pending"].as_array().unwrap().is_empty() && b["receipts"].as_array().unwrap().is_empty());
    assert_eq!(actions(home.path()), [pair("denied", "7k3m9q")]);
}

#[test]
fn ctrl_c_leaves_approve_without_deciding() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    let (child, mut pty) = approve_in_pty(home.path(), "7k3m9q");
    pty.wait_for("[y] approve once", 1);
    pty.press(0x03);
    let (code, out, err) = finish(child);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("nothing decided: 7k3m9q is still pending"), "{out}");
    assert!(pty.is_cooked());
    assert_eq!(book(home.path())["pending"][0]["id"], "7k3m9q");
    assert!(approval_records(home.path()).is_empty());
}

#[test]
fn digest_confirmation_takes_the_code_and_a_wrong_code_approves_nothing() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "digest")], vec![]);
    let (child, mut pty) = approve_in_pty(home.path(), "7k3m9q");
    let screen = pty.wait_for("type the digest's first 4 digits", 1);
    // The hour left reads as with `confirm = "key"`, not as a count of seconds.
    let left = screen.split("lapses in ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap_or("");
    assert!(["57m", "58m", "59m"].contains(&left), "time left read at a glance: {left:?}\n{screen}");
    after_grace();
    pty.press(b'y');
    for key in b"0000" {
        pty.press(*key);
    }
    pty.wait_for("0000 is not the digest's first 4 digits", 1);
    assert!(book(home.path())["receipts"].as_array().unwrap().is_empty(), "a wrong code approves nothing");
    for key in b"AB12" {
        pty.press(*key);
    }
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}\n{}", pty.text());
    assert_eq!(book(home.path())["receipts"][0]["id"], "7k3m9q");
    assert_eq!(actions(home.path()), [pair("approved", "7k3m9q")]);
}

#[test]
fn deny_with_a_reason_is_recorded_inert_and_the_id_cannot_be_decided_again() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    let (code, out, err) = cli(home.path(), &["deny", "7k3m9q", "--reason", "not \u{1b}[2Jtoday"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("denied 7k3m9q"));
    let records = approval_records(home.path());
    assert_eq!(records[0]["action"], "denied");
    assert_eq!(records[0]["detail"], "not \\u001b[2Jtoday");
    assert_eq!(records[0]["by"], "operator:alice@cli");
    // The readable log shows the reason too, inert.
    let (_, tail, _) = cli(home.path(), &["audit", "tail", "--dir", audit_dir(home.path()).to_str().unwrap()]);
    assert!(tail.contains("denied 7k3m9q") && tail.contains(" — not \\u001b[2Jtoday"), "{tail}");
    let (code, _, err) = cli(home.path(), &["deny", "7k3m9q"]);
    assert_eq!(code, 1);
    assert!(err.contains("7k3m9q was already denied"), "{err}");
    let (child, pty) = approve_in_pty(home.path(), "7k3m9q");
    let (code, _, err) = finish(child);
    assert_eq!(code, 1, "{}", pty.text());
    assert!(err.contains("already denied"), "{err}");
}

#[test]
fn unknown_and_lapsed_ids_are_errors_that_name_them() {
    let home = home();
    let mut old = pending(home.path(), "5ap5ed", D2, "key");
    old["asked"] = json!(now() - 3_700 * SEC);
    old["lapses"] = json!(now() - 100 * SEC);
    seed(home.path(), vec![old, pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    let (code, _, err) = cli(home.path(), &["deny", "zzzzzz"]);
    assert_eq!(code, 1);
    assert!(err.contains("no pending approval has the id zzzzzz"), "{err}");
    let (code, _, err) = cli(home.path(), &["deny", "not-an-id!"]);
    assert_eq!(code, 1);
    assert!(err.contains("no pending approval has the id not-an-id!"), "{err}");
    // The lapsed one is removed (and recorded) by the first command that sees the book.
    assert_eq!(actions(home.path()), [pair("lapsed", "5ap5ed")]);
    let (listed_code, listed, _) = cli(home.path(), &["pending"]);
    assert_eq!(listed_code, 0);
    assert!(listed.contains("7k3m9q") && !listed.contains("5ap5ed"), "{listed}");
    let (child, pty) = approve_in_pty(home.path(), "5AP5ED");
    let (code, _, err) = finish(child);
    assert_eq!(code, 1, "{}", pty.text());
    assert!(err.contains("5ap5ed lapsed"), "{err}");
    assert!(!pty.text().contains("approve once"), "nothing is shown for a lapsed id");
}

#[test]
fn leases_are_listed_and_revoked() {
    let home = home();
    seed(home.path(), vec![], vec![lease(home.path(), "aaaaaa", "refund"), lease(home.path(), "bbbbbb", "charge")]);
    let (code, out, _) = cli(home.path(), &["leases"]);
    assert_eq!(code, 0);
    assert!(out.contains("aaaaaa") && out.contains("bbbbbb") && out.contains("operator:alice@tty"), "{out}");
    assert!(out.contains("13m"), "{out}");
    let (code, out, err) = cli(home.path(), &["leases", "revoke", "AAAAAA"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked lease aaaaaa"), "{out}");
    let (_, out, _) = cli(home.path(), &["leases"]);
    assert!(!out.contains("aaaaaa") && out.contains("bbbbbb"), "{out}");
    let (code, _, err) = cli(home.path(), &["leases", "revoke", "aaaaaa"]);
    assert_eq!(code, 1);
    assert!(err.contains("no lease has the id aaaaaa"), "{err}");
    seed(home.path(), vec![], vec![lease(home.path(), "bbbbbb", "charge"), lease(home.path(), "cccccc", "refund")]);
    let (code, out, _) = cli(home.path(), &["leases", "revoke", "--all"]);
    assert_eq!(code, 0);
    assert!(out.contains("revoked lease bbbbbb") && out.contains("revoked lease cccccc"), "{out}");
    let (_, out, _) = cli(home.path(), &["leases"]);
    assert_eq!(out, "no leases\n");
    let revoked: Vec<_> =
        approval_records(home.path()).into_iter().filter(|r| r["action"] == "lease_revoked").collect();
    assert_eq!(revoked.len(), 3);
    assert!(revoked.iter().all(|r| r.get("digest").is_none() && r["by"] == "operator:alice@cli"));
    let (code, _, err) = cli(home.path(), &["leases", "revoke"]);
    assert_ne!(code, 0, "an id or --all is required: {err}");
}

#[test]
fn a_corrupt_or_open_book_is_an_error_that_names_it() {
    let home = home();
    write_book(home.path(), "{\"v\":1,\"pending\":[{");
    let path = home.path().join("approvals.json").display().to_string();
    for args in [&["pending"][..], &["leases"], &["deny", "7k3m9q"], &["leases", "revoke", "--all"]] {
        let (code, _, err) = cli(home.path(), args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(&path) && err.contains("corrupt"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"v\":1,\"pending\":[{", "left as it was");
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = cli(home.path(), &["deny", "7k3m9q"]);
    assert_ne!(code, 0);
    assert!(err.contains(&path) && err.contains("open to other users"), "{err}");
}

#[test]
fn racing_processes_decide_one_pending_approval_once() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![]);
    let children: Vec<Child> = (0..6)
        .map(|_| {
            let mut cmd = command(home.path(), &["deny", "7k3m9q"]);
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let codes: Vec<i32> = children.into_iter().map(|c| finish(c).0).collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 1).count(), 5, "{codes:?}");
    assert_eq!(actions(home.path()), [pair("denied", "7k3m9q")]);
}

#[test]
fn the_console_shows_the_book_approves_a_pending_approval_and_revokes_a_lease() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "key")], vec![lease(home.path(), "aaaaaa", "charge")]);
    let mut cmd = command(home.path(), &["approver"]);
    let mut pty = Pty::attach_stdio(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    pty = pty.spawned();
    let screen = pty.wait_for("[y] approve once  [n] deny  [v] view all", 1);
    assert!(screen.contains("pending 7k3m9q") && screen.contains("lease aaaaaa"), "{screen}");
    assert!(screen.contains("\"api_key\": \"[REDACTED]\"") && screen.contains(D1), "{screen}");
    // Inside the grace after the entry is shown: ignored.
    pty.press(b'y');
    std::thread::sleep(Duration::from_millis(150));
    assert!(book(home.path())["receipts"].as_array().unwrap().is_empty(), "a key inside the grace approved");
    after_grace();
    pty.press(b'y');
    pty.wait_for("approved 7k3m9q", 1);
    let b = book(home.path());
    assert_eq!(b["receipts"][0]["id"], "7k3m9q");
    assert_eq!(b["receipts"][0]["by"], "operator:alice@console");
    // The lease is selected now.
    pty.wait_for("[r] revoke this lease", 1);
    after_grace();
    pty.press(b'r');
    pty.wait_for("revoked lease aaaaaa", 1);
    assert!(book(home.path())["leases"].as_array().unwrap().is_empty());
    pty.press(b'q');
    assert!(child.wait().unwrap().success());
    let records = approval_records(home.path());
    let seen: Vec<(&str, &str)> =
        records.iter().map(|r| (r["action"].as_str().unwrap(), r["by"].as_str().unwrap())).collect();
    assert_eq!(seen, [("approved", "operator:alice@console"), ("lease_revoked", "operator:alice@console")]);
}

#[test]
fn the_console_takes_the_digest_code_for_a_pending_approval_under_digest_confirmation() {
    let home = home();
    seed(home.path(), vec![pending(home.path(), "7k3m9q", D1, "digest")], vec![]);
    let mut cmd = command(home.path(), &["approver"]);
    let mut pty = Pty::attach_stdio(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    pty = pty.spawned();
    let screen = pty.wait_for("type the digest's first 4 digits to approve: [____]", 1);
    assert!(screen.contains("pending 7k3m9q") && !screen.contains("[a]"), "no lease for one call:\n{screen}");
    after_grace();
    // `y` is not the code; `a` is a hex digit, typed like any other.
    pty.press(b'y');
    for key in b"a000" {
        pty.press(*key);
    }
    pty.wait_for("a000 is not the digest's first 4 digits", 1);
    assert!(book(home.path())["receipts"].as_array().unwrap().is_empty(), "a wrong code approves nothing");
    for key in b"ab12" {
        pty.press(*key);
    }
    pty.wait_for("approved 7k3m9q", 1);
    assert_eq!(book(home.path())["receipts"][0]["id"], "7k3m9q");
    assert!(book(home.path())["leases"].as_array().unwrap().is_empty());
    pty.press(b'q');
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_call_arriving_at_the_console_is_shown_before_the_book_unless_an_entry_was_picked() {
    let home = home();
    seed(
        home.path(),
        vec![pending(home.path(), "7k3m9q", D1, "key"), pending(home.path(), "8m4n0r", D2, "key")],
        vec![],
    );
    let mut cmd = command(home.path(), &["approver"]);
    let mut pty = Pty::attach_stdio(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    pty = pty.spawned();
    pty.wait_for("pending approval 7k3m9q: asked", 1);
    let run = |label: &str| {
        let mut s = support::Wrap::fake().asking().runtime(home.path()).arg("--name").arg(label).start();
        s.initialize("2025-11-25");
        s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/x"}}}));
        s
    };
    // Nobody picked the pending approval on screen: the held call is shown, y answers it.
    let mut a = run("alpha");
    pty.wait_for("1 held call(s)", 1);
    pty.wait_for("[a] allow this tool", 1);
    after_grace();
    pty.press(b'y');
    assert!(support::text(&a.answer(1)).starts_with("deleted"));
    assert!(book(home.path())["receipts"].as_array().unwrap().is_empty(), "no pending approval was approved");
    pty.wait_for("0 held call(s)", 1);
    // Picked (down to the second entry): it stays selected when a call arrives, and the
    // keys answer what is on screen.
    after_grace();
    pty.press_seq(b"\x1b[B");
    pty.wait_for("pending approval 8m4n0r: asked", 1);
    let mark = pty.raw().len();
    let mut b = run("beta");
    let deadline = std::time::Instant::now() + support::WAIT;
    while !String::from_utf8_lossy(&pty.raw()[mark..]).contains("1 held call(s)") {
        assert!(std::time::Instant::now() < deadline, "the call never reached the console");
        std::thread::sleep(Duration::from_millis(20));
    }
    after_grace();
    let screen = pty.text();
    let last = &screen[screen.rfind("1 held call(s)").unwrap()..];
    assert!(last.contains("pending approval 8m4n0r: asked") && !last.contains("[a] allow"), "{last}");
    pty.press(b'n');
    pty.wait_for("reason (Enter sends", 1);
    pty.press(b'\r');
    pty.wait_for("denied 8m4n0r", 1);
    assert_eq!(actions(home.path()), [pair("denied", "8m4n0r")]);
    // Back to the held call, first again.
    after_grace();
    pty.press(b'n');
    pty.wait_for("reason for the model", 1);
    pty.press(b'\r');
    assert!(support::text(&b.answer(1)).contains("denied_by_operator"));
    pty.press(b'q');
    assert!(child.wait().unwrap().success());
    a.wait();
    b.wait();
}
