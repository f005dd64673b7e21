//! The part of the prompt that shows how a changed tool differs from its pin (PRODUCT.md
//! section 7a). The lines come pre-rendered and inert ([`crate::core::pins::render_change`]).
//! The prompt (`prompt.rs`) hands it the change and the lines; it knows nothing else of
//! the held call.

/// Puts the change, when there is one, before the arguments (the last header line).
pub fn insert(changed: Option<&str>, lines: &mut Vec<String>) {
    let Some(changed) = changed else {
        return;
    };
    let at = lines.len().saturating_sub(1);
    let mut block = vec!["  CHANGED   this tool's definition differs from its pin:".to_owned()];
    // Made inert where it was rendered; again here, since a console peer sends its own.
    block.extend(changed.lines().map(|l| format!("    {}", super::sanitize::inert(l))));
    lines.splice(at..at, block);
}
