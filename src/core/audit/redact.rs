//! What of a call's arguments may be written to the log: secrets become `[REDACTED]`,
//! long values are cut with a marker (PRODUCT.md section 7). The digest is computed
//! elsewhere, over the unredacted payload.

use serde_json::Value as Json;

pub use super::argv::redact_argv;
pub use super::cut::{cut, MAX_STRING};
pub use super::excerpt::redact_excerpt;
pub use super::secrets::{is_secret_key, is_secret_value, redact_secrets, REDACTED};
use crate::core::json::Value;

/// Arrays and objects longer than this are cut.
pub const MAX_ITEMS: usize = 64;
/// Nesting deeper than this is replaced by a marker.
pub const MAX_DEPTH: usize = 16;

/// The loggable form of `value`.
pub fn redact(value: &Value<'_>) -> Json {
    redact_at(value, 0)
}

fn redact_at(value: &Value<'_>, depth: usize) -> Json {
    if depth >= MAX_DEPTH {
        return Json::String("[cut: nested too deep]".into());
    }
    match value {
        Value::String(s) => Json::String(cut(&redact_secrets(s))),
        Value::Array(items) => {
            let mut out: Vec<Json> = items.iter().take(MAX_ITEMS).map(|v| redact_at(v, depth + 1)).collect();
            if items.len() > MAX_ITEMS {
                out.push(Json::String(format!("[cut: {} more items]", items.len() - MAX_ITEMS)));
            }
            Json::Array(out)
        }
        Value::Object(members) => {
            let mut out = serde_json::Map::new();
            for (key, v) in members.iter().take(MAX_ITEMS) {
                let shown = if is_secret_key(key) { Json::String(REDACTED.into()) } else { redact_at(v, depth + 1) };
                out.insert(cut(&redact_secrets(key)), shown);
            }
            if members.len() > MAX_ITEMS {
                out.insert("[cut]".into(), Json::String(format!("{} more members", members.len() - MAX_ITEMS)));
            }
            Json::Object(out)
        }
        other => other.to_serde(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::parse;

    fn red(json: &str) -> Json {
        redact(&parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn secret_keys_are_redacted() {
        let out = red(
            r#"{"user":"ann","Password":"hunter2","api_key":"x","API-KEY":"y","headers":{"Authorization":"z","Cookie":"c"},"client_secret":"s","accessToken":"t","private_key":"k","db_credentials":{"a":1},"shipping":"ok","pin":"1234"}"#,
        );
        assert_eq!(out["user"], "ann");
        assert_eq!(out["shipping"], "ok");
        for k in
            ["Password", "api_key", "API-KEY", "client_secret", "accessToken", "private_key", "db_credentials", "pin"]
        {
            assert_eq!(out[k], REDACTED, "{k}");
        }
        assert_eq!(out["headers"]["Authorization"], REDACTED);
        assert_eq!(out["headers"]["Cookie"], REDACTED);
    }

    #[test]
    fn secret_formats_are_redacted_anywhere() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        for secret in [
            "sk-proj-abcdefghijklmnopqrstuvwx".to_owned(),
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789".to_owned(),
            "github_pat_11ABCDEFG0abcdefghijklmn_opqrstu".to_owned(),
            "AKIAIOSFODNN7EXAMPLE".to_owned(),
            "xoxb-1234567890-abcdefghij".to_owned(),
            jwt.to_owned(),
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...".to_owned(),
            "Bearer abc.def.ghi123456".to_owned(),
        ] {
            let json = serde_json::json!({"note": secret, "list": [secret]}).to_string();
            let out = red(&json);
            assert_eq!(out["note"], REDACTED, "{secret}");
            assert_eq!(out["list"][0], REDACTED, "{secret}");
        }
        assert_eq!(red(r#"{"note":"sketch-notes"}"#)["note"], "sketch-notes");
        let around = red(&serde_json::json!({ "cmd": format!("curl -H 'x: {jwt}' https://example") }).to_string());
        assert_eq!(around["cmd"], "curl -H 'x: [REDACTED]' https://example");
    }

    #[test]
    fn the_leaks_found_in_review_are_closed() {
        let out = red(
            r#"{"pass":"a","pwd":"b","passcode":"c","otp_code":"d","key":"e","dsn":"f","apiKey":"g","db_password":"h","sessionId":"i",
               "url":"postgresql://admin:hunter2@db:5432/app","list":["sk-proj-abcdefghijklmnopqrstuvwx"],"keyboard":"qwerty","monkey":"ok"}"#,
        );
        for k in ["pass", "pwd", "passcode", "otp_code", "key", "dsn", "apiKey", "db_password", "sessionId"] {
            assert_eq!(out[k], REDACTED, "{k}");
        }
        assert_eq!(out["url"], "postgresql://admin:[REDACTED]@db:5432/app");
        assert_eq!(out["list"][0], REDACTED);
        assert_eq!(out["keyboard"], "qwerty");
        assert_eq!(out["monkey"], "ok");
        assert!(!out.to_string().contains("hunter2"));
    }

    #[test]
    fn long_values_are_cut_with_a_marker() {
        let long = "é".repeat(MAX_STRING + 10);
        let out = red(&serde_json::json!({ "s": long, "a": (0..100).collect::<Vec<_>>() }).to_string());
        let s = out["s"].as_str().unwrap();
        assert!(s.ends_with("…[cut 10 chars]"), "{s}");
        assert_eq!(out["a"].as_array().unwrap().len(), MAX_ITEMS + 1);
        assert_eq!(out["a"][MAX_ITEMS], "[cut: 36 more items]");
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(red(&deep).to_string().contains("nested too deep"));
    }
}
