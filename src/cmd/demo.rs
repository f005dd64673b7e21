//! `countersign demo`: the built-in demo server behind countersign, driven by a scripted
//! client, so a newcomer sees a pass, a prompt (or a headless denial), a refused sneaky
//! payload, and the audit records they leave.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::Error;

pub(super) fn run(headless: bool, audit_dir: Option<PathBuf>) -> Result<i32, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the countersign binary", e))?;
    let audit = audit_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("countersign-demo-{}", &crate::edge::clock::random_id()[..8]))
    });
    let interactive = !headless && crate::edge::tty::available();
    let mut out = std::io::stdout().lock();
    let mut say = |text: &str| writeln!(out, "{text}").map_err(Error::Stdout);
    say("countersign demo: a small MCP server (fake tools, nothing is touched) behind countersign.\n")?;

    let mut wrapper = Command::new(&exe);
    if headless {
        wrapper.arg("--headless");
    }
    let mut child = Waited(
        wrapper
            .args(["--name", "demo", "--approval-timeout", "60", "--audit-dir"])
            .arg(&audit)
            .arg("--")
            .arg(&exe)
            .arg("demo-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("starting countersign", e))?,
    );
    // Declared after `child`, so dropped before it on every way out: the wrapper sees its
    // stdin close, then the demo waits for it.
    let mut client = Client {
        to: child.0.stdin.take().expect("piped"),
        from: BufReader::new(child.0.stdout.take().expect("piped")),
    };
    let mut call = |id: u64, method: &str, params: Value| {
        client.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(), id)
    };
    let text = |v: &Value| v["result"]["content"][0]["text"].as_str().unwrap_or("").to_owned();

    call(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "countersign-demo", "version": env!("CARGO_PKG_VERSION")}}),
    )?;
    let tools = call(2, "tools/list", json!({}))?;
    say("The server lists these tools (countersign reads their annotations):")?;
    for t in tools["result"]["tools"].as_array().into_iter().flatten().take(4) {
        say(&format!("  {:<12} {}", t["name"].as_str().unwrap_or(""), t["annotations"]))?;
    }

    say("\n1. read_file is read-only: it passes at once.")?;
    say(&format!(
        "   -> {}",
        text(&call(3, "tools/call", json!({"name": "read_file", "arguments": {"path": "notes.txt"}}))?)
    ))?;

    say("\n2. delete_file is destructive: countersign holds it for a human.")?;
    if interactive {
        say("   The prompt appears below, on your terminal. Press y to approve, n to deny, v to view.")?;
    } else if headless {
        say("   Nobody can be asked here (headless), so it is denied and the model is told why.")?;
    } else {
        say("   Nobody can be asked here (no terminal, no console), so it is denied and kept as a")?;
        say("   pending approval: `countersign approve <id>` in a terminal would let it run once.")?;
    }
    let answer =
        call(4, "tools/call", json!({"name": "delete_file", "arguments": {"path": "/home/me/important/report.csv"}}))?;
    say(&format!("   -> {}", text(&answer)))?;

    say("\n3. A sneaky payload: the same key twice, so a server might run another call than the one shown.")?;
    let sneaky = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"read_file","name":"delete_file","arguments":{"path":"/"}}}"#;
    let sneaky = client.send(sneaky, 5)?;
    say(&format!("   -> {}", text(&sneaky)))?;

    drop(client);
    drop(child);
    say(&format!("\nThe audit log ({}):", audit.display()))?;
    let quoted = crate::cli::shell_quote(&audit.to_string_lossy());
    say(&format!("  countersign audit tail --dir {quoted}\n  countersign audit verify --dir {quoted}\n"))?;
    let dir = Some(audit.clone());
    super::audit_tail::run(super::audit_tail::Options {
        dir: dir.clone(),
        follow: false,
        tool: None,
        server: None,
        decision: None,
        json: false,
        lines: 20,
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out).map_err(Error::Stdout)?;
    super::audit_verify::run(dir)?;
    Ok(0)
}

/// The demo's wrapper, waited for however the demo ends (its output closed early, say), so
/// that the demo never exits while its wrapper is still writing the audit log.
struct Waited(std::process::Child);

impl Drop for Waited {
    fn drop(&mut self) {
        let _ = self.0.wait();
    }
}

/// The demo's scripted MCP client.
struct Client {
    to: std::process::ChildStdin,
    from: BufReader<std::process::ChildStdout>,
}

impl Client {
    /// Sends one line as is and waits for the answer with `id`.
    fn send(&mut self, line: &str, id: u64) -> Result<Value, Error> {
        writeln!(self.to, "{line}")
            .and_then(|_| self.to.flush())
            .map_err(|e| Error::io("talking to countersign", e))?;
        loop {
            let mut answer = String::new();
            if self.from.read_line(&mut answer).map_err(|e| Error::io("reading countersign", e))? == 0 {
                return Err(Error::Usage("countersign stopped during the demo".into()));
            }
            let v: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            if v["id"] == json!(id) {
                return Ok(v);
            }
        }
    }
}
