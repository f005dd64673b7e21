//! `audit verify` streams: on a large log its peak memory stays a few MiB. Alone in its
//! own test binary, so that the children's peak (`getrusage(RUSAGE_CHILDREN)`) is only
//! that of the verifier.
#![allow(clippy::unwrap_used, unsafe_code)]

mod support;

use std::io::Write;

use countersign::core::audit::{advance, render, time, ChainHead, Event, Origin};
use serde_json::json;

const LINES: u64 = 200_000;
const DAY: i64 = 1_795_392_000_000_000; // 2026-11-23T00:00:00Z

#[test]
fn verify_streams_a_large_log_in_a_few_mib() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin { session: "0123456789abcdef0123456789abcdef".into(), server: "bench".into() };
    let mut head = ChainHead::genesis();
    let name = format!("{}.jsonl", time::day(DAY));
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.path().join(&name)).unwrap());
    let mut size = 0u64;
    for i in 0..LINES {
        let event = Event::new(
            "decision",
            json!({"tool": "read_file", "args": {"path": format!("/home/me/project/src/file{i}.rs")}, "decision": "allow",
                   "reason": "allowed_by_policy", "digest": format!("sha256:{:064x}", i), "waited_ms": 0}),
        );
        let line = render(&head, &origin, DAY + i as i64 * 100_000, &event);
        head = advance(&head, &line);
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        size += line.len() as u64 + 1;
    }
    out.flush().unwrap();
    let anchor = json!({"seq": head.seq, "hash": head.hash, "file": name, "size": size});
    std::fs::write(dir.path().join("head.json"), anchor.to_string()).unwrap();

    let output = std::process::Command::new(support::bin())
        .args(["audit", "verify", "--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("intact: {LINES} records")), "{stdout}");
    // SAFETY: getrusage only writes the struct we hand it.
    let peak_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss as u64
    };
    eprintln!("verify of {LINES} lines ({} MiB): peak {} KiB", size >> 20, peak_kib);
    assert!(size > 60 << 20, "the log is large: {size} bytes");
    assert!(peak_kib < 16 << 10, "verify holds {peak_kib} KiB at its peak on a {} MiB log", size >> 20);
}
