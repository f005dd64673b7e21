//! `countersign install` / `uninstall` through the real binary, with HOME and the working
//! directory set to a temporary folder holding realistic client configs
//! (`tests/install/`): wrapped as the product brief says, idempotent, given back byte for
//! byte, and safe with broken, read-only and edited files. The last test starts an
//! installed entry exactly as a client would, with the official Python SDK client.
#![allow(clippy::unwrap_used)]

mod home;
use crate::support::{self, peers};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use home::{bin, mode_of, unwrapped, value_of, without_empty_args, Home};
use serde_json::json;

/// One client's round trip: install (what was wrapped and skipped, and the files'
/// meaning), install again (no change), uninstall (the original bytes).
fn round_trip(client: &str, files: &[(&str, &str, &[&str])], wrapped: &[&str], skipped: &[&str]) {
    let home = Home::new();
    let placed: Vec<(PathBuf, Vec<u8>)> = files.iter().map(|(at, name, _)| home.put(at, name)).collect();
    let (code, out, err) = home.run(&["install", "--client", client]);
    assert_eq!(code, 0, "{out}\n{err}");
    for name in wrapped {
        assert!(out.lines().any(|l| l.contains("wrapped: ") && l.contains(name)), "{name} wrapped:\n{out}");
    }
    for name in skipped {
        assert!(out.contains(&format!("skipped {name}: ")), "{name} skipped:\n{out}");
    }
    assert!(out.contains("restart "), "{out}");
    let keys: Vec<&str> = wrapped.iter().map(|w| w.split(" (in ").next().unwrap()).collect();
    let mut seen = 0;
    for ((path, original), (_, _, maps)) in placed.iter().zip(files) {
        let installed = std::fs::read(path).unwrap();
        assert_ne!(&installed, original, "{} changed", path.display());
        seen += String::from_utf8_lossy(&installed).matches(&format!("\"{}\"", bin())).count();
        let backup = PathBuf::from(format!("{}.countersign.bak", path.display()));
        assert_eq!(&std::fs::read(&backup).unwrap(), original, "the backup is the original");
        assert_eq!(mode_of(path), 0o600, "the mode is kept");
        let before = value_of(&backup);
        let after = without_empty_args(unwrapped(value_of(path), maps, &keys), maps, &before);
        assert_eq!(after, before, "{}: only the wrapped entries' command and args changed", path.display());
    }
    assert_eq!(seen, wrapped.len(), "one wrapped entry per name:\n{out}");

    let snapshot: Vec<Vec<u8>> = placed.iter().map(|(p, _)| std::fs::read(p).unwrap()).collect();
    let (code, again, _) = home.run(&["install", "--client", client]);
    assert_eq!(code, 0);
    assert!(again.contains("nothing to change") && !again.contains("wrapped:"), "{again}");
    for ((path, _), before) in placed.iter().zip(&snapshot) {
        assert_eq!(&std::fs::read(path).unwrap(), before, "install twice changes nothing");
    }

    let (code, out, err) = home.run(&["uninstall", "--client", client]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("unwrapped: "), "{out}");
    for (path, original) in &placed {
        assert_eq!(&std::fs::read(path).unwrap(), original, "{}: given back byte for byte", path.display());
        assert_eq!(mode_of(path), 0o600);
    }
    let (code, out, _) = home.run(&["uninstall", "--client", client]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to change"), "{out}");
}

#[test]
fn claude_desktop() {
    round_trip(
        "claude-desktop",
        &[("~/.config/Claude/claude_desktop_config.json", "claude_desktop_config.json", &["/mcpServers"])],
        &["filesystem", "github", "sqlite", "weather"],
        &["linear"],
    );
}

#[test]
fn claude_code_user_project_and_mcp_json() {
    round_trip(
        "claude-code",
        &[
            ("~/.claude.json", "claude.json", &["/mcpServers", "/projects/~1home~1sam~1src~1shop/mcpServers"]),
            ("./.mcp.json", "mcp.json", &["/mcpServers"]),
        ],
        &["memory", "postgres (in /home/sam/src/shop)", "time (in /home/sam/src/shop)", "git"],
        &["sentry", "docs"],
    );
}

#[test]
fn cursor() {
    round_trip(
        "cursor",
        &[
            ("~/.cursor/mcp.json", "cursor.json", &["/mcpServers"]),
            ("./.cursor/mcp.json", "mcp.json", &["/mcpServers"]),
        ],
        &["github", "playwright", "stripe", "git"],
        &["context7", "docs"],
    );
}

#[test]
fn vscode_jsonc_keeps_comments_and_trailing_commas() {
    round_trip(
        "vscode",
        &[
            ("./.vscode/mcp.json", "vscode.json", &["/servers"]),
            ("~/.config/Code/User/mcp.json", "vscode-user.json", &["/servers"]),
        ],
        &["filesystem", "github", "local-tool", "memory"],
        &["fetch"],
    );
}

#[test]
fn windsurf() {
    round_trip(
        "windsurf",
        &[("~/.codeium/windsurf/mcp_config.json", "windsurf.json", &["/mcpServers"])],
        &["brave-search", "kubectl"],
        &["figma", "puppeteer"],
    );
}

#[test]
fn gemini() {
    round_trip(
        "gemini",
        &[("~/.gemini/settings.json", "gemini.json", &["/mcpServers"])],
        &["pythonTools", "nodeServer"],
        &["httpServer"],
    );
}

#[test]
fn codex_toml_keeps_comments() {
    round_trip(
        "codex",
        &[("~/.codex/config.toml", "codex.toml", &["/mcp_servers"])],
        &["context7", "filesystem", "time", "sqlite"],
        &["figma", "legacy"],
    );
}

#[test]
fn the_written_entries_read_as_a_user_expects() {
    let home = Home::new();
    let (path, _) = home.put("./.vscode/mcp.json", "vscode.json");
    let (toml_path, _) = home.put("~/.codex/config.toml", "codex.toml");
    assert_eq!(home.run(&["install"]).0, 0);
    let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    let expected = format!(
        "      \"command\": \"{}\",\n      \"args\": [\n        \"--name\",\n        \"filesystem\",\n        \"--\",\n        \"npx\",\n        \"-y\",\n",
        bin()
    );
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("        \"${workspaceFolder}\", // the open folder\n      ],\n"), "{text}");
    let text = std::fs::read_to_string(&toml_path).unwrap();
    assert!(
        text.contains(&format!(
            "args = [\"--name\", \"sqlite\", \"--\", \"/usr/local/bin/sqlite-mcp\"]\ncommand = \"{}\"\n",
            bin()
        )),
        "{text}"
    );
    assert!(text.contains(&format!("command = \"{}\"   # fetched on first use\n", bin())), "{text}");
}

#[test]
fn uninstall_keeps_what_the_user_edited_meanwhile() {
    let home = Home::new();
    let (path, original) = home.put("~/.cursor/mcp.json", "cursor.json");
    assert_eq!(home.run(&["install"]).0, 0);
    let edit = |text: &str| {
        text.replace("sk_test_example", "sk_test_rotated").replace(
            "    \"context7\": { \"url\": \"https://mcp.context7.com/mcp\" },\n",
            "    \"context7\": { \"url\": \"https://mcp.context7.com/mcp\" },\n    \"new\": { \"command\": \"new-server\" },\n",
        )
    };
    let installed = std::fs::read_to_string(&path).unwrap();
    let edited = edit(&installed);
    assert_ne!(edited, installed);
    std::fs::write(&path, &edited).unwrap();
    let (code, out, _) = home.run(&["uninstall"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not wrapped: context7, new"), "{out}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edit(std::str::from_utf8(&original).unwrap()));
}

#[test]
fn an_unparsable_file_is_left_untouched_and_named_with_its_line() {
    let home = Home::new();
    let broken = "{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\" \"args\": [] },\n  }\n";
    let path = home.path("~/.cursor/mcp.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, broken).unwrap();
    let (good, original) = home.put("~/.codeium/windsurf/mcp_config.json", "windsurf.json");
    let (code, out, _) = home.run(&["install"]);
    assert_eq!(code, 1, "{out}");
    let line = out.lines().position(|l| l.starts_with(&path.display().to_string())).expect("the file is named");
    let error = out.lines().nth(line + 1).unwrap();
    assert!(error.contains("error: not valid JSON: line 3"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    assert!(!PathBuf::from(format!("{}.countersign.bak", path.display())).exists());
    assert_ne!(std::fs::read(&good).unwrap(), original, "the other files are still done");

    let toml = home.path("~/.codex/config.toml");
    std::fs::create_dir_all(toml.parent().unwrap()).unwrap();
    std::fs::write(&toml, "[mcp_servers.a]\ncommand = \"x\"\nargs = [\"y\"\n").unwrap();
    let (code, out, _) = home.run(&["install", "--client", "codex"]);
    assert_eq!(code, 1);
    assert!(out.contains("error: not valid TOML: line "), "{out}");
}

#[test]
fn a_read_only_file_is_refused_whole() {
    let home = Home::new();
    let (path, original) = home.put("~/.gemini/settings.json", "gemini.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    for args in [&["install"][..], &["install", "--dry-run"]] {
        let (code, out, _) = home.run(args);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("error: it is read-only (mode 444)"), "{out}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert_eq!(mode_of(&path), 0o444);
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["settings.json"], "no backup, no temporary file");
}

#[test]
fn a_symlinked_config_is_edited_where_it_points() {
    let home = Home::new();
    let (real, original) = home.put("./shared/cursor.json", "cursor.json");
    let link = home.path("~/.cursor/mcp.json");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, _, _) = home.run(&["install", "--client", "cursor"]);
    assert_eq!(code, 0);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_ne!(std::fs::read(&real).unwrap(), original, "the file it points to is edited");
    assert_eq!(home.run(&["uninstall", "--client", "cursor"]).0, 0);
    assert_eq!(std::fs::read(&real).unwrap(), original);

    let (code, out, err) = home.run(&["install", "--config", &format!("{}/x.json", real.display())]);
    assert_eq!(code, 125, "{out}{err}");
    assert!(err.contains("no such file"), "{err}");
}

#[test]
fn dry_run_writes_nothing_and_says_the_same() {
    let home = Home::new();
    let (path, original) = home.put("~/.config/Claude/claude_desktop_config.json", "claude_desktop_config.json");
    let (code, out, _) = home.run(&["install", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("would wrap: filesystem, github, sqlite, weather"), "{out}");
    assert!(out.contains("skipped linear: remote server (has `url`), not stdio"), "{out}");
    assert!(out.contains("dry run: nothing written"), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no backup either");
    let (_, real, _) = home.run(&["install"]);
    assert!(real.contains("wrapped: filesystem, github, sqlite, weather"), "{real}");
}

#[test]
fn selectors_pick_servers_and_files() {
    let home = Home::new();
    let (path, original) = home.put("~/.config/Claude/claude_desktop_config.json", "claude_desktop_config.json");
    let (code, out, _) = home.run(&["install", "--server", "github", "--server", "nope"]);
    assert_eq!(code, 1, "a name found nowhere is an error:\n{out}");
    assert!(out.contains("wrapped: github\n") && out.contains("no server named nope"), "{out}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(&bin()).count(), 1);
    let other = home.cwd.join("servers.json");
    std::fs::copy(&path, &other).unwrap();
    let (code, out, _) = home.run(&["uninstall", "--config", other.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("unwrapped: github") && out.contains("restart the client that reads this file"), "{out}");
    assert_eq!(std::fs::read(&other).unwrap(), original);

    let empty = Home::new();
    let (code, _, err) = empty.run(&["install"]);
    assert_eq!(code, 125);
    assert!(err.contains("no client config file found"), "{err}");
}

/// The end-to-end check: the entry `install` wrote, started exactly as a client starts
/// it (its `command` and `args` from the file, the stripped environment the official
/// Python SDK gives a server, no terminal), gates the reference filesystem server.
#[test]
fn an_installed_entry_gates_the_reference_server_as_a_client_starts_it() {
    let home = Home::new();
    let files = home.cwd.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("a.txt"), "hello").unwrap();
    let config = home.path("~/.config/Claude/claude_desktop_config.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let entry = peers::node_server_entry("server-filesystem");
    let original = json!({"mcpServers": {"files": {"command": "node", "args": [entry, files]}}});
    std::fs::write(&config, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    let (code, out, _) = home.run(&["install", "--client", "claude-desktop"]);
    assert_eq!(code, 0, "{out}");
    // A user who keeps calls for later rather than on the approval page.
    support::without_web(&home.home.join(".config"));

    let written = value_of(&config);
    let server = &written["mcpServers"]["files"];
    let mut command = vec![server["command"].as_str().unwrap().to_owned()];
    command.extend(server["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()));
    assert!(Path::new(&command[0]).is_absolute());
    let steps = json!([
        {"call": "read_text_file", "args": {"path": files.join("a.txt")}},
        {"call": "write_file", "args": {"path": files.join("b.txt"), "content": "should not exist"}},
    ]);
    let out = peers::drive_python("legacy", &command, &steps, &[("HOME", &home.home)]);
    assert_eq!(out[0]["text"], "hello", "{}", out[0]);
    assert_eq!(out[1]["is_error"], true, "{}", out[1]);
    let denial = out[1]["text"].as_str().unwrap();
    assert!(denial.starts_with("countersign denied write_file:"), "{denial}");
    assert!(denial.contains("reason=approval_pending"), "no terminal and no console: {denial}");
    assert!(!files.join("b.txt").exists(), "the held write ran");
    let audit = home.home.join(".local/state/countersign/audit");
    let records = support::audit_records(&audit);
    let decision =
        records.iter().find(|r| r["event"] == "decision" && r["decision"] == "deny").expect("a denial record");
    assert_eq!(decision["server"], "files", "the audit says the entry's key");
    assert_eq!(decision["tool"], "write_file");
}
