//! The store, its reader and its writer.
//!
//! Objects live in one process-wide map of buckets, each a sorted map from
//! key to bytes. A key is the store's root prefix joined with an artifact
//! path, and directories are implied: `a/b` exists as a directory exactly
//! when some key starts with `a/b/`.

use crate::config::MemoryConfig;
use arca_core::{
    ArtifactPath, ByteRange, Chunk, CompletedPart, Error, ErrorKind, FileInfo, ListPage, MultipartUpload, Reader,
    Result, Store, Writer,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Bound::{Included, Unbounded};
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// One bucket: key → object bytes. Objects are immutable once published, so
/// readers share them through the `Arc` instead of copying.
type Bucket = BTreeMap<String, Arc<Vec<u8>>>;

/// Every bucket in the process. One lock is plenty here: each critical
/// section is a few map operations, and no lock is held across an `.await`.
static BUCKETS: LazyLock<Mutex<HashMap<String, Bucket>>> = LazyLock::new(Default::default);

/// Runs `f` on the bucket called `name`, creating it if needed.
fn with_bucket<R>(name: &str, f: impl FnOnce(&mut Bucket) -> R) -> R {
    // The closures below never panic half-way through an update, so a
    // poisoned lock still guards consistent data: carry on with it.
    let mut buckets = BUCKETS.lock().unwrap_or_else(PoisonError::into_inner);
    f(buckets.entry(name.to_owned()).or_default())
}

/// Where the children of the directory `key` live: `key/`, or every key for
/// the top of the bucket. Matching on `key/` rather than `key` is what keeps
/// `run10/x` out of the directory `run1`.
fn dir_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}/")
    }
}

/// The keys under `prefix` (which they all start with) in key order, each with
/// the part after `prefix`.
fn keys_under<'a>(bucket: &'a Bucket, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a Arc<Vec<u8>>)> + 'a {
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

fn file_info(path: String, size: usize) -> FileInfo {
    FileInfo {
        path,
        is_dir: false,
        size: size as u64,
        modified_ms: None,
    }
}

fn dir_info(path: String) -> FileInfo {
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
    fn key(&self, path: &ArtifactPath) -> String {
        match (self.config.root.as_str(), path.as_str()) {
            (root, "") => root.to_owned(),
            ("", path) => path.to_owned(),
            (root, path) => format!("{root}/{path}"),
        }
    }

    /// The URI of `key`, for error messages.
    fn uri(&self, key: &str) -> String {
        format!("memory://{}/{key}", self.config.bucket)
    }

    fn with_bucket<R>(&self, f: impl FnOnce(&mut Bucket) -> R) -> R {
        with_bucket(&self.config.bucket, f)
    }

    /// Resolves `range` against an object of `len` bytes: a start at or past
    /// the end is refused (except 0 on an empty object), an end past it is
    /// clipped.
    fn resolve(&self, key: &str, range: Option<ByteRange>, len: usize) -> Result<Range<usize>> {
        let size = len as u64;
        let Some(ByteRange { start, end }) = range else {
            return Ok(0..len);
        };
        if start > size || (start == size && size > 0) {
            return Err(Error::new(
                ErrorKind::RANGE_NOT_SATISFIABLE,
                format!(
                    "range start {start} is past the end of {} ({size} bytes)",
                    self.uri(key)
                ),
            ));
        }
        let end = end.map_or(size, |end| end.min(size));
        if end < start {
            return Err(Error::invalid_input(format!(
                "invalid range {start}..{end} for {}",
                self.uri(key)
            )));
        }
        // Both bounds are now at most `len`, so they fit in a `usize`.
        Ok(start as usize..end as usize)
    }

    fn no_multipart(&self, path: &ArtifactPath) -> Error {
        Error::unsupported(format!(
            "multipart uploads are not supported: {}",
            self.uri(&self.key(path))
        ))
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
            Entry::Missing => Err(Error::not_found(format!(
                "no such file or directory: {}",
                self.uri(&key)
            ))),
        }
    }

    async fn list(&self, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
        let prefix = dir_prefix(&self.key(path));
        // Children are gathered by name first because key order is not name
        // order: the key `a.txt` sorts before `a/x`, yet the directory `a`
        // sorts before the file `a.txt`.
        let children = self.with_bucket(|b| {
            let mut children = BTreeMap::new();
            for (rest, data) in keys_under(b, &prefix) {
                match rest.split_once('/') {
                    Some((dir, _)) => {
                        children
                            .entry(dir.to_owned())
                            .or_insert_with(|| dir_info(dir.to_owned()));
                    }
                    None => {
                        children.insert(rest.to_owned(), file_info(rest.to_owned(), data.len()));
                    }
                }
            }
            children
        });

        Ok(ListPage::from_sorted(children.into_values(), token, page_size))
    }

    async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<MemoryReader> {
        let key = self.key(path);
        let entry = if path.is_root() {
            Entry::Dir
        } else {
            self.with_bucket(|b| lookup(b, &key))
        };
        let data = match entry {
            Entry::File(data) => data,
            Entry::Dir => {
                return Err(Error::new(
                    ErrorKind::IS_A_DIRECTORY,
                    format!("is a directory: {}", self.uri(&key)),
                ));
            }
            Entry::Missing => return Err(Error::not_found(format!("no such file: {}", self.uri(&key)))),
        };
        let window = self.resolve(&key, range, data.len())?;
        Ok(MemoryReader {
            data,
            window,
            chunk_size: self.config.chunk_size,
        })
    }

    async fn write(&self, path: &ArtifactPath) -> Result<MemoryWriter> {
        let key = self.key(path);
        if path.is_root() {
            return Err(Error::new(
                ErrorKind::IS_A_DIRECTORY,
                format!("cannot write to the store root: {}", self.uri(&key)),
            ));
        }
        Ok(MemoryWriter {
            bucket: self.config.bucket.clone(),
            key,
            buf: Vec::new(),
        })
    }

    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let key = self.key(path);
        let prefix = dir_prefix(&key);
        // A scan of the whole bucket: simple, and fast enough for an example.
        self.with_bucket(|b| b.retain(|k, _| *k != key && !k.starts_with(&prefix)));
        Ok(())
    }

    async fn multipart_create(&self, path: &ArtifactPath, _num_parts: u32) -> Result<MultipartUpload> {
        Err(self.no_multipart(path))
    }

    async fn multipart_complete(&self, path: &ArtifactPath, _upload_id: &str, _parts: &[CompletedPart]) -> Result<()> {
        Err(self.no_multipart(path))
    }

    async fn multipart_abort(&self, path: &ArtifactPath, _upload_id: &str) -> Result<()> {
        Err(self.no_multipart(path))
    }
}

/// Streams a byte window of one object in chunks. It holds the object itself,
/// so a concurrent overwrite or delete does not disturb a read in progress.
pub struct MemoryReader {
    data: Arc<Vec<u8>>,
    /// What is left to send.
    window: Range<usize>,
    chunk_size: usize,
}

impl fmt::Debug for MemoryReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReader")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Reader for MemoryReader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.window.is_empty() {
            return Ok(None);
        }
        let start = self.window.start;
        let end = self.window.end.min(start.saturating_add(self.chunk_size));
        self.window.start = end;
        // No copy: the chunk shares the object and is freed by this library.
        Ok(Some(Chunk::from_owner(Slice {
            data: Arc::clone(&self.data),
            range: start..end,
        })))
    }
}

/// A part of a stored object, handed to the host as a chunk.
struct Slice {
    data: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        self.data.get(self.range.clone()).unwrap_or_default()
    }
}

/// Buffers a file and publishes it in one map insert on [`Writer::finish`].
/// Dropping it, or calling [`Writer::abort`], discards the buffer.
pub struct MemoryWriter {
    bucket: String,
    key: String,
    buf: Vec<u8>,
}

impl fmt::Debug for MemoryWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryWriter")
            .field("key", &self.key)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Writer for MemoryWriter {
    async fn write(&mut self, chunk: Chunk) -> Result<()> {
        self.buf.extend_from_slice(chunk.as_bytes());
        Ok(())
    }

    async fn finish(self) -> Result<()> {
        let Self { bucket, key, buf } = self;
        with_bucket(&bucket, |b| b.insert(key, Arc::new(buf)));
        Ok(())
    }

    async fn abort(self) -> Result<()> {
        Ok(())
    }
}
