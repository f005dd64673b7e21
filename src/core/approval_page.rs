//! The browser approval page (PRODUCT.md section 6, step 4): what it shows, what its
//! form may answer, and the checks an answer must pass. Pure: the edge
//! (`edge::web`) serves it and hands the answers back.
//!
//! What the page shows is what the prompt shows, from the same [`Held`] and the same
//! [`pretty_arguments`] (inert, real line breaks, nothing cut). Every string from the
//! client or the server is made inert first and then HTML-escaped, so nothing from the
//! payload ever becomes markup; the page carries no script at all, and its one style
//! sheet comes from the server (`/style.css`), so the Content-Security-Policy can forbid
//! everything inline.

use super::prompt::{lease_allowed, pretty_arguments, Answer, Confirm, Held, CODE_DIGITS};
use super::sanitize::{inert, inert_cut};

/// The Content-Security-Policy of every response: nothing but the page's own style sheet
/// and form; no script, no frame, no other origin.
pub const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Longest body a form post may have (a reason of a few hundred characters fits many
/// times over).
pub const MAX_FORM_BYTES: usize = 16 << 10;

/// Longest reason kept from the deny field.
pub const MAX_REASON_CHARS: usize = 500;

/// What a page is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A call that is held now: an answer decides it.
    Live,
    /// A pending approval (`countersign approve <id> --web`): approving makes a receipt
    /// for the next identical call.
    Pending { id: String },
}

/// One page's own values.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub held: &'a Held,
    pub purpose: &'a Purpose,
    /// Where the form posts (`/a/<token>`).
    pub action: &'a str,
    /// The page's own token, echoed by its form.
    pub csrf: &'a str,
    /// Seconds the call has left when the page is served.
    pub seconds_left: u64,
    /// A line above the form (a wrong code, say); already plain text.
    pub notice: Option<&'a str>,
}

impl Page<'_> {
    /// Whether the page offers a lease.
    fn lease(&self) -> bool {
        self.purpose == &Purpose::Live && lease_allowed(self.held.confirm, self.held.changed.is_some())
    }
}

/// `text` made inert and safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let text = inert(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page for a held call.
pub fn render(page: &Page<'_>) -> String {
    let held = page.held;
    let title = held.title.as_deref().map(|t| format!(" — {}", escape(&inert_cut(t, 200)))).unwrap_or_default();
    let client = held.client.as_deref().map_or_else(|| "unknown client".to_owned(), escape);
    let mut body = String::new();
    let heading = match page.purpose {
        Purpose::Live => "A tool call is waiting for your approval".to_owned(),
        Purpose::Pending { id } => format!("Pending approval {}", escape(id)),
    };
    body.push_str(&format!("<h1>{heading}</h1>\n<dl>\n"));
    body.push_str(&format!("<dt>Server</dt><dd>{}</dd>\n", escape(&held.server)));
    body.push_str(&format!("<dt>Client</dt><dd>{client} <small>(as it names itself)</small></dd>\n"));
    body.push_str(&format!("<dt>Tool</dt><dd><code>{}</code>{title}</dd>\n", escape(&held.tool)));
    body.push_str(&format!("<dt>Class</dt><dd>{} — {}</dd>\n", escape(&held.class), escape(&held.why)));
    let waits = match page.purpose {
        Purpose::Live => format!("{} s left when this page was loaded", page.seconds_left),
        Purpose::Pending { .. } => format!("lapses in {} min", page.seconds_left.div_ceil(60)),
    };
    body.push_str(&format!("<dt>Waits</dt><dd>{waits}</dd>\n</dl>\n"));
    if let Some(changed) = &held.changed {
        body.push_str(&format!(
            "<section class=\"changed\"><h2>The server changed this tool since it was pinned</h2><pre>{}</pre></section>\n",
            escape(changed)
        ));
    }
    let args = pretty_arguments(&held.arguments, None).iter().map(|l| escape(l)).collect::<Vec<_>>().join("\n");
    body.push_str(&format!("<h2>Arguments</h2>\n<pre class=\"args\">{args}</pre>\n"));
    body.push_str(&format!("<h2>Digest</h2>\n<p class=\"digest\"><code>{}</code></p>\n", escape(&held.digest)));
    if let Some(notice) = page.notice {
        body.push_str(&format!("<p class=\"notice\" role=\"alert\">{}</p>\n", escape(notice)));
    }
    body.push_str(&form(page));
    document(&format!("countersign: approve {}?", escape(&inert_cut(&held.tool, 60))), &body)
}

/// Two forms, so that Enter in the reason field can only deny, and Enter in the code
/// field only approve.
fn form(page: &Page<'_>) -> String {
    let held = page.held;
    let open = format!(
        "<form method=\"post\" action=\"{}\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<input type=\"hidden\" name=\"digest\" value=\"{}\">\n",
        escape(page.action),
        escape(page.csrf),
        escape(&held.digest)
    );
    let mut f = open.clone();
    if held.confirm == Confirm::Digest {
        f.push_str(&format!(
            "<label>To approve, type the digest's first {CODE_DIGITS} hex digits <input name=\"code\" maxlength=\"{CODE_DIGITS}\" autocomplete=\"off\" spellcheck=\"false\"></label>\n"
        ));
    }
    let once = match page.purpose {
        Purpose::Live => "Approve once",
        Purpose::Pending { .. } => "Approve the next identical call once",
    };
    f.push_str(&format!("<div class=\"buttons\"><button name=\"choice\" value=\"approve\">{once}</button>\n"));
    if page.lease() {
        f.push_str(&format!(
            "<button name=\"choice\" value=\"lease\">Allow {} on {} for 15 min</button>\n",
            escape(&inert_cut(&held.tool, 60)),
            escape(&inert_cut(&held.server, 60))
        ));
    }
    f.push_str("</div>\n</form>\n");
    f.push_str(&open);
    f.push_str(&format!(
        "<label>Reason, passed on to the model (optional) <input name=\"reason\" maxlength=\"{MAX_REASON_CHARS}\" autocomplete=\"off\"></label>\n<div class=\"buttons\"><button name=\"choice\" value=\"deny\" class=\"deny\">Deny</button></div>\n</form>\n"
    ));
    f
}

/// A page that only says something (the answer was taken, the link is spent).
pub fn message(title: &str, text: &str) -> String {
    document(&escape(title), &format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(text)))
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
}

/// The page's style sheet: readable on a phone, long values scroll in their box.
pub const STYLE: &str = "\
body{font:16px/1.45 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#1b1b1b}
main{max-width:52rem;margin:0 auto;padding:1rem}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.4rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
pre{background:#fff;border:1px solid #ccc;padding:.6rem;overflow:auto;max-height:60vh;white-space:pre}
.changed pre{border-color:#b35c00}
.digest code{overflow-wrap:anywhere;font-size:.95rem}
.notice{background:#fff3cd;border:1px solid #d9b44a;padding:.5rem}
label{display:block;margin:.8rem 0}input{font:inherit;padding:.3rem;width:100%;box-sizing:border-box;max-width:28rem}
.buttons{display:flex;flex-wrap:wrap;gap:.5rem;margin:.6rem 0}
button{font:inherit;padding:.55rem 1rem;border-radius:.3rem;border:1px solid #555;background:#fff;cursor:pointer}
button[value=approve]{background:#1f6f3f;color:#fff;border-color:#1f6f3f}.deny{background:#8b1e1e;color:#fff;border-color:#8b1e1e}
@media (prefers-color-scheme:dark){body{background:#1c1c1c;color:#eee}pre,button{background:#2a2a2a;color:#eee}}
";

/// A posted form, as the page sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub csrf: String,
    pub digest: String,
    pub choice: String,
    pub code: String,
    pub reason: String,
}

/// Reads an `application/x-www-form-urlencoded` body. `None` when a field comes twice
/// (which one would count?) or the body is not UTF-8.
pub fn parse_form(body: &[u8]) -> Option<Form> {
    let mut form = Form::default();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in form_urlencoded::parse(body) {
        let slot = match key.as_ref() {
            "csrf" => &mut form.csrf,
            "digest" => &mut form.digest,
            "choice" => &mut form.choice,
            "code" => &mut form.code,
            "reason" => &mut form.reason,
            _ => continue,
        };
        if !seen.insert(key.into_owned()) {
            return None;
        }
        *slot = value.into_owned();
    }
    std::str::from_utf8(body).ok()?;
    Some(form)
}

/// What a posted form decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub answer: Answer,
    /// The operator's reason for a denial (trimmed, cut; may be empty).
    pub reason: Option<String>,
}

/// Why a post decided nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this form is not the one this page served")]
    Token,
    #[error("the form names another digest than the call's, so it approves nothing")]
    Digest,
    #[error("that is not the digest's first {CODE_DIGITS} hex digits: nothing was approved, and the call still waits")]
    WrongCode,
    #[error("no such choice here")]
    Choice,
}

impl Refused {
    /// Whether the page stays usable after this refusal (the operator may try again).
    pub fn retry(&self) -> bool {
        matches!(self, Refused::WrongCode)
    }
}

/// Checks a posted form against the page it answers: its token, the digest it names,
/// and the choice (with the code under `confirm = "digest"`; a lease only where offered).
pub fn decide(form: &Form, held: &Held, purpose: &Purpose, csrf: &str) -> Result<Decided, Refused> {
    if !same(form.csrf.as_bytes(), csrf.as_bytes()) {
        return Err(Refused::Token);
    }
    if form.digest != held.digest {
        return Err(Refused::Digest);
    }
    let lease = purpose == &Purpose::Live && lease_allowed(held.confirm, held.changed.is_some());
    match form.choice.as_str() {
        "deny" => {
            let reason = form.reason.trim();
            let reason = (!reason.is_empty()).then(|| reason.chars().take(MAX_REASON_CHARS).collect());
            Ok(Decided { answer: Answer::Deny, reason })
        }
        "approve" if held.confirm == Confirm::Digest => {
            let code: String = held.digest.strip_prefix("sha256:").unwrap_or("").chars().take(CODE_DIGITS).collect();
            let typed = form.code.trim().to_ascii_lowercase();
            if code.len() == CODE_DIGITS && typed == code {
                Ok(Decided { answer: Answer::Approve, reason: None })
            } else {
                Err(Refused::WrongCode)
            }
        }
        "approve" => Ok(Decided { answer: Answer::Approve, reason: None }),
        "lease" if lease => Ok(Decided { answer: Answer::Lease, reason: None }),
        _ => Err(Refused::Choice),
    }
}

/// Compares in time that does not depend on where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a request's `Host` names this server exactly (`127.0.0.1:<port>`): a page
/// fetched under another name (DNS rebinding) is refused.
pub fn host_ok(host: Option<&str>, port: u16) -> bool {
    host == Some(format!("127.0.0.1:{port}").as_str())
}

/// Whether a post comes from this page's own origin: `Origin` must be present and name
/// it, and `Sec-Fetch-Site`, when the browser sends it, must say `same-origin`.
pub fn origin_ok(origin: Option<&str>, fetch_site: Option<&str>, port: u16) -> bool {
    origin == Some(format!("http://127.0.0.1:{port}").as_str()) && fetch_site.is_none_or(|s| s == "same-origin")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::classify::Class;

    fn held() -> Held {
        let mut h = Held::new(
            "bank<b>",
            Some("cl\u{1b}[2Jient"),
            "refund",
            Some("Refund \"it\""),
            Class::Destructive,
            "defaults.destructive",
        );
        h.arguments = r#"{"note":"<script>alert(1)</script>\nline two","amount":5}"#.to_owned();
        h.digest = format!("sha256:{}", "ab12".repeat(16));
        h
    }

    fn page<'a>(held: &'a Held, purpose: &'a Purpose) -> String {
        render(&Page { held, purpose, action: "/a/tok", csrf: "c1", seconds_left: 42, notice: None })
    }

    #[test]
    fn nothing_from_the_payload_becomes_markup() {
        let h = held();
        let html = page(&h, &Purpose::Live);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("bank&lt;b&gt;"));
        assert!(html.contains("Refund &quot;it&quot;"));
        // Controls are shown as escapes, never sent raw.
        assert!(!html.contains('\u{1b}'));
        assert!(html.contains("cl\\u001b[2Jient"));
        // Real line breaks for a multi-line value, the whole digest, and a lease offered.
        assert!(html.contains("│line two"));
        assert!(html.contains(&h.digest));
        assert!(html.contains("value=\"lease\""));
        assert!(!html.contains("<script") && !html.contains(" style=") && !html.contains("<style"));
    }

    #[test]
    fn no_lease_under_digest_confirmation_for_a_changed_tool_or_a_pending_approval() {
        let mut h = held();
        h.confirm = Confirm::Digest;
        let html = page(&h, &Purpose::Live);
        assert!(!html.contains("value=\"lease\"") && html.contains("name=\"code\""));
        let mut h = held();
        h.changed = Some("description: old → new".into());
        let html = page(&h, &Purpose::Live);
        assert!(!html.contains("value=\"lease\"") && html.contains("changed this tool"));
        let h = held();
        assert!(!page(&h, &Purpose::Pending { id: "ab12cd".into() }).contains("value=\"lease\""));
    }

    fn form(choice: &str) -> Form {
        Form { csrf: "c1".into(), digest: held().digest, choice: choice.into(), ..Form::default() }
    }

    #[test]
    fn an_answer_names_its_token_and_digest() {
        let h = held();
        let live = Purpose::Live;
        assert_eq!(decide(&form("approve"), &h, &live, "c1").unwrap().answer, Answer::Approve);
        assert_eq!(decide(&form("lease"), &h, &live, "c1").unwrap().answer, Answer::Lease);
        assert_eq!(decide(&form("approve"), &h, &live, "c2"), Err(Refused::Token));
        let other = Form { digest: format!("sha256:{}", "00".repeat(32)), ..form("approve") };
        assert_eq!(decide(&other, &h, &live, "c1"), Err(Refused::Digest));
        assert_eq!(decide(&form("yes"), &h, &live, "c1"), Err(Refused::Choice));
        assert_eq!(decide(&form("lease"), &h, &Purpose::Pending { id: "x".into() }, "c1"), Err(Refused::Choice));
        let deny = Form { reason: "  not today  ".into(), ..form("deny") };
        assert_eq!(
            decide(&deny, &h, &live, "c1").unwrap(),
            Decided { answer: Answer::Deny, reason: Some("not today".into()) }
        );
    }

    #[test]
    fn digest_confirmation_takes_the_code() {
        let mut h = held();
        h.confirm = Confirm::Digest;
        let live = Purpose::Live;
        assert_eq!(decide(&form("approve"), &h, &live, "c1"), Err(Refused::WrongCode));
        let wrong = Form { code: "ab13".into(), ..form("approve") };
        assert_eq!(decide(&wrong, &h, &live, "c1"), Err(Refused::WrongCode));
        let right = Form { code: "AB12".into(), ..form("approve") };
        assert_eq!(decide(&right, &h, &live, "c1").unwrap().answer, Answer::Approve);
        assert_eq!(decide(&form("lease"), &h, &live, "c1"), Err(Refused::Choice));
        assert_eq!(decide(&form("deny"), &h, &live, "c1").unwrap().answer, Answer::Deny);
    }

    #[test]
    fn forms_with_a_field_twice_are_not_read() {
        assert_eq!(parse_form(b"csrf=a&choice=deny&choice=approve"), None);
        let f = parse_form(b"csrf=a%2Bb&digest=sha256%3Aff&choice=deny&reason=no+way&other=1").unwrap();
        assert_eq!((f.csrf.as_str(), f.digest.as_str(), f.reason.as_str()), ("a+b", "sha256:ff", "no way"));
        assert_eq!(parse_form(b"reason=\xff"), None);
    }

    #[test]
    fn host_and_origin_must_name_this_server() {
        assert!(host_ok(Some("127.0.0.1:4000"), 4000));
        for bad in [None, Some("localhost:4000"), Some("evil.example:4000"), Some("127.0.0.1:4001"), Some("127.0.0.1")]
        {
            assert!(!host_ok(bad, 4000), "{bad:?}");
        }
        assert!(origin_ok(Some("http://127.0.0.1:4000"), None, 4000));
        assert!(origin_ok(Some("http://127.0.0.1:4000"), Some("same-origin"), 4000));
        assert!(!origin_ok(Some("http://127.0.0.1:4000"), Some("cross-site"), 4000));
        assert!(!origin_ok(None, None, 4000));
        assert!(!origin_ok(Some("null"), None, 4000));
        assert!(!origin_ok(Some("http://evil.example"), Some("cross-site"), 4000));
    }
}
