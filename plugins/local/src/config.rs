//! Turns the URI and the configuration map a store is opened with into a
//! typed [`LocalConfig`].

use arca_core::{Config, Error, ErrorKind, Result};
use std::path::PathBuf;

/// The largest `chunk_size` accepted (64 MiB): a reader keeps a few chunks in
/// flight, so this bounds the memory one open file can hold.
pub const MAX_CHUNK_SIZE: usize = 64 << 20;

/// A parsed store configuration. Nothing in it is secret, so `Debug` is
/// derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalConfig {
    /// The root directory, absolute but not yet canonical (it may not exist).
    pub root: PathBuf,
    /// How many bytes each read chunk holds.
    pub chunk_size: usize,
    /// Whether finished writes are flushed to stable storage.
    pub fsync: bool,
}

impl LocalConfig {
    /// Parses `uri` and takes this plugin's keys from `config`, refusing any
    /// key left over.
    pub fn parse(uri: &str, mut config: Config) -> Result<Self> {
        let root = root_of(uri)?;
        let chunk_size = config
            .take_parsed::<usize>("chunk_size")?
            .unwrap_or(arca_core::CHUNK_SIZE);
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
            return Err(Error::new(
                ErrorKind::CONFIG_INVALID,
                format!("chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes"),
            ));
        }
        let fsync = config.take_bool("fsync")?.unwrap_or(true);
        config.finish()?;
        Ok(Self {
            root,
            chunk_size,
            fsync,
        })
    }
}

/// The root used when the URI is empty: MLflow's default local store.
pub const DEFAULT_ROOT: &str = "./mlruns";

/// The directory a URI names: `file:///abs`, `file:/abs`,
/// `file://localhost/abs`, or a plain path (relative ones are resolved
/// against the current directory).
fn root_of(uri: &str) -> Result<PathBuf> {
    // No URI at all means MLflow's own default local store.
    let uri = if uri.trim().is_empty() { DEFAULT_ROOT } else { uri };
    let path = match scheme(uri) {
        Some(s) if s.eq_ignore_ascii_case("file") => file_uri_path(uri)?,
        Some(_) => {
            return Err(Error::invalid_input(format!(
                "not a local path or file uri: {uri} (the local store serves file:// only)"
            )));
        }
        None => PathBuf::from(uri),
    };
    if path.is_absolute() {
        return Ok(path);
    }
    let cwd =
        std::env::current_dir().map_err(|e| Error::unexpected(format!("cannot resolve relative path {uri}: {e}")))?;
    Ok(cwd.join(path))
}

/// The scheme of `uri`, if it starts with one. A single letter is not a
/// scheme, so Windows drive paths (`C:\x`) stay paths, as in MLflow.
fn scheme(uri: &str) -> Option<&str> {
    let s = &uri[..uri.find(':')?];
    let valid = s.len() > 1
        && s.as_bytes()[0].is_ascii_alphabetic()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(s)
}

/// The decoded local path of a `file:` URI. Only an empty authority or
/// `localhost` is accepted: anything else would name another machine (or,
/// like `file://./etc`, smuggle in a relative path).
fn file_uri_path(uri: &str) -> Result<PathBuf> {
    let rest = &uri["file:".len()..];
    // Like MLflow (`urlparse`), a query or fragment is not part of the path.
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let host = &after[..end];
            if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                return Err(Error::invalid_input(format!(
                    "file uri names a host other than localhost: {uri}"
                )));
            }
            &after[end..]
        }
        None => rest,
    };
    if !path.starts_with('/') {
        return Err(Error::invalid_input(format!(
            "file uri must hold an absolute path: {uri}"
        )));
    }
    // A URI is decoded exactly once.
    let decoded = arca_core::path::percent_decode_once(path)
        .ok_or_else(|| Error::invalid_input(format!("file uri path percent-decodes to invalid utf-8: {uri}")))?;
    if decoded.contains('\0') {
        return Err(Error::invalid_input(format!("file uri path holds a nul byte: {uri}")));
    }
    Ok(PathBuf::from(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(uri: &str) -> Result<PathBuf> {
        LocalConfig::parse(uri, Config::default()).map(|c| c.root)
    }

    #[test]
    fn uri_forms() {
        for uri in [
            "file:///srv/a%20b",
            "file:/srv/a%20b",
            "file://localhost/srv/a%20b",
            "FILE:///srv/a%20b",
        ] {
            assert_eq!(root(uri), Ok(PathBuf::from("/srv/a b")), "{uri}");
        }
        assert_eq!(root("/srv/a%20b"), Ok(PathBuf::from("/srv/a%20b")));
        assert_eq!(root("file:///x?q=1"), Ok(PathBuf::from("/x")));
        let rel = root("mlruns").unwrap_or_default();
        assert!(rel.is_absolute() && rel.ends_with("mlruns"));
        // No URI: MLflow's default local store.
        assert_eq!(root(""), Ok(rel));
        for bad in [
            "s3://bucket/x",
            "file://otherhost/x",
            "file://./etc",
            "file:relative",
            "file:///a%00b",
        ] {
            let e = root(bad).err().map(|e| e.kind);
            assert_eq!(e, Some(ErrorKind::INVALID_INPUT), "{bad:?}");
        }
    }

    #[test]
    fn keys() {
        let c = LocalConfig::parse("/x", Config::from_pairs([("chunk_size", "4096"), ("fsync", "no")]));
        assert_eq!(c.map(|c| (c.chunk_size, c.fsync)), Ok((4096, false)));
        for (k, v) in [
            ("chunk_size", "0"),
            ("chunk_size", "x"),
            ("fsync", "maybe"),
            ("bucket", "b"),
        ] {
            let e = LocalConfig::parse("/x", Config::from_pairs([(k, v)]))
                .err()
                .map(|e| e.kind);
            assert_eq!(e, Some(ErrorKind::CONFIG_INVALID), "{k}={v}");
        }
    }
}
