//! Tool pinning in the session (PRODUCT.md section 7a): every tool learned from a listing
//! (the client's or countersign's own) is compared with its pin; new tools are pinned,
//! changed ones are remembered, recorded, asked about on every call, and with `hide` left
//! out of the listings the client gets.

use serde_json::json;

use super::{Action, Session};
use crate::core::classify::Tool;
use crate::core::pins::{self, compare, Definition, Mode, Pin, Seen, State, Update};

impl Session {
    fn pinning(&self) -> Mode {
        self.settings.policy.pinning
    }

    /// Compares freshly learned tools with their pins. Returns the audit note of each.
    pub(super) fn check_pins(&mut self, learned: &[Tool], out: &mut Vec<Action>) -> Vec<Option<serde_json::Value>> {
        if self.pinning() == Mode::Off {
            return vec![None; learned.len()];
        }
        let mut notes = Vec::with_capacity(learned.len());
        for tool in learned {
            let name = tool.name.clone();
            let note = match compare(&self.settings.pins, &name, &tool.pin) {
                State::New => {
                    let pin = Pin { pinned: tool.pin.clone(), pinned_at: String::new(), seen: None };
                    self.settings.pins.insert(name.clone(), pin);
                    self.changed.remove(&name);
                    out.push(Action::Pin(Update::New { tool: name, definition: tool.pin.clone() }));
                    json!({"pin": "new"})
                }
                State::Same => {
                    self.changed.remove(&name);
                    if let Some(pin) = self.settings.pins.get_mut(&name) {
                        if pin.seen.take().is_some() {
                            out.push(Action::Pin(Update::Same { tool: name }));
                        }
                    }
                    json!({"pin": "same"})
                }
                State::Changed { old, new } => {
                    let note = json!({"pin": "changed", "pinned_digest": old.digest, "listed_digest": new.digest});
                    if let Some(pin) = self.settings.pins.get_mut(&name) {
                        if pin.seen.as_ref().is_none_or(|s| s.definition.digest != new.digest) {
                            pin.seen = Some(Seen { definition: new.clone(), seen_at: String::new() });
                            out.push(Action::Pin(Update::Seen { tool: name.clone(), definition: new.clone() }));
                        }
                    }
                    self.changed.insert(name, (old, new));
                    note
                }
            };
            notes.push(Some(note));
        }
        notes
    }

    /// The pinned and the listed definition of `tool` when it changed since it was pinned.
    pub(super) fn pin_changed(&self, tool: &str) -> Option<&(Definition, Definition)> {
        if self.pinning() == Mode::Off {
            return None;
        }
        self.changed.get(tool)
    }

    /// With `hide`: the client's `tools/list` answer without the changed tools.
    pub(super) fn hide_changed(&self, line: &[u8]) -> Option<Vec<u8>> {
        if self.pinning() != Mode::Hide || self.changed.is_empty() {
            return None;
        }
        let hidden = self.changed.keys().cloned().collect();
        pins::without_tools(line, &hidden)
    }

    /// What the operator is shown about a changed tool.
    pub(super) fn change_shown(&self, tool: &str) -> Option<String> {
        self.pin_changed(tool).map(|(old, new)| pins::render_change(old, new))
    }
}
