//! `countersign policy check [FILE]`.

use std::io::Write;
use std::path::PathBuf;

use crate::Error;

pub(super) fn run(file: Option<PathBuf>) -> Result<i32, Error> {
    let (policy, source) = super::load_policy(file)?;
    let mut out = std::io::stdout().lock();
    let heading = match &source {
        Some((path, digest)) => format!("policy {} is valid ({digest})", path.display()),
        None => match super::settings::default_policy_path() {
            Some(path) => format!("no policy file at {}: built-in defaults", path.display()),
            None => "no policy file: built-in defaults".to_owned(),
        },
    };
    writeln!(out, "{heading}\n{policy}").map_err(Error::Stdout)?;
    Ok(0)
}
