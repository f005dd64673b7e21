//! What the operator sees for a held call, and what their keys mean (PRODUCT.md section
//! 6). Every string from the client or server passes through [`inert`] first.

use super::classify::Class;
use super::json::Value;
pub use super::policy::Confirm;
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
    /// Why it is held: the rule id, or the annotation as the server gave it.
    pub why: String,
    /// The arguments as JSON text (the exact payload's arguments).
    pub arguments: String,
    pub digest: String,
    /// How it is approved: `y`, or the digest's first four hex digits typed.
    #[serde(default)]
    pub confirm: Confirm,
    /// What changed in the tool's definition since it was pinned (PRODUCT.md section 7a):
    /// pre-rendered, inert lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<String>,
}

impl Held {
    pub fn new(server: &str, client: Option<&str>, tool: &str, title: Option<&str>, class: Class, rule: &str) -> Held {
        Held {
            server: server.to_owned(),
            client: client.map(str::to_owned),
            tool: tool.to_owned(),
            title: title.map(str::to_owned),
            class: class.as_str().to_owned(),
            why: why(class, rule, None),
            arguments: String::new(),
            digest: String::new(),
            confirm: Confirm::Key,
            changed: None,
        }
    }

    /// Names the annotation as the server gave it: `destructive_hint` is the tool's
    /// `destructiveHint` when it declared one (`None`: it gave none).
    pub fn declared(mut self, class: Class, rule: &str, destructive_hint: Option<bool>) -> Held {
        self.why = why(class, rule, Some(destructive_hint));
        self
    }
}

/// The class line's reason. `hint`: `None` when the caller does not know what the server
/// declared, `Some(None)` when it declared no `destructiveHint`.
pub fn why(class: Class, rule: &str, hint: Option<Option<bool>>) -> String {
    if !rule.starts_with("defaults.") {
        return format!("policy rule {rule} asks");
    }
    let said = match (class, hint) {
        (Class::ReadOnly, _) => "server says readOnlyHint: true",
        (Class::Write, _) => "server says destructiveHint: false",
        (Class::Destructive, Some(Some(true))) => "server says destructiveHint: true",
        (Class::Destructive, Some(_)) => "server gives no destructiveHint (the spec's default: destructive)",
        (Class::Destructive, None) => "server marks it neither readOnlyHint: true nor destructiveHint: false",
        (Class::Unknown, _) => "unknown: the server never listed this tool",
    };
    format!("{said} ({rule})")
}

/// The operator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Approve,
    Deny,
    /// Allow this tool on this server for a while.
    Lease,
    /// Take the changed tool's new definition as its pin (PRODUCT.md section 7a); the
    /// call is then decided as its class and the rules say.
    #[serde(rename = "accept_pin")]
    AcceptPin,
}

/// What one key press did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Answer(Answer),
    /// Show the whole payload.
    View,
    /// A digit of the code was typed or erased; the code so far.
    Typing(String),
    /// Four digits typed that are not the digest's: nothing approved, the call still waits.
    Wrong(String),
    Ignored,
}

/// The keys of one prompt. With `confirm = "key"`: `y` once, `n` deny, `a` lease, `v`
/// view. With `confirm = "digest"`: the digest's first four hex digits approve, `n` denies,
/// `v` views, and no lease is offered (`a` is a hex digit). Ctrl-C and Escape deny.
#[derive(Debug, Clone)]
pub struct Keys {
    confirm: Confirm,
    /// The tool changed since it was pinned: `p` accepts the change.
    changed: bool,
    /// `a` offers a lease ([`lease_allowed`]; never for a pending approval).
    lease: bool,
    /// The code to type; empty when the digest has no four hex digits (nothing approves).
    code: String,
    typed: String,
}

/// Whether a lease may be taken for a call: not under digest confirmation (`a` is a hex
/// digit there), and not for a changed tool, which a lease does not let through (PRODUCT.md
/// section 7a: it is asked whatever allows it).
pub fn lease_allowed(confirm: Confirm, changed: bool) -> bool {
    confirm == Confirm::Key && !changed
}

/// Answers this soon after a prompt (or a page) appears are not taken: keys typed, or a
/// click meant, for what was there before (PRODUCT.md section 6).
pub const GRACE: std::time::Duration = std::time::Duration::from_millis(300);

/// How many hex digits of the digest approve a `confirm = "digest"` call.
pub const CODE_DIGITS: usize = 4;

impl Keys {
    pub fn new(held: &Held) -> Keys {
        let hex = held.digest.strip_prefix("sha256:").unwrap_or("");
        let code: String = hex.chars().take(CODE_DIGITS).collect();
        let code = if code.len() == CODE_DIGITS && code.chars().all(|c| c.is_ascii_hexdigit()) {
            code.to_ascii_lowercase()
        } else {
            String::new()
        };
        let changed = held.changed.is_some();
        let lease = lease_allowed(held.confirm, changed);
        Keys { confirm: held.confirm, changed, lease, code, typed: String::new() }
    }

    /// The keys for a pending approval, which answers one call: no `p` (a change cannot
    /// be accepted there) and no `a` (no lease).
    pub fn for_one_call(mut self) -> Keys {
        self.changed = false;
        self.lease = false;
        self
    }

    pub fn press(&mut self, key: char) -> Step {
        match key {
            'n' | 'N' | '\u{3}' | '\u{1b}' => return Step::Answer(Answer::Deny),
            'v' | 'V' => return Step::View,
            'p' | 'P' if self.changed => return Step::Answer(Answer::AcceptPin),
            _ => {}
        }
        match self.confirm {
            Confirm::Key => match key {
                'y' | 'Y' => Step::Answer(Answer::Approve),
                'a' | 'A' if self.lease => Step::Answer(Answer::Lease),
                _ => Step::Ignored,
            },
            Confirm::Digest => match key {
                '\u{7f}' | '\u{8}' if !self.typed.is_empty() => {
                    self.typed.pop();
                    Step::Typing(self.typed.clone())
                }
                c if c.is_ascii_hexdigit() => {
                    self.typed.push(c.to_ascii_lowercase());
                    if self.typed.len() < CODE_DIGITS {
                        return Step::Typing(self.typed.clone());
                    }
                    let typed = std::mem::take(&mut self.typed);
                    if !self.code.is_empty() && typed == self.code {
                        Step::Answer(Answer::Approve)
                    } else {
                        Step::Wrong(typed)
                    }
                }
                _ => Step::Ignored,
            },
        }
    }

    /// The keys line of a live prompt, with the seconds left.
    pub fn line(&self, seconds_left: u64) -> String {
        self.line_ending(&format!("{seconds_left:>3}s left"))
    }

    /// The keys line, ending with `tail` (after a gap; nothing when empty): how long the
    /// call has, as the screen words it.
    pub fn line_ending(&self, tail: &str) -> String {
        let pin = if self.changed { "  [p] accept the change" } else { "" };
        let keys = match self.confirm {
            Confirm::Key => {
                let lease = if self.lease { "  [a] allow this tool for 15 min" } else { "" };
                format!("  [y] approve once  [n] deny{lease}  [v] view all{pin}")
            }
            Confirm::Digest => {
                let shown: String = self.typed.chars().chain(std::iter::repeat('_')).take(CODE_DIGITS).collect();
                format!(
                    "  type the digest's first {CODE_DIGITS} digits to approve: [{shown}]  [n] deny  [v] view all{pin}"
                )
            }
        };
        match tail {
            "" => keys,
            tail => format!("{keys}   {tail}"),
        }
    }
}

/// The prompt's lines (no line endings), arguments cut to fit.
pub fn render(held: &Held) -> Vec<String> {
    let mut lines = header(held);
    super::prompt_changes::insert(held.changed.as_deref(), &mut lines);
    let args = pretty_arguments(&held.arguments, Some(SHOWN_CHARS));
    let total = args.len();
    lines.extend(args.into_iter().take(SHOWN_LINES).map(|l| format!("    {l}")));
    if total > SHOWN_LINES {
        lines.push(format!("    … {} more lines (v shows all)", total - SHOWN_LINES));
    }
    lines.push(format!("  digest    {}", inert(&held.digest)));
    lines
}

/// The whole payload, nothing cut (still inert).
pub fn render_full(held: &Held) -> Vec<String> {
    let mut lines = vec!["  full payload:".to_owned()];
    lines.extend(pretty_arguments(&held.arguments, None).into_iter().map(|l| format!("    {l}")));
    lines.push(format!("  digest    {}", inert(&held.digest)));
    lines
}

fn header(held: &Held) -> Vec<String> {
    let title = held.title.as_deref().map(|t| format!(" — {}", inert_cut(t, 80))).unwrap_or_default();
    let client = held.client.as_deref().map_or_else(|| "unknown client".to_owned(), |c| inert_cut(c, 60));
    vec![
        "countersign: a tool call is waiting for your approval".to_owned(),
        format!("  server    {}   (client: {client})", inert_cut(&held.server, 60)),
        format!("  tool      {}{title}", inert_cut(&held.tool, 80)),
        format!("  class     {} — {}", inert_cut(&held.class, 20), inert_cut(&held.why, 120)),
        "  arguments".to_owned(),
    ]
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

/// Strings with line breaks are shown as their lines, each behind a gutter (`│`), so no
/// line of a value can pass for a key or the end of the arguments.
fn multi_line(s: &str, indent: &str, max: Option<usize>, line: &mut String, out: &mut Vec<String>) {
    let count = s.split('\n').count();
    line.push_str(&format!("({count} lines)"));
    for part in s.split('\n') {
        out.push(std::mem::take(line));
        let shown = match max {
            Some(max) => inert_cut(part, max),
            None => inert(part).into_owned(),
        };
        line.push_str(&format!("{indent}│{shown}"));
    }
    out.push(std::mem::take(line));
    line.push_str(&format!("{indent}└"));
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
        Value::String(s) if s.contains('\n') => multi_line(s, &indent, max, line, out),
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
            "class     destructive — server marks it neither readOnlyHint: true nor destructiveHint: false (defaults.destructive)",
            "\"amount_cents\": 5000,",
            "\"to\": \"acct-1\"",
            "digest    sha256:00ff",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }

    #[test]
    fn untrusted_text_is_inert_everywhere() {
        let mut h = held(r#"{"p\u001b[2J":"x\u001b]0;pwned\u0007\u202eexe","n":[1,{"z\u200b":null}]}"#);
        h.tool = "ref\u{1b}[31mund".into();
        h.client = Some("cl\u{9b}ient".into());
        h.title = Some("t\u{2066}".into());
        // A console's peer sends the whole view, digest and change block included.
        h.digest = "sha256:ab\ncd\u{1b}[2J".into();
        h.changed = Some("description:\n- a\u{1b}]0;x\u{7}".into());
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
        let mut k = Keys::new(&held("{}"));
        assert_eq!(k.press('y'), Step::Answer(Answer::Approve));
        assert_eq!(k.press('n'), Step::Answer(Answer::Deny));
        assert_eq!(k.press('\u{3}'), Step::Answer(Answer::Deny), "Ctrl-C denies");
        assert_eq!(k.press('a'), Step::Answer(Answer::Lease));
        assert_eq!(k.press('v'), Step::View);
        assert_eq!(k.press('\r'), Step::Ignored);
        assert_eq!(k.press('x'), Step::Ignored);
        assert!(k.line(7).ends_with("  7s left") && k.line(7).contains("[a] allow"));
        assert!(k.line_ending("lapses in 58m").ends_with("[v] view all   lapses in 58m"));
        assert!(k.line_ending("").ends_with("[v] view all"));
        assert_eq!(k.press('p'), Step::Ignored, "nothing to accept: the tool did not change");
        assert!(!k.line(7).contains("[p]"));
    }

    #[test]
    fn p_accepts_a_changed_tool_only_where_a_change_can_be_accepted() {
        let mut h = held("{}");
        h.changed = Some("description: …".into());
        let mut k = Keys::new(&h);
        assert_eq!(k.press('p'), Step::Answer(Answer::AcceptPin));
        assert!(k.line(7).contains("[p] accept the change"), "{}", k.line(7));
        // A lease would not let a changed tool through: none is offered or taken.
        assert!(!k.line(7).contains("[a]"), "{}", k.line(7));
        assert_eq!(k.press('a'), Step::Ignored);
        assert_eq!(k.press('y'), Step::Answer(Answer::Approve));
        let mut pending = Keys::new(&h).for_one_call();
        assert_eq!(pending.press('p'), Step::Ignored);
        assert_eq!(pending.press('a'), Step::Ignored, "a pending approval is one call: no lease");
        assert!(!pending.line(7).contains("[a]") && !pending.line(7).contains("[p]"), "{}", pending.line(7));
        assert_eq!(serde_json::to_string(&Answer::AcceptPin).unwrap(), r#""accept_pin""#);
    }

    #[test]
    fn digest_confirmation_takes_the_code_and_offers_no_lease() {
        let mut h = held("{}");
        h.digest = format!("sha256:ab12{}", "0".repeat(60));
        h.confirm = Confirm::Digest;
        let mut k = Keys::new(&h);
        assert!(!k.line(9).contains("[a]") && k.line(9).contains("[____]"));
        assert_eq!(k.press('y'), Step::Ignored, "y approves nothing here");
        assert_eq!(k.press('a'), Step::Typing("a".into()), "a is a hex digit, not a lease");
        assert_eq!(k.press('b'), Step::Typing("ab".into()));
        assert!(k.line(9).contains("[ab__]"));
        assert_eq!(k.press('1'), Step::Typing("ab1".into()));
        assert_eq!(k.press('3'), Step::Wrong("ab13".into()), "a wrong code approves nothing");
        assert_eq!(k.press('A'), Step::Typing("a".into()), "and the code starts over");
        assert_eq!(k.press('B'), Step::Typing("ab".into()));
        assert_eq!(k.press('\u{7f}'), Step::Typing("a".into()), "backspace erases");
        for c in ['b', '1'] {
            k.press(c);
        }
        assert_eq!(k.press('2'), Step::Answer(Answer::Approve));
        assert_eq!(k.press('n'), Step::Answer(Answer::Deny), "n still denies at once");
        // A digest without four hex digits can never be approved.
        h.digest = "sha256:".into();
        let mut k = Keys::new(&h);
        for c in ['0', '0', '0'] {
            k.press(c);
        }
        assert_eq!(k.press('0'), Step::Wrong("0000".into()));
    }

    #[test]
    fn why_names_the_annotation_as_the_server_gave_it() {
        let d = Class::Destructive;
        assert_eq!(
            why(d, "defaults.destructive", Some(Some(true))),
            "server says destructiveHint: true (defaults.destructive)"
        );
        assert!(why(d, "defaults.destructive", Some(None)).starts_with("server gives no destructiveHint"));
        assert!(why(Class::Unknown, "defaults.unknown", None).starts_with("unknown: the server never listed"));
        assert_eq!(why(d, "big-refunds", None), "policy rule big-refunds asks");
        let h = held("{}").declared(d, "defaults.destructive", Some(true));
        assert!(render(&h).join("\n").contains("— server says destructiveHint: true"));
    }

    #[test]
    fn multi_line_strings_keep_their_lines_behind_a_gutter() {
        let h = held(r#"{"path":"/a.txt","content":"line one\n\"amount\": 1\n\u001b[2J","mode":1}"#);
        let lines = render(&h);
        let at = lines.iter().position(|l| l.contains("\"content\": (3 lines)")).expect("content");
        assert_eq!(lines[at + 1].trim_start(), "│line one");
        assert_eq!(lines[at + 2].trim_start(), "│\"amount\": 1", "a value line cannot pass for a key");
        assert_eq!(lines[at + 3].trim_start(), "│\\u001b[2J");
        assert_eq!(lines[at + 4].trim_start(), "└,");
        assert!(lines[at + 5].contains("\"mode\": 1"));
        assert!(render_full(&h).iter().any(|l| l.trim_start() == "│line one"));
    }
}
