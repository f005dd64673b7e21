//! The user's private runtime directory for countersign: `$XDG_RUNTIME_DIR/countersign`,
//! else `/tmp/countersign-<uid>`; created 0700 and refused when someone else owns it.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

pub fn runtime_dir() -> io::Result<PathBuf> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(base) if !base.is_empty() => PathBuf::from(base).join("countersign"),
        _ => std::env::temp_dir().join(format!("countersign-{uid}")),
    };
    fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
    let meta = fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(io::Error::other(format!("{} is not a directory of this user", dir.display())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// The login name for audit records (`operator:<user>@tty`).
pub fn user_name() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| {
        // SAFETY: getuid cannot fail.
        format!("uid{}", unsafe { libc::getuid() })
    })
}
