//! Streaming, atomically published writes.
//!
//! Bytes go to a hidden temp file beside the target (`.arca-tmp-<name>-<random>`),
//! which `finish` renames onto the final name: a reader sees the old file or
//! the new one, never a mix, and of two concurrent writers the last to finish
//! wins.
//!
//! Small files are the common case (MLflow runs log many of them), so the
//! first chunk-size worth of bytes is kept in memory: a file that fits is
//! created, written, synced and renamed in one blocking call at `finish`. A
//! larger file switches to streaming: chunks travel over a small bounded
//! channel to one blocking task that owns the temp file, so writing to disk
//! overlaps with receiving the next chunk without a `spawn_blocking` per
//! chunk. Memory stays bounded by one chunk size plus the channel.

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

/// Files up to this size are published inline when they need no fsync.
const INLINE_WRITE: usize = 64 * 1024;

/// How much of the target's name goes into the temp file's name, so that the
/// temp name stays within the 255-byte limit of common file systems.
const NAME_IN_TEMP: usize = 64;

/// Writes one file; see the module docs.
#[derive(Debug)]
pub struct LocalWriter {
    shared: Arc<Shared>,
    path: ArtifactPath,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Nothing on disk yet: the bytes so far, at most one chunk size.
    Buffered { chunks: Vec<Chunk>, len: usize },
    /// A temp file exists and a blocking task writes to it.
    Streaming(Stream),
    /// Finished, aborted or failed.
    Closed,
}

#[derive(Debug)]
struct Stream {
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
}

/// Checks that `path` can be written; nothing is created yet. The checks are
/// a few `lstat`s, cheap enough to run inline.
pub(crate) async fn open(shared: Arc<Shared>, path: &ArtifactPath) -> Result<LocalWriter> {
    check(&shared, path)?;
    Ok(LocalWriter {
        shared,
        path: path.clone(),
        state: State::Buffered {
            chunks: Vec::new(),
            len: 0,
        },
    })
}

fn check(shared: &Shared, path: &ArtifactPath) -> Result<()> {
    let shown_path = shown(path.as_str());
    let Some(name) = path.file_name() else {
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
    match shared.resolve_meta(path, "write")? {
        Some((_, meta)) if meta.is_dir() => Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            format!("is a directory: {shown_path}"),
        )),
        Some(_) => Ok(()),
        None if shared.check_ancestor(path, "write")? => Ok(()),
        None => Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            format!("a parent of {shown_path} is a file, not a directory"),
        )),
    }
}

/// Creates the parent directories and the temp file. Returns the open temp
/// file, its path, the target path and the directory holding both.
fn create_temp(shared: &Shared, path: &ArtifactPath) -> Result<(File, PathBuf, PathBuf, PathBuf)> {
    check(shared, path)?;
    let (Some(name), Some(parent)) = (path.file_name(), path.parent()) else {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot write the store root: it is a directory",
        ));
    };
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

/// Moves the file `from` onto `to` (replacing it) with one `rename(2)`,
/// checked like a write of `to` and durable like a `finish` (the file, then
/// the directories, synced when `fsync` is on). Both are in the store, so
/// they are on one file system unless a mount point lies between them, and
/// then the error says so (`EXDEV`); the caller copies instead.
pub(crate) fn rename(shared: &Shared, from: &ArtifactPath, to: &ArtifactPath) -> Result<()> {
    let shown_from = shown(from.as_str());
    let src = match shared.resolve_meta(from, "rename")? {
        None => return Err(Error::not_found(format!("no such file: {shown_from}"))),
        Some((_, meta)) if meta.is_dir() => {
            return Err(Error::new(
                ErrorKind::IS_A_DIRECTORY,
                format!("is a directory, not a file: {shown_from}"),
            ));
        }
        Some((p, _)) => p,
    };
    check(shared, to)?;
    let Some(parent) = to.parent() else {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot write the store root: it is a directory",
        ));
    };
    let dir = shared.full(&parent);
    let fail = |e| io_error("rename onto", to.as_str(), e);
    fs::create_dir_all(&dir).map_err(|e| io_error("create the parent directory of", to.as_str(), e))?;
    if shared.fsync {
        File::open(&src).and_then(|f| f.sync_all()).map_err(fail)?;
    }
    fs::rename(&src, shared.full(to)).map_err(fail)?;
    if !shared.fsync {
        return Ok(());
    }
    let mut dirs = vec![dir];
    if let Some(from_dir) = src.parent().filter(|d| *d != dirs[0]) {
        dirs.push(from_dir.to_owned());
    }
    for d in dirs {
        match File::open(&d).and_then(|d| d.sync_all()) {
            Err(e) if !matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) => {
                return Err(fail(e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// How much is written before the kernel is asked to start writing it back.
const WRITEBACK_STEP: u64 = 8 << 20;

/// Asks the kernel to start writing `len` bytes at `offset` to disk now,
/// without waiting. A large file then streams to disk while it is still
/// arriving, and the `fsync` at `finish` has little left to do: durability
/// costs about the disk's own speed instead of a long stall at the end.
/// Purely an optimisation: failure is ignored, the `fsync` still follows.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: `sync_file_range` only reads its integer arguments; the
    // descriptor is open for as long as `file` is borrowed.
    let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// Writes a whole small file and publishes it: one blocking call.
fn write_whole(shared: &Shared, path: &ArtifactPath, chunks: &[Chunk]) -> Result<()> {
    let (mut file, temp, target, dir) = create_temp(shared, path)?;
    for c in chunks {
        if let Err(e) = file.write_all(c.as_bytes()) {
            let _ = fs::remove_file(&temp);
            return Err(io_error("write", path.as_str(), e));
        }
    }
    let (renamed, outcome) = publish(file, &temp, &target, &dir, shared.fsync, path.as_str());
    if !renamed {
        let _ = fs::remove_file(&temp);
    }
    outcome
}

/// Starts streaming: creates the temp file and the writing task.
async fn start_stream(shared: &Arc<Shared>, path: &ArtifactPath) -> Result<Stream> {
    let (sh, p) = (shared.clone(), path.clone());
    let (file, temp, target, dir) = blocking("write", path.as_str(), move || create_temp(&sh, &p)).await?;
    let (tx, mut rx) = mpsc::channel::<Chunk>(WRITE_QUEUE);
    let discarded = Arc::new(AtomicBool::new(false));
    let (flag, shown_path) = (discarded.clone(), path.as_str().to_owned());
    let early_writeback = shared.fsync;
    let task = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let (mut written, mut flushed) = (0u64, 0u64);
        while let Some(chunk) = rx.blocking_recv() {
            if flag.load(Ordering::Relaxed) {
                break;
            }
            file.write_all(chunk.as_bytes())
                .map_err(|e| io_error("write", &shown_path, e))?;
            written += chunk.len() as u64;
            if early_writeback && written - flushed >= WRITEBACK_STEP {
                start_writeback(&file, flushed, written - flushed);
                flushed = written;
            }
        }
        Ok(file)
    });
    Ok(Stream {
        tx: Some(tx),
        task: Some(task),
        discarded,
        temp: Some(temp),
        target,
        dir,
    })
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

impl Stream {
    /// Closes the channel and waits for the writing task to hand the file
    /// back (or report why it stopped).
    async fn stop(&mut self, path: &str) -> Result<File> {
        self.tx = None;
        let task = self.task.take().ok_or_else(|| closed(path))?;
        task.await.map_err(|e| task_failed("write", path, e))?
    }

    async fn send(&mut self, chunk: Chunk, path: &str) -> Result<()> {
        let tx = self.tx.as_ref().ok_or_else(|| closed(path))?;
        if tx.send(chunk).await.is_ok() {
            return Ok(());
        }
        // The task only stops early on an error: report that error.
        match self.stop(path).await {
            Err(e) => Err(e),
            Ok(_) => Err(Error::unexpected(format!(
                "cannot write {}: the writing task stopped",
                shown(path)
            ))),
        }
    }

    /// Discards the temp file without blocking (also used by `Drop`).
    fn discard(&mut self) {
        self.discarded.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

fn closed(path: &str) -> Error {
    Error::invalid_input(format!("the writer for {} is already closed", shown(path)))
}

impl Writer for LocalWriter {
    async fn write(&mut self, chunk: Chunk) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let path = self.path.as_str().to_owned();
        match &mut self.state {
            State::Buffered { chunks, len } if *len + chunk.len() <= self.shared.chunk_size => {
                *len += chunk.len();
                chunks.push(chunk);
                Ok(())
            }
            State::Buffered { chunks, .. } => {
                let buffered = std::mem::take(chunks);
                self.state = State::Closed;
                let mut stream = start_stream(&self.shared, &self.path).await?;
                for c in buffered.into_iter().chain(std::iter::once(chunk)) {
                    if let Err(e) = stream.send(c, &path).await {
                        stream.discard();
                        return Err(e);
                    }
                }
                self.state = State::Streaming(stream);
                Ok(())
            }
            State::Streaming(stream) => {
                let r = stream.send(chunk, &path).await;
                if r.is_err() {
                    stream.discard();
                    self.state = State::Closed;
                }
                r
            }
            State::Closed => Err(closed(&path)),
        }
    }

    async fn finish(mut self) -> Result<()> {
        let path = self.path.as_str().to_owned();
        match std::mem::replace(&mut self.state, State::Closed) {
            // Without fsync, a small file is a create, a write and a rename,
            // microseconds on a local disk: done inline, as `stat` is. With
            // fsync (milliseconds), or when larger, on the blocking pool.
            State::Buffered { chunks, len } if !self.shared.fsync && len <= INLINE_WRITE => {
                write_whole(&self.shared, &self.path, &chunks)
            }
            State::Buffered { chunks, .. } => {
                let (shared, p) = (self.shared.clone(), self.path.clone());
                blocking("finish writing", &path, move || write_whole(&shared, &p, &chunks)).await
            }
            State::Streaming(mut stream) => {
                let file = match stream.stop(&path).await {
                    Ok(f) => f,
                    Err(e) => {
                        stream.discard();
                        return Err(e);
                    }
                };
                let temp = stream.temp.clone().ok_or_else(|| closed(&path))?;
                let (target, dir, fsync) = (stream.target.clone(), stream.dir.clone(), self.shared.fsync);
                let p = path.clone();
                let (renamed, outcome) = blocking("finish writing", &path, move || {
                    Ok(publish(file, &temp, &target, &dir, fsync, &p))
                })
                .await?;
                if renamed {
                    stream.temp = None;
                } else {
                    stream.discard();
                }
                outcome
            }
            State::Closed => Err(closed(&path)),
        }
    }

    async fn abort(mut self) -> Result<()> {
        if let State::Streaming(mut stream) = std::mem::replace(&mut self.state, State::Closed) {
            stream.discarded.store(true, Ordering::Relaxed);
            // Why the task stopped no longer matters: its file is being discarded.
            let _ = stream.stop(self.path.as_str()).await;
            if let Some(temp) = stream.temp.take() {
                let path = self.path.as_str().to_owned();
                blocking("abort", &path.clone(), move || match fs::remove_file(&temp) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("discard the upload of", &path, e)),
                    _ => Ok(()),
                })
                .await?;
            }
        }
        Ok(())
    }
}

impl Drop for LocalWriter {
    /// Discards an unfinished file. This may run on a thread with no runtime,
    /// so it only closes the channel and unlinks the temp file; the task, if
    /// still writing, ends on its own and its file is freed when closed.
    fn drop(&mut self) {
        if let State::Streaming(stream) = &mut self.state {
            stream.discard();
        }
    }
}
