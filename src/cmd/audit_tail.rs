//! `countersign audit tail`: recent records for people (or JSON for scripts), optionally
//! following new ones.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;

use crate::cli::DecisionFilter;
use crate::core::policy::Pattern;
use crate::core::sanitize::inert_cut;
use crate::edge::audit_log::day_files;
use crate::Error;

pub struct Options {
    pub dir: Option<PathBuf>,
    pub follow: bool,
    pub tool: Option<String>,
    pub decision: Option<DecisionFilter>,
    pub json: bool,
    pub lines: usize,
}

pub fn run(opts: Options) -> Result<i32, Error> {
    let dir = match &opts.dir {
        Some(d) => d.clone(),
        None => super::default_audit_dir()?,
    };
    let tool = match &opts.tool {
        Some(g) => Some(Pattern::new(g, false).map_err(|e| Error::Usage(format!("--tool: {e}")))?),
        None => None,
    };
    let color = !opts.json && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let keep = |r: &Json| {
        let tool_ok = tool.as_ref().is_none_or(|g| r["tool"].as_str().is_some_and(|t| g.is_match(t)));
        let decision_ok = match opts.decision {
            None => true,
            Some(DecisionFilter::Allow) => r["decision"] == "allow",
            Some(DecisionFilter::Deny) => r["decision"] == "deny",
        };
        tool_ok && decision_ok
    };
    let mut out = std::io::stdout().lock();
    let mut show = |line: &[u8]| -> Result<(), Error> {
        let Ok(record) = serde_json::from_slice::<Json>(line) else {
            return Ok(());
        };
        if !keep(&record) {
            return Ok(());
        }
        let text = if opts.json { String::from_utf8_lossy(line).into_owned() } else { readable(&record, color) };
        writeln!(out, "{text}").map_err(|e| Error::io("writing stdout", e))
    };

    // Read every day file once, keep the last N matching records.
    let names = day_files(&dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    let mut recent: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    let mut position = (String::new(), 0u64);
    for name in &names {
        let bytes = std::fs::read(dir.join(name)).map_err(|e| Error::io(format!("reading {name}"), e))?;
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if serde_json::from_slice::<Json>(line).is_ok_and(|r| keep(&r)) {
                recent.push_back(line.to_vec());
                if recent.len() > opts.lines {
                    recent.pop_front();
                }
            }
        }
        position = (name.clone(), bytes.len() as u64);
    }
    for line in &recent {
        show(line)?;
    }
    if !opts.follow {
        return Ok(0);
    }
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let names: Vec<String> = day_files(&dir).unwrap_or_default().into_iter().filter(|n| *n >= position.0).collect();
        for name in &names {
            let Ok(bytes) = std::fs::read(dir.join(name)) else {
                continue;
            };
            let from = if *name == position.0 { position.1 as usize } else { 0 };
            let complete =
                bytes[from.min(bytes.len())..].iter().rposition(|b| *b == b'\n').map_or(from, |i| from + i + 1);
            for line in bytes[from.min(complete)..complete].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                show(line)?;
            }
            position = (name.clone(), complete as u64);
        }
    }
}

/// One record as a line for people. Every value from the log is untrusted text.
fn readable(r: &Json, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let s = |key: &str| inert_cut(r[key].as_str().unwrap_or(""), 80);
    let ts = s("ts");
    let server = s("server");
    let head = format!("{} {:>5} {:<13} {}", ts.get(..19).unwrap_or(&ts), r["seq"], s("event"), server);
    let body = match r["event"].as_str() {
        Some("decision") => {
            let decision = s("decision");
            let painted = paint(if decision == "allow" { "32" } else { "31;1" }, &decision);
            format!(
                "{painted} {} [{}] {} by {} ({} ms) {}",
                s("tool"),
                s("class"),
                s("reason"),
                s("by"),
                r["waited_ms"],
                inert_cut(&r["args"].to_string(), 120)
            )
        }
        Some("result") => format!(
            "{} {} error={} {} ms {} bytes",
            s("tool"),
            s("digest").get(..19).unwrap_or(""),
            r["is_error"],
            r["duration_ms"],
            r["bytes"]
        ),
        Some("rejected") => paint("33", &format!("from {}: {}", s("from"), s("reason"))),
        Some("client") => inert_cut(&format!("{} protocol {}", r["client"], r["protocol"]), 120),
        Some("tools") => {
            let tools: Vec<String> = r["tools"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .map(|t| {
                            format!(
                                "{}={}",
                                inert_cut(t["name"].as_str().unwrap_or("?"), 40),
                                t["class"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            tools.join(" ")
        }
        Some("session_start") => inert_cut(&r["argv"].to_string(), 120),
        Some("session_end") => format!("exit {} {}", r["exit_status"], r["counts"]),
        _ => String::new(),
    };
    format!("{} {body}", paint("2", &head))
}
