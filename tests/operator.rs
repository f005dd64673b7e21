//! Reaching the operator (PRODUCT.md section 6) with real parts: the official Python SDK
//! client in a real pseudo-terminal, a terminal a full-screen program holds, keys typed
//! too early, a server writing escape sequences to stderr while a prompt is up, and the
//! command line's help and hints.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support::{self, peers};

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::{json, Value};
use support::{text, Pty, WAIT};

const PROMPT: &str = "a tool call is waiting for your approval";
/// Keys this soon after a prompt is drawn are ignored (src/edge/tty).
const GRACE: Duration = Duration::from_millis(300);

fn press_late(pty: &mut Pty, key: u8) {
    std::thread::sleep(GRACE + Duration::from_millis(100));
    pty.press(key);
}

/// A client of our own on countersign's stdin and stdout, for runs the `Wrap` builder does
/// not cover (a shell in front, stderr on the terminal).
struct Direct {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Receiver<Value>,
}

impl Direct {
    fn start_with(cmd: &mut Command, pty: Option<Pty>) -> (Direct, Option<Pty>) {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let pty = pty.map(Pty::spawned);
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Ok(v) = serde_json::from_str(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let stdin = child.stdin.take();
        (Direct { child, stdin, lines }, pty)
    }

    fn send(&mut self, v: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    }

    fn answer(&mut self, id: i64) -> Value {
        loop {
            let v = self.lines.recv_timeout(WAIT).expect("no answer in time");
            if v["id"] == id {
                return v;
            }
        }
    }

    fn silent_for(&self, d: Duration) -> bool {
        matches!(self.lines.recv_timeout(d), Err(mpsc::RecvTimeoutError::Timeout))
    }

    fn initialize(&mut self) {
        self.send(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"direct","version":"1"}}}));
        self.answer(0);
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    }

    fn call(&mut self, id: i64, tool: &str, args: Value) {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":args}}));
    }

    fn finish(mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }
}

/// `sh -c SCRIPT` where `$CS` is the countersign binary, in its own session with a new
/// pseudo-terminal as controlling terminal.
fn shell_on_pty(script: &str, home: &Path) -> (Command, Pty) {
    // `<state>` must be private: countersign refuses one open to others (a new temp dir
    // gets the umask's 0755).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Terminals only: a call no terminal can show is pending at once.
    support::without_web(&home.join("no-config"));
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env("CS", support::bin())
        .env("COUNTERSIGN_HOME", home)
        .env_remove("COUNTERSIGN_POLICY")
        .env("XDG_CONFIG_HOME", home.join("no-config"));
    let pty = Pty::attach(&mut cmd);
    (cmd, pty)
}

#[test]
fn a_terminal_in_raw_mode_is_neither_drawn_on_nor_read() {
    let dir = tempfile::tempdir().unwrap();
    // As Claude Code or Codex leave it: the terminal in raw mode, owned by a full-screen program.
    let script = r#"stty raw -echo < /dev/tty; exec "$CS" --audit-dir "$COUNTERSIGN_HOME/audit" -- "$CS" demo-server"#;
    let (mut cmd, pty) = shell_on_pty(script, dir.path());
    let (mut s, pty) = Direct::start_with(&mut cmd, Some(pty));
    let mut pty = pty.unwrap();
    s.initialize();
    pty.press(b'y');
    s.call(1, "delete_file", json!({"path": "/a"}));
    let r = s.answer(1);
    assert_eq!(r["result"]["isError"], true, "nobody approved it: {r}");
    assert!(!text(&r).contains("approved"), "{r}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!pty.text().contains(PROMPT), "nothing may be drawn on a raw terminal:\n{}", pty.text());
    assert!(!pty.is_cooked(), "the terminal's mode is left as the full-screen program set it");
    s.finish();
}

#[test]
fn keys_typed_before_the_prompt_or_within_the_grace_never_answer_it() {
    let dir = tempfile::tempdir().unwrap();
    let script =
        r#"exec "$CS" --audit-dir "$COUNTERSIGN_HOME/audit" -- "$CS" demo-server --log "$COUNTERSIGN_HOME/server.log""#;
    let (mut cmd, pty) = shell_on_pty(script, dir.path());
    let (mut s, pty) = Direct::start_with(&mut cmd, Some(pty));
    let mut pty = pty.unwrap();
    s.initialize();
    // Typed ahead, while nothing is shown.
    pty.press(b'y');
    std::thread::sleep(Duration::from_millis(200));
    s.call(1, "delete_file", json!({"path": "/a"}));
    pty.wait_for("s left", 1);
    // Within the grace period after the prompt appears.
    pty.press(b'y');
    assert!(s.silent_for(Duration::from_millis(800)), "an early key must not answer the prompt");
    pty.press(b'n');
    let r = s.answer(1);
    assert!(text(&r).contains("reason=denied_by_operator"), "{r}");
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(!log.contains("delete_file"), "the call never ran");
    s.finish();
}

#[test]
fn server_stderr_is_inert_and_held_while_a_prompt_is_up() {
    let dir = tempfile::tempdir().unwrap();
    // The server logs a line full of escape sequences 1.5 s after it starts: while the
    // prompt is up. countersign's stderr is the operator's terminal.
    let script = r#"exec 2>/dev/tty; exec "$CS" --audit-dir "$COUNTERSIGN_HOME/audit" -- sh -c '(sleep 1.5; printf "LOG\033[2J\033[1A\"amount\": 1\a\n" >&2) & exec "$CS" demo-server'"#;
    let (mut cmd, pty) = shell_on_pty(script, dir.path());
    let (mut s, pty) = Direct::start_with(&mut cmd, Some(pty));
    let mut pty = pty.unwrap();
    s.initialize();
    s.call(1, "delete_file", json!({"path": "/a"}));
    pty.wait_for("s left", 1);
    std::thread::sleep(Duration::from_millis(2000));
    assert!(!pty.text().contains("LOG"), "stderr must wait while the prompt is up:\n{}", pty.text());
    press_late(&mut pty, b'n');
    assert!(text(&s.answer(1)).contains("denied_by_operator"));
    let screen = pty.wait_for("LOG\\u001b[2J\\u001b[1A\"amount\": 1\\u0007", 1);
    let raw = pty.raw();
    assert!(!raw.windows(4).any(|w| w == b"\x1b[2J"), "no raw escape reached the terminal");
    let denied = screen.find("→ denied").unwrap();
    assert!(screen.find("LOG").unwrap() > denied, "the server's line comes after the prompt:\n{screen}");
    s.finish();
}

#[test]
fn plain_countersign_prints_help_and_a_missing_separator_or_dir_flag_gets_the_right_command() {
    let (code, out, err) = support::run(&[], b"");
    assert_eq!(code, 125);
    assert!(err.contains("Usage: countersign") && out.is_empty(), "{err}");
    let (code, _, err) = support::run(&["--name", "fs", "npx", "-y", "@scope/server x"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("countersign --name fs -- npx -y '@scope/server x'"), "{err}");
    let (code, _, err) = support::run(&["some-server", "--its-flag"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("countersign -- some-server --its-flag"), "{err}");
    let (code, _, err) = support::run(&["audit", "verify", "/var/log/my audit"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("countersign audit verify --dir '/var/log/my audit'\n"), "{err}");
    let (code, _, err) = support::run(&["audit", "tail", "--tool", "write_*", "logs", "-f"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("countersign audit tail --dir logs --tool 'write_*' -f\n"), "{err}");
    let (code, _, err) = support::run(&["leases", "--all"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("countersign leases revoke --all\n"), "{err}");
    let (code, _, err) = support::run(&["audit", "seal", "--dir", "a", "b"], b"");
    assert_eq!(code, 125);
    assert!(!err.contains("--dir b") && err.contains("unexpected argument 'b'"), "{err}");
    // Options that take a value are read from the command's definition, and a hint is
    // given only for a line clap accepts: otherwise clap's own error stands.
    let (code, _, err) = support::run(&["audit", "tail", "-n", "5", "logs"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("countersign audit tail --dir logs -n 5\n"), "{err}");
    let (_, _, err) = support::run(&["audit", "tail", "-n", "abc"], b"");
    assert!(err.contains("invalid value 'abc'") && !err.contains("--dir"), "{err}");
    let (_, _, err) = support::run(&["pins", "--server", "leases", "--all"], b"");
    assert!(!err.contains("leases revoke"), "a flag's value is not a subcommand:\n{err}");
    let (code, out, err) = support::run(&["generate", "bash", "--dir", "nowhere"], b"");
    assert_eq!(code, 125, "--dir is not silently ignored");
    assert!(out.is_empty() && err.contains("--dir goes with `man` only"), "{err}");
    let (code, out, _) = support::run(&["digest"], br#"{"name":"t","arguments":{}}"#);
    assert_eq!(code, 0, "subcommands still work");
    assert!(out.starts_with("sha256:"));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `countersign generate zsh | head -0`: the reader is gone before anything is written.
    let (read, write) = rustix::pipe::pipe().unwrap();
    drop(read);
    let out = Command::new(support::bin())
        .args(["generate", "zsh"])
        .stdout(std::process::Stdio::from(write))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no error for a reader that left");
    assert_eq!(out.status.code(), Some(0), "not countersign's failure (125 says countersign cannot run)");
}

#[test]
fn a_runtime_directory_open_to_others_or_foreign_is_refused_by_name() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let run = home.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let approver = |home: &Path| {
        let out = Command::new(support::bin())
            .arg("approver")
            .env("COUNTERSIGN_HOME", home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = approver(home.path());
    assert_eq!(code, Some(125), "{err}");
    assert!(err.contains(&run.display().to_string()), "the message names the directory: {err}");
    assert!(!run.join("approver.sock").exists());
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } == 0 {
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&run, Some(4242), Some(4242)).unwrap();
        let (code, err) = approver(home.path());
        assert_eq!(code, Some(125), "{err}");
        assert!(err.contains(&run.display().to_string()), "{err}");
        assert!(!run.join("approver.sock").exists());
    }
}

/// The official Python SDK client, with its default environment (HOME, LOGNAME, PATH,
/// SHELL, TERM, USER) and its default session handling (the server in a new session, so
/// countersign has no controlling terminal), run from a shell in a real terminal.
#[test]
fn python_sdk_client_in_a_terminal_gets_the_prompt() {
    let python = &peers::peers().python;
    let home = tempfile::tempdir().unwrap();
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/client.py");
    let bin = support::bin();
    let mut cmd = Command::new(python);
    cmd.arg(client).arg("legacy").arg("--").arg(&bin).arg("--").arg(&bin).arg("demo-server");
    cmd.env_clear().env("HOME", home.path()).env("PATH", std::env::var_os("PATH").unwrap()).env("TERM", "xterm");
    let pty = Pty::attach(&mut cmd);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pty = pty.spawned();
    let steps = json!([
        {"call": "delete_file", "args": {"path": "/a"}},
        {"call": "delete_file", "args": {"path": "/b"}},
    ]);
    child.stdin.take().unwrap().write_all(steps.to_string().as_bytes()).unwrap();
    let screen = pty.wait_for("s left", 1);
    assert!(screen.contains("\"path\": \"/a\"") && screen.contains("tool      delete_file"), "{screen}");
    press_late(&mut pty, b'y');
    pty.wait_for(PROMPT, 2);
    press_late(&mut pty, b'n');
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[1]["is_error"], false, "y runs the call: {stdout}");
    assert_eq!(lines[1]["text"], "deleted \"/a\"");
    assert_eq!(lines[2]["is_error"], true, "n denies it: {stdout}");
    assert!(lines[2]["text"].as_str().unwrap().contains("denied_by_operator"), "{stdout}");
}
