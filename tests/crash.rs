//! Every crash point (PRODUCT.md section 7, issue: nothing lost at any crash point): the
//! wrapper, `countersign install`, the sealing of finished days (`seals`: a wrapper that
//! starts on the next day, `audit keygen`, `audit seal`) and the operator's pin changes
//! (`pins`: `pins accept`, `pins forget`) are killed (SIGKILL) at each durable step of
//! every file they write in turn (`COUNTERSIGN_TEST_CRASH`, src/edge/crash.rs: before each
//! fsync, rename and cut, half-way through each write), then started again. All points
//! are walked, not a sample. After each: `audit verify` passes, before the restart and
//! after it; every call the server ran that is not read-only has its `allow` decision; the
//! approval book and the pins load; seals verify; a config is the original or the edited
//! file byte for byte, its backup the original or absent; a key is whole or absent; an
//! operator's change to the pins is in the log whenever it is in the pins.
#![allow(clippy::unwrap_used)]

mod pins;
mod retention;
mod seals;

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
    cmd.env("COUNTERSIGN_HOME", home)
        .env_remove("COUNTERSIGN_AUDIT_DIR")
        .env_remove("COUNTERSIGN_TEST_CRASH")
        .env_remove("COUNTERSIGN_TEST_CLOCK");
    if let Some(crash) = crash {
        cmd.env("COUNTERSIGN_TEST_CRASH", crash);
    }
    cmd
}

/// How one wrapped session runs.
#[derive(Default)]
struct Run {
    /// Names its server log (`server-<name>.log`) and its calls' paths (`/<name>`).
    name: &'static str,
    /// `COUNTERSIGN_TEST_CRASH`.
    crash: Option<String>,
    /// `COUNTERSIGN_TEST_CLOCK`: the day it runs on.
    clock: Option<&'static str>,
    /// The server changes a tool after the first call (`--list-changed`): the listing at
    /// the end finds it changed.
    list_changed: bool,
    /// `--audit-retention-days`.
    retention_days: Option<u32>,
}

impl Run {
    fn named(name: &'static str) -> Run {
        Run { name, ..Run::default() }
    }

    fn crash(self, crash: impl Into<String>) -> Run {
        Run { crash: Some(crash.into()), ..self }
    }

    fn on(self, clock: &'static str) -> Run {
        Run { clock: Some(clock), ..self }
    }
}

/// One wrapped session: the tools listed (pins), a destructive call a rule allows
/// (write-ahead), a call nobody can be asked about (a pending approval in the book), a
/// read-only call, the tools listed again. Returns when every call was answered or the
/// wrapper died, with how it ended.
fn session(home: &Path, run: Run) -> std::process::ExitStatus {
    let policy = home.join("policy.toml");
    // Nobody waits for the approval page: a call nobody can answer is pending at once.
    let rules =
        "[approvals]\nweb = false\n\n[[rules]]\nid = \"deletes-ok\"\ntool = \"delete_file\"\naction = \"allow\"\n";
    std::fs::write(&policy, rules).unwrap();
    let log = home.join(format!("server-{}.log", run.name));
    let mut cmd = countersign(home, run.crash.as_deref());
    if let Some(clock) = run.clock {
        cmd.env("COUNTERSIGN_TEST_CLOCK", clock);
    }
    cmd.args(["--name", "crash", "--policy", policy.to_str().unwrap(), "--approval-timeout", "1", "--audit-dir"])
        .arg(home.join("audit"))
        .args(run.retention_days.map(|d| format!("--audit-retention-days={d}")))
        .arg("--")
        .args(support::fake_server())
        .arg("--log")
        .arg(&log)
        .args(run.list_changed.then_some("--list-changed"));
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    // No terminal and no console: a held call becomes a pending approval.
    let mut stdin = child.stdin.take().unwrap();
    let (tx, answers) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str(&line).unwrap_or(Value::Null));
        }
    });
    let name = run.name;
    let call = |id: u64, tool: &str| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"path":format!("/{name}")}}});
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"crash","version":"1"}}});
    let steps = [
        init,
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        call(2, "delete_file"),
        call(3, "plain"),
        call(4, "echo"),
        json!({"jsonrpc":"2.0","id":5,"method":"tools/list"}),
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

fn killed(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

/// `audit verify` (with `--key`, the public key file, when given) passes; its report.
fn verified(home: &Path, key: Option<&Path>, at: &str) -> String {
    let audit = home.join("audit");
    let mut args = vec!["audit", "verify", "--dir", audit.to_str().unwrap()];
    if let Some(key) = key {
        args.extend(["--key", key.to_str().unwrap()]);
    }
    let (code, out, err) = run(&args, b"");
    assert_eq!(code, 0, "{at}: {out}{err}");
    out
}

/// What must hold after a crash and a restart. `runs`: the runs whose calls must have
/// their decisions in the log (not those whose days retention removed).
fn check_after(home: &Path, at: &str, runs: &[&str]) {
    let audit = home.join("audit");
    verified(home, None, at);
    let records = audit_records(&audit);
    for run in runs {
        let ran = std::fs::read_to_string(home.join(format!("server-{run}.log"))).unwrap_or_default();
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

/// Every pin on disk has the `tools` record that made it (`new`, or `accepted`), so that
/// the log says when each definition came to be trusted.
fn pins_recorded(home: &Path, at: &str) {
    let Ok(text) = std::fs::read_to_string(home.join("pins/crash.json")) else { return };
    let pins: Value = serde_json::from_str(&text).unwrap();
    // Read before any restart: the last line may be unfinished (verify said so).
    let mut records = Vec::new();
    for day in std::fs::read_dir(home.join("audit")).unwrap().map(|e| e.unwrap().path()) {
        if day.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(day).unwrap();
            records.extend(text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()));
        }
    }
    let listed: Vec<&Value> =
        records.iter().filter(|r| r["event"] == "tools").flat_map(|r| r["tools"].as_array().unwrap()).collect();
    for (tool, pin) in pins["tools"].as_object().unwrap() {
        let digest = &pin["digest"];
        let made = listed.iter().any(|t| {
            t["name"] == tool.as_str()
                && ((t["pin"] == "new" && &t["digest"] == digest)
                    || (t["pin"] == "accepted" && &t["accepted_digest"] == digest))
        });
        assert!(made, "{at}: {tool} is pinned ({digest}) but no record says so");
    }
}

fn points(count: &Path) -> Vec<String> {
    std::fs::read_to_string(count).unwrap().lines().map(str::to_owned).collect()
}

/// The points one run of `crashed` reaches, after `setup`, in order.
fn count_points(setup: impl Fn(&Path), crashed: impl Fn(&Path, String) -> std::process::ExitStatus) -> Vec<String> {
    let dir = home();
    setup(dir.path());
    let count = dir.path().join("points");
    crashed(dir.path(), format!("count:{}", count.display()));
    points(&count)
}

/// What a walk did.
struct Walked {
    /// The points of the counted run, in order.
    counted: Vec<String>,
    /// Points (`k`th time of a name) killed at and checked.
    walked: usize,
    /// The later times of a name that runs after the counted one did not reach again in
    /// three tries (records fall into batches by timing, so a run may write once less).
    unreached: Vec<String>,
}

/// Walks every point of `crashed` that a counted run reaches: for each point, the `k`th
/// time its name is reached, a fresh `<state>` made by `setup`, `crashed` killed there
/// (`on:<k>:<name>`), then `check`. Points are named, not numbered, because threads
/// interleave differently from run to run: the `n`th point of one run is not always the
/// `n`th of the next.
fn walk(
    setup: impl Fn(&Path),
    crashed: impl Fn(&Path, String) -> std::process::ExitStatus,
    check: impl Fn(&Path, &str),
) -> Walked {
    let counted = count_points(&setup, &crashed);
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let (mut walked, mut unreached) = (0, Vec::new());
    for name in &counted {
        let k = *seen.entry(name).and_modify(|k| *k += 1).or_insert(1);
        let at = format!("crash at the {k}. {name:?}");
        let reached = (0..3).any(|_| {
            let dir = home();
            setup(dir.path());
            if !killed(crashed(dir.path(), format!("on:{k}:{name}"))) {
                return false;
            }
            check(dir.path(), &at);
            true
        });
        match reached {
            true => walked += 1,
            false if k > 1 => unreached.push(format!("{k}. {name}")),
            false => panic!("{at}: never reached again"),
        }
    }
    Walked { counted, walked, unreached }
}

impl Walked {
    /// Says what was walked; the counted run reached every one of `points`.
    fn report(&self, what: &str, points: &[&str]) -> usize {
        for point in points {
            assert!(self.counted.iter().any(|n| n == point), "{what}: no point {point:?}: {:?}", self.counted);
        }
        eprintln!(
            "walked {} crash points of {what} ({} not reached again: {:?}): {:?}",
            self.walked,
            self.unreached.len(),
            self.unreached,
            self.counted
        );
        self.walked
    }
}

#[test]
fn a_wrapper_killed_at_any_durable_step_loses_nothing() {
    let walked = walk(
        |_| {},
        |home, crash| session(home, Run::named("crashed").crash(crash)),
        |home, at| {
            // Before anyone starts again: an honest log, at most with notes.
            verified(home, None, at);
            pins_recorded(home, at);
            // Started again: the next record repairs what the crash left.
            session(home, Run::named("again"));
            check_after(home, at, &["crashed", "again"]);
        },
    );
    let points = ["audit: day file", "audit: head anchor", "approvals.json: rename", "crash.json: rename"];
    walked.report("a wrapper session", &points);
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
        assert!(killed(crashed.status), "{at}: reached");
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
