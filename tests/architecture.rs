//! The shape of the crate, checked on its resolved paths (not on substrings):
//!
//! - the pure core decides and does no I/O: it must not reach tokio, libc, rustix,
//!   crossterm, the filesystem, processes, the network, the environment, threads, the
//!   clock, the standard streams or the edges, the relay, the commands or the CLI, nor
//!   print;
//! - each edge wraps one OS resource and reaches another edge only through the seams
//!   named in [`EDGE_SEAMS`];
//! - edges never reach up into the relay, the commands or the CLI;
//! - no two files of the crate import each other, directly or round a longer circle, so
//!   each file has a side that is its base (`imports` says what counts as an import).
//!
//! `resolve` reads the module trees with `syn`; the tests at the bottom feed it small
//! sources that must fail, so the check itself is tested.
#![allow(clippy::unwrap_used, unsafe_code)]

mod cfg;
mod imports;
mod resolve;

use std::path::{Path, PathBuf};

use resolve::{read_source, read_tree, Reach};

/// Paths the core may not reach (a path under one of these counts too).
const CORE_FORBIDDEN: &[&str] = &[
    "tokio",
    "libc",
    "rustix",
    "crossterm",
    "std::fs",
    "std::process",
    "std::net",
    "std::env",
    "std::thread",
    "std::os",
    "std::time::SystemTime",
    "std::time::Instant",
    "std::time::UNIX_EPOCH",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "std::io::Stdin",
    "std::io::Stdout",
    "std::io::Stderr",
    "crate::edge",
    "crate::relay",
    "crate::cmd",
    "crate::cli",
];

/// Macros the core may not call: it returns values, the edges print.
const CORE_FORBIDDEN_MACROS: &[&str] = &["print", "println", "eprint", "eprintln", "dbg"];

/// Where one edge may reach another: (from, to), by the module name under `crate::edge`.
const EDGE_SEAMS: &[(&str, &str)] = &[
    // The crash-point test hook is reached at every durable write (tests/crash.rs).
    ("audit_log", "crash"),
    ("locked_file", "crash"),
    // The approver console's socket lives in the runtime directory, which only
    // runtime_dir creates and checks (0700, ours).
    ("approver", "runtime_dir"),
    // The terminal's turn lock (`tty.lock`) lives in the same runtime directory.
    ("tty", "runtime_dir"),
    // The audit log's sealing key lives in the state directory.
    ("audit_log", "runtime_dir"),
    // The server's stderr is held back while a prompt is up on the same terminal.
    ("stderr", "tty"),
    // The desktop's session is found up the same chain of parents as the terminal, read
    // the same way, and only in this user's processes.
    ("desktop", "tty"),
    ("desktop", "runtime_dir"),
    // The audit log stamps records with the clock edge's time, so tests can give it
    // another clock.
    ("audit_log", "clock"),
    // The child's stdout pipe is enlarged by the one module that knows pipe sizes.
    ("child", "stdio"),
    // Pins live in the state directory, which only runtime_dir finds and checks.
    ("pin_store", "runtime_dir"),
    // The approval book lives in the state directory, which only runtime_dir finds and
    // checks (and it names the user whose files it accepts).
    ("approvals", "runtime_dir"),
    // The approval book is a file under a lock: locked_file locks, checks and writes it.
    ("approvals", "locked_file"),
    // So is each label's pin file.
    ("pin_store", "locked_file"),
    // The audit directory's lock and the terminal's turn are taken as every lock is:
    // waiting again when a signal interrupts the wait.
    ("audit_log", "locked_file"),
    ("tty", "locked_file"),
    // A locked file is refused unless it belongs to the user runtime_dir names.
    ("locked_file", "runtime_dir"),
    // runtime_dir names the user; without USER or LOGNAME it asks the user database.
    ("runtime_dir", "users"),
];

/// What the edges may not reach: the parts that wire them together.
const EDGE_FORBIDDEN: &[&str] = &["crate::relay", "crate::cmd", "crate::cli"];

fn split(path: &str) -> Vec<String> {
    path.split("::").map(str::to_owned).collect()
}

/// `reach` touches `forbidden`: it names it or something under it, or it is a glob over a
/// module that holds it (`use std::*`).
fn touches(reach: &Reach, forbidden: &[String]) -> bool {
    reach.path.starts_with(forbidden) || (reach.glob && forbidden.starts_with(&reach.path))
}

/// Every way `reaches` (from core modules) break the core's rule.
fn core_violations(reaches: &[Reach]) -> Vec<String> {
    let forbidden: Vec<Vec<String>> = CORE_FORBIDDEN.iter().map(|f| split(f)).collect();
    let mut out = Vec::new();
    for r in reaches {
        let printing = r.is_macro && r.path.last().is_some_and(|m| CORE_FORBIDDEN_MACROS.contains(&m.as_str()));
        if printing || forbidden.iter().any(|f| touches(r, f)) {
            out.push(r.shown());
        }
    }
    out
}

/// Every way `reaches` (from edge modules) break the edges' rules.
fn edge_violations(reaches: &[Reach]) -> Vec<String> {
    let forbidden: Vec<Vec<String>> = EDGE_FORBIDDEN.iter().map(|f| split(f)).collect();
    let edge = split("crate::edge");
    let mut out = Vec::new();
    for r in reaches {
        if forbidden.iter().any(|f| touches(r, f)) {
            out.push(r.shown());
            continue;
        }
        // `crate::edge::<from>::…` reaching `crate::edge::<to>::…`.
        let Some(from) = r.module.get(2).filter(|_| r.module.starts_with(&edge)) else { continue };
        if !r.path.starts_with(&edge) && !touches(r, &edge) {
            continue;
        }
        match r.path.get(2) {
            Some(to) if to == from => {}
            Some(to) => {
                if !EDGE_SEAMS.contains(&(from.as_str(), to.as_str())) {
                    out.push(format!("{} (not a seam in EDGE_SEAMS)", r.shown()));
                }
            }
            // `crate::edge` itself, or a glob over it or over another edge.
            _ => out.push(format!("{} (all edges at once)", r.shown())),
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Reads a module tree and checks that it covers every file in its folder.
fn read_all(dir: &str) -> Vec<Reach> {
    let root = src().join(dir);
    let tree = read_tree(&root.join("mod.rs"), &["crate", dir]).unwrap_or_else(|e| panic!("{e}"));
    for file in rust_files(&root) {
        assert!(
            tree.files.contains(&file) || tree.test_files.contains(&file),
            "{} is not reached from src/{dir}/mod.rs",
            file.display()
        );
    }
    tree.reaches
}

#[test]
fn the_core_reaches_no_edge() {
    let reaches = read_all("core");
    let files: std::collections::BTreeSet<_> = reaches.iter().map(|r| &r.file).collect();
    assert!(files.len() >= 15, "only {} core files with code found", files.len());
    // The check sees what the core does use, so an empty result means something.
    assert!(reaches.iter().any(|r| r.path == split("std::time::Duration")), "no std::time::Duration seen");
    assert!(reaches.iter().any(|r| r.path.starts_with(&split("crate::core::json"))), "no crate::core::json seen");
    let bad = core_violations(&reaches);
    assert!(bad.is_empty(), "the core must stay pure:\n{}", bad.join("\n"));
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let tree = read_tree(&src().join("lib.rs"), &["crate"]).unwrap_or_else(|e| panic!("{e}"));
    for file in rust_files(&src()).into_iter().filter(|f| !f.ends_with("main.rs")) {
        assert!(tree.files.contains(&file) || tree.test_files.contains(&file), "{} is not reached", file.display());
    }
    let graph = imports::graph(&tree);
    // The check sees the imports there are: an empty graph has no circles either.
    let imports: usize = graph.values().map(|to| to.len()).sum();
    assert!(imports > 200, "only {imports} imports between files found");
    let owner = src().join("relay/owner.rs");
    assert!(graph[&owner].contains_key(&src().join("relay/book.rs")), "relay/owner.rs -> relay/book.rs not seen");
    let circles = imports::circles(&graph, &src());
    assert!(circles.is_empty(), "files that import each other:\n{}", circles.join("\n"));
}

#[test]
fn edges_meet_only_at_named_seams() {
    let reaches = read_all("edge");
    let bad = edge_violations(&reaches);
    assert!(bad.is_empty(), "edges reach past their seams:\n{}", bad.join("\n"));
    // Every seam listed is one the code uses; a stale one would hide a future import.
    let edge = split("crate::edge");
    for (from, to) in EDGE_SEAMS {
        let used = reaches.iter().any(|r| {
            r.module.starts_with(&edge)
                && r.module.get(2).is_some_and(|m| m == from)
                && r.path.starts_with(&edge)
                && r.path.get(2).is_some_and(|m| m == to)
        });
        assert!(used, "EDGE_SEAMS lists {from} -> {to}, which no code uses: remove it");
    }
}

// The checker itself: sources that must fail, and ones that must pass.

fn core_check(source: &str) -> Vec<String> {
    core_violations(&read_source(source, &["crate", "core", "sample"]).unwrap())
}

fn edge_check(module: &str, source: &str) -> Vec<String> {
    edge_violations(&read_source(source, &["crate", "edge", module]).unwrap())
}

#[track_caller]
fn fails(found: Vec<String>, reaching: &str) {
    assert!(found.iter().any(|v| v.contains(&format!("reaches {reaching}"))), "expected {reaching} in {found:?}");
}

#[test]
fn use_groups_are_expanded() {
    fails(core_check("use std::{fs, io::{self}};"), "std::fs");
    fails(core_check("use std::time::{SystemTime, UNIX_EPOCH};"), "std::time::SystemTime");
    fails(core_check("use std::{io::{stdout as out}};"), "std::io::stdout");
    fails(core_check("use ::tokio::{spawn};"), "tokio::spawn");
    fails(core_check("use std::io::*;"), "std::io::*");
}

#[test]
fn fully_qualified_calls_are_seen() {
    fails(core_check("fn f() -> Vec<u8> { std::fs::read(\"x\").unwrap() }"), "std::fs::read");
    fails(core_check("fn f() { tokio::spawn(async {}); }"), "tokio::spawn");
    fails(core_check("fn f() -> u32 { unsafe { libc::getuid() } }"), "libc::getuid");
    fails(core_check("struct S { t: std::time::Instant }"), "std::time::Instant");
    fails(core_check("fn f() -> Option<std::process::Child> { None }"), "std::process::Child");
}

#[test]
fn names_brought_in_by_use_are_followed() {
    fails(core_check("use std::time::Instant; fn f() { let _ = Instant::now(); }"), "std::time::Instant::now");
    fails(core_check("use std::io; fn f() { let _ = io::stdout(); }"), "std::io::stdout");
    fails(core_check("use std::time; fn f() { let _ = time::SystemTime::now(); }"), "std::time::SystemTime::now");
    // Uniform paths: one `use` names another's import, in either order.
    fails(core_check("use time::Instant; use std::time;"), "std::time::Instant");
    // A module and a function of the same name, as `use record::record` makes them.
    let found =
        read_source("mod record { pub fn record() {} } use record::record; fn f() { record(); }", &["crate", "x"]);
    let paths: Vec<String> = found.unwrap().iter().map(|r| r.path.join("::")).collect();
    assert_eq!(paths, ["crate::x::record::record", "crate::x::record::record"], "{paths:?}");
    fails(core_check("extern crate libc as c; fn f() { unsafe { c::getpid() }; }"), "libc::getpid");
}

#[test]
fn crate_self_and_super_resolve_against_the_module() {
    let found = core_check("use crate::edge as e; fn f() { e::x(); }");
    fails(found.clone(), "crate::edge");
    fails(found, "crate::edge::x");
    fails(core_check("use super::super::relay::Relay;"), "crate::relay::Relay");
    fails(core_check("fn f() { super::super::cli::parse(); }"), "crate::cli::parse");
    fails(core_check("mod inner { use super::super::super::cmd; }"), "crate::cmd");
}

#[test]
fn macros_and_their_bodies_are_seen() {
    fails(core_check("fn f() { println!(\"x\"); }"), "println!");
    fails(core_check("fn f() { eprintln!(\"x\"); }"), "eprintln!");
    fails(core_check("fn f() -> String { format!(\"{:?}\", std::env::args()) }"), "std::env::args");
    fails(core_check("fn f() { assert!(vec![1].is_empty(), \"{}\", { print!(\"x\"); 1 }); }"), "print!");
}

#[test]
fn only_test_code_is_skipped() {
    assert_eq!(core_check("#[cfg(test)] mod tests { use std::fs; fn f() { println!(\"x\"); } }"), Vec::<String>::new());
    assert_eq!(core_check("#[cfg(all(unix, test))] fn f() { std::fs::read(\"x\"); }"), Vec::<String>::new());
    // Code after a test module is still read.
    fails(core_check("#[cfg(test)] mod tests {} fn g() { let _ = std::fs::read(\"x\"); }"), "std::fs::read");
    // Only `test` switches code off; these run in the product.
    fails(core_check("#[cfg(not(test))] fn f() { let _ = std::fs::read(\"x\"); }"), "std::fs::read");
    fails(core_check("#[cfg(any(test, unix))] fn f() { let _ = std::fs::read(\"x\"); }"), "std::fs::read");
    fails(
        core_check("struct S; impl S { #[cfg(unix)] fn f() { std::thread::yield_now() } }"),
        "std::thread::yield_now",
    );
}

#[test]
fn what_the_core_may_use_passes() {
    let source = "use std::time::Duration; use std::io::Write; use super::json::{self, Value};
        use std::fmt; fn f(d: Duration, v: Value<'_>) -> fmt::Result { json::parse(b\"1\"); Ok(()) }";
    assert_eq!(core_check(source), Vec::<String>::new());
}

#[test]
fn edges_reach_each_other_only_at_seams() {
    assert_eq!(edge_check("tty", "use super::runtime_dir::runtime_dir;"), Vec::<String>::new());
    assert_eq!(edge_check("child", "fn f() { crate::edge::stdio::enlarge_pipe(0); }"), Vec::<String>::new());
    assert_eq!(edge_check("tty", "use crate::core::prompt::Held; use super::tty::x;"), Vec::<String>::new());
    fails(edge_check("tty", "use super::stdio::x;"), "crate::edge::stdio::x");
    fails(edge_check("child", "fn f() { crate::edge::tty::ask(); }"), "crate::edge::tty::ask");
    fails(edge_check("child", "use super::*;"), "crate::edge::*");
    fails(edge_check("child", "use crate::edge; fn f() { edge::clock::now(); }"), "crate::edge::clock::now");
    fails(edge_check("child", "use crate::relay::Relay;"), "crate::relay::Relay");
}

/// The circles in a crate made of `files` (path under `src/`, text), with `lib.rs` first.
fn circles_in(files: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let tree = read_tree(&dir.path().join("lib.rs"), &["crate"]).unwrap();
    imports::circles(&imports::graph(&tree), dir.path())
}

#[test]
fn files_that_import_each_other_are_named() {
    // Siblings, one through a `use`, the other through a path in code.
    let found = circles_in(&[
        ("lib.rs", "mod json;"),
        ("json/mod.rs", "mod raw; mod scan; pub use raw::Raw; pub use scan::parse;"),
        ("json/raw.rs", "use super::scan::parse; pub struct Raw; fn f() { parse(); }"),
        ("json/scan.rs", "pub fn parse() { let _ = crate::json::Raw; }"),
    ]);
    assert_eq!(
        found,
        ["json/raw.rs -> json/scan.rs (crate::json::scan::parse) -> json/raw.rs (crate::json::Raw)"],
        "{found:?}"
    );
    // A parent whose code uses its child, and the child that uses the parent's own item.
    let found = circles_in(&[
        ("lib.rs", "mod session;"),
        ("session/mod.rs", "mod decide; pub struct Session; fn f() { decide::gate(); }"),
        ("session/decide.rs", "use super::Session; pub fn gate() -> Option<Session> { None }"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("session/decide.rs -> session/mod.rs"), "{found:?}");
    // Three round, named whole; macros' tokens and types count.
    let found = circles_in(&[
        ("lib.rs", "mod a; mod b; mod c;"),
        ("a.rs", "pub struct A(crate::b::B);"),
        ("b.rs", "pub struct B; fn f() { let _ = format!(\"{:?}\", crate::c::C); }"),
        ("c.rs", "pub struct C; fn f() -> Option<super::a::A> { None }"),
    ]);
    assert_eq!(found, ["a.rs -> b.rs (crate::b::B) -> c.rs (crate::c::C) -> a.rs (crate::a::A)"], "{found:?}");
    // A chain of re-exports is followed to the file that declares the name.
    let found = circles_in(&[
        ("lib.rs", "mod outer; mod user; pub use outer::Thing;"),
        ("outer/mod.rs", "mod inner; pub use inner::Thing; fn f() { crate::user::go(); }"),
        ("outer/inner.rs", "pub struct Thing; fn f() { crate::user::go(); }"),
        ("user.rs", "pub fn go() -> Option<crate::Thing> { None }"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("user.rs (crate::user::go) -> outer/inner.rs"), "{found:?}");
}

#[test]
fn a_tree_of_modules_and_their_re_exports_is_no_circle() {
    let found = circles_in(&[
        ("lib.rs", "pub mod json; mod gate;"),
        // Declares and re-exports its children; its own items are used by them.
        (
            "json/mod.rs",
            "mod raw; mod scan; mod value; #[cfg(test)] mod tests;\n\
            pub use raw::Raw; pub use scan::parse; pub use value::Value; pub struct JsonError;",
        ),
        // Reaches the siblings through the parent's re-exports: imports them, not the parent.
        ("json/value.rs", "pub struct Value;"),
        ("json/raw.rs", "use super::{JsonError, Value}; pub struct Raw(Value); fn f() -> JsonError { JsonError }"),
        (
            "json/scan.rs",
            "use super::{Raw, Value}; pub fn parse(_: Raw) -> Value { Value }\n\
            #[cfg(test)] fn helped() { super::tests::helper(); }",
        ),
        ("gate.rs", "use crate::json::{self, Raw}; fn f(r: Raw) { json::parse(r); }"),
        // Test code uses what it tests, and is not read.
        ("json/tests.rs", "use super::scan::parse; pub fn helper() {}"),
    ]);
    assert_eq!(found, Vec::<String>::new());
}
