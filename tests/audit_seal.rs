//! Seals made by countersign, checked by independent implementations: the
//! `minisign-verify` crate always, the `minisign` command when it is installed.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use support::{bin, Wrap};

fn countersign(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).env("COUNTERSIGN_HOME", home).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The public key line of `countersign audit keygen`'s `.pub` file.
fn public_key(home: &Path) -> String {
    let text = std::fs::read_to_string(home.join("audit-seal.pub")).unwrap();
    text.lines().nth(1).unwrap().to_owned()
}

fn independent_check(pk: &str, file: &Path) -> bool {
    let pk = minisign_verify::PublicKey::from_base64(pk).unwrap();
    let sig_text = std::fs::read_to_string(format!("{}.minisig", file.display())).unwrap();
    let sig = minisign_verify::Signature::decode(&sig_text).unwrap();
    pk.verify(&std::fs::read(file).unwrap(), &sig, false).is_ok()
}

/// `minisign -Vm FILE -P KEY`, or `None` when the command is not installed.
fn minisign_command(pk: &str, file: &Path) -> Option<bool> {
    let out = Command::new("minisign").args(["-V", "-q", "-m"]).arg(file).args(["-P", pk]).output().ok()?;
    Some(out.status.success())
}

fn sealed_log() -> (support::Session, PathBuf, PathBuf, String) {
    let w = Wrap::fake().env("COUNTERSIGN_TEST_CLOCK", "2026-11-23T23:59:59.300000Z");
    let home = w.path("home");
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(&home).unwrap();
    let (code, out, err) = countersign(&home, &["audit", "keygen"]);
    assert_eq!(code, 0, "{err}");
    let pk = public_key(&home);
    assert!(out.contains(&pk), "keygen prints the public key: {out}");
    let key_mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(home.join("audit-seal.key")).unwrap().permissions());
    assert_eq!(key_mode & 0o777, 0o600);
    let (code, _, err) = countersign(&home, &["audit", "keygen"]);
    assert_ne!(code, 0, "a second keygen never replaces the key");
    assert!(err.contains("exists"), "{err}");

    let audit = w.audit_dir();
    let mut s = w.start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({"day": 1}));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    s.call(2, "echo", json!({"day": 2}));
    s.wait();
    // The session owns the temporary directory: it lives as long as the caller keeps it.
    (s, home, audit, pk)
}

#[test]
fn a_finished_day_is_sealed_and_independent_verifiers_agree() {
    let (_w, home, audit, pk) = sealed_log();
    let day = audit.join("2026-11-23.jsonl");
    let seal = audit.join("2026-11-23.jsonl.minisig");
    assert!(seal.exists(), "rolling over to the next day seals the finished one");
    assert!(!audit.join("2026-11-24.jsonl.minisig").exists(), "today is not finished");
    let seal_text = std::fs::read_to_string(&seal).unwrap();
    let records = std::fs::read_to_string(&day).unwrap().lines().count();
    assert!(seal_text.contains("day:2026-11-23") && seal_text.contains(&format!("records:{records}")), "{seal_text}");
    assert!(seal_text.contains("prev_seal:none") && seal_text.contains("last:"), "{seal_text}");

    assert!(independent_check(&pk, &day), "minisign-verify accepts the seal");
    if let Some(ok) = minisign_command(&pk, &day) {
        assert!(ok, "minisign -V accepts the seal");
    } else {
        eprintln!("minisign is not installed: the command-line check is skipped");
    }
    let dir = audit.to_str().unwrap();
    let (code, out, _) = countersign(&home, &["audit", "verify", "--dir", dir, "--key", &pk]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2026-11-23.jsonl: sealed") && out.contains("2026-11-24.jsonl: unsealed"), "{out}");

    // One byte changed: every checker refuses.
    let mut bytes = std::fs::read(&day).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&day, &bytes).unwrap();
    assert!(!independent_check(&pk, &day), "minisign-verify refuses a changed byte");
    if let Some(ok) = minisign_command(&pk, &day) {
        assert!(!ok, "minisign -V refuses a changed byte");
    }
    let (code, out, _) = countersign(&home, &["audit", "verify", "--dir", dir, "--key", &pk]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("2026-11-23.jsonl: WRONG"), "{out}");
}

#[test]
fn a_seal_of_today_so_far_goes_stale_with_the_next_record() {
    let (_w, home, audit, pk) = sealed_log();
    let dir = audit.to_str().unwrap();
    let today = audit.join("2026-11-24.jsonl");
    let clock = ("COUNTERSIGN_TEST_CLOCK", "2026-11-24T10:00:00Z");
    let out = Command::new(bin())
        .args(["audit", "seal", "--dir", dir])
        .env("COUNTERSIGN_HOME", &home)
        .env(clock.0, clock.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(independent_check(&pk, &today), "today so far verifies");
    let (code, out, _) = countersign(&home, &["audit", "verify", "--dir", dir, "--key", &pk]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2026-11-24.jsonl: sealed so far"), "{out}");

    let mut s = Wrap::fake().audit_in(&audit).env(clock.0, clock.1).start();
    s.initialize("2025-11-25");
    s.call(1, "echo", json!({}));
    s.wait();
    assert!(!independent_check(&pk, &today), "an append makes today's seal stale");
    let (code, out, _) = countersign(&home, &["audit", "verify", "--dir", dir, "--key", &pk]);
    assert_eq!(code, 0, "a stale seal of an unfinished day is said, not a failure: {out}");
    assert!(out.contains("2026-11-24.jsonl: stale seal"), "{out}");
    // Another key is refused.
    let other = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";
    let (code, out, _) = countersign(&home, &["audit", "verify", "--dir", dir, "--key", other]);
    assert_eq!(code, 1, "{out}");
}
