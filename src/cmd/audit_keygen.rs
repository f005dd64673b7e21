//! `countersign audit keygen`: the sealing key under `<state>` (PRODUCT.md section 7).

use std::io::Write;

use crate::edge::audit_log::seal::{keygen, KEY_FILE};
use crate::edge::runtime_dir::state_dir;
use crate::Error;

pub(super) fn run() -> Result<i32, Error> {
    let state = state_dir().map_err(|e| Error::io("using the state directory", e))?;
    let (pub_path, pub_text) = match keygen(&state) {
        Ok(made) => made,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::Usage(e.to_string())),
        Err(e) => return Err(Error::io(format!("making a sealing key in {}", state.display()), e)),
    };
    let key = pub_text.lines().nth(1).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "sealing key: {} (0600; keep it on this machine)\npublic key:  {}\n\n{key}\n\n\
         Keep the public key where this user cannot rewrite it (see docs/audit.md). Check a day with\n  \
         minisign -Vm YYYY-MM-DD.jsonl -P {key}\nor all of them with\n  countersign audit verify --key {key}",
        state.join(KEY_FILE).display(),
        pub_path.display(),
    )
    .map_err(Error::Stdout)?;
    Ok(0)
}
