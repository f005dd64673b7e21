//! The client's own dialog as a step of asking (PRODUCT.md section 6, step 3).

use super::*;
use crate::core::session::Dialog;

fn with_dialog() -> Settings {
    Settings { dialog: Some(Dialog { user: "ann".into(), secret: "s3cr3t".into() }), ..settings(false) }
}

/// The `elicitation/create` requests among the actions.
fn dialogs(actions: &[Action]) -> Vec<Json> {
    to_client(actions).into_iter().filter(|m| m["method"] == "elicitation/create").collect()
}

fn page_allowed(actions: &[Action]) -> Option<bool> {
    actions.iter().find_map(|a| match a {
        Action::Ask(_, ask) => Some(ask.page),
        _ => None,
    })
}

/// A refund held, nobody near: the client's dialog about it.
fn dialog_open(t: &mut T) -> (Ticket, Json) {
    let actions = t.call(1, "refund", 1.0);
    assert_eq!(page_allowed(&actions), Some(false), "the page waits for the dialog: {actions:?}");
    let ticket = ask_ticket(&actions).unwrap();
    let actions = t.asked(ticket, Asked::Nobody { why: "no console, no terminal".into() }, 1.1);
    let asked = dialogs(&actions);
    assert_eq!(asked.len(), 1, "{actions:?}");
    (ticket, asked[0].clone())
}

fn reply(id: &Json, result: Json) -> Json {
    json!({"jsonrpc":"2.0","id":id,"result":result})
}

#[test]
fn an_accept_in_the_clients_dialog_runs_only_the_call_it_was_asked_for() {
    let mut t = T::declaring(with_dialog(), json!({"elicitation": {}}));
    let (_, dialog) = dialog_open(&mut t);
    let id = &dialog["id"];
    assert!(id.as_str().unwrap().starts_with("countersign-dialog-s3cr3t-"), "{id}");
    let text = dialog["params"]["message"].as_str().unwrap();
    assert!(text.contains("Tool: refund") && text.contains("\"n\": 1") && text.contains("Digest: sha256:"), "{text}");

    let actions = t.client(reply(id, json!({"action":"accept","content":{"decision":"approve"}})), 2.0);
    // The answer never reaches the server; the call's write-ahead record names the dialog.
    assert!(to_server(&actions).is_empty(), "{actions:?}");
    let ticket = durable_ticket(&actions).unwrap();
    assert!(decisions(&actions)[0].contains("operator:ann@client"), "{actions:?}");
    let actions = t.recorded(ticket, true, 2.1);
    assert_eq!(to_server(&actions)[0]["params"]["name"], "refund");

    // The same answer again decides nothing and goes nowhere.
    let actions = t.client(reply(id, json!({"action":"accept","content":{"decision":"approve"}})), 3.0);
    assert!(to_server(&actions).is_empty() && durable_ticket(&actions).is_none(), "{actions:?}");
}

#[test]
fn a_decline_denies_and_a_dismissed_dialog_goes_on_to_the_page() {
    let mut t = T::declaring(with_dialog(), json!({"elicitation": {"form": {}}}));
    let (_, dialog) = dialog_open(&mut t);
    let actions = t.client(reply(&dialog["id"], json!({"action":"decline"})), 2.0);
    let answer = to_client(&actions).into_iter().find(|m| m["id"] == 1).unwrap();
    assert!(denial_text(&answer).contains("reason=denied_by_operator"), "{answer}");

    t.call(2, "refund", 3.0);
    let ticket = 2;
    let actions = t.asked(ticket, Asked::Nobody { why: "nobody".into() }, 3.1);
    let dialog = dialogs(&actions).remove(0);
    let actions = t.client(reply(&dialog["id"], json!({"action":"cancel"})), 4.0);
    // Asked again, this time with the page: the same call, its time running on.
    assert_eq!(page_allowed(&actions), Some(true), "{actions:?}");
    assert_eq!(ask_ticket(&actions), Some(ticket));
    // Nobody at the page either: pending, as ever.
    let actions = t.asked(ticket, Asked::Nobody { why: "nobody".into() }, 4.1);
    assert!(dialogs(&actions).is_empty(), "the dialog is tried once per call");
    let answer = to_client(&actions).into_iter().find(|m| m["id"] == 2).unwrap();
    assert!(denial_text(&answer).contains("reason=approval_pending"), "{answer}");
}

#[test]
fn a_call_that_ends_while_in_the_dialog_cancels_it() {
    let mut t = T::declaring(with_dialog(), json!({"elicitation": {}}));
    let (_, dialog) = dialog_open(&mut t);
    let actions = t.cancel(1, 2.0);
    let cancelled = to_client(&actions);
    assert!(
        cancelled.iter().any(|m| m["method"] == "notifications/cancelled" && m["params"]["requestId"] == dialog["id"]),
        "{cancelled:?}"
    );
    // A late accept runs nothing.
    let actions = t.client(reply(&dialog["id"], json!({"action":"accept","content":{"decision":"approve"}})), 3.0);
    assert!(to_server(&actions).is_empty() && durable_ticket(&actions).is_none(), "{actions:?}");
}

#[test]
fn no_dialog_without_the_clients_declaration_the_policy_or_a_revision_that_has_it() {
    for (settings, caps) in [
        (with_dialog(), json!({})),
        (with_dialog(), json!({"elicitation": {"url": {}}})),
        (settings(false), json!({"elicitation": {}})),
    ] {
        let mut t = T::declaring(settings, caps.clone());
        let actions = t.call(1, "refund", 1.0);
        assert_eq!(page_allowed(&actions), Some(true), "{caps}");
        let actions = t.asked(ask_ticket(&actions).unwrap(), Asked::Nobody { why: "nobody".into() }, 1.1);
        assert!(dialogs(&actions).is_empty(), "{caps}: {actions:?}");
    }
}

#[test]
fn a_server_response_that_is_not_the_dialogs_passes_on() {
    let mut t = T::declaring(with_dialog(), json!({"elicitation": {}}));
    let (_, _) = dialog_open(&mut t);
    // The client answers a request of the server's (sampling, say): forwarded as ever.
    let actions = t.client(json!({"jsonrpc":"2.0","id":"srv-1","result":{}}), 2.0);
    assert_eq!(to_server(&actions).len(), 1, "{actions:?}");
}

/// A 2026-07-28 session whose client declared form elicitation in its envelope.
fn stateless_with_dialog() -> T {
    let mut t = T::with(with_dialog());
    t.s.revision = Some(crate::core::protocol::Revision::V2026_07_28);
    let meta = json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}});
    t.client(json!({"jsonrpc":"2.0","id":"p","method":"ping","params":{"_meta":meta}}), 0.5);
    t
}

#[test]
fn on_2026_the_dialog_is_an_input_required_result_whose_state_runs_one_retry() {
    let mut t = stateless_with_dialog();
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.asked(ticket, Asked::Nobody { why: "nobody".into() }, 1.1);
    let answer = to_client(&actions).into_iter().find(|m| m["id"] == 1).unwrap();
    let result = &answer["result"];
    assert_eq!(result["resultType"], "input_required", "{answer}");
    assert_eq!(result["inputRequests"]["countersign-approval"]["method"], "elicitation/create");
    let state = result["requestState"].as_str().unwrap().to_owned();
    assert!(state.starts_with("countersign-dialog.") && state.len() == "countersign-dialog.".len() + 32, "{state}");

    let retry = |id: u64, n: u64, state: &str, decision: &str| {
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"refund","arguments":{"n":n},
            "inputResponses":{"countersign-approval":{"action":"accept","content":{"decision":decision}}},"requestState":state}})
    };
    // Another digest with the state: asked about as a new call (and never folded into it).
    assert!(needs_a_human(&t.client(retry(2, 9, &state, "approve"), 2.0)));
    let actions = t.client(retry(3, 1, &state, "approve"), 2.0);
    let ticket = durable_ticket(&actions).unwrap_or_else(|| panic!("approved by its dialog: {actions:?}"));
    assert!(decisions(&actions)[0].contains("operator:ann@client"), "{actions:?}");
    let forwarded = to_server(&t.recorded(ticket, true, 2.1));
    assert_eq!(forwarded[0]["params"], json!({"name":"refund","arguments":{"n":1}}), "the server never sees the state");
    // Spent: the same state again is a new call (asked, not run), and a forged one too.
    assert!(needs_a_human(&t.client(retry(4, 1, &state, "approve"), 3.0)));
    let forged = format!("countersign-dialog.{}", "0".repeat(32));
    assert!(needs_a_human(&t.client(retry(5, 1, &forged, "approve"), 3.0)));
}
