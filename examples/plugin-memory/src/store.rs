//! The store: where objects live and how a path becomes a key.
//!
//! Objects live in one process-wide map of buckets, each a sorted map from
//! key to bytes. A key is the store's root prefix joined with an artifact
//! path, and directories are implied: `a/b` exists as a directory exactly
//! when some key starts with `a/b/`. Reading, writing and listing are in
//! `reader.rs`, `writer.rs` and `lister.rs`.

use crate::config::MemoryConfig;
use crate::error;
use crate::lister;
use crate::reader::MemoryReader;
use crate::writer::MemoryWriter;
use arca_core::{ArtifactPath, ByteRange, FileInfo, ListPage, Result, Store};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound::{Included, Unbounded};
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// One bucket: key → object bytes. Objects are immutable once published, so
/// readers share them through the `Arc` instead of copying.
pub(crate) type Bucket = BTreeMap<String, Arc<Vec<u8>>>;

/// Every bucket in the process. One lock is plenty here: each critical
/// section is a few map operations, and no lock is held across an `.await`.
static BUCKETS: LazyLock<Mutex<HashMap<String, Bucket>>> = LazyLock::new(Default::default);

/// Runs `f` on the bucket called `name`, creating it if needed.
pub(crate) fn with_bucket<R>(name: &str, f: impl FnOnce(&mut Bucket) -> R) -> R {
    // The closures below never panic half-way through an update, so a
    // poisoned lock still guards consistent data: carry on with it.
    let mut buckets = BUCKETS.lock().unwrap_or_else(PoisonError::into_inner);
    f(buckets.entry(name.to_owned()).or_default())
}

/// Where the children of the directory `key` live: `key/`, or every key for
/// the top of the bucket. Matching on `key/` rather than `key` is what keeps
/// `run10/x` out of the directory `run1`.
pub(crate) fn dir_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}/")
    }
}

/// The keys under `prefix` (which they all start with) in key order, each with
/// the part after `prefix`.
pub(crate) fn keys_under<'a>(
    bucket: &'a Bucket,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Arc<Vec<u8>>)> + 'a {
    // Keys sharing a prefix are contiguous in a sorted map and start at the
    // first key not below the prefix.
    bucket
        .range::<str, _>((Included(prefix), Unbounded))
        .map_while(move |(key, data)| Some((key.strip_prefix(prefix)?, data)))
}

/// What a key names.
enum Entry {
    File(Arc<Vec<u8>>),
    Dir,
    Missing,
}

/// Looks `key` up. A key can name both a file and a directory (`a` and
/// `a/b`); the file wins, in `stat`, `read` and `list` alike.
fn lookup(bucket: &Bucket, key: &str) -> Entry {
    match bucket.get(key) {
        Some(data) => Entry::File(Arc::clone(data)),
        None if keys_under(bucket, &dir_prefix(key)).next().is_some() => Entry::Dir,
        None => Entry::Missing,
    }
}

pub(crate) fn file_info(path: String, size: usize) -> FileInfo {
    FileInfo {
        path,
        is_dir: false,
        size: size as u64,
        modified_ms: None,
    }
}

pub(crate) fn dir_info(path: String) -> FileInfo {
    FileInfo {
        path,
        is_dir: true,
        size: 0,
        modified_ms: None,
    }
}

/// A store: a root prefix inside a shared bucket.
#[derive(Debug)]
pub struct MemoryStore {
    config: MemoryConfig,
}

impl MemoryStore {
    /// Opens a store on a parsed configuration.
    pub fn new(config: MemoryConfig) -> Self {
        Self { config }
    }

    /// The bucket key of `path`. Both parts are already validated and
    /// normalised, so they are joined as they are, never parsed again.
    pub(crate) fn key(&self, path: &ArtifactPath) -> String {
        match (self.config.root.as_str(), path.as_str()) {
            (root, "") => root.to_owned(),
            ("", path) => path.to_owned(),
            (root, path) => format!("{root}/{path}"),
        }
    }

    /// The URI of `key`, for error messages.
    pub(crate) fn uri(&self, key: &str) -> String {
        format!("memory://{}/{key}", self.config.bucket)
    }

    pub(crate) fn with_bucket<R>(&self, f: impl FnOnce(&mut Bucket) -> R) -> R {
        with_bucket(&self.config.bucket, f)
    }

    /// Resolves `range` against the object `key` of `len` bytes: a start at
    /// or past the end is refused (except 0 on an empty object), an end past
    /// it is clipped.
    fn window(&self, key: &str, range: Option<ByteRange>, len: usize) -> Result<Range<usize>> {
        let size = len as u64;
        let Some(ByteRange { start, end }) = range else {
            return Ok(0..len);
        };
        if start > size || (start == size && size > 0) {
            return Err(error::range_past_end(&self.uri(key), start, size));
        }
        let end = end.map_or(size, |end| end.min(size));
        if end < start {
            return Err(error::invalid_range(&self.uri(key), start, end));
        }
        // Both bounds are now at most `len`, so they fit in a `usize`.
        Ok(start as usize..end as usize)
    }
}

impl Store for MemoryStore {
    type Reader = MemoryReader;
    type Writer = MemoryWriter;

    async fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        let key = self.key(path);
        // The root of a store always exists, even while the bucket is empty.
        let entry = if path.is_root() {
            Entry::Dir
        } else {
            self.with_bucket(|b| lookup(b, &key))
        };
        match entry {
            Entry::File(data) => Ok(file_info(path.to_string(), data.len())),
            Entry::Dir => Ok(dir_info(path.to_string())),
            Entry::Missing => Err(error::not_found(&self.uri(&key))),
        }
    }

    async fn list(&self, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
        Ok(lister::list(self, path, token, page_size))
    }

    async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<MemoryReader> {
        let key = self.key(path);
        let entry = if path.is_root() {
            Entry::Dir
        } else {
            self.with_bucket(|b| lookup(b, &key))
        };
        match entry {
            Entry::File(data) => {
                let window = self.window(&key, range, data.len())?;
                Ok(MemoryReader::new(data, window, self.config.chunk_size))
            }
            Entry::Dir => Err(error::is_a_directory(&self.uri(&key))),
            Entry::Missing => Err(error::not_found(&self.uri(&key))),
        }
    }

    async fn write(&self, path: &ArtifactPath) -> Result<MemoryWriter> {
        let key = self.key(path);
        if path.is_root() {
            return Err(error::is_a_directory(&self.uri(&key)));
        }
        Ok(MemoryWriter::new(self.config.bucket.clone(), key))
    }

    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let key = self.key(path);
        let prefix = dir_prefix(&key);
        // A scan of the whole bucket: simple, and fast enough for an example.
        self.with_bucket(|b| b.retain(|k, _| *k != key && !k.starts_with(&prefix)));
        Ok(())
    }
}
