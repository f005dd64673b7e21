//! Reading a policy from TOML text. Every mistake is an error naming line and column;
//! nothing is silently ignored or defaulted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::{Action, Comparison, Confirm, Matcher, Pattern, Policy, Rule};
use crate::core::classify::Class;
use crate::core::json::{number_round_trips, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct PolicyError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    defaults: Option<RawDefaults>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
    pinning: Option<RawPinning>,
    approvals: Option<RawApprovals>,
}

/// `[approvals]`: where a held call may be shown besides the console and the terminal
/// (PRODUCT.md section 6).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovals {
    web: Option<bool>,
    notify: Option<bool>,
    approve_in_client: Option<Spanned<RawServers>>,
}

/// `true`, `false`, or the server labels (globs) it holds for.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawServers {
    All(bool),
    Some(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPinning {
    mode: Option<crate::core::pins::Mode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    read_only: Option<Action>,
    write: Option<Action>,
    destructive: Option<Action>,
    unknown: Option<Action>,
    confirm: Option<Confirm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<Spanned<String>>,
    tool: Option<Spanned<String>>,
    server: Option<Spanned<String>>,
    action: Option<Action>,
    confirm: Option<Spanned<Confirm>>,
    #[serde(default)]
    args: BTreeMap<Spanned<String>, Spanned<RawMatcher>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatcher {
    equals: Option<toml::Value>,
    one_of: Option<Vec<toml::Value>>,
    glob: Option<Spanned<String>>,
    regex: Option<Spanned<String>>,
    lt: Option<toml::Value>,
    le: Option<toml::Value>,
    gt: Option<toml::Value>,
    ge: Option<toml::Value>,
    absent: Option<bool>,
    path: Option<Spanned<String>>,
}

/// Parses and validates a policy.
pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
    let src = Source(text);
    let raw: RawPolicy = toml::from_str(text).map_err(|e| src.at(e.span().unwrap_or(0..0), e.message()))?;
    let mut policy = Policy::default();
    if let Some(d) = raw.defaults {
        for (class, action) in [
            (Class::ReadOnly, d.read_only),
            (Class::Write, d.write),
            (Class::Destructive, d.destructive),
            (Class::Unknown, d.unknown),
        ] {
            if let Some(action) = action {
                policy.set_default(class, action);
            }
        }
        policy.confirm = d.confirm.unwrap_or_default();
    }
    if let Some(mode) = raw.pinning.and_then(|p| p.mode) {
        policy.pinning = mode;
    }
    if let Some(a) = raw.approvals {
        policy.channels.web = a.web.unwrap_or(true);
        policy.channels.notify = a.notify.unwrap_or(true);
        if let Some(servers) = a.approve_in_client {
            let span = servers.span();
            policy.channels.in_client = match servers.into_inner() {
                RawServers::All(true) => {
                    vec![Pattern::new("*", false).map_err(|e| src.at(span.clone(), &e.to_string()))?]
                }
                RawServers::All(false) => Vec::new(),
                RawServers::Some(globs) => globs
                    .iter()
                    .map(|g| {
                        Pattern::new(g, false).map_err(|e| src.at(span.clone(), &format!("bad glob: {}", e.kind())))
                    })
                    .collect::<Result<_, _>>()?,
            };
        }
    }
    let mut ids = std::collections::HashSet::new();
    for spanned in raw.rules {
        let span = spanned.span();
        let rule = spanned.into_inner();
        let id = rule.id.ok_or_else(|| src.at(span.clone(), "rule has no `id`"))?;
        if id.get_ref().is_empty() {
            return Err(src.at(id.span(), "rule `id` is empty"));
        }
        if !ids.insert(id.get_ref().clone()) {
            return Err(src.at(id.span(), &format!("rule id {:?} is used twice", id.get_ref())));
        }
        let missing = |key: &str| src.at(span.clone(), &format!("rule {:?} has no `{key}`", id.get_ref()));
        let tool = rule.tool.ok_or_else(|| missing("tool"))?;
        let action = rule.action.ok_or_else(|| missing("action"))?;
        if let Some(confirm) = &rule.confirm {
            if action != Action::Ask {
                let message =
                    format!("rule {:?}: `confirm` applies only to rules whose action is \"ask\"", id.get_ref());
                return Err(src.at(confirm.span(), &message));
            }
        }
        let mut args = Vec::new();
        for (pointer, matcher) in rule.args {
            if !(pointer.get_ref().is_empty() || pointer.get_ref().starts_with('/')) {
                let message = format!("{:?} is not a JSON Pointer (start it with /)", pointer.get_ref());
                return Err(src.at(pointer.span(), &message));
            }
            args.push((pointer.into_inner(), src.matchers(&matcher)?));
        }
        policy.rules.push(Rule {
            id: id.into_inner(),
            tool: src.glob(&tool, false)?,
            server: rule.server.as_ref().map(|s| src.glob(s, false)).transpose()?,
            action,
            confirm: rule.confirm.map(Spanned::into_inner),
            args,
        });
    }
    Ok(policy)
}

/// The policy text, for positioning errors.
struct Source<'t>(&'t str);

impl Source<'_> {
    fn at(&self, span: Range<usize>, message: &str) -> PolicyError {
        let before = &self.0[..span.start.min(self.0.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        PolicyError { line, column, message: message.to_owned() }
    }

    fn glob(&self, s: &Spanned<String>, paths: bool) -> Result<Pattern, PolicyError> {
        Pattern::new(s.get_ref(), paths).map_err(|e| self.at(s.span(), &format!("bad glob: {}", e.kind())))
    }

    /// The matchers of one pointer; all must hold.
    fn matchers(&self, spanned: &Spanned<RawMatcher>) -> Result<Vec<Matcher>, PolicyError> {
        let raw = spanned.get_ref();
        let whole = |message: String| self.at(spanned.span(), &message);
        let mut out = Vec::new();
        if let Some(v) = &raw.equals {
            out.push(Matcher::Equals(json_of(v).map_err(whole)?));
        }
        if let Some(vs) = &raw.one_of {
            out.push(Matcher::OneOf(vs.iter().map(json_of).collect::<Result<_, _>>().map_err(whole)?));
        }
        if let Some(g) = &raw.glob {
            out.push(Matcher::Glob(self.glob(g, false)?));
        }
        if let Some(r) = &raw.regex {
            // Checked alone first: `a)|(b` is no regex, but wrapped unchecked it would become
            // `^(?:a)|(b)$`, which compiles and matches any value that merely starts with `a`.
            let bad = |e: regex::Error| self.at(r.span(), &format!("bad regex: {e}"));
            Regex::new(r.get_ref()).map_err(bad)?;
            let compiled = Regex::new(&format!("^(?:{})$", r.get_ref())).map_err(bad)?;
            out.push(Matcher::Regex(compiled));
        }
        for (op, bound) in
            [(Comparison::Lt, &raw.lt), (Comparison::Le, &raw.le), (Comparison::Gt, &raw.gt), (Comparison::Ge, &raw.ge)]
        {
            if let Some(bound) = bound {
                let bound = match json_of(bound) {
                    Ok(Value::Number(n)) => n.parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|b| b.is_finite())
                .ok_or_else(|| whole(format!("`{}` needs a finite number that is exact as a double", op.key())))?;
                out.push(Matcher::Compare(op, bound));
            }
        }
        if let Some(a) = raw.absent {
            out.push(Matcher::Absent(a));
        }
        if let Some(p) = &raw.path {
            out.push(Matcher::Path(self.glob(p, true)?));
        }
        if out.is_empty() {
            return Err(whole("no matcher given (equals, one_of, glob, regex, lt, le, gt, ge, absent, path)".into()));
        }
        Ok(out)
    }
}

/// A TOML value as JSON, for `equals` and `one_of`.
fn json_of(v: &toml::Value) -> Result<Value<'static>, String> {
    Ok(match v {
        toml::Value::String(s) => Value::String(Cow::Owned(s.clone())),
        // A message carrying this integer would be refused as inexact (json::number), and
        // compared as a double it would match its neighbour: 2^53 + 1 matched 2^53.
        toml::Value::Integer(i) if number_round_trips(&i.to_string()) => Value::Number(Cow::Owned(i.to_string())),
        toml::Value::Integer(i) => {
            return Err(format!("{i} is not exact as a double (JSON readers take it as {})", *i as f64))
        }
        toml::Value::Float(f) if f.is_finite() => Value::Number(Cow::Owned(format!("{f:e}"))),
        toml::Value::Float(_) => return Err("JSON has no inf or nan".into()),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(items) => Value::Array(items.iter().map(json_of).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => Value::Object(
            t.iter().map(|(k, v)| Ok((Cow::Owned(k.clone()), json_of(v)?))).collect::<Result<_, String>>()?,
        ),
        toml::Value::Datetime(_) => return Err("JSON has no datetime; write it as a string".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> PolicyError {
        from_toml(text).expect_err("should be refused")
    }

    #[test]
    fn empty_policy_is_the_built_in_defaults() {
        let p = from_toml("").unwrap();
        assert_eq!(p.default_for(Class::Destructive), Action::Ask);
        assert!(p.rules.is_empty());
    }

    #[test]
    fn confirm_is_read_from_defaults_and_ask_rules() {
        let p = from_toml("[defaults]\nconfirm = \"digest\"\n").unwrap();
        assert_eq!(
            p.evaluate("s", "t", Class::Destructive, crate::core::json::Raw::new("{}")).confirm,
            Confirm::Digest
        );
        let text = "[[rules]]\nid = \"r\"\ntool = \"pay\"\naction = \"ask\"\nconfirm = \"digest\"\n";
        let p = from_toml(text).unwrap();
        assert_eq!(
            p.evaluate("s", "pay", Class::Destructive, crate::core::json::Raw::new("{}")).confirm,
            Confirm::Digest
        );
        assert_eq!(
            p.evaluate("s", "other", Class::Destructive, crate::core::json::Raw::new("{}")).confirm,
            Confirm::Key
        );
        let e = err("[[rules]]\nid = \"r\"\ntool = \"pay\"\naction = \"deny\"\nconfirm = \"digest\"\n");
        assert!(e.message.contains("only to rules whose action is \"ask\""), "{e}");
        assert_eq!(e.line, 5);
        assert!(from_toml("[defaults]\nconfirm = \"pin\"\n").is_err());
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = err("[defaults]\ndestructive = \"maybe\"\n");
        assert_eq!((e.line, e.column), (2, 15), "{e}");
        assert!(e.message.contains("unknown variant"), "{e}");

        let e = err("[defaults]\nsometimes = \"allow\"\n");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("sometimes"), "{e}");

        let e = err("[[rules]]\ntool = \"x\"\naction = \"allow\"\n");
        assert!(e.message.contains("no `id`"), "{e}");
        assert_eq!(e.line, 1);

        let e = err("[[rules]]\nid = \"a\"\ntool = \"x[\"\naction = \"allow\"\n");
        assert_eq!((e.line, e.column), (3, 8), "{e}");
        assert!(e.message.contains("bad glob"), "{e}");

        let e =
            err("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"allow\"\n[rules.args]\n\"/p\" = { regex = \"(\" }\n");
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("bad regex"), "{e}");

        let e = err("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"allow\"\n[rules.args]\n\"/p\" = { like = 1 }\n");
        assert!(e.message.contains("like"), "{e}");

        let e =
            err("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"allow\"\n[rules.args]\n\"p\" = { absent = true }\n");
        assert!(e.message.contains("JSON Pointer"), "{e}");
        assert_eq!(e.line, 6);

        let e = err("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"allow\"\n[rules.args]\n\"/p\" = {}\n");
        assert!(e.message.contains("no matcher"), "{e}");

        let e = err("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"allow\"\n[[rules]]\nid = \"a\"\ntool = \"y\"\naction = \"deny\"\n");
        assert!(e.message.contains("used twice"), "{e}");

        let e = err("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"allow\"\nextra = 1\n");
        assert!(e.message.contains("extra"), "{e}");

        let e = err("[[rules]]\nid = \"a\"\naction = \"allow\"\n");
        assert!(e.message.contains("no `tool`"), "{e}");

        let e = err("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"allow\"\n[rules.args]\n\"/p\" = { lt = \"5\" }\n");
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("`lt` needs a finite number"), "{e}");

        assert!(err("not toml at all [").line >= 1);
    }

    fn rule_with(matcher: &str) -> String {
        format!("[[rules]]\nid = \"a\"\ntool = \"x\"\naction = \"deny\"\n[rules.args]\n\"/p\" = {{ {matcher} }}\n")
    }

    /// Found by the `policy` fuzz target: a regex that is not one on its own compiled once
    /// wrapped in `^(?:...)$`, and then matched values by their prefix.
    #[test]
    fn a_regex_must_be_one_on_its_own() {
        // The first is what the fuzzer built (fuzz/regressions/policy/regex-not-alone).
        for bad in [r#"regex = "[^\\x00]*)|(""#, r#"regex = "a)|(b""#, r#"regex = "x)|(?:.*""#, r#"regex = ")(""#] {
            let e = err(&rule_with(bad));
            assert!(e.message.contains("bad regex"), "{bad}: {e}");
            assert_eq!(e.line, 6, "{e}");
        }
        let p = from_toml(&rule_with(r#"regex = "a|b""#)).unwrap();
        let holds = |s: &str| {
            let args = format!(r#"{{"p":"{s}"}}"#);
            p.evaluate("s", "x", Class::ReadOnly, crate::core::json::Raw::new(&args)).action == Action::Deny
        };
        assert!(holds("a") && holds("b"));
        assert!(!holds("ab") && !holds("abc") && !holds("xb"), "matched whole");
    }

    /// Integers a double cannot hold were accepted and then compared as their neighbour
    /// (`equals = 9007199254740993` matched 2^53). Found writing the exactness check of the
    /// `policy` fuzz target, which trips on fuzz/regressions/policy/inexact-integer.
    #[test]
    fn numbers_must_be_exact_doubles() {
        for bad in [
            "equals = 9007199254740993",
            "one_of = [1, 9007199254740995]",
            "equals = { k = [-9223372036854775807] }",
            "lt = 9007199254740993",
            "ge = -9007199254740995",
            "gt = inf",
            "le = nan",
            "lt = true",
        ] {
            let e = err(&rule_with(bad));
            assert_eq!(e.line, 6, "{bad}: {e}");
            assert!(e.message.contains("exact as a double") || e.message.contains("inf or nan"), "{bad}: {e}");
        }
        for good in ["equals = 9007199254740992", "lt = 9007199254740992", "ge = -1.5", "one_of = [0, 1e300]"] {
            assert!(from_toml(&rule_with(good)).is_ok(), "{good}");
        }
        let p = from_toml(&rule_with("gt = 9007199254740991")).unwrap();
        let args = crate::core::json::Raw::new(r#"{"p":9007199254740992}"#);
        assert_eq!(p.evaluate("s", "x", Class::ReadOnly, args).action, Action::Deny);
    }

    #[test]
    fn matchers_are_built() {
        let p = from_toml(
            "[[rules]]\nid = \"a\"\ntool = \"*\"\naction = \"deny\"\n[rules.args]\n\
             \"/n\" = { gt = 1, le = 2.5 }\n\"/s\" = { one_of = [\"x\", 2, true, {k = [1]}] }\n\"/e\" = { equals = 1.5 }\n",
        )
        .unwrap();
        let args = &p.rules[0].args;
        assert_eq!(args.len(), 3);
        let n = &args.iter().find(|(k, _)| k == "/n").unwrap().1;
        assert_eq!(n.len(), 2);
        let parsed = crate::core::json::Raw::new(r#"{"n":2,"s":{"k":[1.0]},"e":1.5}"#);
        assert_eq!(p.evaluate("s", "t", Class::ReadOnly, parsed).action, Action::Deny);
    }
}
