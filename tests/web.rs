//! The browser approval page (PRODUCT.md section 6, step 4), at the HTTP level, through
//! the real binary: a held call that no console and no terminal can show is served on
//! loopback, waits for the page as at a prompt, and runs, or not, on the page's answer.
//! Every refusal the page promises is tried here with forged requests; tests/browser.rs
//! loads the same page in a real browser.
#![allow(clippy::unwrap_used, unsafe_code)]

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use support::http::{answer, approve_web, field, form, request, Link};
use support::{run, text, Session, Wrap};

/// A run as a GUI client starts it: no terminal, no console, the page on.
fn page_run() -> Wrap {
    Wrap::fake().asking().web().logged().arg("--approval-timeout").arg("20")
}

/// Starts a run, holds a `delete_file` call with `args` and returns the page's link.
fn held(mut s: Session, args: Value) -> (Session, Link) {
    s.initialize("2025-11-25");
    s.request(2, "tools/list", json!({}));
    s.send(json!({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"delete_file","arguments":args}}));
    let line = s.stderr_line("waits for approval");
    (s, Link::find(&line))
}

fn digest_of(args: &Value) -> String {
    let (_, out, _) = run(&["digest"], json!({"name": "delete_file", "arguments": args}).to_string().as_bytes());
    out.trim().to_owned()
}

fn decisions(s: &Session) -> Vec<Value> {
    s.audit_records().into_iter().filter(|r| r["event"] == "decision").collect()
}

#[test]
fn the_page_shows_what_will_run_and_approving_there_runs_it_once() {
    let args = json!({"path": "/tmp/x\n<script>alert(1)</script>", "force": true});
    let (mut s, link) = held(page_run().start(), args.clone());
    assert!(link.path.len() >= "/a/".len() + 32, "at least 128 bits in the link: {}", link.path);

    let page = link.get();
    assert_eq!(page.status, 200, "{}", page.body);
    for (name, value) in [
        ("content-security-policy", "default-src 'none'"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "same-origin"),
    ] {
        assert!(page.header(name).is_some_and(|v| v.contains(value)), "{name}: {:?}", page.headers);
    }
    let digest = digest_of(&args);
    assert!(page.body.contains(&format!("<code>{digest}</code>")), "{}", page.body);
    assert!(page.body.contains("<code>delete_file</code> — Delete a file"), "{}", page.body);
    assert!(page.body.contains("│&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", page.body);
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert!(page.body.contains("value=\"lease\""), "{}", page.body);
    let css = request(link.port, &format!("GET /style.css HTTP/1.1\r\nHost: {}\r\n\r\n", link.host()));
    assert!(css.status == 200 && css.header("content-type").unwrap().starts_with("text/css"));

    // Nothing has run while the page waits.
    assert!(s.silent_for(Duration::from_millis(300)));
    let done = link.post(&answer(&page.body, "approve"));
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Approved once"), "{}", done.body);
    let r = s.answer(10);
    assert!(text(&r).starts_with("deleted"), "{r}");

    // The link is spent: a replayed post and a reload decide nothing.
    assert_eq!(link.post(&answer(&page.body, "approve")).status, 410);
    assert_eq!(link.get().status, 410);
    assert_eq!(s.server_log().matches("\"delete_file\"").count(), 1, "{}", s.server_log());
    s.close_stdin();
    s.wait();
    let d = decisions(&s);
    let call: Vec<_> = d.iter().filter(|r| r["tool"] == "delete_file").collect();
    assert_eq!(call.len(), 1, "{d:?}");
    assert_eq!(call[0]["reason"], "approved_by_operator", "{:?}", call[0]);
    assert!(call[0]["by"].as_str().unwrap().ends_with("@web"), "{:?}", call[0]);
    assert_eq!(call[0]["digest"], digest.as_str());
}

#[test]
fn a_denial_on_the_page_carries_its_reason_to_the_model() {
    let (mut s, link) = held(page_run().start(), json!({"path": "/etc/hosts"}));
    let page = link.get().body;
    let deny = format!("{}&reason={}", answer(&page, "deny"), "wrong+file%1b%5B2J");
    let done = link.post(&deny);
    assert!(done.status == 200 && done.body.contains("Denied"), "{}", done.body);
    let r = s.answer(10);
    let t = text(&r);
    assert!(t.contains("reason=denied_by_operator") && t.contains("wrong file\\u001b[2J"), "{t}");
    assert!(!s.server_log().contains("\"delete_file\""));
    s.close_stdin();
    s.wait();
    let d = decisions(&s);
    assert!(
        d.iter().any(|r| r["reason"] == "denied_by_operator" && r["by"].as_str().unwrap().ends_with("@web")),
        "{d:?}"
    );
}

#[test]
fn forged_and_foreign_requests_decide_nothing() {
    let (mut s, link) = held(page_run().start(), json!({"path": "/data"}));
    let page = link.get().body;
    let good = answer(&page, "approve");
    let path = &link.path;
    // DNS rebinding: the page fetched under another name.
    let rebound = request(link.port, &format!("GET {path} HTTP/1.1\r\nHost: evil.example:{}\r\n\r\n", link.port));
    assert_eq!(rebound.status, 421);
    assert!(!rebound.body.contains("csrf"));
    // CSRF from another site, a cross-origin fetch, a post with no origin at all.
    let origin = link.origin();
    for headers in [
        vec![("Origin", "http://evil.example")],
        vec![("Origin", "http://evil.example"), ("Sec-Fetch-Site", "cross-site")],
        vec![("Origin", "null")],
        vec![],
        vec![("Origin", origin.as_str()), ("Sec-Fetch-Site", "cross-site")],
    ] {
        assert_eq!(link.post_with(&good, &headers).status, 403, "{headers:?}");
    }
    // A body that is no form, another page's token, another digest, a guessed link.
    let text_plain = request(
        link.port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{good}",
            link.host(),
            link.origin(),
            good.len()
        ),
    );
    assert_eq!(text_plain.status, 415);
    let csrf = form(&[("csrf", &"0".repeat(64)), ("digest", &field(&page, "digest")), ("choice", "approve")]);
    assert_eq!(link.post(&csrf).status, 403);
    let other = form(&[
        ("csrf", &field(&page, "csrf")),
        ("digest", &format!("sha256:{}", "0".repeat(64))),
        ("choice", "approve"),
    ]);
    let refused = link.post(&other);
    assert!(refused.status == 403 && refused.body.contains("another digest"), "{}", refused.body);
    let guessed = Link { port: link.port, path: format!("/a/{}", "ab".repeat(32)) };
    assert_eq!(guessed.post(&good).status, 410);
    assert_eq!(guessed.get().status, 410);
    assert_eq!(request(link.port, &format!("PUT {path} HTTP/1.1\r\nHost: {}\r\n\r\n", link.host())).status, 405);
    let twice = format!("{good}&choice=deny");
    assert_eq!(link.post(&twice).status, 400);

    // An answer as the page appears (a click meant for what was there before) is not
    // taken, as keys in the prompt's first 300 ms are not.
    let page = link.get().body;
    let soon = link.post_with(&answer(&page, "approve"), &[("Origin", &link.origin())]);
    assert!(soon.status == 422 && soon.body.contains("not taken"), "{}", soon.body);

    // None of it decided anything: the call still waits, and its page still answers.
    assert!(s.silent_for(Duration::from_millis(200)));
    assert!(!s.server_log().contains("\"delete_file\""));
    assert_eq!(link.post(&good).status, 200);
    assert!(text(&s.answer(10)).starts_with("deleted"));
}

#[test]
fn a_page_expires_with_its_call_and_the_call_becomes_pending() {
    let w = Wrap::fake().asking().web().logged().arg("--approval-timeout").arg("2");
    let (mut s, link) = held(w.start(), json!({"path": "/data"}));
    let page = link.get().body;
    let r = s.answer(10);
    let t = text(&r);
    assert!(t.contains("reason=approval_timeout") && t.contains("approval page"), "{t}");
    assert!(t.contains("--web"), "the denial says how to open the pending approval's page: {t}");
    assert_eq!(link.post(&answer(&page, "approve")).status, 410);
    assert!(!s.server_log().contains("\"delete_file\""));
}

#[test]
fn a_cancelled_call_takes_its_page_down() {
    let (mut s, link) = held(page_run().start(), json!({"path": "/data"}));
    let page = link.get().body;
    s.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":10}}));
    let until = std::time::Instant::now() + support::WAIT;
    while link.get().status != 410 {
        assert!(std::time::Instant::now() < until, "the page stayed up");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(link.post(&answer(&page, "approve")).status, 410);
    assert!(s.silent_for(Duration::from_millis(300)), "a cancelled call gets no answer");
    assert!(!s.server_log().contains("\"delete_file\""));
}

#[test]
fn digest_confirmation_on_the_page_takes_the_code() {
    let w = page_run();
    let policy = w.path("policy.toml");
    std::fs::write(&policy, "[defaults]\nconfirm = \"digest\"\n").unwrap();
    let args = json!({"path": "/data"});
    let (mut s, link) = held(w.arg("--policy").arg(policy.to_str().unwrap()).start(), args.clone());
    let page = link.get().body;
    assert!(page.contains("name=\"code\"") && !page.contains("value=\"lease\""), "{page}");
    let no_code = link.post(&answer(&page, "approve"));
    assert!(no_code.status == 422 && no_code.body.contains("still waits"), "{}", no_code.body);
    let wrong = link.post(&format!("{}&code=zzzz", answer(&page, "approve")));
    assert_eq!(wrong.status, 422);
    let digest = digest_of(&args);
    let code = &digest["sha256:".len().."sha256:".len() + 4];
    let lease = link.post(&answer(&page, "lease"));
    assert_eq!(lease.status, 403, "no lease under digest confirmation");
    assert!(s.silent_for(Duration::from_millis(200)));
    let right = link.post(&format!("{}&code={code}", answer(&page, "approve")));
    assert_eq!(right.status, 200, "{}", right.body);
    assert!(text(&s.answer(10)).starts_with("deleted"));
}

#[test]
fn allow_for_15_minutes_on_the_page_is_a_lease() {
    let (mut s, link) = held(page_run().start(), json!({"path": "/a"}));
    let page = link.get().body;
    let done = link.post(&answer(&page, "lease"));
    assert!(done.status == 200 && done.body.contains("15 minutes"), "{}", done.body);
    assert!(text(&s.answer(10)).starts_with("deleted"));
    let r = s.call(11, "delete_file", json!({"path": "/b"}));
    assert!(text(&r).starts_with("deleted"), "{r}");
    s.close_stdin();
    s.wait();
    let d = decisions(&s);
    assert!(d.iter().any(|r| r["reason"] == "approved_by_lease"), "{d:?}");
}

#[test]
fn with_web_off_or_headless_no_page_is_served() {
    // `web = false` (the test runs' default policy): pending at once, no link.
    let mut s = Wrap::fake().asking().start();
    s.initialize("2025-11-25");
    let t = text(&s.call(1, "delete_file", json!({"path": "/x"})));
    assert!(t.contains("reason=approval_pending"), "{t}");
    s.close_stdin();
    s.wait();
    assert!(!s.stderr_text().contains("http://127.0.0.1"));
    // `--headless` with the built-in default policy: denied, no link.
    let mut s = Wrap::fake().web().start();
    s.initialize("2025-11-25");
    let t = text(&s.call(1, "delete_file", json!({"path": "/x"})));
    assert!(t.contains("reason=denied_headless"), "{t}");
    s.close_stdin();
    s.wait();
    assert!(!s.stderr_text().contains("http://127.0.0.1"));
}

/// The desktop programs countersign starts, as stand-ins that write down how they were
/// started: `xdg-open` (the opener) and `notify-send` (which prints the action the user
/// clicked, `open`, as the real one does with `--wait`).
fn desktop_stand_ins(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("desktop.log");
    for (name, script) in [
        ("xdg-open", format!("#!/bin/sh\necho \"open DISPLAY=$DISPLAY $1\" >> '{}'\n", log.display())),
        ("notify-send", format!("#!/bin/sh\necho \"notify DISPLAY=$DISPLAY $*\" >> '{}'\necho open\n", log.display())),
    ] {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    log
}

#[test]
fn the_page_is_opened_and_announced_on_the_desktop_the_client_runs_in() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let log = desktop_stand_ins(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // The client has the user's display; it starts countersign with the SDKs' stripped
    // environment and in a new session (no terminal), and stays its parent.
    let path = format!("{}:{}", dir.path().join("bin").display(), std::env::var("PATH").unwrap());
    let stripped = format!(
        "env -i HOME='{home}' PATH='{path}' COUNTERSIGN_HOME='{home}' XDG_CONFIG_HOME='{home}/none' '{bin}' --audit-dir '{home}/audit' -- '{bin}' demo-server; true",
        home = home.display(),
        bin = support::bin().display(),
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(stripped).env("DISPLAY", ":42").env_remove("WAYLAND_DISPLAY");
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| if libc::setsid() < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut send = |m: Value| writeln!(stdin, "{m}").unwrap();
    send(
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"gui","version":"1"}}}),
    );
    send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    send(
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/x"}}}),
    );
    let mut line = String::new();
    while !line.contains("waits for approval") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no link on stderr");
    }
    let link = Link::find(&line);
    let url = format!("{}{}", link.origin(), link.path);
    let until = std::time::Instant::now() + support::WAIT;
    let seen = loop {
        let seen = std::fs::read_to_string(&log).unwrap_or_default();
        if seen.lines().filter(|l| l.starts_with("open ")).count() >= 2 || std::time::Instant::now() > until {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Opened once at once, once more from the notification's action; the display found
    // in the client's environment, not in countersign's own.
    assert_eq!(seen.matches(&format!("open DISPLAY=:42 {url}")).count(), 2, "{seen}");
    let notice = seen.lines().find(|l| l.starts_with("notify ")).unwrap_or_else(|| panic!("{seen}"));
    assert!(
        notice.contains("DISPLAY=:42") && notice.contains("delete_file on countersign waits for approval"),
        "{notice}"
    );
    assert!(notice.contains("--action=open=Open"), "{notice}");
    // The page answers; then the call runs.
    let page = link.get().body;
    assert_eq!(link.post(&answer(&page, "approve")).status, 200);
    let mut reply = String::new();
    while !reply.contains("\"id\":2") {
        reply.clear();
        assert!(stdout.read_line(&mut reply).unwrap() > 0);
    }
    assert!(reply.contains("deleted"), "{reply}");
    drop(stdin);
    child.wait().unwrap();
}

#[test]
fn notify_false_leaves_the_desktop_alone_but_opens_the_page() {
    let w = page_run();
    let log = desktop_stand_ins(w.dir.path());
    let path = format!("{}:{}", w.path("bin").display(), std::env::var("PATH").unwrap());
    let policy = w.path("policy.toml");
    std::fs::write(&policy, "[approvals]\nnotify = false\n").unwrap();
    let w = w.arg("--policy").arg(policy.to_str().unwrap()).env("PATH", &path).env("DISPLAY", ":7");
    let (mut s, link) = held(w.start(), json!({"path": "/x"}));
    let page = link.get().body;
    let until = std::time::Instant::now() + support::WAIT;
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("open DISPLAY=:7") {
        assert!(std::time::Instant::now() < until, "not opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(link.post(&answer(&page, "approve")).status, 200);
    assert!(text(&s.answer(10)).starts_with("deleted"));
    assert!(!std::fs::read_to_string(&log).unwrap().contains("notify"));
}

/// `countersign approve ID --web` with `<state>` at `home`, desktop stand-ins on its PATH.
fn approve_on_page(home: &std::path::Path, id: &str) -> (std::process::Child, Link) {
    let dir = home.join("desktop");
    desktop_stand_ins(&dir);
    approve_web(home, id, &format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap()))
}

#[test]
fn approve_web_answers_a_pending_approval_on_the_page() {
    let home = tempfile::tempdir().unwrap();
    let mut s = Wrap::fake().asking().runtime(home.path()).logged().start();
    s.initialize("2025-11-25");
    let args = json!({"path": "/later"});
    let t = text(&s.call(1, "delete_file", args.clone()));
    assert!(t.contains("--web"), "{t}");
    let at = t.find("pending approval ").unwrap() + "pending approval ".len();
    let id = t[at..at + 6].to_owned();

    let (mut approving, link) = approve_on_page(home.path(), &id);
    let page = link.get().body;
    assert!(page.contains(&format!("Pending approval {id}")) && !page.contains("value=\"lease\""), "{page}");
    assert!(page.contains(&digest_of(&args)), "{page}");
    let done = link.post(&answer(&page, "approve"));
    assert!(done.status == 200 && done.body.contains(&format!("approved {id}")), "{}", done.body);
    assert_eq!(approving.wait().unwrap().code(), Some(0));
    assert!(std::net::TcpStream::connect(("127.0.0.1", link.port)).is_err(), "the page is gone with the command");

    let r = s.call(2, "delete_file", args.clone());
    assert!(text(&r).starts_with("deleted"), "{r}");
    let again = text(&s.call(3, "delete_file", args));
    assert!(again.contains("reason=approval_pending"), "one call per approval: {again}");
    s.close_stdin();
    s.wait();
    let d = decisions(&s);
    let ran = d.iter().find(|r| r["reason"] == "approved_by_receipt").unwrap_or_else(|| panic!("{d:?}"));
    assert!(ran["by"].as_str().unwrap().ends_with("@web"), "{ran}");

    // Denied on the page: exit status 1, and the approval is gone.
    let t = text(&s_call_once(home.path()));
    let at = t.find("pending approval ").unwrap() + "pending approval ".len();
    let (mut denying, link) = approve_on_page(home.path(), &t[at..at + 6]);
    let page = link.get().body;
    assert_eq!(link.post(&answer(&page, "deny")).status, 200);
    assert_eq!(denying.wait().unwrap().code(), Some(1));
}

/// One held call in a new run sharing `home`; its answer.
fn s_call_once(home: &std::path::Path) -> Value {
    let mut s = Wrap::fake().asking().runtime(home).start();
    s.initialize("2025-11-25");
    let r = s.call(1, "delete_file", json!({"path": "/other"}));
    s.close_stdin();
    s.wait();
    r
}
