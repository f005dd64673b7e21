//! What a day's seal says (PRODUCT.md section 7): the minisign trusted comment of
//! `YYYY-MM-DD.jsonl.minisig`, and what `audit verify --key` concludes from it. The
//! signing itself is at the edge.

use std::fmt;

/// Facts about a day file that its seal names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayFacts {
    /// `YYYY-MM-DD.jsonl`.
    pub file: String,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// The last record's hash (the `prev` the next line names); empty for an empty file.
    pub last_hash: String,
    /// The length of the file the seal covers.
    pub bytes: u64,
}

/// The trusted comment of a seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Unix seconds when the seal was made.
    pub timestamp: i64,
    pub day: String,
    pub facts: DayFacts,
    /// Hex SHA-256 of the previous day file's `.minisig`, or `none`.
    pub prev_seal: String,
    /// `final` (the day is over) or `partial` (`countersign audit seal`: today so far).
    pub final_seal: bool,
}

impl fmt::Display for Comment {
    /// One line, tab-separated `key:value` pairs, as minisign's own comments are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.facts;
        write!(
            f,
            "timestamp:{}\tfile:{}\tday:{}\trecords:{}\tseq:{}..{}\tlast:{}\tbytes:{}\tprev_seal:{}\tstate:{}",
            self.timestamp,
            d.file,
            self.day,
            d.records,
            d.first_seq,
            d.last_seq,
            if d.last_hash.is_empty() { "none" } else { &d.last_hash },
            d.bytes,
            self.prev_seal,
            if self.final_seal { "final" } else { "partial" }
        )
    }
}

impl Comment {
    pub fn parse(text: &str) -> Option<Comment> {
        let get = |key: &str| {
            text.split('\t').find_map(|p| p.split_once(':').filter(|(k, _)| *k == key).map(|(_, v)| v.to_owned()))
        };
        let (first, last) = get("seq")?.split_once("..").map(|(a, b)| (a.to_owned(), b.to_owned()))?;
        let last_hash = get("last")?;
        Some(Comment {
            timestamp: get("timestamp")?.parse().ok()?,
            day: get("day")?,
            facts: DayFacts {
                file: get("file")?,
                records: get("records")?.parse().ok()?,
                first_seq: first.parse().ok()?,
                last_seq: last.parse().ok()?,
                last_hash: if last_hash == "none" { String::new() } else { last_hash },
                bytes: get("bytes")?.parse().ok()?,
            },
            prev_seal: get("prev_seal")?,
            final_seal: match get("state")?.as_str() {
                "final" => true,
                "partial" => false,
                _ => return None,
            },
        })
    }
}

/// What `audit verify --key` says about one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealState {
    /// The day's final seal, matching the file.
    Sealed,
    /// A seal of the day so far that still covers the whole file.
    SealedSoFar,
    /// A seal of the day so far; records were appended after it (the prefix it covers
    /// still verifies).
    Stale { sealed: u64, now: u64 },
    /// No seal beside the file.
    Unsealed,
    /// A seal that does not hold: the file or the seal was changed.
    Wrong(String),
}

impl fmt::Display for SealState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealState::Sealed => f.write_str("sealed"),
            SealState::SealedSoFar => f.write_str("sealed so far (the day is not over)"),
            SealState::Stale { sealed, now } => {
                write!(f, "stale seal: it covers {sealed} records, the file now has {now} (appended after sealing)")
            }
            SealState::Unsealed => f.write_str("unsealed"),
            SealState::Wrong(why) => write!(f, "WRONG: {why}"),
        }
    }
}

/// Judges a seal whose signature verified over the first `comment.facts.bytes` bytes of
/// the file. `now` are the file's facts as read, `prefix_records` the records within the
/// sealed bytes, `prev_seal` the hash of the previous day's seal as found (`None`: no
/// previous day file is there to check).
pub fn judge(comment: &Comment, name: &str, now: &DayFacts, prev_seal: Option<&str>) -> SealState {
    if comment.facts.file != name || format!("{}.jsonl", comment.day) != name {
        return SealState::Wrong(format!("the seal is for {}, not this file", comment.facts.file));
    }
    if let Some(prev) = prev_seal {
        if prev != comment.prev_seal {
            return SealState::Wrong(format!(
                "the seal names previous seal {} but the previous day's seal is {prev}",
                comment.prev_seal
            ));
        }
    }
    let sealed = &comment.facts;
    if sealed.bytes > now.bytes {
        return SealState::Wrong(format!(
            "the file is shorter than sealed ({} < {} bytes): it was cut",
            now.bytes, sealed.bytes
        ));
    }
    if sealed.bytes < now.bytes {
        if comment.final_seal {
            return SealState::Wrong(format!(
                "{} bytes were appended after the day's final seal",
                now.bytes - sealed.bytes
            ));
        }
        return SealState::Stale { sealed: sealed.records, now: now.records };
    }
    if sealed.records != now.records || sealed.last_hash != now.last_hash || sealed.last_seq != now.last_seq {
        return SealState::Wrong("the seal's record count or last hash differs from the file".into());
    }
    if comment.final_seal {
        SealState::Sealed
    } else {
        SealState::SealedSoFar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(final_seal: bool) -> Comment {
        Comment {
            timestamp: 1_795_478_400,
            day: "2026-11-23".into(),
            facts: DayFacts {
                file: "2026-11-23.jsonl".into(),
                records: 4,
                first_seq: 1,
                last_seq: 4,
                last_hash: "ab".repeat(32),
                bytes: 900,
            },
            prev_seal: "none".into(),
            final_seal,
        }
    }

    #[test]
    fn the_comment_round_trips_and_names_what_the_brief_asks() {
        let c = comment(true);
        let text = c.to_string();
        assert!(text.contains("day:2026-11-23") && text.contains("records:4") && text.contains("prev_seal:none"));
        assert!(!text.contains('\n'));
        assert_eq!(Comment::parse(&text), Some(c));
        assert_eq!(Comment::parse("timestamp:1"), None);
    }

    #[test]
    fn seals_are_judged_against_the_file() {
        let c = comment(true);
        let name = "2026-11-23.jsonl";
        assert_eq!(judge(&c, name, &c.facts, Some("none")), SealState::Sealed);
        assert_eq!(judge(&comment(false), name, &c.facts, None), SealState::SealedSoFar);
        let grown = DayFacts { bytes: 1000, records: 5, ..c.facts.clone() };
        assert_eq!(judge(&comment(false), name, &grown, None), SealState::Stale { sealed: 4, now: 5 });
        assert!(matches!(judge(&c, name, &grown, None), SealState::Wrong(_)));
        assert!(matches!(judge(&c, "2026-11-24.jsonl", &c.facts, None), SealState::Wrong(_)));
        assert!(matches!(judge(&c, name, &c.facts, Some("ff")), SealState::Wrong(_)));
        let short = DayFacts { bytes: 10, ..c.facts.clone() };
        assert!(matches!(judge(&c, name, &short, None), SealState::Wrong(_)));
    }
}
