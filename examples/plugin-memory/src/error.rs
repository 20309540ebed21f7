//! The errors this store reports, made in one place so every operation
//! words them alike. A memory store has no native errors to classify (a
//! plugin over a network client maps them here, marking the temporary ones;
//! the host retries those, plugins never do). None of these is temporary.

use arca_core::{Error, ErrorKind};

/// Nothing is stored at `uri`.
pub(crate) fn not_found(uri: &str) -> Error {
    Error::not_found(format!("no such file or directory: {uri}"))
}

/// `uri` is a directory (or the store root) where a file was expected.
pub(crate) fn is_a_directory(uri: &str) -> Error {
    Error::new(ErrorKind::IS_A_DIRECTORY, format!("is a directory: {uri}"))
}

/// A range of the object at `uri` (of `size` bytes) that starts past its end.
pub(crate) fn range_past_end(uri: &str, start: u64, size: u64) -> Error {
    Error::new(
        ErrorKind::RANGE_NOT_SATISFIABLE,
        format!("range start {start} is past the end of {uri} ({size} bytes)"),
    )
}

/// A range of the object at `uri` that ends before it starts.
pub(crate) fn invalid_range(uri: &str, start: u64, end: u64) -> Error {
    Error::invalid_input(format!("invalid range {start}..{end} for {uri}"))
}
