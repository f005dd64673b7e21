//! Retention (docs/audit.md, "Retention"): a wrapper that starts with
//! `--audit-retention-days` removes whole old days and records in the head anchor where
//! the kept log starts. Killed at any step of that, the log still verifies (an honest log
//! is never "cut from the front"), and the next start finishes the removal.

use std::path::Path;

use super::{check_after, session, verified, walk, Run};

/// Three days of records: 2026-11-22, -23 and -24.
fn three_days(home: &Path) {
    for (name, day) in
        [("day0", "2026-11-22T12:00:00Z"), ("day1", "2026-11-23T12:00:00Z"), ("day2", "2026-11-24T12:00:00Z")]
    {
        session(home, Run::named(name).on(day));
    }
}

/// On 2026-11-25, keeping two days: 2026-11-22 and -23 go.
fn keeping_two_days(name: &'static str) -> Run {
    Run { retention_days: Some(2), ..Run::named(name).on("2026-11-25T12:00:00Z") }
}

#[test]
fn retention_killed_at_any_step_leaves_a_log_that_verifies() {
    let walked = walk(
        three_days,
        |home, crash| session(home, keeping_two_days("crashed").crash(crash)),
        |home, at| {
            verified(home, None, at);
            session(home, keeping_two_days("again"));
            check_after(home, at, &["day2", "crashed", "again"]);
            let out = verified(home, None, at);
            assert!(out.contains("removed by retention"), "{at}: {out}");
            for gone in ["2026-11-22.jsonl", "2026-11-23.jsonl"] {
                assert!(!home.join("audit").join(gone).exists(), "{at}: {gone} is removed once a wrapper ran again");
            }
        },
    );
    walked.report("retention", &["audit: retention remove", "audit: head anchor"]);
}
