//! Maps object_store's errors onto Arca's error kinds, in one function, so
//! every operation classifies failures the same way.

use arca_core::{Error, ErrorKind};
use arca_objstore::error::{
    chain_text, http_kind, is_certificate_error, server_text, status_and_code, transport_kind, with_context, xml_code,
};

/// Converts an error met while doing `action` (a verb such as `read`) on
/// `key` in `bucket`. The message names the bucket and key; object_store's
/// messages carry URLs but never credentials (presigned URLs are not built
/// on failure paths).
///
/// Only errors that a later attempt can plausibly get past are marked
/// temporary: the host retries those and nothing else.
pub(crate) fn s3_error(action: &str, bucket: &str, key: &str, e: object_store::Error) -> Error {
    let (status, code) = status_and_code(&e);
    let text = server_text(&e, status, code.as_deref()).unwrap_or_else(|| chain_text(&e));
    classify(action, bucket, key, status, code, Some(&e), &text)
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
    let certificate = status.is_none() && is_certificate_error(text);
    let (kind, temporary) = match (e, status, code.as_deref()) {
        _ if certificate => (ErrorKind::UNAVAILABLE, false),
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
        _ => transport_kind(e.and_then(http_kind)),
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
        _ if certificate => {
            "the server's TLS certificate is not trusted (set AWS_CA_BUNDLE to a PEM file with its CA \
             certificate, or MLFLOW_S3_IGNORE_TLS=true to skip verification): "
        }
        (_, Some("EntityTooSmall")) => "every part but the last must be at least 5 MiB: ",
        _ => "",
    };
    let err = Error::new(kind, format!("cannot {action} s3://{bucket}/{key}: {hint}{text}"));
    with_context(err, bucket, key, status, code, temporary)
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
    fn causes_are_shown_and_certificates_are_permanent() {
        #[derive(Debug)]
        struct Leaf;
        impl std::fmt::Display for Leaf {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("invalid peer certificate: UnknownIssuer")
            }
        }
        impl std::error::Error for Leaf {}
        let e = object_store::Error::Generic {
            store: "S3",
            source: Box::new(Leaf),
        };
        let e = s3_error("write", "b", "k", e);
        assert!(!e.temporary, "{e:?}");
        assert!(e.message.contains("UnknownIssuer"), "{}", e.message);
        assert!(e.message.contains("AWS_CA_BUNDLE"), "{}", e.message);
    }

    #[test]
    fn server_codes_are_shown_without_the_raw_xml() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "Error performing POST http://h/b/k?uploadId=1 - Server returned non-2XX status code: 400 Bad Request: <?xml version=\"1.0\"?><Error><Code>EntityTooSmall</Code><Message>Your proposed upload is smaller than the minimum allowed object size.</Message></Error>".into(),
        };
        let e = s3_error("complete the multipart upload of", "b", "k", e);
        assert_eq!(e.kind, ErrorKind::INVALID_INPUT);
        assert!(
            e.message.contains("EntityTooSmall (HTTP 400): Your proposed upload"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("at least 5 MiB") && !e.message.contains("<Error>"),
            "{}",
            e.message
        );
    }

    #[test]
    fn codes_in_bodies() {
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code></Error>";
        assert_eq!(xml_code(body).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_code("nothing"), None);
    }
}
