//! The audit verifier: a chain built from the input verifies, and any one byte of it
//! changed never does; arbitrary bytes as a day file never panic it.
//!
//! Input: the first byte picks the byte to change, the second its new value; the rest
//! is split on 0xff into record payloads (and also fed whole as a day file).
#![no_main]

use countersign::core::audit::verify::verify;
use countersign::core::audit::{advance, render, ChainHead, Event, Origin};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const DAY: i64 = 1_795_392_000_000_000; // 2026-11-23T00:00:00Z

fuzz_target!(|data: &[u8]| {
    let Some((&at, rest)) = data.split_first() else { return };
    let Some((&with, rest)) = rest.split_first() else { return };
    // Arbitrary bytes never panic the verifier.
    let _ = verify(&[("2026-11-23.jsonl".into(), rest.to_vec())], None, None);

    let origin = Origin { session: "s".into(), server: "x".into() };
    let mut head = ChainHead::genesis();
    let mut file = Vec::new();
    for (i, part) in rest.split(|b| *b == 0xff).take(64).enumerate() {
        let event = Event::new("decision", json!({ "note": String::from_utf8_lossy(part) }));
        let line = render(&head, &origin, DAY + i as i64, &event);
        head = advance(&head, &line);
        file.extend_from_slice(line.as_bytes());
        file.push(b'\n');
    }
    let files = vec![("2026-11-23.jsonl".to_owned(), file.clone())];
    assert!(verify(&files, None, Some(&head)).is_ok(), "an intact chain must verify");
    let i = usize::from(at) * file.len() / 256;
    if file[i] == with {
        return;
    }
    let mut changed = file;
    changed[i] = with;
    let files = vec![("2026-11-23.jsonl".to_owned(), changed)];
    assert!(verify(&files, None, Some(&head)).is_err(), "byte {i} changed and the chain still verified");
});
