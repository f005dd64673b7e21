//! A test hook at the edge: `COUNTERSIGN_TEST_AUDIT_FAULT=<path>`. While a file exists
//! at `<path>`, every write to a day file fails the way a full disk fails: the first half
//! of the bytes reach the file, then `ENOSPC` (when the file holds `eio`: nothing is
//! written, `EIO`). Removing the file is the disk taking writes again. The variable is
//! read once, when the writer starts; without it this costs nothing.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

pub(super) struct Fault(Option<PathBuf>);

impl Fault {
    pub(super) fn from_env() -> Fault {
        Fault(std::env::var_os("COUNTERSIGN_TEST_AUDIT_FAULT").map(PathBuf::from))
    }

    /// Writes `bytes` to `file`, or fails as the hook says.
    pub(super) fn write_all(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        if let Some(path) = &self.0 {
            if let Ok(what) = std::fs::read_to_string(path) {
                if what.trim() == "eio" {
                    return Err(rustix::io::Errno::IO.into());
                }
                file.write_all(&bytes[..bytes.len() / 2])?;
                return Err(rustix::io::Errno::NOSPC.into());
            }
        }
        crate::edge::crash::write_all("audit: day file", file, bytes)
    }
}
