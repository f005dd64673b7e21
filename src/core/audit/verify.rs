//! Checking a whole audit directory's chain (`countersign audit verify`). Pure and
//! streaming: the caller feeds the day files' lines one by one (so memory stays flat on
//! a log of any size) and the head anchor; the verifier says where the chain breaks.

use std::fmt;

use serde_json::Value as Json;

use super::record::{line_hash, ChainHead, GENESIS};
use super::time;

/// Characters of a line shown around a break.
const SHOWN: usize = 400;

/// A line as the verifier saw it, for showing around a break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub file: String,
    pub line: usize,
    /// The line's text, cut to a few hundred characters (not yet made inert).
    pub text: String,
}

/// The first place the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub file: String,
    /// 1-based; 0 when the problem is the file (or the anchor) as a whole.
    pub line: usize,
    pub why: String,
    /// The lines on both sides of the break, when there are lines.
    pub around: Vec<Shown>,
    /// Which of `around` can be told to be the edited one.
    pub edited: Option<usize>,
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
    /// The chain starts where the head anchor says retention cut it (not at genesis).
    pub trimmed: bool,
    /// Things worth saying that are not breaks (a lagging anchor, an unfinished write).
    pub notes: Vec<String>,
}

/// Where the log must start: genesis, or the `seq` and hash recorded by retention.
pub fn start_of(start: Option<&ChainHead>) -> ChainHead {
    start.cloned().unwrap_or_else(ChainHead::genesis)
}

/// A line that does not chain to the one before, waiting for the line after it to tell
/// which of the two was edited.
#[derive(Debug)]
struct Suspect {
    before: Shown,
    before_seq: u64,
    at: Shown,
    at_head: ChainHead,
    at_prev: String,
}

/// The streaming verifier. Feed it [`Verifier::file`], then that file's lines with
/// [`Verifier::line`], [`Verifier::end_file`], and finally [`Verifier::finish`].
#[derive(Debug)]
pub struct Verifier {
    start: ChainHead,
    last: Option<ChainHead>,
    last_shown: Option<Shown>,
    suspect: Option<Suspect>,
    file: String,
    day: String,
    line: usize,
    summary: Summary,
    /// The current file ended without a newline: these bytes are an unfinished record.
    unfinished: Option<(String, usize)>,
    /// The log begins before the start retention recorded (a removal of older days that
    /// stopped half-way): the line at the recorded start is still to come, and must be
    /// the one recorded.
    before_start: bool,
}

fn shown(file: &str, line: usize, raw: &[u8]) -> Shown {
    let text = String::from_utf8_lossy(raw);
    let text = match text.char_indices().nth(SHOWN) {
        None => text.into_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    };
    Shown { file: file.to_owned(), line, text }
}

impl Verifier {
    /// `start`: where the retained log starts, from the head anchor (`None`: genesis).
    pub fn new(start: Option<&ChainHead>) -> Verifier {
        Verifier {
            start: start_of(start),
            last: None,
            last_shown: None,
            suspect: None,
            file: String::new(),
            day: String::new(),
            line: 0,
            summary: Summary { files: 0, lines: 0, first_seq: 0, last_seq: 0, trimmed: false, notes: Vec::new() },
            unfinished: None,
            before_start: false,
        }
    }

    fn fail(&self, line: usize, why: impl Into<String>) -> Break {
        Break { file: self.file.clone(), line, why: why.into(), around: Vec::new(), edited: None }
    }

    /// The next day file (in name order).
    pub fn file(&mut self, name: &str) -> Result<(), Break> {
        if let Some((file, bytes)) = &self.unfinished {
            return Err(Break {
                file: file.clone(),
                line: 0,
                why: format!("the file ends in {bytes} bytes of an unfinished line, and a later file follows it"),
                around: Vec::new(),
                edited: None,
            });
        }
        self.file = name.to_owned();
        self.day = name.strip_suffix(".jsonl").unwrap_or(name).to_owned();
        self.line = 0;
        self.summary.files += 1;
        Ok(())
    }

    /// The current file ended with `partial` bytes after its last newline.
    pub fn end_file(&mut self, partial: usize) {
        if partial > 0 {
            self.unfinished = Some((self.file.clone(), partial));
        }
    }

    /// One complete line of the current file, without its newline.
    pub fn line(&mut self, raw: &[u8]) -> Result<(), Break> {
        self.line += 1;
        let n = self.line;
        if raw.is_empty() {
            return Err(self.fail(n, "empty line"));
        }
        let record: Json = serde_json::from_slice(raw).map_err(|e| self.fail(n, format!("not a JSON record: {e}")))?;
        let seq = record["seq"].as_u64().ok_or_else(|| self.fail(n, "record has no seq"))?;
        let prev = record["prev"].as_str().ok_or_else(|| self.fail(n, "record has no prev"))?;
        let here = shown(&self.file, n, raw);
        let head = ChainHead { seq, hash: line_hash(raw) };
        if let Some(suspect) = self.suspect.take() {
            return Err(self.resolve(suspect, Some((prev, seq))));
        }
        match &self.last {
            None => {
                self.summary.first_seq = seq;
                let from_start = prev == self.start.hash && seq == self.start.seq + 1;
                if !from_start && self.start.seq > 0 && seq <= self.start.seq {
                    // Retention records where the kept log will start before it removes
                    // the older days; one stopped half-way left some of them here. They
                    // are checked from this line on, through the recorded start.
                    self.before_start = true;
                } else if !from_start {
                    let why = if self.start.seq == 0 {
                        if prev == GENESIS {
                            format!("the first record has seq {seq}, expected 1")
                        } else {
                            format!(
                                "the log starts at seq {seq}, not at the beginning, and no retention is recorded in \
                                 the head anchor: lines were cut from the front"
                            )
                        }
                    } else {
                        format!(
                            "the log starts at seq {seq} but the head anchor says the kept log starts after seq {}: \
                             lines were cut from the front",
                            self.start.seq
                        )
                    };
                    let mut b = self.fail(n, why);
                    b.around.push(here);
                    return Err(b);
                }
                self.summary.trimmed = self.start.seq != 0;
            }
            Some(before) => {
                if prev != before.hash {
                    // Whether the line before or this one was changed shows in the next line.
                    self.suspect = Some(Suspect {
                        before: self.last_shown.clone().expect("shown with last"),
                        before_seq: before.seq,
                        at: here,
                        at_head: head,
                        at_prev: prev.to_owned(),
                    });
                    return Ok(());
                }
                if seq != before.seq + 1 {
                    let mut b =
                        self.fail(n, format!("seq {seq} follows {}: a line is missing or out of order", before.seq));
                    b.around = vec![self.last_shown.clone().expect("shown with last"), here];
                    return Err(b);
                }
            }
        }
        let ts = record["ts"].as_str().and_then(time::parse_rfc3339);
        match ts {
            Some(micros) if time::day(micros) == self.day => {}
            Some(_) => {
                let mut b = self.fail(n, format!("the record's ts is not on {}: it was moved between days", self.day));
                b.around.push(here);
                return Err(b);
            }
            None => return Err(self.fail(n, "record has no valid ts")),
        }
        if record["event"] == "recovered" {
            self.note_recovery(&record, n);
        }
        if self.before_start && seq == self.start.seq {
            if head.hash != self.start.hash {
                let mut b = self.fail(
                    n,
                    format!("the head anchor says the kept log starts after seq {seq}, but that line is not the one it names"),
                );
                b.around.push(here);
                return Err(b);
            }
            self.before_start = false;
            self.summary.notes.push(format!(
                "days before seq {} are still here though retention removes them (a removal stopped half-way): the \
                 next writer that starts removes them",
                seq + 1
            ));
        }
        self.last = Some(head);
        self.last_shown = Some(here);
        self.summary.lines += 1;
        Ok(())
    }

    /// A `recovered` record is not a break (the cut it reports left only complete
    /// records), but it is worth saying; a cut that removed records the anchor had named
    /// lost what was once written whole.
    fn note_recovery(&mut self, record: &Json, n: usize) {
        const MAX_NOTES: usize = 20;
        if self.summary.notes.len() >= MAX_NOTES {
            return;
        }
        let cut = &record["cut"];
        let text = match (cut["after_seq"].as_u64(), cut["anchor_seq"].as_u64()) {
            (Some(after), Some(anchor)) if anchor > after => format!(
                "{}:{n}: recovered after a failed write, but the cut removed records up to seq {anchor} that had \
                 been written whole (the log kept up to seq {after})",
                self.file
            ),
            _ => format!(
                "{}:{n}: recovered after a failed write (cut {} bytes of an unfinished record; lost {})",
                self.file,
                cut["bytes"].as_u64().unwrap_or(0),
                record["lost"]
            ),
        };
        self.summary.notes.push(text);
    }

    /// Explains a line that does not chain to the one before, knowing the `prev` and
    /// `seq` of the line after it (`None`: it was the last line).
    fn resolve(&self, s: Suspect, next: Option<(&str, u64)>) -> Break {
        let consecutive = s.at_head.seq == s.before_seq + 1;
        let next_fits = next.is_some_and(|(prev, seq)| prev == s.at_head.hash && seq == s.at_head.seq + 1);
        let (line, edited, why) = if consecutive && next_fits {
            (
                s.before.line,
                Some(0),
                format!(
                    "this line was edited: the line after it names a different line with seq {} (prev {}…)",
                    s.before_seq,
                    s.at_prev.get(..12).unwrap_or(&s.at_prev)
                ),
            )
        } else if consecutive && next.is_some() {
            (
                s.at.line,
                Some(1),
                "this line was edited: it chains neither to the line before nor to the line after".into(),
            )
        } else if consecutive {
            (s.at.line, None, "prev does not match the line before: one of these two lines was edited".into())
        } else {
            (
                s.at.line,
                None,
                format!(
                    "prev does not match the line before, and seq {} follows {}: a line was deleted, inserted or \
                     reordered",
                    s.at_head.seq, s.before_seq
                ),
            )
        };
        let file = if edited == Some(0) { s.before.file.clone() } else { s.at.file.clone() };
        Break { file, line, why, around: vec![s.before, s.at], edited }
    }

    /// The end of the log; `anchor` is where the head anchor says the chain ends.
    pub fn finish(mut self, anchor: Option<&ChainHead>) -> Result<Summary, Break> {
        if let Some(suspect) = self.suspect.take() {
            // The anchor stands in for the line after the last one.
            let hash = suspect.at_head.hash.clone();
            let next = match anchor {
                Some(a) if *a == suspect.at_head => Some((hash.as_str(), a.seq + 1)),
                Some(_) => Some(("", 0)),
                None => None,
            };
            return Err(self.resolve(suspect, next));
        }
        self.summary.last_seq = self.last.as_ref().map_or(0, |h| h.seq);
        let last_place = self.last_shown.clone();
        let at_end = |why: String| {
            let (file, line) = last_place.as_ref().map_or(("head.json".to_owned(), 0), |s| (s.file.clone(), s.line));
            Break { file, line, why, around: last_place.iter().cloned().collect(), edited: None }
        };
        if let Some((file, bytes)) = &self.unfinished {
            self.summary.notes.push(format!(
                "{file} ends in {bytes} bytes of an unfinished record (a write failed or was interrupted); the next \
                 record cuts them off and says so in a `recovered` record"
            ));
        }
        if self.before_start {
            return Err(at_end(format!(
                "the head anchor says the kept log starts after seq {}, but the log ends before it",
                self.start.seq
            )));
        }
        let anchor_file =
            |why: String| Break { file: "head.json".into(), line: 0, why, around: Vec::new(), edited: None };
        match (anchor, &self.last) {
            (None, None) => Ok(self.summary),
            (None, Some(_)) => Err(anchor_file("the head anchor is missing".into())),
            (Some(h), None) if h.seq == self.start.seq => Ok(self.summary),
            (Some(h), None) => {
                Err(anchor_file(format!("the anchor names seq {} but no records remain: the log was cut off", h.seq)))
            }
            (Some(h), Some(l)) if h == l => Ok(self.summary),
            (Some(h), Some(l)) if h.seq > l.seq => Err(at_end(format!(
                "the log ends at seq {} but the anchor names seq {}: lines were cut off the end",
                l.seq, h.seq
            ))),
            (Some(h), Some(l)) if h.seq == l.seq => {
                let mut b = at_end("the last line does not match the anchor: it was edited".into());
                b.edited = Some(0);
                Err(b)
            }
            (Some(h), Some(l)) => {
                // The anchor lags when a writer died between a line and its anchor; the lines
                // after it still chain, so this is reported but not a break.
                self.summary.notes.push(format!("the anchor names seq {} but the log goes on to seq {}", h.seq, l.seq));
                Ok(self.summary)
            }
        }
    }
}

/// Verifies whole files in memory (name, bytes), sorted by name: for tests and small
/// logs. `start` is the retained log's start from the anchor, `head` its end.
pub fn verify(
    files: &[(String, Vec<u8>)],
    start: Option<&ChainHead>,
    head: Option<&ChainHead>,
) -> Result<Summary, Break> {
    let mut v = Verifier::new(start);
    for (name, bytes) in files {
        v.file(name)?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in
            bytes[..complete].split(|b| *b == b'\n').take(bytes[..complete].iter().filter(|b| **b == b'\n').count())
        {
            v.line(line)?;
        }
        v.end_file(bytes.len() - complete);
    }
    v.finish(head)
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
        let s = verify(&files, None, Some(&head)).unwrap();
        assert_eq!((s.files, s.lines, s.first_seq, s.last_seq, s.trimmed), (3, 12, 1, 12, false));
        assert_eq!(verify(&[], None, None).unwrap().lines, 0);
    }

    /// The separators, C1 and bidi characters a record may carry; written as escapes now.
    const ODD: &str = "a\u{2028}b\u{2029}c\u{85}d\u{9b}e\u{202e}f\u{2066}g\u{200f}h";

    #[test]
    fn records_are_one_line_for_every_splitter_and_older_raw_ones_still_verify() {
        let origin = Origin { session: "s".into(), server: "x".into() };
        let event = Event::new("decision", json!({"tool": ODD}));
        let line = render(&ChainHead::genesis(), &origin, DAY1, &event);
        let splits = ['\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}'];
        assert_eq!(line.split(|c| splits.contains(&c)).count(), 1, "{line}");
        assert!(line.is_ascii(), "no raw bidi or C1 either: {line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["tool"], ODD, "the same value");
        let head = advance(&ChainHead::genesis(), &line);
        let day = time::day(DAY1) + ".jsonl";
        assert!(verify(&[(day.clone(), format!("{line}\n").into_bytes())], None, Some(&head)).is_ok());

        // A file an earlier version wrote, with the characters raw, verifies as it is.
        let raw = line.replace("\\u2028", "\u{2028}").replace("\\u202e", "\u{202e}").replace("\\u0085", "\u{85}");
        assert!(raw.contains('\u{2028}') && raw.contains('\u{85}'), "{raw}");
        let head = advance(&ChainHead::genesis(), &raw);
        let s = verify(&[(day, format!("{raw}\n").into_bytes())], None, Some(&head)).unwrap();
        assert_eq!(s.lines, 1);
    }

    #[test]
    fn edited_line_is_found() {
        let (mut files, head) = log();
        let mut l = lines(&files[1].1);
        l[1] = String::from_utf8(l[1].clone()).unwrap().replace("\"n\":1", "\"n\":7").into_bytes();
        files[1].1 = join(&l);
        let b = verify(&files, None, Some(&head)).unwrap_err();
        assert_eq!((b.file.as_str(), b.line, b.edited), ("2026-11-24.jsonl", 2, Some(0)), "{b}");
        assert_eq!(b.around.len(), 2);
        assert!(b.around[0].text.contains("\"n\":7"), "{b:?}");
        assert!(b.why.contains("this line was edited"), "{b}");
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
            let b = verify(&f, None, Some(&head)).unwrap_err();
            assert_eq!((b.file.as_str(), b.line), ("2026-11-23.jsonl", at), "{b}");
        }
    }

    #[test]
    fn cut_off_end_and_edited_last_line_are_found() {
        let (mut files, head) = log();
        let mut l = lines(&files[2].1);
        l.pop();
        files[2].1 = join(&l);
        let b = verify(&files, None, Some(&head)).unwrap_err();
        assert!(b.why.contains("cut off the end"), "{b}");

        let (mut files, head) = log();
        files.pop();
        assert!(verify(&files, None, Some(&head)).unwrap_err().why.contains("cut off"));

        let (mut files, head) = log();
        let mut l = lines(&files[2].1);
        let last = l.len() - 1;
        l[last] = String::from_utf8(l[last].clone()).unwrap().replace("\"n\":3", "\"n\":9").into_bytes();
        files[2].1 = join(&l);
        assert!(verify(&files, None, Some(&head)).unwrap_err().why.contains("edited"));

        let (mut files, head) = log();
        let cut = files[2].1.len() - 5;
        files[2].1.truncate(cut);
        assert!(verify(&files, None, Some(&head)).unwrap_err().why.contains("cut off the end"));

        let (files, _) = log();
        assert!(verify(&files, None, None).unwrap_err().why.contains("anchor is missing"));
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
        let b = verify(&files, None, Some(&head)).unwrap_err();
        assert_eq!(b.line, 5, "{b}");
        assert!(b.why.contains("not on 2026-11-23"), "{b}");

        let (mut files, head) = log();
        files[0].1.splice(0..0, b"garbage\n".iter().copied());
        assert_eq!(verify(&files, None, Some(&head)).unwrap_err().line, 1);
    }

    #[test]
    fn retention_starts_the_chain_where_the_anchor_says() {
        let (mut files, head) = log();
        let start = ChainHead { seq: 4, hash: line_hash(&lines(&files[0].1)[3]) };
        files.remove(0);
        let b = verify(&files, None, Some(&head)).unwrap_err();
        assert!(b.why.contains("cut from the front"), "{b}");
        let s = verify(&files, Some(&start), Some(&head)).unwrap();
        assert!(s.trimmed);
        assert_eq!(s.first_seq, 5);
        // More cut than retention recorded: a break.
        let mut l = lines(&files[0].1);
        l.drain(..2);
        files[0].1 = join(&l);
        let b = verify(&files, Some(&start), Some(&head)).unwrap_err();
        assert_eq!((b.line, b.file.as_str()), (1, "2026-11-24.jsonl"), "{b}");
        assert!(b.why.contains("after seq 4"), "{b}");
    }

    /// Retention records the start before it removes days: stopped half-way, the older
    /// days that are left verify through the recorded start, with a note; a line there
    /// that is not the recorded one, or a log that ends before it, is a break.
    #[test]
    fn older_days_retention_has_not_removed_yet_verify_through_the_recorded_start() {
        let (mut files, head) = log();
        let start = ChainHead { seq: 8, hash: line_hash(&lines(&files[1].1)[3]) };
        let s = verify(&files, Some(&start), Some(&head)).unwrap();
        assert_eq!((s.first_seq, s.trimmed), (1, true));
        assert!(s.notes.iter().any(|n| n.contains("before seq 9 are still here")), "{:?}", s.notes);
        files.remove(0);
        let s = verify(&files, Some(&start), Some(&head)).unwrap();
        assert_eq!(s.first_seq, 5, "one of two old days removed");
        let wrong = ChainHead { seq: 8, hash: "0".repeat(64) };
        let b = verify(&files, Some(&wrong), Some(&head)).unwrap_err();
        assert!(b.why.contains("not the one it names"), "{b}");
        files.truncate(1);
        let end = ChainHead { seq: 8, hash: line_hash(&lines(&files[0].1)[3]) };
        let beyond = ChainHead { seq: 10, hash: "0".repeat(64) };
        let b = verify(&files, Some(&beyond), Some(&end)).unwrap_err();
        assert!(b.why.contains("ends before it"), "{b}");
    }

    #[test]
    fn a_front_cut_without_retention_is_a_break() {
        let (mut files, head) = log();
        let mut l = lines(&files[0].1);
        l.drain(..2);
        files[0].1 = join(&l);
        let b = verify(&files, None, Some(&head)).unwrap_err();
        assert_eq!(b.line, 1, "{b}");
        assert!(b.why.contains("no retention"), "{b}");
    }

    #[test]
    fn an_unfinished_last_record_is_a_note_and_elsewhere_a_break() {
        let (mut files, head) = log();
        files[2].1.extend_from_slice(br#"{"v":1,"ts":"2026-11-25T00:00:05"#);
        let s = verify(&files, None, Some(&head)).unwrap();
        assert!(s.notes[0].contains("unfinished record"), "{s:?}");
        let (mut files, head) = log();
        files[1].1.extend_from_slice(b"{\"v\"");
        assert!(verify(&files, None, Some(&head)).unwrap_err().why.contains("unfinished"));
    }

    #[test]
    fn an_edited_prev_names_that_line() {
        let (mut files, head) = log();
        let mut l = lines(&files[0].1);
        let text = String::from_utf8(l[2].clone()).unwrap();
        let prev = serde_json::from_str::<Json>(&text).unwrap()["prev"].as_str().unwrap().to_owned();
        l[2] = text.replace(&prev, &"1".repeat(64)).into_bytes();
        files[0].1 = join(&l);
        let b = verify(&files, None, Some(&head)).unwrap_err();
        assert_eq!((b.line, b.edited), (3, Some(1)), "{b}");
    }

    #[test]
    fn a_lagging_anchor_is_noted_not_broken() {
        let (files, _) = log();
        let lag = ChainHead { seq: 11, hash: line_hash(&lines(&files[2].1)[2]) };
        let s = verify(&files, None, Some(&lag)).unwrap();
        assert!(s.notes[0].contains("seq 11"));
    }
}
