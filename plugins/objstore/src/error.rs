//! What every object store's errors have in common: object_store keeps the
//! HTTP status and the server's error document in its messages, so they are
//! read from there.

use arca_core::{Error, ErrorKind};
use object_store::client::{HttpError, HttpErrorKind};

/// What the server said, when it answered with an error document: its code
/// and the first line of its message, not the request line and raw XML
/// object_store shows. `None` without a status and a code.
pub fn server_text(e: &object_store::Error, status: Option<u16>, code: Option<&str>) -> Option<String> {
    let (Some(c), Some(s)) = (code, status) else {
        return None;
    };
    let message = xml_field(&chain_text(e), "Message")
        .map(|m| m.lines().next().unwrap_or_default().trim().to_owned())
        .filter(|m| !m.is_empty());
    Some(match message {
        Some(m) => format!("{c} (HTTP {s}): {m}"),
        None => format!("{c} (HTTP {s})"),
    })
}

/// The kind of a failure that got no HTTP status, from its transport
/// error: timeouts and failed connections are temporary, anything else is
/// unexpected.
pub fn transport_kind(kind: Option<HttpErrorKind>) -> (ErrorKind, bool) {
    match kind {
        Some(HttpErrorKind::Timeout) => (ErrorKind::TIMEOUT, true),
        Some(HttpErrorKind::Connect | HttpErrorKind::Request | HttpErrorKind::Interrupted) => {
            (ErrorKind::UNAVAILABLE, true)
        }
        _ => (ErrorKind::UNEXPECTED, false),
    }
}

/// `err` with its context: the bucket, the key (`/` for the root), and the
/// response's status and error code when there was one; temporary if asked.
pub fn with_context(
    err: Error,
    bucket: &str,
    key: &str,
    status: Option<u16>,
    code: Option<String>,
    temporary: bool,
) -> Error {
    let mut err = err
        .with("bucket", bucket)
        .with("key", if key.is_empty() { "/" } else { key });
    if let Some(s) = status {
        err = err.with("status", s.to_string());
    }
    if let Some(c) = code {
        err = err.with("code", c);
    }
    if temporary { err.temporary() } else { err }
}

/// The messages of `e` and of its causes, each once: object_store's top
/// message alone ("error sending request") hides the reason (a refused
/// certificate, a reset connection).
pub fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let m = err.to_string();
        if !m.is_empty() && !text.contains(&m) {
            text.push_str(": ");
            text.push_str(&m);
        }
        cur = err.source();
    }
    text
}

/// Walks the source chain for the HTTP status and the S3 error code
/// (`<Code>…</Code>` in the response body). object_store does not export
/// its request error type, so both are read from the messages, whose form
/// (`… status code: 403 Forbidden: <body>`) it has kept for years.
pub fn status_and_code(e: &object_store::Error) -> (Option<u16>, Option<String>) {
    let (mut status, mut code) = (None, None);
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        status = status.or_else(|| status_in(&text));
        code = code.or_else(|| xml_code(&text));
        cur = err.source();
    }
    (status, code)
}

pub fn status_in(text: &str) -> Option<u16> {
    let at = text.find("status code: ")? + "status code: ".len();
    let digits = text.get(at..at + 3)?;
    digits.parse().ok().filter(|s| (100..600).contains(s))
}

/// The kind of a transport failure (connect, timeout, …), if that is what
/// the error is.
pub fn http_kind(e: &object_store::Error) -> Option<HttpErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<HttpError>() {
            return Some(h.kind());
        }
        cur = err.source();
    }
    None
}

/// The text of the first `<Code>…</Code>` element in `body` (the error code
/// of an S3, Azure or GCS XML error).
pub fn xml_code(body: &str) -> Option<String> {
    xml_field(body, "Code")
}

/// The text of the first `<name>…</name>` element in `body`.
pub fn xml_field(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{name}>"))?;
    Some(body[start..start + len].trim().to_owned())
}

/// Whether the failure is a TLS certificate the client does not trust:
/// permanent, and fixed by configuration.
pub fn is_certificate_error(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("certificate") && (t.contains("invalid peer") || t.contains("unknownissuer") || t.contains("verif"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_are_read_from_messages() {
        assert_eq!(
            status_in("Server returned non-2xx status code: 403 Forbidden: x"),
            Some(403)
        );
        assert_eq!(status_in("status code: 99x"), None);
        let body = "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>no</Message></Error>";
        assert_eq!(xml_code(body).as_deref(), Some("AuthenticationFailed"));
        assert_eq!(xml_field(body, "Message").as_deref(), Some("no"));
        assert_eq!(xml_code("nothing"), None);
    }
}
