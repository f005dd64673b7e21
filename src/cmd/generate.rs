//! Completions and the man page, from the same clap definitions as the parser.

use std::io::Write;
use std::path::PathBuf;

use clap_complete::Shell;

use crate::cli::{command, Generated};
use crate::Error;

pub(super) fn run(what: Generated, dir: Option<PathBuf>) -> Result<i32, Error> {
    let dir = match dir {
        Some(_) if what != Generated::Man => return Err(Error::Usage("--dir goes with `man` only".to_owned())),
        Some(dir) => dir,
        None => {
            std::io::stdout().write_all(&render(what)).map_err(Error::Stdout)?;
            return Ok(0);
        }
    };
    let mut written = String::new();
    for (name, page) in man_pages() {
        let path = dir.join(&name);
        std::fs::write(&path, page).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        written.push_str(&format!("{}\n", path.display()));
    }
    std::io::stdout().write_all(written.as_bytes()).map_err(Error::Stdout)?;
    Ok(0)
}

/// Every man page: countersign(1) and one per subcommand that is not hidden
/// (countersign-audit(1), countersign-audit-verify(1), ...), named as the SUBCOMMANDS
/// sections refer to them: (file name, page).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            walk(sub, pages);
        }
        let man = clap_mangen::Man::new(cmd);
        let mut page = Vec::new();
        man.render(&mut page).expect("rendering into memory");
        pages.push((man.get_filename(), page));
    }
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    walk(cmd, &mut pages);
    pages
}

pub fn render(what: Generated) -> Vec<u8> {
    let cmd = command();
    let mut out = Vec::new();
    let shell = match what {
        Generated::Bash => Shell::Bash,
        Generated::Zsh => Shell::Zsh,
        Generated::Fish => Shell::Fish,
        Generated::Man => {
            let mut pages = man_pages();
            return pages.pop().map(|(_, page)| page).unwrap_or_default();
        }
    };
    clap_complete::generate(shell, &mut without_hidden(cmd), "countersign", &mut out);
    out
}

/// The command without its hidden subcommands (the shells' completion generators offer
/// them otherwise, and clap cannot take a subcommand out: this is a copy of what
/// completions read).
fn without_hidden(cmd: clap::Command) -> clap::Command {
    let mut copy = clap::Command::new("countersign")
        .version(env!("CARGO_PKG_VERSION"))
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        copy = copy.about(about.clone());
    }
    copy
}
