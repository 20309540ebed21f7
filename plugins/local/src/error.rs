//! Maps `std::io::Error` onto Arca's error kinds, in one function, so every
//! operation classifies failures the same way.

use arca_core::{Error, ErrorKind};
use std::io;

/// Converts an I/O error met while doing `action` (a verb such as `read` or
/// `create directory for`) on `path` (a path relative to the store root).
///
/// Only errors that a later attempt can plausibly get past are marked
/// temporary: the host retries those and nothing else.
pub(crate) fn io_error(action: &str, path: &str, e: io::Error) -> Error {
    use io::ErrorKind as K;
    let shown = shown(path);
    let (kind, temporary) = match e.kind() {
        K::NotFound => return Error::not_found(format!("no such file or directory: {shown}")),
        K::PermissionDenied | K::ReadOnlyFilesystem => (ErrorKind::PERMISSION_DENIED, false),
        K::AlreadyExists => (ErrorKind::ALREADY_EXISTS, false),
        // The error kind covers both directions (a directory where a file was
        // expected and the reverse); the message says which.
        K::IsADirectory | K::NotADirectory => (ErrorKind::IS_A_DIRECTORY, false),
        K::InvalidInput | K::InvalidFilename => (ErrorKind::INVALID_INPUT, false),
        K::TimedOut => (ErrorKind::TIMEOUT, true),
        // A stale NFS handle is re-resolved by the next attempt, which goes
        // through the path again.
        K::Interrupted | K::WouldBlock | K::ResourceBusy | K::StaleNetworkFileHandle => (ErrorKind::UNAVAILABLE, true),
        _ => (ErrorKind::UNEXPECTED, false),
    };
    let err = Error::new(kind, format!("cannot {action} {shown}: {e}"));
    if temporary { err.temporary() } else { err }
}

/// The error for a path that leads outside the store root through a symlink.
pub(crate) fn outside_root(path: &str) -> Error {
    Error::new(
        ErrorKind::PERMISSION_DENIED,
        format!("path leads outside the store root: {}", shown(path)),
    )
}

/// The error for a blocking task that did not run to completion (it was
/// cancelled because the runtime is shutting down).
pub(crate) fn task_failed(action: &str, path: &str, e: tokio::task::JoinError) -> Error {
    Error::unexpected(format!("cannot {action} {}: background task failed: {e}", shown(path)))
}

/// How a relative path appears in messages: the root, whose path is empty,
/// is shown as `.` so that a message never ends in a dangling colon.
pub(crate) fn shown(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = io_error("read", "a/b", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(e.kind, ErrorKind::NOT_FOUND);
        assert_eq!(e.message, "no such file or directory: a/b");
        let e = io_error("write", "", io::Error::from(io::ErrorKind::TimedOut));
        assert!(e.temporary && e.kind == ErrorKind::TIMEOUT && e.message.starts_with("cannot write .: "));
        let e = io_error("write", "x", io::Error::from(io::ErrorKind::StorageFull));
        assert!(!e.temporary && e.kind == ErrorKind::UNEXPECTED);
    }
}
