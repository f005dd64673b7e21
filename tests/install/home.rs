//! Helpers for tests/install.rs: a temporary HOME and project directory with the binary
//! run in them, the fixtures, and config files read back as JSON values.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Map, Value};

use crate::support::{self, peers};

/// A home directory and a project directory, and the binary run in them.
pub(crate) struct Home {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub cwd: PathBuf,
}

impl Home {
    pub(crate) fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let cwd = dir.path().join("project");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        Home { _dir: dir, home, cwd }
    }

    /// `~/x` is under HOME, `./x` under the project directory.
    pub(crate) fn path(&self, at: &str) -> PathBuf {
        match (at.strip_prefix("~/"), at.strip_prefix("./")) {
            (Some(rel), _) => self.home.join(rel),
            (_, Some(rel)) => self.cwd.join(rel),
            _ => PathBuf::from(at),
        }
    }

    /// Puts fixture `name` at `at` with mode 0600; returns its path and bytes.
    pub(crate) fn put(&self, at: &str, name: &str) -> (PathBuf, Vec<u8>) {
        let bytes = fixture(name);
        let path = self.path(at);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        (path, bytes)
    }

    pub(crate) fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(support::bin())
            .args(args)
            .current_dir(&self.cwd)
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CODEX_HOME")
            .env_remove("COUNTERSIGN_HOME")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(peers::root().join("tests/install").join(name)).unwrap()
}

pub(crate) fn bin() -> String {
    support::bin().canonicalize().unwrap().display().to_string()
}

/// A JSON, JSONC or TOML file as a `serde_json::Value`.
pub(crate) fn value_of(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    if path.to_string_lossy().trim_end_matches(".countersign.bak").ends_with(".toml") {
        return from_toml(toml::Value::Table(text.parse::<toml::Table>().unwrap()));
    }
    from_jsonc(jsonc_parser::parse_to_value(&text, &Default::default()).unwrap().unwrap())
}

fn from_toml(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(from_toml).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, from_toml(v))).collect()),
    }
}

fn from_jsonc(v: jsonc_parser::JsonValue<'_>) -> Value {
    use jsonc_parser::JsonValue as J;
    match v {
        J::String(s) => Value::String(s.into_owned()),
        J::Number(n) => serde_json::from_str(n).unwrap(),
        J::Boolean(b) => json!(b),
        J::Null => Value::Null,
        J::Array(a) => Value::Array(a.take_inner().into_iter().map(from_jsonc).collect()),
        J::Object(o) => {
            Value::Object(o.take_inner().into_iter().map(|(k, v)| (k.into_owned(), from_jsonc(v))).collect())
        }
    }
}

/// `installed` with each wrapped entry under `maps` (JSON pointers to server maps) put
/// back as it was, checking the wrapping on the way: the result must equal the original.
pub(crate) fn unwrapped(mut installed: Value, maps: &[&str], keys: &[&str]) -> Value {
    for map in maps {
        let Some(Value::Object(servers)) = installed.pointer_mut(map) else { continue };
        for (key, entry) in servers.iter_mut().filter(|(k, _)| keys.contains(&k.as_str())) {
            let entry: &mut Map<String, Value> = entry.as_object_mut().unwrap();
            assert_eq!(entry["command"], bin(), "{key}: command is the absolute path of countersign");
            let args: Vec<Value> = entry["args"].as_array().unwrap().clone();
            assert_eq!(args[..3], [json!("--name"), json!(key), json!("--")], "{key}: labelled with its key");
            entry.insert("command".into(), args[3].clone());
            entry.insert("args".into(), Value::Array(args[4..].to_vec()));
        }
    }
    installed
}

/// Drops an empty `args` from entries that had none, for comparing with the original.
pub(crate) fn without_empty_args(mut v: Value, maps: &[&str], originals: &Value) -> Value {
    for map in maps {
        let Some(Value::Object(servers)) = v.pointer_mut(map) else { continue };
        for (key, entry) in servers.iter_mut() {
            let had = originals.pointer(&format!("{map}/{key}/args")).is_some();
            if !had && entry["args"] == json!([]) {
                entry.as_object_mut().unwrap().remove("args");
            }
        }
    }
    v
}

pub(crate) fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}
