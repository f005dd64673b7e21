//! The import graph of a module tree, one node per file, and the circles in it.
//!
//! A file imports another when a path in it (in a `use`, in code, in a macro's tokens)
//! names something the other file holds. What counts, and what does not:
//!
//! - A path through a name that a module only brings in with `use` goes on to where the
//!   name comes from: with `pub use value::Value` in `json/mod.rs`, `super::Value` in
//!   `json/scan.rs` imports `json/value.rs`, not `json/mod.rs`. So a child that reaches a
//!   sibling through the parent's re-exports does not import the parent.
//! - A `mod` declaration, and a module's re-export of its own children (`pub use
//!   scan::parse` in `json/mod.rs`), do not import: they shape the tree, and the parent's
//!   code does not use them. A parent whose code uses a child, and a child that uses an
//!   item its parent declares, do import each other: that is a circle.
//! - Test code (`#[cfg(test)]`) is not read: a test module uses what it tests.
//! - Paths into other crates (`std`, `tokio`) and local names are not imports.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use super::resolve::Tree;

/// How many `use`s a path may go through before it is given up (a chain of re-exports
/// is short; a longer one is a loop of aliases).
const HOPS: usize = 16;

/// Who imports whom: for each file, the files it imports, each with one path that does.
pub(crate) type Graph = BTreeMap<PathBuf, BTreeMap<PathBuf, String>>;

/// The import graph of `tree`.
pub(crate) fn graph(tree: &Tree) -> Graph {
    let mut graph = Graph::new();
    for file in &tree.files {
        graph.entry(file.clone()).or_default();
    }
    for reach in &tree.reaches {
        if reach.path.first().is_none_or(|c| c != "crate") {
            continue;
        }
        if reach.export && reach.path.starts_with(&reach.module) {
            continue;
        }
        let Some(to) = holder(tree, &reach.path) else { continue };
        if to != reach.file {
            let edges = graph.entry(reach.file.clone()).or_default();
            edges.entry(to.to_owned()).or_insert_with(|| reach.path.join("::"));
        }
    }
    graph
}

/// The file that holds what `path` names: the innermost module on the path, unless the
/// name after it is one of that module's `use`s, which is followed.
fn holder<'t>(tree: &'t Tree, path: &[String]) -> Option<&'t Path> {
    let mut path = path.to_vec();
    for _ in 0..HOPS {
        let at = (1..=path.len()).rev().find(|&n| tree.modules.contains_key(&path[..n]))?;
        let module = &tree.modules[&path[..at]];
        match path.get(at).and_then(|name| module.aliases.get(name)) {
            Some(target) => path = target.iter().chain(&path[at + 1..]).cloned().collect(),
            None => return Some(&module.file),
        }
    }
    None
}

/// Every circle in `graph`, one per group of files that reach each other, shown as the
/// shortest way round from its first file, each step with a path that makes it, then the
/// group's other files; file names relative to `root`.
pub(crate) fn circles(graph: &Graph, root: &Path) -> Vec<String> {
    let shown = |f: &Path| f.strip_prefix(root).unwrap_or(f).display().to_string();
    let mut out = Vec::new();
    for group in strongly_connected(graph) {
        if group.len() < 2 {
            continue;
        }
        let way = shortest_way_round(graph, &group);
        let mut text = shown(&way[0]);
        for pair in way.windows(2) {
            text.push_str(&format!(" -> {} ({})", shown(&pair[1]), graph[&pair[0]][&pair[1]]));
        }
        // A knot of more files than one circle shows: name them all, so that one fix
        // does not hide the next circle.
        let others: Vec<String> = group.iter().filter(|f| !way.contains(f)).map(|f| shown(f)).collect();
        if !others.is_empty() {
            text.push_str(&format!("; and in the same knot: {}", others.join(", ")));
        }
        out.push(text);
    }
    out
}

/// The strongly connected components of `graph` (Tarjan's algorithm), each sorted.
fn strongly_connected(graph: &Graph) -> Vec<Vec<PathBuf>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g Path, usize>,
        low: BTreeMap<&'g Path, usize>,
        stack: Vec<&'g Path>,
        on_stack: BTreeSet<&'g Path>,
        groups: Vec<Vec<PathBuf>>,
    }
    fn visit<'g>(s: &mut State<'g>, node: &'g Path) {
        let n = s.index.len();
        s.index.insert(node, n);
        s.low.insert(node, n);
        s.stack.push(node);
        s.on_stack.insert(node);
        let graph = s.graph;
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            let next = next.as_path();
            if !s.index.contains_key(next) {
                visit(s, next);
                let low = s.low[node].min(s.low[next]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(next) {
                let low = s.low[node].min(s.index[next]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut group = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                group.push(top.to_owned());
                if top == node {
                    break;
                }
            }
            group.sort();
            s.groups.push(group);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for node in graph.keys() {
        if !s.index.contains_key(node.as_path()) {
            visit(&mut s, node);
        }
    }
    s.groups.sort();
    s.groups
}

/// The shortest way from the first file of `group` back to it, within the group (breadth
/// first), first file at both ends.
fn shortest_way_round(graph: &Graph, group: &[PathBuf]) -> Vec<PathBuf> {
    let start = &group[0];
    let mut came_from: BTreeMap<&PathBuf, &PathBuf> = BTreeMap::new();
    let mut todo = VecDeque::from([start]);
    while let Some(node) = todo.pop_front() {
        for next in graph[node].keys().filter(|n| group.contains(n)) {
            if next == start {
                // Back from `node` to `start` (which came from nowhere), then round.
                let mut way = vec![node.clone()];
                let mut at = node;
                while let Some(before) = came_from.get(at) {
                    way.push((*before).clone());
                    at = before;
                }
                way.reverse();
                way.push(start.clone());
                return way;
            }
            if !came_from.contains_key(next) && next != start {
                came_from.insert(next, node);
                todo.push_back(next);
            }
        }
    }
    group.to_vec()
}
