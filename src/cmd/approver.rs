//! `countersign approver`: a full-screen console that answers held calls from every
//! countersign process of this user, for clients that start servers without a terminal
//! or own the terminal themselves.
//!
//! Keys: up/down pick the call (the oldest by default), the prompt's keys answer it
//! (`n` then takes an optional reason: Enter sends it, Esc sends none), PageUp/PageDown
//! scroll its arguments, `v` shows the whole payload, `q` quits. A call arriving rings the
//! bell and sets the terminal title. The console never times a call out: it shows the
//! seconds left and drops the call when its wrapper closes the connection.
//!
//! Below the held calls, the approval book (PRODUCT.md section 6a, docs/approvals.md):
//! the pending approvals, answered with the same keys (`y` or the digest's code approves:
//! the next identical call runs once; `n` denies), and the leases (`r` revokes the
//! selected one). The held calls stay first.

use std::io::Write;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, style, terminal};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::approvals::console::{Act, BookPane, Entry};
use crate::core::prompt::{render, render_full, Answer, Held, Keys, Step, CODE_DIGITS};
use crate::core::sanitize::{inert, inert_cut};
use crate::edge::approver::{self, Reply, REASON_MAX};
use crate::edge::runtime_dir::user_name;
use crate::edge::tty::GRACE;
use crate::Error;

struct Pending {
    held: Held,
    keys: Keys,
    stream: UnixStream,
    deadline: Instant,
}

enum Input {
    Key(KeyCode),
    Quit,
    Redraw,
}

/// How often the approval book is read again.
const BOOK_REFRESH: Duration = Duration::from_secs(1);

/// What a key asked for.
enum Did {
    /// Answer held call `i`.
    Call(usize, Answer, Option<String>),
    /// Change the approval book.
    Book(Act),
}

/// Everything on screen besides the calls themselves.
#[derive(Default)]
struct View {
    /// Index of the selected call.
    selected: usize,
    /// When the selected call was first shown (keys before GRACE after it are ignored).
    shown_at: Option<Instant>,
    /// The whole payload instead of the cut one.
    full: bool,
    /// First line of the details shown.
    scroll: usize,
    /// Typing a reason for a denial.
    reason: Option<String>,
    /// One line of feedback (a wrong code).
    note: Option<String>,
    recent: std::collections::VecDeque<String>,
    /// The keys of the selected pending approval (its id): a digest code is typed for it.
    book_keys: Option<(String, Keys)>,
    /// The operator chose the selection (up/down) rather than taking the default.
    picked: bool,
    /// `q` was pressed once while calls wait: the next `q` quits.
    quitting: bool,
}

pub(super) fn run() -> Result<i32, Error> {
    super::runtime::block_on(console())?
}

async fn console() -> Result<i32, Error> {
    let listener = approver::listen().await.map_err(|e| Error::io("starting the approver console", e))?;
    let (held_tx, mut arrivals) = mpsc::channel::<(approver::Hold, UnixStream)>(64);
    tokio::spawn(approver::serve(listener, held_tx));
    let (key_tx, mut keys) = mpsc::channel(16);
    std::thread::spawn(move || read_keys(key_tx));
    let _screen = Screen::enter().map_err(|e| Error::io("preparing the terminal", e))?;
    let mut calls: Vec<Pending> = Vec::new();
    let mut view = View::default();
    let mut book = BookPane::open();
    let mut book_read = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        if calls.len() + book.len() > 0 && view.shown_at.is_none() {
            view.shown_at = Some(Instant::now());
        }
        draw(&calls, &book, &view).map_err(|e| Error::io("drawing", e))?;
        tokio::select! {
            Some((hold, stream)) = arrivals.recv() => {
                let deadline = Instant::now() + Duration::from_millis(hold.ms_left);
                let keys = Keys::new(&hold.held);
                calls.push(Pending { held: hold.held, keys, stream, deadline });
                // The book's entries come after the held calls. An entry the operator
                // picked stays selected (it moved down one row); otherwise the held call,
                // which has a client waiting, is shown (with a fresh grace period).
                if view.selected + 1 >= calls.len() && book.len() > 0 {
                    if view.picked {
                        view.selected += 1;
                    } else {
                        select(&mut view, 0, calls.len() + book.len());
                    }
                }
                announce(calls.len(), true);
            }
            input = keys.recv() => match input {
                None | Some(Input::Quit) => break,
                // With calls waiting, a first `q` only says what quitting does.
                Some(Input::Key(KeyCode::Char('q'))) if view.reason.is_none() && (calls.is_empty() || view.quitting) => break,
                Some(Input::Key(KeyCode::Char('q'))) if view.reason.is_none() => {
                    view.quitting = true;
                    view.note = Some(format!(
                        "{} held call(s) wait here: q again quits, and their wrappers deny them as not answered in time",
                        calls.len()
                    ));
                }
                Some(Input::Redraw) => {}
                Some(Input::Key(code)) => match on_key(code, &mut calls, &book, &mut view) {
                    Some(Did::Book(act)) => {
                        let said = book.act(act).await;
                        select(&mut view, 0, calls.len() + book.len());
                        view.recent.push_front(said);
                        view.recent.truncate(10);
                    }
                    Some(Did::Call(i, answer, reason)) => {
                        let mut call = calls.remove(i);
                        select(&mut view, 0, calls.len() + book.len());
                        restart_codes(&mut calls);
                        let reply = Reply { answer, user: user_name(), reason: reason.clone() };
                        let sent = approver::answer(&mut call.stream, &reply).await.is_ok();
                        announce(calls.len(), false);
                        let mut what = if sent { answered(answer).to_owned() } else { "gone before the answer".into() };
                        if let Some(reason) = reason {
                            what.push_str(&format!(": {}", inert_cut(&reason, 60)));
                        }
                        remember(&mut view, &call.held, &what);
                    }
                    None => {}
                },
            },
            _ = tick.tick() => {
                let selected = calls.get(view.selected).map(|c| c.deadline);
                let selected_entry = view.selected.checked_sub(calls.len()).and_then(|i| book.id(i)).map(str::to_owned);
                let before = calls.len();
                let before_book: Vec<String> = (0..book.len()).filter_map(|i| book.id(i).map(str::to_owned)).collect();
                if book_read.elapsed() >= BOOK_REFRESH {
                    book.refresh();
                    book_read = Instant::now();
                }
                let mut kept = Vec::new();
                for call in calls.drain(..) {
                    if closed(&call.stream) {
                        remember(&mut view, &call.held, "withdrawn or timed out by its wrapper");
                    } else {
                        kept.push(call);
                    }
                }
                calls = kept;
                let after_book: Vec<String> = (0..book.len()).filter_map(|i| book.id(i).map(str::to_owned)).collect();
                if calls.len() != before || after_book != before_book {
                    // Keep the selection on the same call or entry when it is still there.
                    let at = match &selected_entry {
                        Some(id) => book.position(id).map(|i| i + calls.len()),
                        None => selected.and_then(|d| calls.iter().position(|c| c.deadline == d)),
                    };
                    if at != Some(view.selected) {
                        let picked = view.picked && at.is_some();
                        select(&mut view, at.unwrap_or(0), calls.len() + book.len());
                        view.picked = picked;
                    }
                    if calls.len() != before {
                        announce(calls.len(), false);
                    }
                }
            }
        }
    }
    approver::unlink();
    Ok(0)
}

/// Applies one key; returns what it asked for: a held call answered (its index, the
/// answer and a reason) or a change to the approval book.
fn on_key(code: KeyCode, calls: &mut [Pending], book: &BookPane, view: &mut View) -> Option<Did> {
    // Any other key takes back a first `q`.
    view.quitting = false;
    let held = calls.len();
    let n = held + book.len();
    // The selected pending approval's id, when one is selected.
    let entry = view.selected.checked_sub(held).and_then(|i| book.entry(i));
    let deny = |reason: Option<String>| match &entry {
        _ if view.selected < held => Some(Did::Call(view.selected, Answer::Deny, reason)),
        Some(Entry::Pending(p)) => Some(Did::Book(Act::Deny(p.id.clone(), reason))),
        _ => None,
    };
    if let Some(reason) = view.reason.as_mut() {
        match code {
            KeyCode::Enter => {
                let reason = view.reason.take().filter(|r| !r.trim().is_empty());
                return deny(reason);
            }
            KeyCode::Esc => {
                view.reason = None;
                return deny(None);
            }
            KeyCode::Backspace => {
                reason.pop();
            }
            KeyCode::Char(c) if reason.chars().count() < REASON_MAX && !c.is_control() => reason.push(c),
            _ => {}
        }
        return None;
    }
    match code {
        KeyCode::Up if view.selected > 0 => {
            select(view, view.selected - 1, n);
            view.picked = true;
            restart_codes(calls);
        }
        KeyCode::Down if view.selected + 1 < n => {
            select(view, view.selected + 1, n);
            view.picked = true;
            restart_codes(calls);
        }
        KeyCode::PageUp => view.scroll = view.scroll.saturating_sub(10),
        KeyCode::PageDown => view.scroll += 10,
        KeyCode::Home => view.scroll = 0,
        KeyCode::Char(c) => {
            if view.shown_at.is_some_and(|at| at.elapsed() < GRACE) {
                return None;
            }
            let keys = match entry {
                _ if view.selected < held => &mut calls[view.selected].keys,
                Some(Entry::Lease(l)) => {
                    return (c == 'r' || c == 'R').then(|| Did::Book(Act::Revoke(l.id.clone())));
                }
                Some(Entry::Pending(p)) => {
                    if view.book_keys.as_ref().is_none_or(|(id, _)| *id != p.id) {
                        let mut held = p.held.clone();
                        held.digest = p.digest.clone();
                        view.book_keys = Some((p.id.clone(), Keys::new(&held).for_one_call()));
                    }
                    &mut view.book_keys.as_mut()?.1
                }
                None => return None,
            };
            let step = keys.press(c);
            view.note = None;
            match step {
                Step::Answer(Answer::Deny) if c == 'n' || c == 'N' => view.reason = Some(String::new()),
                Step::Answer(Answer::Approve) if view.selected >= held => {
                    let (id, _) = view.book_keys.take()?;
                    return Some(Did::Book(Act::Approve(id)));
                }
                Step::Answer(answer) if view.selected < held => return Some(Did::Call(view.selected, answer, None)),
                Step::Answer(_) => {}
                Step::View => {
                    view.full = !view.full;
                    view.scroll = 0;
                }
                Step::Wrong(code) => {
                    view.note = Some(format!(
                        "{code} is not the digest's first {CODE_DIGITS} digits: nothing approved, the call still waits"
                    ))
                }
                Step::Typing(_) | Step::Ignored => {}
            }
        }
        KeyCode::Backspace => {
            if let Some(call) = calls.get_mut(view.selected) {
                call.keys.press('\u{7f}');
            } else if let Some((_, keys)) = view.book_keys.as_mut() {
                keys.press('\u{7f}');
            }
        }
        _ => {}
    }
    None
}

/// Shows call `i` (of `n`): from the top, with a fresh grace period.
fn select(view: &mut View, i: usize, n: usize) {
    view.selected = i.min(n.saturating_sub(1));
    view.shown_at = None;
    view.full = false;
    view.scroll = 0;
    view.reason = None;
    view.note = None;
    view.book_keys = None;
    view.picked = false;
}

/// Forgets half-typed digest codes: a code is typed for the call on screen, whole.
fn restart_codes(calls: &mut [Pending]) {
    for call in calls {
        call.keys = Keys::new(&call.held);
    }
}

/// An answer as the recent decisions list says it.
fn answered(answer: Answer) -> &'static str {
    match answer {
        Answer::Approve => "approved once",
        Answer::Deny => "denied",
        Answer::Lease => "approved, lease granted",
        Answer::AcceptPin => "change accepted",
    }
}

/// The window title when the number of held calls changes, and the bell when one arrives.
fn announce(held: usize, ring: bool) {
    let mut out = std::io::stdout().lock();
    let title = if held == 0 { "countersign approver".to_owned() } else { format!("countersign: {held} held") };
    let _ = queue!(out, terminal::SetTitle(title));
    if ring {
        let _ = out.write_all(b"\x07");
    }
    let _ = out.flush();
}

/// Has the wrapper closed its end (the call was cancelled or timed out, or it exited)?
fn closed(stream: &UnixStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Ok(0))
}

fn remember(view: &mut View, held: &Held, what: &str) {
    let line = format!("{}  {}  {}", inert_cut(&held.server, 30), inert_cut(&held.tool, 40), what);
    view.recent.push_front(line);
    view.recent.truncate(10);
}

fn read_keys(tx: mpsc::Sender<Input>) {
    loop {
        let input = match crossterm::event::read() {
            Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => match k.code {
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Input::Quit,
                code => Input::Key(code),
            },
            Ok(Event::Resize(..)) => Input::Redraw,
            Ok(_) => continue,
            Err(_) => Input::Quit,
        };
        let quit = matches!(input, Input::Quit);
        if tx.blocking_send(input).is_err() || quit {
            return;
        }
    }
}

/// `line` in pieces of at most `width` characters (long arguments wrap, never cut).
fn wrap(line: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(width.max(1)).map(|c| c.iter().collect()).collect()
}

fn draw(calls: &[Pending], book: &BookPane, view: &View) -> std::io::Result<()> {
    // A terminal that reports no size (some ptys) gets a usual one.
    let (width, height) = match terminal::size() {
        Ok((w, h)) if w > 0 && h > 0 => (w as usize, h as usize),
        _ => (100, 40),
    };
    let mut top = vec![
        format!(
            "countersign approver — {} held call(s)   [up/down] pick  [PgUp/PgDn] scroll  [v] view all  [r] revoke a lease  [q] quit",
            calls.len()
        ),
        String::new(),
    ];
    let now = Instant::now();
    for (n, p) in calls.iter().enumerate() {
        // Rounded up: a call with 0.4 s left still has time.
        let left = p.deadline.saturating_duration_since(now).as_millis().div_ceil(1000);
        top.push(format!(
            "{} {}. {} / {} ({})  {left}s left",
            if n == view.selected { ">" } else { " " },
            n + 1,
            inert_cut(&p.held.server, 30),
            inert_cut(&p.held.tool, 40),
            inert(&p.held.class)
        ));
    }
    top.push(String::new());
    top.extend(book.rows(calls.len() + 1, view.selected.checked_sub(calls.len())));
    let mut details = Vec::new();
    let mut bottom = vec![String::new()];
    let reason_line = |reason: &str| format!("  reason (Enter sends, Esc sends none): {}_", inert(reason));
    if let Some(i) = view.selected.checked_sub(calls.len()).filter(|i| *i < book.len()) {
        top.push(String::new());
        let keys = view.book_keys.as_ref().filter(|(id, _)| book.id(i) == Some(id)).map(|(_, k)| k);
        let (lines, keys_line) = book.details(i, view.full, keys);
        details.extend(lines);
        bottom.push(match &view.reason {
            Some(reason) => reason_line(reason),
            None => keys_line,
        });
        if let Some(note) = &view.note {
            bottom.push(format!("  {note}"));
        }
    } else if let Some(call) = calls.get(view.selected) {
        top.push(String::new());
        details.extend(render(&call.held).into_iter().skip(1));
        if view.full {
            details.extend(render_full(&call.held));
        }
        let left = call.deadline.saturating_duration_since(now).as_millis().div_ceil(1000) as u64;
        bottom.push(match &view.reason {
            Some(reason) => format!("  reason for the model (Enter sends, Esc sends none): {}_", inert(reason)),
            None => call.keys.line(left),
        });
        if let Some(note) = &view.note {
            bottom.push(format!("  {note}"));
        }
    } else if book.len() == 0 {
        top.push("  nothing is waiting".into());
    }
    bottom.push(String::new());
    bottom.push("recent decisions:".into());
    bottom.extend(view.recent.iter().map(|r| format!("  {r}")));
    let details: Vec<String> = details.iter().flat_map(|l| wrap(l, width)).collect();
    let room = height.saturating_sub(top.len() + bottom.len()).max(3);
    let scroll = view.scroll.min(details.len().saturating_sub(room));
    let mut shown: Vec<String> = details.iter().skip(scroll).take(room).cloned().collect();
    if details.len() > room {
        let last = shown.len().saturating_sub(1);
        shown[last] = format!("  … lines {}-{} of {} (PgUp/PgDn)", scroll + 1, scroll + room, details.len());
    }
    let lines: Vec<String> = top.into_iter().chain(shown).chain(bottom).collect();
    let mut out = std::io::stdout().lock();
    queue!(out, terminal::Clear(terminal::ClearType::All), cursor::MoveTo(0, 0))?;
    for (row, line) in lines.iter().take(height).enumerate() {
        let shown: String = line.chars().take(width).collect();
        queue!(out, cursor::MoveTo(0, row as u16), style::Print(shown))?;
    }
    out.flush()
}

/// Raw mode and the alternate screen, restored on drop (Ctrl-C included: it arrives as a key).
struct Screen;

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        terminal::enable_raw_mode()?;
        execute!(std::io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(std::io::stdout(), cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}
