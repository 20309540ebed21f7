//! The safe Rust interface a plugin implements. [`crate::export_plugin!`]
//! turns an implementation into the `extern "C"` vtable; a plugin crate never
//! writes `unsafe`.

use crate::abi::Requirement;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::FfiBuf;
use crate::path::ArtifactPath;
use crate::runtime::Runtime;
use crate::types::{ByteRange, Capabilities, CompletedPart, FileInfo, ListPage, MultipartUpload, PresignedUrl};
use std::collections::BTreeMap;
use std::future::Future;

/// A chunk of file data. Build one with [`FfiBuf::from_vec`] or
/// [`FfiBuf::from_owner`] (e.g. over a `bytes::Bytes`); no copy is made when it
/// crosses the boundary.
pub type Chunk = FfiBuf;

/// A plugin: its identity and its constructor.
pub trait Plugin: Send + Sync + 'static {
    /// Short name, e.g. `local`.
    const NAME: &'static str;
    /// Version, usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    /// URI schemes served, e.g. `&["file"]`.
    const SCHEMES: &'static [&'static str];
    /// What its stores can do.
    const CAPABILITIES: Capabilities;
    /// The async runtime its futures run on: none (the default, for a
    /// plugin that never waits on timers, sockets or blocking work), or a
    /// tokio runtime the plugin library owns (`Runtime::Tokio`, with the
    /// `tokio` feature of `arca-core`).
    const RUNTIME: Runtime = Runtime::None;
    /// What the plugin needs of a host newer than the epoch's first version
    /// (see [`crate::abi`]): a host older than a requirement refuses the
    /// plugin and names it. Empty (the default) for a plugin that uses
    /// nothing appended to the ABI, or uses it only when the host has it.
    const REQUIRES: &'static [Requirement] = &[];
    /// The store type.
    type Store: Store;

    /// Runs `f` with the plugin's runtime entered on the current thread. A
    /// plugin library carries its own copy of its runtime; the host polls
    /// plugin futures on its own threads, and every poll happens inside
    /// `enter`, so timers, I/O and `spawn_blocking` reach the plugin's
    /// runtime, never the host's. An error (the runtime cannot be started)
    /// fails the operation.
    ///
    /// The default serves [`Plugin::RUNTIME`]; override it only to bring a
    /// runtime other than tokio.
    fn enter<R>(f: impl FnOnce() -> R) -> Result<R> {
        crate::runtime::enter::<Self, R>(f)
    }

    /// Opens a store for `uri` with its configuration. Unknown keys must be
    /// refused by name (see [`Config::finish`]).
    fn open(uri: String, config: Config) -> impl Future<Output = Result<Self::Store>> + Send + 'static;
}

/// A store: the minimum primitive set. Conveniences live in the host.
///
/// The operations a capability gates (multipart uploads, presigned reads)
/// answer `UNSUPPORTED` unless the store implements them, so a store that
/// cannot do them writes nothing for them, and an operation added to the
/// ABI later never breaks a plugin's source.
pub trait Store: Send + Sync + 'static {
    /// A streaming reader.
    type Reader: Reader;
    /// A streaming, atomically published writer.
    type Writer: Writer;

    /// Describes `path` (file or directory); `NOT_FOUND` if absent.
    fn stat(&self, path: &ArtifactPath) -> impl Future<Output = Result<FileInfo>> + Send;
    /// Lists the immediate children of `path`, sorted by name, at most
    /// `page_size` per page, continuing after `token`. A missing path or a
    /// file gives an empty page.
    fn list(
        &self,
        path: &ArtifactPath,
        token: Option<&str>,
        page_size: usize,
    ) -> impl Future<Output = Result<ListPage>> + Send;
    /// Opens `path` for reading. A range past the end is
    /// `RANGE_NOT_SATISFIABLE` when it starts beyond the size, and is clipped
    /// when only its end is beyond the size.
    fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> impl Future<Output = Result<Self::Reader>> + Send;
    /// Starts writing `path`; parent directories are implied.
    fn write(&self, path: &ArtifactPath) -> impl Future<Output = Result<Self::Writer>> + Send;
    /// Deletes a file or a whole subtree; a missing path is success.
    fn delete(&self, path: &ArtifactPath) -> impl Future<Output = Result<()>> + Send;
    /// Starts a multipart upload whose parts the client sends straight to
    /// the backend (presigned part URLs), for a store whose capabilities say
    /// `multipart`; `UNSUPPORTED` otherwise.
    fn multipart_create(
        &self,
        path: &ArtifactPath,
        num_parts: u32,
    ) -> impl Future<Output = Result<MultipartUpload>> + Send {
        let _ = num_parts;
        unsupported("start a multipart upload of", path)
    }
    /// Completes a multipart upload (see [`Store::multipart_create`]).
    fn multipart_complete(
        &self,
        path: &ArtifactPath,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (upload_id, parts);
        unsupported("complete a multipart upload of", path)
    }
    /// Aborts a multipart upload (see [`Store::multipart_create`]).
    fn multipart_abort(&self, path: &ArtifactPath, upload_id: &str) -> impl Future<Output = Result<()>> + Send {
        let _ = upload_id;
        unsupported("abort a multipart upload of", path)
    }
    /// A URL that reads the file `path` straight from the backend for `ttl`,
    /// for a store whose capabilities say `presigned_read`; `UNSUPPORTED`
    /// otherwise.
    fn presign_read(
        &self,
        path: &ArtifactPath,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<PresignedUrl>> + Send {
        let _ = ttl;
        unsupported("presign a read of", path)
    }
    /// Where the file `path` is on this machine's file system, as an
    /// absolute path, for a store whose capabilities say `local_files`; the
    /// host may then read it there directly (e.g. with `copy_file_range`).
    /// `UNSUPPORTED` otherwise. (ABI 3.1.)
    fn local_path(&self, path: &ArtifactPath) -> impl Future<Output = Result<std::path::PathBuf>> + Send {
        unsupported("give the local path of", path)
    }
    /// Moves the file `from` onto `to`, replacing what `to` held, for a
    /// store whose capabilities say `rename`: atomically (a reader of `to`
    /// sees the old file or the new one, whole, as after a writer's
    /// `finish`, and as durably), without copying the bytes; `to`'s parents
    /// are implied. `NOT_FOUND` when `from` is absent, `IS_A_DIRECTORY`
    /// when it is a directory. `UNSUPPORTED` otherwise. (ABI 3.2.)
    fn rename(&self, from: &ArtifactPath, to: &ArtifactPath) -> impl Future<Output = Result<()>> + Send {
        let _ = to;
        unsupported("rename", from)
    }
}

/// The answer of an operation a store does not implement.
fn unsupported<T>(what: &str, path: &ArtifactPath) -> std::future::Ready<Result<T>> {
    std::future::ready(Err(Error::unsupported(format!("this store cannot {what} {path}"))))
}

/// Streams a file out in chunks.
pub trait Reader: Send + 'static {
    /// The next chunk, or `None` at the end.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Chunk>>> + Send;
}

/// Streams a file in. Nothing is visible under the final name until
/// [`Writer::finish`] succeeds; [`Writer::abort`] or dropping the writer
/// discards everything written.
pub trait Writer: Send + 'static {
    /// Appends a chunk.
    fn write(&mut self, chunk: Chunk) -> impl Future<Output = Result<()>> + Send;
    /// Publishes the file atomically.
    fn finish(self) -> impl Future<Output = Result<()>> + Send;
    /// Discards the file.
    fn abort(self) -> impl Future<Output = Result<()>> + Send;
}

/// The flat string map a store is opened with.
///
/// Keys are taken one by one as the plugin parses them; [`Config::finish`]
/// then refuses whatever is left, naming the keys. `Debug` shows keys only,
/// since values may be secrets.
#[derive(Clone, Default)]
pub struct Config {
    entries: BTreeMap<String, String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.entries.keys()).finish()
    }
}

impl Config {
    /// Builds a config from pairs.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            entries: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// Reads a value without taking it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Takes a value.
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.entries.remove(key)
    }

    /// Takes `key`, else reads the first variable of `vars` that `env`
    /// gives a non-blank value for (`env` is `std::env::var` in a plugin,
    /// a closure in its tests). Returns the value and where it came from
    /// (`configuration key K` or the variable's name), for messages.
    pub fn take_or_env(
        &mut self,
        key: &str,
        vars: &[&str],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<(String, String)> {
        if let Some(v) = self.entries.remove(key) {
            return Some((v, format!("configuration key {key}")));
        }
        vars.iter().find_map(|var| {
            env(var)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (v, (*var).to_owned()))
        })
    }

    /// An idle timeout in seconds from [`Config::take_or_env`]: above 0
    /// and at most a week; anything else is refused, naming its source.
    pub fn take_timeout(
        &mut self,
        key: &str,
        vars: &[&str],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<std::time::Duration>> {
        const MAX_SECS: f64 = 604_800.0;
        match self.take_or_env(key, vars, env) {
            None => Ok(None),
            Some((v, from)) => match v.trim().parse::<f64>() {
                Ok(s) if s > 0.0 && s <= MAX_SECS => Ok(Some(std::time::Duration::from_secs_f64(s))),
                _ => Err(Error::new(
                    ErrorKind::CONFIG_INVALID,
                    format!("{from} must be a number of seconds above 0 and at most {MAX_SECS}, got {v:?}"),
                )),
            },
        }
    }

    /// Takes and parses a value; a parse failure names the key.
    pub fn take_parsed<T: std::str::FromStr>(&mut self, key: &str) -> Result<Option<T>> {
        match self.entries.remove(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                Error::new(
                    ErrorKind::CONFIG_INVALID,
                    format!("invalid value for configuration key {key}"),
                )
            }),
        }
    }

    /// Takes a boolean (`true/false/1/0/yes/no`, case-insensitive).
    pub fn take_bool(&mut self, key: &str) -> Result<Option<bool>> {
        match self.entries.remove(key) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" | "" => Ok(Some(false)),
                _ => Err(Error::new(
                    ErrorKind::CONFIG_INVALID,
                    format!("invalid boolean for configuration key {key} (expected true or false)"),
                )),
            },
        }
    }

    /// Fails if any key was not taken.
    pub fn finish(self) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        Err(Error::new(
            ErrorKind::CONFIG_INVALID,
            format!("unknown configuration key(s): {}", keys.join(", ")),
        ))
    }

    /// Whether no key is left.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_map_then_the_environment() {
        let env = |name: &str| match name {
            "A" => Some("  ".to_owned()),
            "B" => Some("from-b".to_owned()),
            "T" => Some("2.5".to_owned()),
            "BAD" => Some("-1".to_owned()),
            _ => None,
        };
        let mut c = Config::from_pairs([("k", "from-map")]);
        assert_eq!(
            c.take_or_env("k", &["B"], &env),
            Some(("from-map".to_owned(), "configuration key k".to_owned()))
        );
        assert_eq!(
            c.take_or_env("k", &["A", "B"], &env),
            Some(("from-b".to_owned(), "B".to_owned()))
        );
        assert_eq!(c.take_or_env("k", &["A", "C"], &env), None);
        assert_eq!(
            c.take_timeout("timeout", &["T"], &env).ok().flatten(),
            Some(std::time::Duration::from_millis(2500))
        );
        let e = c.take_timeout("timeout", &["BAD"], &env).err().map(|e| e.message);
        assert!(e.is_some_and(|m| m.starts_with("BAD must be")));
        assert!(c.is_empty());
    }
}
