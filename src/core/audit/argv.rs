//! Redacting the server's command line for the `session_start` record: `--token=…` and
//! `--password …` flags, `NAME=value` arguments (`env API_KEY=…`, `docker run -e
//! DB_PASSWORD=…`) with a secret-looking name, URL passwords and secrets in well-known
//! formats. The rules themselves live in [`super::secrets`].

use super::excerpt::redact_json_text;
use super::secrets::{is_secret_key, redact_secrets, REDACTED};

/// `argv` as it may be written to the log.
pub fn redact_argv(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for arg in argv {
        if std::mem::take(&mut hide_next) && !arg.starts_with('-') {
            out.push(REDACTED.to_owned());
            continue;
        }
        let mut shown = std::borrow::Cow::Borrowed(arg.as_str());
        if let Some(flag) = arg.strip_prefix('-') {
            let flag = flag.strip_prefix('-').unwrap_or(flag);
            match flag.split_once('=') {
                // `--token=VALUE`: the value goes; the name is checked as any text is.
                Some((name, _)) if is_secret_key(name) => {
                    shown = format!("{}={REDACTED}", &arg[..arg.len() - flag.len() + name.len()]).into();
                }
                // `--password VALUE`: the value is the next argument.
                None if !flag.is_empty() && is_secret_key(flag) => hide_next = true,
                _ => {}
            }
        }
        let text = redact_secrets(&shown);
        // JSON given on the command line (`--config '{"token":"…"}'`).
        let text = if text.contains('"') { redact_json_text(&text) } else { text.into_owned() };
        out.push(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(argv: &[&str]) -> Vec<String> {
        redact_argv(&argv.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_assignments_and_urls_lose_their_secrets() {
        assert_eq!(
            red(&["server", "--token=abc", "--api-key", "xyz", "-p", "5432", "--verbose", "--password", "--x"]),
            ["server", "--token=[REDACTED]", "--api-key", "[REDACTED]", "-p", "5432", "--verbose", "--password", "--x"]
        );
        assert_eq!(
            red(&["docker", "run", "-e", "DB_PASSWORD=hunter2", "-e", "MODE=ro", "img"]),
            ["docker", "run", "-e", "DB_PASSWORD=[REDACTED]", "-e", "MODE=ro", "img"]
        );
        assert_eq!(
            red(&["mcp-postgres", "postgresql://admin:hunter2@db:5432/app"]),
            ["mcp-postgres", "postgresql://admin:[REDACTED]@db:5432/app"]
        );
        assert_eq!(red(&["x", "sk-live-abcdefghijklmnopqrstuvwxyz"]), ["x", "[REDACTED]"]);
        assert_eq!(red(&["x", r#"--config={"token":"t0k"}"#]), ["x", r#"--config={"token":"[REDACTED]"}"#]);
        // A flag whose name looks secret and holds a secret in a well-known format.
        let secret = "sk-proj-Zq8fuzzPlantedSecret0123456789";
        let shown = red(&["x", &format!("- {secret} &=v")]);
        assert!(!shown[1].contains("PlantedSecret"), "{shown:?}");
        assert!(shown[1].ends_with("=[REDACTED]"), "{shown:?}");
        assert_eq!(
            red(&["npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/keys"]),
            ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/keys"]
        );
    }
}
