//! Peak memory through the real binary (PRODUCT.md section 8): whatever the shape of a
//! large message — a long string, an array of millions of numbers, an object with millions
//! of keys, nesting at the depth limit — countersign's peak resident memory stays within
//! twice the message plus a small constant, whether the message is a `tools/call` of a
//! read-only tool (forwarded), of a destructive tool (denied headless) or a `ping`; and a
//! small request sent right after a giant one is answered without waiting for anything
//! like a parse of the giant one into a tree.
//!
//! Messages are 64 MiB by default (CI time); `COUNTERSIGN_MEMORY_MIB=100` runs the
//! product's 100 MiB. Every case runs in a fresh process, one after another (the peak,
//! `VmHWM`, is per process, and parallel cases would distort the timings).
#![allow(clippy::unwrap_used)]

use crate::support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Session, Wrap};

const MIB: usize = 1 << 20;
/// What countersign may hold beyond twice the message: its own baseline (runtime,
/// buffers, the tool list, the audit thread).
const BASELINE: usize = 24 * MIB;
/// Longest a small request may wait behind a giant one (generous: reading and checking
/// 100 MiB takes well under a second; a tree of it took tens of seconds).
const STALL: Duration = Duration::from_secs(15);

fn message_size() -> usize {
    std::env::var("COUNTERSIGN_MEMORY_MIB").ok().and_then(|m| m.parse().ok()).unwrap_or(64) * MIB
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    /// One string, with an escape every 64 bytes.
    LongString,
    /// An array of millions of numbers of several spellings.
    Numbers,
    /// An object with millions of short keys.
    ManyKeys,
    /// Many subtrees nested to the depth limit.
    Deep,
}

const SHAPES: [Shape; 4] = [Shape::LongString, Shape::Numbers, Shape::ManyKeys, Shape::Deep];

/// JSON text of about `size` bytes in `shape`. `room` is the nesting the message already
/// uses around the value.
fn value_of(shape: Shape, size: usize, room: usize) -> String {
    let mut out = String::with_capacity(size + 64);
    match shape {
        Shape::LongString => {
            out.push('"');
            let chunk = "a".repeat(62) + "\\n";
            while out.len() < size {
                out.push_str(&chunk);
            }
            out.push('"');
        }
        Shape::Numbers => {
            out.push('[');
            let spellings = ["12345", "-0.5e3", "3.25", "7", "1e21", "-42"];
            let mut i = 0;
            while out.len() < size {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(spellings[i % spellings.len()]);
                i += 1;
            }
            out.push(']');
        }
        Shape::ManyKeys => {
            out.push('{');
            let mut i = 0u64;
            while out.len() < size {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "\"k{i}\":{}", i % 10);
                i += 1;
            }
            out.push('}');
        }
        Shape::Deep => {
            // json::MAX_DEPTH is 256: each subtree goes as deep as the message allows.
            let depth = 256 - room - 1;
            let one = "[".repeat(depth) + "1" + &"]".repeat(depth);
            out.push('[');
            while out.len() < size {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push_str(&one);
            }
            out.push(']');
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Method {
    /// `tools/call` of `slow` (read-only, `ms: 0`): allowed and forwarded.
    ReadOnly,
    /// `tools/call` of `delete_file` (destructive): denied headless.
    Destructive,
    /// `ping` with the same params: forwarded without a look.
    Ping,
}

/// The giant request, id 1.
fn message(shape: Shape, method: Method, size: usize) -> String {
    // Around the value: message, params, arguments (calls) — and the value's own level.
    let (room, before, after) = match method {
        Method::ReadOnly => (
            3,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{"ms":0,"data":"#,
            "}}}",
        ),
        Method::Destructive => (
            3,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/tmp/x","data":"#,
            "}}}",
        ),
        Method::Ping => (2, r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"data":"#, "}}"),
    };
    format!("{before}{}{after}", value_of(shape, size, room))
}

/// VmHWM (peak resident memory) of a process, in bytes.
fn peak_bytes(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
}

struct Outcome {
    size: usize,
    peak: usize,
    /// From the end of the giant write to the small request's answer.
    stall: Duration,
    giant: Value,
}

fn run(shape: Shape, method: Method) -> Outcome {
    let mut s: Session = Wrap::fake().start();
    s.initialize("2025-11-25");
    let listed = s.request(9, "tools/list", json!({}));
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    let giant = message(shape, method, message_size());
    let size = giant.len();
    s.send_raw(giant.as_bytes());
    drop(giant);
    // A small request right behind it, which countersign answers itself.
    let sent = Instant::now();
    s.send(
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/x"}}}),
    );
    // The demo server reads JSON with serde_json, which stops at 128 levels: nesting at
    // countersign's limit (256) is forwarded but never answered by it.
    let answered = !matches!((shape, method), (Shape::Deep, Method::ReadOnly | Method::Ping));
    let (mut small, mut big) = (None, None);
    while small.is_none() || (answered && big.is_none()) {
        let v = s.next();
        if v["id"] == 2 && small.is_none() {
            small = Some(sent.elapsed());
        } else if v["id"] == 1 {
            big = Some(v);
        }
    }
    let peak = peak_bytes(s.child.id());
    assert!(s.wait().success());
    Outcome { size, peak, stall: small.unwrap(), giant: big.unwrap_or(Value::Null) }
}

#[test]
fn peak_memory_stays_within_twice_the_message_for_every_shape() {
    let mut report = String::new();
    let mut failures = Vec::new();
    for shape in SHAPES {
        for method in [Method::ReadOnly, Method::Destructive, Method::Ping] {
            let o = run(shape, method);
            eprintln!("{shape:?} {method:?}: peak {} MiB, stall {:?}", o.peak / MIB, o.stall);
            let budget = 2 * o.size + BASELINE;
            let _ = writeln!(
                report,
                "{shape:?} {method:?}: message {:.1} MiB, peak {:.1} MiB ({:.2}x), small request answered after {:?}",
                o.size as f64 / MIB as f64,
                o.peak as f64 / MIB as f64,
                o.peak as f64 / o.size as f64,
                o.stall
            );
            let answered = match method {
                _ if o.giant.is_null() => true,
                Method::ReadOnly => o.giant["result"]["content"][0]["text"] == "slept",
                Method::Destructive => o.giant["result"]["isError"] == true,
                Method::Ping => o.giant["result"] == json!({}),
            };
            if !answered {
                failures.push(format!("{shape:?} {method:?}: unexpected answer {}", o.giant));
            }
            if o.peak > budget {
                failures.push(format!("{shape:?} {method:?}: peak {} MiB > budget {} MiB", o.peak / MIB, budget / MIB));
            }
            if o.stall > STALL {
                failures.push(format!("{shape:?} {method:?}: small request waited {:?}", o.stall));
            }
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{}\n{report}", failures.join("\n"));
}
