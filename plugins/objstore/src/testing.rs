//! Helpers for the object-store plugins' tests against their loopback test
//! servers. Not for production use: no TLS, the whole answer read at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `method` with `body` to a plain-HTTP `url` (a presigned URL as a
/// client would use it); returns the status (0 if none came) and the whole
/// answer, headers included. Panics when the server cannot be reached.
pub fn http(method: &str, url: &str, body: &[u8]) -> (u16, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not a plain-HTTP URL: {url}"));
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut conn = TcpStream::connect(authority).unwrap_or_else(|e| panic!("cannot reach {authority}: {e}"));
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    conn.write_all(body).unwrap_or_else(|e| panic!("{e}"));
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    (status, answer)
}
