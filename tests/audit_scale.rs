//! `audit verify` streams: on a large log its peak memory stays a few MiB. The peak is
//! the verifier's own, from `wait4` on its pid: the other tests of this binary run
//! children of their own at the same time, so the peak of all children
//! (`getrusage(RUSAGE_CHILDREN)`) would be theirs.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support;

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

    // Reaped by `wait_with_peak` (wait4), which std's `wait` would not measure.
    #[allow(clippy::zombie_processes)]
    let mut verify = std::process::Command::new(support::bin())
        .args(["audit", "verify", "--dir", dir.path().to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut verify.stdout.take().unwrap(), &mut stdout).unwrap();
    let (status, peak_kib) = wait_with_peak(&verify);
    // A child's peak counts the image it was spawned from (this test process, shared with
    // other tests): the same spawn of a command that does nothing is the baseline.
    let idle = std::process::Command::new(support::bin()).arg("--version").stdout(std::process::Stdio::null()).spawn();
    #[allow(clippy::zombie_processes)]
    let idle = idle.unwrap();
    let (_, idle_kib) = wait_with_peak(&idle);
    let peak_kib = peak_kib.saturating_sub(idle_kib);
    assert!(status.success(), "{stdout}");
    assert!(stdout.contains(&format!("intact: {LINES} records")), "{stdout}");
    eprintln!("verify of {LINES} lines ({} MiB): peak {} KiB", size >> 20, peak_kib);
    assert!(size > 60 << 20, "the log is large: {size} bytes");
    assert!(peak_kib < 16 << 10, "verify holds {peak_kib} KiB at its peak on a {} MiB log", size >> 20);
}

/// Waits for `child` and returns its exit status and its peak resident memory in KiB
/// (`ru_maxrss` of that one child). Reaps it: `child` must not be waited for again.
fn wait_with_peak(child: &std::process::Child) -> (std::process::ExitStatus, u64) {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, which wait4 fills for the child we name.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: the pointers are to live locals; wait4 only writes them.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        assert!(rc < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted, "wait4 failed");
    }
    (std::process::ExitStatus::from_raw(status), usage.ru_maxrss as u64)
}
