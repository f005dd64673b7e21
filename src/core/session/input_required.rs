//! The client's dialog on 2026-07-28 (PRODUCT.md section 6, step 3): no server-to-client
//! requests there, so countersign answers the held call itself with an `input_required`
//! result that embeds its elicitation, and a `requestState` of its own. The client shows
//! the dialog and retries the call with the answer (`inputResponses`) and that state.
//!
//! The state is sealed and single-use: `countersign-dialog.<32 hex>`, an HMAC-SHA256 of
//! the call's ticket under the session's dialog secret (which the server never sees), kept
//! with the tool and digest it was issued for until the call's deadline. A retry carrying
//! it with the same tool and digest is decided by the answer it carries, once; a retry
//! carrying any other state of this form is asked about as a new call, as a retry on any
//! other revision is. The server never sees the state nor the answer: the retry is
//! forwarded with those two members of its params left out (every other byte as received).
//!
//! Spec: 2026-07-28 multi-round-trip requests (SEP-2322): `resultType: "input_required"`,
//! `inputRequests` (key → `{method, params}`), `requestState`; the retry echoes the state
//! and carries `inputResponses` (key → the result).

use bytes::Bytes;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::dialog::{params, read_result, Said};
use super::dialog_state::{declares_form, Parked};
use super::requests::HeldCall;
use super::{Action, Now, Session, Ticket};
use crate::core::json::{scan_envelope_str, Message, Raw};
use crate::core::protocol::META_CLIENT_CAPABILITIES;

/// The key of countersign's request in `inputRequests` (and its answer's).
const KEY: &str = "countersign-approval";

/// How a sealed state starts.
const PREFIX: &str = "countersign-dialog.";

/// Most dialogs waiting for their retry at once.
const MAX_PARKED: usize = 16;

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// `line` (one request) with the `params` members named in `drop` left out; every other
/// byte as it was (the members kept, in order; only the separators between them are
/// written anew). `None` when the line is not one request with object params.
pub(super) fn without_members(line: &[u8], drop: &[&str]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let Ok(Message::Single(envelope)) = scan_envelope_str(text) else {
        return None;
    };
    let params = envelope.params?;
    let start = params.as_ptr() as usize - text.as_ptr() as usize;
    let end = start + params.len();
    let mut members = Raw::new(params).members();
    let mut kept = Vec::new();
    while let Some((key, value)) = members.next_raw() {
        let name = Raw::new(key).as_str()?;
        if !drop.contains(&name.as_ref()) {
            kept.push(format!("{key}:{}", value.text()));
        }
    }
    if members.is_broken() {
        return None;
    }
    Some([&line[..start], b"{", kept.join(",").as_bytes(), b"}", &line[end..]].concat())
}

impl Session {
    /// Whether the 2026-07-28 client declared form elicitation in its envelope.
    pub(super) fn envelope_elicits(&self) -> bool {
        let caps = self.envelope.iter().find(|(k, _)| k == META_CLIENT_CAPABILITIES).map(|(_, v)| v);
        declares_form(caps)
    }

    /// Answers the held call with countersign's `input_required` result; its retry
    /// carries the answer. True when answered so.
    pub(super) fn park(&mut self, ticket: Ticket, now: Now, out: &mut Vec<Action>) -> bool {
        let Some(secret) = self.settings.dialog.as_ref().map(|d| d.secret.clone()) else {
            return false;
        };
        let Some(held) = self.requests.held(ticket) else {
            return false;
        };
        let shown = self.shown(held);
        let seal = hmac(secret.as_bytes(), format!("{}:{ticket}", self.settings.session).as_bytes());
        let state = format!("{PREFIX}{}", crate::core::digest::hex(&seal[..16]));
        let Some(held) = self.take_held(ticket, out) else {
            return false;
        };
        let result = json!({
            "resultType": "input_required",
            "inputRequests": {KEY: {"method": "elicitation/create", "params": params(&shown)}},
            "requestState": state,
        });
        let line = json!({"jsonrpc": "2.0", "id": held.id.to_json_value(), "result": result});
        self.parked.retain(|p| p.until > now.mono);
        if self.parked.len() >= MAX_PARKED {
            self.parked.pop_front();
        }
        let (tool, digest) = (held.call.name.clone(), held.call.digest.clone());
        self.parked.push_back(Parked { state, tool, digest, shown, until: held.deadline });
        self.reply(held.to, Bytes::from(line.to_string()), out);
        self.pump(now, out);
        true
    }

    /// Whether `held` carries a state of countersign's own form (a retry of a call it
    /// answered with `input_required`).
    pub(super) fn carries_our_state(held: &HeldCall) -> bool {
        let state = held.call.request_state.as_ref();
        state.is_some_and(|s| s.as_str().strip_prefix('"').is_some_and(|s| s.starts_with(PREFIX)))
    }

    /// What the dialog answered for a retry of a parked call: `None` when the retry is not
    /// one (no state of ours, a spent or lapsed one, another tool or digest).
    pub(super) fn retried(&mut self, ticket: Ticket, now: Now) -> Option<Said> {
        self.parked.retain(|p| p.until > now.mono);
        let held = self.requests.held(ticket)?;
        if !Self::carries_our_state(held) {
            return None;
        }
        let state = crate::core::json::parse(held.call.request_state.as_ref()?.as_str().as_bytes()).ok()?;
        let state = state.as_str()?;
        let i = self
            .parked
            .iter()
            .position(|p| p.state == state && p.tool == held.call.name && p.digest == held.call.digest)?;
        let parked = self.parked.remove(i)?;
        let responses =
            held.call.input_responses.as_ref().and_then(|r| crate::core::json::parse(r.as_str().as_bytes()).ok());
        let said = match responses.as_ref().and_then(|r| r.get(KEY)) {
            Some(answer) => read_result(answer, &parked.shown),
            None => Said::Nothing("the retry carries no answer to countersign's dialog".into()),
        };
        Some(said)
    }

    /// The bytes to forward for a held call: as received, but a retry of countersign's
    /// own dialog without its `requestState` and `inputResponses` (the server never sees
    /// them). `None` when they cannot be taken out.
    pub(super) fn bytes_to_forward(held: &HeldCall) -> Option<Bytes> {
        if !Self::carries_our_state(held) {
            return Some(held.bytes.clone());
        }
        without_members(&held.bytes, &["requestState", "inputResponses"]).map(Bytes::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(crate::core::digest::hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn members_are_left_out_and_every_other_byte_kept() {
        let line = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{ "name" : "x",  "arguments":{"a": [1, 2.50]},"requestState":"s","inputResponses":{"k":{}}, "_meta":{"p":1}}}"#;
        let out = without_members(line, &["requestState", "inputResponses"]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"a": [1, 2.50]},"_meta":{"p":1}}}"#
        );
        // A key written with escapes is the same key.
        let line = br#"{"id":1,"method":"tools/call","params":{"name":"x","request\u0053tate":"s"}}"#;
        let out = without_members(line, &["requestState"]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"id":1,"method":"tools/call","params":{"name":"x"}}"#);
        let line = br#"{"id":1,"method":"tools/call","params":{"requestState":"s"}}"#;
        assert_eq!(without_members(line, &["requestState"]).unwrap(), br#"{"id":1,"method":"tools/call","params":{}}"#);
        assert_eq!(without_members(br#"{"id":1,"method":"x"}"#, &["a"]), None);
    }
}
