//! What the operator sees for a held call, and what their keys mean (PRODUCT.md section
//! 6). Every string from the client or server passes through [`inert`] first.

use super::classify::Class;
use super::json::Value;
use super::sanitize::{inert, inert_cut};

/// Longest string value shown before it is cut (`v` shows it whole).
pub const SHOWN_CHARS: usize = 200;
/// Most argument lines shown before the rest is cut (`v` shows them all).
pub const SHOWN_LINES: usize = 40;

/// Everything the prompt shows about one held call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Held {
    pub server: String,
    pub client: Option<String>,
    pub tool: String,
    pub title: Option<String>,
    pub class: String,
    /// Why it is held: the rule id, or the class's reason.
    pub why: String,
    /// The arguments as JSON text (the exact payload's arguments).
    pub arguments: String,
    pub digest: String,
    /// What changed in the tool's definition since it was pinned (PRODUCT.md section 7a):
    /// pre-rendered, inert lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<String>,
}

impl Held {
    pub fn new(server: &str, client: Option<&str>, tool: &str, title: Option<&str>, class: Class, rule: &str) -> Held {
        let why = if rule.starts_with("defaults.") {
            format!("{} ({rule})", class.why())
        } else {
            format!("policy rule {rule} asks")
        };
        Held {
            server: server.to_owned(),
            client: client.map(str::to_owned),
            tool: tool.to_owned(),
            title: title.map(str::to_owned),
            class: class.as_str().to_owned(),
            why,
            arguments: String::new(),
            digest: String::new(),
            changed: None,
        }
    }
}

/// The operator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Approve,
    Deny,
    /// Allow this tool on this server for a while.
    Lease,
}

/// What one key press means. `v` shows the whole payload; Ctrl-C and Escape deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Answer(Answer),
    View,
}

pub fn key(byte: u8) -> Option<Key> {
    match byte {
        b'y' | b'Y' => Some(Key::Answer(Answer::Approve)),
        b'n' | b'N' | 0x03 | 0x1b => Some(Key::Answer(Answer::Deny)),
        b'a' | b'A' => Some(Key::Answer(Answer::Lease)),
        b'v' | b'V' => Some(Key::View),
        _ => None,
    }
}

/// The prompt's lines (no line endings), arguments cut to fit.
pub fn render(held: &Held) -> Vec<String> {
    let mut lines = header(held);
    super::prompt_changes::insert(held, &mut lines);
    let args = pretty_arguments(&held.arguments, Some(SHOWN_CHARS));
    let total = args.len();
    lines.extend(args.into_iter().take(SHOWN_LINES).map(|l| format!("    {l}")));
    if total > SHOWN_LINES {
        lines.push(format!("    … {} more lines (v shows all)", total - SHOWN_LINES));
    }
    lines.push(format!("  digest    {}", held.digest));
    lines
}

/// The whole payload, nothing cut (still inert).
pub fn render_full(held: &Held) -> Vec<String> {
    let mut lines = vec!["  full payload:".to_owned()];
    lines.extend(pretty_arguments(&held.arguments, None).into_iter().map(|l| format!("    {l}")));
    lines.push(format!("  digest    {}", held.digest));
    lines
}

fn header(held: &Held) -> Vec<String> {
    let title = held.title.as_deref().map(|t| format!(" — {}", inert_cut(t, 80))).unwrap_or_default();
    let client = held.client.as_deref().map_or_else(|| "unknown client".to_owned(), |c| inert_cut(c, 60));
    vec![
        "countersign: a tool call is waiting for your approval".to_owned(),
        format!("  server    {}   (client: {client})", inert_cut(&held.server, 60)),
        format!("  tool      {}{title}", inert_cut(&held.tool, 80)),
        format!("  class     {} — {}", held.class, inert_cut(&held.why, 120)),
        "  arguments".to_owned(),
    ]
}

/// The keys line with the seconds left.
pub fn keys_line(seconds_left: u64) -> String {
    format!("  [y] approve once  [n] deny  [a] allow this tool for 15 min  [v] view all   {seconds_left:>3}s left")
}

/// Arguments pretty-printed one member per line, every key and string inert.
pub fn pretty_arguments(arguments_json: &str, max: Option<usize>) -> Vec<String> {
    let Ok(value) = super::json::parse(arguments_json.as_bytes()) else {
        return vec![inert_cut(arguments_json, max.unwrap_or(usize::MAX))];
    };
    let mut lines = Vec::new();
    let mut current = String::new();
    pretty(&value, 0, max, &mut current, &mut lines);
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn shown(s: &str, max: Option<usize>) -> String {
    match max {
        Some(max) => format!("\"{}\"", inert_cut(s, max)),
        None => format!("\"{}\"", inert(s)),
    }
}

fn pretty(v: &Value<'_>, depth: usize, max: Option<usize>, line: &mut String, out: &mut Vec<String>) {
    let indent = "  ".repeat(depth + 1);
    let close = "  ".repeat(depth);
    match v {
        Value::Object(members) if !members.is_empty() => {
            line.push('{');
            out.push(std::mem::take(line));
            for (i, (k, item)) in members.iter().enumerate() {
                line.push_str(&format!("{indent}{}: ", shown(k, max)));
                pretty(item, depth + 1, max, line, out);
                if i + 1 < members.len() {
                    line.push(',');
                }
                out.push(std::mem::take(line));
            }
            line.push_str(&format!("{close}}}"));
        }
        Value::Array(items) if !items.is_empty() => {
            line.push('[');
            out.push(std::mem::take(line));
            for (i, item) in items.iter().enumerate() {
                line.push_str(&indent);
                pretty(item, depth + 1, max, line, out);
                if i + 1 < items.len() {
                    line.push(',');
                }
                out.push(std::mem::take(line));
            }
            line.push_str(&format!("{close}]"));
        }
        Value::Object(_) => line.push_str("{}"),
        Value::Array(_) => line.push_str("[]"),
        Value::String(s) => line.push_str(&shown(s, max)),
        Value::Number(n) => line.push_str(&inert(n)),
        Value::Bool(b) => line.push_str(if *b { "true" } else { "false" }),
        Value::Null => line.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(arguments: &str) -> Held {
        let mut h = Held::new(
            "bank",
            Some("claude-code"),
            "refund",
            Some("Refund a payment"),
            Class::Destructive,
            "defaults.destructive",
        );
        h.arguments = arguments.to_owned();
        h.digest = "sha256:00ff".into();
        h
    }

    #[test]
    fn shows_everything_the_operator_needs() {
        let text = render(&held(r#"{"amount_cents":5000,"to":"acct-1"}"#)).join("\n");
        for needle in [
            "server    bank",
            "client: claude-code",
            "tool      refund — Refund a payment",
            "class     destructive — server does not say it is read-only",
            "\"amount_cents\": 5000,",
            "\"to\": \"acct-1\"",
            "digest    sha256:00ff",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        assert!(keys_line(7).ends_with("  7s left"));
    }

    #[test]
    fn untrusted_text_is_inert_everywhere() {
        let mut h = held(r#"{"p\u001b[2J":"x\u001b]0;pwned\u0007\u202eexe","n":[1,{"z\u200b":null}]}"#);
        h.tool = "ref\u{1b}[31mund".into();
        h.client = Some("cl\u{9b}ient".into());
        h.title = Some("t\u{2066}".into());
        let lines: Vec<String> = render(&h).into_iter().chain(render_full(&h)).collect();
        for line in &lines {
            assert!(!line.chars().any(crate::core::sanitize::is_unsafe), "{line:?}");
        }
        let all = lines.join("\n");
        assert!(all.contains("\\u001b[2J") && all.contains("\\u202e") && all.contains("\\u009b"), "{all}");
    }

    #[test]
    fn long_values_are_cut_and_v_shows_them_whole() {
        let long = "q".repeat(SHOWN_CHARS + 50);
        let many: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        let h = held(&format!("{{\"s\":\"{long}\",{}}}", many.join(",")));
        let short = render(&h).join("\n");
        assert!(short.contains("50 more chars") && short.contains("more lines (v shows all)"), "{short}");
        assert!(!short.contains(&long));
        let full = render_full(&h).join("\n");
        assert!(full.contains(&long) && full.contains("\"k99\": 99"));
    }

    #[test]
    fn keys_are_single_presses() {
        assert_eq!(key(b'y'), Some(Key::Answer(Answer::Approve)));
        assert_eq!(key(b'n'), Some(Key::Answer(Answer::Deny)));
        assert_eq!(key(0x03), Some(Key::Answer(Answer::Deny)), "Ctrl-C denies");
        assert_eq!(key(b'a'), Some(Key::Answer(Answer::Lease)));
        assert_eq!(key(b'v'), Some(Key::View));
        assert_eq!(key(b'\r'), None);
        assert_eq!(key(b'x'), None);
    }
}
