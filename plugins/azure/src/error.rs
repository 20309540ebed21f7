//! Maps object_store's Azure errors onto Arca's error kinds, in one
//! function, so every operation classifies failures the same way.

use arca_core::{Error, ErrorKind};
use arca_objstore::error::{
    chain_text, http_kind, is_certificate_error, server_text, status_and_code, transport_kind, with_context,
};

/// Converts an error met while doing `action` (a verb such as `read`) on
/// `key` of `bucket` (`container@account.blob.core.windows.net`). The
/// message names the blob and the service's error code and message; it
/// never holds a key or a SAS (object_store's messages carry request URLs,
/// which for a SAS credential hold the token, so those are cut out).
///
/// Only errors that a later attempt can plausibly get past are marked
/// temporary: the host retries those and nothing else.
pub(crate) fn azure_error(action: &str, bucket: &str, key: &str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let (status, code) = status_and_code(&e);
    // Azure's messages end with "RequestId:… Time:…" lines, which
    // `server_text` leaves out.
    let text = server_text(&e, status, code.as_deref()).unwrap_or_else(|| redact_queries(&chain_text(&e)));
    let url = format!("wasbs://{bucket}/{key}");
    let shown = if key.is_empty() { "/" } else { key };
    let certificate = status.is_none() && is_certificate_error(&text);
    // Azurite answers a refused signature with `AuthorizationFailure` (the
    // service with `AuthenticationFailed`); its message says which it is.
    let code = match code {
        Some(c) if c == "AuthorizationFailure" && text.contains("failed to authenticate") => {
            Some("AuthenticationFailed".to_owned())
        }
        c => c,
    };
    let (kind, temporary) = match (&e, status, code.as_deref()) {
        _ if certificate => (ErrorKind::UNAVAILABLE, false),
        (E::NotFound { .. }, _, _)
        | (_, Some(404), _)
        | (_, _, Some("BlobNotFound" | "ContainerNotFound" | "ResourceNotFound")) => {
            // A missing container is a configuration error, not a missing file.
            if code.as_deref() == Some("ContainerNotFound") {
                return Error::new(
                    ErrorKind::NOT_FOUND,
                    format!(
                        "cannot {action} {url}: the container does not exist (create it first; Arca never creates containers)"
                    ),
                )
                .with("bucket", bucket)
                .with("key", shown);
            }
            return Error::not_found(format!("no such blob: {url}"))
                .with("bucket", bucket)
                .with("key", shown);
        }
        (_, _, Some("AuthenticationFailed" | "InvalidAuthenticationInfo" | "NoAuthenticationInformation"))
        | (E::Unauthenticated { .. }, _, _)
        | (_, Some(401), _) => (ErrorKind::UNAUTHENTICATED, false),
        (_, _, Some("ServerBusy" | "OperationTimedOut")) | (_, Some(429), _) => (ErrorKind::RATE_LIMITED, true),
        (E::PermissionDenied { .. }, _, _) | (_, Some(403), _) => (ErrorKind::PERMISSION_DENIED, false),
        (_, Some(416), _) | (_, _, Some("InvalidRange")) => (ErrorKind::RANGE_NOT_SATISFIABLE, false),
        (E::AlreadyExists { .. }, _, _) | (_, _, Some("BlobAlreadyExists")) => (ErrorKind::ALREADY_EXISTS, false),
        (E::NotSupported { .. } | E::NotImplemented { .. }, _, _) => (ErrorKind::UNSUPPORTED, false),
        (_, Some(500 | 502 | 503 | 504), _) | (_, _, Some("InternalError")) => (ErrorKind::UNAVAILABLE, true),
        (_, Some(400 | 409 | 412), _) => (ErrorKind::INVALID_INPUT, false),
        _ => transport_kind(http_kind(&e)),
    };
    let hint = match (kind, code.as_deref()) {
        (ErrorKind::UNAUTHENTICATED, Some("AuthenticationFailed")) => {
            "authentication failed, the account key or SAS token was refused (check AZURE_STORAGE_CONNECTION_STRING / \
             AZURE_STORAGE_ACCESS_KEY): "
        }
        (ErrorKind::UNAUTHENTICATED, _) => "authentication failed: ",
        (ErrorKind::PERMISSION_DENIED, Some("AuthorizationPermissionMismatch" | "AuthorizationFailure")) => {
            "the credential may not do this (a SAS token without the permission, or a role assignment missing): "
        }
        _ if certificate => {
            "the server's TLS certificate is not trusted (set MLFLOW_TRACKING_SERVER_CERT_PATH to a PEM file \
             with its CA certificate, or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification): "
        }
        _ => "",
    };
    let err = Error::new(kind, format!("cannot {action} {url}: {hint}{text}"));
    with_context(err, bucket, key, status, code, temporary)
}

/// `text` with the query of every URL in it replaced by `?…`: a request
/// URL of a SAS credential carries the token.
pub(crate) fn redact_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The URL runs to the next whitespace.
        let end = rest[at..].find(char::is_whitespace).map_or(rest.len(), |i| at + i);
        let url = &rest[..end];
        match url[at..].find('?') {
            Some(q) => {
                out.push_str(&url[..at + q]);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sas_tokens_in_urls_are_cut_out() {
        let t = "Error performing GET http://h/acct/c/k?sv=2023&sig=SECRET in 1ms - boom";
        let r = redact_queries(t);
        assert!(!r.contains("SECRET"), "{r}");
        assert!(r.contains("http://h/acct/c/k?…") && r.ends_with("in 1ms - boom"), "{r}");
    }

    #[test]
    fn a_refused_key_is_one_clear_auth_error() {
        let e = object_store::Error::Generic {
            store: "MicrosoftAzure",
            source: "Error performing PUT http://h/a/c/k - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.\nRequestId:1\nTime:2026</Message></Error>".into(),
        };
        let e = azure_error("write", "c@a.blob.core.windows.net", "k", e);
        assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED);
        assert!(!e.temporary);
        assert!(
            e.message.contains("account key or SAS token was refused")
                && e.message
                    .contains("AuthenticationFailed (HTTP 403): Server failed to authenticate")
                && !e.message.contains("RequestId")
                && !e.message.contains("<Error>"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_missing_container_says_so() {
        let e = object_store::Error::Generic {
            store: "MicrosoftAzure",
            source: "status code: 404 Not Found: <Error><Code>ContainerNotFound</Code><Message>The specified container does not exist.</Message></Error>".into(),
        };
        let e = azure_error("write", "c@a.blob.core.windows.net", "k", e);
        assert_eq!(e.kind, ErrorKind::NOT_FOUND);
        assert!(e.message.contains("container does not exist"), "{}", e.message);
    }
}
