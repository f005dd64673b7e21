//! Argument matchers of `[rules.args]` (PRODUCT.md section 4).

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;

use crate::core::json::{Kind, Raw, Value};

/// One condition on the value a JSON Pointer selects. A missing value or one of the wrong
/// type never matches (except for `absent`).
#[derive(Debug, Clone)]
pub enum Matcher {
    Equals(Value<'static>),
    OneOf(Vec<Value<'static>>),
    Glob(Pattern),
    Regex(Regex),
    Compare(Comparison, f64),
    Absent(bool),
    Path(Pattern),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub fn key(self) -> &'static str {
        match self {
            Comparison::Lt => "lt",
            Comparison::Le => "le",
            Comparison::Gt => "gt",
            Comparison::Ge => "ge",
        }
    }

    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Comparison::Lt => value < bound,
            Comparison::Le => value <= bound,
            Comparison::Gt => value > bound,
            Comparison::Ge => value >= bound,
        }
    }
}

/// A compiled glob with its source text.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub text: String,
    matcher: GlobMatcher,
}

impl Pattern {
    /// `*` and `?` stay within one path segment when `paths`, `**` crosses segments.
    pub fn new(text: &str, paths: bool) -> Result<Pattern, globset::Error> {
        let glob = GlobBuilder::new(text).literal_separator(paths).backslash_escape(true).build()?;
        Ok(Pattern { text: text.to_owned(), matcher: glob.compile_matcher() })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }
}

impl Matcher {
    /// Does the selected value (`None`: the pointer found nothing) satisfy this matcher?
    /// Only the selected value is read, and a string is decoded only for the string
    /// matchers.
    pub fn holds(&self, value: Option<Raw<'_>>) -> bool {
        let Some(v) = value else {
            return matches!(self, Matcher::Absent(true));
        };
        match (self, v.kind()) {
            (Matcher::Absent(absent), _) => !*absent,
            (_, None) => false,
            (Matcher::Equals(expected), _) => raw_eq(expected, v),
            (Matcher::OneOf(options), _) => options.iter().any(|o| raw_eq(o, v)),
            (Matcher::Glob(p), Some(Kind::String)) => v.as_str().is_some_and(|s| p.is_match(&s)),
            (Matcher::Regex(r), Some(Kind::String)) => v.as_str().is_some_and(|s| r.is_match(&s)),
            (Matcher::Compare(op, bound), Some(Kind::Number)) => v.as_f64().is_some_and(|n| op.holds(n, *bound)),
            (Matcher::Path(p), Some(Kind::String)) => v.as_str().is_some_and(|s| path_matches(p, &s)),
            _ => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Equals(v) => write!(f, "equals {}", v.to_serde()),
            Matcher::OneOf(vs) => {
                let shown: Vec<String> = vs.iter().map(|v| v.to_serde().to_string()).collect();
                write!(f, "one_of [{}]", shown.join(", "))
            }
            Matcher::Glob(p) => write!(f, "glob {:?}", p.text),
            Matcher::Regex(r) => write!(f, "regex {:?}", r.as_str()),
            Matcher::Compare(op, n) => write!(f, "{} {n}", op.key()),
            Matcher::Absent(a) => write!(f, "absent = {a}"),
            Matcher::Path(p) => write!(f, "path {:?}", p.text),
        }
    }
}

/// JSON equality: numbers by value, objects regardless of member order.
pub fn json_eq(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(_), Value::Number(_)) => a.as_f64() == b.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| b.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => false,
    }
}

/// [`json_eq`] between a tree and JSON text, reading the text only as far as needed.
pub fn raw_eq(a: &Value<'_>, b: Raw<'_>) -> bool {
    match (a, b.kind()) {
        (Value::Null, Some(Kind::Null)) => true,
        (Value::Bool(x), Some(Kind::Bool)) => b.as_bool() == Some(*x),
        (Value::Number(_), Some(Kind::Number)) => a.as_f64().is_some() && a.as_f64() == b.as_f64(),
        (Value::String(x), Some(Kind::String)) => b.as_str().is_some_and(|y| **x == *y),
        (Value::Array(x), Some(Kind::Array)) => {
            let mut items = b.elements();
            x.iter().all(|p| items.next().is_some_and(|q| raw_eq(p, q))) && items.next().is_none()
        }
        (Value::Object(x), Some(Kind::Object)) => {
            // Keys are unique on both sides (the scanner refuses duplicates), so equal counts
            // and every expected member found equal means the same members.
            let mut count = 0;
            for _ in b.members() {
                count += 1;
                if count > x.len() {
                    return false;
                }
            }
            count == x.len() && x.iter().all(|(k, v)| b.get(k).is_some_and(|w| raw_eq(v, w)))
        }
        _ => false,
    }
}

/// The `path` matcher: normalize lexically, then glob with `/`-aware wildcards. A value
/// that climbs above its start through `..`, contains NUL, or is relative while the
/// pattern is absolute never matches.
fn path_matches(pattern: &Pattern, value: &str) -> bool {
    let absolute = value.starts_with('/');
    if pattern.text.starts_with('/') != absolute || value.contains('\0') {
        return false;
    }
    match normalize(value) {
        Some(normal) => pattern.is_match(&normal),
        None => false,
    }
}

/// Resolves `.`, `..` and repeated `/` without touching the filesystem. `None` when `..`
/// would climb above the start.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    Some(if path.starts_with('/') { format!("/{joined}") } else { joined })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::parse;

    fn v(json: &str) -> Raw<'_> {
        Raw::new(json)
    }

    fn tree(json: &str) -> Value<'static> {
        parse(json.as_bytes()).unwrap().into_owned()
    }

    #[test]
    fn normalize_resolves_lexically() {
        assert_eq!(normalize("/a/./b//c/../d").as_deref(), Some("/a/b/d"));
        assert_eq!(normalize("a/b/..").as_deref(), Some("a"));
        assert_eq!(normalize("/").as_deref(), Some("/"));
        assert_eq!(normalize("/.."), None);
        assert_eq!(normalize("/a/../.."), None);
        assert_eq!(normalize("../x"), None);
    }

    #[test]
    fn path_cannot_be_fooled() {
        let m = Matcher::Path(Pattern::new("/home/me/scratch/**", true).unwrap());
        assert!(m.holds(Some(v(r#""/home/me/scratch/a.txt""#))));
        assert!(m.holds(Some(v(r#""/home/me/scratch/deep/er/a.txt""#))));
        assert!(m.holds(Some(v(r#""//home///me/./scratch/x/../a""#))));
        for bad in [
            r#""/home/me/scratch/../secrets""#,
            r#""/home/me/scratch/../../me/.ssh/id""#,
            r#""/home/me/scratchpad/a""#,
            r#""scratch/a""#,
            r#""/home/me/scratch/a\u0000""#,
            r#""/../home/me/scratch/a""#,
            "17",
            "null",
        ] {
            assert!(!m.holds(Some(v(bad))), "{bad} must not match");
        }
        assert!(!m.holds(None));
        let single = Matcher::Path(Pattern::new("/tmp/*", true).unwrap());
        assert!(single.holds(Some(v(r#""/tmp/a""#))));
        assert!(!single.holds(Some(v(r#""/tmp/a/b""#))), "* stays within a segment");
        let relative = Matcher::Path(Pattern::new("notes/*", true).unwrap());
        assert!(relative.holds(Some(v(r#""./notes/a""#))));
        assert!(!relative.holds(Some(v(r#""/notes/a""#))));
    }

    #[test]
    fn comparisons_need_numbers() {
        let lt = Matcher::Compare(Comparison::Lt, 50000.0);
        assert!(lt.holds(Some(v("49999"))));
        assert!(!lt.holds(Some(v("50000"))));
        assert!(!lt.holds(Some(v(r#""100""#))), "a string is the wrong type");
        assert!(!lt.holds(None));
        assert!(Matcher::Compare(Comparison::Le, 1.0).holds(Some(v("1.0"))));
        assert!(Matcher::Compare(Comparison::Gt, 1.0).holds(Some(v("1e1"))));
        assert!(!Matcher::Compare(Comparison::Ge, 1.0).holds(Some(v("0.5"))));
    }

    #[test]
    fn equality_and_sets() {
        let eq = Matcher::Equals(tree(r#"{"a":[1,"x"],"b":null}"#));
        assert!(eq.holds(Some(v(r#"{"b":null,"a":[1.0,"x"]}"#))));
        assert!(!eq.holds(Some(v(r#"{"b":null,"a":[1,"x"],"c":1}"#))));
        let one = Matcher::OneOf(vec![tree(r#""main""#), tree("3")]);
        assert!(!eq.holds(Some(v(r#"{"b":null}"#))));
        assert!(!eq.holds(Some(v(r#"{"b":null,"a":[1,"x",2]}"#))));
        assert!(Matcher::Equals(tree(r#""\u00e9""#)).holds(Some(v(r#""é""#))));
        assert!(one.holds(Some(v(r#""main""#))));
        assert!(one.holds(Some(v("3"))));
        assert!(!one.holds(Some(v(r#""3""#))));
    }

    #[test]
    fn strings_glob_and_regex_whole() {
        let g = Matcher::Glob(Pattern::new("feature/*", false).unwrap());
        assert!(g.holds(Some(v(r#""feature/a/b""#))));
        assert!(!g.holds(Some(v(r#""main""#))));
        let r = Matcher::Regex(Regex::new("^(?:[a-z]+)$").unwrap());
        assert!(r.holds(Some(v(r#""abc""#))));
        assert!(!r.holds(Some(v(r#""abc1""#))));
        assert!(!r.holds(Some(v("1"))));
    }

    #[test]
    fn absent() {
        assert!(Matcher::Absent(true).holds(None));
        assert!(!Matcher::Absent(true).holds(Some(v("null"))));
        assert!(Matcher::Absent(false).holds(Some(v("null"))));
        assert!(!Matcher::Absent(false).holds(None));
    }
}
