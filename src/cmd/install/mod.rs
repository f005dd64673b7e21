//! `countersign install` / `countersign uninstall`: put countersign in front of the stdio
//! servers in the clients' config files, and take it out again (docs/install.md).
//!
//! The parts: `clients` (which files), `json_doc`/`toml_doc` (where the entries are in a
//! file, or the `parse_failure` that says why not), `entry` (the splices for one entry), `edit` (one file's text, checked),
//! `safe_write` (replacing the file), `report` (what the user reads). This module reads
//! the files and wires the parts.

mod clients;
mod edit;
mod entry;
mod json_doc;
mod parse_failure;
mod report;
mod safe_write;
mod toml_doc;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::ClientName;
use crate::core::sanitize::inert;
use crate::Error;
use clients::{Layout, Places, Target};
pub(super) use entry::Mode;
use report::FileReport;

/// Exit status when a file could not be read, parsed or written, or a `--server` name
/// was found nowhere (the other files are still done).
pub(super) const EXIT_FILE_ERROR: i32 = 1;

/// What the command line asked for.
#[derive(Debug)]
pub(super) struct Options {
    pub mode: Mode,
    pub clients: Vec<ClientName>,
    pub config: Option<PathBuf>,
    pub servers: Vec<String>,
    pub dry_run: bool,
}

pub(super) fn run(options: Options) -> Result<i32, Error> {
    let binary = binary_path()?;
    let binary = binary
        .to_str()
        .ok_or_else(|| Error::Usage(format!("the path of this binary is not UTF-8: {}", binary.display())))?
        .to_owned();
    let targets = targets(&options)?;
    let mut out = std::io::stdout().lock();
    let mut status = 0;
    let mut matched = HashSet::new();
    for target in &targets {
        let report = one_file(target, &options, &binary, &mut matched);
        if let Some(error) = &report.error {
            tracing::error!("{}: {}", inert(&target.path.display().to_string()), inert(error));
            status = EXIT_FILE_ERROR;
        }
        let text = report::render(&report, options.mode, options.dry_run);
        writeln!(out, "{text}").map_err(Error::Stdout)?;
    }
    for name in options.servers.iter().filter(|s| !matched.contains(*s)) {
        writeln!(out, "no server named {} in the files read", inert(name)).map_err(Error::Stdout)?;
        status = EXIT_FILE_ERROR;
    }
    Ok(status)
}

fn one_file(target: &Target, options: &Options, binary: &str, matched: &mut HashSet<String>) -> FileReport {
    let mut report = FileReport {
        path: target.path.clone(),
        client: target.client.map(clients::title),
        changed: Vec::new(),
        skipped: Vec::new(),
        backup: None,
        error: None,
    };
    let original = match std::fs::read(&target.path) {
        Ok(bytes) => bytes,
        Err(e) => {
            report.error = Some(format!("cannot read it: {e}"));
            return report;
        }
    };
    let Ok(text) = std::str::from_utf8(&original) else {
        report.error = Some("it is not UTF-8 text".into());
        return report;
    };
    let layout = match (target.client, target.layout) {
        (None, _) => clients::layout_of(&target.path, text),
        (Some(_), layout) => layout,
    };
    let edited = match edit::edit(text, layout, options.mode, &options.servers, binary) {
        Ok(edited) => edited,
        Err(e) => {
            report.error = Some(format!("{}: {e}", kind(layout)));
            return report;
        }
    };
    for name in options.servers.iter() {
        if edited.changed.iter().chain(edited.skipped.iter().map(|(l, _)| l)).any(|l| key_of(l) == name) {
            matched.insert(name.clone());
        }
    }
    report.skipped = edited.skipped;
    if edited.changed.is_empty() {
        return report;
    }
    let written = if options.dry_run {
        safe_write::check_writable(&target.path).map(|()| None)
    } else {
        safe_write::replace(&target.path, &original, edited.text.as_bytes())
    };
    match written {
        Ok(backup) => {
            report.backup = backup;
            report.changed = edited.changed;
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report
}

/// An entry's key from its label (`key (in scope)`).
fn key_of(label: &str) -> &str {
    label.split(" (in ").next().unwrap_or(label)
}

fn kind(layout: Layout) -> &'static str {
    match layout {
        Layout::Json(_) => "not valid JSON",
        Layout::Toml(_) => "not valid TOML",
    }
}

/// The files to edit: `--config FILE`, or every existing file of the named clients (all
/// clients when none is named), each file once.
fn targets(options: &Options) -> Result<Vec<Target>, Error> {
    if let Some(path) = &options.config {
        if !path.is_file() {
            return Err(Error::Usage(format!("--config {}: no such file", path.display())));
        }
        return Ok(vec![Target { client: None, path: path.clone(), layout: Layout::Json(clients::ANY_JSON) }]);
    }
    let places = places()?;
    let named = !options.clients.is_empty();
    let wanted: Vec<ClientName> = if named { options.clients.clone() } else { clients::ALL.to_vec() };
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut looked: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    for client in wanted {
        let before = found.len();
        for target in clients::files(client, &places) {
            let shown = target.path.display().to_string();
            if !looked.contains(&shown) {
                looked.push(shown);
            }
            if !target.path.is_file() {
                continue;
            }
            // The working directory may be HOME: one file, edited once.
            let real = std::fs::canonicalize(&target.path).unwrap_or_else(|_| target.path.clone());
            if seen.insert(real) {
                found.push(target);
            }
        }
        if named && found.len() == before {
            missing.push(clients::title(client));
        }
    }
    if found.is_empty() {
        return Err(Error::Usage(format!("no client config file found; looked at: {}", inert(&looked.join(", ")))));
    }
    for client in missing {
        tracing::warn!("{client}: no config file found");
    }
    Ok(found)
}

/// The absolute path to write as `command`: the running binary, by the name it was
/// started under when that leads to the same file (a stable symbolic link such as
/// `/usr/local/bin/countersign` rather than the versioned file it points to).
fn binary_path() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the countersign binary", e))?;
    let real = std::fs::canonicalize(&exe).unwrap_or_else(|_| exe.clone());
    let same = |p: &Path| p.is_absolute() && std::fs::canonicalize(p).is_ok_and(|r| r == real);
    let Some(argv0) = std::env::args_os().next().map(PathBuf::from) else { return Ok(exe) };
    if argv0.components().count() > 1 {
        let absolute = normalize(&std::env::current_dir().map(|d| d.join(&argv0)).unwrap_or_default());
        if same(&absolute) {
            return Ok(absolute);
        }
    } else if let Some(path) = std::env::var_os("PATH") {
        if let Some(found) = std::env::split_paths(&path).map(|d| normalize(&d.join(&argv0))).find(|p| same(p)) {
            return Ok(found);
        }
    }
    Ok(exe)
}

/// `path` without `.` components and with `..` taken lexically (the result is then
/// checked to lead to the binary).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn places() -> Result<Places, Error> {
    let home = std::env::var_os("HOME").filter(|h| Path::new(h).is_absolute()).ok_or_else(|| {
        Error::Usage("HOME is not set to an absolute path; it decides where the clients' files are".into())
    })?;
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the working directory", e))?;
    let absolute = |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
    Ok(Places {
        home: PathBuf::from(home),
        cwd,
        macos: cfg!(target_os = "macos"),
        xdg_config: absolute("XDG_CONFIG_HOME"),
        codex_home: absolute("CODEX_HOME"),
    })
}
