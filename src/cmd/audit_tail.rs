//! `countersign audit tail`: recent records for people (or JSON for scripts), optionally
//! following new ones.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;

use super::approvals::list::short_digest;
use crate::cli::DecisionFilter;
use crate::core::policy::Pattern;
use crate::core::sanitize::{inert_cut, json_escaped};
use crate::edge::audit_log::day_files;
use crate::Error;

pub(super) struct Options {
    pub dir: Option<PathBuf>,
    pub follow: bool,
    pub tool: Option<String>,
    pub server: Option<String>,
    pub decision: Option<DecisionFilter>,
    pub json: bool,
    pub lines: usize,
}

pub(super) fn run(opts: Options) -> Result<i32, Error> {
    let dir = match &opts.dir {
        Some(d) => d.clone(),
        None => super::default_audit_dir()?,
    };
    let glob = |flag: &str, g: &Option<String>| match g {
        Some(g) => Pattern::new(g, false).map(Some).map_err(|e| Error::Usage(format!("{flag}: {e}"))),
        None => Ok(None),
    };
    let (tool, server) = (glob("--tool", &opts.tool)?, glob("--server", &opts.server)?);
    let color = !opts.json && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let keep = |r: &Json| {
        let matches =
            |g: &Option<Pattern>, key: &str| g.as_ref().is_none_or(|g| r[key].as_str().is_some_and(|v| g.is_match(v)));
        let decision_ok = match opts.decision {
            None => true,
            Some(DecisionFilter::Allow) => r["decision"] == "allow",
            Some(DecisionFilter::Deny) => r["decision"] == "deny",
        };
        matches(&tool, "tool") && matches(&server, "server") && decision_ok
    };
    let mut out = std::io::stdout().lock();
    let mut show = |line: &[u8]| -> Result<(), Error> {
        let Ok(record) = serde_json::from_slice::<Json>(line) else {
            return Ok(());
        };
        if !keep(&record) {
            return Ok(());
        }
        let text = if opts.json { inert_json(line, &record) } else { readable(&record, color) };
        writeln!(out, "{text}").map_err(Error::Stdout)
    };

    if !dir.is_dir() && !opts.follow {
        let mut err = std::io::stdout().lock();
        writeln!(
            err,
            "no audit records yet: {} does not exist (countersign writes there on its first run)",
            dir.display()
        )
        .map_err(Error::Stdout)?;
        return Ok(0);
    }
    // Read every day file once, streamed, keeping the last N matching records.
    let names = if dir.is_dir() {
        day_files(&dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
    } else {
        Vec::new()
    };
    if names.is_empty() && !opts.follow {
        writeln!(out, "no audit records yet in {}", dir.display()).map_err(Error::Stdout)?;
        return Ok(0);
    }
    let mut recent: VecDeque<Vec<u8>> = VecDeque::new();
    let mut position = (String::new(), 0u64);
    let mut line = Vec::new();
    for name in &names {
        let file = File::open(dir.join(name)).map_err(|e| Error::io(format!("reading {name}"), e))?;
        let mut reader = BufReader::with_capacity(64 << 10, file);
        let mut complete = 0u64;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(|e| Error::io(format!("reading {name}"), e))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            complete += n as u64;
            line.pop();
            if serde_json::from_slice::<Json>(&line).is_ok_and(|r| keep(&r)) {
                recent.push_back(line.clone());
                if recent.len() > opts.lines {
                    recent.pop_front();
                }
            }
        }
        position = (name.clone(), complete);
    }
    for line in &recent {
        show(line)?;
    }
    if !opts.follow {
        return Ok(0);
    }
    if recent.is_empty() && std::io::stderr().is_terminal() {
        // Said on the terminal only: stdout stays the records alone.
        let state = if dir.is_dir() { "no records yet in" } else { "no such directory (yet):" };
        let _ = writeln!(std::io::stderr(), "{state} {}: waiting for new records (Ctrl-C stops)", dir.display());
    }
    // Follow: read only what was appended since, from where the last read stopped.
    let mut current: Option<(String, BufReader<File>)> = None;
    if !position.0.is_empty() {
        if let Ok(mut file) = File::open(dir.join(&position.0)) {
            if file.seek(SeekFrom::Start(position.1)).is_ok() {
                current = Some((position.0.clone(), BufReader::new(file)));
            }
        }
    }
    let mut partial = Vec::new();
    loop {
        if let Some((_, reader)) = current.as_mut() {
            // A writer recovering from a failed write cuts an unfinished record off the
            // end: start again from the new end rather than mid-record.
            let len = reader.get_ref().metadata().map_or(u64::MAX, |m| m.len());
            let at = reader.stream_position().unwrap_or(0);
            if len < at {
                partial.clear();
                let _ = reader.seek(SeekFrom::Start(len));
            }
            loop {
                let n = reader.read_until(b'\n', &mut partial).unwrap_or(0);
                if n == 0 || partial.last() != Some(&b'\n') {
                    break;
                }
                partial.pop();
                show(&partial)?;
                partial.clear();
            }
        }
        // A newer day file: finish this one (above), then move on.
        let newer =
            day_files(&dir).unwrap_or_default().into_iter().find(|n| current.as_ref().is_none_or(|(name, _)| n > name));
        match newer {
            Some(name) if partial.is_empty() => {
                if let Ok(file) = File::open(dir.join(&name)) {
                    current = Some((name, BufReader::new(file)));
                }
                continue;
            }
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// A raw record line as JSON that is safe on a terminal: C1, bidi, zero-width and the
/// other characters `sanitize::is_unsafe` names written as `\uXXXX` escapes (valid JSON, the
/// same value). A line with raw controls outside its strings is written anew.
fn inert_json(line: &[u8], record: &Json) -> String {
    let text = String::from_utf8_lossy(line);
    let text = if text.chars().any(|c| c < ' ') { Cow::Owned(record.to_string()) } else { text };
    json_escaped(&text).into_owned()
}

/// One tool of a `tools` record: its class, and what its pin says when it is news (a
/// new, changed or accepted definition; `same` says nothing).
fn tool_shown(t: &Json) -> String {
    let name = inert_cut(t["name"].as_str().unwrap_or("?"), 40);
    let short = |key: &str| short_digest(t[key].as_str().unwrap_or("?"));
    let class = t["class"].as_str().map(|c| format!("={c}")).unwrap_or_default();
    match t["pin"].as_str() {
        Some("new") => format!("{name}{class} (new, pinned)"),
        Some("changed") => {
            // Listed as pinned, but another definition seen earlier was never accepted.
            let seen = t.get("seen_digest").map(|_| format!(", not accepted {}", short("seen_digest")));
            let (pinned, listed) = (short("pinned_digest"), short("listed_digest"));
            format!("{name}{class} (CHANGED: pinned {pinned}, listed {listed}{})", seen.unwrap_or_default())
        }
        Some("accepted") => format!("{name} (accepted: {} -> {})", short("pinned_digest"), short("accepted_digest")),
        _ => format!("{name}{class}"),
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
            short_digest(r["digest"].as_str().unwrap_or("")),
            r["is_error"],
            r["duration_ms"],
            r["bytes"]
        ),
        Some("rejected") => paint("33", &format!("from {}: {}", s("from"), s("reason"))),
        Some("client") => inert_cut(&format!("{} protocol {}", r["client"], r["protocol"]), 120),
        Some("tools") => {
            let tools = r["tools"].as_array().map(Vec::as_slice).unwrap_or_default();
            let mut words: Vec<String> = tools.iter().map(tool_shown).collect();
            if r["pins"] == "forgotten" {
                words.push("pins forgotten".to_owned());
            }
            if let Some(by) = r["by"].as_str() {
                words.push(format!("by {}", inert_cut(by, 60)));
            }
            let text = words.join(" ");
            if tools.iter().any(|t| t["pin"] == "changed") {
                paint("33", &text)
            } else {
                text
            }
        }
        Some("session_start") => inert_cut(&r["argv"].to_string(), 120),
        Some("session_end") => format!("exit {} {}", r["exit_status"], r["counts"]),
        Some("approval") => {
            let digest = r["digest"].as_str().map(|d| format!("{} ", short_digest(d))).unwrap_or_default();
            let expires = r["expires"].as_str().map(|e| format!(" until {}", inert_cut(e, 40))).unwrap_or_default();
            format!("{} {} {} {digest}by {}{expires}", s("action"), s("id"), s("tool"), s("by"))
        }
        _ => String::new(),
    };
    // The operator's reason, a lease granted, what replaced a lease: the record's own words.
    let detail = match r["event"].as_str() {
        Some("decision" | "approval") => {
            r["detail"].as_str().map(|d| format!(" — {}", inert_cut(d, 160))).unwrap_or_default()
        }
        _ => String::new(),
    };
    format!("{} {body}{detail}", paint("2", &head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tools_record_reads_as_words_with_short_digests() {
        let pinned = format!("sha256:{}", "a".repeat(64));
        let r = serde_json::json!({"event": "tools", "seq": 3, "ts": "2026-11-30T10:00:00.000000Z", "server": "fs",
            "tools": [{"name": "wipe", "class": "destructive", "pin": "changed", "pinned_digest": pinned, "listed_digest": "sha256:b"}],
            "pins": "forgotten", "by": "operator:me@cli"});
        let line = readable(&r, false);
        assert!(
            line.ends_with("wipe=destructive (CHANGED: pinned sha256:aaaaaaaaaaaa…, listed sha256:b) pins forgotten by operator:me@cli"),
            "{line}"
        );
    }
}
