//! `countersign approver`: a full-screen console that answers held calls from every
//! countersign process of this user, for clients that start servers without a terminal
//! or own the terminal themselves.

use std::collections::VecDeque;
use std::io::Write;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, style, terminal};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use crate::core::prompt::{render, render_full, Answer, Held};
use crate::core::sanitize::inert_cut;
use crate::edge::approver::{self, Reply};
use crate::edge::runtime_dir::user_name;
use crate::Error;

struct Pending {
    held: Held,
    stream: UnixStream,
    deadline: Instant,
}

enum Input {
    Key(char),
    Quit,
    Redraw,
}

pub fn run() -> Result<i32, Error> {
    super::block_on(console())?
}

async fn console() -> Result<i32, Error> {
    let listener = approver::listen().await.map_err(|e| Error::io("starting the approver console", e))?;
    let (held_tx, mut arrivals) = mpsc::channel::<(approver::Hold, UnixStream)>(64);
    tokio::spawn(async move {
        while let Ok(item) = approver::accept(&listener).await {
            if held_tx.send(item).await.is_err() {
                return;
            }
        }
    });
    let (key_tx, mut keys) = mpsc::channel(16);
    std::thread::spawn(move || read_keys(key_tx));
    let _screen = Screen::enter().map_err(|e| Error::io("preparing the terminal", e))?;
    let mut queue: Vec<Pending> = Vec::new();
    let mut recent: VecDeque<String> = VecDeque::new();
    let mut viewing = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        draw(&queue, &recent, viewing).map_err(|e| Error::io("drawing", e))?;
        tokio::select! {
            Some((hold, stream)) = arrivals.recv() => {
                let deadline = Instant::now() + Duration::from_secs(hold.seconds);
                queue.push(Pending { held: hold.held, stream, deadline });
            }
            input = keys.recv() => match input {
                None | Some(Input::Quit) => break,
                Some(Input::Redraw) => {}
                Some(Input::Key('v')) => viewing = !viewing,
                Some(Input::Key(c)) => {
                    let answer = match c {
                        'y' => Answer::Approve,
                        'n' => Answer::Deny,
                        'a' => Answer::Lease,
                        _ => continue,
                    };
                    if !queue.is_empty() {
                        let mut first = queue.remove(0);
                        viewing = false;
                        let reply = Reply { answer, user: user_name() };
                        let sent = approver::answer(&mut first.stream, &reply).await.is_ok();
                        let what = if sent { format!("{answer:?}").to_lowercase() } else { "gone before the answer".into() };
                        remember(&mut recent, &first.held, &what);
                    }
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let mut kept = Vec::new();
                for p in queue.drain(..) {
                    if now >= p.deadline {
                        remember(&mut recent, &p.held, "timed out");
                    } else if closed(&p.stream) {
                        remember(&mut recent, &p.held, "withdrawn by the client");
                    } else {
                        kept.push(p);
                    }
                }
                queue = kept;
            }
        }
    }
    approver::unlink();
    Ok(0)
}

/// Has the wrapper closed its end (the call was cancelled or the wrapper exited)?
fn closed(stream: &UnixStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Ok(0))
}

fn remember(recent: &mut VecDeque<String>, held: &Held, what: &str) {
    let line = format!("{}  {}  {}", inert_cut(&held.server, 30), inert_cut(&held.tool, 40), what);
    recent.push_front(line);
    recent.truncate(10);
}

fn read_keys(tx: mpsc::Sender<Input>) {
    loop {
        let input = match crossterm::event::read() {
            Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => match k.code {
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Input::Quit,
                KeyCode::Char('q') => Input::Quit,
                KeyCode::Char(c) => Input::Key(c.to_ascii_lowercase()),
                _ => continue,
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

fn draw(queue: &[Pending], recent: &VecDeque<String>, viewing: bool) -> std::io::Result<()> {
    // A terminal that reports no size (some ptys) gets a usual one.
    let (width, height) = match terminal::size() {
        Ok((w, h)) if w > 0 && h > 0 => (w, h),
        _ => (100, 40),
    };
    let mut lines = vec![
        format!("countersign approver — {} held call(s)   [y] approve  [n] deny  [a] allow tool 15 min  [v] view all  [q] quit", queue.len()),
        String::new(),
    ];
    let now = Instant::now();
    for (n, p) in queue.iter().enumerate() {
        let left = p.deadline.saturating_duration_since(now).as_secs();
        lines.push(format!(
            "{} {}. {} / {} ({})  {left}s left",
            if n == 0 { ">" } else { " " },
            n + 1,
            inert_cut(&p.held.server, 30),
            inert_cut(&p.held.tool, 40),
            p.held.class
        ));
    }
    if let Some(first) = queue.first() {
        lines.push(String::new());
        lines.extend(render(&first.held).into_iter().skip(1));
        if viewing {
            lines.extend(render_full(&first.held));
        }
    } else {
        lines.push("  nothing is waiting".into());
    }
    lines.push(String::new());
    lines.push("recent decisions:".into());
    lines.extend(recent.iter().map(|r| format!("  {r}")));
    let mut out = std::io::stdout().lock();
    queue!(out, terminal::Clear(terminal::ClearType::All), cursor::MoveTo(0, 0))?;
    for (row, line) in lines.iter().take(height as usize).enumerate() {
        let shown: String = line.chars().take(width as usize).collect();
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
