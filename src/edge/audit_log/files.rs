//! The audit directory's files: the lock every writer takes, the day files, their tails.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::FlockOperation;

pub(super) const LOCK_FILE: &str = ".lock";

/// A `flock` on the directory's lock file (exclusive for writers), released on drop.
pub(crate) struct DirLock(File);

impl DirLock {
    pub(crate) fn take(dir: &Path) -> io::Result<DirLock> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(dir.join(LOCK_FILE))?;
        // Blocks until the lock is ours.
        crate::edge::locked_file::lock_exclusive(&file)?;
        Ok(DirLock(file))
    }

    /// A shared lock for a reader: while it is held no writer is half-way through a
    /// batch (its lines appended, its anchor not yet). The lock file is made when it is
    /// missing, as a writer would (one may be about to start); `None` when it can be
    /// neither made nor opened (a read-only copy of a log, say).
    pub(crate) fn shared(dir: &Path) -> io::Result<Option<DirLock>> {
        let path = dir.join(LOCK_FILE);
        let opened = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path);
        let Ok(file) = opened.or_else(|_| File::open(&path)) else {
            return Ok(None);
        };
        crate::edge::locked_file::lock_shared(&file)?;
        Ok(Some(DirLock(file)))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, FlockOperation::Unlock);
    }
}

/// Names of the day files, oldest first.
pub fn day_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> =
        fs::read_dir(dir)?.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| is_day_file(n)).collect();
    names.sort();
    Ok(names)
}

pub(crate) fn is_day_file(name: &str) -> bool {
    let Some(day) = name.strip_suffix(".jsonl") else {
        return false;
    };
    day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
}

/// The end of a day file: its last complete line (without its newline) and the length
/// up to and including that line's newline. Bytes after it are an unfinished line.
pub(super) fn tail(path: &Path) -> io::Result<(Option<Vec<u8>>, u64)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut window: u64 = 64 << 10;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        let Some(last_nl) = memchr::memrchr(b'\n', &buf) else {
            if start == 0 {
                return Ok((None, 0));
            }
            window *= 4;
            continue;
        };
        let complete = start + last_nl as u64 + 1;
        match memchr::memrchr(b'\n', &buf[..last_nl]) {
            Some(at) => return Ok((Some(buf[at + 1..last_nl].to_vec()), complete)),
            None if start == 0 => return Ok((Some(buf[..last_nl].to_vec()), complete)),
            None => window *= 4,
        }
    }
}

/// The first line of a day file, without its newline.
pub(super) fn first_line(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    BufReader::new(File::open(path)?).read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Ok(None);
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_finds_the_last_complete_line_and_where_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "a\nbb\nccc").unwrap();
        assert_eq!(tail(&p).unwrap(), (Some(b"bb".to_vec()), 5));
        fs::write(&p, "a\nbb\n").unwrap();
        assert_eq!(tail(&p).unwrap(), (Some(b"bb".to_vec()), 5));
        fs::write(&p, "partial").unwrap();
        assert_eq!(tail(&p).unwrap(), (None, 0));
        fs::write(&p, "one\n").unwrap();
        assert_eq!(tail(&p).unwrap(), (Some(b"one".to_vec()), 4));
        assert!(is_day_file("2026-11-23.jsonl") && !is_day_file("2026-11-23.jsonl.minisig"));
    }
}
