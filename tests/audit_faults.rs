//! A write that fails (disk full, I/O error) never leaves the audit log stuck (PRODUCT.md
//! section 7). The failure is injected at the edge with the test hook
//! `COUNTERSIGN_TEST_AUDIT_FAULT=<file>`: while the file exists, every write to a day
//! file puts half its bytes on disk and fails with ENOSPC, as a full disk does.
#![allow(clippy::unwrap_used)]

use crate::support;

use serde_json::json;
use support::{audit_records, run, text, Wrap};

#[test]
fn a_full_disk_is_cut_back_recorded_and_calls_run_again() {
    let w = Wrap::fake();
    let fault = w.path("disk-full");
    let audit = w.audit_dir();
    let mut s = w.env("COUNTERSIGN_TEST_AUDIT_FAULT", fault.to_str().unwrap()).start();
    s.initialize("2025-11-25");
    assert!(text(&s.call(1, "write_note", json!({"n": 1}))).starts_with("write_note ran"), "before the fault");

    std::fs::write(&fault, "").unwrap();
    let denied = s.call(2, "write_note", json!({"n": 2}));
    assert!(text(&denied).contains("reason=audit_unavailable"), "{denied}");
    // A read-only call still runs; its record is lost, and counted.
    assert_eq!(s.call(3, "read_file", json!({}))["result"]["isError"], false);
    // The writer tries again every second while the log is down, each time cutting the
    // unfinished line back and leaving a new one: it is seen between two tries.
    let day_file = std::fs::read_dir(&audit)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read(&day_file).unwrap().ends_with(b"\n") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!std::fs::read(&day_file).unwrap().ends_with(b"\n"), "the injected fault leaves an unfinished line");

    std::fs::remove_file(&fault).unwrap();
    let ran = s.call(4, "write_note", json!({"n": 4}));
    assert!(text(&ran).starts_with("write_note ran"), "the disk takes writes again: the call runs: {ran}");
    s.wait();

    let dir = audit.to_str().unwrap();
    let (code, out, _) = run(&["audit", "verify", "--dir", dir], b"");
    assert_eq!(code, 0, "a cleanly recovered cut is not tampering: {out}");
    assert!(out.contains("note:") && out.contains("recovered after a failed write (cut"), "{out}");
    let records = s.audit_records();
    let recovered = records.iter().find(|r| r["event"] == "recovered").expect("a recovered record");
    assert!(recovered["cut"]["bytes"].as_u64().unwrap() > 0, "{recovered}");
    assert!(recovered["lost"]["decision"].as_u64().unwrap() >= 1, "the read-only call is counted: {recovered}");
    assert!(recovered["error"].as_str().unwrap().contains("No space left"), "{recovered}");
    // Nothing acknowledged is missing: the first call's decision and result, and the last
    // call's decision written before it ran.
    let decided: Vec<(String, String)> = records
        .iter()
        .filter(|r| r["event"] == "decision" && r["tool"] == "write_note")
        .map(|r| (r["args"]["n"].to_string(), r["decision"].as_str().unwrap().to_owned()))
        .collect();
    assert!(decided.contains(&("1".into(), "allow".into())), "{decided:?}");
    assert!(decided.contains(&("4".into(), "allow".into())), "{decided:?}");
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_new_process_recovers_what_a_failed_one_left() {
    let w = Wrap::fake();
    let fault = w.path("disk-full");
    let audit = w.audit_dir();
    let mut s = Wrap::fake().audit_in(&audit).env("COUNTERSIGN_TEST_AUDIT_FAULT", fault.to_str().unwrap()).start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({}));
    // Past the lazy sync: what came so far is on disk, with its anchor.
    std::thread::sleep(std::time::Duration::from_millis(1300));
    std::fs::write(&fault, "").unwrap();
    s.call(2, "echo", json!({}));
    // The session ends while the disk is full: its last records are cut in half.
    s.wait();
    std::fs::remove_file(&fault).unwrap();

    let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "an unfinished last record is said, not called tampering: {out}");
    assert!(out.contains("unfinished record"), "{out}");

    let mut s = Wrap::fake().audit_in(&audit).start();
    s.initialize("2025-11-25");
    assert!(text(&s.call(1, "write_note", json!({}))).starts_with("write_note ran"));
    s.wait();
    let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("ends in"), "no unfinished record is left: {out}");
    let records = audit_records(&audit);
    let recovered = records.iter().find(|r| r["event"] == "recovered").expect("a recovered record");
    assert!(recovered["cut"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(recovered["cut"]["after_seq"], recovered["cut"]["anchor_seq"], "nothing written whole was cut");
}

#[test]
fn a_failure_before_midnight_is_recovered_on_the_next_day() {
    let w = Wrap::fake().env("COUNTERSIGN_TEST_CLOCK", "2026-11-23T23:59:58.800000Z");
    let fault = w.path("disk-full");
    let audit = w.audit_dir();
    let mut s = w.env("COUNTERSIGN_TEST_AUDIT_FAULT", fault.to_str().unwrap()).start();
    s.initialize("2025-11-25");
    std::fs::write(&fault, "").unwrap();
    assert!(text(&s.call(1, "write_note", json!({}))).contains("reason=audit_unavailable"));
    // The disk stays full past midnight, long enough for the writer to try again on the
    // new day (it tries every second while down): the new day's file then starts with half
    // a record and nothing whole, and the chain must still go on from yesterday's last line.
    std::thread::sleep(std::time::Duration::from_millis(2600));
    std::fs::remove_file(&fault).unwrap();
    assert!(text(&s.call(2, "write_note", json!({}))).starts_with("write_note ran"), "runs on the next day");
    s.wait();
    let (code, out, _) = run(&["audit", "verify", "--dir", audit.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}");
    let next_day = std::fs::read_to_string(audit.join("2026-11-24.jsonl")).unwrap();
    let recovered: serde_json::Value =
        serde_json::from_str(next_day.lines().find(|l| l.contains("\"event\":\"recovered\"")).unwrap()).unwrap();
    let cut = recovered["cut"]["file"].as_str().unwrap();
    assert!(["2026-11-23.jsonl", "2026-11-24.jsonl"].contains(&cut), "{recovered}");
    assert!(std::fs::read(audit.join("2026-11-23.jsonl")).unwrap().ends_with(b"\n"), "yesterday was cut back");
}
