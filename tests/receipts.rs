//! Approvals that run exactly one call (PRODUCT.md section 6a), through the real binary:
//! a call nobody could answer is kept as a pending approval, `countersign approve` in a
//! real terminal turns it into a receipt, the next identical call from any process runs on
//! it once; leases reach every process of the user until revoked.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support::{self, peers};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use support::{text, Pty, Session, Wrap, WAIT};

/// Keys this soon after a prompt is drawn are ignored (src/edge/tty).
const GRACE: Duration = Duration::from_millis(300);

/// A private temp dir: `<state>` for every process of one test (countersign refuses a
/// state directory open to others, and a new temp dir is 0755).
fn home() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// The pending approval's id in a denial text.
fn pending_id(denial: &str) -> String {
    assert!(denial.contains("reason=approval_pending"), "{denial}");
    let at = denial.find("pending approval ").unwrap() + "pending approval ".len();
    denial[at..at + 6].to_owned()
}

/// Runs `countersign approve ID` on a terminal of its own and answers with `key`; returns
/// its exit code and what it drew.
fn approve_in_terminal(env: &[(&str, &Path)], id: &str, key: u8) -> (i32, String) {
    let mut cmd = Command::new(support::bin());
    // As from a client's stripped environment: no USER or LOGNAME to name the operator.
    cmd.arg("approve").arg(id).env_remove("COUNTERSIGN_HOME").env_remove("USER").env_remove("LOGNAME");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let pty = Pty::attach_stdio(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut pty = pty.spawned();
    pty.wait_for("sha256:", 1);
    std::thread::sleep(GRACE + Duration::from_millis(100));
    pty.press(key);
    let code = wait_exit(&mut child);
    (code, pty.text())
}

fn wait_exit(child: &mut std::process::Child) -> i32 {
    let until = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(std::time::Instant::now() < until, "the command did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn asking(home: &Path) -> Session {
    let mut s = Wrap::fake().asking().runtime(home).logged().start();
    s.initialize("2025-11-25");
    s
}

/// How often the demo server received a `tools/call` of `tool`.
fn ran(s: &Session, tool: &str) -> usize {
    s.server_log().lines().filter(|l| l.contains("tools/call") && l.contains(tool)).count()
}

#[test]
fn approve_without_a_terminal_refuses_and_approves_nothing() {
    let home = home();
    let mut s = asking(home.path());
    let id = pending_id(&text(&s.call(1, "delete_file", json!({"path": "/a"}))));
    let mut cmd = Command::new(support::bin());
    cmd.args(["approve", &id]).env("COUNTERSIGN_HOME", home.path()).stdin(Stdio::null());
    // A session of its own: no controlling terminal, even when the tests run in one.
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| if libc::setsid() < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
    let out = cmd.output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("terminal"), "{}", String::from_utf8_lossy(&out.stderr));
    let r = s.call(2, "delete_file", json!({"path": "/a"}));
    assert_eq!(pending_id(&text(&r)), id, "still pending, under the same id");
    assert_eq!(ran(&s, "delete_file"), 0);
    s.wait();
}

#[test]
fn two_processes_race_for_one_receipt_and_exactly_one_call_runs() {
    let home = home();
    let mut first = asking(home.path());
    let args = json!({"path": "/race"});
    let id = pending_id(&text(&first.call(1, "delete_file", args.clone())));
    let (code, screen) = approve_in_terminal(&[("COUNTERSIGN_HOME", home.path())], &id, b'y');
    assert_eq!(code, 0, "{screen}");
    let (mut a, mut b) = (asking(home.path()), asking(home.path()));
    // Both at once.
    for s in [&mut a, &mut b] {
        s.send(json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_file","arguments":args}}));
    }
    let answers = [text(&a.answer(7)), text(&b.answer(7))];
    assert_eq!(answers.iter().filter(|t| t.starts_with("deleted")).count(), 1, "{answers:?}");
    let loser = answers.iter().find(|t| !t.starts_with("deleted")).unwrap();
    assert_ne!(pending_id(loser), id, "the other call is pending again, as a new approval");
    a.wait();
    b.wait();
    first.wait();
    assert_eq!(ran(&a, "delete_file") + ran(&b, "delete_file"), 1, "one call reached a server");
    let records: Vec<Value> = [&a, &b].iter().flat_map(|s| s.audit_records()).collect();
    let allowed: Vec<&Value> =
        records.iter().filter(|r| r["event"] == "decision" && r["decision"] == "allow").collect();
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    assert_eq!(allowed[0]["reason"], "approved_by_receipt");
    assert_eq!(allowed[0]["receipt"], id.as_str());
    // `approve` ran without USER or LOGNAME: the name comes from the password database.
    let me = std::process::Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_owned();
    assert_eq!(allowed[0]["by"], format!("operator:{me}@cli"), "{}", allowed[0]);
    let consumed: Vec<&Value> =
        records.iter().filter(|r| r["event"] == "approval" && r["action"] == "consumed").collect();
    assert_eq!(consumed.len(), 1, "consumed once: {consumed:?}");
    assert_eq!(consumed[0]["id"], id.as_str());
}

#[test]
fn a_lease_reaches_other_processes_until_it_is_revoked() {
    let home = home();
    let mut granting = Wrap::fake().with_tty().runtime(home.path()).logged().start();
    granting.initialize("2025-11-25");
    assert!(lease_at_prompt(&mut granting, 1, "delete_file", json!({"path": "/a"})).starts_with("deleted"));
    let mut other = asking(home.path());
    let r = other.call(1, "delete_file", json!({"path": "/b"}));
    assert!(text(&r).starts_with("deleted"), "another process, other arguments, the same lease: {r}");
    let (code, out, err) = run_in(home.path(), &["leases"]);
    assert_eq!(code, 0, "{err}");
    // Revoked by the id the list shows, typed as a person might (a real session's lease
    // id, not a seeded one).
    let line = out.lines().find(|l| l.contains("delete_file")).unwrap_or_else(|| panic!("{out}"));
    let id = line.split_whitespace().next().unwrap().to_owned();
    assert!(approvals_id(&id), "a lease id reads like a pending approval's: {out}");
    let (code, out, err) = run_in(home.path(), &["leases", "revoke", &id.to_uppercase()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("revoked lease {id}\n"));
    let r = other.call(2, "delete_file", json!({"path": "/c"}));
    pending_id(&text(&r));
    other.wait();
    granting.wait();
    let decision = other.audit_records().into_iter().find(|r| r["event"] == "decision").unwrap();
    assert_eq!(decision["reason"], "approved_by_lease");
    assert!(decision["lease"].is_string() && decision["by"].as_str().unwrap().starts_with("lease:"), "{decision}");
    // The lease's life in the log where it was granted: granted by the operator, revoked.
    let approvals: Vec<Value> = granting.audit_records().into_iter().filter(|r| r["event"] == "approval").collect();
    let actions: Vec<&str> = approvals.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["lease_granted", "lease_revoked"], "{approvals:?}");
    assert_eq!(approvals[0]["id"], decision["lease"]);
    assert!(approvals[0]["by"].as_str().unwrap().ends_with("@tty") && approvals[0]["expires"].is_string());
}

/// Calls `tool` in `s`, whose prompt is on its own terminal, and grants a lease there
/// (`a`); returns the answer's text.
fn lease_at_prompt(s: &mut Session, id: i64, tool: &str, arguments: Value) -> String {
    s.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":arguments}}));
    let pty = s.tty.as_mut().unwrap();
    pty.wait_for("s left", 1);
    std::thread::sleep(GRACE + Duration::from_millis(100));
    pty.press(b'a');
    text(&s.answer(id))
}

/// Six characters of lowercase Crockford base32, as `countersign pending` shows ids.
fn approvals_id(id: &str) -> bool {
    id.len() == 6 && id.bytes().all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b))
}

/// `countersign ARGS` with `<state>` at `home`: exit code, stdout, stderr.
fn run_in(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(support::bin()).args(args).env("COUNTERSIGN_HOME", home).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The official Python SDK client as users start it: its default environment (HOME,
/// PATH, TERM) and session handling (the server in a new session), from a terminal a
/// full-screen program holds in raw mode, so nobody can be asked there. The user approves
/// from another terminal with `countersign approve`.
#[test]
fn python_sdk_client_gets_a_pending_id_that_the_user_approves_for_one_call() {
    let python = peers::peers().python.clone();
    let home = home();
    let log = home.path().join("server.log");
    let approved = home.path().join("approved");
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/client.py");
    let bin = support::bin();
    // This user keeps calls for later rather than on the approval page.
    support::without_web(&home.path().join(".config"));
    let script = r#"stty raw -echo < /dev/tty; exec "$PY" "$CLIENT" legacy -- "$CS" -- "$CS" demo-server --log "$LOG""#;
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).env_clear();
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
    let pty = Pty::attach(&mut cmd);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let _pty = pty.spawned();
    let call = |path: &str| json!({"call": "delete_file", "args": {"path": path}});
    let steps = json!([call("/a"), {"wait_for": approved}, call("/a"), call("/a"), call("/b")]);
    child.stdin.take().unwrap().write_all(steps.to_string().as_bytes()).unwrap();
    let (tx, lines) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str(&line).unwrap_or(Value::String(line)));
        }
    });
    let next = || lines.recv_timeout(WAIT).expect("the client said nothing in time");
    next(); // the negotiated revision
    let first = next();
    assert_eq!(first["is_error"], true, "{first}");
    let id = pending_id(first["text"].as_str().unwrap());
    assert!(first["text"].as_str().unwrap().contains(&format!("`countersign approve {id}`")), "{first}");
    // The user, at a terminal of their own, with only HOME to find the same state.
    let state: PathBuf = home.path().to_owned();
    let (code, screen) = approve_in_terminal(&[("HOME", &state)], &id, b'y');
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("delete_file") && screen.contains("/a"), "the call is shown:\n{screen}");
    assert!(screen.contains("runs once if it comes within 10m"), "how long the approval holds:\n{screen}");
    std::fs::write(&approved, "").unwrap();
    next(); // waited
    let again = next();
    assert_eq!((again["is_error"].clone(), again["text"].clone()), (json!(false), json!("deleted \"/a\"")), "{again}");
    let third = next();
    let third_id = pending_id(third["text"].as_str().unwrap());
    assert_ne!(third_id, id, "used up: the identical call is pending again, as a new approval");
    let other = next();
    let other_id = pending_id(other["text"].as_str().unwrap());
    assert!(other_id != third_id && other_id != id, "other arguments, another approval");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs = std::fs::read_to_string(&log).unwrap();
    assert_eq!(runs.lines().filter(|l| l.contains("tools/call")).count(), 1, "{runs}");
}

/// A fake server listing one destructive `refund`, in the definition `dollars` says, with
/// nobody to ask (pending approvals) and `<state>` at `home`; every wrapper of one test
/// shares the label, the pins and the book.
fn refund_server(home: &Path, dollars: bool) -> Session {
    let description = if dollars { "Refund. The amount is in DOLLARS, not cents." } else { "Refund an order." };
    let tools = json!([[{"name": "refund", "description": description, "inputSchema": {"type": "object"},
        "annotations": {"destructiveHint": true}}]]);
    let file = home.join(if dollars { "dollars.json" } else { "cents.json" });
    std::fs::write(&file, tools.to_string()).unwrap();
    asking_bank(home, &file)
}

/// Issue: a call filed as pending under one definition of `refund` was folded into the
/// same id after the server changed the tool, and ran on that receipt. A pending approval,
/// a receipt and a lease are for the definition they were asked under (PRODUCT.md 6a).
#[test]
fn an_approval_is_for_the_tool_definition_it_was_asked_under() {
    let home = home();
    let args = json!({"order": "A1", "amount": 500});
    let env = [("COUNTERSIGN_HOME", home.path())];
    // A pending approval under the first definition.
    let mut cents = refund_server(home.path(), false);
    let first = pending_id(&text(&cents.call(2, "refund", args.clone())));
    cents.wait();

    // The server changed the tool: the same call is a new pending approval, shown changed.
    let mut dollars = refund_server(home.path(), true);
    let changed = pending_id(&text(&dollars.call(2, "refund", args.clone())));
    assert_ne!(changed, first, "never folded into the approval asked under the old definition");
    let (code, screen) = approve_in_terminal(&env, &changed, b'n');
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("CHANGED") && screen.contains("DOLLARS"), "the change is shown:\n{screen}");
    let (_, screen) = approve_in_terminal(&env, &first, b'y');
    assert!(!screen.contains("CHANGED"), "the first was asked under the pinned definition:\n{screen}");

    // A receipt approved under the old definition does not run the changed tool.
    let denied = text(&dollars.call(3, "refund", args.clone()));
    let again = pending_id(&denied);
    assert!(again != first && again != changed, "{denied}");
    assert!(denied.contains(&format!("receipt {first} was approved under another definition of refund")), "{denied}");
    dollars.wait();
    assert_eq!(ran(&dollars, "refund"), 0, "the changed tool never ran");
    let records = dollars.audit_records();
    let decision = records.iter().rfind(|r| r["event"] == "decision").unwrap();
    assert!(decision["detail"].as_str().unwrap().contains(&format!("receipt {first}")), "recorded: {decision}");
    let asked = records.iter().filter(|r| r["event"] == "approval" && r["action"] == "asked").count();
    assert_eq!(asked, 2, "each new pending approval is asked: {records:?}");

    // Under the definition it was approved for, the receipt runs its call once.
    let mut cents = refund_server(home.path(), false);
    let answer = text(&cents.call(2, "refund", args));
    assert!(answer.starts_with("refund ran"), "{answer}");
    cents.wait();
    let decision = cents.audit_records().into_iter().find(|r| r["event"] == "decision").unwrap();
    assert_eq!(
        (decision["reason"].as_str(), decision["receipt"].as_str()),
        (Some("approved_by_receipt"), Some(first.as_str()))
    );
}

/// A lease granted under one definition of a tool allows no call under another.
#[test]
fn a_lease_is_for_the_tool_definition_it_was_granted_under() {
    let home = home();
    let cents = home.path().join("cents.json");
    let tools = |description: &str| {
        json!([[{"name": "refund", "description": description, "annotations": {"destructiveHint": true}}]]).to_string()
    };
    std::fs::write(&cents, tools("Refund an order.")).unwrap();
    let wrap = Wrap::fake().with_tty().runtime(home.path()).arg("--name").arg("bank");
    let mut granting = wrap.server_arg("--tools").server_arg(cents.to_str().unwrap()).start();
    granting.initialize("2025-06-18");
    granting.request(1, "tools/list", json!({}));
    assert!(lease_at_prompt(&mut granting, 2, "refund", json!({"order": "A1"})).starts_with("refund ran"));
    let lease = |s: &mut Session, id| text(&s.call(id, "refund", json!({"order": "B2"})));
    assert!(lease(&mut asking_bank(home.path(), &cents), 2).starts_with("refund ran"), "the lease reaches others");
    let dollars = home.path().join("dollars.json");
    std::fs::write(&dollars, tools("Refund. The amount is in DOLLARS.")).unwrap();
    // Pins accepted, so that the new definition is not simply "changed" (no lease for
    // those anyway): it is the definition that differs from the lease's.
    let mut changed = asking_bank(home.path(), &dollars);
    pending_id(&lease(&mut changed, 2));
    changed.wait();
    let (code, _, err) = run_in(home.path(), &["pins", "accept", "bank"]);
    assert_eq!(code, 0, "{err}");
    let mut accepted = asking_bank(home.path(), &dollars);
    let denied = lease(&mut accepted, 2);
    pending_id(&denied);
    accepted.wait();
    granting.wait();
}

/// A fake server labelled `bank` listing what `tools` holds, with nobody to ask, the
/// tools listed once.
fn asking_bank(home: &Path, tools: &Path) -> Session {
    let wrap = Wrap::fake().asking().runtime(home).arg("--name").arg("bank").logged();
    let mut s = wrap.server_arg("--tools").server_arg(tools.to_str().unwrap()).start();
    s.initialize("2025-06-18");
    s.request(1, "tools/list", json!({}));
    s
}
