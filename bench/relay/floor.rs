//! The work floor (`--role-work-floor -- CMD`, for information): a line relay that does, in
//! the plainest way the common crates allow, the per-call work PRODUCT.md asks of any gate
//! before a call is passed on and after it comes back, and no more:
//!
//! * every line of both peers parsed whole by serde_json before it is forwarded (a request
//!   into a borrowed struct, its `arguments` into a tree, an answer into a struct that
//!   skips its result);
//! * a `tools/call` classified by its tool's `readOnlyHint` from the `tools/list` answer,
//!   and its digest taken: SHA-256 over the RFC 8785 form (serde_json_canonicalizer) of
//!   `{"name", "arguments"}`;
//! * two records per call, `decision` (arguments redacted by key) and `result`, rendered
//!   with serde_json on a third thread, each line's SHA-256 chained into the next, written
//!   in batches gathered for 5 ms (no lock, no fsync: read-only calls need none).
//!
//! It checks less than countersign (no duplicate keys, no number round trips, no lone
//! surrogates, no revision rules) and answers nothing itself: the workload never sends
//! what it would refuse. So it is a floor: what the work costs done plainly, on two
//! blocking threads like the line relay. Its records go to `CS_BENCH_FLOOR_LOG`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::bare::{each_line, spawn_server, OwnedFdExt};

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    id: Option<Value>,
    #[serde(borrow)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    arguments: Option<Value>,
}

#[derive(Deserialize)]
struct Answer {
    id: Option<Value>,
    result: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Listing {
    result: ListResult,
}

#[derive(Deserialize)]
struct ListResult {
    tools: Vec<ListedTool>,
}

#[derive(Deserialize)]
struct ListedTool {
    name: String,
    annotations: Option<Annotations>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Annotations {
    read_only_hint: Option<bool>,
}

/// What a request in flight was.
enum Asked {
    List,
    Call { tool: String, digest: String, at: Instant },
}

#[derive(Default)]
struct Shared {
    in_flight: HashMap<String, Asked>,
    read_only: HashMap<String, bool>,
}

const SECRET_KEYS: &[&str] = &["password", "secret", "token", "key", "auth", "cookie", "session", "credential"];

pub(crate) fn work_floor(args: &[String]) {
    let mut child = spawn_server(args, "work floor");
    let child_in = child.stdin.take().expect("piped");
    let child_out = child.stdout.take().expect("piped");
    let stdin = std::fs::File::from(io::stdin().lock().as_fd_owned());
    let stdout = std::fs::File::from(io::stdout().lock().as_fd_owned());
    let log = std::env::var("CS_BENCH_FLOOR_LOG").expect("CS_BENCH_FLOOR_LOG names the floor's log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("the floor's log");
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (records, queue) = mpsc::channel::<Value>();
    std::thread::spawn(move || write_records(queue, log));
    {
        let (shared, records) = (shared.clone(), records.clone());
        std::thread::spawn(move || requests(stdin, child_in, &shared, &records));
    }
    answers(child_out, stdout, &shared, &records);
    let status = child.wait().map(|s| s.code().unwrap_or(1)).unwrap_or(1);
    std::process::exit(status);
}

/// Client to server: parse, gate, digest, forward, record.
fn requests(from: impl io::Read, mut to: impl Write, shared: &Mutex<Shared>, records: &mpsc::Sender<Value>) {
    each_line(from, |line| {
        let request: Request<'_> = match serde_json::from_slice(line) {
            Ok(request) => request,
            Err(e) => {
                eprintln!("work floor: dropped a line from the client: {e}");
                return true;
            }
        };
        let key = request.id.as_ref().map(Value::to_string);
        let mut decision = None;
        match (request.method.as_deref(), &key) {
            (Some("tools/call"), Some(key)) => {
                let params = request.params.unwrap_or(Params { name: None, arguments: None });
                let tool = params.name.unwrap_or_default().into_owned();
                // The call object the digest names, built around the arguments (moved, not
                // copied), and the arguments taken back for the record.
                let mut call = serde_json::Map::new();
                call.insert("name".into(), Value::String(tool.clone()));
                call.insert("arguments".into(), params.arguments.unwrap_or_else(|| json!({})));
                let canonical = serde_json_canonicalizer::to_string(&call).expect("a tree canonicalizes");
                let digest = format!("sha256:{:x}", Sha256::digest(canonical.as_bytes()));
                let arguments = call.remove("arguments").unwrap_or_default();
                let mut shared = shared.lock().unwrap();
                // The workload sends no other call; one would be a broken bench, not a
                // call to answer.
                assert!(shared.read_only.get(&tool).copied().unwrap_or(false), "work floor: {tool} is not read-only");
                let at = Instant::now();
                shared.in_flight.insert(key.clone(), Asked::Call { tool: tool.clone(), digest: digest.clone(), at });
                decision = Some(json!({
                    "event": "decision", "request_id": request.id, "tool": tool, "class": "read_only",
                    "args": redacted(arguments), "digest": digest, "decision": "allow",
                    "reason": "allowed_by_policy", "by": "policy", "waited_ms": 0,
                }));
            }
            (Some("tools/list"), Some(key)) => {
                shared.lock().unwrap().in_flight.insert(key.clone(), Asked::List);
            }
            _ => {}
        }
        if to.write_all(line).is_err() {
            return false;
        }
        if let Some(record) = decision {
            let _ = records.send(record);
        }
        true
    });
}

/// Server to client: parse, forward, record.
fn answers(from: impl io::Read, mut to: impl Write, shared: &Mutex<Shared>, records: &mpsc::Sender<Value>) {
    each_line(from, |line| {
        let answer: Answer = match serde_json::from_slice(line) {
            Ok(answer) => answer,
            Err(e) => {
                eprintln!("work floor: dropped a line from the server: {e}");
                return true;
            }
        };
        let asked = answer.id.as_ref().and_then(|id| shared.lock().unwrap().in_flight.remove(&id.to_string()));
        if let Some(Asked::List) = asked {
            if let Ok(listing) = serde_json::from_slice::<Listing>(line) {
                let mut shared = shared.lock().unwrap();
                for tool in listing.result.tools {
                    let read_only = tool.annotations.and_then(|a| a.read_only_hint).unwrap_or(false);
                    shared.read_only.insert(tool.name, read_only);
                }
            }
        }
        if to.write_all(line).is_err() {
            return false;
        }
        if let Some(Asked::Call { tool, digest, at }) = asked {
            let _ = records.send(json!({
                "event": "result", "request_id": answer.id, "tool": tool, "digest": digest,
                "is_error": answer.error.is_some() || answer.result.is_none(),
                "duration_ms": at.elapsed().as_millis() as u64, "bytes": line.len(),
            }));
        }
        true
    });
}

/// Values under secret-looking keys become `[REDACTED]`.
fn redacted(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let v =
                        if SECRET_KEYS.iter().any(|s| lower.contains(s)) { json!("[REDACTED]") } else { redacted(v) };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redacted).collect()),
        other => other,
    }
}

/// The audit thread: gathers records for 5 ms, renders each with its sequence number,
/// time and the hash of the line before, and appends the batch with one write.
fn write_records(queue: mpsc::Receiver<Value>, mut log: std::fs::File) {
    let mut prev = "0".repeat(64);
    let mut seq = 0u64;
    let mut batch = Vec::new();
    while let Ok(first) = queue.recv() {
        std::thread::sleep(Duration::from_millis(5));
        batch.clear();
        for mut record in std::iter::once(first).chain(queue.try_iter()) {
            seq += 1;
            let ts = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
            if let Value::Object(members) = &mut record {
                members.insert("v".into(), json!(1));
                members.insert("ts".into(), json!(ts));
                members.insert("seq".into(), json!(seq));
                members.insert("session".into(), json!("0123456789abcdef"));
                members.insert("server".into(), json!("bench"));
                members.insert("prev".into(), json!(prev));
            }
            let start = batch.len();
            serde_json::to_writer(&mut batch, &record).expect("a tree renders");
            prev = format!("{:x}", Sha256::digest(&batch[start..]));
            batch.push(b'\n');
        }
        if log.write_all(&batch).is_err() {
            return;
        }
    }
}
