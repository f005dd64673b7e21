//! Replacing a config file without ever leaving half of one: a temporary file in the same
//! directory, written whole, flushed to disk, then renamed over the original, with the
//! original's mode (and owner, when running as root). The first change to a file keeps a
//! copy of it as `<file>.countersign.bak`, never overwritten afterwards.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub(super) enum WriteError {
    #[error("it is read-only (mode {0:o}); make it writable to let countersign change it")]
    ReadOnly(u32),
    #[error("it changed while countersign was reading it; run the command again")]
    ChangedMeanwhile,
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WriteError {
    let what = what.into();
    move |error| WriteError::Io { what, error }
}

/// The backup's path for `path`.
pub(super) fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".countersign.bak");
    path.with_file_name(name)
}

/// Refuses what must not be edited, before anything is written: a file without any write
/// permission (root could write it anyway; the user said it is not to change).
pub(super) fn check_writable(path: &Path) -> Result<(), WriteError> {
    let mode = std::fs::metadata(path).map_err(io("reading its metadata"))?.permissions().mode();
    if mode & 0o222 == 0 {
        return Err(WriteError::ReadOnly(mode & 0o7777));
    }
    Ok(())
}

/// Replaces the file at `path`, whose content was `original`, with `new`. A symbolic link
/// is followed: the file it points to is replaced, the link stays. Returns the backup's
/// path when this call made it.
pub(super) fn replace(path: &Path, original: &[u8], new: &[u8]) -> Result<Option<PathBuf>, WriteError> {
    let real = std::fs::canonicalize(path).map_err(io("resolving its path"))?;
    check_writable(&real)?;
    let meta = std::fs::metadata(&real).map_err(io("reading its metadata"))?;
    if std::fs::read(&real).map_err(io("reading it again"))? != original {
        return Err(WriteError::ChangedMeanwhile);
    }
    let backup = backup_path(&real);
    let dir = real.parent().unwrap_or(Path::new("/"));
    let name = real.file_name().unwrap_or_default().to_string_lossy();
    let temp = |what: &str| dir.join(format!(".{name}.countersign-{}.{what}.tmp", std::process::id()));
    let made_backup = match std::fs::symlink_metadata(&backup) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Whole or not at all, like the file itself: a backup that a crash cut short
            // would be kept for ever (it is only ever made once).
            publish(&temp("bak"), &backup, original, &meta)
                .map_err(io(format!("saving the backup {}", backup.display())))?;
            Some(backup)
        }
        Err(e) => return Err(io(format!("checking the backup {}", backup.display()))(e)),
    };
    publish(&temp("new"), &real, new, &meta).map_err(io(format!("writing {}", real.display())))?;
    // The rename itself is durable once the directory is flushed.
    crate::edge::crash::point("install: directory fsync");
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(made_backup)
}

/// Puts `bytes` at `path` whole: written to `temp` (flushed), then renamed over `path`.
fn publish(temp: &Path, path: &Path, bytes: &[u8], like: &std::fs::Metadata) -> std::io::Result<()> {
    let written = write_new(temp, bytes, like).and_then(|()| {
        crate::edge::crash::point("install: rename");
        std::fs::rename(temp, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    written
}

/// Creates `path` (which must not exist) with `bytes`, `like`'s mode and owner, flushed.
fn write_new(path: &Path, bytes: &[u8], like: &std::fs::Metadata) -> std::io::Result<()> {
    let mode = like.permissions().mode() & 0o7777;
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    let done = (|| {
        // Only root may give a file away; root editing a user's file keeps it the user's.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 && (like.uid() != 0 || like.gid() != 0) {
            std::os::unix::fs::fchown(&file, Some(like.uid()), Some(like.gid()))?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        crate::edge::crash::write_all("install: new file", &mut file, bytes)?;
        crate::edge::crash::point("install: new file fsync");
        file.sync_all()
    })();
    if done.is_err() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_keeps_mode_and_backs_up_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, "one").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(replace(&path, b"one", b"two").unwrap(), Some(backup_path(&path)));
        assert_eq!(replace(&path, b"two", b"three").unwrap(), None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three");
        assert_eq!(std::fs::read_to_string(backup_path(&path)).unwrap(), "one");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o640);
        assert!(matches!(replace(&path, b"stale", b"x"), Err(WriteError::ChangedMeanwhile)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left behind");
    }
}
