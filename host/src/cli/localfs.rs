//! The local side of `arca cp`: plain paths are read and written by the host
//! itself (so copying works whatever plugins are installed), streaming in
//! chunks on blocking threads with a little read-ahead, and publishing
//! downloads atomically (temp file + rename).

use arca_core::{CHUNK_SIZE, Error, ErrorKind, Result};
use bytes::Bytes;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// How many chunks are read ahead of the consumer.
const READ_AHEAD: usize = 4;

pub fn io_error(action: &str, path: &Path, e: std::io::Error) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NOT_FOUND,
        std::io::ErrorKind::PermissionDenied => ErrorKind::PERMISSION_DENIED,
        std::io::ErrorKind::AlreadyExists => ErrorKind::ALREADY_EXISTS,
        std::io::ErrorKind::IsADirectory => ErrorKind::IS_A_DIRECTORY,
        _ => ErrorKind::UNEXPECTED,
    };
    Error::new(kind, format!("cannot {action} {}: {e}", path.display()))
}

/// Streams a local file in chunks read ahead on a blocking thread.
pub fn read_chunks(path: PathBuf) -> mpsc::Receiver<Result<Bytes>> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(io_error("read", &path, e)));
                return;
            }
        };
        loop {
            // Read into spare capacity (no zeroing of a buffer about to be
            // overwritten); `read_to_end` retries interrupted reads.
            let mut buf = Vec::with_capacity(CHUNK_SIZE);
            if let Err(e) = (&mut f).take(CHUNK_SIZE as u64).read_to_end(&mut buf) {
                let _ = tx.blocking_send(Err(io_error("read", &path, e)));
                return;
            }
            let filled = buf.len();
            if filled == 0 {
                return;
            }
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() || filled < CHUNK_SIZE {
                return;
            }
        }
    });
    rx
}

/// Reads a small local file whole.
pub async fn read_small(path: PathBuf) -> Result<Bytes> {
    tokio::task::spawn_blocking(move || {
        std::fs::read(&path)
            .map(Bytes::from)
            .map_err(|e| io_error("read", &path, e))
    })
    .await
    .map_err(|e| Error::unexpected(format!("local read task failed: {e}")))?
}

enum Msg {
    Data(Bytes),
    Finish,
}

/// A local file being written: a temp file beside the target, renamed into
/// place by [`LocalWriter::finish`]; dropped unfinished, the temp file goes.
pub struct LocalWriter {
    tx: Option<mpsc::Sender<Msg>>,
    done: Option<tokio::task::JoinHandle<Result<()>>>,
}

struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn temp_name(target: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".arca-tmp-{name}-{}-{nanos:x}-{n}", std::process::id()))
}

/// Creates the temp file beside `target`. The parent directories are made
/// only when the first attempt finds them missing: in a recursive download
/// most files land in a directory that already exists, and checking first
/// would cost a system call per file.
fn create_temp(target: &Path) -> Result<(File, PathBuf)> {
    let tmp = temp_name(target);
    match File::create(&tmp) {
        Ok(f) => return Ok((f, tmp)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error("create", &tmp, e)),
        Err(_) => {}
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io_error("create directory", parent, e))?;
    }
    let f = File::create(&tmp).map_err(|e| io_error("create", &tmp, e))?;
    Ok((f, tmp))
}

/// Renames the finished temp file onto `target`; a directory in the way is
/// reported as such.
fn publish(tmp: &Path, target: &Path) -> Result<()> {
    std::fs::rename(tmp, target).map_err(|e| {
        if target.is_dir() {
            Error::new(
                ErrorKind::IS_A_DIRECTORY,
                format!("cannot write {}: is a directory", target.display()),
            )
        } else {
            io_error("rename into", target, e)
        }
    })
}

impl LocalWriter {
    /// Starts writing `target` (parent directories are created).
    pub fn create(target: PathBuf) -> Result<Self> {
        let (file, tmp) = create_temp(&target)?;
        let (tx, mut rx) = mpsc::channel::<Msg>(READ_AHEAD);
        let done = tokio::task::spawn_blocking(move || {
            let mut guard = TempGuard(Some(tmp.clone()));
            let mut file = file;
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    Msg::Data(b) => file.write_all(&b).map_err(|e| io_error("write", &target, e))?,
                    Msg::Finish => {
                        file.flush().map_err(|e| io_error("write", &target, e))?;
                        drop(file);
                        publish(&tmp, &target)?;
                        guard.0 = None;
                        return Ok(());
                    }
                }
            }
            // The sender went away without `Finish`: the guard removes the temp file.
            Err(Error::new(
                ErrorKind::UNEXPECTED,
                format!("write of {} was abandoned", target.display()),
            ))
        });
        Ok(Self {
            tx: Some(tx),
            done: Some(done),
        })
    }

    async fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = match &self.tx {
            Some(tx) => tx.send(msg).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            self.join().await.and(Err(Error::unexpected("local writer stopped")))
        }
    }

    async fn join(&mut self) -> Result<()> {
        self.tx = None;
        match self.done.take() {
            Some(h) => h
                .await
                .map_err(|e| Error::unexpected(format!("local write task failed: {e}")))?,
            None => Ok(()),
        }
    }

    /// Appends a chunk.
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.send(Msg::Data(chunk)).await
    }

    /// Renames the finished file into place.
    pub async fn finish(mut self) -> Result<()> {
        self.send(Msg::Finish).await?;
        self.join().await
    }
}

/// Copies the local file `from` to `target` with the kernel's copy path
/// (`std::io::copy` between files is `copy_file_range` on Linux), in steps
/// that move the progress bar.
pub async fn copy_file(from: PathBuf, target: PathBuf, pb: indicatif::ProgressBar) -> Result<()> {
    /// Bytes per step of the progress bar.
    const STEP: u64 = 64 << 20;
    write_via_temp(target, move |file| {
        let mut src = File::open(&from).map_err(|e| io_error("read", &from, e))?;
        loop {
            let n = std::io::copy(&mut (&mut src).take(STEP), file).map_err(|e| io_error("copy", &from, e))?;
            if n == 0 {
                return Ok(());
            }
            pb.inc(n);
        }
    })
    .await
}

/// Fills a temp file beside `target` with `fill` and renames it into place,
/// in one blocking task; on any failure the temp file is removed.
async fn write_via_temp(target: PathBuf, fill: impl FnOnce(&mut File) -> Result<()> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(move || {
        let (mut file, tmp) = create_temp(&target)?;
        let mut guard = TempGuard(Some(tmp.clone()));
        fill(&mut file)?;
        drop(file);
        publish(&tmp, &target)?;
        guard.0 = None;
        Ok(())
    })
    .await
    .map_err(|e| Error::unexpected(format!("local write task failed: {e}")))?
}

/// Writes a small file whole with one blocking call: temp file, write,
/// rename into place.
pub async fn write_whole(target: PathBuf, data: Bytes) -> Result<()> {
    let shown = target.clone();
    write_via_temp(target, move |file| {
        file.write_all(&data).map_err(|e| io_error("write", &shown, e))
    })
    .await
}

/// One file found under a local directory.
pub struct LocalFile {
    /// Path relative to the walked directory, `/`-separated.
    pub rel: String,
    /// Size in bytes.
    pub size: u64,
}

/// Every regular file under `dir` (symlinks followed), sorted.
pub fn walk(dir: &Path) -> Result<Vec<LocalFile>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_owned(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| io_error("list", &d, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| io_error("list", &d, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let meta = std::fs::metadata(entry.path()).map_err(|e| io_error("stat", &entry.path(), e))?;
            if meta.is_dir() {
                stack.push((entry.path(), child_rel));
            } else if meta.is_file() {
                out.push(LocalFile {
                    rel: child_rel,
                    size: meta.len(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}
