//! completions/ and man/ are generated from the clap definitions and committed; this
//! fails when they drift. Regenerate with:
//!   countersign generate bash > completions/countersign.bash   (zsh: _countersign, fish: countersign.fish)
//!   countersign generate man --dir man    (countersign.1 and a page per subcommand)
#![allow(clippy::unwrap_used)]

use countersign::cli::Generated;
use countersign::cmd::{generated, man_pages};

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_completions_match_the_flags() {
    for (what, file) in [
        (Generated::Bash, "completions/countersign.bash"),
        (Generated::Zsh, "completions/_countersign"),
        (Generated::Fish, "completions/countersign.fish"),
    ] {
        let committed = std::fs::read(root().join(file)).unwrap_or_default();
        assert!(committed == generated(what), "{file} is out of date: regenerate it (see tests/generated.rs)");
        let text = String::from_utf8_lossy(&committed);
        assert!(text.contains("approver") && text.contains("audit"), "{file}");
        assert!(!text.contains("demo-server") && !text.contains("generate"), "{file} offers hidden subcommands");
    }
}

#[test]
fn committed_man_pages_match_the_flags_and_every_page_referred_to_exists() {
    let pages = man_pages();
    let mut names: Vec<String> = pages.iter().map(|(name, _)| name.clone()).collect();
    for (name, page) in &pages {
        let committed = std::fs::read(root().join("man").join(name)).unwrap_or_default();
        assert!(committed == *page, "man/{name} is out of date: regenerate (see tests/generated.rs)");
        // Every countersign-x(1) a page refers to is a page here.
        let text = String::from_utf8_lossy(page);
        for reference in text.split("countersign\\-").skip(1) {
            let Some((sub, _)) = reference.split_once("(1)") else { continue };
            if !sub.chars().all(|c| c.is_ascii_lowercase() || c == '\\' || c == '-') {
                continue;
            }
            let file = format!("countersign-{}.1", sub.replace("\\-", "-"));
            assert!(names.contains(&file), "man/{name} refers to {file}, which is not generated");
        }
    }
    assert_eq!(generated(Generated::Man), pages.last().unwrap().1, "`generate man` prints countersign.1");
    let mut committed: Vec<String> = std::fs::read_dir(root().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    names.sort();
    assert_eq!(committed, names, "man/ holds exactly the generated pages");
}
