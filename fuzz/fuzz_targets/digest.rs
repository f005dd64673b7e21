//! The RFC 8785 canonicalizer and the call digest: idempotent, readable by another JSON
//! implementation (serde_json) as the same value, blind to spelling, and the same as an
//! independent RFC 8785 implementation (serde_json_canonicalizer) writes.
#![no_main]

mod common;

use countersign::core::digest::{call_digest, digest_of};
use countersign::core::json::parse;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest as _, Sha256};

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

    // An independent RFC 8785 implementation writes the same canonical form, and the same
    // digest for the call. `parse` accepted every number, so each is the decimal JCS
    // writes: no 17-digit tie can tell the two apart here.
    let oracle = serde_json_canonicalizer::to_string(&original).expect("the oracle canonicalizes serde_json's value");
    assert_eq!(oracle, canonical, "serde_json_canonicalizer writes another canonical form");
    let payload = serde_json::json!({"name": "t", "arguments": original});
    let payload = serde_json_canonicalizer::to_string(&payload).expect("the oracle canonicalizes the call");
    let oracle_digest = format!("sha256:{}", countersign::core::digest::hex(&Sha256::digest(payload.as_bytes())));
    assert_eq!(call_digest("t", Some(&value)), oracle_digest, "the call digest differs from the oracle's");

    // The digest names the value, not its spelling.
    let reparsed = parse(canonical.as_bytes()).unwrap();
    assert_eq!(digest_of(&value), digest_of(&reparsed));
    assert_eq!(call_digest("t", Some(&value)), call_digest("t", Some(&reparsed)));
});
