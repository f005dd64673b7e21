//! What the server said its tools are: learned only from its own `tools/list` answers,
//! never from the call (PRODUCT.md section 3).

use std::collections::HashMap;
use std::fmt;

use super::digest::digest_of;
use super::json::Value;
use super::pins::Definition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    ReadOnly,
    Write,
    Destructive,
    Unknown,
}

impl Class {
    /// How much harm a call of this class can do, for "the most dangerous of its classes"
    /// (PRODUCT.md section 8).
    pub fn danger(self) -> u8 {
        match self {
            Class::ReadOnly => 0,
            Class::Write => 1,
            Class::Destructive => 2,
            Class::Unknown => 3,
        }
    }

    pub const ALL: [Class; 4] = [Class::ReadOnly, Class::Write, Class::Destructive, Class::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::ReadOnly => "read_only",
            Class::Write => "write",
            Class::Destructive => "destructive",
            Class::Unknown => "unknown",
        }
    }

    /// The name of the policy's default for this class, as decisions name their rule.
    pub fn default_rule(self) -> &'static str {
        match self {
            Class::ReadOnly => "defaults.read_only",
            Class::Write => "defaults.write",
            Class::Destructive => "defaults.destructive",
            Class::Unknown => "defaults.unknown",
        }
    }

    /// Why a tool has this class, in words for the operator.
    pub fn why(self) -> &'static str {
        match self {
            Class::ReadOnly => "server says readOnlyHint: true",
            Class::Write => "server says destructiveHint: false",
            Class::Destructive => "server does not say it is read-only or non-destructive",
            Class::Unknown => "the server never listed this tool",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tool as the server listed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub title: Option<String>,
    pub class: Class,
    /// Digest of the whole tool definition, so the audit shows when it changed.
    pub digest: String,
    /// `annotations.destructiveHint` as the server gave it (the prompt names it).
    pub destructive_hint: Option<bool>,
    /// The pinned part of the definition (PRODUCT.md section 7a).
    pub pin: Definition,
}

/// The class of a listed tool, from its annotations. The spec's defaults
/// (schema: `readOnlyHint` default false, `destructiveHint` default true) make an
/// unannotated tool destructive; a hint that is not a boolean counts as absent.
pub fn class_of(tool: &Value<'_>) -> Class {
    let hint = |name| tool.get("annotations").and_then(|a| a.get(name)).and_then(Value::as_bool);
    if hint("readOnlyHint") == Some(true) {
        Class::ReadOnly
    } else if hint("destructiveHint") == Some(false) {
        Class::Write
    } else {
        Class::Destructive
    }
}

/// Reads the tools of one `tools/list` result page. Returns the tools and the next cursor.
pub fn read_page(result: &Value<'_>) -> (Vec<Tool>, Option<String>) {
    let tools = result
        .get("tools")
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(|tool| {
            let name = tool.get("name")?.as_str()?.to_owned();
            let title = tool
                .get("title")
                .or_else(|| tool.get("annotations").and_then(|a| a.get("title")))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let destructive_hint =
                tool.get("annotations").and_then(|a| a.get("destructiveHint")).and_then(Value::as_bool);
            let pin = Definition::of(tool);
            Some(Tool { name, title, class: class_of(tool), digest: digest_of(tool), destructive_hint, pin })
        })
        .collect();
    let cursor = result.get("nextCursor").and_then(Value::as_str).map(str::to_owned);
    (tools, cursor)
}

/// The tools this process has learned.
#[derive(Debug, Default)]
pub struct Registry {
    /// Each tool as its latest listing entry gives it (its `class` is what that entry says).
    tools: HashMap<String, Tool>,
    /// True after a whole listing was seen and no `list_changed` came since: a tool that is
    /// missing then really is unknown.
    complete: bool,
    /// The most dangerous class each tool was listed with in this session, on any page of
    /// any listing, before or after a `list_changed`: a tool listed more than once takes
    /// the most dangerous of its classes (PRODUCT.md section 8), so a later listing never
    /// lowers it. Only the operator accepting the tool's changed definition does
    /// ([`Registry::accept`]).
    floor: HashMap<String, Class>,
}

impl Registry {
    pub fn lookup(&self, name: &str) -> Option<&Tool> {
        self.tools.get(name)
    }

    /// The class of `name`, or `None` when the gate should list the tools first.
    pub fn class(&self, name: &str) -> Option<Class> {
        match self.tools.get(name) {
            Some(tool) => {
                Some(self.floor.get(name).copied().filter(|f| f.danger() > tool.class.danger()).unwrap_or(tool.class))
            }
            None if self.complete => Some(Class::Unknown),
            None => None,
        }
    }

    /// The operator accepted a definition of `name` whose class is `class` (`p`): from
    /// now on the tool has that class and its latest listing's, whichever is more
    /// dangerous, and rises again from there.
    pub fn accept(&mut self, name: &str, class: Class) {
        let listed = self.tools.get(name).map_or(class, |tool| tool.class);
        self.floor.insert(name.to_owned(), if listed.danger() > class.danger() { listed } else { class });
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Learns one page of a listing the client asked for; `first` when the request had no
    /// cursor, `last` when the answer has no `nextCursor`. A one-page listing is complete.
    /// Returns the tools whose definition is new or changed.
    pub fn learn(&mut self, tools: Vec<Tool>, first: bool, last: bool) -> Vec<Tool> {
        let mut changed = Vec::new();
        for tool in tools {
            self.insert(tool, &mut changed);
        }
        if first && last {
            self.complete = true;
        }
        changed
    }

    /// Learns a whole listing gathered page by page: replaces everything known.
    pub fn replace(&mut self, tools: Vec<Tool>) -> Vec<Tool> {
        let old = std::mem::take(&mut self.tools);
        let mut changed = Vec::new();
        for tool in tools {
            let same = old.get(&tool.name).is_some_and(|t| t.digest == tool.digest);
            let mut ignored = Vec::new();
            self.insert(tool.clone(), if same { &mut ignored } else { &mut changed });
        }
        self.complete = true;
        changed
    }

    /// Adds one listed tool. `changed` gets it, with the class it now has, when its
    /// definition is news.
    fn insert(&mut self, tool: Tool, changed: &mut Vec<Tool>) {
        let floor = self.floor.entry(tool.name.clone()).or_insert(tool.class);
        if tool.class.danger() > floor.danger() {
            *floor = tool.class;
        }
        let class = *floor;
        let known = self.tools.get(&tool.name);
        if !known.is_some_and(|known| known.digest == tool.digest && known.class == tool.class) {
            changed.push(Tool { class, ..tool.clone() });
        }
        self.tools.insert(tool.name.clone(), tool);
    }

    /// After `notifications/tools/list_changed`: nothing known can be trusted any more
    /// (but the classes the tools had stay their floor).
    pub fn invalidate(&mut self) {
        self.tools.clear();
        self.complete = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::parse;

    fn page(json: &str) -> (Vec<Tool>, Option<String>) {
        read_page(&parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn default_rules_are_named_after_their_class() {
        for class in Class::ALL {
            assert_eq!(class.default_rule(), format!("defaults.{}", class.as_str()));
        }
    }

    #[test]
    fn classes_follow_annotations_and_spec_defaults() {
        let (tools, cursor) = page(
            r#"{"tools":[
                {"name":"r","annotations":{"readOnlyHint":true,"destructiveHint":true}},
                {"name":"w","annotations":{"destructiveHint":false}},
                {"name":"d","annotations":{"destructiveHint":true}},
                {"name":"plain","inputSchema":{}},
                {"name":"odd","annotations":{"readOnlyHint":"true","destructiveHint":0}},
                {"name":"ro-false","annotations":{"readOnlyHint":false,"destructiveHint":false}},
                {"title":"no name"}
            ],"nextCursor":"abc"}"#,
        );
        let classes: Vec<_> = tools.iter().map(|t| (t.name.as_str(), t.class)).collect();
        assert_eq!(
            classes,
            [
                ("r", Class::ReadOnly),
                ("w", Class::Write),
                ("d", Class::Destructive),
                ("plain", Class::Destructive),
                ("odd", Class::Destructive),
                ("ro-false", Class::Write),
            ]
        );
        assert_eq!(cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn unknown_only_once_the_listing_is_complete() {
        let mut reg = Registry::default();
        assert_eq!(reg.class("x"), None);
        let (tools, _) = page(r#"{"tools":[{"name":"a","annotations":{"readOnlyHint":true}}]}"#);
        let changed = reg.learn(tools.clone(), true, false);
        assert_eq!(changed.len(), 1);
        assert_eq!(reg.class("a"), Some(Class::ReadOnly));
        assert_eq!(reg.class("x"), None, "a partial listing proves nothing");
        assert_eq!(reg.learn(tools.clone(), false, true).len(), 0, "a last page alone neither");
        assert_eq!(reg.class("x"), None);
        assert!(reg.learn(tools.clone(), true, true).is_empty(), "unchanged definitions");
        assert_eq!(reg.class("x"), Some(Class::Unknown));
        reg.invalidate();
        assert_eq!(reg.class("a"), None, "list_changed forgets annotations");
        reg.replace(tools);
        assert_eq!(reg.class("a"), Some(Class::ReadOnly));
        assert_eq!(reg.class("x"), Some(Class::Unknown));
    }

    #[test]
    fn a_tool_listed_twice_takes_its_most_dangerous_class() {
        let mut reg = Registry::default();
        let (tools, _) = page(
            r#"{"tools":[{"name":"a","annotations":{"destructiveHint":true}},{"name":"a","annotations":{"readOnlyHint":true}}]}"#,
        );
        reg.learn(tools.clone(), true, true);
        assert_eq!(reg.class("a"), Some(Class::Destructive));
        let mut reg = Registry::default();
        let (first, _) = page(r#"{"tools":[{"name":"a"}]}"#);
        let (second, _) = page(r#"{"tools":[{"name":"a","annotations":{"readOnlyHint":true}}]}"#);
        reg.learn(first, true, false);
        reg.learn(second.clone(), false, true);
        assert_eq!(reg.class("a"), Some(Class::Destructive), "across the pages of one listing too");
        reg.learn(second.clone(), true, true);
        assert_eq!(reg.class("a"), Some(Class::Destructive), "a new listing does not lower it");
        reg.invalidate();
        reg.replace(second.clone());
        assert_eq!(reg.class("a"), Some(Class::Destructive), "nor one after list_changed");
        reg.accept("a", Class::ReadOnly);
        assert_eq!(reg.class("a"), Some(Class::ReadOnly), "the operator accepting the definition does");
        reg.replace(tools);
        assert_eq!(reg.class("a"), Some(Class::Destructive), "and it rises again from there");
    }

    #[test]
    fn a_changed_definition_is_reported() {
        let mut reg = Registry::default();
        let (v1, _) = page(r#"{"tools":[{"name":"a","annotations":{"readOnlyHint":true}}]}"#);
        let (v2, _) = page(r#"{"tools":[{"name":"a"}]}"#);
        reg.learn(v1.clone(), true, true);
        let changed = reg.learn(v2, true, true);
        assert_eq!(changed[0].class, Class::Destructive);
        assert_eq!(reg.class("a"), Some(Class::Destructive));
        let changed = reg.learn(v1, true, true);
        assert_eq!(changed[0].class, Class::Destructive, "reported with the class it keeps");
        assert_eq!(reg.lookup("a").map(|t| t.class), Some(Class::ReadOnly), "as its latest entry says");
    }
}
