//! `countersign demo-server` (hidden): a small, scriptable MCP server for the demo, the
//! tests and the benchmark. Speaks both eras (answers `initialize`, and stateless requests
//! with `_meta`), with tools of every class and switches for misbehaviour. Its tools touch
//! nothing: `delete_file` deletes nothing.
//!
//! Flags:
//!   --log FILE          append every line received to FILE (what really reached the server)
//!   --audit-dir DIR     `delete_file` reports whether its decision was already on disk
//!   --paginate          `tools/list` gives one tool per page
//!   --garbage           write a non-JSON line before every answer
//!   --flood N           send N log notifications at start
//!   --no-read           never read stdin (back-pressure)
//!   --ignore-term       ignore SIGTERM
//!   --exit-code N       exit with N when stdin closes
//!   --list-changed      after the first tools/call, mark `read_file` destructive and notify
//!   --slow-list MS      wait MS milliseconds before answering `tools/list`
//!   --stderr TEXT       write TEXT to stderr at start
//!   --tools FILE        list the tools FILE holds, read again at every `tools/list`: a
//!                       JSON array of pages, each an array of tool definitions (the
//!                       cursor of page N is "N"); any tool listed there answers a call
//!
//! Tool `ask_client` sends the client a `sampling/createMessage` request with id 1 (the id
//! a client request may use at the same time) and answers with what the client replied.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]
// The demo server is a test fixture: a broken pipe to its client ends it.
#![allow(clippy::unwrap_used)]
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufWriter, Write};
use std::time::Duration;

use serde_json::{json, Value};

#[derive(Default)]
struct Opts {
    log: Option<String>,
    audit_dir: Option<String>,
    paginate: bool,
    garbage: bool,
    flood: usize,
    no_read: bool,
    ignore_term: bool,
    exit_code: i32,
    list_changed: bool,
    slow_list: u64,
    stderr: Option<String>,
    tools: Option<String>,
}

fn tools(changed: bool) -> Vec<Value> {
    let read_only = json!({"readOnlyHint": !changed, "destructiveHint": changed});
    vec![
        json!({"name":"read_file","title":"Read a file","description":"reads","inputSchema":{"type":"object"},"annotations":read_only}),
        json!({"name":"write_note","description":"writes","inputSchema":{"type":"object"},"annotations":{"destructiveHint":false}}),
        json!({"name":"delete_file","title":"Delete a file","inputSchema":{"type":"object"},"annotations":{"destructiveHint":true}}),
        json!({"name":"plain","inputSchema":{"type":"object"}}),
        json!({"name":"echo","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}),
        json!({"name":"big","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}),
        json!({"name":"slow","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}),
        json!({"name":"crash","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}),
    ]
}

pub(super) fn run(args: Vec<String>) -> i32 {
    let mut o = Opts::default();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--log" => o.log = args.next(),
            "--audit-dir" => o.audit_dir = args.next(),
            "--paginate" => o.paginate = true,
            "--garbage" => o.garbage = true,
            "--flood" => o.flood = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            "--no-read" => o.no_read = true,
            "--ignore-term" => o.ignore_term = true,
            "--exit-code" => o.exit_code = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            "--list-changed" => o.list_changed = true,
            "--slow-list" => o.slow_list = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            "--stderr" => o.stderr = args.next(),
            "--tools" => o.tools = args.next(),
            other => {
                tracing::error!("demo-server: unknown flag {other}");
                return crate::EXIT_FAILURE;
            }
        }
    }
    if o.ignore_term {
        // SAFETY: setting a signal disposition to ignore.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        }
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for i in 0..o.flood {
        let n = json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":format!("flood {i}")}});
        writeln!(out, "{n}").unwrap();
    }
    out.flush().unwrap();
    if o.no_read {
        std::thread::sleep(Duration::from_secs(3600));
    }
    let mut log = o.log.as_ref().map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap());
    let mut changed = false;
    if let Some(text) = &o.stderr {
        let _ = writeln!(std::io::stderr(), "{text}");
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().split(b'\n');
    while let Some(line) = lines.next() {
        let Ok(line) = line else { break };
        if let Some(f) = log.as_mut() {
            f.write_all(&line).unwrap();
            f.write_all(b"\n").unwrap();
        }
        let Ok(msg) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        let Some(id) = msg.get("id").cloned() else {
            continue;
        };
        let Some(method) = msg["method"].as_str() else {
            continue;
        };
        let stateless = msg["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"].is_string();
        let mut result = match method {
            "initialize" => json!({
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {"listChanged": true}},
                "serverInfo": {"name": "fake", "version": "1"}
            }),
            "tools/list" => {
                std::thread::sleep(Duration::from_millis(o.slow_list));
                let all = tools(changed);
                let at: usize = msg["params"]["cursor"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0);
                if let Some(file) = &o.tools {
                    let pages: Vec<Value> = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
                    let mut page = json!({ "tools": pages[at] });
                    if at + 1 < pages.len() {
                        page["nextCursor"] = json!((at + 1).to_string());
                    }
                    page
                } else if o.paginate {
                    let mut page = json!({"tools": [all[at].clone()]});
                    if at + 1 < all.len() {
                        page["nextCursor"] = json!((at + 1).to_string());
                    }
                    page
                } else {
                    json!({ "tools": all })
                }
            }
            "tools/call" => {
                let name = msg["params"]["name"].as_str().unwrap_or("");
                let args = &msg["params"]["arguments"];
                let text = match name {
                    "big" => "x".repeat(args["size"].as_u64().unwrap_or(1000) as usize),
                    "slow" => {
                        std::thread::sleep(Duration::from_millis(args["ms"].as_u64().unwrap_or(100)));
                        "slept".into()
                    }
                    "ask_client" => {
                        let ask = json!({"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":1}});
                        writeln!(out, "{ask}").unwrap();
                        out.flush().unwrap();
                        let reply = lines.next().and_then(Result::ok).unwrap_or_default();
                        if let Some(f) = log.as_mut() {
                            f.write_all(&reply).and_then(|_| f.write_all(b"\n")).unwrap();
                        }
                        format!("client said {}", String::from_utf8_lossy(&reply))
                    }
                    "crash" => {
                        out.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":").unwrap();
                        out.flush().unwrap();
                        std::process::exit(3)
                    }
                    "delete_file" => match &o.audit_dir {
                        Some(dir) => {
                            format!("decision on disk before execution: {}", audit_has(dir, &id))
                        }
                        None => format!("deleted {}", args["path"]),
                    },
                    _ => format!("{name} ran with {args}"),
                };
                if o.list_changed && !changed {
                    changed = true;
                    writeln!(out, r#"{{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}}"#).unwrap();
                }
                json!({"content": [{"type": "text", "text": text}], "isError": false})
            }
            "ping" => json!({}),
            // Never answered: a request stays in flight.
            "test/hang" => continue,
            _ => {
                let e = json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"method not found"}});
                writeln!(out, "{e}").unwrap();
                out.flush().unwrap();
                continue;
            }
        };
        if stateless {
            result["resultType"] = json!("complete");
        }
        if o.garbage {
            writeln!(out, "this is not json").unwrap();
        }
        writeln!(out, "{}", json!({"jsonrpc":"2.0","id":id,"result":result})).unwrap();
        out.flush().unwrap();
    }
    o.exit_code
}

/// Is there a `decision` record for request `id` in the audit directory already?
fn audit_has(dir: &str, id: &Value) -> bool {
    let want = id.to_string();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        std::fs::read_to_string(e.path()).is_ok_and(|text| {
            text.lines().any(|l| {
                serde_json::from_str::<Value>(l)
                    .is_ok_and(|r| r["event"] == "decision" && r["request_id"].as_str() == Some(&want))
            })
        })
    })
}
