//! Every change to the approval book is an `approval` record (PRODUCT.md section 6a), in
//! the audit log where its call was asked, under the server label it is about.

use std::path::PathBuf;

use crate::core::approvals::Change;
use crate::core::audit::Origin;
use crate::edge::audit_log::{AuditLog, AuditSettings};
use crate::edge::clock::Clock;
use crate::Error;

/// Appends `changes` durably, in order: one writer per run of changes that share an
/// audit directory and a label, with `session` (this command run) as the records'
/// session.
pub(super) fn record(changes: &[Change], session: &str) -> Result<(), Error> {
    let mut rest = changes;
    while let Some(first) = rest.first() {
        let run = rest.iter().take_while(|c| c.audit_dir == first.audit_dir && c.label == first.label).count();
        let (group, later) = rest.split_at(run);
        rest = later;
        let dir = if first.audit_dir.is_empty() {
            super::super::default_audit_dir()?
        } else {
            PathBuf::from(&first.audit_dir)
        };
        let origin = Origin { session: session.to_owned(), server: first.label.clone() };
        let settings = AuditSettings { dir: dir.clone(), origin, clock: Clock::from_env(), retention_days: None };
        let (audit, thread) = AuditLog::start(settings);
        let written = crate::cmd::runtime::block_on(async {
            let mut written = Ok(());
            for change in group {
                written = audit.record_durable(change.event.clone()).await;
                if written.is_err() {
                    break;
                }
            }
            audit.close().await;
            written
        })?;
        let _ = thread.join();
        written.map_err(|e| Error::Usage(format!("the audit log cannot be written, so nothing was changed: {e}")))?;
    }
    Ok(())
}
