//! The strict scanner and parser on arbitrary bytes: they never panic, they agree on what
//! is JSON and on what is ambiguous, they accept only what the standard library takes for
//! UTF-8 (they check it while scanning) and read it as the scan of checked text does, and
//! canonicalizing what `parse` accepts is idempotent.
#![no_main]

mod common;

use countersign::core::json::{parse, scan_envelope, scan_envelope_str, Message, Refusal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scanned = scan_envelope(data);
    let parsed = parse(data);
    match std::str::from_utf8(data) {
        Ok(text) => assert_eq!(scanned, scan_envelope_str(text), "the scan of checked text reads otherwise"),
        Err(_) => assert!(scanned.is_err() && parsed.is_err(), "accepted bytes that are not UTF-8"),
    }
    match &parsed {
        Ok(value) => {
            let message = scanned.as_ref().unwrap_or_else(|e| panic!("parse accepted, scan_envelope refused: {e}"));
            if let Message::Single(env) = message {
                assert_eq!(env.ambiguity, None, "parse accepted what scan_envelope flags");
            }
            assert!(!common::visible_ambiguity(data), "parse accepted what a batch element flags");
            common::check_idempotent(value);
        }
        Err(Refusal::Invalid(_)) => {
            assert!(scanned.is_err(), "parse found invalid JSON that scan_envelope accepts: {scanned:?}");
        }
        Err(Refusal::Ambiguous(a)) => {
            let message =
                scanned.as_ref().unwrap_or_else(|e| panic!("parse found well-formed JSON, scan_envelope refused: {e}"));
            if let Message::Single(env) = message {
                assert!(env.ambiguity.is_some(), "parse refused {a} but scan_envelope saw nothing");
            }
        }
    }
    // Spans in the envelope are whole JSON values: each one parses on its own.
    if let Ok(Message::Single(env)) = &scanned {
        for span in [env.jsonrpc, env.id, env.method, env.params, env.result, env.error, env.result_is_error]
            .into_iter()
            .flatten()
        {
            assert!(scan_envelope(span.as_bytes()).is_ok(), "envelope span is not JSON: {span:?}");
        }
    }
});
