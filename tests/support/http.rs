//! A plain HTTP/1.1 client for the approval page's tests: one request per connection,
//! every header as the test gives it (a browser's, or a forged one).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A little more than the page's grace period (answers sooner after it appeared are
/// not taken).
pub(crate) const GRACE: Duration = Duration::from_millis(350);

/// A response: status code, headers (names lowercased) and body.
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The parts of a page link `http://127.0.0.1:<port>/a/<token>`.
pub(crate) struct Link {
    pub port: u16,
    pub path: String,
}

impl Link {
    /// The first link to the approval page in `text`.
    pub(crate) fn find(text: &str) -> Link {
        let at = text.find("http://127.0.0.1:").unwrap_or_else(|| panic!("no link in {text:?}"));
        let rest = &text[at + "http://127.0.0.1:".len()..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let (port, path) = rest[..end].split_once('/').unwrap();
        Link { port: port.parse().unwrap(), path: format!("/{path}") }
    }

    pub(crate) fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn get(&self) -> Response {
        request(self.port, &format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", self.path, self.host()))
    }

    /// Posts `form` as the page's own form would (its origin, its content type), as a
    /// person does: not within the grace period after the page appeared.
    pub(crate) fn post(&self, form: &str) -> Response {
        std::thread::sleep(GRACE);
        self.post_with(form, &[("Origin", &self.origin())])
    }

    /// Posts `form` with `headers` besides Host, Content-Type and Content-Length.
    pub(crate) fn post_with(&self, form: &str, headers: &[(&str, &str)]) -> Response {
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            self.path,
            self.host(),
            form.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        request(self.port, &format!("{head}\r\n{form}"))
    }
}

/// Sends `raw` and reads the whole response (the server closes after one).
pub(crate) fn request(port: u16, raw: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(super::WAIT)).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response { status, headers, body: body.to_owned() }
}

/// The value of the hidden field `name` in a page.
pub(crate) fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key).unwrap_or_else(|| panic!("no field {name} in {html}")) + key.len();
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// `application/x-www-form-urlencoded` of `pairs` (the values these tests send need no
/// more than spaces and a few reserved characters encoded).
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                b' ' => "+".into(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The form a page's own buttons post for `choice` (its token and digest as served).
pub(crate) fn answer(page: &str, choice: &str) -> String {
    form(&[("csrf", &field(page, "csrf")), ("digest", &field(page, "digest")), ("choice", choice)])
}

/// Starts `countersign approve ID --web` with `<state>` at `home` and `path` as its `PATH`
/// (where it finds, or does not find, a desktop opener); the command and its page's link.
pub(crate) fn approve_web(home: &std::path::Path, id: &str, path: &str) -> (std::process::Child, Link) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(super::bin())
        .args(["approve", id, "--web"])
        .env("COUNTERSIGN_HOME", home)
        .env("PATH", path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // Read on, as a terminal would: the command says what it did when it is done.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, Link::find(&line))
}
