//! Whole sessions in-process: `relay::run_with` over in-memory pipes, with a scripted
//! operator and paused time, so leases lapse, deadlines pass and races land in the
//! order a test chooses, without sleeping.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::os::unix::fs::DirBuilderExt;
use std::pin::Pin;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign::core::audit::Origin;
use countersign::core::gate::{By, Place};
use countersign::core::policy::Policy;
use countersign::core::session::{Ask, Asked, Settings};
use countersign::edge::approvals::Store;
use countersign::edge::audit_log::{AuditLog, AuditSettings};
use countersign::edge::clock::Clock;
use countersign::relay::{run_with, Book, Hooks, Io, Operator};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};

/// The operator as a test sees it: each question arrives with the way to answer it.
struct Scripted(mpsc::UnboundedSender<(Ask, oneshot::Sender<Asked>)>);

impl Operator for Scripted {
    fn ask(&self, ask: Ask, _deadline: Instant) -> Pin<Box<dyn Future<Output = Asked> + Send + '_>> {
        let (answer, answered) = oneshot::channel();
        let _ = self.0.send((ask, answer));
        Box::pin(async move {
            match answered.await {
                Ok(asked) => asked,
                // The test dropped the question without answering: a console gone away.
                Err(_) => Asked::TimedOut { detail: "the operator went away".into() },
            }
        })
    }
}

struct Run {
    client: WriteHalf<DuplexStream>,
    from_relay: Lines<BufReader<ReadHalf<DuplexStream>>>,
    server: WriteHalf<DuplexStream>,
    to_server: Lines<BufReader<ReadHalf<DuplexStream>>>,
    questions: mpsc::UnboundedReceiver<(Ask, oneshot::Sender<Asked>)>,
    done: tokio::task::JoinHandle<countersign::core::session::Counts>,
    /// The user's approval book, as `countersign approve` would change it, and its clock.
    book: Store,
    clock: Clock,
    _dir: tempfile::TempDir,
}

/// Runs `test` on paused time, and fails it when it has not finished after 60 s of real
/// time: paused time cannot time a test out (it jumps ahead whenever the test waits on
/// the audit thread). A hung test fails alone; the other tests of this binary, which
/// share its process, go on.
fn paused<F: Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let runner = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(test());
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => runner.join().unwrap(),
        Err(RecvTimeoutError::Disconnected) => std::panic::resume_unwind(runner.join().unwrap_err()),
        Err(RecvTimeoutError::Timeout) => panic!("a session test hung for 60 s"),
    }
}

fn start(headless: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (client_side, relay_client) = tokio::io::duplex(1 << 20);
    let (server_side, relay_server) = tokio::io::duplex(1 << 20);
    let (client_in, client_out) = tokio::io::split(relay_client);
    let (server_out, server_in) = tokio::io::split(relay_server);
    let (from_relay, client) = tokio::io::split(client_side);
    let (to_server, server) = tokio::io::split(server_side);
    let (tx, questions) = mpsc::unbounded_channel();
    let (audit, _thread) = AuditLog::start(AuditSettings {
        dir: dir.path().join("audit"),
        origin: Origin { session: "t".into(), server: "bank".into() },
        clock: Clock::default(),
        retention_days: None,
    });
    let settings = Settings {
        session: "t".into(),
        label: "bank".into(),
        policy: Policy::default(),
        headless,
        approval_timeout: Duration::from_secs(50),
        pins: Default::default(),
        dialog: None,
    };
    let io = Io { client_in, client_out, server_in, server_out };
    // The user's approval book, on a wall clock that moves with the paused tokio time.
    let state = dir.path().join("state");
    std::fs::DirBuilder::new().mode(0o700).create(&state).unwrap();
    let clock = Clock::following_tokio(1_800_000_000_000_000);
    let book = Book {
        store: Ok(Store::in_dir(&state)),
        label: "bank".into(),
        audit_dir: dir.path().join("audit").display().to_string(),
        session: "t".into(),
        clock,
    };
    let hooks = Hooks {
        client_closed: None,
        server_exited: std::future::pending::<()>(),
        clock: Clock::default(),
        pins: None,
        book: Some(book),
    };
    let done = tokio::spawn(run_with(io, settings, audit, Arc::new(Scripted(tx)), hooks));
    Run {
        client,
        from_relay: BufReader::new(from_relay).lines(),
        server,
        to_server: BufReader::new(to_server).lines(),
        questions,
        done,
        book: Store::in_dir(&state),
        clock,
        _dir: dir,
    }
}

impl Run {
    async fn send(&mut self, message: Value) {
        self.client.write_all(format!("{message}\n").as_bytes()).await.unwrap();
    }

    async fn reply(&mut self, message: Value) {
        self.server.write_all(format!("{message}\n").as_bytes()).await.unwrap();
    }

    async fn at_client(&mut self) -> Value {
        let line = self.from_relay.next_line().await;
        serde_json::from_str(&line.unwrap().unwrap()).unwrap()
    }

    async fn at_server(&mut self) -> Value {
        let line = self.to_server.next_line().await;
        serde_json::from_str(&line.unwrap().unwrap()).unwrap()
    }

    /// The handshake, and a listing that makes `refund` destructive and `balance`
    /// read-only.
    async fn ready(&mut self) {
        self.send(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}})).await;
        assert_eq!(self.at_server().await["method"], "initialize");
        self.reply(json!({"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"1"}}})).await;
        self.at_client().await;
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).await;
        self.at_server().await;
        self.send(json!({"jsonrpc":"2.0","id":"l","method":"tools/list"})).await;
        self.at_server().await;
        let tools = json!([{"name":"refund","annotations":{"destructiveHint":true}},{"name":"balance","annotations":{"readOnlyHint":true}}]);
        self.reply(json!({"jsonrpc":"2.0","id":"l","result":{"tools":tools}})).await;
        self.at_client().await;
    }

    async fn call(&mut self, id: u64, tool: &str) {
        self.send(
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"order":"A1"}}}),
        )
        .await;
    }

    /// The call `id` is asked about; nobody can answer it: it comes back denied as
    /// pending, and the pending approval's id is returned.
    async fn pending(&mut self, id: u64) -> String {
        let (_ask, answer) = self.question().await;
        answer.send(Asked::Nobody { why: "no terminal".into() }).unwrap();
        let denial = self.at_client().await;
        assert_eq!(denial["id"], id);
        let text = text(&denial);
        assert!(text.contains("reason=approval_pending"), "{text}");
        let at = text.find("pending approval ").unwrap() + "pending approval ".len();
        text[at..at + 6].to_owned()
    }

    /// The user approves pending approval `id` (as `countersign approve` does).
    fn approve(&self, id: &str) -> Result<(), String> {
        let now = self.clock.now_micros();
        let (approved, _) = self.book.update(now, |book| book.approve(id, "operator:ann@cli", now)).unwrap();
        approved.map(|_| ()).map_err(|e| e.to_string())
    }

    async fn question(&mut self) -> (Ask, oneshot::Sender<Asked>) {
        self.questions.recv().await.unwrap()
    }

    /// The server finishes: whatever is left is failed and the session ends.
    async fn end(mut self) -> countersign::core::session::Counts {
        self.server.shutdown().await.unwrap();
        drop(self.server);
        self.done.await.unwrap()
    }
}

fn operator() -> Asked {
    Asked::Approved { by: By::Operator { user: "ann".into(), place: Place::Console }, lease: false }
}

fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn an_approved_call_runs_and_its_answer_comes_back() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.call(1, "refund").await;
        let (ask, answer) = r.question().await;
        assert_eq!(ask.held.tool, "refund");
        assert!(ask.held.digest.starts_with("sha256:"));
        answer.send(operator()).unwrap();
        assert_eq!(r.at_server().await["id"], 1);
        r.reply(json!({"jsonrpc":"2.0","id":1,"result":{"content":[]}})).await;
        assert_eq!(r.at_client().await["id"], 1);
        assert_eq!(r.end().await.allowed, 1);
    });
}

#[test]
fn cancelled_before_the_operator_answers_never_runs() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.call(1, "refund").await;
        let (_ask, mut answer) = r.question().await;
        r.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})).await;
        // The question is withdrawn: the operator's edge sees the asking future dropped.
        tokio::time::timeout(Duration::from_secs(5), answer.closed()).await.expect("withdrawn");
        // A later request passes, and is the next thing the server sees.
        r.call(2, "balance").await;
        assert_eq!(r.at_server().await["id"], 2, "neither the call nor its cancellation reached the server");
        let counts = r.end().await;
        assert_eq!((counts.allowed, counts.denied), (1, 0));
    });
}

#[test]
fn an_answer_after_the_cancellation_changes_nothing() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.call(1, "refund").await;
        let (_ask, answer) = r.question().await;
        r.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})).await;
        let _ = answer.send(operator());
        r.call(1, "balance").await;
        let next = r.at_server().await;
        assert_eq!((next["id"].clone(), next["params"]["name"].clone()), (json!(1), json!("balance")), "{next}");
        r.end().await;
    });
}

#[test]
fn the_deadline_denies_as_a_timeout_without_anyone_waiting_in_real_time() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.call(1, "refund").await;
        let (_ask, answer) = r.question().await;
        let started = tokio::time::Instant::now();
        let denial = r.at_client().await;
        assert!(text(&denial).contains("reason=approval_timeout"), "{denial}");
        assert!(started.elapsed() >= Duration::from_secs(50));
        assert!(answer.is_closed(), "the question was withdrawn");
        assert_eq!(r.end().await.denied, 1);
    });
}

#[test]
fn a_lease_lapses_after_fifteen_minutes() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.call(1, "refund").await;
        let (_ask, answer) = r.question().await;
        answer
            .send(Asked::Approved { by: By::Operator { user: "ann".into(), place: Place::Console }, lease: true })
            .unwrap();
        assert_eq!(r.at_server().await["id"], 1);
        r.reply(json!({"jsonrpc":"2.0","id":1,"result":{"content":[]}})).await;
        r.at_client().await;
        r.call(2, "refund").await;
        assert_eq!(r.at_server().await["id"], 2, "the lease allows it without asking");
        r.reply(json!({"jsonrpc":"2.0","id":2,"result":{"content":[]}})).await;
        r.at_client().await;
        tokio::time::sleep(Duration::from_secs(15 * 60 + 1)).await;
        r.call(3, "refund").await;
        let (ask, _answer) = r.question().await;
        assert_eq!(ask.held.tool, "refund", "asked again once the lease lapsed");
        r.end().await;
    });
}

#[test]
fn a_pending_approval_approved_later_runs_one_call_and_everything_lapses() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.call(1, "refund").await;
        let first = r.pending(1).await;
        r.approve(&first).unwrap();
        r.call(2, "refund").await;
        assert_eq!(r.at_server().await["id"], 2, "the receipt runs the same call without asking");
        r.reply(json!({"jsonrpc":"2.0","id":2,"result":{"content":[]}})).await;
        r.at_client().await;
        // Used up: the same call again is asked, and kept under a new id.
        r.call(3, "refund").await;
        let second = r.pending(3).await;
        assert_ne!(second, first);
        assert!(r.approve(&first).unwrap_err().contains(&first), "a consumed approval cannot be approved again");
        // A receipt lapses after 10 minutes.
        r.approve(&second).unwrap();
        tokio::time::sleep(Duration::from_secs(10 * 60 + 1)).await;
        r.call(4, "refund").await;
        let third = r.pending(4).await;
        // A pending approval lapses after an hour.
        tokio::time::sleep(Duration::from_secs(3600 + 1)).await;
        assert!(r.approve(&third).unwrap_err().contains("lapsed"));
        r.end().await;
    });
}

#[test]
fn the_server_dying_fails_what_it_will_never_answer() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.call(1, "balance").await;
        r.at_server().await;
        r.call(2, "refund").await;
        let (_ask, mut answer) = r.question().await;
        r.server.shutdown().await.unwrap();
        let mut errors = [r.at_client().await, r.at_client().await];
        errors.sort_by_key(|e| e["id"].as_u64());
        assert_eq!(errors.iter().map(|e| e["error"]["code"].clone()).collect::<Vec<_>>(), vec![json!(-32603); 2]);
        tokio::time::timeout(Duration::from_secs(5), answer.closed()).await.expect("the held call is withdrawn");
        let counts = r.done.await.unwrap();
        assert_eq!(counts.allowed, 1);
    });
}

#[test]
fn a_waiting_client_gets_progress_every_five_seconds() {
    paused(|| async {
        let mut r = start(false);
        r.ready().await;
        r.send(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund","_meta":{"progressToken":7}}}),
        )
        .await;
        let (_ask, answer) = r.question().await;
        let started = tokio::time::Instant::now();
        for n in 1..=3 {
            let note = r.at_client().await;
            assert_eq!(
                (note["method"].clone(), note["params"]["progress"].clone()),
                (json!("notifications/progress"), json!(n))
            );
        }
        assert!(started.elapsed() >= Duration::from_secs(15));
        answer
            .send(Asked::Denied { by: By::Operator { user: "ann".into(), place: Place::Console }, reason: None })
            .unwrap();
        assert!(text(&r.at_client().await).contains("denied_by_operator"));
        r.end().await;
    });
}

#[test]
fn a_server_that_stops_reading_holds_back_the_client_but_still_reaches_it() {
    paused(|| async {
        let mut r = start(true);
        r.ready().await;
        // The server reads nothing more: the client's notifications fill the pipe to it, then
        // the writer's queue, then countersign stops reading the client (back-pressure), so
        // the client's own writes stop going anywhere.
        let pad = "p".repeat(100 << 10);
        let line = format!("{}\n", json!({"jsonrpc":"2.0","method":"notifications/message","params":{"pad":pad}}));
        let mut sent = 0;
        while tokio::time::timeout(Duration::from_secs(1), r.client.write_all(line.as_bytes())).await.is_ok() {
            sent += 1;
            assert!(sent < 60, "6 MB went somewhere: nothing held the client back");
        }
        assert!(sent > 20, "the pipes and the queue hold about 2.3 MB before it stops: {sent}");
        // The other direction still flows.
        r.reply(
            json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"still here"}}),
        )
        .await;
        assert_eq!(r.at_client().await["params"]["data"], "still here");
        r.end().await;
    });
}
