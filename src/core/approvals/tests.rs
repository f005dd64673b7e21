use super::*;
use crate::core::audit::{render, ChainHead, Origin};
use crate::core::classify::Class;

const T0: i64 = 1_795_000_000_000_000;
const SEC: i64 = 1_000_000;
const D1: &str = "sha256:ab12000000000000000000000000000000000000000000000000000000000000";
const D2: &str = "sha256:cd34000000000000000000000000000000000000000000000000000000000000";

fn ids() -> impl FnMut() -> String {
    let mut n = 0u32;
    move || {
        n += 1;
        short_id(n.to_le_bytes())
    }
}

fn new(tool: &str, digest: &str) -> NewPending {
    let mut held = Held::new("bank", Some("client"), tool, None, Class::Destructive, "defaults.destructive");
    held.arguments = r#"{"order":"A1","api_key":"sk-live-123456789012345678901234"}"#.into();
    held.digest = digest.into();
    NewPending {
        label: "bank".into(),
        tool: tool.into(),
        digest: digest.into(),
        definition: None,
        held,
        audit_dir: "/audit".into(),
        session: "s1".into(),
        request_id: "7".into(),
    }
}

fn record(c: &Change) -> serde_json::Value {
    let origin = Origin { session: "x".into(), server: c.label.clone() };
    serde_json::from_str(&render(&ChainHead::genesis(), &origin, T0, &c.event)).unwrap()
}

fn actions(changes: &[Change]) -> Vec<&'static str> {
    changes.iter().map(|c| c.action.as_str()).collect()
}

fn asked(book: &mut Book, tool: &str, digest: &str, now: i64) -> String {
    let (id, fresh, changes) = book.ask(new(tool, digest), ids(), now).unwrap();
    assert!(fresh);
    assert_eq!(actions(&changes), ["asked"]);
    id
}

#[test]
fn short_ids_are_six_unambiguous_characters_and_read_back_as_typed() {
    let id = short_id([0xff, 0x12, 0x34, 0x56]);
    assert_eq!(id.len(), ID_CHARS);
    for b in 0..=255u8 {
        let id = short_id([b, b.wrapping_mul(7), b ^ 0x5a, 0xff]);
        assert!(id.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()), "{id}");
        assert!(!id.contains(['i', 'l', 'o', 'u']), "{id}");
    }
    assert_eq!(short_id([0; 4]), "000000");
    assert_eq!(parse_id(" 7K3M9Q "), Some("7k3m9q".into()));
    assert_eq!(parse_id("7k3-m9q"), Some("7k3m9q".into()));
    assert_eq!(parse_id("IlOo00"), Some("110000".into()), "Crockford reads i, l, o as digits");
    assert_eq!(parse_id("7k3m9"), None);
    assert_eq!(parse_id("7k3m9u"), None, "u is no Crockford digit");
    assert_eq!(parse_id("7k3m9q\u{1b}"), None);
}

#[test]
fn a_sessions_lease_ids_are_short_ids_distinct_within_the_session_and_typed_back() {
    let session = "048efcc440509da8dc0c786e4f9a9d0d";
    let ids: std::collections::HashSet<String> = (0..50_000).map(|n| lease_id(session, n)).collect();
    assert_eq!(ids.len(), 50_000, "every ticket its own id");
    assert!(ids.iter().all(|id| parse_id(id).as_deref() == Some(id.as_str())), "typed back as listed");
    assert_ne!(lease_id(session, 1), lease_id("9c1d2e3f40509da8dc0c786e4f9a9d0d", 1), "another session, other ids");
    assert_eq!(lease_id("not hex", 3), lease_id("", 3), "a session id that is no hex still gives ids");
    assert_eq!(parse_lease_id(" 7K3M9Q "), Some("7k3m9q".into()));
    // Earlier versions named leases `<session>-<ticket>`: still revocable as listed.
    assert_eq!(parse_lease_id("F10D0114-2"), Some("f10d0114-2".into()));
    assert_eq!(parse_lease_id("f10d0114-2\u{1b}[2J"), None);
    assert_eq!(parse_lease_id(""), None);
}

#[test]
fn a_pending_approval_is_stored_redacted_and_records_asked() {
    let mut book = Book::default();
    let (id, fresh, changes) = book.ask(new("refund", D1), ids(), T0).unwrap();
    assert!(fresh);
    let p = &book.pending[0];
    assert_eq!((p.id.as_str(), p.asked, p.lapses), (id.as_str(), T0, T0 + 3_600 * SEC));
    assert!(p.held.arguments.contains("[REDACTED]") && !p.held.arguments.contains("sk-live"), "{}", p.held.arguments);
    assert!(p.held.arguments.contains("A1"));
    assert_eq!(p.held.digest, D1, "the digest still names the real payload");
    let r = record(&changes[0]);
    assert_eq!(r["event"], "approval");
    assert_eq!(r["server"], "bank");
    assert_eq!((r["id"].as_str(), r["action"].as_str()), (Some(id.as_str()), Some("asked")));
    assert_eq!(
        (r["tool"].as_str(), r["digest"].as_str(), r["by"].as_str()),
        (Some("refund"), Some(D1), Some("client"))
    );
    assert_eq!(r["expires"], rfc3339_micros(T0 + 3_600 * SEC));
    assert_eq!(r["request_id"], "7");
    assert_eq!(changes[0].audit_dir, "/audit");
}

#[test]
fn identical_pending_calls_are_one_and_changed_arguments_are_another() {
    let mut book = Book::default();
    let id = asked(&mut book, "refund", D1, T0);
    let (again, fresh, changes) = book.ask(new("refund", D1), ids(), T0 + 5 * SEC).unwrap();
    assert_eq!((again.as_str(), fresh, changes.len()), (id.as_str(), false, 0));
    // Another digest (changed arguments) and another tool are other calls.
    let other = asked(&mut book, "refund", D2, T0 + 6 * SEC);
    let third = asked(&mut book, "charge", D1, T0 + 7 * SEC);
    assert!(other != id && third != id && third != other);
    assert_eq!(book.live(T0 + 8 * SEC).pending.len(), 3);
}

#[test]
fn ids_are_never_handed_out_twice() {
    let mut book = Book::default();
    let first = asked(&mut book, "refund", D1, T0);
    // A generator that repeats itself is asked again until the id is new.
    let mut seq = vec![first.clone(), first.clone(), "zzzzzz".to_owned()].into_iter();
    let (id, _, _) = book.ask(new("refund", D2), move || seq.next().unwrap(), T0).unwrap();
    assert_eq!(id, "zzzzzz");
    // A source stuck on one id does not hang the book.
    let (id, _, _) = book.ask(new("refund", &format!("sha256:{:064x}", 3)), || "zzzzzz".to_owned(), T0).unwrap();
    assert!(id != "zzzzzz" && id != first && parse_id(&id) == Some(id.clone()), "{id}");
}

#[test]
fn a_pending_approval_lapses_after_an_hour() {
    let mut book = Book::default();
    let id = asked(&mut book, "refund", D1, T0);
    assert!(book.prune(T0 + 3_600 * SEC - 1).is_empty());
    assert_eq!(book.pending(&id, T0 + 3_600 * SEC - 1).unwrap().id, id);
    assert_eq!(book.pending(&id, T0 + 3_600 * SEC), Err(BookError::Lapsed { id: id.clone() }));
    assert!(book.live(T0 + 3_600 * SEC).pending.is_empty());
    let changes = book.prune(T0 + 3_600 * SEC);
    assert_eq!(actions(&changes), ["lapsed"]);
    assert_eq!(record(&changes[0])["by"], "countersign");
    assert!(book.pending.is_empty());
    let err = book.approve(&id, "operator:a@cli", T0 + 3_601 * SEC).unwrap_err();
    assert_eq!(err, BookError::Lapsed { id: id.clone() });
    assert!(err.to_string().contains(&id) && err.to_string().contains("lapsed"), "{err}");
    // Lapsing inside approve is a change too (returned by prune when called first).
    let mut book = Book::default();
    let id = asked(&mut book, "refund", D1, T0);
    assert_eq!(book.approve(&id, "op", T0 + 3_600 * SEC).unwrap_err(), BookError::Lapsed { id });
}

#[test]
fn an_unknown_id_cannot_be_approved_or_denied() {
    let mut book = Book::default();
    let err = book.approve("7k3m9q", "op", T0).unwrap_err();
    assert_eq!(err, BookError::Unknown { id: "7k3m9q".into() });
    assert!(err.to_string().contains("7k3m9q"));
    assert_eq!(book.deny("7k3m9q", "op", None, T0).unwrap_err(), BookError::Unknown { id: "7k3m9q".into() });
}

#[test]
fn an_approval_is_a_receipt_consumed_exactly_once() {
    let mut book = Book::default();
    let id = asked(&mut book, "refund", D1, T0);
    let (receipt, changes) = book.approve(&id, "operator:alice@cli", T0 + 60 * SEC).unwrap();
    assert_eq!((receipt.id.as_str(), receipt.expires), (id.as_str(), T0 + 660 * SEC));
    assert_eq!(actions(&changes), ["approved"]);
    let r = record(&changes[0]);
    assert_eq!((r["by"].as_str(), r["digest"].as_str()), (Some("operator:alice@cli"), Some(D1)));
    assert_eq!(r["expires"], rfc3339_micros(T0 + 660 * SEC));
    assert!(book.pending.is_empty());
    // Deciding it again says what became of it.
    let again = book.approve(&id, "op", T0 + 61 * SEC).unwrap_err();
    assert_eq!(again, BookError::Decided { id: id.clone(), how: "approved".into() });
    // Another digest, tool or label is not this call.
    assert_eq!(book.take("bank", "refund", D2, &None, true, T0 + 62 * SEC).0, None);
    assert_eq!(book.take("bank", "charge", D1, &None, true, T0 + 62 * SEC).0, None);
    assert_eq!(book.take("shop", "refund", D1, &None, true, T0 + 62 * SEC).0, None);
    let (grant, changes) = book.take("bank", "refund", D1, &None, true, T0 + 63 * SEC);
    assert_eq!(grant, Some(Grant::Receipt { id: id.clone(), by: "operator:alice@cli".into() }));
    assert_eq!(actions(&changes), ["consumed"]);
    assert_eq!(record(&changes[0])["by"], "operator:alice@cli");
    let (grant, changes) = book.take("bank", "refund", D1, &None, true, T0 + 64 * SEC);
    assert_eq!((grant, changes.len()), (None, 0), "a receipt runs one call");
    let err = book.approve(&id, "op", T0 + 65 * SEC).unwrap_err();
    assert_eq!(err, BookError::Decided { id, how: "consumed".into() });
}

#[test]
fn a_receipt_lapses_after_ten_minutes() {
    let mut book = Book::default();
    let id = asked(&mut book, "refund", D1, T0);
    book.approve(&id, "op", T0).unwrap();
    assert_eq!(book.live(T0 + 600 * SEC - 1).receipts.len(), 1);
    let (grant, changes) = book.take("bank", "refund", D1, &None, true, T0 + 600 * SEC);
    assert_eq!(grant, None);
    assert_eq!(actions(&changes), ["lapsed"]);
    assert!(book.receipts.is_empty());
    let (grant, _) = book.take("bank", "refund", D1, &None, true, T0 + 600 * SEC - 1);
    assert_eq!(grant, None, "and a lapsed receipt never comes back");
}

#[test]
fn a_denied_pending_or_receipt_authorizes_nothing() {
    let mut book = Book::default();
    let id = asked(&mut book, "refund", D1, T0);
    let changes = book.deny(&id, "operator:a@cli", Some("not \u{1b}[2Jtoday"), T0 + SEC).unwrap();
    assert_eq!(actions(&changes), ["denied"]);
    let r = record(&changes[0]);
    assert_eq!(r["detail"], "not \\u001b[2Jtoday", "the reason is made inert");
    assert!(r.get("expires").is_none());
    assert!(book.pending.is_empty());
    assert_eq!(book.approve(&id, "op", T0 + 2 * SEC).unwrap_err(), BookError::Decided { id, how: "denied".into() });

    // A receipt can be withdrawn before it is used.
    let id = asked(&mut book, "refund", D2, T0);
    book.approve(&id, "op", T0 + SEC).unwrap();
    assert_eq!(actions(&book.deny(&id, "op", None, T0 + 2 * SEC).unwrap()), ["denied"]);
    assert_eq!(book.take("bank", "refund", D2, &None, true, T0 + 3 * SEC).0, None);
}

#[test]
fn receipts_come_before_leases_and_leases_are_not_used_up() {
    let mut book = Book::default();
    let (lease, changes) = book.grant_lease(ids(), "bank", "refund", &None, "operator:a@tty", "/audit", T0);
    assert_eq!(actions(&changes), ["lease_granted"]);
    let r = record(&changes[0]);
    assert!(r.get("digest").is_none(), "no digest for a lease: {r}");
    assert_eq!(r["expires"], rfc3339_micros(T0 + 900 * SEC));
    let id = asked(&mut book, "refund", D1, T0);
    book.approve(&id, "operator:b@cli", T0).unwrap();
    let (grant, _) = book.take("bank", "refund", D1, &None, true, T0 + SEC);
    assert_eq!(grant, Some(Grant::Receipt { id, by: "operator:b@cli".into() }), "the exact approval first");
    for at in [2, 3] {
        let (grant, changes) = book.take("bank", "refund", D1, &None, true, T0 + at * SEC);
        assert_eq!(grant, Some(Grant::Lease { id: lease.clone(), by: "operator:a@tty".into() }));
        assert!(changes.is_empty());
    }
    assert_eq!(book.take("bank", "refund", D1, &None, false, T0 + 4 * SEC).0, None, "leases off: none");
    assert_eq!(book.take("bank", "charge", D1, &None, true, T0 + 4 * SEC).0, None, "a lease is for one tool");
}

#[test]
fn a_lease_lapses_after_fifteen_minutes_and_a_new_one_replaces_the_old() {
    let mut book = Book::default();
    let (old, _) = book.grant_lease(ids(), "bank", "refund", &None, "op", "/audit", T0);
    let (new_id, changes) =
        book.grant_lease(|| "newone".into(), "bank", "refund", &None, "op2", "/audit", T0 + 60 * SEC);
    assert_eq!(actions(&changes), ["lease_revoked", "lease_granted"]);
    assert_eq!(record(&changes[0])["id"], old.as_str());
    assert_eq!(book.leases.len(), 1);
    assert!(book.take("bank", "refund", D1, &None, true, T0 + 960 * SEC - 1).0.is_some());
    let (grant, changes) = book.take("bank", "refund", D1, &None, true, T0 + 960 * SEC);
    assert_eq!(grant, None);
    assert_eq!(actions(&changes), ["lapsed"]);
    assert_eq!(changes[0].id, new_id);
}

#[test]
fn leases_are_revoked_one_or_all() {
    let mut book = Book::default();
    let (a, _) = book.grant_lease(|| "aaaaaa".into(), "bank", "refund", &None, "op", "/audit", T0);
    book.grant_lease(|| "bbbbbb".into(), "bank", "charge", &None, "op", "/audit", T0);
    book.grant_lease(|| "cccccc".into(), "shop", "order", &None, "op", "/other", T0);
    let err = book.revoke(Revoke::One("zzzzzz".into()), "op", T0).unwrap_err();
    assert!(err.to_string().contains("zzzzzz"), "{err}");
    let changes = book.revoke(Revoke::One(a.clone()), "operator:x@cli", T0 + SEC).unwrap();
    assert_eq!(actions(&changes), ["lease_revoked"]);
    assert_eq!(record(&changes[0])["by"], "operator:x@cli");
    assert_eq!(book.take("bank", "refund", D1, &None, true, T0 + 2 * SEC).0, None);
    let changes = book.revoke(Revoke::All, "op", T0 + 3 * SEC).unwrap();
    assert_eq!(actions(&changes), ["lease_revoked", "lease_revoked"]);
    assert_eq!(changes.iter().map(|c| c.audit_dir.as_str()).collect::<Vec<_>>(), ["/audit", "/other"]);
    assert!(book.leases.is_empty());
    assert!(book.revoke(Revoke::All, "op", T0 + 4 * SEC).unwrap().is_empty());
}

#[test]
fn the_book_is_bounded() {
    let mut book = Book::default();
    for i in 0..MAX_PENDING {
        book.ask(new("refund", &format!("sha256:{i:064x}")), ids(), T0).unwrap();
    }
    assert_eq!(book.ask(new("refund", D1), ids(), T0).unwrap_err(), BookError::Full);
    // Once they lapse there is room again.
    assert!(book.ask(new("refund", D1), ids(), T0 + 3_600 * SEC).is_ok());
    for i in 0..(MAX_CLOSED + 10) {
        let mut n = i as u32;
        book.grant_lease(
            move || {
                n += 1_000_000;
                short_id(n.to_le_bytes())
            },
            "bank",
            "t",
            &None,
            "op",
            "/a",
            T0 + 3_600 * SEC,
        );
    }
    assert!(book.closed.len() <= MAX_CLOSED);
}

#[test]
fn the_book_round_trips_through_json() {
    let mut book = Book::default();
    let id = asked(&mut book, "refund", D1, T0);
    book.grant_lease(ids(), "bank", "x", &None, "op", "/a", T0);
    let text = serde_json::to_string(&book).unwrap();
    assert!(text.starts_with(r#"{"v":1,"#), "{text}");
    let back: Book = serde_json::from_str(&text).unwrap();
    assert_eq!(back, book);
    assert_eq!(back.pending[0].id, id);
}

/// PRODUCT.md section 6a, "Binding": pending approvals, receipts and leases decide only
/// calls under the definition of the tool they were asked under.
#[test]
fn an_approval_is_bound_to_the_tool_definition_it_was_asked_under() {
    let v1: DefinitionDigest = Some("sha256:1111".into());
    let v2: DefinitionDigest = Some("sha256:2222".into());
    let mut book = Book::default();
    let filed = |book: &mut Book, definition: &DefinitionDigest, now| {
        let new = NewPending { definition: definition.clone(), ..new("refund", D1) };
        book.ask(new, ids(), now).unwrap()
    };
    let (id, fresh, changes) = filed(&mut book, &v1, T0);
    assert!(fresh);
    assert_eq!(record(&changes[0])["definition"], "sha256:1111", "the asked record names it");
    let (again, fresh, _) = filed(&mut book, &v1, T0 + SEC);
    assert_eq!((again.as_str(), fresh), (id.as_str(), false), "the same call under the same definition folds");
    let (other, fresh, changes) = filed(&mut book, &v2, T0 + 2 * SEC);
    assert!(fresh && other != id, "another definition is a new pending approval");
    assert_eq!(actions(&changes), ["asked"]);

    let (receipt, _) = book.approve(&id, "operator:a@cli", T0 + 3 * SEC).unwrap();
    assert_eq!(receipt.definition, v1);
    assert_eq!(book.take("bank", "refund", D1, &v2, true, T0 + 4 * SEC).0, None, "not used under v2");
    assert_eq!(book.take("bank", "refund", D1, &None, true, T0 + 4 * SEC).0, None, "nor for an unlisted tool");
    assert_eq!(book.bound_elsewhere("bank", "refund", D1, &v2, T0 + 4 * SEC).map(|r| r.id.as_str()), Some(id.as_str()));
    assert!(book.bound_elsewhere("bank", "refund", D1, &v1, T0 + 4 * SEC).is_none());
    let (grant, changes) = book.take("bank", "refund", D1, &v1, true, T0 + 5 * SEC);
    assert_eq!(grant, Some(Grant::Receipt { id, by: "operator:a@cli".into() }), "used under v1");
    assert_eq!(record(&changes[0])["definition"], "sha256:1111");

    let (lease, _) = book.grant_lease(ids(), "bank", "refund", &v1, "operator:a@tty", "/audit", T0);
    assert_eq!(book.take("bank", "refund", D2, &v2, true, T0 + SEC).0, None, "a lease allows v1 calls only");
    assert_eq!(
        book.take("bank", "refund", D2, &v1, true, T0 + SEC).0,
        Some(Grant::Lease { id: lease, by: "operator:a@tty".into() })
    );

    // A book written before entries were bound: its receipts and leases allow no listed tool.
    let old = r#"{"v":1,"receipts":[{"id":"aaaaaa","label":"bank","tool":"refund","digest":"D","by":"op","approved":0,"expires":9000000000000000,"audit_dir":"/a"}],"leases":[{"id":"bbbbbb","label":"bank","tool":"refund","by":"op","granted":0,"expires":9000000000000000,"audit_dir":"/a"}]}"#;
    let mut old: Book = serde_json::from_str(old).unwrap();
    assert_eq!(old.take("bank", "refund", "D", &v1, true, T0).0, None);
}
