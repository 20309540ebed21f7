//! Maps object_store's errors onto Arca's error kinds, in one function, so
//! every operation classifies failures the same way.

use arca_core::{Error, ErrorKind};
use object_store::client::{HttpError, HttpErrorKind};

/// Converts an error met while doing `action` (a verb such as `read`) on
/// `key` in `bucket`. The message names the bucket and key; object_store's
/// messages carry URLs but never credentials (presigned URLs are not built
/// on failure paths).
///
/// Only errors that a later attempt can plausibly get past are marked
/// temporary: the host retries those and nothing else.
pub(crate) fn s3_error(action: &str, bucket: &str, key: &str, e: object_store::Error) -> Error {
    let (status, code) = status_and_code(&e);
    classify(action, bucket, key, status, code, Some(&e), &e.to_string())
}

/// The error of a response with `status` and `body` (an S3 XML error or
/// nothing) to a request made outside object_store.
pub(crate) fn status_error(action: &str, bucket: &str, key: &str, status: u16, body: &str) -> Error {
    let text = format!("status {status}: {}", body.trim());
    classify(action, bucket, key, Some(status), xml_code(body), None, &text)
}

fn classify(
    action: &str,
    bucket: &str,
    key: &str,
    status: Option<u16>,
    code: Option<String>,
    e: Option<&object_store::Error>,
    text: &str,
) -> Error {
    use object_store::Error as E;
    let shown = if key.is_empty() { "/" } else { key };
    let (kind, temporary) = match (e, status, code.as_deref()) {
        (Some(E::NotFound { .. }), _, _) | (_, Some(404), _) => {
            return Error::not_found(format!("no such key: s3://{bucket}/{key}"))
                .with("bucket", bucket)
                .with("key", shown);
        }
        (_, _, Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken"))
        | (Some(E::Unauthenticated { .. }), _, _)
        | (_, Some(401), _) => (ErrorKind::UNAUTHENTICATED, false),
        (_, _, Some("SlowDown" | "RequestLimitExceeded" | "TooManyRequests")) | (_, Some(429), _) => {
            (ErrorKind::RATE_LIMITED, true)
        }
        (Some(E::PermissionDenied { .. }), _, _) | (_, Some(403), _) => (ErrorKind::PERMISSION_DENIED, false),
        (_, Some(416), _) => (ErrorKind::RANGE_NOT_SATISFIABLE, false),
        (Some(E::AlreadyExists { .. }), _, _) => (ErrorKind::ALREADY_EXISTS, false),
        (Some(E::NotSupported { .. } | E::NotImplemented { .. }), _, _) => (ErrorKind::UNSUPPORTED, false),
        (_, Some(500 | 502 | 503 | 504), _) | (_, _, Some("InternalError" | "ServiceUnavailable")) => {
            (ErrorKind::UNAVAILABLE, true)
        }
        (_, Some(400), _) => (ErrorKind::INVALID_INPUT, false),
        _ => match e.and_then(http_kind) {
            Some(HttpErrorKind::Timeout) => (ErrorKind::TIMEOUT, true),
            Some(HttpErrorKind::Connect | HttpErrorKind::Request | HttpErrorKind::Interrupted) => {
                (ErrorKind::UNAVAILABLE, true)
            }
            _ => (ErrorKind::UNEXPECTED, false),
        },
    };
    // The server's code is terse; say in words what an authentication
    // failure means (never which secret was sent).
    let hint = match (kind, code.as_deref()) {
        (ErrorKind::UNAUTHENTICATED, Some("SignatureDoesNotMatch")) => {
            "authentication failed, the secret access key does not match the access key id: "
        }
        (ErrorKind::UNAUTHENTICATED, Some("InvalidAccessKeyId")) => {
            "authentication failed, the server does not know the access key id: "
        }
        (ErrorKind::UNAUTHENTICATED, Some("ExpiredToken" | "InvalidToken")) => {
            "authentication failed, the session token is expired or invalid: "
        }
        (ErrorKind::UNAUTHENTICATED, _) if !matches!(e, Some(E::Unauthenticated { .. })) => "authentication failed: ",
        _ => "",
    };
    let mut err = Error::new(kind, format!("cannot {action} s3://{bucket}/{key}: {hint}{text}"))
        .with("bucket", bucket)
        .with("key", shown);
    if let Some(s) = status {
        err = err.with("status", s.to_string());
    }
    if let Some(c) = code {
        err = err.with("code", c);
    }
    if temporary { err.temporary() } else { err }
}

/// Walks the source chain for the HTTP status and the S3 error code
/// (`<Code>…</Code>` in the response body). object_store does not export
/// its request error type, so both are read from the messages, whose form
/// (`… status code: 403 Forbidden: <body>`) it has kept for years.
fn status_and_code(e: &object_store::Error) -> (Option<u16>, Option<String>) {
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

fn status_in(text: &str) -> Option<u16> {
    let at = text.find("status code: ")? + "status code: ".len();
    let digits = text.get(at..at + 3)?;
    digits.parse().ok().filter(|s| (100..600).contains(s))
}

/// The kind of a transport failure (connect, timeout, …), if that is what
/// the error is.
fn http_kind(e: &object_store::Error) -> Option<HttpErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<HttpError>() {
            return Some(h.kind());
        }
        cur = err.source();
    }
    None
}

fn xml_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    Some(body[start..start + len].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_bucket_and_key() {
        let e = object_store::Error::NotFound {
            path: "p/k".into(),
            source: "missing".into(),
        };
        let e = s3_error("read", "b", "p/k", e);
        assert_eq!(e.kind, ErrorKind::NOT_FOUND);
        assert!(e.message.contains("s3://b/p/k"), "{}", e.message);
    }

    #[test]
    fn codes_in_bodies() {
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code></Error>";
        assert_eq!(xml_code(body).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_code("nothing"), None);
        assert_eq!(
            status_in("Server returned non-2xx status code: 403 Forbidden: x"),
            Some(403)
        );
    }
}
