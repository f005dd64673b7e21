//! What `install`/`uninstall` tell the user, per file. Every name from a config file is
//! made inert before it reaches the terminal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::entry::{Mode, Skip};
use crate::core::sanitize::inert;

/// The outcome for one file.
#[derive(Debug)]
pub(super) struct FileReport {
    pub path: PathBuf,
    /// The client's display name, when the file was found for a client.
    pub client: Option<&'static str>,
    pub changed: Vec<String>,
    pub skipped: Vec<(String, Skip)>,
    /// The backup this run made.
    pub backup: Option<PathBuf>,
    /// Why the file was left untouched.
    pub error: Option<String>,
}

fn list(names: &[String]) -> String {
    names.iter().map(|n| inert(n).into_owned()).collect::<Vec<_>>().join(", ")
}

fn shown(path: &Path) -> String {
    inert(&path.display().to_string()).into_owned()
}

/// The text for one file.
pub(super) fn render(report: &FileReport, mode: Mode, dry_run: bool) -> String {
    let mut out = String::new();
    let client = report.client.map(|c| format!(" ({c})")).unwrap_or_default();
    let _ = writeln!(out, "{}{client}", shown(&report.path));
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  error: {}; the file is left untouched", inert(error));
        return out;
    }
    let verb = match (mode, dry_run) {
        (Mode::Install, false) => "wrapped",
        (Mode::Install, true) => "would wrap",
        (Mode::Uninstall, false) => "unwrapped",
        (Mode::Uninstall, true) => "would unwrap",
    };
    if !report.changed.is_empty() {
        let _ = writeln!(out, "  {verb}: {}", list(&report.changed));
    }
    let (quiet, told): (Vec<_>, Vec<_>) =
        report.skipped.iter().partition(|(_, why)| mode == Mode::Uninstall && *why == Skip::NotWrapped);
    for (name, why) in told {
        let _ = writeln!(out, "  skipped {}: {}", inert(name), inert(&why.to_string()));
    }
    if !quiet.is_empty() {
        let names: Vec<String> = quiet.into_iter().map(|(n, _)| n.clone()).collect();
        let _ = writeln!(out, "  not wrapped: {}", list(&names));
    }
    if report.changed.is_empty() {
        let _ = writeln!(out, "  nothing to change");
        return out;
    }
    if let Some(backup) = &report.backup {
        let _ = writeln!(out, "  saved the original as {}", shown(backup));
    }
    if dry_run {
        let _ = writeln!(out, "  dry run: nothing written");
    } else {
        let who = report.client.unwrap_or("the client that reads this file");
        let _ = writeln!(out, "  restart {who} to load the change");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_lists_wrapped_and_skipped_and_says_restart() {
        let report = FileReport {
            path: "/h/.cursor/mcp.json".into(),
            client: Some("Cursor"),
            changed: vec!["github".into(), "fs\u{1b}[2J".into()],
            skipped: vec![
                ("web".into(), Skip::Remote("has `url`".into())),
                ("odd".into(), Skip::Remote("type \u{1b}]0;x\u{7}".into())),
            ],
            backup: Some("/h/.cursor/mcp.json.countersign.bak".into()),
            error: None,
        };
        let text = render(&report, Mode::Install, false);
        assert_eq!(
            text,
            "/h/.cursor/mcp.json (Cursor)\n  wrapped: github, fs\\u001b[2J\n  skipped web: remote server (has `url`), not stdio\n  skipped odd: remote server (type \\u001b]0;x\\u0007), not stdio\n  saved the original as /h/.cursor/mcp.json.countersign.bak\n  restart Cursor to load the change\n"
        );
        assert!(render(&report, Mode::Install, true).contains("would wrap: github"));
    }
}
