//! `countersign audit verify [--dir DIR] [--key PUBKEY]`: the chain, streamed file by
//! file, and with `--key` the seals.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::core::audit::line_hash;
use crate::core::audit::seal::{DayFacts, SealState};
use crate::core::audit::verify::{Break, Summary, Verifier};
use crate::core::sanitize::inert;
use crate::edge::audit_log::seal::{check_day, day_facts, parse_public_key};
use crate::edge::audit_log::{snapshot, Snapshot};
use crate::Error;

pub(super) fn run(dir: Option<PathBuf>) -> Result<i32, Error> {
    run_with(dir, None)
}

pub(super) fn run_with(dir: Option<PathBuf>, key: Option<String>) -> Result<i32, Error> {
    let dir = match dir {
        Some(d) => d,
        None => super::default_audit_dir()?,
    };
    let key = match key {
        Some(k) => Some(parse_public_key(&k).map_err(|e| Error::Usage(format!("--key: {e}")))?),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    let write = Error::Stdout;
    let shown_dir = cut(&dir.display().to_string(), 300);
    if !dir.exists() {
        writeln!(out, "no audit log at {shown_dir}: the directory does not exist").map_err(write)?;
        return Ok(1);
    }
    let read = |what: &str, e| Error::io(format!("{what} {}", dir.display()), e);
    // A writer may be half-way through a batch: what is verified is the log as it stood
    // between two batches, not a line without its anchor (docs/audit.md, "Verify").
    let Snapshot { anchor, files } = snapshot(&dir).map_err(|e| read("reading", e))?;
    let names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    writeln!(out, "audit log: {shown_dir}").map_err(write)?;
    if names.is_empty() && anchor.end.is_none() {
        writeln!(out, "no records yet: the directory holds no day files").map_err(write)?;
        return Ok(0);
    }
    let (result, facts) = check_chain(&dir, &files, &anchor.start, anchor.end.as_ref())?;
    let mut code = match result {
        Ok(s) => {
            print_summary(&mut out, &s).map_err(write)?;
            0
        }
        Err(b) => {
            print_break(&mut out, &dir, &b).map_err(write)?;
            1
        }
    };
    if let Some(pk) = key {
        // Files the chain check did not reach (it stopped at a break) are read for their
        // seals alone.
        let mut facts = facts;
        for name in names.iter().skip(facts.len()) {
            let f = day_facts(&dir.join(name), None).map_err(|e| read("reading a file in", e))?;
            facts.push((name.clone(), f));
        }
        let last = names.len().saturating_sub(1);
        let mut sealed_before = false;
        for (i, (name, facts)) in facts.iter().enumerate() {
            let state = check_day(&dir, name, &pk, facts).map_err(|e| read("reading a seal in", e))?;
            let bad = match &state {
                SealState::Wrong(_) => true,
                // A finished day without its final seal, after days that have one: a seal
                // was removed (days before the key was made are simply unsealed).
                SealState::Unsealed | SealState::Stale { .. } => i < last && sealed_before,
                SealState::Sealed | SealState::SealedSoFar => false,
            };
            sealed_before |= matches!(state, SealState::Sealed);
            writeln!(
                out,
                "  {name}: {state}{}",
                if bad && !matches!(state, SealState::Wrong(_)) { " (a seal is missing)" } else { "" }
            )
            .map_err(write)?;
            if bad {
                code = 1;
            }
        }
    }
    Ok(code)
}

/// The chain's verdict, and the facts of each file it read whole.
type Checked = (Result<Summary, Break>, Vec<(String, DayFacts)>);

/// Streams every day file through the verifier; returns the verdict and each file's
/// facts (for the seals).
fn check_chain(
    dir: &Path,
    files: &[(String, u64)],
    start: &Option<crate::core::audit::ChainHead>,
    end: Option<&crate::core::audit::ChainHead>,
) -> Result<Checked, Error> {
    let mut v = Verifier::new(start.as_ref());
    let mut all = Vec::new();
    let mut line = Vec::new();
    for (name, len) in files {
        if let Err(b) = v.file(name) {
            return Ok((Err(b), all));
        }
        let file =
            File::open(dir.join(name)).map_err(|e| Error::io(format!("reading {}", dir.join(name).display()), e))?;
        // Up to its length in the snapshot: what was appended since is not judged.
        let mut reader = BufReader::with_capacity(64 << 10, file.take(*len));
        let mut facts = DayFacts { file: name.clone(), ..DayFacts::default() };
        let mut last_hash = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(|e| Error::io(format!("reading {name}"), e))?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                v.end_file(line.len());
                break;
            }
            facts.bytes += n as u64;
            line.pop();
            if let Err(b) = v.line(&line) {
                return Ok((Err(b), all));
            }
            let seq =
                serde_json::from_slice::<serde_json::Value>(&line).ok().and_then(|r| r["seq"].as_u64()).unwrap_or(0);
            if facts.records == 0 {
                facts.first_seq = seq;
            }
            facts.records += 1;
            facts.last_seq = seq;
            last_hash.clear();
            last_hash.extend_from_slice(&line);
        }
        if facts.records > 0 {
            facts.last_hash = line_hash(&last_hash);
        }
        all.push((name.clone(), facts));
    }
    Ok((v.finish(end), all))
}

fn print_summary(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    let trimmed = if s.trimmed { " (older days removed by retention, as the head anchor records)" } else { "" };
    let files = if s.files == 1 { "1 file".to_owned() } else { format!("{} files", s.files) };
    writeln!(out, "intact: {} records in {files}, seq {}..{}{trimmed}", s.lines, s.first_seq, s.last_seq)?;
    for note in &s.notes {
        writeln!(out, "note: {}", cut(note, 400))?;
    }
    Ok(())
}

fn print_break(out: &mut impl Write, dir: &Path, b: &Break) -> std::io::Result<()> {
    let place = if b.line == 0 {
        dir.join(&b.file).display().to_string()
    } else {
        format!("{}:{}", dir.join(&b.file).display(), b.line)
    };
    writeln!(out, "BROKEN at {}: {}", cut(&place, 400), cut(&b.why, 400))?;
    for (i, line) in b.around.iter().enumerate() {
        let mark = if b.edited == Some(i) { "  <- edited" } else { "" };
        writeln!(out, "  {}:{}: {}{mark}", cut(&line.file, 40), line.line, cut(&line.text, 300))?;
    }
    Ok(())
}

/// `text` made inert for the terminal and cut to `max` characters.
fn cut(text: &str, max: usize) -> String {
    let safe = inert(text);
    match safe.char_indices().nth(max) {
        None => safe.into_owned(),
        Some((at, _)) => format!("{}…", &safe[..at]),
    }
}
