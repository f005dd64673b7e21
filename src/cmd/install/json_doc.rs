//! Server entries in a JSON or JSONC file (comments, trailing commas), found with
//! `jsonc-parser`'s AST, which gives every value's byte range. The file is never written
//! back from a tree: the edits are splices of the original text (see `entry`).

use jsonc_parser::ast::{Object, ObjectProp, Value};
use jsonc_parser::{parse_to_ast, CollectOptions, ParseOptions};

use super::entry::{Args, Entry, Str, Style};
use super::parse_failure::ParseFailure;

/// Where server maps live, as paths of member names; `*` is every member (its name
/// becomes the entry's scope).
pub(super) type Location = &'static [&'static str];

/// The entries of every server map at `locations` in `text`.
pub(super) fn entries(text: &str, locations: &[Location]) -> Result<Vec<Entry>, ParseFailure> {
    let parsed = parse_to_ast(text, &CollectOptions::default(), &jsonc())
        .map_err(|e| ParseFailure { line: e.line_display(), message: e.kind().to_string() })?;
    let root = match parsed.value {
        Some(Value::Object(root)) => root,
        None => return Ok(Vec::new()),
        Some(_) => return Err(ParseFailure { line: 1, message: "the file is not a JSON object".into() }),
    };
    let mut out = Vec::new();
    for location in locations {
        walk(&root, location, None, &mut out);
    }
    Ok(out)
}

/// JSON with comments and trailing commas, as VS Code reads it; nothing else of JSON5.
fn jsonc() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn walk(object: &Object<'_>, path: &[&str], scope: Option<&str>, out: &mut Vec<Entry>) {
    let Some((first, rest)) = path.split_first() else {
        for prop in &object.properties {
            if let Value::Object(server) = &prop.value {
                out.push(entry(prop.name.as_str(), server, scope));
            }
        }
        return;
    };
    for prop in &object.properties {
        let name = prop.name.as_str();
        if *first != "*" && name != *first {
            continue;
        }
        if let Value::Object(inner) = &prop.value {
            walk(inner, rest, if *first == "*" { Some(name) } else { scope }, out);
        }
    }
}

fn members<'o, 'a>(object: &'o Object<'a>, name: &str) -> Vec<&'o ObjectProp<'a>> {
    object.properties.iter().filter(|p| p.name.as_str() == name).collect()
}

fn entry(key: &str, server: &Object<'_>, scope: Option<&str>) -> Entry {
    let mut odd = None;
    for name in ["command", "args"] {
        if members(server, name).len() > 1 {
            odd = Some(format!("`{name}` appears twice"));
        }
    }
    let command = match members(server, "command").first().map(|p| (p, &p.value)) {
        Some((prop, Value::StringLit(s))) => {
            Some((prop.range.start, Str { range: s.range.start..s.range.end, value: s.value.to_string() }))
        }
        Some(_) => {
            odd.get_or_insert_with(|| "`command` is not a string".into());
            None
        }
        None => None,
    };
    let args = members(server, "args").first().map(|prop| {
        let (array, elements) = match &prop.value {
            Value::Array(a) => (
                a.range.start..a.range.end,
                a.elements
                    .iter()
                    .map(|v| match v {
                        Value::StringLit(s) => {
                            Some(Str { range: s.range.start..s.range.end, value: s.value.to_string() })
                        }
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>(),
            ),
            other => {
                let r = range_of(other);
                (r, None)
            }
        };
        Args { key_start: prop.range.start, array, elements }
    });
    let string = |name: &str| match members(server, name).first().map(|p| &p.value) {
        Some(Value::StringLit(s)) => Some(s.value.to_string()),
        _ => None,
    };
    let boolean = |name: &str| match members(server, name).first().map(|p| &p.value) {
        Some(Value::BooleanLit(b)) => Some(b.value),
        _ => None,
    };
    let remote = remote_reason(&string, &|name| !members(server, name).is_empty());
    Entry {
        scope: scope.map(str::to_owned),
        key: key.to_owned(),
        style: Style::Json,
        command,
        args,
        remote,
        disabled: boolean("disabled") == Some(true) || boolean("enabled") == Some(false),
        odd,
    }
}

/// Why an entry is a remote server: a URL member (`url`; Windsurf's `serverUrl`, Gemini's
/// `httpUrl`) or a transport type other than stdio.
pub(super) fn remote_reason(string: &dyn Fn(&str) -> Option<String>, has: &dyn Fn(&str) -> bool) -> Option<String> {
    if let Some(member) = ["url", "serverUrl", "httpUrl"].into_iter().find(|m| has(m)) {
        return Some(format!("has `{member}`"));
    }
    match string("type") {
        Some(t) if !t.eq_ignore_ascii_case("stdio") && !t.is_empty() => Some(format!("type {t}")),
        _ => None,
    }
}

fn range_of(value: &Value<'_>) -> std::ops::Range<usize> {
    let r = match value {
        Value::StringLit(v) => v.range,
        Value::NumberLit(v) => v.range,
        Value::BooleanLit(v) => v.range,
        Value::Object(v) => v.range,
        Value::Array(v) => v.range,
        Value::NullKeyword(v) => v.range,
    };
    r.start..r.end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_entries_in_nested_maps_with_comments_and_trailing_commas() {
        let text = r#"{
  // user servers
  "mcpServers": { "a": { "command": "npx", "args": ["-y", "pkg",], }, },
  "projects": { "/p": { "mcpServers": { "b": { "url": "https://x" } } } },
}"#;
        let found = entries(text, &[&["mcpServers"], &["projects", "*", "mcpServers"]]).unwrap();
        assert_eq!(found.len(), 2);
        let (_, command) = found[0].command.as_ref().unwrap();
        assert_eq!(&text[command.range.clone()], "\"npx\"");
        assert_eq!(found[0].args.as_ref().unwrap().elements.as_ref().unwrap().len(), 2);
        assert_eq!(found[1].scope.as_deref(), Some("/p"));
        assert_eq!(found[1].remote.as_deref(), Some("has `url`"));
    }

    #[test]
    fn a_broken_file_names_its_line() {
        let e = entries("{\n  \"mcpServers\": {\n    \"a\": {,\n}", &[&["mcpServers"]]).unwrap_err();
        assert_eq!(e.line, 3, "{}", e.message);
    }
}
