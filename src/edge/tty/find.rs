//! Finding the operator's terminal (PRODUCT.md section 6, step 2): countersign's own
//! controlling terminal, else the controlling terminal of its nearest ancestor that has
//! one. The official Python SDK starts servers with `start_new_session=True`, so the
//! wrapper has no controlling terminal while the client that started it (and the shell
//! above that) still has the user's.
//!
//! The terminal is opened with `O_NOCTTY`, so it never becomes countersign's controlling
//! terminal (no job-control signals from it, no hang-up of the wrapper when it closes),
//! and it is only ever used when it belongs to this user. Never stdin, stdout or stderr.
//!
//! Linux: `/proc/<pid>/stat` field 7 (`tty_nr`) walking the parent ids. macOS (not built
//! here): `sysctl(CTL_KERN, KERN_PROC, KERN_PROC_PID, pid)` gives `kinfo_proc` with
//! `kp_eproc.e_tdev` and `kp_eproc.e_ppid`, and `devname(e_tdev, S_IFCHR)` the path; see
//! docs/operator.md.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The operator's terminal, opened for reading and writing, and its path.
pub(super) fn open() -> io::Result<(File, PathBuf)> {
    let own = Path::new("/dev/tty");
    match open_path(own) {
        Ok(file) => return Ok((file, own.to_path_buf())),
        // ENXIO: no controlling terminal. Anything else is a real failure.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) || e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let (dev, path) = ancestor_terminal()?;
    let file = open_path(&path)?;
    let meta = file.metadata()?;
    let me = crate::edge::runtime_dir::uid();
    if !meta.file_type().is_char_device() || meta.rdev() != dev {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} is not the terminal it was", path.display())));
    }
    if meta.uid() != me && me != 0 {
        let message = format!("{} belongs to uid {}, not to this user", path.display(), meta.uid());
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, message));
    }
    Ok((file, path))
}

fn open_path(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC).open(path)
}

/// The device number and path of the nearest ancestor's controlling terminal.
#[cfg(target_os = "linux")]
fn ancestor_terminal() -> io::Result<(u64, PathBuf)> {
    let mut pid = std::process::id() as i32;
    // Bounded: a chain of parents cannot be longer than the pid space, but a reused pid
    // could in principle loop; 4096 steps is far more than any real process tree.
    for _ in 0..4096 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let Some((ppid, tty_nr)) = parse_stat(&stat) else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unreadable /proc/{pid}/stat")));
        };
        if tty_nr != 0 {
            let (major, minor) = split_dev(tty_nr);
            // SAFETY: makedev is arithmetic.
            let dev = libc::makedev(major, minor) as u64;
            return Ok((dev, device_path(major, minor, dev)?));
        }
        if ppid <= 1 {
            break;
        }
        pid = ppid;
    }
    Err(io::Error::from_raw_os_error(libc::ENXIO))
}

#[cfg(not(target_os = "linux"))]
fn ancestor_terminal() -> io::Result<(u64, PathBuf)> {
    // Documented in docs/operator.md (macOS: sysctl KERN_PROC_PID, e_tdev); not built yet.
    Err(io::Error::from_raw_os_error(libc::ENXIO))
}

/// `(ppid, tty_nr)` from the text of `/proc/<pid>/stat`. The command name (field 2) is in
/// parentheses and may itself contain spaces and parentheses: fields are read after the
/// last `)`.
pub fn parse_stat(stat: &str) -> Option<(i32, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // state(3) ppid(4) pgrp(5) session(6) tty_nr(7)
    let _state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let _pgrp = fields.next()?;
    let _session = fields.next()?;
    let tty_nr = fields.next()?.parse::<i64>().ok()?;
    Some((ppid, tty_nr as u32))
}

/// The kernel's `tty_nr` encoding: major in bits 8-19, minor in bits 0-7 and 20-31.
pub fn split_dev(tty_nr: u32) -> (u32, u32) {
    ((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00))
}

/// `/dev/pts/N` for Unix98 pseudo-terminals (majors 136-143), else the character device
/// under `/dev` with that number.
fn device_path(major: u32, minor: u32, dev: u64) -> io::Result<PathBuf> {
    if (136..=143).contains(&major) {
        return Ok(PathBuf::from(format!("/dev/pts/{}", (major - 136) * 256 + minor)));
    }
    search(Path::new("/dev"), dev, 2)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no device for terminal {major}:{minor}")))
}

fn search(dir: &Path, dev: u64, depth: u32) -> Option<PathBuf> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.file_type().is_char_device() && meta.rdev() == dev {
            return Some(entry.path());
        }
        if meta.is_dir() && !meta.file_type().is_symlink() {
            dirs.push(entry.path());
        }
    }
    if depth == 0 {
        return None;
    }
    dirs.into_iter().find_map(|d| search(&d, dev, depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_last_parenthesis() {
        let stat = "4242 (my (odd) name) S 17 4242 4242 34821 4242 4194304 0 0";
        assert_eq!(parse_stat(stat), Some((17, 34821)));
        assert_eq!(parse_stat("1 (init) S 0 1 1 0 -1"), Some((0, 0)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn device_numbers_split_as_the_kernel_packs_them() {
        // /dev/pts/5: major 136, minor 5.
        assert_eq!(split_dev(34821), (136, 5));
        // /dev/pts/300: major 137, minor 44.
        assert_eq!(split_dev((137 << 8) | 44), (137, 44));
        // A minor above 255 lives in bits 20-31.
        assert_eq!(split_dev((4 << 8) | (1 << 20) | 2), (4, 258));
    }
}
