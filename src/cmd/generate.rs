//! Completions and the man page, from the same clap definitions as the parser.

use std::io::Write;

use clap_complete::Shell;

use crate::cli::{command, Generated};
use crate::Error;

pub(super) fn run(what: Generated) -> Result<i32, Error> {
    let bytes = render(what);
    std::io::stdout().write_all(&bytes).map_err(|e| Error::io("writing stdout", e))?;
    Ok(0)
}

pub fn render(what: Generated) -> Vec<u8> {
    let mut cmd = command();
    let mut out = Vec::new();
    let shell = match what {
        Generated::Bash => Shell::Bash,
        Generated::Zsh => Shell::Zsh,
        Generated::Fish => Shell::Fish,
        Generated::Man => {
            clap_mangen::Man::new(cmd).render(&mut out).expect("rendering into memory");
            return out;
        }
    };
    clap_complete::generate(shell, &mut cmd, "countersign", &mut out);
    out
}
