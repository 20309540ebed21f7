//! MLflow's error bodies and status codes, and the parsing of artifact paths
//! from URLs, query strings and JSON bodies.

use arca_core::{ArtifactPath, Error, ErrorKind};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answered as MLflow does: `{"error_code": …, "message": …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// MLflow's answer to an unsafe path, before any plugin is called.
    pub fn invalid_path() -> Self {
        Self::invalid("Invalid path")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    pub fn endpoint_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", "No such endpoint")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_REQUEST",
            "Method not allowed for this endpoint",
        )
    }
}

/// Maps a store error to MLflow's code and status. The message is the
/// store's own (which names the path, never a secret); the store URI in the
/// context is left out, since it would tell clients where the server keeps
/// its data.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match e.kind {
            ErrorKind::NOT_FOUND => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
            ErrorKind::INVALID_INPUT | ErrorKind::IS_A_DIRECTORY | ErrorKind::ALREADY_EXISTS => {
                (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
            }
            ErrorKind::PERMISSION_DENIED => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            ErrorKind::UNAUTHENTICATED => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            ErrorKind::UNSUPPORTED => (StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED"),
            ErrorKind::RANGE_NOT_SATISFIABLE => (StatusCode::RANGE_NOT_SATISFIABLE, "INVALID_PARAMETER_VALUE"),
            ErrorKind::TIMEOUT => (StatusCode::GATEWAY_TIMEOUT, "DEADLINE_EXCEEDED"),
            ErrorKind::RATE_LIMITED => (StatusCode::TOO_MANY_REQUESTS, "REQUEST_LIMIT_EXCEEDED"),
            ErrorKind::UNAVAILABLE => (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        };
        Self::new(status, code, e.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error_code": self.code, "message": self.message });
        json_response(self.status, &body)
    }
}

/// A JSON response, pretty-printed with two-space indentation as MLflow's
/// `message_to_json` does.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let text = serde_json::to_string_pretty(body).unwrap_or_else(|_| "{}".to_owned());
    let mut r = (status, text).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[derive(serde::Serialize)]
struct ListEntry<'a> {
    path: &'a str,
    is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<u64>,
}

#[derive(serde::Serialize)]
struct ListBody<'a> {
    files: Vec<ListEntry<'a>>,
}

/// MLflow's list response for `entries`, pretty-printed as its
/// `message_to_json` does: `path`, `is_dir`, and `file_size` only for
/// non-empty files (zero fields are dropped); `{}` when there is nothing.
pub fn list_json(entries: &[arca_core::FileInfo]) -> String {
    if entries.is_empty() {
        return "{}".to_owned();
    }
    let files = entries
        .iter()
        .map(|e| ListEntry {
            path: &e.path,
            is_dir: e.is_dir,
            file_size: (!e.is_dir && e.size > 0).then_some(e.size),
        })
        .collect();
    serde_json::to_string_pretty(&ListBody { files }).unwrap_or_else(|_| "{}".to_owned())
}

/// `{}` with 200: MLflow's answer to a delete, an abort, an empty listing.
pub fn empty_json() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({}))
}

/// Parses a path from a URL or a body: every unsafe shape is MLflow's 400
/// "Invalid path", before anything else happens.
///
/// The hidden prefix where multipart parts are staged is refused too: it is
/// the server's, never a client's.
pub fn parse_path(raw: &str) -> Result<ArtifactPath, ApiError> {
    let path = ArtifactPath::parse(raw).map_err(|e| {
        tracing::debug!(reason = e.reason, "refused an unsafe path");
        ApiError::invalid_path()
    })?;
    if path.segments().next() == Some(super::staged::STAGING) {
        return Err(ApiError::invalid_path());
    }
    Ok(path)
}

/// Decodes the path of a request URL once, as HTTP defines: the only
/// decoding a path ever gets, so a name that holds `%` keeps it
/// ([`ArtifactPath::parse`] decodes nothing). Not UTF-8: 400 "Invalid path".
pub fn url_decode(raw: &str) -> Result<String, ApiError> {
    arca_core::path::percent_decode_once(raw).ok_or_else(ApiError::invalid_path)
}

/// The value of `key` in a query string, decoded once as
/// `application/x-www-form-urlencoded` (`+` is a space, then the percent
/// escapes). Not UTF-8: 400 "Invalid path".
pub fn query_value(query: Option<&str>, key: &str) -> Result<Option<String>, ApiError> {
    let Some(query) = query else { return Ok(None) };
    query
        .split('&')
        .find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| url_decode(&v.replace('+', " ")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded_once() {
        let value = |q: Option<&str>| query_value(q, "path").ok().flatten();
        assert_eq!(value(Some("path=a+b%2Bc&x=1")).as_deref(), Some("a b+c"));
        assert_eq!(
            value(Some("path=report%2520final.txt")).as_deref(),
            Some("report%20final.txt")
        );
        assert_eq!(value(Some("x=1")), None);
        assert_eq!(value(Some("path")).as_deref(), Some(""));
        assert_eq!(value(None), None);
        assert!(query_value(Some("path=%ff"), "path").is_err());
    }

    #[test]
    fn error_mapping() {
        let e = ApiError::from(Error::not_found("no such file: x"));
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"));
        let e = ApiError::from(Error::unsupported("no"));
        assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
        let e = ApiError::from(Error::unexpected("boom").with("store", "s3://b"));
        assert_eq!(e.message, "boom");
    }
}
