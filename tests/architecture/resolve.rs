//! Resolves every path a module reaches, the way the compiler names them: `use` trees
//! expanded (`use std::{fs, io}` is `std::fs` and `std::io`), `crate::`, `self::` and
//! `super::` made absolute against the module's own path, and names brought in by `use`
//! (or declared in the module) replaced with what they stand for, in expressions, types,
//! patterns and the token bodies of macro calls alike.
//!
//! Items under `#[cfg(test)]` (or `#[cfg(all(test, ..))]`) are skipped by attribute; code
//! after them is still read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::visit::{self, Visit};
use syn::{Attribute, ImplItem, Item, TraitItem, UseTree};

use super::cfg::{impl_item_attrs, item_attrs, test_only, trait_item_attrs};

/// One path reached from one module.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    /// The file that holds it.
    pub file: PathBuf,
    /// The module whose code holds it, from `crate` (`crate::core::digest`).
    pub module: Vec<String>,
    /// Absolute where it names something of this crate (`crate::…`) or of another crate
    /// (`std::…`, `tokio::…`); a local name (a variable, a generic) stays as written.
    pub path: Vec<String>,
    /// `use path::*`: everything under `path`.
    pub glob: bool,
    /// The path of a macro call (`println!`).
    pub is_macro: bool,
    /// A `use` with a visibility (`pub use`, `pub(crate) use`): a re-export.
    pub export: bool,
}

impl Reach {
    pub(crate) fn shown(&self) -> String {
        let mut s = self.path.join("::");
        if self.glob {
            s.push_str("::*");
        }
        if self.is_macro {
            s.push('!');
        }
        let file = self.file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&self.file);
        format!("{} ({}) reaches {s}", file.display(), self.module.join("::"))
    }
}

/// What reading a module tree found.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub reaches: Vec<Reach>,
    /// Every file read.
    pub files: BTreeSet<PathBuf>,
    /// Files declared as modules only under `#[cfg(test)]`, not read.
    pub test_files: BTreeSet<PathBuf>,
    /// Every module read, inline ones too, by its path from `crate`.
    pub modules: BTreeMap<Vec<String>, Module>,
}

/// One module as the paths into it see it.
#[derive(Debug)]
pub(crate) struct Module {
    /// The file that holds it (an inline module's is its parent's).
    pub file: PathBuf,
    /// What the names its `use`s bring in stand for, absolute where they can be: a path
    /// through this module that names one of them goes on from there.
    pub aliases: BTreeMap<String, Vec<String>>,
}

/// Reads the module in `file` (named `module`, e.g. `["crate", "core"]`) and every module
/// it declares, inline or in files of their own.
pub(crate) fn read_tree(file: &Path, module: &[&str]) -> Result<Tree, String> {
    let mut tree = Tree::default();
    let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    read_file(file, module, &mut tree)?;
    Ok(tree)
}

/// Reads one source text as the module `module`; out-of-line `mod x;` declarations are
/// not followed. For testing the checker itself.
pub(crate) fn read_source(source: &str, module: &[&str]) -> Result<Vec<Reach>, String> {
    let parsed = syn::parse_file(source).map_err(|e| format!("does not parse: {e}"))?;
    let mut tree = Tree::default();
    let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    read_module(&parsed.items, module, Path::new("<source>"), None, &mut tree)?;
    Ok(tree.reaches)
}

fn read_file(file: &Path, module: Vec<String>, tree: &mut Tree) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let parsed = syn::parse_file(&text).map_err(|e| format!("{} does not parse: {e}", file.display()))?;
    tree.files.insert(file.to_owned());
    // Children of `x/mod.rs` live in `x/`; children of `x.rs` live in `x/` beside it.
    let dir = if file.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs") {
        file.parent().unwrap().to_owned()
    } else {
        file.with_extension("")
    };
    read_module(&parsed.items, module, file, Some(&dir), tree)
}

/// A test-only file module and, under it, its own file modules: known (so every file is
/// accounted for), not read for paths (test code may reach anything).
fn test_file(file: &Path, tree: &mut Tree) -> Result<(), String> {
    tree.test_files.insert(file.to_owned());
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let parsed = syn::parse_file(&text).map_err(|e| format!("{} does not parse: {e}", file.display()))?;
    let dir = if file.file_name().is_some_and(|n| n == "mod.rs") {
        file.parent().unwrap().to_owned()
    } else {
        file.with_extension("")
    };
    for item in &parsed.items {
        let Item::Mod(m) = item else { continue };
        if m.content.is_none() {
            let name = m.ident.to_string();
            let flat = dir.join(format!("{name}.rs"));
            test_file(&if flat.exists() { flat } else { dir.join(&name).join("mod.rs") }, tree)?;
        }
    }
    Ok(())
}

/// One `use` leaf before resolution.
struct RawUse {
    /// The name it brings in (`None` for a glob or `as _`).
    name: Option<String>,
    segments: Vec<String>,
    leading_colon: bool,
    glob: bool,
    export: bool,
}

fn expand_use(tree: &UseTree, prefix: &mut Vec<String>, leading_colon: bool, export: bool, out: &mut Vec<RawUse>) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            expand_use(&p.tree, prefix, leading_colon, export, out);
            prefix.pop();
        }
        UseTree::Name(n) => {
            // `use a::b::{self}` names `a::b`.
            let segments = if n.ident == "self" {
                prefix.clone()
            } else {
                let mut s = prefix.clone();
                s.push(n.ident.to_string());
                s
            };
            let name = segments.last().cloned();
            out.push(RawUse { name, segments, leading_colon, glob: false, export });
        }
        UseTree::Rename(r) => {
            let mut segments = prefix.clone();
            if r.ident != "self" {
                segments.push(r.ident.to_string());
            }
            let name = (r.rename != "_").then(|| r.rename.to_string());
            out.push(RawUse { name, segments, leading_colon, glob: false, export });
        }
        UseTree::Glob(_) => {
            out.push(RawUse { name: None, segments: prefix.clone(), leading_colon, glob: true, export })
        }
        UseTree::Group(g) => {
            for t in &g.items {
                expand_use(t, prefix, leading_colon, export, out);
            }
        }
    }
}

/// Names in scope in one module: what its `use`s bring in and what it declares.
struct Scope {
    module: Vec<String>,
    aliases: BTreeMap<String, Vec<String>>,
    declared: BTreeSet<String>,
    /// The declared names that a path may go through (`name::…`): modules and types.
    declared_types: BTreeSet<String>,
}

impl Scope {
    /// `segments` as an absolute path where it can be; `None` for `Self::…`.
    fn resolve(&self, segments: &[String], leading_colon: bool) -> Result<Option<Vec<String>>, String> {
        let Some(first) = segments.first() else { return Ok(None) };
        if leading_colon {
            return Ok(Some(segments.to_vec()));
        }
        let mut out = match first.as_str() {
            "crate" => return Ok(Some(segments.to_vec())),
            "Self" => return Ok(None),
            "self" => {
                let mut m = self.module.clone();
                m.extend_from_slice(&segments[1..]);
                return Ok(Some(m));
            }
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                if ups >= self.module.len() {
                    return Err(format!("{} goes above the crate", segments.join("::")));
                }
                let mut m = self.module[..self.module.len() - ups].to_vec();
                m.extend_from_slice(&segments[ups..]);
                return Ok(Some(m));
            }
            // A module `record` and a function `record` brought in by `use record::record`
            // are two names: before `::` it is the module.
            _ if segments.len() > 1 && self.declared_types.contains(first) => {
                let mut m = self.module.clone();
                m.push(first.clone());
                m
            }
            _ => match self.aliases.get(first) {
                Some(target) => target.clone(),
                None if self.declared.contains(first) => {
                    let mut m = self.module.clone();
                    m.push(first.clone());
                    m
                }
                None => vec![first.clone()],
            },
        };
        out.extend_from_slice(&segments[1..]);
        Ok(Some(out))
    }
}

fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::Fn(i) => &i.sig.ident,
        Item::Macro(i) => i.ident.as_ref()?,
        Item::Mod(i) => &i.ident,
        Item::Static(i) => &i.ident,
        Item::Struct(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::TraitAlias(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// Items whose names a path may go through (`name::…`).
fn is_type_or_module(item: &Item) -> bool {
    matches!(item, Item::Mod(_) | Item::Enum(_) | Item::Struct(_) | Item::Trait(_) | Item::Type(_) | Item::Union(_))
}

/// Finds every `use` in a module's items, in function bodies too, but not in nested
/// modules (they have scopes of their own) nor under `#[cfg(test)]`.
#[derive(Default)]
struct UseFinder {
    uses: Vec<RawUse>,
    externs: Vec<(String, String)>,
}

impl<'ast> Visit<'ast> for UseFinder {
    fn visit_item(&mut self, item: &'ast Item) {
        if test_only(item_attrs(item)) {
            return;
        }
        match item {
            Item::Mod(_) => {}
            Item::Use(u) => {
                let export = !matches!(u.vis, syn::Visibility::Inherited);
                expand_use(&u.tree, &mut Vec::new(), u.leading_colon.is_some(), export, &mut self.uses)
            }
            Item::ExternCrate(e) => {
                let name = e.rename.as_ref().map_or(&e.ident, |(_, r)| r).to_string();
                self.externs.push((name, e.ident.to_string()));
            }
            _ => visit::visit_item(self, item),
        }
    }
    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        if !test_only(impl_item_attrs(item)) {
            visit::visit_impl_item(self, item);
        }
    }
    fn visit_trait_item(&mut self, item: &'ast TraitItem) {
        if !test_only(trait_item_attrs(item)) {
            visit::visit_trait_item(self, item);
        }
    }
}

fn read_module(
    items: &[Item],
    module: Vec<String>,
    file: &Path,
    dir: Option<&Path>,
    tree: &mut Tree,
) -> Result<(), String> {
    let mut finder = UseFinder::default();
    for item in items {
        finder.visit_item(item);
    }
    let live = || items.iter().filter(|i| !test_only(item_attrs(i)));
    let declared = live().filter_map(item_name).collect();
    let declared_types = live().filter(|i| is_type_or_module(i)).filter_map(item_name).collect();
    let mut scope = Scope { module: module.clone(), aliases: BTreeMap::new(), declared, declared_types };
    for (name, krate) in &finder.externs {
        scope.aliases.insert(name.clone(), vec![krate.clone()]);
    }
    // A `use` may name what another `use` brought in (`use std::io; use io::Write;`), in
    // any order: resolve until nothing changes.
    let mut resolved = Vec::new();
    for _ in 0..8 {
        resolved.clear();
        let mut aliases = scope.aliases.clone();
        for u in &finder.uses {
            let Some(path) = scope.resolve(&u.segments, u.leading_colon)? else { continue };
            if let Some(name) = &u.name {
                // A name that only re-imports itself (`use tokio;`) stands for the crate.
                if path != [name.clone()] {
                    aliases.insert(name.clone(), path.clone());
                }
            }
            resolved.push((path, u.glob, u.export));
        }
        if aliases == scope.aliases {
            break;
        }
        scope.aliases = aliases;
    }
    for (path, glob, export) in resolved {
        tree.reaches.push(Reach { file: file.to_owned(), module: module.clone(), path, glob, is_macro: false, export });
    }
    tree.modules.insert(module.clone(), Module { file: file.to_owned(), aliases: scope.aliases.clone() });

    let mut walker = PathWalker { scope: &scope, file, reaches: Vec::new(), error: None };
    for item in items {
        walker.visit_item(item);
    }
    if let Some(e) = walker.error {
        return Err(format!("{}: {e}", file.display()));
    }
    tree.reaches.extend(walker.reaches);

    for item in items {
        let Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        let mut child = module.clone();
        child.push(name.clone());
        let child_dir = dir.map(|d| d.join(&name));
        let test = test_only(&m.attrs);
        if m.attrs.iter().any(|a| a.path().is_ident("path")) {
            return Err(format!("{}: mod {name} has #[path]; teach the check to follow it", file.display()));
        }
        match (&m.content, dir) {
            (Some(_), _) if test => {}
            (Some((_, inner)), _) => read_module(inner, child, file, child_dir.as_deref(), tree)?,
            (None, None) => {}
            (None, Some(d)) => {
                let flat = d.join(format!("{name}.rs"));
                let nested = d.join(&name).join("mod.rs");
                let found = if flat.exists() { flat } else { nested };
                if test {
                    test_file(&found, tree)?;
                } else {
                    read_file(&found, child, tree)?;
                }
            }
        }
    }
    Ok(())
}

/// Every path outside `use` items: in expressions, types, patterns, attributes' macro
/// bodies and macro calls.
struct PathWalker<'a> {
    scope: &'a Scope,
    file: &'a Path,
    reaches: Vec<Reach>,
    error: Option<String>,
}

impl PathWalker<'_> {
    fn push(&mut self, segments: &[String], leading_colon: bool, is_macro: bool) {
        match self.scope.resolve(segments, leading_colon) {
            Ok(Some(path)) => self.reaches.push(Reach {
                file: self.file.to_owned(),
                module: self.scope.module.clone(),
                path,
                glob: false,
                is_macro,
                export: false,
            }),
            Ok(None) => {}
            Err(e) => self.error = Some(e),
        }
    }

    /// Paths written inside a macro call's tokens (`format!("{}", std::env::args())`),
    /// which syn leaves unparsed: runs of identifiers joined by `::`, and `name!` calls.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            let leading_colon = i + 1 < trees.len() && is_path_sep(&trees[i], &trees[i + 1]);
            let start = if leading_colon { i + 2 } else { i };
            match trees.get(start) {
                Some(TokenTree::Ident(first)) => {
                    let mut segments = vec![first.to_string()];
                    let mut j = start + 1;
                    while j + 2 < trees.len() && is_path_sep(&trees[j], &trees[j + 1]) {
                        let TokenTree::Ident(next) = &trees[j + 2] else { break };
                        segments.push(next.to_string());
                        j += 3;
                    }
                    let is_macro = matches!(trees.get(j), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                    self.push(&segments, leading_colon, is_macro);
                    i = j;
                }
                Some(TokenTree::Group(g)) if !leading_colon => {
                    self.tokens(g.stream());
                    i += 1;
                }
                _ => i = start.max(i + 1),
            }
        }
    }
}

fn is_path_sep(a: &TokenTree, b: &TokenTree) -> bool {
    matches!((a, b), (TokenTree::Punct(x), TokenTree::Punct(y))
        if x.as_char() == ':' && x.spacing() == Spacing::Joint && y.as_char() == ':')
}

fn path_segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

impl<'ast> Visit<'ast> for PathWalker<'_> {
    fn visit_item(&mut self, item: &'ast Item) {
        if test_only(item_attrs(item)) {
            return;
        }
        match item {
            // Nested modules are read with their own scope; `use`s were read already.
            Item::Mod(_) | Item::Use(_) | Item::ExternCrate(_) => {}
            _ => visit::visit_item(self, item),
        }
    }
    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        if !test_only(impl_item_attrs(item)) {
            visit::visit_impl_item(self, item);
        }
    }
    fn visit_trait_item(&mut self, item: &'ast TraitItem) {
        if !test_only(trait_item_attrs(item)) {
            visit::visit_trait_item(self, item);
        }
    }
    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.push(&path_segments(path), path.leading_colon.is_some(), false);
        // Generic arguments hold paths of their own.
        visit::visit_path(self, path);
    }
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.push(&path_segments(&mac.path), mac.path.leading_colon.is_some(), true);
        self.tokens(mac.tokens.clone());
    }
    fn visit_attribute(&mut self, _: &'ast Attribute) {
        // `#[derive(..)]`, `#[error("..")]`, docs: names for the compiler, not reaches.
    }
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {
        // `pub(super)`, `pub(in crate::x)`: who may see an item, not what it uses.
    }
}
