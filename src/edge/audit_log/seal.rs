//! Seals: a detached minisign signature beside each finished day file,
//! `YYYY-MM-DD.jsonl.minisig`, made with the Ed25519 key that `countersign audit keygen`
//! put under `<state>` (PRODUCT.md section 7). `minisign -Vm YYYY-MM-DD.jsonl -P <public
//! key>` checks one with no countersign at hand.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};
use sha2::{Digest, Sha256};

use super::files::day_files;
use crate::core::audit::line_hash;
use crate::core::audit::seal::{judge, Comment, DayFacts, SealState};
use crate::core::digest::hex;
use crate::edge::crash;

/// The secret key, under `<state>`, 0600.
pub const KEY_FILE: &str = "audit-seal.key";
/// The public key beside it, in minisign's `.pub` format.
pub const PUB_FILE: &str = "audit-seal.pub";

pub struct SealKey {
    sk: SecretKey,
    pk: PublicKey,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// `YYYY-MM-DD.jsonl.minisig`.
pub fn seal_name(day_file: &str) -> String {
    format!("{day_file}.minisig")
}

/// Makes a new key pair under `state`; refuses to replace one. Returns the public key
/// file's text (minisign format: a comment line and the key).
///
/// A crash at any step leaves either no key, or a whole key: the secret key is written to
/// a temporary file, fsynced and linked into place (a link never replaces a file, so two
/// `keygen`s cannot both win), and the public key follows it. A `keygen` that finds the
/// key without its public half (one killed in between) writes that half from the key.
pub fn keygen(state: &Path) -> io::Result<(PathBuf, String)> {
    let key_path = state.join(KEY_FILE);
    let pub_path = state.join(PUB_FILE);
    if key_path.exists() {
        return match (load_key(state)?, pub_path.exists()) {
            (Some(key), false) => {
                let pub_text = key.pk.to_box().map_err(other)?.into_string();
                write_atomically(&pub_path, pub_text.as_bytes(), "audit keygen: public key")?;
                Ok((pub_path, pub_text))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "a sealing key exists at {} (its public key is {}); move both away first to make a new one",
                    key_path.display(),
                    pub_path.display()
                ),
            )),
        };
    }
    let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair().map_err(other)?;
    let sk_text = sk.to_box(Some("countersign audit sealing key")).map_err(other)?.into_string();
    let tmp = state.join(format!("{KEY_FILE}.tmp{}", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        crash::write_all("audit keygen: secret key", &mut file, sk_text.as_bytes())?;
        crash::point("audit keygen: secret key fsync");
        file.sync_all()?;
        crash::point("audit keygen: secret key link");
        fs::hard_link(&tmp, &key_path)
    })();
    let _ = fs::remove_file(&tmp);
    written?;
    crash::point("audit keygen: directory fsync");
    sync_dir(state)?;
    let pub_text = pk.to_box().map_err(other)?.into_string();
    write_atomically(&pub_path, pub_text.as_bytes(), "audit keygen: public key")?;
    Ok((pub_path, pub_text))
}

/// The key under `<state>`, when there is one.
pub fn load_key(state: &Path) -> io::Result<Option<SealKey>> {
    let text = match fs::read_to_string(state.join(KEY_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let sk = SecretKeyBox::from_string(&text).and_then(|b| b.into_unencrypted_secret_key()).map_err(other)?;
    let pk = PublicKey::from_secret_key(&sk).map_err(other)?;
    Ok(Some(SealKey { sk, pk }))
}

/// The key under the default `<state>`; none when `<state>` cannot be used (said by the
/// caller) or holds no key.
pub fn load_default_key() -> io::Result<Option<SealKey>> {
    load_key(&crate::edge::runtime_dir::state_dir()?)
}

/// A public key given on the command line: minisign's base64 form (as `-P` takes it), or
/// the path of a `.pub` file.
pub fn parse_public_key(given: &str) -> io::Result<PublicKey> {
    if let Ok(pk) = PublicKey::from_base64(given.trim()) {
        return Ok(pk);
    }
    let text = fs::read_to_string(given).map_err(|e| {
        io::Error::new(e.kind(), format!("{given} is neither a minisign public key nor a readable file: {e}"))
    })?;
    PublicKeyBox::from_string(&text).and_then(|b| b.into_public_key()).map_err(other)
}

/// The facts a seal names, read from the first `limit` bytes of a day file: its complete
/// records. An unfinished last line (a write that failed or was cut short by a crash) is
/// not sealed: it is no record, the next writer cuts it off, and `audit verify` counts
/// only complete lines too, so a seal made before that cut still matches after it.
pub fn day_facts(path: &Path, limit: Option<u64>) -> io::Result<DayFacts> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(64 << 10, file.take(limit.unwrap_or(len).min(len)));
    let mut facts = DayFacts {
        file: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        ..DayFacts::default()
    };
    let mut line = Vec::new();
    let mut last = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 || line.last() != Some(&b'\n') {
            break;
        }
        facts.bytes += line.len() as u64;
        line.pop();
        if facts.records == 0 {
            facts.first_seq = seq_of(&line);
        }
        facts.records += 1;
        std::mem::swap(&mut line, &mut last);
    }
    if facts.records > 0 {
        facts.last_seq = seq_of(&last);
        facts.last_hash = line_hash(&last);
    }
    Ok(facts)
}

fn seq_of(line: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(line).ok().and_then(|v| v["seq"].as_u64()).unwrap_or(0)
}

/// Hex SHA-256 of the seal of the day file before `name`, or `none`.
fn prev_seal(dir: &Path, name: &str) -> io::Result<Option<String>> {
    let names = day_files(dir)?;
    let Some(prev) = names.iter().rev().find(|n| n.as_str() < name) else {
        return Ok(Some("none".into()));
    };
    match fs::read(dir.join(seal_name(prev))) {
        Ok(bytes) => Ok(Some(hex(&Sha256::digest(&bytes)))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some("none".into())),
        Err(e) => Err(e),
    }
}

/// Seals `name` as it is now: `final_seal` when the day is over. Call with the directory
/// lock held, so that the file does not grow while it is read.
pub fn seal_day(dir: &Path, name: &str, key: &SealKey, now_micros: i64, final_seal: bool) -> io::Result<Comment> {
    let path = dir.join(name);
    let facts = day_facts(&path, None)?;
    let comment = Comment {
        timestamp: now_micros.div_euclid(1_000_000),
        day: name.strip_suffix(".jsonl").unwrap_or(name).to_owned(),
        prev_seal: prev_seal(dir, name)?.unwrap_or_else(|| "none".into()),
        facts,
        final_seal,
    };
    let data = File::open(&path)?.take(comment.facts.bytes);
    let untrusted = format!("countersign audit seal of {name}");
    let signature =
        minisign::sign(Some(&key.pk), &key.sk, data, Some(&comment.to_string()), Some(&untrusted)).map_err(other)?;
    write_atomically(&dir.join(seal_name(name)), signature.into_string().as_bytes(), "audit: seal")?;
    Ok(comment)
}

/// Gives every day file before `today` its final seal when it has none, or only a seal
/// of the day so far (days the writer did not roll over, PRODUCT.md section 7: "for
/// missed days on start"). Call with the directory lock held.
pub fn seal_finished(dir: &Path, key: &SealKey, today: &str, now_micros: i64) -> io::Result<Vec<String>> {
    let mut sealed = Vec::new();
    for name in day_files(dir)?.into_iter().filter(|n| n.as_str() < today) {
        let current = fs::read_to_string(dir.join(seal_name(&name)))
            .ok()
            .and_then(|t| SignatureBox::from_string(&t).ok())
            .and_then(|b| b.trusted_comment().ok())
            .and_then(|c| Comment::parse(&c));
        let whole = day_facts(&dir.join(&name), None)?.bytes;
        if current.is_some_and(|c| c.final_seal && c.facts.bytes == whole) {
            continue;
        }
        seal_day(dir, &name, key, now_micros, true)?;
        sealed.push(name);
    }
    Ok(sealed)
}

/// Checks the seal of day file `name` with `pk`; `facts` are the file's as the chain
/// check read them.
pub fn check_day(dir: &Path, name: &str, pk: &PublicKey, facts: &DayFacts) -> io::Result<SealState> {
    let text = match fs::read_to_string(dir.join(seal_name(name))) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(SealState::Unsealed),
        Err(e) => return Err(e),
    };
    let Ok(signature) = SignatureBox::from_string(&text) else {
        return Ok(SealState::Wrong("the seal is not a minisign signature".into()));
    };
    let Some(comment) = signature.trusted_comment().ok().and_then(|c| Comment::parse(&c)) else {
        return Ok(SealState::Wrong("the seal's trusted comment is not countersign's".into()));
    };
    let covered = comment.facts.bytes.min(facts.bytes);
    let data = Prefix::new(File::open(dir.join(name))?, covered)?;
    if let Err(e) = minisign::verify(pk, &signature, data, true, false, false) {
        return Ok(SealState::Wrong(format!("the signature does not verify: {e}")));
    }
    // A previous seal named but no longer there (retention) cannot be checked.
    let prev = match prev_seal(dir, name)? {
        Some(p) if p == "none" && comment.prev_seal != "none" => None,
        other => other,
    };
    Ok(judge(&comment, name, facts, prev.as_deref()))
}

/// Replaces `path` with `bytes` (0600), by a temporary file beside it (`<name>.tmp`),
/// fsync, rename and the directory's fsync: a crash leaves the old file or the new one.
/// Each step is a crash point named after `what` (src/edge/crash.rs).
fn write_atomically(path: &Path, bytes: &[u8], what: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    crash::write_all(&format!("{what} temporary file"), &mut file, bytes)?;
    crash::point(&format!("{what} temporary file fsync"));
    file.sync_all()?;
    crash::point(&format!("{what} rename"));
    fs::rename(&tmp, path)?;
    crash::point(&format!("{what} directory fsync"));
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The first `len` bytes of a file, seekable (minisign's verifier asks for `Seek`).
struct Prefix {
    file: File,
    len: u64,
    pos: u64,
}

impl Prefix {
    fn new(mut file: File, len: u64) -> io::Result<Prefix> {
        file.seek(SeekFrom::Start(0))?;
        Ok(Prefix { file, len, pos: 0 })
    }
}

impl Read for Prefix {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos) as usize;
        let take = buf.len().min(left);
        let n = self.file.read(&mut buf[..take])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Prefix {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
        }
        .min(self.len);
        self.pos = self.file.seek(SeekFrom::Start(target))?;
        Ok(self.pos)
    }
}
