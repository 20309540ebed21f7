//! Turns a `memory://<bucket>/<prefix>` URI and its configuration map into a
//! typed [`MemoryConfig`].

use crate::SCHEME;
use arca_core::{ArtifactPath, CHUNK_SIZE, Config, Error, ErrorKind, Result};

/// Configuration key: the most bytes one chunk of a read carries (default
/// [`arca_core::CHUNK_SIZE`]).
pub const CHUNK_SIZE_KEY: &str = "chunk_size";

/// A parsed store configuration. Nothing in it is secret, so `Debug` can be
/// derived; a plugin holding credentials writes a redacting `Debug` here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryConfig {
    /// The bucket: stores on the same bucket share their objects.
    pub bucket: String,
    /// The store's root inside the bucket (empty for the whole bucket).
    pub root: ArtifactPath,
    /// The most bytes one chunk of a read carries.
    pub chunk_size: usize,
}

impl MemoryConfig {
    /// Parses `memory://<bucket>/<optional prefix>` and takes the keys this
    /// plugin knows from `config`, refusing any other key by name.
    pub fn parse(uri: &str, mut config: Config) -> Result<Self> {
        let rest = strip_scheme(uri).ok_or_else(|| Error::invalid_input(format!("not a memory:// URI: {uri}")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::invalid_input(format!("no bucket in URI {uri}")));
        }
        let root = ArtifactPath::parse(prefix)
            .map_err(|e| Error::invalid_input(format!("invalid prefix in URI {uri}: {}", e.reason)))?;

        let chunk_size = config.take_parsed::<usize>(CHUNK_SIZE_KEY)?.unwrap_or(CHUNK_SIZE);
        if chunk_size == 0 {
            return Err(Error::new(
                ErrorKind::CONFIG_INVALID,
                format!("invalid value for configuration key {CHUNK_SIZE_KEY} (must be at least 1)"),
            ));
        }
        config.finish()?;

        Ok(Self {
            bucket: bucket.to_owned(),
            root,
            chunk_size,
        })
    }
}

/// The part of `uri` after `memory://` (the scheme is case-insensitive).
fn strip_scheme(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once("://")?;
    scheme.eq_ignore_ascii_case(SCHEME).then_some(rest)
}
