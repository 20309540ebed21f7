//! Maps suppaftp's errors (FTP reply codes, connection failures) onto
//! Arca's error kinds, in one function. Messages name the server and path,
//! never the password.

use arca_core::{Error, ErrorKind};
use suppaftp::FtpError;

/// The reply code of `e`, if the server answered.
pub(crate) fn code(e: &FtpError) -> Option<u32> {
    match e {
        FtpError::UnexpectedResponse(r) => Some(r.status.code()),
        _ => None,
    }
}

/// Converts `e`, met while doing `action` (a verb such as `read`) on
/// `path` of `server` (`ftp://user@host:port`).
pub(crate) fn ftp_error(action: &str, server: &str, path: &str, e: &FtpError) -> Error {
    let text = match e {
        FtpError::UnexpectedResponse(r) => {
            let body = String::from_utf8_lossy(&r.body);
            format!("the server answered {}", body.trim())
        }
        other => other.to_string(),
    };
    let (kind, temporary) = match (e, code(e)) {
        (_, Some(530 | 332)) => (ErrorKind::UNAUTHENTICATED, false),
        // 550 is "not available": missing, or refused (servers say which in words).
        (_, Some(550)) if text.to_ascii_lowercase().contains("permission") => (ErrorKind::PERMISSION_DENIED, false),
        (_, Some(550)) => (ErrorKind::NOT_FOUND, false),
        (_, Some(421 | 425 | 426 | 450 | 451 | 452)) => (ErrorKind::UNAVAILABLE, true),
        (_, Some(553 | 501 | 504)) => (ErrorKind::INVALID_INPUT, false),
        (_, Some(552)) => (ErrorKind::UNAVAILABLE, false),
        (_, Some(500 | 502)) => (ErrorKind::UNSUPPORTED, false),
        (FtpError::ConnectionError(_) | FtpError::DataConnectionAlreadyOpen, _) => (ErrorKind::UNAVAILABLE, true),
        // A TLS failure (an untrusted certificate) is fixed by configuration.
        (FtpError::SecureError(_), _) => (ErrorKind::UNAVAILABLE, false),
        _ => (ErrorKind::UNEXPECTED, false),
    };
    let hint = if kind == ErrorKind::UNAUTHENTICATED {
        "authentication failed, the user or password was refused: "
    } else {
        ""
    };
    let err = Error::new(kind, format!("cannot {action} {server}{path}: {hint}{text}")).with("path", path);
    if temporary { err.temporary() } else { err }
}

#[cfg(test)]
mod tests {
    use super::*;
    use suppaftp::Status;
    use suppaftp::types::Response;

    #[test]
    fn reply_codes_become_kinds() {
        let reply =
            |status: Status, body: &str| FtpError::UnexpectedResponse(Response::new(status, body.as_bytes().to_vec()));
        let e = ftp_error(
            "read",
            "ftp://u@h:21",
            "/a",
            &reply(Status::NotLoggedIn, "530 Login incorrect."),
        );
        assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED);
        assert!(e.message.contains("530 Login incorrect") && e.message.contains("ftp://u@h:21/a"));
        let e = ftp_error("read", "s", "/a", &reply(Status::FileUnavailable, "550 No such file"));
        assert_eq!(e.kind, ErrorKind::NOT_FOUND);
        let e = ftp_error(
            "write",
            "s",
            "/a",
            &reply(Status::FileUnavailable, "550 Permission denied"),
        );
        assert_eq!(e.kind, ErrorKind::PERMISSION_DENIED);
        let e = ftp_error("read", "s", "/a", &reply(Status::TransferAborted, "426 aborted"));
        assert!(e.kind == ErrorKind::UNAVAILABLE && e.temporary);
    }
}
