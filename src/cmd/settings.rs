//! Where things live by default and loading the policy.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::core::policy::{self, Policy};
use crate::Error;

fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(dir) if Path::new(&dir).is_absolute() => Some(PathBuf::from(dir)),
        _ => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(fallback)),
    }
}

/// `<state>/audit` (PRODUCT.md section 2: from `COUNTERSIGN_HOME` or `HOME` alone, so that
/// a server started with a client's stripped environment writes where the user reads).
pub fn default_audit_dir() -> Result<PathBuf, Error> {
    crate::edge::runtime_dir::state_dir()
        .map(|d| d.join("audit"))
        .map_err(|e| Error::Usage(format!("cannot use the state directory ({e}): give --audit-dir")))
}

/// `$XDG_CONFIG_HOME/countersign/policy.toml`, when it exists.
pub(super) fn default_policy_file() -> Option<PathBuf> {
    default_policy_path().filter(|p| p.exists())
}

/// Where the policy is looked for when none is named (whether or not it exists).
pub(super) fn default_policy_path() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config").map(|d| d.join("countersign/policy.toml"))
}

/// Loads the policy named (or the default file, or the built-in defaults). Returns the
/// policy and, for a file, its path and the digest of its bytes.
pub fn load_policy(file: Option<PathBuf>) -> Result<(Policy, Option<(PathBuf, String)>), Error> {
    let Some(path) = file.or_else(default_policy_file) else {
        return Ok((Policy::default(), None));
    };
    let bytes = std::fs::read(&path).map_err(|e| Error::io(format!("reading policy {}", path.display()), e))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| Error::Usage(format!("policy {} is not UTF-8", path.display())))?;
    let policy = policy::from_toml(&text).map_err(|error| Error::Policy { path: path.clone(), error })?;
    let digest = crate::core::digest::sha256_text(&Sha256::digest(&bytes));
    Ok((policy, Some((path, digest))))
}
