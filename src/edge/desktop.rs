//! The user's desktop: opening the approval page in their browser and announcing it with
//! a notification (PRODUCT.md section 6, step 4).
//!
//! MCP clients start servers with a stripped environment (HOME, LOGNAME, PATH, SHELL,
//! TERM, USER), so countersign often has no `DISPLAY`, `WAYLAND_DISPLAY` or session bus
//! of its own. It then takes them from its nearest ancestor that has one of the three
//! (the client itself, a GUI program of the user's), as the terminal lookup takes the
//! ancestor's terminal, and passes them to the programs it starts here.
//!
//! Linux: `xdg-open <url>` opens the page; `notify-send` puts a notification through the
//! freedesktop notification service on the session bus, with an "Open" action that opens
//! the page. macOS: `open <url>`, and `osascript`'s `display notification` (which cannot
//! carry an action; the page is already open). Nothing here is waited for by the call:
//! the page is served and its link is on stderr whether or not a browser appears.

use std::ffi::OsString;
use std::process::Stdio;

use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

/// The variables a desktop program needs to reach the user's session.
const SESSION_VARS: [&str; 5] =
    ["DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "XAUTHORITY"];

/// The desktop session's variables: countersign's own when it has a display, else its
/// nearest ancestor's that has one (same user only). Empty when none has.
pub fn session_env() -> Vec<(String, OsString)> {
    let own: Vec<(String, OsString)> =
        SESSION_VARS.iter().filter_map(|k| std::env::var_os(k).map(|v| (k.to_string(), v))).collect();
    if has_display(&own) {
        return own;
    }
    ancestor_env().unwrap_or(own)
}

fn has_display(vars: &[(String, OsString)]) -> bool {
    vars.iter().any(|(k, _)| k == "DISPLAY" || k == "WAYLAND_DISPLAY")
}

#[cfg(target_os = "linux")]
fn ancestor_env() -> Option<Vec<(String, OsString)>> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let me = crate::edge::runtime_dir::uid();
    let mut pid = std::process::id() as i32;
    // Bounded as the terminal lookup is (edge::tty::find).
    for _ in 0..4096 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (ppid, _) = crate::edge::tty::parse_stat(&stat)?;
        if ppid <= 1 {
            return None;
        }
        pid = ppid;
        let path = format!("/proc/{pid}/environ");
        if std::fs::metadata(&path).ok()?.uid() != me {
            return None;
        }
        let Ok(environ) = std::fs::read(&path) else {
            continue;
        };
        let vars: Vec<(String, OsString)> = environ
            .split(|b| *b == 0)
            .filter_map(|entry| {
                let eq = entry.iter().position(|b| *b == b'=')?;
                let key = std::str::from_utf8(&entry[..eq]).ok()?;
                SESSION_VARS
                    .contains(&key)
                    .then(|| (key.to_owned(), std::ffi::OsStr::from_bytes(&entry[eq + 1..]).to_owned()))
            })
            .collect();
        if has_display(&vars) {
            return Some(vars);
        }
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn ancestor_env() -> Option<Vec<(String, OsString)>> {
    // macOS needs no display variables: `open` and `osascript` reach the user's session.
    None
}

fn command(program: &str, env: &[(String, OsString)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd.kill_on_drop(false);
    cmd
}

/// Opens `url` with the platform's opener, without waiting for it.
pub fn open(url: &str, env: &[(String, OsString)]) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    spawn_and_reap(command(opener, env).arg(url), opener);
}

/// A notification that a call waits, naming the server and tool (made inert; markup
/// escaped, as the freedesktop service may read the body as markup); choosing its
/// "Open" action opens `url`. Aborting the returned task ends the notifier (the call
/// was answered).
pub fn notify(server: &str, tool: &str, url: &str, env: &[(String, OsString)]) -> Option<tokio::task::JoinHandle<()>> {
    let plain = |s: &str| crate::core::sanitize::inert_cut(s, 60);
    let summary = format!("countersign: {} on {} waits for approval", plain(tool), plain(server));
    if cfg!(target_os = "macos") {
        let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let script = format!("display notification \"{}\" with title \"countersign\"", quoted(&summary));
        spawn_and_reap(command("osascript", env).arg("-e").arg(script), "osascript");
        return None;
    }
    let body = crate::core::approval_page::escape("Open the approval page to read the call and answer it.");
    let mut cmd = command("notify-send", env);
    cmd.args(["--app-name=countersign", "--urgency=critical", "--action=open=Open", "--wait"])
        .arg(crate::core::approval_page::escape(&summary))
        .arg(body)
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let Ok(mut child) = cmd.spawn() else {
        tracing::debug!("no notify-send: no desktop notification");
        return None;
    };
    let (url, env) = (url.to_owned(), env.to_vec());
    Some(tokio::spawn(async move {
        // `--wait` prints the chosen action's name once the notification is clicked.
        if let Some(stdout) = child.stdout.take() {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim() == "open" {
                    open(&url, &env);
                }
            }
        }
        let _ = child.wait().await;
    }))
}

fn spawn_and_reap(cmd: &mut Command, what: &'static str) {
    match cmd.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => tracing::debug!("cannot start {what}: {e}"),
    }
}
