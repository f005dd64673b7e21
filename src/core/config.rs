//! The validated settings of one wrapper run. Flags stop at the CLI module; everything
//! past it sees only this.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::policy::Policy;

#[derive(Debug, Clone)]
pub struct Config {
    /// Server label in prompts, audit and policy.
    pub name: String,
    /// The server command and its arguments.
    pub command: Vec<OsString>,
    pub policy: Policy,
    /// Where the policy came from (`None`: built-in defaults) and the digest of its text.
    pub policy_source: Option<(PathBuf, String)>,
    pub audit_dir: PathBuf,
    pub audit_retention_days: Option<u32>,
    pub headless: bool,
    pub approval_timeout: Duration,
}
