//! completions/ and man/ are generated from the clap definitions and committed; this
//! fails when they drift. Regenerate with:
//!   countersign generate bash > completions/countersign.bash   (zsh: _countersign, fish: countersign.fish)
//!   countersign generate man > man/countersign.1
#![allow(clippy::unwrap_used)]

use countersign::cli::Generated;
use countersign::cmd::generated;

#[test]
fn committed_completions_and_man_page_match_the_flags() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (what, file) in [
        (Generated::Bash, "completions/countersign.bash"),
        (Generated::Zsh, "completions/_countersign"),
        (Generated::Fish, "completions/countersign.fish"),
        (Generated::Man, "man/countersign.1"),
    ] {
        let committed = std::fs::read(root.join(file)).unwrap_or_default();
        assert!(committed == generated(what), "{file} is out of date: regenerate it (see tests/generated.rs)");
    }
}
