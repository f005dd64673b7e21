//! Redaction: a secret in a well-known format planted anywhere in arbitrary (often
//! invalid) input never survives `redact_excerpt`, `redact_argv` or `redact` of a
//! parsed payload; none of them panics. The redaction read from JSON text (what the log
//! writes for a call's arguments) gives the same text as `redact` of the tree.
//!
//! Input: the first byte picks where the secret goes, the rest is the text around it.
#![no_main]

use countersign::core::audit::redact::{redact, redact_argv, redact_excerpt};
use countersign::core::audit::redact_raw::write_redacted;
use countersign::core::json::Raw;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "sk-proj-Zq8fuzzPlantedSecret0123456789";
const TAIL: &str = "PlantedSecret0123456789";

fuzz_target!(|data: &[u8]| {
    let Some((&at, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    if text.contains(TAIL) {
        // The text around the secret already holds what the checks look for.
        return;
    }
    let mut cut = usize::from(at) * text.len() / 256;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // The secret as its own token: separated from its neighbours, as a real key is.
    let planted = format!("{} {SECRET} {}", &text[..cut], &text[cut..]);
    let excerpt = redact_excerpt(planted.as_bytes());
    assert!(!excerpt.contains(TAIL), "excerpt kept the secret: {excerpt:?}");
    let argv: Vec<String> = planted.split('\0').map(str::to_owned).collect();
    assert!(!redact_argv(&argv).iter().any(|a| a.contains(TAIL)), "argv kept the secret");
    if let Ok(value) = countersign::core::json::parse(rest) {
        let tree = redact(&value).to_string();
        let mut text = String::new();
        let json = std::str::from_utf8(rest).expect("parsed, so UTF-8");
        write_redacted(Raw::new(json.trim_matches([' ', '\t', '\n', '\r'])), &mut text);
        assert_eq!(text, tree, "the text redaction differs from the tree's");
    }
    let json = serde_json::json!({ "a": [planted] }).to_string();
    if let Ok(value) = countersign::core::json::parse(json.as_bytes()) {
        assert!(!redact(&value).to_string().contains(TAIL), "redact kept the secret");
    }
});
