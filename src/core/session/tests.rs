//! The session core, driven event by event with values for time: every ordering of the
//! table in docs/design.md ("Orderings") is one test here.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value as Json};

use std::collections::VecDeque;

use super::limits::{MAX_HELD, PROGRESS_EVERY};
use super::*;
use crate::core::gate::{By, Place};
use crate::core::policy::Policy;

const TIMEOUT: Duration = Duration::from_secs(50);

fn settings(headless: bool) -> Settings {
    // Pinning is off here: these tests change tools within a session on purpose; pinning
    // has its own tests (session/pinning.rs).
    let mut policy = Policy::default();
    policy.pinning = crate::core::pins::Mode::Off;
    Settings {
        session: "s1".into(),
        label: "bank".into(),
        policy,
        headless,
        approval_timeout: TIMEOUT,
        pins: Default::default(),
        dialog: None,
    }
}

fn at(secs: f64) -> Now {
    Now { mono: Duration::from_secs_f64(secs), wall_micros: 1_700_000_000_000_000 }
}

fn operator() -> By {
    By::Operator { user: "ann".into(), place: Place::Tty }
}

/// A session after the legacy handshake and a listing of three tools, with a scripted
/// approval book: each consultation takes the next grant (none when the script is
/// empty), each filing the next result (an id when the script is empty).
struct T {
    s: Session,
    out: Vec<Action>,
    grants: VecDeque<Option<Grant>>,
    filings: VecDeque<Result<String, String>>,
}

impl T {
    fn new(headless: bool) -> T {
        T::with(settings(headless))
    }

    fn with(settings: Settings) -> T {
        T::declaring(settings, json!({}))
    }

    /// A session whose client declared `capabilities` in `initialize`.
    fn declaring(settings: Settings, capabilities: Json) -> T {
        let mut t = T { s: Session::new(settings), out: Vec::new(), grants: VecDeque::new(), filings: VecDeque::new() };
        t.client(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":capabilities,"clientInfo":{"name":"c","version":"1"}}}), 0.0);
        t.server(json!({"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}), 0.0);
        t.client(json!({"jsonrpc":"2.0","method":"notifications/initialized"}), 0.0);
        t.client(json!({"jsonrpc":"2.0","id":"l","method":"tools/list"}), 0.0);
        t.server(
            json!({"jsonrpc":"2.0","id":"l","result":{"tools":[
                {"name":"refund","annotations":{"destructiveHint":true}},
                {"name":"balance","annotations":{"readOnlyHint":true}},
                {"name":"note","annotations":{"destructiveHint":false}}
            ]}}),
            0.0,
        );
        t.out.clear();
        t
    }

    fn client(&mut self, message: Json, secs: f64) -> Vec<Action> {
        self.client_text(&message.to_string(), secs)
    }

    fn client_text(&mut self, text: &str, secs: f64) -> Vec<Action> {
        self.s.client(inbound::read(text.as_bytes().to_vec()), at(secs), &mut self.out);
        self.settle(secs)
    }

    /// The actions so far, with the book's answers to them (and what those led to).
    fn settle(&mut self, secs: f64) -> Vec<Action> {
        let mut all = Vec::new();
        while !self.out.is_empty() {
            let batch = std::mem::take(&mut self.out);
            for action in &batch {
                match action {
                    Action::Consult(t, _) => {
                        let grant = self.grants.pop_front().flatten();
                        self.s.consulted(*t, grant, None, at(secs), &mut self.out);
                    }
                    Action::File(t, _) => {
                        let filed = self.filings.pop_front().unwrap_or_else(|| Ok("k7m2qx".to_owned()));
                        self.s.filed(*t, filed, at(secs), &mut self.out);
                    }
                    _ => {}
                }
            }
            all.extend(batch);
        }
        all
    }

    fn server(&mut self, message: Json, secs: f64) -> Vec<Action> {
        self.server_text(&message.to_string(), secs)
    }

    fn server_text(&mut self, text: &str, secs: f64) -> Vec<Action> {
        self.s.server(outbound::read(Bytes::copy_from_slice(text.as_bytes())), at(secs), &mut self.out);
        self.settle(secs)
    }

    fn call(&mut self, id: u64, tool: &str, secs: f64) -> Vec<Action> {
        self.client(
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"n":id}}}),
            secs,
        )
    }

    fn cancel(&mut self, id: u64, secs: f64) -> Vec<Action> {
        self.client(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":id}}), secs)
    }

    fn asked(&mut self, ticket: Ticket, asked: Asked, secs: f64) -> Vec<Action> {
        self.s.asked(ticket, asked, at(secs), &mut self.out);
        self.settle(secs)
    }

    fn recorded(&mut self, ticket: Ticket, ok: bool, secs: f64) -> Vec<Action> {
        let written = if ok { Ok(()) } else { Err("disk full".to_owned()) };
        self.s.recorded(ticket, written, at(secs), &mut self.out);
        self.settle(secs)
    }

    fn tick(&mut self, secs: f64) -> Vec<Action> {
        self.s.tick(at(secs), &mut self.out);
        self.settle(secs)
    }

    /// Calls `tool` and returns the ticket it is asked under.
    fn held_at_operator(&mut self, id: u64, tool: &str, secs: f64) -> Ticket {
        let actions = self.call(id, tool, secs);
        ask_ticket(&actions).unwrap_or_else(|| panic!("not asked: {actions:?}"))
    }
}

fn ask_ticket(actions: &[Action]) -> Option<Ticket> {
    actions.iter().find_map(|a| match a {
        Action::Ask(t, _) => Some(*t),
        _ => None,
    })
}

/// The call goes to the book and then to the operator: nothing allowed it on the way.
fn needs_a_human(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Consult(..))) && decisions(actions).is_empty()
}

fn durable_ticket(actions: &[Action]) -> Option<Ticket> {
    actions.iter().find_map(|a| match a {
        Action::RecordDurable(t, _) => Some(*t),
        _ => None,
    })
}

fn to_server(actions: &[Action]) -> Vec<Json> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::ToServer(b) => Some(serde_json::from_slice(b).unwrap()),
            _ => None,
        })
        .collect()
}

fn to_client(actions: &[Action]) -> Vec<Json> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::ToClient(b) => Some(serde_json::from_slice(b).unwrap()),
            _ => None,
        })
        .collect()
}

/// The `decision` records among the actions, as JSON members.
fn decisions(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Record(e) | Action::RecordDurable(_, e) if e.name == "decision" => Some(format!("{e:?}")),
            _ => None,
        })
        .collect()
}

fn denial_text(answer: &Json) -> String {
    answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_read_only_call_is_forwarded_at_once_and_its_result_recorded() {
    let mut t = T::new(false);
    let actions = t.call(1, "balance", 1.0);
    assert_eq!(to_server(&actions)[0]["id"], 1);
    assert!(durable_ticket(&actions).is_none(), "read-only calls are recorded lazily");
    assert!(decisions(&actions)[0].contains("allowed_by_policy"));
    // `receipt` and `lease` appear only when one allowed the call (PRODUCT.md section 7).
    assert!(!decisions(&actions)[0].contains("receipt") && !decisions(&actions)[0].contains("lease"));
    let actions = t.server(json!({"jsonrpc":"2.0","id":1,"result":{"content":[]}}), 1.5);
    assert_eq!(to_client(&actions)[0]["id"], 1);
    assert!(actions.iter().any(|a| matches!(a, Action::Record(e) if e.name == "result")));
}

#[test]
fn an_approved_call_runs_once_its_decision_is_on_disk() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.asked(ticket, Asked::Approved { by: operator(), lease: false }, 3.0);
    assert_eq!(durable_ticket(&actions), Some(ticket));
    assert!(to_server(&actions).is_empty(), "not before the record is on disk");
    assert!(
        decisions(&actions)[0].contains("approved_by_operator")
            && decisions(&actions)[0].contains("waited_ms\\\":2000")
    );
    let actions = t.recorded(ticket, true, 3.1);
    assert_eq!(to_server(&actions)[0]["params"]["name"], "refund");
    assert_eq!(t.s.counts().allowed, 1);
}

#[test]
fn a_record_that_cannot_be_written_denies_the_call() {
    let mut t = T::new(false);
    let actions = t.call(1, "note", 1.0);
    let ticket = durable_ticket(&actions).expect("write-class calls are recorded first");
    let actions = t.recorded(ticket, false, 1.1);
    assert!(to_server(&actions).is_empty());
    assert!(denial_text(&to_client(&actions)[0]).contains("reason=audit_unavailable"));
}

#[test]
fn while_the_audit_log_is_down_a_call_that_needs_a_human_is_denied_at_once() {
    let mut t = T::new(false);
    t.s.audit_down(Some("audit log /x: disk full".into()));
    let actions = t.call(1, "refund", 1.0);
    assert!(ask_ticket(&actions).is_none(), "nobody is asked, nothing is kept for later");
    assert!(!actions.iter().any(|a| matches!(a, Action::Consult(..) | Action::File(..))));
    let text = denial_text(&to_client(&actions)[0]);
    assert!(text.contains("reason=audit_unavailable") && text.contains("disk full"), "{text}");
    assert!(decisions(&actions)[0].contains("audit_unavailable"));
    // Read-only calls the policy allows still pass.
    assert_eq!(to_server(&t.call(2, "balance", 1.1))[0]["params"]["name"], "balance");
    // The log is back: the operator is asked again.
    t.s.audit_down(None);
    assert!(ask_ticket(&t.call(3, "refund", 1.2)).is_some());
}

#[test]
fn cancelled_while_at_the_operator_is_withdrawn_and_never_forwarded() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.cancel(1, 2.0);
    assert!(actions.iter().any(|a| matches!(a, Action::Withdraw(w) if *w == ticket)));
    assert!(to_server(&actions).is_empty(), "the cancellation stops here too: the server never saw the call");
    assert!(to_client(&actions).is_empty(), "a cancelled request gets no answer");
    assert!(decisions(&actions)[0].contains("\\\"cancelled\\\""));
    // The operator's key lands after the cancellation: nothing happens.
    let actions = t.asked(ticket, Asked::Approved { by: operator(), lease: false }, 2.1);
    assert!(actions.is_empty(), "{actions:?}");
}

#[test]
fn cancelled_while_its_record_is_written_is_never_forwarded() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    t.asked(ticket, Asked::Approved { by: operator(), lease: false }, 2.0);
    let actions = t.cancel(1, 2.1);
    assert!(to_server(&actions).is_empty());
    assert!(decisions(&actions)[0].contains("before it was forwarded"));
    let actions = t.recorded(ticket, true, 2.2);
    assert!(to_server(&actions).is_empty(), "the write-ahead finished after the cancellation: {actions:?}");
}

#[test]
fn a_cancellation_before_the_call_is_a_plain_notification() {
    let mut t = T::new(false);
    let actions = t.cancel(9, 1.0);
    assert_eq!(to_server(&actions)[0]["method"], "notifications/cancelled");
}

#[test]
fn an_id_is_free_again_after_a_cancel_and_taken_while_held() {
    let mut t = T::new(false);
    t.held_at_operator(1, "refund", 1.0);
    let actions = t.call(1, "balance", 1.1);
    assert_eq!(to_client(&actions)[0]["error"]["code"], -32600, "duplicate id while held");
    assert!(to_server(&actions).is_empty());
    t.cancel(1, 1.2);
    let actions = t.call(1, "balance", 1.3);
    assert_eq!(to_server(&actions)[0]["id"], 1, "the id can be used again");
}

#[test]
fn calls_queue_for_the_operator_one_at_a_time() {
    let mut t = T::new(false);
    let first = t.held_at_operator(1, "refund", 1.0);
    let actions = t.call(2, "refund", 1.1);
    assert!(ask_ticket(&actions).is_none(), "one prompt at a time");
    let actions = t.asked(first, Asked::Denied { by: operator(), reason: Some("not \u{1b}[2Jtoday".into()) }, 2.0);
    let text = denial_text(&to_client(&actions)[0]);
    assert!(text.contains("reason=denied_by_operator") && text.contains("not \\u001b[2Jtoday"), "{text}");
    assert!(ask_ticket(&actions).is_some(), "the next call is asked: {actions:?}");
}

#[test]
fn a_withdrawn_call_passes_the_operator_to_the_next() {
    let mut t = T::new(false);
    let first = t.held_at_operator(1, "refund", 1.0);
    t.call(2, "refund", 1.1);
    let actions = t.cancel(1, 1.2);
    let second = ask_ticket(&actions).expect("the second call is shown");
    assert_ne!(first, second);
    // A key meant for the first, landing now, answers nothing.
    assert!(t.asked(first, Asked::Approved { by: operator(), lease: false }, 1.3).is_empty());
}

#[test]
fn timeouts_are_named_as_timeouts() {
    let mut t = T::new(false);
    let first = t.held_at_operator(1, "refund", 1.0);
    t.call(2, "refund", 2.0);
    assert_eq!(t.s.next_wakeup(), Some(Duration::from_secs(52)), "the queued call's deadline; the asked one has slack");
    let actions = t.tick(52.0);
    let answers = to_client(&actions);
    assert_eq!(answers.len(), 1, "the queued call timed out; the asked one has slack: {answers:?}");
    assert_eq!(answers[0]["id"], 2);
    assert!(denial_text(&answers[0]).contains("reason=approval_timeout"));
    let actions = t.tick(53.0);
    assert!(actions.iter().any(|a| matches!(a, Action::Withdraw(w) if *w == first)));
    assert!(denial_text(&to_client(&actions)[0]).contains("reason=approval_timeout"));
    assert_eq!(t.s.held(), 0);
}

#[test]
fn the_operators_edge_timing_out_is_a_timeout() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.asked(ticket, Asked::TimedOut { detail: "the approver console closed".into() }, 20.0);
    let text = denial_text(&to_client(&actions)[0]);
    assert!(text.contains("reason=approval_timeout") && text.contains("console closed"), "{text}");
}

#[test]
fn nobody_to_ask_keeps_the_call_as_a_pending_approval() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.asked(ticket, Asked::Nobody { why: "no terminal".into() }, 1.0);
    let filed = actions.iter().find_map(|a| match a {
        Action::File(_, f) => Some(f.clone()),
        _ => None,
    });
    let filed = filed.expect("kept as pending");
    assert_eq!((filed.tool.as_str(), filed.request_id.as_str()), ("refund", "1"));
    assert_eq!(filed.held.arguments, r#"{"n":1}"#);
    let text = denial_text(&to_client(&actions)[0]);
    assert!(text.contains("reason=approval_pending"), "{text}");
    assert!(text.contains("pending approval k7m2qx") && text.contains("`countersign approve k7m2qx`"), "{text}");
    // The reason, then what the user can do, as sentences (no parenthesis left open).
    assert!(text.contains("nobody could be asked now: no terminal. It is kept as pending approval"), "{text}");
    assert_eq!(text.matches('(').count(), text.matches(')').count(), "{text}");
    assert!(actions.iter().any(|a| matches!(a, Action::Notice(n) if n.contains("countersign approve k7m2qx"))));
    // Not `headless`: that is only ever `--headless` (docs/audit.md).
    assert!(decisions(&actions)[0].contains(r#"\"by\":\"policy\""#), "{}", decisions(&actions)[0]);
    assert_eq!(t.s.held(), 0);
}

#[test]
fn a_call_that_cannot_be_kept_says_how_to_get_asked() {
    let mut t = T::new(false);
    t.filings.push_back(Err("approvals.json: not ours".into()));
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let text = denial_text(&to_client(&t.asked(ticket, Asked::Nobody { why: "no terminal".into() }, 1.0))[0]);
    assert!(text.contains("reason=denied_headless") && text.contains("countersign approver"), "{text}");
    assert!(text.contains("not ours"), "{text}");
}

#[test]
fn a_timed_out_call_is_kept_as_pending_too() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.asked(ticket, Asked::TimedOut { detail: "no answer within 50 s".into() }, 51.0);
    let text = denial_text(&to_client(&actions)[0]);
    assert!(text.contains("reason=approval_timeout") && text.contains("countersign approve k7m2qx"), "{text}");
}

#[test]
fn the_book_is_read_before_the_operator_is_asked() {
    let mut t = T::new(false);
    t.grants.push_back(Some(Grant::Receipt { id: "k7m2qx".into(), by: "operator:ann@cli".into() }));
    let actions = t.call(1, "refund", 1.0);
    assert!(actions.iter().any(|a| matches!(a, Action::Consult(_, c) if c.tool == "refund" && c.leases)));
    assert!(ask_ticket(&actions).is_none());
    let d = &decisions(&actions)[0];
    assert!(d.contains("approved_by_receipt") && d.contains(r#"receipt\":\"k7m2qx"#), "{d}");
    assert!(d.contains(r#"by\":\"operator:ann@cli"#), "{d}");
    let ticket = durable_ticket(&actions).unwrap();
    assert_eq!(to_server(&t.recorded(ticket, true, 1.0)).len(), 1, "runs once its record is on disk");
    // The receipt was used up by the book: the next identical call is asked.
    assert!(ask_ticket(&t.call(2, "refund", 2.0)).is_some());
}

#[test]
fn a_lease_is_granted_to_the_book_and_allows_what_it_finds() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.asked(ticket, Asked::Approved { by: operator(), lease: true }, 2.0);
    let lease = actions.iter().find_map(|a| match a {
        Action::GrantLease(l) => Some(l.clone()),
        _ => None,
    });
    let lease = lease.expect("granted");
    assert_eq!(lease.id, crate::core::approvals::lease_id("s1", ticket), "a short id, typed as listed");
    assert!(lease.tool == "refund" && lease.by == "operator:ann@tty", "{lease:?}");
    t.recorded(ticket, true, 2.0);
    t.grants.push_back(Some(Grant::Lease { id: lease.id.clone() }));
    let actions = t.call(2, "refund", 10.0);
    assert!(ask_ticket(&actions).is_none());
    let d = &decisions(&actions)[0];
    assert!(d.contains("approved_by_lease") && d.contains(&format!(r#"lease\":\"{}"#, lease.id)), "{d}");
}

#[test]
fn no_lease_is_taken_where_none_may_be_offered_whatever_the_answer_says() {
    // Under `confirm = "digest"` no edge offers `a`; an answer that asks for a lease anyway
    // (an older console) approves the one call and grants nothing.
    let mut digest = settings(false);
    digest.policy =
        crate::core::policy::from_toml("[defaults]\nconfirm = \"digest\"\n[pinning]\nmode = \"off\"\n").unwrap();
    let mut t = T::with(digest);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    let actions = t.asked(ticket, Asked::Approved { by: operator(), lease: true }, 2.0);
    assert!(!actions.iter().any(|a| matches!(a, Action::GrantLease(_))), "{actions:?}");
    let d = &decisions(&actions)[0];
    assert!(d.contains("approved_by_operator") && !d.contains("lease"), "{d}");
}

#[test]
fn a_call_withdrawn_while_the_book_is_read_is_never_forwarded() {
    let mut t = T::new(false);
    t.s.client(
        inbound::read(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund","arguments":{"n":1}}}"#
                .to_vec(),
        ),
        at(1.0),
        &mut t.out,
    );
    let ticket = std::mem::take(&mut t.out)
        .iter()
        .find_map(|a| match a {
            Action::Consult(t, _) => Some(*t),
            _ => None,
        })
        .unwrap();
    t.cancel(1, 1.1);
    let mut out = Vec::new();
    t.s.consulted(ticket, Some(Grant::Lease { id: "l".into() }), None, at(1.2), &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn an_approval_is_used_once_even_for_a_retry() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    t.asked(ticket, Asked::Approved { by: operator(), lease: false }, 2.0);
    t.recorded(ticket, true, 2.0);
    t.server(json!({"jsonrpc":"2.0","id":1,"result":{"content":[]}}), 2.5);
    let retry = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"refund","arguments":{"n":1},"requestState":"forged"}});
    assert!(ask_ticket(&t.client(retry, 3.0)).is_some(), "an identical call needs a new approval");
}

/// A 2026-07-28 session with the same three tools.
fn stateless() -> T {
    let mut t = T::new(false);
    t.s.revision = Some(crate::core::protocol::Revision::V2026_07_28);
    t
}

#[test]
fn a_stateless_retry_carries_its_approval_only_with_the_servers_own_state() {
    let mut t = stateless();
    let ticket = t.held_at_operator(1, "refund", 1.0);
    t.asked(ticket, Asked::Approved { by: operator(), lease: false }, 2.0);
    t.recorded(ticket, true, 2.0);
    t.server(
        json!({"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":{"a":{}},"requestState":"st-1"}}),
        2.5,
    );
    let retry = |id: u64, state: &str| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"refund","arguments":{"n":1},"inputResponses":{"a":{}},"requestState":state}});
    assert!(ask_ticket(&t.client(retry(2, "forged"), 3.0)).is_some(), "a forged state is a new call");
    let actions = t.client(retry(3, "st-1"), 3.0);
    assert!(ask_ticket(&actions).is_none(), "the server's own state carries the approval");
    let d = &decisions(&actions)[0];
    assert!(d.contains("approved_by_operator") && d.contains("retry of call 1"), "{d}");
    assert!(needs_a_human(&t.client(retry(4, "st-1"), 4.0)), "carried once");
}

#[test]
fn a_carried_approval_needs_the_same_arguments_and_lapses() {
    let mut t = stateless();
    let ticket = t.held_at_operator(1, "refund", 1.0);
    t.asked(ticket, Asked::Approved { by: operator(), lease: false }, 2.0);
    t.recorded(ticket, true, 2.0);
    t.server(json!({"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","requestState":"st"}}), 2.5);
    let other = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"refund","arguments":{"n":2},"requestState":"st"}});
    assert!(needs_a_human(&t.client(other, 3.0)), "other arguments, another digest");
    let late = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"refund","arguments":{"n":1},"requestState":"st"}});
    assert!(needs_a_human(&t.client(late, 2.5 + 601.0)), "lapsed after 10 minutes");
}

#[test]
fn an_older_revision_never_carries_an_approval() {
    let mut t = T::new(false);
    let ticket = t.held_at_operator(1, "refund", 1.0);
    t.asked(ticket, Asked::Approved { by: operator(), lease: false }, 2.0);
    t.recorded(ticket, true, 2.0);
    t.server(json!({"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","requestState":"st"}}), 2.5);
    let retry = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"refund","arguments":{"n":1},"requestState":"st"}});
    assert!(ask_ticket(&t.client(retry, 3.0)).is_some());
}

#[test]
fn headless_denies_what_needs_a_human() {
    let mut t = T::new(true);
    let actions = t.call(1, "refund", 1.0);
    assert!(denial_text(&to_client(&actions)[0]).contains("reason=denied_headless"));
    assert!(to_server(&t.call(2, "note", 1.0)).is_empty(), "write calls wait for their record");
}

#[test]
fn held_calls_are_bounded() {
    let mut t = T::new(false);
    for id in 0..MAX_HELD as u64 {
        t.call(100 + id, "refund", 1.0);
    }
    let actions = t.call(1, "refund", 1.0);
    assert!(denial_text(&to_client(&actions)[0]).contains("reason=too_many_held"));
}

#[test]
fn a_call_without_an_id_never_reaches_the_server() {
    let mut t = T::new(false);
    let actions = t.client(json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":"balance"}}), 1.0);
    assert!(to_server(&actions).is_empty() && to_client(&actions).is_empty());
    assert!(actions.iter().any(|a| matches!(a, Action::Record(e) if e.name == "rejected")));
    t.s.revision = Some(crate::core::protocol::Revision::V2025_03_26);
    let actions = t.client_text(
        r#"[{"jsonrpc":"2.0","method":"tools/call","params":{"name":"balance"}},{"jsonrpc":"2.0","id":5,"method":"ping"}]"#,
        1.0,
    );
    let sent = to_server(&actions);
    assert_eq!(sent.len(), 1, "only the ping: {sent:?}");
    assert_eq!(sent[0]["method"], "ping");
}

#[test]
fn server_death_fails_what_is_held_and_in_flight() {
    let mut t = T::new(false);
    t.call(1, "balance", 1.0);
    let ticket = t.held_at_operator(2, "refund", 1.0);
    t.s.server_gone(at(2.0), &mut t.out);
    let actions = std::mem::take(&mut t.out);
    assert!(actions.iter().any(|a| matches!(a, Action::Withdraw(w) if *w == ticket)));
    let mut ids: Vec<_> = to_client(&actions).iter().map(|a| (a["id"].clone(), a["error"]["code"].clone())).collect();
    ids.sort_by_key(|(id, _)| id.as_u64());
    assert_eq!(ids, vec![(json!(1), json!(-32603)), (json!(2), json!(-32603))]);
    assert!(decisions(&actions)[0].contains("session ended"));
    let actions = t.call(3, "balance", 3.0);
    assert_eq!(to_client(&actions)[0]["error"]["code"], -32603, "later requests fail at once");
}

#[test]
fn a_dropped_answer_fails_its_request_at_once() {
    let mut t = T::new(false);
    t.call(1, "balance", 1.0);
    let deep = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{}{}}}"#, "[".repeat(300), "]".repeat(300));
    let actions = t.server_text(&deep, 1.1);
    let answer = &to_client(&actions)[0];
    assert_eq!((answer["id"].clone(), answer["error"]["code"].clone()), (json!(1), json!(-32603)));
    t.server(json!({"jsonrpc":"2.0","id":1,"result":{}}), 1.2);
}

#[test]
fn the_server_cannot_answer_a_call_it_never_saw() {
    let mut t = T::new(false);
    t.held_at_operator(1, "refund", 1.0);
    let actions = t.server(json!({"jsonrpc":"2.0","id":1,"result":{"content":[]}}), 1.1);
    assert!(to_client(&actions).is_empty(), "{actions:?}");
}

#[test]
fn unknown_tools_are_listed_by_countersign_itself_and_a_failure_remembered() {
    let mut t = T::new(false);
    t.server(json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"}), 0.5);
    let actions = t.call(1, "lookup", 1.0);
    let list = &to_server(&actions)[0];
    assert_eq!(list["method"], "tools/list");
    let internal = list["id"].as_str().unwrap().to_owned();
    assert!(internal.starts_with("countersign-s1-"));
    let tools = json!([{"name":"refund","annotations":{"readOnlyHint":true}},{"name":"lookup","annotations":{"readOnlyHint":true}}]);
    let actions = t.server(json!({"jsonrpc":"2.0","id":internal,"result":{"tools":tools}}), 1.5);
    assert!(to_client(&actions).is_empty(), "countersign's own answers never reach the client");
    assert_eq!(to_server(&actions)[0]["id"], 1, "now read-only: forwarded");
    let actions = t.call(9, "refund", 1.6);
    let asked = ask_ticket(&actions).expect("listed destructive before list_changed: still asked");
    t.asked(asked, Asked::Denied { by: operator(), reason: None }, 1.7);
    // A listing that never comes: unknown after the page timeout, and for 30 s after.
    t.server(json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"}), 2.0);
    let list = to_server(&t.call(2, "refund", 2.0));
    assert_eq!(list.len(), 1);
    let actions = t.tick(12.0);
    assert!(ask_ticket(&actions).is_some(), "counted as unknown: asked");
    let actions = t.call(3, "other", 13.0);
    assert!(to_server(&actions).is_empty(), "no new listing within 30 s: {actions:?}");
    assert!(
        decisions(&t.asked(ask_ticket(&actions).unwrap_or(0), Asked::Nobody { why: String::new() }, 13.0)).is_empty()
    );
}

#[test]
fn a_waiting_client_with_a_progress_token_hears_from_us() {
    let mut t = T::new(false);
    let call =
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund","_meta":{"progressToken":"p"}}});
    t.client(call, 1.0);
    assert_eq!(t.s.next_wakeup(), Some(Duration::from_secs(1) + PROGRESS_EVERY));
    let actions = t.tick(6.0);
    let note = &to_client(&actions)[0];
    assert_eq!(
        (note["method"].clone(), note["params"]["progress"].clone()),
        (json!("notifications/progress"), json!(1))
    );
    assert_eq!(to_client(&t.tick(11.0))[0]["params"]["progress"], 2);
}

#[test]
fn a_denied_task_call_gets_a_failed_task_that_answers_tasks_get() {
    let mut t = T::new(true);
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund","task":{"ttl":1000}}});
    let answer = &to_client(&t.client(call, 1.0))[0];
    let task = answer["result"]["task"]["taskId"].as_str().unwrap().to_owned();
    let get = json!({"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{"taskId":task}});
    assert_eq!(to_client(&t.client(get, 2.0))[0]["result"]["status"], "failed");
}

mod dialog;
