//! [`LocalStore`]: the [`Store`] implementation, and the one place that maps
//! an [`ArtifactPath`] onto the disk and enforces that symlinks never lead
//! out of the root.
//!
//! Every operation does its file system work in one `spawn_blocking` task:
//! std's calls block, and one task per operation costs less than one per
//! system call (which is what `tokio::fs` would do).

use crate::config::LocalConfig;
use crate::error::{io_error, outside_root, shown, task_failed};
use crate::lister;
use crate::reader::{self, LocalReader};
use crate::writer::{self, LocalWriter};
use arca_core::{ArtifactPath, ByteRange, Error, FileInfo, ListPage, Result, Store};
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// The prefix of the hidden files in-progress writes go to. Listings skip
/// them and writes refuse names that start with it.
pub(crate) const TEMP_PREFIX: &str = ".arca-tmp-";

/// A store over one directory of the local file system (or an NFS mount).
#[derive(Clone, Debug)]
pub struct LocalStore {
    shared: Arc<Shared>,
}

/// What every operation needs, shared with its blocking task.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The canonical root: absolute, with every symlink resolved, so a
    /// canonical path is inside the store exactly when it starts with it.
    pub(crate) root: PathBuf,
    pub(crate) chunk_size: usize,
    pub(crate) fsync: bool,
}

impl LocalStore {
    /// Creates the root directory if it is missing, and resolves it once.
    pub async fn open(config: LocalConfig) -> Result<Self> {
        let LocalConfig {
            root,
            chunk_size,
            fsync,
        } = config;
        let shown_root = root.display().to_string();
        let root = blocking("open", &shown_root, move || {
            let create = |e| io_error("create store root", &root.display().to_string(), e);
            fs::create_dir_all(&root).map_err(create)?;
            let root = fs::canonicalize(&root).map_err(create)?;
            if !root.is_dir() {
                return Err(Error::invalid_input(format!(
                    "store root is not a directory: {}",
                    root.display()
                )));
            }
            Ok(root)
        })
        .await?;
        Ok(Self {
            shared: Arc::new(Shared {
                root,
                chunk_size,
                fsync,
            }),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }
}

/// Runs `f` on tokio's blocking pool and waits for it.
pub(crate) async fn blocking<T, F>(action: &str, path: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| task_failed(action, path, e))?
}

impl Shared {
    /// The on-disk path of `path`, not yet checked against symlinks.
    pub(crate) fn full(&self, path: &ArtifactPath) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(path.segments());
        p
    }

    /// Where `path` leads: `Some(canonical path)` inside the root, `None` if
    /// it does not exist (including when a parent is a file), or
    /// `PERMISSION_DENIED` if a symlink leads out of the root.
    ///
    /// The check and the use are two steps, so a symlink swapped in between
    /// them is not caught; using the canonical path (which has no symlinks
    /// left) for the operation narrows that window to renames of its parents.
    pub(crate) fn resolve(&self, path: &ArtifactPath, action: &str) -> Result<Option<PathBuf>> {
        Ok(self.resolve_meta(path, action)?.map(|(p, _)| p))
    }

    /// [`Shared::resolve`], also returning the metadata of what the path
    /// leads to.
    ///
    /// The common case costs one `lstat` per segment below the (canonical)
    /// root and nothing more: when no segment is a symlink, the path as
    /// named is already canonical and the last `lstat` is the metadata.
    /// Only a path through a symlink pays for a full `canonicalize`.
    pub(crate) fn resolve_meta(&self, path: &ArtifactPath, action: &str) -> Result<Option<(PathBuf, Metadata)>> {
        let mut p = self.root.clone();
        let mut last = None;
        for seg in path.segments() {
            p.push(seg);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => return self.resolve_through_symlinks(path, action),
                Ok(m) => last = Some(m),
                Err(e) if missing(&e) => return Ok(None),
                Err(e) => return Err(io_error(action, path.as_str(), e)),
            }
        }
        let meta = match last {
            Some(m) => m,
            None => match fs::metadata(&p) {
                Ok(m) => m,
                Err(e) if missing(&e) => return Ok(None),
                Err(e) => return Err(io_error(action, path.as_str(), e)),
            },
        };
        Ok(Some((p, meta)))
    }

    fn resolve_through_symlinks(&self, path: &ArtifactPath, action: &str) -> Result<Option<(PathBuf, Metadata)>> {
        match fs::canonicalize(self.full(path)) {
            Ok(c) if c.starts_with(&self.root) => match fs::metadata(&c) {
                Ok(m) => Ok(Some((c, m))),
                Err(e) if missing(&e) => Ok(None),
                Err(e) => Err(io_error(action, path.as_str(), e)),
            },
            Ok(_) => Err(outside_root(path.as_str())),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(io_error(action, path.as_str(), e)),
        }
    }

    /// Checks the deepest existing ancestor of a missing `path` (the directory
    /// where it would be created) and returns whether that ancestor is a
    /// directory (`false`: a parent of `path` is a file).
    pub(crate) fn check_ancestor(&self, path: &ArtifactPath, action: &str) -> Result<bool> {
        let mut cur = path.parent();
        while let Some(p) = cur {
            if let Some((_, meta)) = self.resolve_meta(&p, action)? {
                return Ok(meta.is_dir());
            }
            cur = p.parent();
        }
        // Even the root is gone (removed behind our back).
        Err(Error::not_found(format!(
            "store root no longer exists: {}",
            self.root.display()
        )))
    }

    fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        let not_found = || Error::not_found(format!("no such file or directory: {}", shown(path.as_str())));
        let (_, meta) = self.resolve_meta(path, "stat")?.ok_or_else(not_found)?;
        Ok(file_info(path.as_str().to_owned(), &meta))
    }

    fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let fail = |e| io_error("delete", path.as_str(), e);
        if path.is_root() {
            // The root itself stays: the store must remain openable.
            for entry in fs::read_dir(&self.root).map_err(fail)? {
                let entry = entry.map_err(fail)?;
                remove(&entry.path()).map_err(fail)?;
            }
            return Ok(());
        }
        if self.resolve(path, "delete")?.is_none() && !self.check_ancestor(path, "delete")? {
            return Ok(());
        }
        // The path as named, not its canonical form: a symlink is removed
        // itself, never what it points to.
        remove(&self.full(path)).map_err(fail)
    }
}

/// Removes a file, a symlink or a whole directory tree without following
/// symlinks; something already gone is success.
fn remove(p: &Path) -> io::Result<()> {
    let res = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) => Err(e),
    };
    match res {
        Err(e) if missing(&e) => Ok(()),
        other => other,
    }
}

/// Whether an error means "nothing there": a missing entry, or a parent
/// that is a file.
pub(crate) fn missing(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// Describes a file or directory; `path` is whatever the caller reports.
pub(crate) fn file_info(path: String, meta: &Metadata) -> FileInfo {
    let modified_ms = meta.modified().ok().map(|t| match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    });
    FileInfo {
        path,
        is_dir: meta.is_dir(),
        size: if meta.is_dir() { 0 } else { meta.len() },
        modified_ms,
    }
}

impl Store for LocalStore {
    type Reader = LocalReader;
    type Writer = LocalWriter;

    async fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        // A stat is one `lstat` per path segment, microseconds on a local
        // disk: run inline, since handing it to the blocking pool and back
        // would cost several times the call itself. (On a hung NFS server it
        // blocks the calling thread, as the same call in `std` would.)
        self.shared.stat(path)
    }

    async fn list(&self, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
        let (shared, p, token) = (self.shared.clone(), path.clone(), token.map(str::to_owned));
        blocking("list", path.as_str(), move || {
            lister::list(&shared, &p, token.as_deref(), page_size)
        })
        .await
    }

    async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<LocalReader> {
        reader::open(self.shared.clone(), path, range).await
    }

    async fn write(&self, path: &ArtifactPath) -> Result<LocalWriter> {
        writer::open(self.shared.clone(), path).await
    }

    async fn local_path(&self, path: &ArtifactPath) -> Result<PathBuf> {
        // Resolved like a read: a symlink that leads out of the root is
        // refused, a directory is not a file.
        match self.shared.resolve_meta(path, "read")? {
            Some((_, meta)) if meta.is_dir() => Err(Error::new(
                arca_core::ErrorKind::IS_A_DIRECTORY,
                format!("is a directory, not a file: {}", crate::error::shown(path.as_str())),
            )),
            Some((canonical, _)) => Ok(canonical),
            None => Err(Error::not_found(format!(
                "no such file or directory: {}",
                crate::error::shown(path.as_str())
            ))),
        }
    }

    async fn rename(&self, from: &ArtifactPath, to: &ArtifactPath) -> Result<()> {
        let (shared, f, t) = (self.shared.clone(), from.clone(), to.clone());
        blocking("rename", from.as_str(), move || writer::rename(&shared, &f, &t)).await
    }

    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let (shared, p) = (self.shared.clone(), path.clone());
        blocking("delete", path.as_str(), move || shared.delete(&p)).await
    }
}
