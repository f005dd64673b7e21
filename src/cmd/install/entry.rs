//! One server entry of a client config: what it is, whether it can be wrapped or
//! unwrapped, and the text splices that do it. Pure: it works on the file's text and the
//! byte ranges a format's locator found, so every byte outside the splices stays put.

use std::ops::Range;

/// A string value in the file: where its literal is and what it decodes to.
#[derive(Debug, Clone)]
pub(super) struct Str {
    /// The literal, quotes included.
    pub range: Range<usize>,
    pub value: String,
}

/// The `args` member of an entry.
#[derive(Debug, Clone)]
pub(super) struct Args {
    /// Where the member's key starts.
    pub key_start: usize,
    /// The array literal, brackets included.
    pub array: Range<usize>,
    /// The elements, or `None` when one of them is not a string (or `args` is no array).
    pub elements: Option<Vec<Str>>,
}

/// How a new `args` member is written next to `command`, per format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Style {
    /// JSON/JSONC: `"args": [...], ` before the `command` member.
    Json,
    /// A TOML inline table: `args = [...], ` before the `command` key.
    TomlInline,
    /// A TOML table: an `args = [...]` line before the `command` line, with this indent.
    TomlTable { indent: String, dotted: bool },
}

/// What a locator found for one entry.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Where the entry sits when a file has several server maps (`project /path`).
    pub scope: Option<String>,
    pub key: String,
    pub style: Style,
    /// The `command` member: where its key starts, and its value.
    pub command: Option<(usize, Str)>,
    pub args: Option<Args>,
    /// Why the entry is not a stdio server (`url`, `type = "http"`), if it is not.
    pub remote: Option<String>,
    pub disabled: bool,
    /// Something in the entry that makes it unsafe to edit (a duplicate key, a command
    /// that is not a string).
    pub odd: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Install,
    Uninstall,
}

/// Why an entry was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Skip {
    Remote(String),
    AlreadyWrapped,
    Disabled,
    NoCommand,
    Odd(String),
    /// uninstall: the entry does not run countersign.
    NotWrapped,
    /// uninstall: it runs countersign, but not in the shape `install` writes.
    WrappedOtherwise,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Remote(why) => write!(f, "remote server ({why}), not stdio"),
            Skip::AlreadyWrapped => f.write_str("already wrapped"),
            Skip::Disabled => f.write_str("disabled"),
            Skip::NoCommand => f.write_str("no command"),
            Skip::Odd(why) => f.write_str(why),
            Skip::NotWrapped => f.write_str("not wrapped"),
            Skip::WrappedOtherwise => f.write_str("runs countersign with flags `install` did not write; left as it is"),
        }
    }
}

/// Replace `range` of the text with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Splice {
    pub range: Range<usize>,
    pub text: String,
}

/// The literal syntax of the file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syntax {
    Json,
    Toml,
}

impl Syntax {
    /// `s` as a string literal of this format.
    pub(super) fn quote(self, s: &str) -> String {
        match self {
            Syntax::Json => serde_json::Value::String(s.to_owned()).to_string(),
            Syntax::Toml => {
                let mut out = String::with_capacity(s.len() + 2);
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\r' => out.push_str("\\r"),
                        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04X}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('"');
                out
            }
        }
    }
}

/// Is `command` a countersign binary (by its file name, so a moved or reinstalled
/// binary still counts)?
pub(super) fn is_countersign(command: &str) -> bool {
    let name = command.rsplit(['/', '\\']).next().unwrap_or(command);
    name == "countersign" || name.eq_ignore_ascii_case("countersign.exe")
}

/// The splices that install or uninstall countersign in `entry`, or why it is left alone.
/// `binary` is the absolute path of the running countersign.
pub(super) fn plan(text: &str, syntax: Syntax, entry: &Entry, mode: Mode, binary: &str) -> Result<Vec<Splice>, Skip> {
    match mode {
        Mode::Install => plan_install(text, syntax, entry, binary),
        Mode::Uninstall => plan_uninstall(text, entry),
    }
}

fn plan_install(text: &str, syntax: Syntax, entry: &Entry, binary: &str) -> Result<Vec<Splice>, Skip> {
    if let Some(why) = &entry.remote {
        return Err(Skip::Remote(why.clone()));
    }
    if entry.disabled {
        return Err(Skip::Disabled);
    }
    if let Some(why) = &entry.odd {
        return Err(Skip::Odd(why.clone()));
    }
    let Some((command_key, command)) = &entry.command else { return Err(Skip::NoCommand) };
    let elements = match &entry.args {
        Some(Args { elements: None, .. }) => return Err(Skip::Odd("`args` is not a list of strings".into())),
        Some(Args { elements: Some(e), .. }) => e.as_slice(),
        None => &[],
    };
    let flagged = elements.len() >= 3 && elements[0].value == "--name" && elements[2].value == "--";
    // Also through a launcher (`env countersign -- ...`): before the server command.
    let launched = elements.iter().take_while(|e| e.value != "--").any(|e| is_countersign(&e.value));
    if is_countersign(&command.value) || flagged || launched {
        return Err(Skip::AlreadyWrapped);
    }
    // The old command goes in as it was written (its literal, not a re-quoted copy), so
    // uninstall can put the very same bytes back.
    let prefix =
        [syntax.quote("--name"), syntax.quote(&entry.key), syntax.quote("--"), text[command.range.clone()].to_owned()];
    let mut splices = vec![Splice { range: command.range.clone(), text: syntax.quote(binary) }];
    match &entry.args {
        Some(args) if !elements.is_empty() => {
            let sep = separator(text, args.array.clone(), elements);
            let at = elements[0].range.start;
            splices.push(Splice { range: at..at, text: format!("{}{sep}", prefix.join(&sep)) });
        }
        Some(args) => {
            let at = args.array.start + 1;
            splices.push(Splice { range: at..at, text: prefix.join(", ") });
        }
        None => {
            if let Style::TomlTable { dotted: true, .. } = entry.style {
                return Err(Skip::Odd("written with dotted keys and no `args`; add `args = []` first".into()));
            }
            // A new `args` goes right before `command`, where a hand-written one rarely
            // is: that place tells uninstall it may take the member out again.
            let array = format!("[{}]", prefix.join(", "));
            let at = *command_key;
            let text = match &entry.style {
                Style::Json => format!("{}: {array}{}", syntax.quote("args"), joiner(text, &entry.style)),
                _ => format!("args = {array}{}", joiner(text, &entry.style)),
            };
            splices.push(Splice { range: at..at, text });
        }
    }
    Ok(splices)
}

fn plan_uninstall(text: &str, entry: &Entry) -> Result<Vec<Splice>, Skip> {
    let Some((command_key, command)) = &entry.command else { return Err(Skip::NotWrapped) };
    if !is_countersign(&command.value) {
        return Err(Skip::NotWrapped);
    }
    let Some(args) = &entry.args else { return Err(Skip::WrappedOtherwise) };
    let Some(e) = &args.elements else { return Err(Skip::WrappedOtherwise) };
    if e.len() < 4 || e[0].value != "--name" || e[1].value != entry.key || e[2].value != "--" {
        return Err(Skip::WrappedOtherwise);
    }
    let mut splices = vec![Splice { range: command.range.clone(), text: text[e[3].range.clone()].to_owned() }];
    if e.len() > 4 {
        splices.push(Splice { range: e[0].range.start..e[4].range.start, text: String::new() });
        return Ok(splices);
    }
    // Nothing after the old command: take the `args` member out when it stands where
    // install puts a new one, else leave an empty list.
    let added = args.array.end <= *command_key && text[args.array.end..*command_key] == joiner(text, &entry.style);
    if added {
        splices.push(Splice { range: args.key_start..*command_key, text: String::new() });
    } else {
        splices.push(Splice { range: e[0].range.start..e[3].range.end, text: String::new() });
    }
    Ok(splices)
}

/// The separator to write between new elements: the one already between the first two
/// elements when it is a plain comma with white space, else a comma and the first
/// element's own line break and indent, else `", "`.
fn separator(text: &str, array: Range<usize>, elements: &[Str]) -> String {
    if elements.len() >= 2 {
        let between = &text[elements[0].range.end..elements[1].range.start];
        if between.trim() == "," && between.chars().all(|c| c == ',' || c.is_whitespace()) {
            return between.to_owned();
        }
    }
    let lead = &text[array.start + 1..elements[0].range.start];
    if let Some(at) = lead.rfind('\n') {
        let at = if lead[..at].ends_with('\r') { at - 1 } else { at };
        let tail = &lead[at..];
        if tail.chars().all(char::is_whitespace) {
            return format!(",{tail}");
        }
    }
    ", ".to_owned()
}

/// What separates a new `args` member from the `command` after it.
fn joiner(text: &str, style: &Style) -> String {
    match style {
        Style::Json | Style::TomlInline => ", ".to_owned(),
        Style::TomlTable { indent, .. } => format!("{}{indent}", newline(text)),
    }
}

/// The file's line break.
fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// `text` with `splices` applied (they must not overlap).
pub(super) fn apply(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by_key(|s| std::cmp::Reverse(s.range.start));
    let mut out = text.to_owned();
    for s in splices {
        out.replace_range(s.range, &s.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countersign_is_known_by_its_file_name() {
        assert!(is_countersign("/usr/local/bin/countersign"));
        assert!(is_countersign("countersign"));
        assert!(is_countersign(r"C:\tools\countersign.exe"));
        assert!(!is_countersign("/usr/bin/countersign-old"));
        assert!(!is_countersign("npx"));
    }

    #[test]
    fn toml_quoting_escapes_what_toml_requires() {
        assert_eq!(Syntax::Toml.quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
        assert_eq!(Syntax::Json.quote("a\"b"), r#""a\"b""#);
    }

    #[test]
    fn separators_follow_the_array_style() {
        let s = |r: Range<usize>| Str { range: r, value: String::new() };
        let text = r#"["a",  "b"]"#;
        assert_eq!(separator(text, 0..text.len(), &[s(1..4), s(7..10)]), ",  ");
        let text = "[\r\n    \"a\"\r\n]";
        assert_eq!(separator(text, 0..text.len(), &[s(7..10)]), ",\r\n    ");
        let text = r#"["a" /* x */, "b"]"#;
        assert_eq!(separator(text, 0..text.len(), &[s(1..4), s(14..17)]), ", ");
    }
}
