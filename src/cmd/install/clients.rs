//! The clients `install` knows, and the files each one reads on this platform.

use std::path::{Path, PathBuf};

use super::json_doc::Location;
use crate::cli::ClientName;

/// A file's format and where its server maps are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    Json(&'static [Location]),
    Toml(&'static str),
}

const MCP_SERVERS: &[Location] = &[&["mcpServers"]];
const CLAUDE_CODE_USER: &[Location] = &[&["mcpServers"], &["projects", "*", "mcpServers"]];
const VSCODE: &[Location] = &[&["servers"]];
/// `--config FILE` in JSON: every place a known client keeps servers.
pub(super) const ANY_JSON: &[Location] =
    &[&["mcpServers"], &["projects", "*", "mcpServers"], &["servers"], &["mcp", "servers"]];
pub(super) const CODEX_TABLE: &str = "mcp_servers";

/// One file to edit.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// Who reads it, for the report; `None` for `--config FILE`.
    pub client: Option<ClientName>,
    pub path: PathBuf,
    pub layout: Layout,
}

/// What decides the paths: the home directory, the working directory, the platform and
/// the few variables the clients themselves honour.
#[derive(Debug, Clone)]
pub(super) struct Places {
    pub home: PathBuf,
    pub cwd: PathBuf,
    pub macos: bool,
    /// `$XDG_CONFIG_HOME` when set and absolute (Linux: Claude Desktop, VS Code).
    pub xdg_config: Option<PathBuf>,
    /// `$CODEX_HOME` when set (Codex).
    pub codex_home: Option<PathBuf>,
}

impl Places {
    /// The application-support directory of a desktop app on this platform.
    fn app_config(&self, app: &str) -> PathBuf {
        if self.macos {
            self.home.join("Library/Application Support").join(app)
        } else {
            self.xdg_config.clone().unwrap_or_else(|| self.home.join(".config")).join(app)
        }
    }
}

pub(super) const ALL: [ClientName; 7] = [
    ClientName::ClaudeDesktop,
    ClientName::ClaudeCode,
    ClientName::Cursor,
    ClientName::Vscode,
    ClientName::Windsurf,
    ClientName::Gemini,
    ClientName::Codex,
];

/// The files `client` reads, user-wide first, then the working directory's.
pub(super) fn files(client: ClientName, places: &Places) -> Vec<Target> {
    let home = &places.home;
    let cwd = &places.cwd;
    let json = |path: PathBuf, locations| Target { client: Some(client), path, layout: Layout::Json(locations) };
    match client {
        ClientName::ClaudeDesktop => {
            vec![json(places.app_config("Claude").join("claude_desktop_config.json"), MCP_SERVERS)]
        }
        ClientName::ClaudeCode => {
            vec![json(home.join(".claude.json"), CLAUDE_CODE_USER), json(cwd.join(".mcp.json"), MCP_SERVERS)]
        }
        ClientName::Cursor => {
            vec![json(home.join(".cursor/mcp.json"), MCP_SERVERS), json(cwd.join(".cursor/mcp.json"), MCP_SERVERS)]
        }
        ClientName::Vscode => {
            vec![
                json(places.app_config("Code").join("User/mcp.json"), VSCODE),
                json(cwd.join(".vscode/mcp.json"), VSCODE),
            ]
        }
        ClientName::Windsurf => vec![json(home.join(".codeium/windsurf/mcp_config.json"), MCP_SERVERS)],
        ClientName::Gemini => {
            vec![
                json(home.join(".gemini/settings.json"), MCP_SERVERS),
                json(cwd.join(".gemini/settings.json"), MCP_SERVERS),
            ]
        }
        ClientName::Codex => {
            let dir = places.codex_home.clone().unwrap_or_else(|| home.join(".codex"));
            vec![Target { client: Some(client), path: dir.join("config.toml"), layout: Layout::Toml(CODEX_TABLE) }]
        }
    }
}

/// The display name of a client.
pub(super) fn title(client: ClientName) -> &'static str {
    match client {
        ClientName::ClaudeDesktop => "Claude Desktop",
        ClientName::ClaudeCode => "Claude Code",
        ClientName::Cursor => "Cursor",
        ClientName::Vscode => "VS Code",
        ClientName::Windsurf => "Windsurf",
        ClientName::Gemini => "Gemini CLI",
        ClientName::Codex => "Codex",
    }
}

/// The layout of a file named directly: TOML by its name (`.toml`) or, failing a JSON
/// parse, by its content; JSON otherwise.
pub(super) fn layout_of(path: &Path, text: &str) -> Layout {
    let toml_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let json_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("jsonc"));
    if toml_name {
        return Layout::Toml(CODEX_TABLE);
    }
    if !json_name {
        let trimmed = text.trim_start();
        let looks_json =
            trimmed.is_empty() || trimmed.starts_with('{') || trimmed.starts_with("//") || trimmed.starts_with("/*");
        if !looks_json && toml_edit::ImDocument::parse(text).is_ok() {
            return Layout::Toml(CODEX_TABLE);
        }
    }
    Layout::Json(ANY_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(macos: bool) -> Places {
        Places { home: "/h".into(), cwd: "/w".into(), macos, xdg_config: None, codex_home: None }
    }

    #[test]
    fn paths_per_platform() {
        let desktop = |p: &Places| files(ClientName::ClaudeDesktop, p)[0].path.clone();
        assert_eq!(desktop(&places(false)), Path::new("/h/.config/Claude/claude_desktop_config.json"));
        assert_eq!(
            desktop(&places(true)),
            Path::new("/h/Library/Application Support/Claude/claude_desktop_config.json")
        );
        let vscode = files(ClientName::Vscode, &places(true));
        assert_eq!(vscode[0].path, Path::new("/h/Library/Application Support/Code/User/mcp.json"));
        assert_eq!(vscode[1].path, Path::new("/w/.vscode/mcp.json"));
        let mut p = places(false);
        p.codex_home = Some("/c".into());
        assert_eq!(files(ClientName::Codex, &p)[0].path, Path::new("/c/config.toml"));
    }

    #[test]
    fn a_named_file_is_toml_by_name_or_content() {
        assert_eq!(layout_of(Path::new("x.toml"), "{"), Layout::Toml(CODEX_TABLE));
        assert_eq!(layout_of(Path::new("x.conf"), "[mcp_servers.a]\ncommand = \"x\"\n"), Layout::Toml(CODEX_TABLE));
        assert_eq!(layout_of(Path::new("x.conf"), "// c\n{}"), Layout::Json(ANY_JSON));
        assert_eq!(layout_of(Path::new("x.json"), "a = 1"), Layout::Json(ANY_JSON));
    }
}
