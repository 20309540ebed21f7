//! Maps SFTP status replies and SSH transport failures onto Arca's error
//! kinds, in one place. Messages name the server and path, never the
//! password.

use arca_core::{Error, ErrorKind};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;

/// The status code of `e`, if the server answered with one.
pub(crate) fn status(e: &SftpError) -> Option<StatusCode> {
    match e {
        SftpError::Status(s) => Some(s.status_code),
        _ => None,
    }
}

/// Converts `e`, met while doing `action` (a verb such as `read`) on
/// `path` of `server` (`sftp://user@host:port`).
pub(crate) fn sftp_error(action: &str, server: &str, path: &str, e: &SftpError) -> Error {
    let (kind, temporary, text) = match e {
        SftpError::Status(s) => {
            let text = if s.error_message.trim().is_empty() {
                s.status_code.to_string()
            } else {
                format!("{} ({})", s.error_message.trim(), s.status_code)
            };
            let (kind, temporary) = match s.status_code {
                StatusCode::NoSuchFile => (ErrorKind::NOT_FOUND, false),
                StatusCode::PermissionDenied => (ErrorKind::PERMISSION_DENIED, false),
                StatusCode::OpUnsupported => (ErrorKind::UNSUPPORTED, false),
                StatusCode::NoConnection | StatusCode::ConnectionLost => (ErrorKind::UNAVAILABLE, true),
                StatusCode::BadMessage => (ErrorKind::INVALID_INPUT, false),
                // End of file where data was expected; a generic failure
                // (a full disk, a non-empty directory, …).
                _ => (ErrorKind::UNEXPECTED, false),
            };
            (kind, temporary, format!("the server answered {text}"))
        }
        SftpError::Timeout => (ErrorKind::TIMEOUT, true, "no reply in time".to_owned()),
        SftpError::IO(m) => (ErrorKind::UNAVAILABLE, true, format!("the connection failed: {m}")),
        SftpError::Limited(m) => (ErrorKind::INVALID_INPUT, false, format!("over a server limit: {m}")),
        SftpError::UnexpectedPacket | SftpError::UnexpectedBehavior(_) => {
            (ErrorKind::UNAVAILABLE, true, format!("the SFTP session failed: {e}"))
        }
    };
    let err = Error::new(kind, format!("cannot {action} {server}{path}: {text}")).with("path", path);
    if temporary { err.temporary() } else { err }
}

/// An SSH-level failure (connecting, a channel) for `server`.
pub(crate) fn ssh_error(action: &str, server: &str, e: &russh::Error) -> Error {
    use russh::Error as E;
    let (kind, temporary) = match e {
        E::IO(_) | E::Disconnect | E::ConnectionTimeout | E::KeepaliveTimeout | E::InactivityTimeout => {
            (ErrorKind::UNAVAILABLE, true)
        }
        E::ChannelOpenFailure(_) | E::SendError | E::HUP => (ErrorKind::UNAVAILABLE, true),
        E::NoCommonAlgo { .. } | E::UnknownAlgo | E::Kex | E::WrongServerSig => (ErrorKind::UNAVAILABLE, false),
        _ => (ErrorKind::UNEXPECTED, false),
    };
    let err = Error::new(kind, format!("cannot {action} {server}: {e}"));
    if temporary { err.temporary() } else { err }
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh_sftp::protocol::Status;

    fn reply(code: StatusCode, msg: &str) -> SftpError {
        SftpError::Status(Status {
            id: 1,
            status_code: code,
            error_message: msg.to_owned(),
            language_tag: String::new(),
        })
    }

    #[test]
    fn status_codes_become_kinds() {
        let e = sftp_error(
            "read",
            "sftp://u@h:22",
            "/a",
            &reply(StatusCode::NoSuchFile, "No such file"),
        );
        assert_eq!(e.kind, ErrorKind::NOT_FOUND);
        assert!(e.message.contains("sftp://u@h:22/a") && e.message.contains("No such file"));
        let e = sftp_error("write", "s", "/a", &reply(StatusCode::PermissionDenied, ""));
        assert_eq!(e.kind, ErrorKind::PERMISSION_DENIED);
        let e = sftp_error("read", "s", "/a", &reply(StatusCode::ConnectionLost, "gone"));
        assert!(e.kind == ErrorKind::UNAVAILABLE && e.temporary);
        let e = sftp_error("read", "s", "/a", &SftpError::Timeout);
        assert!(e.kind == ErrorKind::TIMEOUT && e.temporary);
    }
}
