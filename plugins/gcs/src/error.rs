//! Maps object_store's GCS errors onto Arca's error kinds, in one function,
//! so every operation classifies failures the same way.

use arca_core::{Error, ErrorKind};
use arca_objstore::error::{
    chain_text, http_kind, is_certificate_error, server_text, status_and_code, transport_kind, with_context,
};

/// Converts an error met while doing `action` (a verb such as `read`) on
/// `key` of `bucket`. The message names the object and the service's error
/// code and message; object_store's messages carry request URLs, never a
/// key (bearer tokens travel in headers).
///
/// Only errors that a later attempt can plausibly get past are marked
/// temporary: the host retries those and nothing else.
pub(crate) fn gcs_error(action: &str, bucket: &str, key: &str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let (status, code) = status_and_code(&e);
    let text = server_text(&e, status, code.as_deref()).unwrap_or_else(|| chain_text(&e));
    let url = format!("gs://{bucket}/{key}");
    let certificate = status.is_none() && is_certificate_error(&text);
    let (kind, temporary) = match (&e, status, code.as_deref()) {
        _ if certificate => (ErrorKind::UNAVAILABLE, false),
        (_, _, Some("NoSuchBucket")) => {
            let err = Error::new(
                ErrorKind::NOT_FOUND,
                format!("cannot {action} {url}: the bucket does not exist (Arca never creates buckets)"),
            );
            return with_context(err, bucket, key, status, code, false);
        }
        (E::NotFound { .. }, _, _) | (_, Some(404), _) => {
            return with_context(
                Error::not_found(format!("no such object: {url}")),
                bucket,
                key,
                None,
                None,
                false,
            );
        }
        (_, _, Some("AuthenticationRequired" | "InvalidAuthenticationToken" | "SignatureDoesNotMatch"))
        | (E::Unauthenticated { .. }, _, _)
        | (_, Some(401), _) => (ErrorKind::UNAUTHENTICATED, false),
        (_, _, Some("SlowDown")) | (_, Some(429), _) => (ErrorKind::RATE_LIMITED, true),
        (E::PermissionDenied { .. }, _, _) | (_, Some(403), _) => (ErrorKind::PERMISSION_DENIED, false),
        (_, Some(416), _) | (_, _, Some("InvalidRange")) => (ErrorKind::RANGE_NOT_SATISFIABLE, false),
        (E::AlreadyExists { .. }, _, _) => (ErrorKind::ALREADY_EXISTS, false),
        (E::NotSupported { .. } | E::NotImplemented { .. }, _, _) => (ErrorKind::UNSUPPORTED, false),
        (_, Some(500 | 502 | 503 | 504), _) | (_, _, Some("InternalError")) => (ErrorKind::UNAVAILABLE, true),
        (_, Some(400 | 409 | 412), _) => (ErrorKind::INVALID_INPUT, false),
        _ => transport_kind(http_kind(&e)),
    };
    let hint = match (kind, code.as_deref()) {
        (ErrorKind::UNAUTHENTICATED, _) => {
            "authentication failed (check GOOGLE_APPLICATION_CREDENTIALS, or the machine's service account): "
        }
        _ if certificate => "the server's TLS certificate is not trusted: ",
        (_, Some("EntityTooSmall")) => "every part but the last must be at least 5 MiB: ",
        _ => "",
    };
    let err = Error::new(kind, format!("cannot {action} {url}: {hint}{text}"));
    with_context(err, bucket, key, status, code, temporary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_kinds() {
        let e = |body: &str, status: u16| object_store::Error::Generic {
            store: "GCS",
            source: format!("Server returned non-2xx status code: {status} X: {body}").into(),
        };
        let err = gcs_error(
            "read",
            "b",
            "k",
            e(
                "<Error><Code>InvalidAuthenticationToken</Code><Message>Invalid Credentials</Message></Error>",
                401,
            ),
        );
        assert_eq!(err.kind, ErrorKind::UNAUTHENTICATED);
        assert!(
            err.message.contains("GOOGLE_APPLICATION_CREDENTIALS")
                && err
                    .message
                    .contains("InvalidAuthenticationToken (HTTP 401): Invalid Credentials"),
            "{}",
            err.message
        );
        let err = gcs_error("write", "b", "k", e("<Error><Code>NoSuchBucket</Code></Error>", 404));
        assert!(err.kind == ErrorKind::NOT_FOUND && err.message.contains("bucket does not exist"));
        let err = gcs_error("write", "b", "k", e("<Error><Code>SlowDown</Code></Error>", 429));
        assert!(err.kind == ErrorKind::RATE_LIMITED && err.temporary);
    }
}
