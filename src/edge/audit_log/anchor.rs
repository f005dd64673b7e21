//! The head anchor (`head.json`): where the chain ends (the last line's `seq` and hash,
//! which file and how long it was) and where the kept log starts (the `seq` and hash the
//! first kept line chains from, genesis unless retention removed days). Reading it under
//! the lock also recovers from a write that failed half-way.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::files::{day_files, tail};
use crate::core::audit::{line_hash, ChainHead};

pub const HEAD_FILE: &str = "head.json";
/// The anchor is rewritten in place at this fixed size.
const HEAD_SIZE: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Anchor {
    #[serde(flatten)]
    pub(super) head: ChainHead,
    pub(super) file: String,
    pub(super) size: u64,
    /// Where the kept log starts; absent: at genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) start: Option<ChainHead>,
}

/// An unfinished line cut off the end of a day file (PRODUCT.md section 7: "before the
/// next record, the file is cut back to the last complete record").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cut {
    pub(super) file: String,
    pub(super) bytes: u64,
    /// The `seq` of the last record kept.
    pub(super) after_seq: u64,
    /// The `seq` the anchor named before the cut (higher than `after_seq` only when a
    /// record that had been written whole was lost).
    pub(super) anchor_seq: u64,
}

/// Reads the anchor; when it does not describe the newest file as it is (a writer died
/// between a line and its anchor, a write failed half-way, or there is no anchor yet),
/// finds the chain head from the last complete line, cutting an unfinished one off.
/// Call with the directory lock held.
pub(super) fn read_anchor(dir: &Path) -> io::Result<(Anchor, Option<Cut>)> {
    let stored = read_anchor_file(dir)?;
    let start = stored.as_ref().and_then(|a| a.start.clone());
    let stored_head = stored.as_ref().map(|a| a.head.clone());
    let mut days = day_files(dir)?;
    let Some(newest) = days.pop() else {
        let head = stored_head.unwrap_or_else(ChainHead::genesis);
        return Ok((Anchor { head, file: String::new(), size: 0, start }, None));
    };
    let path = dir.join(&newest);
    let size = fs::metadata(&path)?.len();
    if let Some(anchor) = &stored {
        if anchor.file == newest && anchor.size == size {
            return Ok((anchor.clone(), None));
        }
    }
    let (last, complete) = tail(&path)?;
    let head = match last {
        Some(line) => head_of(&line, &newest)?,
        // Nothing whole in the newest file (a day's first write failed half-way): the
        // chain ends at the last whole line of an earlier day, which the anchor may not
        // name (it is written only after a write that worked).
        None => match last_line_before(dir, &days)? {
            Some((line, day)) => head_of(&line, &day)?,
            None => stored_head.clone().unwrap_or_else(ChainHead::genesis),
        },
    };
    let mut cut = None;
    if complete < size {
        let file = OpenOptions::new().write(true).open(&path)?;
        crate::edge::crash::point("audit: cut");
        file.set_len(complete)?;
        crate::edge::crash::point("audit: cut fsync");
        file.sync_all()?;
        tracing::warn!("audit: cut {} bytes of an unfinished record off {newest}", size - complete);
        cut = Some(Cut {
            file: newest.clone(),
            bytes: size - complete,
            after_seq: head.seq,
            anchor_seq: stored_head.map_or(head.seq, |h| h.seq.max(head.seq)),
        });
    }
    Ok((Anchor { head, file: newest, size: complete, start }, cut))
}

/// The chain head a record line names.
fn head_of(line: &[u8], day: &str) -> io::Result<ChainHead> {
    let seq = serde_json::from_slice::<serde_json::Value>(line).ok().and_then(|v| v["seq"].as_u64());
    let seq = seq.ok_or_else(|| {
        io::Error::other(format!(
            "the last complete line of {day} is not a record: check it with `countersign audit verify`"
        ))
    })?;
    Ok(ChainHead { seq, hash: line_hash(line) })
}

/// The last whole line of the newest of `days` (oldest first) that has one, and its day.
fn last_line_before(dir: &Path, days: &[String]) -> io::Result<Option<(Vec<u8>, String)>> {
    for day in days.iter().rev() {
        if let (Some(line), _) = tail(&dir.join(day))? {
            return Ok(Some((line, day.clone())));
        }
    }
    Ok(None)
}

fn read_anchor_file(dir: &Path) -> io::Result<Option<Anchor>> {
    match File::open(dir.join(HEAD_FILE)) {
        Ok(file) => Ok(read_anchor_at(&file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The anchor in an open head file (one read of its fixed size).
pub(super) fn read_anchor_at(file: &File) -> Option<Anchor> {
    let mut buf = [0u8; HEAD_SIZE];
    let n = file.read_at(&mut buf, 0).ok()?;
    serde_json::from_slice(buf[..n].trim_ascii_end()).ok()
}

/// The head anchor as `audit verify` reads it: where the kept log starts and where it
/// ends.
#[derive(Debug, Clone, Default)]
pub struct HeadAnchor {
    pub start: Option<ChainHead>,
    pub end: Option<ChainHead>,
}

/// Reads `head.json` for `audit verify` (no recovery, no lock).
pub fn read_head(dir: &Path) -> io::Result<HeadAnchor> {
    Ok(read_anchor_file(dir)?.map_or_else(HeadAnchor::default, |a| HeadAnchor { start: a.start, end: Some(a.head) }))
}

/// What a reader verifies: the head anchor and every day file with its length, taken at
/// one instant between two writers' batches. Day files are only appended to, so reading
/// each up to its length later sees exactly that instant, whatever is written meanwhile.
pub struct Snapshot {
    pub anchor: HeadAnchor,
    /// Day file names, oldest first, with their lengths.
    pub files: Vec<(String, u64)>,
}

/// Takes a [`Snapshot`] under the shared lock, held only while the anchor is read and the
/// files are measured (writers wait microseconds, not for the whole verification).
pub fn snapshot(dir: &Path) -> io::Result<Snapshot> {
    let _lock = super::files::DirLock::shared(dir)?;
    let anchor = read_head(dir)?;
    let mut files = Vec::new();
    for name in day_files(dir)? {
        let len = fs::metadata(dir.join(&name))?.len();
        files.push((name, len));
    }
    Ok(Snapshot { anchor, files })
}

pub(super) fn write_anchor(file: &File, anchor: &Anchor, sync: bool) -> io::Result<()> {
    let mut text = serde_json::to_string(anchor).map_err(io::Error::other)?;
    // One fixed-size write in place: a reader sees the old anchor or the new one.
    text.push_str(&" ".repeat(HEAD_SIZE.saturating_sub(text.len() + 1)));
    text.push('\n');
    crate::edge::crash::point("audit: head anchor");
    file.write_all_at(text.as_bytes(), 0)?;
    if file.metadata()?.len() != text.len() as u64 {
        file.set_len(text.len() as u64)?;
    }
    if sync {
        crate::edge::crash::point("audit: head anchor fsync");
        file.sync_data()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_day_whose_first_write_failed_half_way_chains_from_the_day_before() {
        let dir = tempfile::tempdir().unwrap();
        let line = |seq: u64| format!(r#"{{"v":1,"seq":{seq},"event":"x"}}"#);
        let yesterday = format!("{}\n{}\n", line(1), line(2));
        fs::write(dir.path().join("2026-11-23.jsonl"), &yesterday).unwrap();
        // Half a record, and no anchor: every write since the last whole line failed.
        fs::write(dir.path().join("2026-11-24.jsonl"), r#"{"v":1,"seq":3,"ev"#).unwrap();
        let (anchor, cut) = read_anchor(dir.path()).unwrap();
        assert_eq!(anchor.head, ChainHead { seq: 2, hash: line_hash(line(2).as_bytes()) });
        assert_eq!((anchor.file.as_str(), anchor.size), ("2026-11-24.jsonl", 0));
        let cut = cut.unwrap();
        assert_eq!((cut.file.as_str(), cut.bytes, cut.after_seq), ("2026-11-24.jsonl", 18, 2));
        assert_eq!(fs::read(dir.path().join("2026-11-24.jsonl")).unwrap(), b"", "cut back");
    }
}
