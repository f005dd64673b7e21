//! The approval book shared by every countersign process of the user (PRODUCT.md section
//! 6a): pending approvals (a call nobody answered), receipts (a pending approval the
//! operator approved later: it runs exactly one identical call) and leases (`a`: one tool
//! on one server label for 15 minutes). Pure: time comes in as `now`, microseconds since
//! the Unix epoch, and every change comes back as a [`Change`], the `approval` audit
//! record its caller writes. The store (`crate::edge::approvals`) keeps the book on disk
//! and runs each change under a lock, so two processes never both consume one receipt.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::time::rfc3339_micros;
use super::audit::Event;
use super::prompt::Held;
use super::sanitize::inert;

/// A pending approval lapses this long after it was asked (1 hour).
pub const PENDING_LIFETIME: i64 = 3_600 * 1_000_000;
/// A receipt authorizes its call for this long after the approval (10 minutes).
pub const RECEIPT_LIFETIME: i64 = 600 * 1_000_000;
/// A lease allows its tool for this long (15 minutes).
pub const LEASE_LIFETIME: i64 = 900 * 1_000_000;
/// How long an id that was denied, consumed, lapsed or revoked is remembered, so that
/// `approve` can say what became of it (and the id is not handed out again meanwhile).
pub const CLOSED_MEMORY: i64 = PENDING_LIFETIME;
/// Live pending approvals the book holds at most: the model can ask for as many calls as
/// it likes, and each would be one (a full book asks nobody: the call is denied anyway).
pub const MAX_PENDING: usize = 256;
/// Closed ids remembered at most (the oldest are forgotten first).
pub const MAX_CLOSED: usize = 1024;
/// The book's file format, the file's `v`.
pub const BOOK_VERSION: u32 = 1;

/// Characters of a short id: lowercase Crockford base32 (no i, l, o, u).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters in a short id (30 random bits).
pub const ID_CHARS: usize = 6;

/// The tool definition an entry of the book is bound to (PRODUCT.md section 6a,
/// "Binding"): `sha256:…` of the pinned members of the definition the server listed
/// (`core::pins::Definition::digest`), or `None` for a tool this process never saw
/// listed. An entry decides only calls under the same definition; an entry written before
/// entries were bound holds `None` and so matches no call of a listed tool.
pub type DefinitionDigest = Option<String>;

/// A span of seconds as the operator reads it at a glance: `45s`, `12m`, `1h05m` (how
/// long an approval has waited, or has left).
pub fn span(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s => format!("{}h{:02}m", s / 3_600, s % 3_600 / 60),
    }
}

/// A short id from random bytes (the edge reads them): [`ID_CHARS`] characters of
/// lowercase Crockford base32, easy to type and to read aloud.
pub fn short_id(random: [u8; 4]) -> String {
    let bits = u32::from_le_bytes(random);
    (0..ID_CHARS).map(|i| ALPHABET[((bits >> (5 * i)) & 31) as usize] as char).collect()
}

/// The id of a lease the session numbered `n` grants: a short id like the book's own, so
/// that it is read and typed the same way; distinct for every `n` below 2^30 within one
/// session, and as unpredictable across sessions as the session id (hex) it comes from.
pub fn lease_id(session: &str, n: u64) -> String {
    let seed = session.get(..8).and_then(|hex| u32::from_str_radix(hex, 16).ok()).unwrap_or(0);
    // Multiplying by an odd number is a bijection on the 30 bits an id keeps.
    short_id((seed ^ (n as u32).wrapping_mul(0x9E37_79B1)).to_le_bytes())
}

/// A lease id as typed: a short id ([`parse_id`]), or a lease id in the longer form that
/// earlier versions gave (`f10d0114-2`), exactly as listed, case ignored.
pub fn parse_lease_id(typed: &str) -> Option<String> {
    let typed = typed.trim();
    let stored =
        !typed.is_empty() && typed.len() <= 40 && typed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    parse_id(typed).or_else(|| stored.then(|| typed.to_ascii_lowercase()))
}

/// An id as a person typed it, in its stored form: case is ignored, and the letters
/// Crockford base32 reads as digits (`i`/`l` = 1, `o` = 0) are read so. `None` when it
/// cannot be an id.
pub fn parse_id(typed: &str) -> Option<String> {
    let id: String = typed
        .trim()
        .chars()
        .filter(|c| *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        })
        .collect();
    (id.len() == ID_CHARS && id.bytes().all(|b| ALPHABET.contains(&b))).then_some(id)
}

/// A call that needed a human and got no answer: it waits for `countersign approve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub id: String,
    /// The server label (`--name`).
    pub label: String,
    pub tool: String,
    /// `sha256:…` of the exact payload (PRODUCT.md section 5).
    pub digest: String,
    /// The digest of the tool's definition the call was asked under (see [`DefinitionDigest`]).
    #[serde(default)]
    pub definition: DefinitionDigest,
    /// What the prompt shows; its arguments are redacted (the digest still names the real
    /// payload).
    pub held: Held,
    pub asked: i64,
    pub lapses: i64,
    /// The audit directory of the session that asked: every record about this approval
    /// goes there.
    pub audit_dir: String,
    /// The asking session's id (its audit records' `session`).
    pub session: String,
    /// The JSON-RPC id of the call that asked, as JSON text.
    pub request_id: String,
}

/// What a session knows when it files a pending approval.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPending {
    pub label: String,
    pub tool: String,
    pub digest: String,
    pub definition: DefinitionDigest,
    /// Arguments may be the real ones: they are redacted before they are stored.
    pub held: Held,
    pub audit_dir: String,
    pub session: String,
    pub request_id: String,
}

/// An approved pending approval: the next identical call consumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The pending approval's id.
    pub id: String,
    pub label: String,
    pub tool: String,
    pub digest: String,
    /// The definition of the tool the approved call was asked under.
    #[serde(default)]
    pub definition: DefinitionDigest,
    /// Who approved, and where: `operator:<user>@cli`, `…@console`, `…@tty`.
    pub by: String,
    pub approved: i64,
    pub expires: i64,
    pub audit_dir: String,
}

/// One tool on one server label allowed for a while, for every process of the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub label: String,
    pub tool: String,
    /// The definition of the tool the lease was granted under: it allows calls under that
    /// definition only.
    #[serde(default)]
    pub definition: DefinitionDigest,
    pub by: String,
    pub granted: i64,
    pub expires: i64,
    pub audit_dir: String,
}

/// An id that was denied, consumed, lapsed or revoked, remembered for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    pub id: String,
    /// What ended it: `denied`, `consumed`, `lapsed`, `revoked`.
    pub how: String,
    pub at: i64,
}

/// Every pending approval, receipt and lease of the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Book {
    /// The file format ([`BOOK_VERSION`]).
    pub v: u32,
    #[serde(default)]
    pub pending: Vec<Pending>,
    #[serde(default)]
    pub receipts: Vec<Receipt>,
    #[serde(default)]
    pub leases: Vec<Lease>,
    #[serde(default)]
    pub closed: Vec<Closed>,
}

impl Default for Book {
    fn default() -> Book {
        Book { v: BOOK_VERSION, pending: Vec::new(), receipts: Vec::new(), leases: Vec::new(), closed: Vec::new() }
    }
}

/// What one change did (the `approval` record's `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Asked,
    Approved,
    Denied,
    Consumed,
    Lapsed,
    LeaseGranted,
    LeaseRevoked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Asked => "asked",
            Action::Approved => "approved",
            Action::Denied => "denied",
            Action::Consumed => "consumed",
            Action::Lapsed => "lapsed",
            Action::LeaseGranted => "lease_granted",
            Action::LeaseRevoked => "lease_revoked",
        }
    }
}

/// One change to the book: the `approval` record to append to the audit log in
/// `audit_dir` (where the call was asked), with `label` as the record's `server`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub audit_dir: String,
    pub label: String,
    pub id: String,
    pub action: Action,
    pub event: Event,
}

/// `by` of a lapse: nobody acted, the book's clock did.
pub const BY_LAPSE: &str = "countersign";
/// `by` of an `asked` record: the client's call asked.
pub const BY_CLIENT: &str = "client";

struct About<'a> {
    id: &'a str,
    label: &'a str,
    tool: &'a str,
    digest: Option<&'a str>,
    definition: Option<&'a str>,
    audit_dir: &'a str,
}

fn change(about: About<'_>, action: Action, by: &str, expires: Option<i64>, extra: &[(&str, &str)]) -> Change {
    let mut fields = json!({"id": about.id, "action": action.as_str(), "tool": about.tool, "by": by});
    if let Some(digest) = about.digest {
        fields["digest"] = json!(digest);
    }
    if let Some(definition) = about.definition {
        fields["definition"] = json!(definition);
    }
    if let Some(expires) = expires {
        fields["expires"] = json!(rfc3339_micros(expires));
    }
    for (key, value) in extra {
        fields[*key] = json!(value);
    }
    Change {
        audit_dir: about.audit_dir.to_owned(),
        label: about.label.to_owned(),
        id: about.id.to_owned(),
        action,
        event: Event::new("approval", fields),
    }
}

impl<'a> About<'a> {
    /// What a change says about a pending approval or a receipt: the call they are for.
    fn call(
        id: &'a str,
        label: &'a str,
        tool: &'a str,
        digest: &'a str,
        definition: &'a DefinitionDigest,
        audit_dir: &'a str,
    ) -> About<'a> {
        About { id, label, tool, digest: Some(digest), definition: definition.as_deref(), audit_dir }
    }
}

impl Pending {
    fn about(&self) -> About<'_> {
        About::call(&self.id, &self.label, &self.tool, &self.digest, &self.definition, &self.audit_dir)
    }

    /// Is this the pending approval of exactly this call, under this definition?
    fn is_for(&self, label: &str, tool: &str, digest: &str, definition: &DefinitionDigest) -> bool {
        self.label == label && self.tool == tool && self.digest == digest && &self.definition == definition
    }
}

impl Receipt {
    fn about(&self) -> About<'_> {
        About::call(&self.id, &self.label, &self.tool, &self.digest, &self.definition, &self.audit_dir)
    }

    /// Is this the receipt of exactly this call, whatever the definition?
    fn is_for(&self, label: &str, tool: &str, digest: &str) -> bool {
        self.label == label && self.tool == tool && self.digest == digest
    }
}

impl Lease {
    fn about(&self) -> About<'_> {
        let definition = self.definition.as_deref();
        About {
            id: &self.id,
            label: &self.label,
            tool: &self.tool,
            digest: None,
            definition,
            audit_dir: &self.audit_dir,
        }
    }
}

/// Removes the entries of `list` that ended (`ends`) by `now`: each becomes a `lapsed`
/// change and a closed id.
fn lapse<T>(
    list: &mut Vec<T>,
    now: i64,
    ends: impl Fn(&T) -> i64,
    about: impl Fn(&T) -> About<'_>,
    changes: &mut Vec<Change>,
    closed: &mut Vec<Closed>,
) {
    list.retain(|entry| {
        let at = ends(entry);
        if now < at {
            return true;
        }
        let about = about(entry);
        closed.push(Closed { id: about.id.to_owned(), how: "lapsed".into(), at });
        changes.push(change(about, Action::Lapsed, BY_LAPSE, Some(at), &[]));
        false
    });
}

/// What allowed a call without asking anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The exact approval, now used up.
    Receipt { id: String, by: String },
    /// A lease on the tool (not used up).
    Lease { id: String, by: String },
}

/// Which leases to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    One(String),
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("no pending approval has the id {id} (see `countersign pending`)")]
    Unknown { id: String },
    #[error("the pending approval {id} lapsed: nothing to approve; the call has to be made again")]
    Lapsed { id: String },
    #[error("{id} was already {how}: it cannot be decided again")]
    Decided { id: String, how: String },
    #[error("no lease has the id {id} (see `countersign leases`)")]
    NoLease { id: String },
    #[error("{MAX_PENDING} approvals are already pending: approve or deny some first")]
    Full,
}

/// The live entries at one instant (for listing), oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Live<'a> {
    pub pending: Vec<&'a Pending>,
    pub receipts: Vec<&'a Receipt>,
    pub leases: Vec<&'a Lease>,
}

/// The stored form of a call's arguments: secrets redacted, long values cut (as in the
/// audit log's `args`).
pub fn redact_arguments(arguments: &str) -> String {
    let text = if arguments.trim().is_empty() { "{}" } else { arguments };
    super::audit::redact_raw::redacted(super::json::Raw::new(text))
}

impl Book {
    /// Removes what ended by `now`: pending approvals past `lapses`, receipts and leases
    /// past `expires` (each a `lapsed` change), and closed ids past their memory.
    pub fn prune(&mut self, now: i64) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut closed = Vec::new();
        lapse(&mut self.pending, now, |p| p.lapses, Pending::about, &mut changes, &mut closed);
        lapse(&mut self.receipts, now, |r| r.expires, Receipt::about, &mut changes, &mut closed);
        lapse(&mut self.leases, now, |l| l.expires, Lease::about, &mut changes, &mut closed);
        self.close(closed, now);
        changes
    }

    fn close(&mut self, closed: Vec<Closed>, now: i64) {
        self.closed.extend(closed);
        self.closed.retain(|c| now < c.at.saturating_add(CLOSED_MEMORY));
        if self.closed.len() > MAX_CLOSED {
            let extra = self.closed.len() - MAX_CLOSED;
            self.closed.drain(..extra);
        }
    }

    fn taken(&self, id: &str) -> bool {
        self.pending.iter().any(|p| p.id == id)
            || self.receipts.iter().any(|r| r.id == id)
            || self.leases.iter().any(|l| l.id == id)
            || self.closed.iter().any(|c| c.id == id)
    }

    /// A new id from `id`. A source that keeps repeating itself is given up on after a
    /// while and the first free id in order is taken (the book holds far fewer ids than
    /// there are), so this always ends.
    fn fresh_id(&self, id: &mut impl FnMut() -> String) -> String {
        for _ in 0..64 {
            let candidate = id();
            if !self.taken(&candidate) {
                return candidate;
            }
        }
        (0u32..).map(|n| short_id(n.to_le_bytes())).find(|c| !self.taken(c)).unwrap_or_default()
    }

    /// Files a pending approval for a call nobody answered. When a live one for the same
    /// label, tool, digest and definition exists, that one's id comes back (`fresh` false,
    /// no change): a call under another definition of the tool is a new pending approval.
    /// The arguments are redacted here. `id` makes new ids; one already in use is never
    /// handed out.
    pub fn ask(
        &mut self,
        new: NewPending,
        mut id: impl FnMut() -> String,
        now: i64,
    ) -> Result<(String, bool, Vec<Change>), BookError> {
        let mut changes = self.prune(now);
        if let Some(p) = self.pending.iter().find(|p| p.is_for(&new.label, &new.tool, &new.digest, &new.definition)) {
            return Ok((p.id.clone(), false, changes));
        }
        if self.pending.len() >= MAX_PENDING {
            return Err(BookError::Full);
        }
        let id = self.fresh_id(&mut id);
        let mut held = new.held;
        held.arguments = redact_arguments(&held.arguments);
        let pending = Pending {
            id: id.clone(),
            label: new.label,
            tool: new.tool,
            digest: new.digest,
            definition: new.definition,
            held,
            asked: now,
            lapses: now.saturating_add(PENDING_LIFETIME),
            audit_dir: new.audit_dir,
            session: new.session,
            request_id: new.request_id,
        };
        let extra = [("request_id", pending.request_id.as_str())];
        changes.push(change(pending.about(), Action::Asked, BY_CLIENT, Some(pending.lapses), &extra));
        self.pending.push(pending);
        Ok((id, true, changes))
    }

    /// What allows this call without asking: a live receipt for exactly this label, tool,
    /// digest and definition first (removed: it runs one call, a `consumed` change), else,
    /// when `leases`, a live lease on the label and tool granted under this definition
    /// (kept, no change). A receipt or lease bound to another definition of the tool
    /// allows nothing ([`Book::bound_elsewhere`] names it).
    pub fn take(
        &mut self,
        label: &str,
        tool: &str,
        digest: &str,
        definition: &DefinitionDigest,
        leases: bool,
        now: i64,
    ) -> (Option<Grant>, Vec<Change>) {
        let mut changes = self.prune(now);
        let exact = |r: &Receipt| r.is_for(label, tool, digest) && &r.definition == definition;
        if let Some(at) = self.receipts.iter().position(exact) {
            let r = self.receipts.remove(at);
            changes.push(change(r.about(), Action::Consumed, &r.by, Some(r.expires), &[]));
            self.close(vec![Closed { id: r.id.clone(), how: "consumed".into(), at: now }], now);
            return (Some(Grant::Receipt { id: r.id, by: r.by }), changes);
        }
        if leases {
            if let Some(l) =
                self.leases.iter().find(|l| l.label == label && l.tool == tool && &l.definition == definition)
            {
                return (Some(Grant::Lease { id: l.id.clone(), by: l.by.clone() }), changes);
            }
        }
        (None, changes)
    }

    /// The live receipt for this call that was approved under another definition of the
    /// tool, if any: it is not used ([`Book::take`]), and the caller says so.
    pub fn bound_elsewhere(
        &self,
        label: &str,
        tool: &str,
        digest: &str,
        definition: &DefinitionDigest,
        now: i64,
    ) -> Option<&Receipt> {
        self.receipts.iter().find(|r| now < r.expires && r.is_for(label, tool, digest) && &r.definition != definition)
    }

    /// Grants a lease on `tool` of `label` under `definition`, replacing an older one on
    /// the same pair (that one is revoked). Returns the new lease's id.
    #[allow(clippy::too_many_arguments)]
    pub fn grant_lease(
        &mut self,
        mut id: impl FnMut() -> String,
        label: &str,
        tool: &str,
        definition: &DefinitionDigest,
        by: &str,
        audit_dir: &str,
        now: i64,
    ) -> (String, Vec<Change>) {
        let mut changes = self.prune(now);
        let id = self.fresh_id(&mut id);
        let mut closed = Vec::new();
        self.leases.retain(|l| {
            let older = l.label == label && l.tool == tool;
            if older {
                let extra = [("detail", format!("replaced by lease {id}"))];
                let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
                changes.push(change(l.about(), Action::LeaseRevoked, by, Some(l.expires), &extra));
                closed.push(Closed { id: l.id.clone(), how: "revoked".into(), at: now });
            }
            !older
        });
        self.close(closed, now);
        let lease = Lease {
            id: id.clone(),
            label: label.to_owned(),
            tool: tool.to_owned(),
            definition: definition.clone(),
            by: by.to_owned(),
            granted: now,
            expires: now.saturating_add(LEASE_LIFETIME),
            audit_dir: audit_dir.to_owned(),
        };
        changes.push(change(lease.about(), Action::LeaseGranted, by, Some(lease.expires), &[]));
        self.leases.push(lease);
        (id, changes)
    }

    /// Why `id` cannot be decided now (it is no live pending approval).
    fn undecidable(&self, id: &str) -> BookError {
        if self.receipts.iter().any(|r| r.id == id) {
            return BookError::Decided { id: id.to_owned(), how: "approved".into() };
        }
        match self.closed.iter().rev().find(|c| c.id == id) {
            Some(c) if c.how == "lapsed" => BookError::Lapsed { id: id.to_owned() },
            Some(c) => BookError::Decided { id: id.to_owned(), how: c.how.clone() },
            None => BookError::Unknown { id: id.to_owned() },
        }
    }

    /// The live pending approval `id`, to show before deciding it.
    pub fn pending(&self, id: &str, now: i64) -> Result<&Pending, BookError> {
        match self.pending.iter().find(|p| p.id == id) {
            Some(p) if now < p.lapses => Ok(p),
            Some(_) => Err(BookError::Lapsed { id: id.to_owned() }),
            None => Err(self.undecidable(id)),
        }
    }

    /// Turns the pending approval `id` into a receipt for its call, valid
    /// [`RECEIPT_LIFETIME`]. Prunes first (callers that record changes call [`prune`]
    /// themselves before, so that a lapse is recorded even when this fails).
    ///
    /// [`prune`]: Book::prune
    pub fn approve(&mut self, id: &str, by: &str, now: i64) -> Result<(Receipt, Vec<Change>), BookError> {
        let mut changes = self.prune(now);
        let Some(at) = self.pending.iter().position(|p| p.id == id) else {
            return Err(self.undecidable(id));
        };
        let p = self.pending.remove(at);
        let receipt = Receipt {
            id: p.id,
            label: p.label,
            tool: p.tool,
            digest: p.digest,
            definition: p.definition,
            by: by.to_owned(),
            approved: now,
            expires: now.saturating_add(RECEIPT_LIFETIME),
            audit_dir: p.audit_dir,
        };
        changes.push(change(receipt.about(), Action::Approved, by, Some(receipt.expires), &[]));
        self.receipts.push(receipt.clone());
        Ok((receipt, changes))
    }

    /// Denies the pending approval `id`, or withdraws the receipt `id` before it is used
    /// (`reason`, made inert, is the record's `detail`). Prunes first, as [`Book::approve`].
    pub fn deny(&mut self, id: &str, by: &str, reason: Option<&str>, now: i64) -> Result<Vec<Change>, BookError> {
        let mut changes = self.prune(now);
        let detail = reason.map(|r| inert(r).into_owned());
        let extra: Vec<(&str, &str)> = detail.iter().map(|d| ("detail", d.as_str())).collect();
        if let Some(at) = self.pending.iter().position(|p| p.id == id) {
            let p = self.pending.remove(at);
            changes.push(change(p.about(), Action::Denied, by, None, &extra));
        } else if let Some(at) = self.receipts.iter().position(|r| r.id == id) {
            let r = self.receipts.remove(at);
            changes.push(change(r.about(), Action::Denied, by, None, &extra));
        } else {
            return Err(self.undecidable(id));
        }
        self.close(vec![Closed { id: id.to_owned(), how: "denied".into(), at: now }], now);
        Ok(changes)
    }

    /// Ends one lease, or all of them. Prunes first, as [`Book::approve`].
    pub fn revoke(&mut self, which: Revoke, by: &str, now: i64) -> Result<Vec<Change>, BookError> {
        let mut changes = self.prune(now);
        if let Revoke::One(id) = &which {
            if !self.leases.iter().any(|l| &l.id == id) {
                return Err(BookError::NoLease { id: id.clone() });
            }
        }
        let mut closed = Vec::new();
        self.leases.retain(|l| {
            let ends = match &which {
                Revoke::All => true,
                Revoke::One(id) => &l.id == id,
            };
            if ends {
                changes.push(change(l.about(), Action::LeaseRevoked, by, Some(l.expires), &[]));
                closed.push(Closed { id: l.id.clone(), how: "revoked".into(), at: now });
            }
            !ends
        });
        self.close(closed, now);
        Ok(changes)
    }

    /// What is live at `now`, oldest first (nothing removed: see [`Book::prune`]).
    pub fn live(&self, now: i64) -> Live<'_> {
        let mut pending: Vec<&Pending> = self.pending.iter().filter(|p| now < p.lapses).collect();
        pending.sort_by_key(|p| p.asked);
        let mut receipts: Vec<&Receipt> = self.receipts.iter().filter(|r| now < r.expires).collect();
        receipts.sort_by_key(|r| r.approved);
        let mut leases: Vec<&Lease> = self.leases.iter().filter(|l| now < l.expires).collect();
        leases.sort_by_key(|l| l.granted);
        Live { pending, receipts, leases }
    }
}

#[cfg(test)]
mod tests;
