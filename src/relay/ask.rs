//! Asking a human about a held call: leases and approved retries first, then the
//! approver console or the terminal, with progress notifications so the client does not
//! give up while the operator reads (PRODUCT.md section 6).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Relay, To};
use crate::core::classify::Class;
use crate::core::gate::{By, Call, Decision, Reason};
use crate::core::prompt::{Answer, Held};
use crate::edge::approver;
use crate::edge::clock::random_id;
use crate::edge::runtime_dir::user_name;
use crate::edge::tty::{self, Outcome};

/// How long `a` allows a tool on this server.
pub const LEASE: Duration = Duration::from_secs(15 * 60);
/// How often a waiting client with a progress token hears from us.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// A 2026-07-28 retry of a call approved this long ago is not asked again.
const RETRY_WINDOW: Duration = Duration::from_secs(10 * 60);

impl Relay {
    pub(super) async fn ask(&self, call: &Call, class: Class, rule: String) -> Decision {
        let decision = |reason, by, detail: Option<String>| Decision {
            reason,
            class,
            rule: Some(rule.clone()),
            by,
            waited_ms: 0,
            detail,
        };
        if self.config.headless {
            return decision(Reason::DeniedHeadless, By::Headless, None);
        }
        if let Some(lease) = self.state().lease_for(&self.config.name, &call.name) {
            return decision(Reason::ApprovedByLease, By::Lease(lease), None);
        }
        if call.retry {
            if let Some(by) = self.state().approved_recently(&call.digest, RETRY_WINDOW) {
                return decision(Reason::ApprovedByOperator, by, Some("retry of a call approved moments ago".into()));
            }
        }
        let held = self.held_view(call, class, &rule);
        let deadline = Instant::now() + self.config.approval_timeout;
        let outcome = tokio::select! {
            outcome = self.prompt(held, deadline) => outcome,
            _ = self.keep_client_waiting(call.progress_token.as_deref()) => unreachable!("progress never ends"),
        };
        let user = user_name();
        match outcome {
            Ok((Outcome::Answer(Answer::Approve), console)) => {
                let operator = By::Operator { user, console };
                self.state().remember_approval(&call.digest, operator.clone());
                decision(Reason::ApprovedByOperator, operator, None)
            }
            Ok((Outcome::Answer(Answer::Lease), console)) => {
                let operator = By::Operator { user, console };
                let id = random_id()[..12].to_owned();
                self.state().grant_lease(&self.config.name, &call.name, &id, LEASE);
                self.state().remember_approval(&call.digest, operator.clone());
                decision(Reason::ApprovedByOperator, operator, Some(format!("lease {id} granted for 15 minutes")))
            }
            Ok((Outcome::Answer(Answer::Deny), console)) => {
                decision(Reason::DeniedByOperator, By::Operator { user, console }, None)
            }
            Ok((Outcome::Timeout, _)) => decision(
                Reason::ApprovalTimeout,
                By::Policy,
                Some(format!("no answer within {} s", self.config.approval_timeout.as_secs())),
            ),
            Ok((Outcome::Withdrawn, _)) => decision(Reason::Cancelled, By::Policy, None),
            Err(e) => {
                tracing::info!("no operator can be asked ({e}): {} denied as headless", call.name);
                decision(Reason::DeniedHeadless, By::Headless, Some("no terminal and no approver console".into()))
            }
        }
    }

    /// Shows the held call where a human can answer: the approver console if one runs for
    /// this user, else the controlling terminal. Returns the outcome and whether it came
    /// from the console. Dropping the future withdraws the call.
    async fn prompt(&self, held: Held, deadline: Instant) -> std::io::Result<(Outcome, bool)> {
        if let Some(stream) = approver::connect().await {
            let reply = approver::ask(stream, &held, deadline).await?;
            return Ok((reply.map_or(Outcome::Timeout, |r| Outcome::Answer(r.answer)), true));
        }
        let withdrawn = Arc::new(AtomicBool::new(false));
        let _withdraw = SetOnDrop(withdrawn.clone());
        let prompt = tokio::task::spawn_blocking(move || tty::ask(&held, deadline, &withdrawn));
        let outcome = prompt.await.map_err(std::io::Error::other)??;
        Ok((outcome, false))
    }

    fn held_view(&self, call: &Call, class: Class, rule: &str) -> Held {
        let s = self.state();
        let title = s.registry.lookup(&call.name).and_then(|t| t.title.clone());
        let mut held =
            Held::new(&self.config.name, s.client_name.as_deref(), &call.name, title.as_deref(), class, rule);
        held.arguments = call.arguments.as_ref().map_or_else(|| "{}".to_owned(), |a| a.to_serde().to_string());
        held.digest = call.digest.clone();
        held
    }

    /// Sends `notifications/progress` every few seconds while a call waits, when the
    /// client asked for progress, so that it does not time out. Never returns.
    async fn keep_client_waiting(&self, token: Option<&str>) {
        let Some(token) = token else {
            return std::future::pending().await;
        };
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
        for n in 1u64.. {
            tick.tick().await;
            let line = format!(
                r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":{n},"message":"countersign: waiting for the operator to approve this call"}}}}"#
            );
            self.reply(To::Client, line.into_bytes()).await;
        }
    }
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
