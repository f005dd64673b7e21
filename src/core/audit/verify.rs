//! Checking a whole audit directory's chain (`countersign audit verify`). Pure: takes the
//! files' names and bytes and the head anchor, returns where the chain breaks.

use std::fmt;

use serde_json::Value as Json;

use super::record::{line_hash, ChainHead, GENESIS};
use super::time;

/// The first place the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub file: String,
    /// 1-based; 0 when the problem is the file as a whole.
    pub line: usize,
    pub why: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.why)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub lines: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// The chain starts after days removed by retention (its first `prev` is not genesis).
    pub trimmed: bool,
    /// Set when the anchor is behind the log (a writer stopped between line and anchor).
    pub note: Option<String>,
}

/// Verifies `files` (name, bytes), which must be the day files sorted by name, against
/// the head anchor (`None` when there is none).
pub fn verify(files: &[(String, Vec<u8>)], head: Option<&ChainHead>) -> Result<Summary, Break> {
    let mut last: Option<ChainHead> = None;
    let mut summary = Summary { files: files.len(), lines: 0, first_seq: 0, last_seq: 0, trimmed: false, note: None };
    let mut last_place = (String::new(), 0usize);
    for (name, bytes) in files {
        let fail = |line: usize, why: String| Break { file: name.clone(), line, why };
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            let n = bytes.split(|b| *b == b'\n').count();
            return Err(fail(n, "last line has no newline: the file was cut mid-line".into()));
        }
        let day = name.strip_suffix(".jsonl").unwrap_or(name);
        for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let n = i + 1;
            if raw.is_empty() {
                if n == bytes.split(|b| *b == b'\n').count() {
                    continue;
                }
                return Err(fail(n, "empty line".into()));
            }
            let record: Json = serde_json::from_slice(raw).map_err(|e| fail(n, format!("not a JSON record: {e}")))?;
            let seq = record["seq"].as_u64().ok_or_else(|| fail(n, "record has no seq".into()))?;
            let prev = record["prev"].as_str().ok_or_else(|| fail(n, "record has no prev".into()))?;
            match &last {
                None => {
                    summary.first_seq = seq;
                    summary.trimmed = prev != GENESIS;
                    if prev == GENESIS && seq != 1 {
                        return Err(fail(n, format!("first record has seq {seq}, expected 1")));
                    }
                }
                Some(before) => {
                    if prev != before.hash {
                        return Err(fail(
                            n,
                            "prev does not match the line before: a line was edited, inserted, deleted or reordered"
                                .into(),
                        ));
                    }
                    if seq != before.seq + 1 {
                        return Err(fail(
                            n,
                            format!("seq {seq} follows {}: a line is missing or out of order", before.seq),
                        ));
                    }
                }
            }
            let ts = record["ts"].as_str().and_then(time::parse_rfc3339);
            match ts {
                Some(micros) if time::day(micros) == day => {}
                Some(_) => return Err(fail(n, format!("record's ts is not on {day}"))),
                None => return Err(fail(n, "record has no valid ts".into())),
            }
            last = Some(ChainHead { seq, hash: line_hash(raw) });
            summary.lines += 1;
            last_place = (name.clone(), n);
        }
    }
    summary.last_seq = last.as_ref().map_or(0, |h| h.seq);
    match (head, &last) {
        (None, None) => Ok(summary),
        (None, Some(_)) => Err(Break { file: "head".into(), line: 0, why: "the head anchor is missing".into() }),
        (Some(h), None) => Err(Break {
            file: "head".into(),
            line: 0,
            why: format!("the anchor names seq {} but no records remain: the log was cut off", h.seq),
        }),
        (Some(h), Some(l)) if h == l => Ok(summary),
        (Some(h), Some(l)) if h.seq > l.seq => Err(Break {
            file: last_place.0,
            line: last_place.1,
            why: format!("log ends at seq {} but the anchor names seq {}: lines were cut off the end", l.seq, h.seq),
        }),
        (Some(h), Some(l)) if h.seq == l.seq => Err(Break {
            file: last_place.0,
            line: last_place.1,
            why: "the last line does not match the anchor: it was edited".into(),
        }),
        (Some(h), Some(l)) => {
            // The anchor lags when a writer died between a line and its anchor; the lines
            // after it still chain, so this is reported but not a break.
            summary.note = Some(format!("the anchor names seq {} but the log goes on to seq {}", h.seq, l.seq));
            Ok(summary)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::record::{advance, render, Event, Origin};
    use serde_json::json;

    const DAY1: i64 = 1_795_392_000_000_000; // 2026-11-23T00:00:00Z
    const DAY: i64 = 86_400_000_000;

    /// Three days of records, four lines each, and the anchor.
    fn log() -> (Vec<(String, Vec<u8>)>, ChainHead) {
        let origin = Origin { session: "s".into(), server: "x".into() };
        let mut head = ChainHead::genesis();
        let mut files = Vec::new();
        for d in 0..3 {
            let mut bytes = Vec::new();
            for i in 0..4 {
                let micros = DAY1 + d * DAY + i * 1_000_000;
                let line = render(&head, &origin, micros, &Event::new("decision", json!({"n": i})));
                head = advance(&head, &line);
                bytes.extend_from_slice(line.as_bytes());
                bytes.push(b'\n');
            }
            files.push((time::day(DAY1 + d * DAY) + ".jsonl", bytes));
        }
        (files, head)
    }

    fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
    }

    fn join(lines: &[Vec<u8>]) -> Vec<u8> {
        lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect()
    }

    #[test]
    fn intact_chain_verifies_across_days() {
        let (files, head) = log();
        let s = verify(&files, Some(&head)).unwrap();
        assert_eq!((s.files, s.lines, s.first_seq, s.last_seq, s.trimmed), (3, 12, 1, 12, false));
        assert_eq!(verify(&[], None).unwrap().lines, 0);
    }

    #[test]
    fn edited_line_is_found() {
        let (mut files, head) = log();
        let mut l = lines(&files[1].1);
        l[1] = String::from_utf8(l[1].clone()).unwrap().replace("\"n\":1", "\"n\":7").into_bytes();
        files[1].1 = join(&l);
        let b = verify(&files, Some(&head)).unwrap_err();
        assert_eq!((b.file.as_str(), b.line), ("2026-11-24.jsonl", 3), "{b}");
    }

    #[test]
    fn deleted_inserted_reordered_lines_are_found() {
        let (files, head) = log();
        let original = lines(&files[0].1);
        let cases: Vec<(Vec<Vec<u8>>, usize)> = vec![
            (
                {
                    let mut l = original.clone();
                    l.remove(1);
                    l
                },
                2,
            ),
            (
                {
                    let mut l = original.clone();
                    l.insert(2, original[0].clone());
                    l
                },
                3,
            ),
            (
                {
                    let mut l = original.clone();
                    l.swap(1, 2);
                    l
                },
                2,
            ),
        ];
        for (changed, at) in cases {
            let mut f = files.clone();
            f[0].1 = join(&changed);
            let b = verify(&f, Some(&head)).unwrap_err();
            assert_eq!((b.file.as_str(), b.line), ("2026-11-23.jsonl", at), "{b}");
        }
    }

    #[test]
    fn cut_off_end_and_edited_last_line_are_found() {
        let (mut files, head) = log();
        let mut l = lines(&files[2].1);
        l.pop();
        files[2].1 = join(&l);
        let b = verify(&files, Some(&head)).unwrap_err();
        assert!(b.why.contains("cut off the end"), "{b}");

        let (mut files, head) = log();
        files.pop();
        assert!(verify(&files, Some(&head)).unwrap_err().why.contains("cut off"));

        let (mut files, head) = log();
        let mut l = lines(&files[2].1);
        let last = l.len() - 1;
        l[last] = String::from_utf8(l[last].clone()).unwrap().replace("\"n\":3", "\"n\":9").into_bytes();
        files[2].1 = join(&l);
        assert!(verify(&files, Some(&head)).unwrap_err().why.contains("edited"));

        let (mut files, head) = log();
        let cut = files[2].1.len() - 5;
        files[2].1.truncate(cut);
        assert!(verify(&files, Some(&head)).unwrap_err().why.contains("mid-line"));

        let (files, _) = log();
        assert!(verify(&files, None).unwrap_err().why.contains("anchor is missing"));
    }

    #[test]
    fn moved_between_days_or_garbage_is_found() {
        let (mut files, head) = log();
        let moved = lines(&files[1].1)[0].clone();
        let mut day0 = lines(&files[0].1);
        day0.push(moved);
        let mut day1 = lines(&files[1].1);
        day1.remove(0);
        files[0].1 = join(&day0);
        files[1].1 = join(&day1);
        let b = verify(&files, Some(&head)).unwrap_err();
        assert_eq!(b.line, 5, "{b}");
        assert!(b.why.contains("not on 2026-11-23"), "{b}");

        let (mut files, head) = log();
        files[0].1.splice(0..0, b"garbage\n".iter().copied());
        assert_eq!(verify(&files, Some(&head)).unwrap_err().line, 1);
    }

    #[test]
    fn retention_starts_the_chain_at_the_first_remaining_day() {
        let (mut files, head) = log();
        files.remove(0);
        let s = verify(&files, Some(&head)).unwrap();
        assert!(s.trimmed);
        assert_eq!(s.first_seq, 5);
    }

    #[test]
    fn a_lagging_anchor_is_noted_not_broken() {
        let (files, _) = log();
        let lag = ChainHead { seq: 11, hash: line_hash(&lines(&files[2].1)[2]) };
        let s = verify(&files, Some(&lag)).unwrap();
        assert!(s.note.unwrap().contains("seq 11"));
    }
}
