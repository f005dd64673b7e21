//! One connection to the approval page: one request (no keep-alive), every response with
//! the same protective headers. What is checked, in order: the `Host` (DNS rebinding),
//! the path's token, and for a post its `Origin` (CSRF, cross-origin `fetch`), its type,
//! its size, the page's own token and the digest it names.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::pages::{PageAnswer, Pages};
use crate::core::approval_page::{self as page, Page};

/// How long a connection may take in all (a slow or idle peer is dropped).
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);

/// How long a post waits to learn what came of its answer before saying only that it
/// was taken.
const OUTCOME_WAIT: Duration = Duration::from_secs(10);

pub(super) async fn connection(pages: Arc<Pages>, stream: TcpStream) {
    let service = hyper::service::service_fn(move |req| {
        let pages = pages.clone();
        async move { Ok::<_, Infallible>(respond(&pages, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_LIMIT, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("approval page: {e}"),
        Err(_) => tracing::debug!("approval page: a connection took too long"),
    }
}

async fn respond(pages: &Pages, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if !page::host_ok(header(header::HOST).as_deref(), pages.port) {
        return said(StatusCode::MISDIRECTED_REQUEST, "Wrong address", "This page is served only as 127.0.0.1.");
    }
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/style.css") => reply(StatusCode::OK, "text/css; charset=utf-8", page::STYLE.to_owned()),
        (Method::GET, p) if p.starts_with("/a/") => show(pages, &p[3..], None),
        (Method::POST, p) if p.starts_with("/a/") => {
            let origin = header(header::ORIGIN);
            let site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()).map(str::to_owned);
            if !page::origin_ok(origin.as_deref(), site.as_deref(), pages.port) {
                return said(
                    StatusCode::FORBIDDEN,
                    "Refused",
                    "An answer is taken only from the approval page itself.",
                );
            }
            let form_type = header(header::CONTENT_TYPE)
                .is_some_and(|t| t.split(';').next().is_some_and(|t| t.trim() == "application/x-www-form-urlencoded"));
            if !form_type {
                return said(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Refused",
                    "An answer is a form of the approval page.",
                );
            }
            let token = p[3..].to_owned();
            let body = match Limited::new(req.into_body(), page::MAX_FORM_BYTES).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return said(StatusCode::PAYLOAD_TOO_LARGE, "Refused", "That form is too large."),
            };
            answer(pages, &token, &body).await
        }
        (Method::GET, _) => said(StatusCode::NOT_FOUND, "Not found", "There is nothing here."),
        _ => said(StatusCode::METHOD_NOT_ALLOWED, "Refused", "Only GET and POST."),
    }
}

fn gone() -> Response<Full<Bytes>> {
    said(
        StatusCode::GONE,
        "This link answers nothing now",
        "It was used already, or its call was answered elsewhere, withdrawn or timed out.",
    )
}

/// The page for `token`, with `notice` above its form.
fn show(pages: &Pages, token: &str, notice: Option<&str>) -> Response<Full<Bytes>> {
    let mut entries = pages.lock();
    let now = Instant::now();
    let Some(entry) = entries.get_mut(token).filter(|e| e.deadline > now && e.answer.is_some()) else {
        return gone();
    };
    entry.shown_at = Some(now);
    let action = format!("/a/{token}");
    let html = page::render(&Page {
        held: &entry.held,
        purpose: &entry.purpose,
        action: &action,
        csrf: &entry.csrf,
        seconds_left: entry.deadline.saturating_duration_since(now).as_secs(),
        notice,
    });
    let status = if notice.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    reply(status, "text/html; charset=utf-8", html)
}

/// A posted answer: decided at most once per page. A wrong code leaves the page up; any
/// other refusal decides nothing and says why.
async fn answer(pages: &Pages, token: &str, body: &[u8]) -> Response<Full<Bytes>> {
    let Some(form) = page::parse_form(body) else {
        return said(StatusCode::BAD_REQUEST, "Refused", "That form could not be read.");
    };
    let (tx, decided) = {
        let mut entries = pages.lock();
        let Some(entry) = entries.get_mut(token).filter(|e| e.deadline > Instant::now() && e.answer.is_some()) else {
            return gone();
        };
        match page::decide(&form, &entry.held, &entry.purpose, &entry.csrf) {
            // As at the prompt: an answer this soon after the page appeared is not taken.
            Ok(_) if entry.shown_at.is_some_and(|at| at.elapsed() < crate::core::prompt::GRACE) => {
                drop(entries);
                let notice = "That answer came as the page appeared, so it was not taken: answer again.";
                return show(pages, token, Some(notice));
            }
            Ok(decided) => match entry.answer.take() {
                Some(tx) => (tx, decided),
                None => return gone(),
            },
            Err(refused) if refused.retry() => {
                drop(entries);
                return show(pages, token, Some(&refused.to_string()));
            }
            Err(refused) => return said(StatusCode::FORBIDDEN, "Refused", &refused.to_string()),
        }
    };
    let (outcome_tx, outcome) = oneshot::channel();
    if tx.send(PageAnswer { decided, outcome: outcome_tx }).is_err() {
        return gone();
    }
    match tokio::time::timeout(OUTCOME_WAIT, outcome).await {
        Ok(Ok(text)) => said(StatusCode::OK, "Answered", &text),
        _ => said(StatusCode::OK, "Answered", "Your answer was taken."),
    }
}

/// A page that only says something.
fn said(status: StatusCode, title: &str, text: &str) -> Response<Full<Bytes>> {
    reply(status, "text/html; charset=utf-8", page::message(title, text))
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, page::CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONNECTION, "close"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
