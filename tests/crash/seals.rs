//! The seals' crash points (PRODUCT.md section 7, docs/audit.md "Seals"): the seal a
//! wrapper makes of a finished day when it starts on the next one, `audit keygen`, and
//! `audit seal`. After each crash, and again after the restart, `audit verify --key`
//! passes: a seal is the old one or the new one, a key is whole or absent and always has
//! its public half.

use std::path::{Path, PathBuf};

use super::{countersign, session, verified, walk, Run};

const DAY1: &str = "2026-11-23T12:00:00Z";
const DAY2: &str = "2026-11-24T12:00:00Z";

fn public_key(home: &Path) -> PathBuf {
    home.join("audit-seal.pub")
}

fn keygen(home: &Path, crash: Option<&str>) -> std::process::Output {
    countersign(home, crash).args(["audit", "keygen"]).output().unwrap()
}

/// `countersign audit seal` on `clock`'s day.
fn seal(home: &Path, crash: Option<&str>, clock: &str) -> std::process::Output {
    countersign(home, crash).env("COUNTERSIGN_TEST_CLOCK", clock).args(["audit", "seal"]).output().unwrap()
}

/// A sealing key and a finished day (DAY1) whose last line is unfinished, as a writer
/// killed half-way through a write leaves it (the wrapper walk makes those: here the
/// half line is written by hand, so that every run starts from the same bytes).
fn finished_day_torn_at_the_end(home: &Path) {
    assert!(keygen(home, None).status.success());
    session(home, Run::named("day1").on(DAY1));
    let day = home.join("audit/2026-11-23.jsonl");
    let mut file = std::fs::OpenOptions::new().append(true).open(day).unwrap();
    std::io::Write::write_all(&mut file, br#"{"v":1,"ts":"2026-11-23T12:00:09.000000Z","seq":"#).unwrap();
}

/// A wrapper that starts on the next day seals the finished one (and cuts its unfinished
/// line): killed at any of its points, the log verifies with its key before anyone starts
/// again, and once a wrapper ran again the finished day has its final seal.
#[test]
fn a_wrapper_sealing_a_finished_day_killed_at_any_step_loses_nothing() {
    let crashed = |home: &Path, crash: String| session(home, Run::named("crashed").on(DAY2).crash(crash));
    let walked = walk(finished_day_torn_at_the_end, crashed, |home, at| {
        verified(home, Some(&public_key(home)), at);
        super::pins_recorded(home, at);
        session(home, Run::named("again").on(DAY2));
        super::check_after(home, at, &["day1", "crashed", "again"]);
        let out = verified(home, Some(&public_key(home)), at);
        assert!(out.contains("2026-11-23.jsonl: sealed\n"), "{at}: the finished day has its final seal:\n{out}");
    });
    let points = ["audit: cut", "audit: seal temporary file", "audit: seal rename", "audit: seal directory fsync"];
    walked.report("a wrapper sealing the day before", &points);
}

/// `audit keygen` killed at any step: `keygen` again leaves a whole key with its public
/// half (made anew, completed, or found), and a day sealed with it verifies.
#[test]
fn keygen_killed_at_any_step_leaves_no_key_or_a_whole_one() {
    let walked = walk(
        |_| {},
        |home, crash| keygen(home, Some(&crash)).status,
        |home, at| {
            let again = keygen(home, None);
            let err = String::from_utf8_lossy(&again.stderr);
            assert!(again.status.success() || err.contains("a sealing key exists"), "{at}: keygen again: {err}");
            session(home, Run::named("day").on(DAY1));
            let sealed = seal(home, None, DAY1);
            assert!(sealed.status.success(), "{at}: {}", String::from_utf8_lossy(&sealed.stderr));
            let out = verified(home, Some(&public_key(home)), at);
            assert!(
                out.contains("2026-11-23.jsonl: sealed so far"),
                "{at}: key and public key belong together:\n{out}"
            );
        },
    );
    walked.report("audit keygen", &["audit keygen: secret key link", "audit keygen: public key rename"]);
}

/// Two days written before the key existed; `audit seal` then seals the finished one
/// (final) and today (so far).
fn two_unsealed_days(home: &Path) {
    session(home, Run::named("day1").on(DAY1));
    session(home, Run::named("day2").on(DAY2));
    assert!(keygen(home, None).status.success());
}

#[test]
fn audit_seal_killed_at_any_step_leaves_seals_that_verify() {
    let walked = walk(
        two_unsealed_days,
        |home, crash| seal(home, Some(&crash), DAY2).status,
        |home, at| {
            verified(home, Some(&public_key(home)), at);
            let again = seal(home, None, DAY2);
            assert!(again.status.success(), "{at}: {}", String::from_utf8_lossy(&again.stderr));
            let out = verified(home, Some(&public_key(home)), at);
            assert!(
                out.contains("2026-11-23.jsonl: sealed\n") && out.contains("2026-11-24.jsonl: sealed so far"),
                "{at}:\n{out}"
            );
        },
    );
    assert_eq!(walked.counted.iter().filter(|n| *n == "audit: seal rename").count(), 2, "{:?}", walked.counted);
    walked.report("audit seal", &[]);
}
