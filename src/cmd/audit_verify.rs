//! `countersign audit verify [--dir DIR]`.

use std::io::Write;
use std::path::PathBuf;

use crate::core::audit::verify::verify;
use crate::edge::audit_log::{day_files, read_head};
use crate::Error;

pub fn run(dir: Option<PathBuf>) -> Result<i32, Error> {
    let dir = match dir {
        Some(d) => d,
        None => super::default_audit_dir()?,
    };
    let read = |what: &str, e| Error::io(format!("{what} {}", dir.display()), e);
    let names = day_files(&dir).map_err(|e| read("reading", e))?;
    let mut files = Vec::new();
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).map_err(|e| read("reading a file in", e))?;
        files.push((name, bytes));
    }
    let head = read_head(&dir).map_err(|e| read("reading the head anchor in", e))?;
    let mut out = std::io::stdout().lock();
    let write = |e| Error::io("writing stdout", e);
    match verify(&files, head.as_ref()) {
        Ok(s) => {
            let trimmed = if s.trimmed { " (older days removed by retention)" } else { "" };
            writeln!(
                out,
                "intact: {} records in {} files, seq {}..{}{trimmed}",
                s.lines, s.files, s.first_seq, s.last_seq
            )
            .map_err(write)?;
            if let Some(note) = s.note {
                writeln!(out, "note: {note}").map_err(write)?;
            }
            Ok(0)
        }
        Err(b) => {
            let shown =
                if b.line == 0 { b.file.clone() } else { format!("{}:{}", dir.join(&b.file).display(), b.line) };
            writeln!(out, "BROKEN at {shown}: {}", b.why).map_err(write)?;
            Ok(1)
        }
    }
}
