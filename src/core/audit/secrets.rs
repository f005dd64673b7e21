//! The one place that says what a secret looks like (PRODUCT.md section 7): a key that
//! names one ([`is_secret_key`]) and text in a well-known secret format
//! ([`is_secret_value`], [`redact_secrets`]). Every redactor of the audit log (the JSON
//! tree, raw excerpts, the server's argv) asks these and nothing else.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

pub const REDACTED: &str = "[REDACTED]";

/// Word parts that name a secret on their own, matched whole: `pin` and `pin_code`, not
/// `spinner`; `key` and `apiKey`, not `keyboard` or `monkey`.
const WHOLE_PARTS: &[&str] = &[
    "pass", "pwd", "pin", "otp", "key", "keys", "auth", "dsn", "session", "sessions", "token", "tokens", "jwt",
    "creds", "sid", "totp", "mfa",
];

/// Fragments that name a secret anywhere inside a part, so that keys written as one word
/// (`PGPASSWORD`, `clientsecret`, `apikey`, `accesstoken`) match too.
const FRAGMENTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "apikey",
    "authorization",
    "credential",
    "privatekey",
    "accesskey",
    "secretkey",
    "sessionkey",
    "sessionid",
    "cookie",
    "signature",
    "bearer",
];

/// Tails of a one-word part: `accesstoken`, `authtoken`, `githubtoken` (but `tokenizer`
/// is not a token).
const SUFFIXES: &[&str] = &["token", "tokens", "otp", "pin", "pwd"];

/// Splits a key into lowercase word parts: on every character that is not a letter, and
/// at camelCase boundaries (`apiKey` → `api`, `key`; `APIKey` → `api`, `key`).
pub fn key_parts(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut parts = Vec::new();
    let mut part = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphabetic() {
            if !part.is_empty() {
                parts.push(std::mem::take(&mut part));
            }
            continue;
        }
        if c.is_uppercase() && !part.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || (prev.is_uppercase() && next_lower) {
                parts.push(std::mem::take(&mut part));
            }
        }
        part.extend(c.to_lowercase());
    }
    if !part.is_empty() {
        parts.push(part);
    }
    parts
}

/// True when a value under `key` is to be kept out of the log. Case-insensitive, on word
/// parts (see docs/audit.md, "Redaction").
pub fn is_secret_key(key: &str) -> bool {
    // One lowercase word (most keys) is its only part and its parts joined: no need to
    // split it.
    if key.bytes().all(|b| b.is_ascii_lowercase()) {
        return secret_part(key);
    }
    is_secret_key_by_parts(key)
}

fn is_secret_key_by_parts(key: &str) -> bool {
    let parts = key_parts(key);
    let joined: String = parts.concat();
    parts.iter().any(|p| secret_part(p)) || FRAGMENTS.iter().any(|f| joined.contains(f) && f.len() >= 8)
}

/// One lowercase word part that names a secret.
fn secret_part(p: &str) -> bool {
    WHOLE_PARTS.contains(&p)
        || FRAGMENTS.iter().any(|f| p.contains(f))
        || SUFFIXES.iter().any(|s| p.len() > s.len() + 2 && p.ends_with(s))
}

/// Secret formats, each matching the whole secret so that replacing the match removes it.
const FORMATS: &[&str] = &[
    // OpenAI and Anthropic style keys (`sk-…`, `sk-proj-…`, `sk-ant-…`), Stripe keys.
    r"\bsk-[A-Za-z0-9_\-]{16,}",
    r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}",
    r"\b(?:sk|rk)-(?:live|test)-[A-Za-z0-9_\-]{10,}",
    // GitHub, GitLab, Slack.
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bglpat-[A-Za-z0-9_\-]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    // AWS access key ids.
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    // JWTs.
    r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",
    // PEM private keys, to their end marker or the end of the text.
    r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
    // HTTP credentials.
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*",
    r"(?i)\bbasic\s+[A-Za-z0-9+/]{12,}=*",
];

static FORMAT_SET: LazyLock<RegexSet> = LazyLock::new(|| RegexSet::new(FORMATS).expect("secret formats compile"));
static FORMAT_ALL: LazyLock<Regex> = LazyLock::new(|| Regex::new(&FORMATS.join("|")).expect("secret formats compile"));

/// The password in a URL's user info: `scheme://user:PASSWORD@host`. The password runs to
/// the last `@` before the host, so an unencoded `@` in it is covered.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/?#@:]*:)([^\s/?#]+)@").expect("URL pattern compiles")
});

/// `NAME=value` and `--name=value` (also in query strings: `?token=…&`) where the name
/// looks secret.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(^|[\s?&;,'"(\-])([A-Za-z_][A-Za-z0-9_.\-]{0,63})=([^\s&;,'")]+)"#).expect("assignment compiles")
});

/// True when `text` holds a secret in a well-known format, a URL with a password, or a
/// `NAME=value` with a secret-looking name.
pub fn is_secret_value(text: &str) -> bool {
    // The last two patterns need a `://` and an `=`: without one, their (allocating)
    // searches are skipped.
    FORMAT_SET.is_match(text)
        || (text.contains("://") && URL_PASSWORD.is_match(text))
        || (text.contains('=') && ASSIGNMENT.captures_iter(text).any(|c| is_secret_key(&c[2]) && c[3] != *REDACTED))
}

/// Builds the secret formats every check needs, ahead of the first check (a process
/// builds them on a thread of its own while it does other work: they take about a third
/// of countersign's CPU at start).
pub fn prepare() {
    LazyLock::force(&FORMAT_SET);
}

/// `text` with every secret [`is_secret_value`] finds replaced by `[REDACTED]`: a whole
/// token for the formats, only the password of a URL, only the value of an assignment.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    if !is_secret_value(text) {
        return Cow::Borrowed(text);
    }
    let out = FORMAT_ALL.replace_all(text, REDACTED);
    let out = match URL_PASSWORD.replace_all(&out, |c: &Captures<'_>| format!("{}{REDACTED}@", &c[1])) {
        Cow::Borrowed(_) => out,
        Cow::Owned(o) => Cow::Owned(o),
    };
    let replaced = ASSIGNMENT.replace_all(&out, |c: &Captures<'_>| {
        if is_secret_key(&c[2]) {
            format!("{}{}={REDACTED}", &c[1], &c[2])
        } else {
            c[0].to_owned()
        }
    });
    Cow::Owned(replaced.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lowercase_word_is_judged_as_its_parts_would_be() {
        let words = WHOLE_PARTS.iter().chain(FRAGMENTS).chain(SUFFIXES).copied();
        let more =
            ["", "text", "path", "spinner", "keyboard", "monkey", "githubtoken", "tokenizer", "xpasswordx", "otp"];
        for key in words.chain(more) {
            for key in [key.to_owned(), format!("my{key}"), format!("{key}s")] {
                assert_eq!(is_secret_key(&key), is_secret_key_by_parts(&key), "{key}");
            }
        }
    }

    #[test]
    fn keys_split_into_word_parts() {
        assert_eq!(key_parts("apiKey"), ["api", "key"]);
        assert_eq!(key_parts("APIKey"), ["api", "key"]);
        assert_eq!(key_parts("db_password"), ["db", "password"]);
        assert_eq!(key_parts("X-Auth-Token"), ["x", "auth", "token"]);
        assert_eq!(key_parts("oauth2Token"), ["oauth", "token"]);
        assert_eq!(key_parts("PGPASSWORD"), ["pgpassword"]);
    }

    #[test]
    fn the_brief_s_keys_are_secret_on_word_parts() {
        for key in [
            "password",
            "Passwd",
            "pass",
            "pwd",
            "passcode",
            "secret",
            "token",
            "otp",
            "pin",
            "key",
            "api_key",
            "apikey",
            "apiKey",
            "API-KEY",
            "authorization",
            "Authorization",
            "auth",
            "cookie",
            "Set-Cookie",
            "session",
            "sessionId",
            "session_id",
            "private_key",
            "privateKey",
            "credential",
            "db_credentials",
            "dsn",
            "DATABASE_DSN",
            "otp_code",
            "db_password",
            "PGPASSWORD",
            "client_secret",
            "clientSecret",
            "accessToken",
            "x-auth-token",
            "githubtoken",
            "pin_code",
            "user.pass",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret_key(key), "{key} should be secret");
        }
        for key in [
            "keyboard",
            "monkey",
            "turkey",
            "spinner",
            "shipping",
            "passenger",
            "bypass",
            "author",
            "tokenizer",
            "path",
            "user",
            "username",
            "description",
            "compass",
            "opinion",
            "pinned",
        ] {
            assert!(!is_secret_key(key), "{key} should not be secret");
        }
    }

    #[test]
    fn formats_are_replaced_whole_and_url_passwords_alone() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        for secret in [
            "sk-proj-abcdefghijklmnopqrstuvwx",
            "sk-live-abcdefghijklmnop",
            "sk_live_abcdefghijklmnop",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "github_pat_11ABCDEFG0abcdefghijklmn_opqrstu",
            "AKIAIOSFODNN7EXAMPLE",
            "xoxb-1234567890-abcdefghij",
            jwt,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\nxyz\n-----END OPENSSH PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow (cut)",
            "Bearer abc.def.ghi123456",
            "Basic dXNlcjpodW50ZXIy",
        ] {
            assert!(is_secret_value(secret), "{secret}");
            assert_eq!(redact_secrets(secret), REDACTED, "{secret}");
            if secret.ends_with("(cut)") {
                // A private key without its end marker runs to the end of the text.
                continue;
            }
            let around = format!("curl -H 'x: {secret}' https://example");
            assert_eq!(redact_secrets(&around), format!("curl -H 'x: {REDACTED}' https://example"));
        }
        assert_eq!(redact_secrets("postgresql://admin:pw@host/db"), "postgresql://admin:[REDACTED]@host/db");
        assert_eq!(redact_secrets("redis://:p@ss@cache:6379"), "redis://:[REDACTED]@cache:6379");
        assert_eq!(redact_secrets("https://user@example.com/a:b@c"), "https://user@example.com/a:b@c");
        assert_eq!(redact_secrets("https://example.com:8443/x"), "https://example.com:8443/x");
        assert_eq!(redact_secrets("--token=abc123"), "--token=[REDACTED]");
        assert_eq!(redact_secrets("API_KEY=xyz"), "API_KEY=[REDACTED]");
        assert_eq!(
            redact_secrets("https://h/cb?code=1&access_token=zz&x=1"),
            "https://h/cb?code=1&access_token=[REDACTED]&x=1"
        );
        assert_eq!(redact_secrets("--verbose=2 MODE=fast"), "--verbose=2 MODE=fast");
        assert!(!is_secret_value("sketch-notes"));
        assert!(!is_secret_value("a=b"));
    }
}
