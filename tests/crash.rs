//! Every crash point (PRODUCT.md section 7, issue: nothing lost at any crash point): the
//! wrapper and `countersign install` are killed (SIGKILL) at each durable step of every
//! file they write in turn (`COUNTERSIGN_TEST_CRASH`, src/edge/crash.rs: before each
//! fsync and rename, half-way through each write), then started again. All points are
//! walked, not a sample. After each: `audit verify` passes, every call the server ran that
//! is not read-only has its `allow` decision, the approval book and the pins load, and a config is the original
//! or the edited file byte for byte, its backup the original or absent.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use support::{audit_records, bin, run};

/// A private `<state>` (countersign refuses one open to others).
fn home() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn countersign(home: &Path, crash: Option<&str>) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env("COUNTERSIGN_HOME", home).env_remove("COUNTERSIGN_AUDIT_DIR").env_remove("COUNTERSIGN_TEST_CRASH");
    if let Some(crash) = crash {
        cmd.env("COUNTERSIGN_TEST_CRASH", crash);
    }
    cmd
}

/// One wrapped session: the tools listed (pins), a destructive call a rule allows
/// (write-ahead), a call nobody can be asked about (a pending approval in the book), a
/// read-only call. Returns when every call was answered or the wrapper died, with how it
/// ended.
fn session(home: &Path, run: &str, crash: Option<&str>) -> std::process::ExitStatus {
    session_at(home, run, crash, None)
}

/// [`session`] with the wrapper's clock started at `clock` (`COUNTERSIGN_TEST_CLOCK`).
fn session_at(home: &Path, run: &str, crash: Option<&str>, clock: Option<&str>) -> std::process::ExitStatus {
    let policy = home.join("policy.toml");
    std::fs::write(&policy, "[[rules]]\nid = \"deletes-ok\"\ntool = \"delete_file\"\naction = \"allow\"\n").unwrap();
    let log = home.join(format!("server-{run}.log"));
    let mut cmd = countersign(home, crash);
    if let Some(clock) = clock {
        cmd.env("COUNTERSIGN_TEST_CLOCK", clock);
    }
    let mut child = cmd
        .args(["--name", "crash", "--policy", policy.to_str().unwrap(), "--approval-timeout", "1", "--audit-dir"])
        .arg(home.join("audit"))
        .arg("--")
        .args(support::fake_server())
        .arg("--log")
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // No terminal and no console: a held call becomes a pending approval.
    let mut stdin = child.stdin.take().unwrap();
    let (tx, answers) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str(&line).unwrap_or(Value::Null));
        }
    });
    let call = |id: u64, tool: &str| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"path":format!("/{run}")}}});
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"crash","version":"1"}}});
    let steps = [
        init,
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        call(2, "delete_file"),
        call(3, "plain"),
        call(4, "echo"),
    ];
    for step in steps {
        let id = step.get("id").cloned();
        if writeln!(stdin, "{step}").is_err() {
            break;
        }
        let Some(id) = id else { continue };
        // Each answer before the next step; nothing more comes once the wrapper died.
        loop {
            match answers.recv_timeout(Duration::from_secs(10)) {
                Ok(answer) if answer["id"] == id => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
    }
    drop(stdin);
    child.wait().unwrap()
}

/// What must hold after a crash and a restart.
fn check_after(home: &Path, at: &str) {
    let audit = home.join("audit");
    let (code, out, err) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{at}: {out}{err}");
    let records = audit_records(&audit);
    for log in ["server-crashed.log", "server-again.log"] {
        let ran = std::fs::read_to_string(home.join(log)).unwrap_or_default();
        // Write-ahead covers every call that is not read-only (PRODUCT.md section 7): a
        // read-only call is forwarded at once and recorded just after, so a crash in
        // between may lose its record (docs/audit.md, "Crash points").
        for line in ran.lines().filter(|l| l.contains("\"tools/call\"") && !l.contains("\"echo\"")) {
            let call: Value = serde_json::from_str(line).unwrap();
            let (id, path) = (call["id"].to_string(), call["params"]["arguments"]["path"].clone());
            let decided = records.iter().any(|r| {
                r["event"] == "decision"
                    && r["decision"] == "allow"
                    && r["request_id"].as_str() == Some(&id)
                    && r["args"]["path"] == path
            });
            assert!(decided, "{at}: call {id} ({path}) ran without its decision on disk");
        }
    }
    for what in [&["pending"][..], &["pins"][..]] {
        let out = countersign(home, None).args(what).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{at}: countersign {what:?} cannot load what the crash left: {err}");
    }
}

fn points(count: &Path) -> Vec<String> {
    std::fs::read_to_string(count).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn a_wrapper_killed_at_any_durable_step_loses_nothing() {
    let dir = home();
    let count = dir.path().join("points");
    session(dir.path(), "crashed", Some(&format!("count:{}", count.display())));
    let names = points(&count);
    for file in ["audit: day file", "audit: head anchor", "approvals.json: rename", "crash.json: rename"] {
        assert!(names.iter().any(|n| n.starts_with(file)), "no point at {file}: {names:?}");
    }
    // How many points a run has depends on how its records fall into batches (timing):
    // point after point until a run ends by itself, which proves all were walked.
    let mut n = 0;
    loop {
        n += 1;
        assert!(n < 200, "a run with more than 200 crash points");
        let dir = home();
        let crashed = session(dir.path(), "crashed", Some(&format!("at:{n}")));
        use std::os::unix::process::ExitStatusExt;
        if crashed.signal() != Some(9) {
            break;
        }
        // Started again: the next record repairs what the crash left.
        session(dir.path(), "again", None);
        check_after(dir.path(), &format!("crash at point {n}"));
    }
    assert!(n > names.len() / 2, "walked {n} points, a counted run had {}", names.len());
    eprintln!("walked {} crash points of a wrapper session (one counted run: {names:?})", n - 1);
}

#[test]
fn install_killed_at_any_durable_step_leaves_the_original_or_the_edit() {
    let original = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/install/cursor.json")).unwrap();
    let install = |home: &Path, crash: Option<&str>| {
        let config = home.join("mcp.json");
        countersign(home, crash).env("HOME", home).args(["install", "--config"]).arg(&config).output().unwrap()
    };
    let clean = home();
    std::fs::write(clean.path().join("mcp.json"), &original).unwrap();
    assert!(install(clean.path(), None).status.success());
    let edited = std::fs::read(clean.path().join("mcp.json")).unwrap();
    assert_ne!(edited, original);

    let count = clean.path().join("points");
    let fresh = home();
    std::fs::write(fresh.path().join("mcp.json"), &original).unwrap();
    install(fresh.path(), Some(&format!("count:{}", count.display())));
    let names = points(&count);
    assert!(names.iter().any(|n| n.contains("rename")), "{names:?}");
    for (n, name) in names.iter().enumerate() {
        let n = n + 1;
        let at = format!("crash at point {n} ({name})");
        let dir = home();
        let config = dir.path().join("mcp.json");
        std::fs::write(&config, &original).unwrap();
        let crashed = install(dir.path(), Some(&format!("at:{n}")));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(crashed.status.signal(), Some(9), "{at}: reached");
        let now = std::fs::read(&config).unwrap();
        assert!(now == original || now == edited, "{at}: the config is neither the original nor the edit");
        let backup = dir.path().join("mcp.json.countersign.bak");
        if let Ok(saved) = std::fs::read(&backup) {
            assert_eq!(saved, original, "{at}: the backup is not the original");
        }
        // And install again finishes the job.
        let again = install(dir.path(), None);
        assert!(again.status.success(), "{at}: {}", String::from_utf8_lossy(&again.stderr));
        assert_eq!(std::fs::read(&config).unwrap(), edited, "{at}");
        assert_eq!(std::fs::read(&backup).unwrap(), original, "{at}: the backup after a second install");
    }
    eprintln!("walked {} crash points of install", names.len());
}

/// A state with a sealing key and a finished day (2020-01-01) not sealed yet: the next
/// wrapper to start seals it.
fn finished_day_to_seal() -> tempfile::TempDir {
    let dir = home();
    let key = countersign(dir.path(), None).args(["audit", "keygen"]).output().unwrap();
    assert!(key.status.success(), "{}", String::from_utf8_lossy(&key.stderr));
    session_at(dir.path(), "before", None, Some("2020-01-01T12:00:00Z"));
    dir
}

#[test]
fn sealing_a_finished_day_killed_at_any_step_is_finished_by_the_next_start() {
    let dir = finished_day_to_seal();
    let count = dir.path().join("points");
    session(dir.path(), "crashed", Some(&format!("count:{}", count.display())));
    let names = points(&count);
    let seal_points: Vec<usize> =
        names.iter().enumerate().filter(|(_, n)| n.starts_with("seal:")).map(|(i, _)| i + 1).collect();
    // Four per seal written (write, fsync, rename, directory fsync); a run may write more
    // than one.
    assert!(seal_points.len() >= 4 && seal_points.len() % 4 == 0, "{names:?}");
    let seal = |dir: &Path| dir.join("audit/2020-01-01.jsonl.minisig");
    assert!(seal(dir.path()).exists(), "the counted run sealed the finished day");
    for &n in &seal_points {
        let at = format!("crash at point {n} ({})", names[n - 1]);
        let dir = finished_day_to_seal();
        let crashed = session(dir.path(), "crashed", Some(&format!("at:{n}")));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(crashed.signal(), Some(9), "{at}: reached");
        // Whatever the crash left (no seal, or the whole seal), verify never calls it
        // broken; the next start seals the day if it was not.
        let audit = dir.path().join("audit");
        let (code, out, err) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
        assert_eq!(code, 0, "{at}: {out}{err}");
        session(dir.path(), "again", None);
        check_after(dir.path(), &at);
        assert!(seal(dir.path()).exists(), "{at}: the day was sealed by the next start");
    }
    eprintln!("walked {} crash points of sealing", seal_points.len());
}
