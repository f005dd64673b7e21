//! Server entries in a TOML file (Codex's `[mcp_servers.<key>]`), found with `toml_edit`,
//! which keeps every key's and value's byte range. As for JSON, the edits are splices of
//! the original text, so comments, order and spacing stay as written.

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::entry::{Args, Entry, Str, Style};
use super::json_doc::remote_reason;
use super::parse_failure::ParseFailure;

/// The entries of the `table` server map (`mcp_servers`) in `text`.
pub(super) fn entries(text: &str, table: &str) -> Result<Vec<Entry>, ParseFailure> {
    let doc = ImDocument::parse(text).map_err(|e| ParseFailure {
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let Some(servers) = doc.as_table().get(table).and_then(Item::as_table_like) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (key, item) in servers.iter() {
        let Some(server) = item.as_table_like() else { continue };
        let style = if item.is_inline_table() || matches!(item, Item::Value(Value::InlineTable(_))) {
            Style::TomlInline
        } else {
            let dotted = item.as_table().is_some_and(|t| t.is_dotted());
            Style::TomlTable { indent: String::new(), dotted }
        };
        out.push(entry(text, key, server, style));
    }
    Ok(out)
}

fn entry(text: &str, key: &str, server: &dyn TableLike, mut style: Style) -> Entry {
    let mut odd = None;
    let command = match server.get_key_value("command") {
        Some((k, Item::Value(Value::String(s)))) => match (k.span(), s.span()) {
            (Some(ks), Some(vs)) => Some((ks.start, Str { range: vs, value: s.value().clone() })),
            _ => {
                odd = Some("the file's positions are unknown".into());
                None
            }
        },
        Some(_) => {
            odd = Some("`command` is not a string".into());
            None
        }
        None => None,
    };
    if let (Style::TomlTable { indent, .. }, Some((at, _))) = (&mut style, &command) {
        let line_start = text[..*at].rfind('\n').map_or(0, |i| i + 1);
        let lead = &text[line_start..*at];
        if lead.chars().all(|c| c == ' ' || c == '\t') {
            *indent = lead.to_owned();
        } else {
            odd.get_or_insert_with(|| "`command` does not start its line".into());
        }
    }
    let args = server.get_key_value("args").map(|(k, item)| {
        let key_start = k.span().map_or(0, |s| s.start);
        match item {
            Item::Value(Value::Array(a)) => Args {
                key_start,
                array: a.span().unwrap_or(0..0),
                elements: a
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.span().map(|range| Str { range, value: s.value().clone() }),
                        _ => None,
                    })
                    .collect(),
            },
            other => Args { key_start, array: other.span().unwrap_or(0..0), elements: None },
        }
    });
    if args.as_ref().is_some_and(|a| a.array.is_empty()) {
        odd.get_or_insert_with(|| "the file's positions are unknown".into());
    }
    let string = |name: &str| server.get(name).and_then(Item::as_str).map(str::to_owned);
    let boolean = |name: &str| server.get(name).and_then(Item::as_bool);
    Entry {
        scope: None,
        key: key.to_owned(),
        style,
        command,
        args,
        remote: remote_reason(&string, &|name| server.contains_key(name)),
        disabled: boolean("enabled") == Some(false) || boolean("disabled") == Some(true),
        odd,
    }
}

/// The 1-based line of byte `at`.
pub(super) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tables_and_inline_tables_with_their_ranges() {
        let text = "# servers\n[mcp_servers.fs]\ncommand = \"npx\" # runs it\nargs = [\"-y\", 'pkg']\n\n[mcp_servers.web]\nurl = \"https://x\"\n\n[other]\nmcp_servers = 1\n";
        let found = entries(text, "mcp_servers").unwrap();
        assert_eq!(found.len(), 2);
        let (key_at, command) = found[0].command.as_ref().unwrap();
        assert_eq!(&text[command.range.clone()], "\"npx\"");
        assert_eq!(&text[*key_at..*key_at + 7], "command");
        let args = found[0].args.as_ref().unwrap();
        assert_eq!(&text[args.array.clone()], "[\"-y\", 'pkg']");
        assert_eq!(&text[args.elements.as_ref().unwrap()[1].range.clone()], "'pkg'");
        assert_eq!(found[1].remote.as_deref(), Some("has `url`"));
        let inline = entries("mcp_servers = { a = { command = \"x\" } }\n", "mcp_servers").unwrap();
        assert_eq!(inline[0].style, Style::TomlInline);
    }

    #[test]
    fn a_broken_file_names_its_line() {
        let e = entries("[mcp_servers.a]\ncommand = \"x\"\nargs = [\n", "mcp_servers").unwrap_err();
        assert!(e.line >= 3, "{} {}", e.line, e.message);
    }
}
