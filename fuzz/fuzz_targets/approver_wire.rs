//! What a peer of the approval console can send: a held call to the console (`Hold`), an
//! answer to a wrapper (`Reply`), and the approval book a command reads. Whatever the
//! bytes, reading them never panics, and everything the console would draw from a held
//! call or a book entry is inert: no control, bidi or zero-width character reaches the
//! terminal, and the keys never panic.
//!
//! Input: one byte picks the shape, then the line.
#![no_main]

use countersign::core::approvals::Book;
use countersign::core::prompt::{render, render_full, Held, Keys};
use countersign::edge::approver::{Hold, Reply};
use libfuzzer_sys::fuzz_target;

/// Written independently of `core::sanitize::is_unsafe`, as in the `sanitize` target.
fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

fn drawn_inert(held: &Held, keys_typed: &[u8]) {
    for line in render(held).iter().chain(render_full(held).iter()) {
        if let Some(c) = line.chars().find(|&c| forbidden(c)) {
            panic!("{c:?} would reach the terminal: {line:?}");
        }
    }
    let mut keys = Keys::new(held);
    for &k in keys_typed {
        keys.press(char::from(k));
        let line = keys.line(59);
        assert!(!line.chars().any(forbidden), "{line:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, line)) = data.split_first() else { return };
    match shape % 3 {
        0 => {
            if let Ok(hold) = serde_json::from_slice::<Hold>(line) {
                drawn_inert(&hold.held, &line[..line.len().min(16)]);
            }
        }
        1 => {
            let _ = serde_json::from_slice::<Reply>(line);
        }
        _ => {
            if let Ok(mut book) = serde_json::from_slice::<Book>(line) {
                let now = 1_800_000_000_000_000;
                let _ = book.prune(now);
                let live = book.live(now);
                for p in live.pending {
                    drawn_inert(&p.held, b"yn");
                }
            }
        }
    }
});
