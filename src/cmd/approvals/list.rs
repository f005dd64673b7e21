//! What `countersign pending` and `countersign leases` print: one line per entry, columns
//! aligned, every untrusted string inert and cut.

use crate::core::approvals::Book;
use crate::core::sanitize::inert;

/// Widest label or tool shown.
const NAME_CHARS: usize = 32;
/// Widest one-line arguments shown.
const ARGS_CHARS: usize = 72;

/// `text` made inert and cut to `max` characters (`…` marks a cut).
pub(crate) fn cut(text: &str, max: usize) -> String {
    let safe = inert(text);
    match safe.char_indices().nth(max) {
        None => safe.into_owned(),
        Some((at, _)) => format!("{}…", &safe[..at]),
    }
}

/// `sha256:` and the first 12 hex digits.
pub(crate) fn short_digest(digest: &str) -> String {
    // The book is a file: what it says is shown inert like anything untrusted.
    let digest = crate::core::sanitize::inert(digest);
    let shown: String = digest.chars().take("sha256:".len() + 12).collect();
    if shown.len() < digest.len() {
        format!("{shown}…")
    } else {
        shown
    }
}

/// A span of microseconds, read at a glance: `45s`, `12m`, `1h05m`.
pub(crate) fn span(micros: i64) -> String {
    crate::core::approvals::span(u64::try_from(micros / 1_000_000).unwrap_or(0))
}

/// Rows as text, each column as wide as its widest cell (the last one is not padded).
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            line.push(' ');
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 1));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `countersign pending`: the live pending approvals, then the receipts not yet used.
pub(super) fn pending(book: &Book, now: i64) -> String {
    let live = book.live(now);
    let mut out = String::new();
    if live.pending.is_empty() {
        out.push_str("no pending approvals\n");
    } else {
        out.push_str(
            "pending approvals (countersign approve <ID> shows one and asks; countersign deny <ID> refuses it)\n",
        );
        let mut rows =
            vec![["ID", "ASKED", "LAPSES IN", "SERVER", "TOOL", "DIGEST", "ARGUMENTS"].map(String::from).to_vec()];
        for p in &live.pending {
            rows.push(vec![
                p.id.clone(),
                format!("{} ago", span(now - p.asked)),
                span(p.lapses - now),
                cut(&p.label, NAME_CHARS),
                cut(&p.tool, NAME_CHARS),
                short_digest(&p.digest),
                cut(&p.held.arguments, ARGS_CHARS),
            ]);
        }
        out.push_str(&table(&rows));
    }
    if !live.receipts.is_empty() {
        out.push_str("approved, waiting for the call (each runs the next identical call once)\n");
        let mut rows =
            vec![["ID", "APPROVED", "EXPIRES IN", "SERVER", "TOOL", "DIGEST", "BY"].map(String::from).to_vec()];
        for r in &live.receipts {
            rows.push(vec![
                r.id.clone(),
                format!("{} ago", span(now - r.approved)),
                span(r.expires - now),
                cut(&r.label, NAME_CHARS),
                cut(&r.tool, NAME_CHARS),
                short_digest(&r.digest),
                cut(&r.by, NAME_CHARS),
            ]);
        }
        out.push_str(&table(&rows));
    }
    out
}

/// `countersign leases`: the live leases.
pub(super) fn leases(book: &Book, now: i64) -> String {
    let live = book.live(now);
    if live.leases.is_empty() {
        return "no leases\n".to_owned();
    }
    let mut out = String::from(
        "leases (countersign leases revoke <ID> ends one; countersign leases revoke --all ends them all)\n",
    );
    let mut rows = vec![["ID", "GRANTED", "EXPIRES IN", "SERVER", "TOOL", "BY"].map(String::from).to_vec()];
    for l in &live.leases {
        rows.push(vec![
            l.id.clone(),
            format!("{} ago", span(now - l.granted)),
            span(l.expires - now),
            cut(&l.label, NAME_CHARS),
            cut(&l.tool, NAME_CHARS),
            cut(&l.by, NAME_CHARS),
        ]);
    }
    out.push_str(&table(&rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_cuts_read_at_a_glance() {
        assert_eq!(span(45_000_000), "45s");
        assert_eq!(span(12 * 60_000_000 + 5), "12m");
        assert_eq!(span(3_900_000_000), "1h05m");
        assert_eq!(span(-5), "0s");
        assert_eq!(cut("a\u{1b}[2Jb", 100), "a\\u001b[2Jb");
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(short_digest(&format!("sha256:{}", "a".repeat(64))), format!("sha256:{}…", "a".repeat(12)));
        assert_eq!(table(&[vec!["a".into(), "b".into()], vec!["ccc".into(), "d".into()]]), "  a    b\n  ccc  d\n");
    }
}
