//! `countersign digest [FILE]`: the digest the gate shows for a call.

use std::io::{Read, Write};
use std::path::Path;

use crate::core::digest::call_digest;
use crate::core::json::{self, Value};
use crate::Error;

pub(super) fn run(file: Option<&Path>) -> Result<i32, Error> {
    let mut bytes = Vec::new();
    match file {
        Some(path) => bytes = std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?,
        None => {
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| Error::io("reading stdin", e))?;
        }
    }
    let digest = digest_of_input(&bytes).map_err(Error::Usage)?;
    writeln!(std::io::stdout(), "{digest}").map_err(Error::Stdout)?;
    Ok(0)
}

/// Accepts `{"name","arguments"}`, `tools/call` params (which may carry more members), or
/// a whole `tools/call` request.
pub(super) fn digest_of_input(bytes: &[u8]) -> Result<String, String> {
    let text = bytes.trim_ascii();
    let value = json::parse(text).map_err(|e| format!("not usable JSON: {e}"))?;
    let params = match value.get("method") {
        Some(Value::String(m)) if m == "tools/call" => value.get("params").ok_or("the request has no params")?,
        Some(_) => return Err("the request is not a tools/call".into()),
        None => &value,
    };
    let name = params.get("name").and_then(Value::as_str).ok_or("no string `name`")?;
    match params.get("arguments") {
        None | Some(Value::Object(_)) => Ok(call_digest(name, params.get("arguments"))),
        Some(_) => Err("`arguments` must be an object".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_form_gives_the_same_digest() {
        let a = digest_of_input(br#"{"name":"t","arguments":{"x":1}}"#).unwrap();
        let b = digest_of_input(br#"{"name":"t","arguments":{"x":1.0},"_meta":{"progressToken":1}}"#).unwrap();
        let c = digest_of_input(
            br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"arguments":{"x":1},"name":"t"}}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(digest_of_input(br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#).is_err());
        assert!(digest_of_input(br#"{"name":"t","name":"u"}"#).is_err());
        assert!(digest_of_input(br#"{"name":"t","arguments":[]}"#).is_err());
    }
}
