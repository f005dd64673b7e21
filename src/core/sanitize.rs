//! Untrusted text made inert for a terminal: controls (C0, C1 — 8-bit CSI included —
//! DEL), bidi overrides and isolates, and zero-width characters become visible `\u{..}`
//! style escapes, so a tool name or argument can never move the cursor, clear the screen,
//! reorder what the operator reads or hide a character.

use std::borrow::Cow;

/// Is `c` shown escaped?
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidi embeddings, overrides, isolates and marks.
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        // Zero-width and invisible formatting characters (deprecated format controls,
        // shorthand format controls and musical formatting controls draw nothing either).
        | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' | '\u{180e}'
        | '\u{206a}'..='\u{206f}' | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}'
        // Variation selectors 17-256 draw nothing and carry a byte each: text hidden
        // behind one visible character. (VS1-16 stay: emoji presentation needs them.)
        | '\u{e0100}'..='\u{e01ef}'
        // Line and paragraph separators act as newlines in some terminals.
        | '\u{2028}' | '\u{2029}'
        // Interlinear annotation and tag characters hide text.
        | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}'
    )
}

/// `text` with every unsafe character written as `\u001b` (or `\u{e0041}` beyond the BMP).
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            let code = c as u32;
            if code <= 0xffff {
                out.push_str(&format!("\\u{code:04x}"));
            } else {
                out.push_str(&format!("\\u{{{code:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// JSON text with every character [`is_unsafe`] names at or above DEL written as a
/// `\uXXXX` escape (UTF-16 units beyond the BMP): the same JSON value, but one that line
/// readers splitting on U+2028, U+2029 or U+0085 keep as one line and that a terminal
/// shows in order. `json` must be valid JSON text (its C0 controls are already escaped,
/// and every such character stands inside a string, where an escape means the same).
pub fn json_escaped(json: &str) -> Cow<'_, str> {
    // Every character escaped here is DEL or beyond it: most lines are ASCII, so a
    // byte scan settles them.
    if json.bytes().all(|b| b < 0x7f) || !json.chars().any(is_unsafe) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_unsafe(c) && c >= '\u{7f}' {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `inert(text)` cut to at most `max` characters, with a marker when cut.
pub fn inert_cut(text: &str, max: usize) -> String {
    let safe = inert(text);
    match safe.char_indices().nth(max) {
        None => safe.into_owned(),
        Some((at, _)) => format!("{}… [{} more chars, v shows all]", &safe[..at], safe[at..].chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_invisibles_become_visible() {
        assert_eq!(inert("plain text é 😀"), "plain text é 😀");
        assert_eq!(inert("\u{1b}[2Jgone"), "\\u001b[2Jgone");
        assert_eq!(inert("a\u{9b}31mb"), "a\\u009b31mb", "8-bit CSI");
        assert_eq!(inert("\u{7f}\u{0}\n\r\t"), "\\u007f\\u0000\\u000a\\u000d\\u0009");
        assert_eq!(inert("evil\u{202e}txt.exe"), "evil\\u202etxt.exe");
        assert_eq!(inert("a\u{2067}b\u{2069}"), "a\\u2067b\\u2069");
        assert_eq!(inert("zero\u{200b}width\u{feff}"), "zero\\u200bwidth\\ufeff");
        assert_eq!(inert("tag\u{e0041}"), "tag\\u{e0041}");
    }

    /// Invisible format characters outside the first list drew nothing on a terminal, so a
    /// tool argument could still hide text behind them (found reviewing the contract above
    /// against Unicode's Cf category while writing tests/properties.rs).
    #[test]
    fn every_invisible_format_character_is_shown() {
        assert_eq!(inert("a\u{206a}b\u{206f}"), "a\\u206ab\\u206f");
        assert_eq!(inert("x\u{1bca0}\u{1d173}"), "x\\u{1bca0}\\u{1d173}");
        // "hi" smuggled as variation selectors behind an emoji.
        assert_eq!(inert("\u{1f600}\u{e0158}\u{e0159}"), "\u{1f600}\\u{e0158}\\u{e0159}");
        assert_eq!(inert("\u{2764}\u{fe0f}"), "\u{2764}\u{fe0f}", "emoji presentation is kept");
        for c in ['\u{206a}', '\u{206f}', '\u{1bca3}', '\u{1d17a}', '\u{e0100}', '\u{e01ef}'] {
            assert!(is_unsafe(c), "{c:?}");
        }
        for c in ['\u{2070}', '\u{1bca4}', '\u{1d17b}', '\u{e01f0}', '\u{fe0f}'] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }

    #[test]
    fn cutting_marks_what_was_left_out() {
        assert_eq!(inert_cut("short", 10), "short");
        let cut = inert_cut(&"x".repeat(30), 10);
        assert_eq!(cut, format!("{}… [20 more chars, v shows all]", "x".repeat(10)));
        assert!(!inert_cut("\u{1b}".repeat(50).as_str(), 7).contains('\u{1b}'));
    }
}
