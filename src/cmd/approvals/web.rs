//! `countersign approve <ID> --web`: a pending approval answered on the browser approval
//! page (PRODUCT.md section 6, step 4) instead of this terminal. The page is served on
//! 127.0.0.1 by this command until it is answered or the approval lapses.
//!
//! The page's server runs on a thread of its own; the answer comes back here, where the
//! book is changed (and the change recorded) as `approve` on a terminal does, and what
//! came of it goes back to the page as the reply to the operator's post.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{approved, refused, say, Approvals, ToAnswer};
use crate::core::approval_page::Purpose;
use crate::core::approvals::BookError;
use crate::core::prompt::{Answer, Held};
use crate::edge::desktop;
use crate::edge::web::PageAnswer;
use crate::Error;

/// What the page's thread tells this one.
enum Event {
    Serving(String),
    Failed(std::io::Error),
    Answer(PageAnswer),
}

impl Approvals {
    pub(super) fn approve_on_page(&self, typed: &str) -> Result<i32, Error> {
        let ToAnswer { id, held, left } = match self.to_answer(typed)? {
            Ok(asked) => asked,
            Err(e) => return refused(e),
        };
        let (events, event) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let purpose = Purpose::Pending { id: id.clone() };
        let deadline = Instant::now() + left;
        let server = std::thread::spawn(move || serve(held, purpose, deadline, events, stopped));
        let code = self.await_page(&id, left, deadline, &event);
        // The reply to the operator's post goes out before this command exits.
        drop(stop);
        let _ = server.join();
        code
    }

    /// Waits for the page's answer and carries it out in the book.
    fn await_page(
        &self,
        id: &str,
        left: Duration,
        deadline: Instant,
        event: &mpsc::Receiver<Event>,
    ) -> Result<i32, Error> {
        let id = id.to_owned();
        let answer = match event.recv() {
            Ok(Event::Serving(url)) => {
                say(&format!("approve or deny {id} at {url} (it lapses in {} min)\n", left.as_secs().div_ceil(60)))?;
                event.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
            }
            Ok(Event::Failed(e)) => return Err(Error::io("serving the approval page", e)),
            _ => None,
        };
        let code = match answer {
            Some(Event::Answer(PageAnswer { decided, outcome })) => {
                let (code, said) = match decided.answer {
                    Answer::Approve => match self.apply(|book, now| book.approve(&id, &self.by, now))? {
                        Ok(receipt) => (0, approved(&id, &receipt)),
                        Err(e) => (refused_quietly(&e), e.to_string()),
                    },
                    _ => {
                        let reason = decided.reason.as_deref();
                        match self.apply(|book, now| book.deny(&id, &self.by, reason, now).map(|c| ((), c)))? {
                            Ok(()) => (1, format!("denied {id}")),
                            Err(e) => (refused_quietly(&e), e.to_string()),
                        }
                    }
                };
                let _ = outcome.send(format!("{}.", said.trim_end_matches('.')));
                say(&format!("{said}\n"))?;
                code
            }
            _ => refused(BookError::Lapsed { id })?,
        };
        Ok(code)
    }
}

/// Says why an answer could not be kept; exit status 1.
fn refused_quietly(e: &BookError) -> i32 {
    tracing::error!("{e}");
    1
}

/// The page's thread: serves the page until it is answered, the deadline passes or this
/// command stops; then lets the reply to the answer go out.
fn serve(held: Held, purpose: Purpose, deadline: Instant, events: mpsc::Sender<Event>, stopped: oneshot::Receiver<()>) {
    let run = crate::cmd::runtime::block_on(async move {
        let pages = crate::edge::web::start().await;
        let served = match pages
            .as_ref()
            .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))
            .and_then(|pages| pages.serve(held, purpose, deadline))
        {
            Ok(served) => served,
            Err(e) => {
                let _ = events.send(Event::Failed(e));
                return;
            }
        };
        let _ = events.send(Event::Serving(served.url.clone()));
        desktop::open(&served.url, &desktop::session_env());
        let answer = tokio::select! {
            answer = served.answer => answer.ok(),
            () = tokio::time::sleep_until(deadline.into()) => None,
        };
        if let Some(answer) = answer {
            let _ = events.send(Event::Answer(answer));
        }
        drop(events);
        // The reply to the post waits for what came of it: keep serving until told.
        let _ = tokio::time::timeout(Duration::from_secs(15), stopped).await;
        if let Ok(pages) = pages {
            pages.quiet(Duration::from_secs(2)).await;
        }
    });
    if let Err(e) = run {
        tracing::error!("{e}");
    }
}
