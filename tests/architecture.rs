//! The pure core decides and does no I/O: it must not reach for tokio, the filesystem,
//! processes, the clock, the terminal or the edges. This reads its source and fails on
//! any such import.

#[test]
fn the_core_imports_no_edge() {
    let forbidden = [
        "tokio",
        "std::fs",
        "std::process",
        "std::net",
        "std::time::SystemTime",
        "Instant::now",
        "std::env",
        "crate::edge",
        "crate::relay",
        "crate::cmd",
        "crate::cli",
        "crossterm",
        "libc",
        "std::io::stdin",
        "std::io::stdout",
        "println!",
        "eprintln!",
        "std::thread",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = vec![root];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests may set up what they like.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for word in forbidden {
            assert!(!code.contains(word), "{} uses {word}: the core must stay pure", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} core files found");
}
