//! `countersign pins`: what is pinned per server label, and taking or dropping pins
//! (PRODUCT.md section 7a, docs/pins.md). Acceptances and forgets are appended to the
//! audit log as `tools` events, like the changes a session records.

use std::io::Write;

use serde_json::json;

use crate::core::audit::{Event, Origin};
use crate::core::pins::Pins;
use crate::edge::audit_log::{AuditLog, AuditSettings};
use crate::edge::clock::{random_id, Clock};
use crate::edge::pin_store::{self, PinStore};
use crate::Error;

pub(super) enum Action {
    List { server: Option<String> },
    Accept { label: String, tools: Vec<String> },
    Forget { label: String },
}

fn err(e: pin_store::PinError) -> Error {
    Error::Usage(e.to_string())
}

pub(super) fn run(action: Action) -> Result<i32, Error> {
    match action {
        Action::List { server } => list(server),
        Action::Accept { label, tools } => accept(&label, &tools),
        Action::Forget { label } => forget(&label),
    }
}

fn list(server: Option<String>) -> Result<i32, Error> {
    let dir = pin_store::pins_dir().map_err(err)?;
    let mut labels: Vec<(String, Pins)> = Vec::new();
    let mut status = 0;
    match server {
        Some(label) => labels.push((label.clone(), PinStore::in_dir(&dir, &label).load().map_err(err)?)),
        None => {
            for entry in pin_store::all(&dir).map_err(err)? {
                match entry {
                    Ok(found) => labels.push(found),
                    Err(e) => {
                        tracing::error!("{e}");
                        status = 1;
                    }
                }
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    if labels.iter().all(|(_, pins)| pins.is_empty()) {
        text.push_str("no pins\n");
    }
    for (label, pins) in labels.iter().filter(|(_, p)| !p.is_empty()) {
        text.push_str(&format!("{}\n", crate::core::sanitize::inert(label)));
        let names: Vec<String> = pins.keys().map(|t| crate::core::sanitize::inert(t).into_owned()).collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        for (tool, pin) in names.iter().zip(pins.values()) {
            text.push_str(&format!("  {tool:<width$}  {}  pinned {}", pin.pinned.digest, pin.pinned_at));
            if let Some(seen) = &pin.seen {
                text.push_str(&format!("  changed: {} seen {}", seen.definition.digest, seen.seen_at));
                // What changed, as the prompt shows it (the digests are on the line above),
                // so that `pins accept` is not taken blind.
                for line in crate::core::pins::render_change(&pin.pinned, &seen.definition).lines().skip(2) {
                    text.push_str(&format!("\n      {line}"));
                }
            }
            text.push('\n');
        }
    }
    out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
    Ok(status)
}

/// Accepts the listed definitions as the pins. The acceptance is recorded (durably)
/// before the pins are written, under their lock: a crash between the two leaves a record
/// of an acceptance that did not happen (the tool is still asked), never an acceptance
/// the log does not show.
fn accept(label: &str, tools: &[String]) -> Result<i32, Error> {
    let store = PinStore::open(label).map_err(err)?;
    let clock = Clock::from_env();
    let at = crate::core::audit::time::rfc3339_micros(clock.now_micros());
    let by = by();
    let change = |pins: &mut crate::core::pins::Pins| {
        let missing: Vec<String> = tools.iter().filter(|t| !pins.contains_key(*t)).cloned().collect();
        let accepted = crate::core::pins::accept(pins, tools, &at);
        (!accepted.is_empty(), (accepted, missing))
    };
    let recorded = |(accepted, _): &(Vec<(String, String, String)>, Vec<String>)| {
        let tools: Vec<_> = accepted
            .iter()
            .map(|(tool, old, new)| json!({"name": tool, "pin": "accepted", "pinned_digest": old, "accepted_digest": new}))
            .collect();
        record(label, clock, json!({"tools": tools, "by": by}))
    };
    let (accepted, missing) = store.update_recorded(change, recorded).map_err(err)??;
    let mut text = String::new();
    for (tool, old, new) in &accepted {
        text.push_str(&format!("accepted {}: {old} -> {new}\n", crate::core::sanitize::inert(tool)));
    }
    if accepted.is_empty() {
        text.push_str("nothing changed to accept\n");
    }
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(Error::Stdout)?;
    for tool in &missing {
        tracing::error!("no pin for tool {:?} of {:?}", crate::core::sanitize::inert(tool), label);
    }
    Ok(if missing.is_empty() { 0 } else { 1 })
}

/// Forgets a label's pins, recorded first, as an acceptance is.
fn forget(label: &str) -> Result<i32, Error> {
    let store = PinStore::open(label).map_err(err)?;
    let recorded = || record(label, Clock::from_env(), json!({"tools": [], "pins": "forgotten", "by": by()}));
    let forgotten = store.forget_recorded(recorded).map_err(err)??;
    let text = if forgotten { "forgot the pins of " } else { "no pins for " };
    let line = format!("{text}{}\n", crate::core::sanitize::inert(label));
    std::io::stdout().lock().write_all(line.as_bytes()).map_err(Error::Stdout)?;
    Ok(0)
}

fn by() -> String {
    format!("operator:{}@cli", crate::edge::runtime_dir::user_name())
}

/// Appends one `tools` event to the audit log, durably.
fn record(label: &str, clock: Clock, fields: serde_json::Value) -> Result<(), Error> {
    let dir = super::default_audit_dir()?;
    let origin = Origin { session: random_id(), server: label.to_owned() };
    let (audit, thread) = AuditLog::start(AuditSettings { dir, origin, clock, retention_days: None });
    let written = super::runtime::block_on(async {
        let written = audit.record_durable(Event::new("tools", fields)).await;
        audit.close().await;
        written
    })?;
    let _ = thread.join();
    written.map_err(|e| Error::Usage(format!("the audit log cannot be written, so nothing was changed: {e}")))
}
