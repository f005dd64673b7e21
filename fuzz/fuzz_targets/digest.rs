//! The RFC 8785 canonicalizer and the call digest: idempotent, readable by another JSON
//! implementation (serde_json) as the same value, and blind to spelling.
#![no_main]

mod common;

use countersign::core::digest::{call_digest, digest_of};
use countersign::core::json::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = parse(data) else { return };
    let canonical = common::check_idempotent(&value);

    // Another reader takes the canonical form as the same value as the original bytes.
    let theirs: serde_json::Value = match serde_json::from_str(&canonical) {
        Ok(v) => v,
        Err(e) if e.to_string().contains("recursion limit") => return,
        Err(e) => panic!("serde_json refuses the canonical form ({e}): {canonical:?}"),
    };
    let original: serde_json::Value =
        serde_json::from_slice(data).unwrap_or_else(|e| panic!("serde_json refuses what parse accepted ({e})"));
    assert!(common::same_json(&theirs, &original), "serde_json reads the canonical form differently: {canonical}");
    let ours = value.to_serde();
    common::exact_numbers(&value, &ours);
    assert!(common::same_json(&ours, &original), "to_serde differs from serde_json");
    // The canonical form is stable under serde_json's own re-serialization.
    let spelled = serde_json::to_string(&theirs).unwrap();
    let again = parse(spelled.as_bytes()).expect("serde_json output parses");
    assert_eq!(common::jcs(&again), canonical, "serde_json's spelling canonicalizes differently");

    // The digest names the value, not its spelling.
    let reparsed = parse(canonical.as_bytes()).unwrap();
    assert_eq!(digest_of(&value), digest_of(&reparsed));
    assert_eq!(call_digest("t", Some(&value)), call_digest("t", Some(&reparsed)));
});
