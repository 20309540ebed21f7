//! Streaming, atomically published writes.
//!
//! Bytes go to a hidden temp file beside the target (`.arca-tmp-<name>-<random>`),
//! which `finish` renames onto the final name: a reader sees the old file or
//! the new one, never a mix, and of two concurrent writers the last to finish
//! wins. Chunks travel over a small bounded channel to one blocking task that
//! owns the file, so writing to disk overlaps with receiving the next chunk
//! without a `spawn_blocking` per chunk.

use crate::error::{io_error, shown, task_failed};
use crate::store::{Shared, TEMP_PREFIX, blocking};
use arca_core::{ArtifactPath, Chunk, Error, ErrorKind, Result, Writer};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many chunks may wait for the writing task.
const WRITE_QUEUE: usize = 4;

/// How much of the target's name goes into the temp file's name, so that the
/// temp name stays within the 255-byte limit of common file systems.
const NAME_IN_TEMP: usize = 64;

/// Writes one file; see the module docs.
#[derive(Debug)]
pub struct LocalWriter {
    /// Closed to tell the writing task that no more chunks come.
    tx: Option<mpsc::Sender<Chunk>>,
    /// The writing task; it hands the file back once the channel is closed.
    task: Option<JoinHandle<Result<File>>>,
    /// Set when the file is discarded, so the task skips chunks still queued.
    discarded: Arc<AtomicBool>,
    /// The temp file while it may exist; cleared once renamed or removed.
    temp: Option<PathBuf>,
    target: PathBuf,
    dir: PathBuf,
    fsync: bool,
    path: String,
}

/// Checks `path`, creates its parent directories and the temp file, and starts
/// the writing task.
pub(crate) async fn open(shared: Arc<Shared>, path: &ArtifactPath) -> Result<LocalWriter> {
    let p = path.clone();
    let fsync = shared.fsync;
    let (file, temp, target, dir) = blocking("write", path.as_str(), move || prepare(&shared, &p)).await?;
    let (tx, mut rx) = mpsc::channel::<Chunk>(WRITE_QUEUE);
    let discarded = Arc::new(AtomicBool::new(false));
    let (flag, shown_path) = (discarded.clone(), path.as_str().to_owned());
    let task = tokio::task::spawn_blocking(move || {
        let mut file = file;
        while let Some(chunk) = rx.blocking_recv() {
            if flag.load(Ordering::Relaxed) {
                break;
            }
            file.write_all(chunk.as_bytes())
                .map_err(|e| io_error("write", &shown_path, e))?;
        }
        Ok(file)
    });
    Ok(LocalWriter {
        tx: Some(tx),
        task: Some(task),
        discarded,
        temp: Some(temp),
        target,
        dir,
        fsync,
        path: path.as_str().to_owned(),
    })
}

/// The blocking part of [`open`]: returns the open temp file, its path, the
/// target path and the directory holding both.
fn prepare(shared: &Shared, path: &ArtifactPath) -> Result<(File, PathBuf, PathBuf, PathBuf)> {
    let shown_path = shown(path.as_str());
    let (Some(name), Some(parent)) = (path.file_name(), path.parent()) else {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot write the store root: it is a directory",
        ));
    };
    if name.starts_with(TEMP_PREFIX) {
        return Err(Error::invalid_input(format!(
            "names starting with {TEMP_PREFIX} are reserved for uploads in progress: {shown_path}"
        )));
    }
    match shared.resolve(path, "write")? {
        Some(existing) if existing.is_dir() => {
            return Err(Error::new(
                ErrorKind::IS_A_DIRECTORY,
                format!("is a directory: {shown_path}"),
            ));
        }
        Some(_) => {}
        None => {
            if !shared.check_ancestor(path, "write")? {
                return Err(Error::new(
                    ErrorKind::IS_A_DIRECTORY,
                    format!("a parent of {shown_path} is a file, not a directory"),
                ));
            }
        }
    }
    let dir = shared.full(&parent);
    fs::create_dir_all(&dir).map_err(|e| io_error("create the parent directory of", path.as_str(), e))?;
    let mut short = name.len().min(NAME_IN_TEMP);
    while !name.is_char_boundary(short) {
        short -= 1;
    }
    // A name is tried a few times in case it collides (it is random enough
    // that it should not, but `create_new` makes a collision harmless).
    let mut attempt = 0;
    loop {
        let temp = dir.join(format!("{TEMP_PREFIX}{}-{}", &name[..short], random_suffix()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((file, temp, shared.full(path), dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 3 => attempt += 1,
            Err(e) => return Err(io_error("create a temp file for", path.as_str(), e)),
        }
    }
}

/// A unique-enough suffix from std alone: the process id, the time and a
/// counter, through a randomly keyed hash.
fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    std::process::id().hash(&mut h);
    COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut h);
    SystemTime::now().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Makes the file durable, moves it onto its final name, and makes the rename
/// durable. Returns whether the rename happened (the temp file is then gone)
/// together with the outcome.
fn publish(file: File, temp: &Path, target: &Path, dir: &Path, fsync: bool, path: &str) -> (bool, Result<()>) {
    let fail = |e| io_error("finish writing", path, e);
    if fsync && let Err(e) = file.sync_all() {
        return (false, Err(fail(e)));
    }
    drop(file);
    if let Err(e) = fs::rename(temp, target) {
        return (false, Err(fail(e)));
    }
    if !fsync {
        return (true, Ok(()));
    }
    // The file is published at this point; a failed directory sync is still
    // reported, since the rename may not survive a crash. Some file systems
    // cannot sync a directory at all, which is not an error.
    let synced = File::open(dir).and_then(|d| d.sync_all());
    match synced {
        Err(e) if !matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) => (true, Err(fail(e))),
        _ => (true, Ok(())),
    }
}

impl LocalWriter {
    fn closed(&self) -> Error {
        Error::invalid_input(format!("the writer for {} is already closed", shown(&self.path)))
    }

    /// Closes the channel and waits for the writing task to hand the file
    /// back (or report why it stopped).
    async fn stop(&mut self) -> Result<File> {
        self.tx = None;
        let task = self.task.take().ok_or_else(|| self.closed())?;
        task.await.map_err(|e| task_failed("write", &self.path, e))?
    }
}

impl Writer for LocalWriter {
    async fn write(&mut self, chunk: Chunk) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let tx = self.tx.as_ref().ok_or_else(|| self.closed())?;
        if tx.send(chunk).await.is_ok() {
            return Ok(());
        }
        // The task only stops early on an error: report that error.
        match self.stop().await {
            Err(e) => Err(e),
            Ok(_) => Err(Error::unexpected(format!(
                "cannot write {}: the writing task stopped",
                shown(&self.path)
            ))),
        }
    }

    async fn finish(mut self) -> Result<()> {
        let file = self.stop().await?;
        let temp = self.temp.clone().ok_or_else(|| self.closed())?;
        let (target, dir, fsync, path) = (self.target.clone(), self.dir.clone(), self.fsync, self.path.clone());
        let (renamed, outcome) = blocking("finish writing", &self.path, move || {
            Ok(publish(file, &temp, &target, &dir, fsync, &path))
        })
        .await?;
        if renamed {
            self.temp = None;
        }
        // Otherwise `Drop` removes the temp file.
        outcome
    }

    async fn abort(mut self) -> Result<()> {
        self.discarded.store(true, Ordering::Relaxed);
        // Why the task stopped no longer matters: its file is being discarded.
        let _ = self.stop().await;
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        let path = self.path.clone();
        blocking("abort", &self.path, move || match fs::remove_file(&temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("discard the upload of", &path, e)),
            _ => Ok(()),
        })
        .await
    }
}

impl Drop for LocalWriter {
    /// Discards an unfinished file. This runs on whatever thread drops the
    /// writer (possibly a host thread with no runtime), so it only closes the
    /// channel and unlinks the temp file; the task, if still writing, ends on
    /// its own and its file is freed when closed.
    fn drop(&mut self) {
        self.discarded.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}
