//! The pinned interop peers (the official Python SDK client from PyPI, reference servers
//! from npm), installed once into the project's `.cache/` (a marker names what was
//! installed). Shared by tests that drive real clients and servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub(crate) struct Peers {
    pub python: PathBuf,
    pub node_modules: PathBuf,
}

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Installs the pinned peers once per test run and once per cache.
pub(crate) fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let cache = root().join(".cache");
        let venv = cache.join("venv");
        let requirements = std::fs::read_to_string(root().join("tests/interop/requirements.txt")).unwrap();
        if std::fs::read_to_string(venv.join(".installed")).ok().as_deref() != Some(&requirements) {
            sh(Command::new("python3").arg("-m").arg("venv").arg(&venv));
            sh(Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(root().join("tests/interop/requirements.txt")));
            std::fs::write(venv.join(".installed"), &requirements).unwrap();
        }
        let npm = cache.join("npm");
        let package = std::fs::read_to_string(root().join("tests/interop/package.json")).unwrap();
        if std::fs::read_to_string(npm.join(".installed")).ok().as_deref() != Some(&package) {
            std::fs::create_dir_all(&npm).unwrap();
            std::fs::write(npm.join("package.json"), &package).unwrap();
            sh(Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
                .arg(&npm));
            std::fs::write(npm.join(".installed"), &package).unwrap();
        }
        Peers { python: venv.join("bin/python"), node_modules: npm.join("node_modules") }
    })
}

fn sh(cmd: &mut Command) {
    let status =
        cmd.status().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (the interop tests need python3 and npm)"));
    assert!(status.success(), "{cmd:?} failed");
}

/// The entry point of a reference server from npm.
pub(crate) fn node_server_entry(package: &str) -> PathBuf {
    peers().node_modules.join(format!("@modelcontextprotocol/{package}/dist/index.js"))
}

/// Runs `tests/interop/client.py` (the official Python SDK client) in `mode` against
/// `server` with `steps`, with `env` as its whole environment (the SDK passes only a few
/// variables on to the server); returns one JSON value per step.
pub(crate) fn drive_python(mode: &str, server: &[String], steps: &Value, env: &[(&str, &Path)]) -> Vec<Value> {
    let mut client = Command::new(&peers().python);
    client.arg(root().join("tests/interop/client.py")).arg(mode).arg("--").args(server);
    client.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        client.env(k, v);
    }
    let mut child = client.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(steps.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().skip(1).map(|l| serde_json::from_str::<Value>(l).unwrap()).collect()
}
