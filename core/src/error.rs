//! One error type for every backend: a kind that can grow, a message, a
//! `temporary` flag (the host retries only those) and key/value context.

use crate::ffi::{FfiBuf, FfiPair, FfiVec};
use std::fmt;

/// What went wrong, as an integer that can grow.
///
/// Not an enum: a plugin built against a newer `arca-core` may return a kind
/// this host does not know; it is then shown by number and treated like
/// [`ErrorKind::UNEXPECTED`].
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorKind(pub u32);

impl ErrorKind {
    /// The file or directory does not exist.
    pub const NOT_FOUND: Self = Self(1);
    /// The target already exists.
    pub const ALREADY_EXISTS: Self = Self(2);
    /// The caller is known but not allowed.
    pub const PERMISSION_DENIED: Self = Self(3);
    /// Credentials are missing or wrong.
    pub const UNAUTHENTICATED: Self = Self(4);
    /// A bad argument: an unsafe path, a malformed URI, …
    pub const INVALID_INPUT: Self = Self(5);
    /// The store's configuration is invalid (unknown key, bad value).
    pub const CONFIG_INVALID: Self = Self(6);
    /// The backend cannot do this operation.
    pub const UNSUPPORTED: Self = Self(7);
    /// The requested byte range lies outside the file.
    pub const RANGE_NOT_SATISFIABLE: Self = Self(8);
    /// The operation took too long.
    pub const TIMEOUT: Self = Self(9);
    /// The backend asked us to slow down.
    pub const RATE_LIMITED: Self = Self(10);
    /// The backend is unreachable or failing.
    pub const UNAVAILABLE: Self = Self(11);
    /// Anything else, including a panic inside a plugin.
    pub const UNEXPECTED: Self = Self(12);
    /// The path is a directory where a file was expected (or the reverse).
    pub const IS_A_DIRECTORY: Self = Self(13);
    /// A plugin library cannot be used (missing, not a plugin, wrong ABI).
    pub const PLUGIN_INVALID: Self = Self(14);

    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "not found",
            2 => "already exists",
            3 => "permission denied",
            4 => "unauthenticated",
            5 => "invalid input",
            6 => "invalid configuration",
            7 => "unsupported",
            8 => "range not satisfiable",
            9 => "timeout",
            10 => "rate limited",
            11 => "unavailable",
            13 => "is a directory",
            14 => "plugin invalid",
            _ => "unexpected",
        }
    }
}

impl fmt::Debug for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error every store operation returns.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// A lower-case sentence naming the path or URI (secrets redacted).
    pub message: String,
    /// Whether retrying the same operation may succeed.
    pub temporary: bool,
    /// Extra facts (`bucket`, `key`, `status`, …).
    pub context: Vec<(String, String)>,
}

impl Error {
    /// A permanent error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            temporary: false,
            context: Vec::new(),
        }
    }

    /// Shorthand for [`ErrorKind::NOT_FOUND`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NOT_FOUND, message)
    }

    /// Shorthand for [`ErrorKind::INVALID_INPUT`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INVALID_INPUT, message)
    }

    /// Shorthand for [`ErrorKind::UNSUPPORTED`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UNSUPPORTED, message)
    }

    /// Shorthand for [`ErrorKind::UNEXPECTED`].
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UNEXPECTED, message)
    }

    /// A request to `server` about `path` during which nothing moved for
    /// `secs` seconds (an idle timeout, as MLflow's
    /// `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT` sets): `TIMEOUT`, temporary.
    pub fn stalled(action: &str, server: &str, path: &str, secs: f64) -> Self {
        Self::new(
            ErrorKind::TIMEOUT,
            format!(
                "cannot {action} {server}{path}: nothing moved for {secs} s (MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT)"
            ),
        )
        .with("path", path)
        .temporary()
    }

    /// Marks the error as temporary (worth retrying).
    pub fn temporary(mut self) -> Self {
        self.temporary = true;
        self
    }

    /// Adds a context entry.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    /// Converts into the FFI form.
    pub fn into_ffi(self) -> FfiError {
        FfiError {
            kind: self.kind,
            temporary: self.temporary,
            message: FfiBuf::from_string(self.message),
            context: self
                .context
                .into_iter()
                .map(|(k, v)| FfiPair::new(k, v))
                .collect::<Vec<_>>()
                .into(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}, {:?}", self.kind, self.message)?;
        if self.temporary {
            f.write_str(", temporary")?;
        }
        for (k, v) in &self.context {
            write!(f, ", {k}={v:?}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// A convenient alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The FFI form of [`Error`].
#[repr(C)]
#[derive(Debug)]
pub struct FfiError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Whether retrying may succeed.
    pub temporary: bool,
    /// The message (UTF-8).
    pub message: FfiBuf,
    /// Key/value context.
    pub context: FfiVec<FfiPair>,
}

impl FfiError {
    /// Converts back into a Rust error (lossy on invalid UTF-8).
    pub fn into_error(self) -> Error {
        Error {
            kind: self.kind,
            temporary: self.temporary,
            message: self.message.to_string_lossy(),
            context: self.context.as_slice().iter().map(FfiPair::to_strings).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_roundtrips_through_ffi() {
        let e = Error::not_found("no such file: a/b").temporary().with("bucket", "x");
        let back = e.clone().into_ffi().into_error();
        assert_eq!(back, e);
        assert_eq!(back.to_string(), "no such file: a/b (bucket: x)");
    }

    #[test]
    fn unknown_kind_is_shown_as_unexpected() {
        assert_eq!(ErrorKind(999).name(), "unexpected");
    }
}
