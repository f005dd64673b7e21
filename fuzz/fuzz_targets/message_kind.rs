//! Message kind and id parsing on arbitrary bytes: `kind_of` never panics and classifies a
//! message exactly as the JSON-RPC 2.0 rules, applied here to serde_json's reading of the
//! same bytes, do; every id it reads is the one serde_json reads, keeps its value through
//! `Id::to_json`, and gets back an error answer that `kind_of` reads as an error for that
//! same id. `Id::from_raw` and `Revision::parse` also take the bytes as raw text.
#![no_main]

use countersign::core::json::{scan_envelope, Message};
use countersign::core::protocol::{code, error_response, kind_of, Id, Kind, Revision};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value as J};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(id) = Id::from_raw(text) {
            check_id(&id);
        }
        if let Some(revision) = Revision::parse(text) {
            assert_eq!(revision.as_str(), text);
        }
    }
    match scan_envelope(data) {
        Ok(Message::Single(_)) => check_message(data),
        // The relay classifies each batch element on its own.
        Ok(Message::Batch(items)) => items.iter().for_each(|item| check_message(item.as_bytes())),
        _ => {}
    }
});

/// What the message is, by the rules written out again over serde_json's reading.
#[derive(Debug, PartialEq)]
enum Expected {
    Request,
    Notification,
    Response,
    Error,
    Invalid,
}

fn expected(obj: &Map<String, J>) -> Expected {
    let id_ok = match obj.get("id") {
        None => true,
        Some(J::String(_) | J::Number(_)) => true,
        // `null` only on an error answer (the peer could not read the request's id).
        Some(J::Null) => obj.contains_key("error"),
        Some(_) => false,
    };
    if !id_ok || obj.get("jsonrpc") != Some(&J::String("2.0".into())) {
        return Expected::Invalid;
    }
    let (result, error) = (obj.contains_key("result"), obj.contains_key("error"));
    if let Some(method) = obj.get("method") {
        let params_ok = matches!(obj.get("params"), None | Some(J::Object(_) | J::Array(_)));
        return match (method.is_string() && params_ok && !result && !error, obj.get("id")) {
            (false, _) => Expected::Invalid,
            (true, None) => Expected::Notification,
            (true, Some(_)) => Expected::Request,
        };
    }
    match (result, error, obj.get("id")) {
        (true, false, Some(J::String(_) | J::Number(_))) => Expected::Response,
        (false, true, _) => Expected::Error,
        _ => Expected::Invalid,
    }
}

/// `id` names the same id as serde_json's `theirs`.
fn same_id(id: &Id, theirs: Option<&J>) -> bool {
    match (id, theirs) {
        (Id::String(s), Some(J::String(t))) => s == t,
        (Id::Number(n), Some(J::Number(t))) => n.parse::<f64>().ok() == t.as_f64(),
        _ => false,
    }
}

/// An id reads back as itself from its JSON; a number id is in canonical form; an error
/// answer built for it is, to `kind_of`, an error for the same id.
fn check_id(id: &Id) {
    let _ = id.to_string();
    assert_eq!(Id::from_raw(&id.to_json()).as_ref(), Some(id), "{id:?} does not survive to_json");
    if let Id::Number(n) = id {
        assert_eq!(Id::from_raw(n).as_ref(), Some(id), "number id {n} is not canonical");
    }
    let line = error_response(Some(id), code::INVALID_REQUEST, "refused \"x\"\n");
    let Ok(Message::Single(env)) = scan_envelope(line.as_bytes()) else {
        panic!("error_response is not one JSON object: {line}");
    };
    assert_eq!(kind_of(&env), Ok(Kind::Error { id: Some(id.clone()) }), "{line}");
}

fn check_message(bytes: &[u8]) {
    let Ok(Message::Single(env)) = scan_envelope(bytes) else { return };
    let kind = kind_of(&env);
    let id = match &kind {
        Ok(Kind::Request { id, .. } | Kind::Response { id }) => Some(id),
        Ok(Kind::Error { id }) => id.as_ref(),
        Ok(Kind::Notification { .. }) => None,
        Err(invalid) => invalid.id.as_ref(),
    };
    if let Some(id) = id {
        check_id(id);
    }
    // With a duplicate key or an inexact number, serde_json settles the doubt its own way;
    // the relay refuses such a message before it asks what kind it is.
    if env.ambiguity.is_some() {
        return;
    }
    let theirs: J = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) if e.to_string().contains("recursion limit") => return,
        Err(e) => panic!("serde_json refuses what scan_envelope accepted ({e})"),
    };
    let obj = theirs.as_object().expect("a single message is an object");
    if let Some(id) = id {
        assert!(same_id(id, obj.get("id")), "id {id:?}, serde_json reads {:?}", obj.get("id"));
    }
    let expected = expected(obj);
    match &kind {
        Ok(Kind::Request { method, .. } | Kind::Notification { method }) => {
            assert_eq!(obj.get("method").and_then(J::as_str), Some(method.as_str()));
        }
        Ok(Kind::Error { id: None }) => assert!(matches!(obj.get("id"), None | Some(J::Null)), "{obj:?}"),
        _ => {}
    }
    let got = match kind {
        Ok(Kind::Request { .. }) => Expected::Request,
        Ok(Kind::Notification { .. }) => Expected::Notification,
        Ok(Kind::Response { .. }) => Expected::Response,
        Ok(Kind::Error { .. }) => Expected::Error,
        Err(_) => Expected::Invalid,
    };
    assert_eq!(got, expected, "{}", String::from_utf8_lossy(bytes));
}
