//! The terminal sanitizer: neither `inert` nor `inert_cut` ever lets an unsafe character
//! through, text with nothing unsafe is left alone, and a cut keeps its promise on length.
//!
//! Input: one byte for the cut length, then the text (lossily decoded when not UTF-8).
#![no_main]

use countersign::core::sanitize::{inert, inert_cut, is_unsafe};
use libfuzzer_sys::fuzz_target;

/// The promise, written independently of `is_unsafe`: no control character (C0, DEL, C1),
/// bidi control or zero-width character ever reaches the terminal.
fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

fuzz_target!(|data: &[u8]| {
    let Some((&max, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let safe = inert(&text);
    if let Some(c) = safe.chars().find(|&c| is_unsafe(c) || forbidden(c)) {
        panic!("inert let {c:?} through: {safe:?}");
    }
    if !text.chars().any(is_unsafe) {
        assert_eq!(safe, text, "inert changed safe text");
    }
    let max = usize::from(max);
    let cut = inert_cut(&text, max);
    if let Some(c) = cut.chars().find(|&c| is_unsafe(c) || forbidden(c)) {
        panic!("inert_cut let {c:?} through: {cut:?}");
    }
    if safe.chars().count() <= max {
        assert_eq!(cut, safe, "inert_cut changed text that fits");
    } else {
        let kept: String = safe.chars().take(max).collect();
        assert!(cut.starts_with(&kept), "inert_cut does not start with the first {max} chars");
    }
});
