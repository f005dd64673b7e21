//! The policy: per-class defaults and ordered rules (PRODUCT.md section 4).

mod load;
mod matcher;

use std::fmt;

pub use load::{from_toml, PolicyError};
pub use matcher::{json_eq, normalize, raw_eq, Comparison, Matcher, Pattern};

use super::classify::Class;
use super::json::Raw;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Ask,
    Deny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Ask => "ask",
            Action::Deny => "deny",
        }
    }
}

/// How the operator approves a held call (PRODUCT.md section 6): one key, or the first
/// four hex digits of the digest typed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confirm {
    #[default]
    Key,
    Digest,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub tool: Pattern,
    pub server: Option<Pattern>,
    pub action: Action,
    /// `confirm` on an `ask` rule; `None` takes `[defaults] confirm`.
    pub confirm: Option<Confirm>,
    /// JSON Pointer into `arguments` and the matchers that must all hold there.
    pub args: Vec<(String, Vec<Matcher>)>,
}

impl Rule {
    fn matches(&self, server: &str, tool: &str, arguments: Raw<'_>) -> bool {
        self.tool.is_match(tool)
            && self.server.as_ref().is_none_or(|s| s.is_match(server))
            && self.args.iter().all(|(pointer, matchers)| {
                let value = arguments.pointer(pointer);
                matchers.iter().all(|m| m.holds(value))
            })
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    defaults: [Action; 4],
    /// `[defaults] confirm`: how ask verdicts without a rule's own `confirm` are approved.
    confirm: Confirm,
    pub rules: Vec<Rule>,
    /// `[pinning] mode` (PRODUCT.md section 7a).
    pub pinning: crate::core::pins::Mode,
    /// `[approvals]`: the channels a held call may be shown on (PRODUCT.md section 6).
    pub channels: Channels,
}

/// Where a held call may be shown besides the console and the terminal.
#[derive(Debug, Clone)]
pub struct Channels {
    /// `web`: the browser approval page (off: no port is ever opened).
    pub web: bool,
    /// `notify`: a desktop notification announces the page.
    pub notify: bool,
    /// `approve_in_client`: the server labels (globs) whose held calls may be asked in the
    /// client's own dialog; empty: none (opt-in).
    pub in_client: Vec<Pattern>,
}

impl Default for Channels {
    fn default() -> Self {
        Channels { web: true, notify: true, in_client: Vec::new() }
    }
}

impl Channels {
    /// Whether the client's dialog may be used for calls of `server`.
    pub fn in_client_for(&self, server: &str) -> bool {
        self.in_client.iter().any(|p| p.is_match(server))
    }
}

impl Default for Policy {
    /// The built-in defaults: read-only and write tools pass, everything else asks.
    fn default() -> Self {
        Policy {
            defaults: [Action::Allow, Action::Allow, Action::Ask, Action::Ask],
            confirm: Confirm::Key,
            rules: Vec::new(),
            pinning: crate::core::pins::Mode::Ask,
            channels: Channels::default(),
        }
    }
}

/// What the policy says about one call, and which entry said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// The deciding rule's id, or `defaults.<class>`.
    pub rule: String,
    /// How an `ask` is approved (meaningless for allow and deny).
    pub confirm: Confirm,
}

impl Policy {
    pub fn default_for(&self, class: Class) -> Action {
        self.defaults[class_index(class)]
    }

    fn set_default(&mut self, class: Class, action: Action) {
        self.defaults[class_index(class)] = action;
    }

    /// First matching rule wins; with none, the class default. `arguments` is the call's
    /// arguments as JSON text (`Call::raw_arguments`, `{}` when absent): each rule's
    /// pointers are looked up in the text and only the selected values are decoded.
    pub fn evaluate(&self, server: &str, tool: &str, class: Class, arguments: Raw<'_>) -> Verdict {
        match self.rules.iter().find(|r| r.matches(server, tool, arguments)) {
            Some(rule) => {
                Verdict { action: rule.action, rule: rule.id.clone(), confirm: rule.confirm.unwrap_or(self.confirm) }
            }
            None => Verdict {
                action: self.default_for(class),
                rule: class.default_rule().to_owned(),
                confirm: self.confirm,
            },
        }
    }
}

fn class_index(class: Class) -> usize {
    Class::ALL.iter().position(|c| *c == class).expect("every class is listed")
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[defaults]")?;
        for class in Class::ALL {
            writeln!(f, "  {:<12} {}", class.as_str(), self.default_for(class).as_str())?;
        }
        if self.confirm == Confirm::Digest {
            writeln!(f, "  {:<12} digest", "confirm")?;
        }
        let pinning = match self.pinning {
            crate::core::pins::Mode::Ask => "ask (a changed tool is asked about)",
            crate::core::pins::Mode::Hide => "hide (a changed tool is asked about and left out of listings)",
            crate::core::pins::Mode::Off => "off (tools are not pinned)",
        };
        writeln!(f, "[pinning]\n  mode         {pinning}")?;
        let c = &self.channels;
        if !c.web || !c.notify || !c.in_client.is_empty() {
            let on = |b: bool| if b { "on" } else { "off" };
            let servers: Vec<&str> = c.in_client.iter().map(|p| p.text.as_str()).collect();
            let client = if servers.is_empty() { "off".to_owned() } else { servers.join(", ") };
            writeln!(
                f,
                "[approvals]\n  web          {}\n  notify       {}\n  approve_in_client {client}",
                on(c.web),
                on(c.notify && c.web)
            )?;
        }
        if self.rules.is_empty() {
            return writeln!(f, "no rules: every call gets its class default");
        }
        writeln!(f, "rules, first match wins:")?;
        for (n, rule) in self.rules.iter().enumerate() {
            let server = rule.server.as_ref().map_or(String::new(), |s| format!(" server={:?}", s.text));
            let confirm = if rule.confirm == Some(Confirm::Digest) { " confirm=digest" } else { "" };
            writeln!(
                f,
                "  {}. {} -> {}  tool={:?}{}{confirm}",
                n + 1,
                rule.id,
                rule.action.as_str(),
                rule.tool.text,
                server
            )?;
            for (pointer, matchers) in &rule.args {
                let all: Vec<String> = matchers.iter().map(ToString::to_string).collect();
                writeln!(f, "       {pointer:?}: {}", all.join(" and "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[defaults]
read_only = "allow"
write = "allow"
destructive = "ask"
unknown = "ask"

[[rules]]
id = "small-refunds"
tool = "refund"
server = "bank"
action = "allow"
[rules.args]
"/amount_cents" = { lt = 50000 }

[[rules]]
id = "scratch-writes"
tool = "write_file"
action = "allow"
[rules.args]
"/path" = { path = "/home/me/scratch/**" }

[[rules]]
id = "no-refunds"
tool = "refund"
action = "deny"
"#;

    fn eval(p: &Policy, server: &str, tool: &str, class: Class, args: &str) -> Verdict {
        p.evaluate(server, tool, class, Raw::new(args))
    }

    #[test]
    fn first_matching_rule_wins_else_class_default() {
        let p = from_toml(EXAMPLE).unwrap();
        let v = eval(&p, "bank", "refund", Class::Destructive, r#"{"amount_cents":100}"#);
        assert_eq!(v, Verdict { action: Action::Allow, rule: "small-refunds".into(), confirm: Confirm::Key });
        let v = eval(&p, "bank", "refund", Class::Destructive, r#"{"amount_cents":50000}"#);
        assert_eq!(v, Verdict { action: Action::Deny, rule: "no-refunds".into(), confirm: Confirm::Key });
        let v = eval(&p, "shop", "refund", Class::Destructive, r#"{"amount_cents":1}"#);
        assert_eq!(v.rule, "no-refunds", "server glob must hold");
        let v = eval(&p, "fs", "write_file", Class::Destructive, r#"{"path":"/home/me/scratch/../x"}"#);
        assert_eq!(v, Verdict { action: Action::Ask, rule: "defaults.destructive".into(), confirm: Confirm::Key });
        let v = eval(&p, "fs", "read", Class::ReadOnly, "{}");
        assert_eq!(v, Verdict { action: Action::Allow, rule: "defaults.read_only".into(), confirm: Confirm::Key });
        let v = p.evaluate("fs", "new", Class::Unknown, Raw::new("{}"));
        assert_eq!(v.action, Action::Ask);
    }

    #[test]
    fn built_in_defaults() {
        let p = Policy::default();
        assert_eq!(p.default_for(Class::ReadOnly), Action::Allow);
        assert_eq!(p.default_for(Class::Write), Action::Allow);
        assert_eq!(p.default_for(Class::Destructive), Action::Ask);
        assert_eq!(p.default_for(Class::Unknown), Action::Ask);
    }

    #[test]
    fn display_lists_effective_rules() {
        let shown = from_toml(EXAMPLE).unwrap().to_string();
        assert!(shown.contains("1. small-refunds -> allow  tool=\"refund\" server=\"bank\""), "{shown}");
        assert!(shown.contains("\"/amount_cents\": lt 50000"), "{shown}");
        assert!(shown.contains("\"/path\": path \"/home/me/scratch/**\""), "{shown}");
    }
}
