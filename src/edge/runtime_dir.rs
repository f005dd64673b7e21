//! Where two countersign processes of one user meet (PRODUCT.md section 2, "Where things
//! live"). MCP clients start servers with a stripped environment (the official SDKs pass
//! only HOME, LOGNAME, PATH, SHELL, TERM and USER), so every location is derived from the
//! uid and HOME alone, never from `XDG_RUNTIME_DIR`, `XDG_STATE_HOME` or `TMPDIR`:
//!
//! - `<state>` = `$COUNTERSIGN_HOME`, else `$HOME/.local/state/countersign`;
//! - `<runtime>` = `$COUNTERSIGN_HOME/run`, else `/run/user/<uid>/countersign` when
//!   `/run/user/<uid>` is a directory the user owns, else `<state>/run`.
//!
//! Directories are created 0700. One that another user owns, or that is open to others,
//! is refused with an error naming it: never used, never silently skipped.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The user's id.
pub fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// `<state>`: audit log, pending approvals, receipts, leases, pins, sealing key. Created
/// and checked.
pub fn state_dir() -> io::Result<PathBuf> {
    let dir = state_base()?;
    private_dir(&dir)?;
    Ok(dir)
}

/// `<runtime>`: the approver socket and the terminal lock. Created and checked.
pub fn runtime_dir() -> io::Result<PathBuf> {
    let dir = match home_override() {
        Some(home) => home.join("run"),
        None => {
            let base = PathBuf::from(format!("/run/user/{}", uid()));
            match fs::symlink_metadata(&base) {
                Ok(meta) if meta.is_dir() && meta.uid() == uid() => base.join("countersign"),
                _ => state_base()?.join("run"),
            }
        }
    };
    private_dir(&dir)?;
    Ok(dir)
}

fn home_override() -> Option<PathBuf> {
    std::env::var_os("COUNTERSIGN_HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

fn state_base() -> io::Result<PathBuf> {
    if let Some(home) = home_override() {
        return Ok(home);
    }
    match std::env::var_os("HOME") {
        Some(home) if Path::new(&home).is_absolute() => Ok(PathBuf::from(home).join(".local/state/countersign")),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "HOME is not set (or not absolute): set HOME or COUNTERSIGN_HOME",
        )),
    }
}

/// Creates `dir` (and its parents) 0700 when missing, then refuses it unless it is a real
/// directory of this user that no one else can read or write.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let not_dir = || io::Error::new(io::ErrorKind::PermissionDenied, format!("{} is not a directory", dir.display()));
    if fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
        return Err(not_dir());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| named(dir, e))?;
    let meta = fs::symlink_metadata(dir).map_err(|e| named(dir, e))?;
    if !meta.is_dir() {
        return Err(not_dir());
    }
    if meta.uid() != uid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to uid {}, not to this user (uid {}): refusing to use it",
                dir.display(),
                meta.uid(),
                uid()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is open to other users (mode {:o}): refusing to use it; `chmod 700 {}` if it is yours",
                dir.display(),
                meta.mode() & 0o777,
                dir.display()
            ),
        ));
    }
    Ok(())
}

fn named(dir: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", dir.display()))
}

/// The login name for audit records (`operator:<user>@tty`): `USER`, else `LOGNAME`, else
/// the password database's name for our uid (clients often start servers without either
/// variable), else `uid<N>`.
pub fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| super::users::login_name(uid()))
        .unwrap_or_else(|| format!("uid{}", uid()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_dir_is_created_0700_and_an_open_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = private_dir(&dir).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()) && err.contains("open to other users"), "{err}");
        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(private_dir(&file).unwrap_err().to_string().contains(&file.display().to_string()));
    }
}
