//! Asking a human (PRODUCT.md section 6): the approver console if one runs for this
//! user, else the operator's terminal, else the browser approval page, else nobody. One
//! prompt worker per process: the session asks about one call at a time, and a withdrawn
//! call's prompt is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::core::approval_page::Purpose;
use crate::core::gate::{By, Place};
use crate::core::prompt::Answer;
use crate::core::sanitize::inert;
use crate::core::session::{Ask, Asked, Ticket};
use crate::edge::approver;
use crate::edge::desktop;
use crate::edge::runtime_dir::user_name;
use crate::edge::tty::{self, Outcome};
use crate::edge::web::{PageAnswer, Pages};

/// Whoever answers held calls. The relay takes one as an argument, so a test can script
/// the operator.
pub trait Operator: Send + Sync + 'static {
    /// Shows the call and waits for the answer until `deadline`. Dropping the future
    /// withdraws the call (the client cancelled it, or the session ended).
    fn ask(&self, ask: Ask, deadline: Instant) -> Pin<Box<dyn Future<Output = Asked> + Send + '_>>;
}

/// What the session tells the prompt worker.
pub(super) enum Prompt {
    Ask(Ticket, Box<Ask>),
    Withdraw(Ticket),
}

/// What the prompt worker tells the session: the answer about one held call.
pub(super) struct Answered(pub Ticket, pub Asked);

/// The prompt worker: asks about one call at a time; a `Withdraw` for it drops the
/// question. Answers go back on `answers` as [`Answered`], into whatever the session's
/// task gathers its workers' answers in (`B`).
pub(super) async fn worker<B: From<Answered> + Send + 'static>(
    operator: Arc<dyn Operator>,
    start: tokio::time::Instant,
    mut prompts: mpsc::UnboundedReceiver<Prompt>,
    answers: mpsc::UnboundedSender<B>,
) {
    let mut next = None;
    loop {
        let prompt = match next.take() {
            Some(p) => p,
            None => match prompts.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let Prompt::Ask(ticket, ask) = prompt else {
            continue;
        };
        // The session's deadline is on its clock; the edges wait on the wall's.
        let left = (start + ask.deadline).saturating_duration_since(tokio::time::Instant::now());
        let deadline = Instant::now() + left;
        let answer = operator.ask(*ask, deadline);
        tokio::pin!(answer);
        loop {
            tokio::select! {
                asked = &mut answer => {
                    let _ = answers.send(B::from(Answered(ticket, asked)));
                    break;
                }
                prompt = prompts.recv() => match prompt {
                    Some(Prompt::Withdraw(t)) if t == ticket => break,
                    Some(Prompt::Withdraw(_)) => {}
                    // The session asks again only after this one ended; keep it for then.
                    Some(ask @ Prompt::Ask(..)) => { next = Some(ask); break; }
                    None => return,
                },
            }
        }
    }
}

/// The real operator: console, then terminal, then the approval page (`None`: no page,
/// as with `web = false`).
pub struct Human {
    pub web: Option<Web>,
}

impl Operator for Human {
    fn ask(&self, ask: Ask, deadline: Instant) -> Pin<Box<dyn Future<Output = Asked> + Send + '_>> {
        Box::pin(async move {
            if let Some(stream) = approver::connect().await {
                return match approver::ask(stream, &ask.held, deadline).await {
                    Ok(Some(reply)) => {
                        match operator_said(reply.answer, By::Operator { user: reply.user, place: Place::Console }) {
                            Asked::Denied { by, .. } => Asked::Denied { by, reason: reply.reason },
                            asked => asked,
                        }
                    }
                    Ok(None) => Asked::TimedOut { detail: NO_ANSWER.into() },
                    // A console that quits or breaks while the call waits: nobody answered
                    // in time, which is not "nobody could be asked".
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        Asked::TimedOut { detail: "the approver console was closed before anyone answered".into() }
                    }
                    Err(e) => {
                        tracing::debug!("the approver console broke: {e}");
                        Asked::TimedOut { detail: "the approver console stopped before anyone answered".into() }
                    }
                };
            }
            let withdrawn = Arc::new(AtomicBool::new(false));
            let _withdraw = SetOnDrop(withdrawn.clone());
            let held = ask.held.clone();
            let prompt = tokio::task::spawn_blocking(move || tty::ask(&held, deadline, &withdrawn));
            match prompt.await {
                Ok(Ok(Outcome::Answer(answer))) => {
                    operator_said(answer, By::Operator { user: user_name(), place: Place::Tty })
                }
                Ok(Ok(Outcome::Timeout)) => Asked::TimedOut { detail: NO_ANSWER.into() },
                // Only when the session withdrew it, and then nobody reads this answer.
                Ok(Ok(Outcome::Withdrawn)) => Asked::TimedOut { detail: "withdrawn".into() },
                Ok(Err(e)) => {
                    // The system's words stay in countersign's log; the model's text is for people.
                    tracing::debug!("no terminal to ask at: {e}");
                    match &self.web {
                        Some(web) if ask.page => web.ask(&ask, deadline).await,
                        _ => Asked::Nobody {
                            why: "no approver console is running, and there is no terminal to ask at".into(),
                        },
                    }
                }
                Err(e) => Asked::Nobody { why: format!("the prompt failed ({e})") },
            }
        })
    }
}

/// The browser approval page: served by this process on loopback from the first call
/// that needs it (PRODUCT.md section 6, step 4).
pub struct Web {
    pages: tokio::sync::OnceCell<Arc<Pages>>,
    /// A desktop notification announces each page (`notify = false`: none).
    notify: bool,
}

impl Web {
    pub fn new(notify: bool) -> Web {
        Web { pages: tokio::sync::OnceCell::new(), notify }
    }

    /// Serves the call's page until the deadline, opens it in the user's browser and
    /// announces it; the call waits for the page as it would at a prompt. Dropping the
    /// future withdraws the page.
    async fn ask(&self, ask: &Ask, deadline: Instant) -> Asked {
        let nobody = |e: std::io::Error| {
            tracing::warn!("cannot serve the approval page: {e}");
            Asked::Nobody {
                why: "no approver console is running, there is no terminal to ask at, and the approval page could not be served".into(),
            }
        };
        let pages = match self.pages.get_or_try_init(crate::edge::web::start).await {
            Ok(pages) => pages.clone(),
            Err(e) => return nobody(e),
        };
        let served = match pages.serve(ask.held.clone(), Purpose::Live, deadline) {
            Ok(served) => served,
            Err(e) => return nobody(e),
        };
        let (server, tool) = (inert(&ask.held.server), inert(&ask.held.tool));
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        tracing::warn!("{tool} on {server} waits for approval: open {} within {left} s to answer", served.url);
        let env = desktop::session_env();
        desktop::open(&served.url, &env);
        let notifier = if self.notify { desktop::notify(&server, &tool, &served.url, &env) } else { None };
        let _notifier = AbortOnDrop(notifier);
        let answered = tokio::select! {
            answered = served.answer => answered.ok(),
            () = tokio::time::sleep_until(deadline.into()) => None,
        };
        let Some(PageAnswer { decided, outcome }) = answered else {
            return Asked::TimedOut {
                detail: "nobody answered at the approval page before the approval timeout".into(),
            };
        };
        let by = By::Operator { user: user_name(), place: Place::Web };
        let (asked, said) = match operator_said(decided.answer, by) {
            Asked::Denied { by, .. } => (
                Asked::Denied { by, reason: decided.reason },
                "Denied: the call does not run, and the model is told so.".to_owned(),
            ),
            asked @ Asked::Approved { lease: true, .. } => {
                (asked, format!("Approved: the call runs now, and {tool} on {server} is allowed for 15 minutes."))
            }
            asked => (asked, "Approved once: the call runs now.".to_owned()),
        };
        let _ = outcome.send(said);
        asked
    }
}

/// Ends the notifier of a page once its call is no longer waiting.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

fn operator_said(answer: Answer, by: By) -> Asked {
    match answer {
        Answer::Approve => Asked::Approved { by, lease: false },
        Answer::Lease => Asked::Approved { by, lease: true },
        Answer::Deny => Asked::Denied { by, reason: None },
        Answer::AcceptPin => Asked::AcceptedPin { by },
    }
}

/// Why a call the operator could see was not answered.
const NO_ANSWER: &str = "nobody answered before the approval timeout";

/// Tells the blocking prompt that its call was withdrawn when the asking future is
/// dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
