//! countersign's own failures and the exit status of each (docs/design.md, "Exit codes").

use std::path::PathBuf;

use crate::core::policy::PolicyError;
use crate::edge::child::SpawnError;

/// countersign itself cannot run: bad flags, bad policy, unusable settings.
pub const EXIT_FAILURE: i32 = 125;
/// The server command exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// The server command is not found.
pub const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("policy {path}:{error}")]
    Policy { path: PathBuf, error: PolicyError },
    #[error("{0}")]
    Spawn(#[from] SpawnError),
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
    /// Writing a subcommand's output.
    #[error("writing stdout: {0}")]
    Stdout(std::io::Error),
}

impl Error {
    pub fn io(what: impl Into<String>, error: std::io::Error) -> Error {
        Error::Io { what: what.into(), error }
    }

    /// The reader of our output went away (`countersign … | head`): nothing to report,
    /// as for any command whose pipe was closed. (A pipe of our own that broke, as the
    /// demo's to the wrapper it runs, is a failure.)
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Stdout(error) if error.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The documented exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Spawn(SpawnError::NotFound(_)) => EXIT_NOT_FOUND,
            Error::Spawn(_) => EXIT_CANNOT_EXECUTE,
            _ => EXIT_FAILURE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_output_closing_early_is_not_a_failure() {
        let broken = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(Error::Stdout(broken()).is_closed_pipe());
        assert!(!Error::io("talking to countersign", broken()).is_closed_pipe(), "the demo's own pipe broke");
        assert!(!Error::Stdout(std::io::Error::from(std::io::ErrorKind::StorageFull)).is_closed_pipe());
    }
}
