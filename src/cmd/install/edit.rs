//! One file's edit, pure: its text in, the new text and what happened to each entry out.
//! The result is parsed again and every changed entry checked before it is handed back,
//! so a wrong splice is an error, never a written file.

use super::clients::Layout;
use super::entry::{apply, plan, Entry, Mode, Skip, Syntax};
use super::parse_failure::ParseFailure;
use super::{json_doc, toml_doc};

/// What happened to one file.
#[derive(Debug, Default)]
pub(super) struct Edited {
    pub text: String,
    /// The entries changed, as labels.
    pub changed: Vec<String>,
    pub skipped: Vec<(String, Skip)>,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum EditError {
    #[error("line {}: {}", .0.line, .0.message)]
    Parse(ParseFailure),
    #[error("the edit of `{0}` did not check out; the file is left untouched (please report this)")]
    Check(String),
}

fn entries(text: &str, layout: Layout) -> Result<Vec<Entry>, ParseFailure> {
    match layout {
        Layout::Json(locations) => json_doc::entries(text, locations),
        Layout::Toml(table) => toml_doc::entries(text, table),
    }
}

/// The label an entry is reported under: its key, and where it sits when that matters.
pub(super) fn label(entry: &Entry) -> String {
    match &entry.scope {
        Some(scope) => format!("{} (in {scope})", entry.key),
        None => entry.key.clone(),
    }
}

/// The command and args an entry runs.
fn runs(entry: &Entry) -> Option<(String, Vec<String>)> {
    let (_, command) = entry.command.as_ref()?;
    let args = match &entry.args {
        None => Vec::new(),
        Some(a) => a.elements.as_ref()?.iter().map(|s| s.value.clone()).collect(),
    };
    Some((command.value.clone(), args))
}

/// Installs or uninstalls countersign in the entries of `text` whose key is in `servers`
/// (every entry when it is empty).
pub(super) fn edit(
    text: &str,
    layout: Layout,
    mode: Mode,
    servers: &[String],
    binary: &str,
) -> Result<Edited, EditError> {
    // A byte-order mark (some Windows editors write one) stays, outside what is parsed.
    if let Some(body) = text.strip_prefix('\u{feff}') {
        let mut out = edit(body, layout, mode, servers, binary)?;
        out.text.insert(0, '\u{feff}');
        return Ok(out);
    }
    let syntax = match layout {
        Layout::Json(_) => Syntax::Json,
        Layout::Toml(_) => Syntax::Toml,
    };
    let found = entries(text, layout).map_err(EditError::Parse)?;
    let mut splices = Vec::new();
    let mut out = Edited::default();
    let mut expected = Vec::new();
    for entry in found.iter().filter(|e| servers.is_empty() || servers.contains(&e.key)) {
        match plan(text, syntax, entry, mode, binary) {
            Ok(s) => {
                splices.extend(s);
                out.changed.push(label(entry));
                let (command, args) = runs(entry).ok_or_else(|| EditError::Check(label(entry)))?;
                let after = match mode {
                    Mode::Install => {
                        let mut a = vec!["--name".to_owned(), entry.key.clone(), "--".to_owned(), command];
                        a.extend(args);
                        (binary.to_owned(), a)
                    }
                    Mode::Uninstall => (args[3].clone(), args[4..].to_vec()),
                };
                expected.push((entry.scope.clone(), entry.key.clone(), after));
            }
            Err(skip) => out.skipped.push((label(entry), skip)),
        }
    }
    out.text = apply(text, splices);
    let again = entries(&out.text, layout).map_err(|_| EditError::Check(out.changed.join(", ")))?;
    if again.len() != found.len() {
        return Err(EditError::Check(out.changed.join(", ")));
    }
    for (scope, key, after) in expected {
        let entry = again.iter().find(|e| e.scope == scope && e.key == key);
        if entry.and_then(runs).as_ref() != Some(&after) {
            return Err(EditError::Check(key));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::clients::{ANY_JSON, CODEX_TABLE};
    use super::*;

    const BIN: &str = "/opt/cs/countersign";

    fn round_trip(text: &str, layout: Layout) -> String {
        let installed = edit(text, layout, Mode::Install, &[], BIN).unwrap();
        assert!(!installed.changed.is_empty());
        let again = edit(&installed.text, layout, Mode::Install, &[], BIN).unwrap();
        assert!(again.changed.is_empty(), "install twice changes nothing");
        assert_eq!(again.text, installed.text);
        let back = edit(&installed.text, layout, Mode::Uninstall, &[], BIN).unwrap();
        assert_eq!(back.text, text, "uninstall gives the bytes back");
        installed.text
    }

    #[test]
    fn json_styles_survive_a_round_trip() {
        let text = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"npx\", \"args\": [\"-y\",\"pkg\"]},\n    \"b\": {\n      \"command\": \"srv\"\n    },\n    \"c\": {\"command\": \"x\", \"args\": [\n      \"one\", // why\n      \"two\",\n    ]},\n    \"d\": {\"command\": \"y\", \"args\": []}\n  }\n}\n";
        let installed = round_trip(text, Layout::Json(ANY_JSON));
        assert!(installed.contains(r#"["--name","a","--","npx","-y","pkg"]"#), "{installed}");
        assert!(installed.contains(r#""args": ["--name", "b", "--", "srv"], "command": "/opt/cs/countersign""#));
        assert!(installed
            .contains("[\n      \"--name\",\n      \"c\",\n      \"--\",\n      \"x\",\n      \"one\", // why"));
        assert!(installed.contains(r#""args": ["--name", "d", "--", "y"]"#));
    }

    #[test]
    fn toml_styles_survive_a_round_trip() {
        let text = "# mine\n[mcp_servers.a]\ncommand = 'npx' # fetches\nargs = [\n  \"-y\",\n  \"pkg\",\n]\n\n[mcp_servers.b]\n  command = \"srv\"\n  env = { K = \"v\" }\n\n[mcp_servers.c]\ncommand = \"x\"\nargs = []\n\n[other]\nx = { mcp_servers = 1 }\n";
        let installed = round_trip(text, Layout::Toml(CODEX_TABLE));
        assert!(
            installed.contains("  args = [\"--name\", \"b\", \"--\", \"srv\"]\n  command = \"/opt/cs/countersign\"\n"),
            "{installed}"
        );
        assert!(installed.contains("command = \"/opt/cs/countersign\" # fetches\nargs = [\n  \"--name\",\n  \"a\",\n  \"--\",\n  'npx',\n  \"-y\","));
        let inline = "mcp_servers = { a = { command = \"x\" }, b = { command = \"y\", args = [\"1\"] } }\n";
        round_trip(inline, Layout::Toml(CODEX_TABLE));
    }

    #[test]
    fn crlf_files_and_a_byte_order_mark_survive_a_round_trip() {
        let json = "\u{feff}{\r\n  \"mcpServers\": {\r\n    \"a\": {\r\n      \"command\": \"x\"\r\n    },\r\n    \"b\": {\r\n      \"command\": \"y\",\r\n      \"args\": [\r\n        \"1\"\r\n      ]\r\n    }\r\n  }\r\n}\r\n";
        let installed = round_trip(json, Layout::Json(ANY_JSON));
        assert!(installed.contains("[\r\n        \"--name\",\r\n        \"b\",\r\n"), "{installed:?}");
        let toml = "[mcp_servers.a]\r\ncommand = \"x\"\r\n\r\n[mcp_servers.b]\r\ncommand = \"y\"\r\nargs = [\r\n  \"1\",\r\n]\r\n";
        let installed = round_trip(toml, Layout::Toml(CODEX_TABLE));
        assert!(installed.contains("args = [\"--name\", \"a\", \"--\", \"x\"]\r\ncommand"), "{installed:?}");
    }

    #[test]
    fn skips_say_why() {
        let text = r#"{"mcpServers": {
  "r": {"url": "https://x"}, "t": {"type": "sse", "command": "x"}, "d": {"command": "x", "disabled": true},
  "w": {"command": "/usr/bin/countersign", "args": ["--name", "w", "--", "x"]},
  "n": {"command": 3}, "o": {"command": "x", "args": [1]},
  "e": {"command": "env", "args": ["A=1", "/opt/countersign", "--", "srv"]}
}}"#;
        let out = edit(text, Layout::Json(ANY_JSON), Mode::Install, &[], BIN).unwrap();
        assert!(out.changed.is_empty());
        let why: Vec<String> = out.skipped.iter().map(|(k, s)| format!("{k}: {s}")).collect();
        assert_eq!(
            why,
            [
                "r: remote server (has `url`), not stdio",
                "t: remote server (type sse), not stdio",
                "d: disabled",
                "w: already wrapped",
                "n: `command` is not a string",
                "o: `args` is not a list of strings",
                "e: already wrapped"
            ]
        );
        assert_eq!(out.text, text);
    }

    #[test]
    fn uninstall_leaves_hand_made_wraps_and_takes_only_selected_servers() {
        let text = r#"{"mcpServers": {"h": {"command": "countersign", "args": ["--name", "other", "--policy", "p", "--", "x"]}, "a": {"command": "a"}, "b": {"command": "b"}}}"#;
        let installed = edit(text, Layout::Json(ANY_JSON), Mode::Install, &["a".into()], BIN).unwrap();
        assert_eq!(installed.changed, ["a"]);
        let out = edit(&installed.text, Layout::Json(ANY_JSON), Mode::Uninstall, &[], BIN).unwrap();
        assert_eq!(out.changed, ["a"]);
        assert_eq!(out.skipped[0].1, Skip::WrappedOtherwise);
        assert_eq!(out.text, text);
    }
}
