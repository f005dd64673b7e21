//! `countersign audit seal [--dir DIR]`: seals today's file as it is now (a seal of the
//! day so far, which a later append makes stale) and any finished day still unsealed.

use std::io::Write;
use std::path::PathBuf;

use crate::core::audit::time;
use crate::edge::audit_log::seal::{load_key, seal_day, seal_finished};
use crate::edge::audit_log::{day_files, DirLock};
use crate::edge::clock::Clock;
use crate::edge::runtime_dir::state_dir;
use crate::Error;

pub(super) fn run(dir: Option<PathBuf>) -> Result<i32, Error> {
    let dir = match dir {
        Some(d) => d,
        None => super::default_audit_dir()?,
    };
    let state = state_dir().map_err(|e| Error::io("using the state directory", e))?;
    let key = load_key(&state)
        .map_err(|e| Error::io(format!("reading the sealing key in {}", state.display()), e))?
        .ok_or_else(|| Error::Usage("no sealing key yet: make one with `countersign audit keygen`".into()))?;
    let mut out = std::io::stdout().lock();
    let write = Error::Stdout;
    if !dir.is_dir() {
        writeln!(out, "no audit log at {}: nothing to seal", dir.display()).map_err(write)?;
        return Ok(1);
    }
    let failed = |e| Error::io(format!("sealing in {}", dir.display()), e);
    let _lock = DirLock::take(&dir).map_err(failed)?;
    let now = Clock::from_env().now_micros();
    let today = format!("{}.jsonl", time::day(now));
    for name in seal_finished(&dir, &key, &today, now).map_err(failed)? {
        writeln!(out, "sealed {name} (final)").map_err(write)?;
    }
    if day_files(&dir).map_err(failed)?.contains(&today) {
        let c = seal_day(&dir, &today, &key, now, false).map_err(failed)?;
        writeln!(
            out,
            "sealed {today} so far: {} records, seq {}..{} (a later record makes this seal stale; the day's final seal replaces it)",
            c.facts.records, c.facts.first_seq, c.facts.last_seq
        )
        .map_err(write)?;
    } else {
        writeln!(out, "no records today yet in {}", dir.display()).map_err(write)?;
    }
    Ok(0)
}
