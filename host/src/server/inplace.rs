//! Multipart uploads assembled in place, for a destination on this
//! machine's file system that can rename (capabilities `local_files` and
//! `rename`: the local plugin).
//!
//! The MLflow client cuts a file into parts of one size S (all but the last,
//! which may be shorter), so part n belongs at byte (n − 1)·S. Each part is
//! written straight there, into one sparse file in the upload's staging
//! directory (`.arca-mpu/<id>/data`), and `complete` is an fsync and a rename
//! onto the target: the data is written once, and parts arriving in
//! parallel write in parallel.
//!
//! S is the `Content-Length` of the first part other than the last to
//! arrive, recorded once for the upload (`size`, created with a hard link, so
//! concurrent parts agree on one value). A part that does not fit that
//! layout (another length, no `Content-Length`, or the last part before S is
//! known) is staged as a file of its own, as on other stores, and copied
//! into place by the kernel at `complete` (the last part: at most S bytes);
//! if the parts turn out not to be of one size, [`super::staged`] joins them
//! by streaming instead. Writeback starts as the bytes land, and a part's
//! range is on disk before the part is recorded (`placed-<n>`, holding its
//! length); `complete` syncs the file and its metadata before the rename.

use super::api::ApiError;
use crate::Store;
use arca_core::{ArtifactPath, CHUNK_SIZE, Error};
use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether uploads to `store` are assembled in place.
pub fn usable(store: &Store) -> bool {
    let c = store.capabilities();
    cfg!(unix) && c.local_files && c.rename
}

/// The sparse file the parts are written into.
pub fn data_path(staging_dir: &ArtifactPath) -> Result<ArtifactPath, ApiError> {
    staging_dir.join("data").map_err(|_| ApiError::invalid_path())
}

fn io_failed(what: &str, e: io::Error) -> ApiError {
    ApiError::from(Error::unexpected(format!("{what}: {e}")))
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| io_failed(what, e)),
        Err(e) => Err(ApiError::from(Error::unexpected(format!("{what}: {e}")))),
    }
}

/// Where the staging directory is on disk (from its data file's place).
async fn local_dir(store: &Store, staging_dir: &ArtifactPath) -> Result<PathBuf, ApiError> {
    let data = store.local_path(&data_path(staging_dir)?).await?;
    data.parent()
        .map(Path::to_owned)
        .ok_or_else(|| ApiError::from(Error::unexpected("the staging data file has no directory")))
}

/// The part size recorded for the upload, if any part has set it.
fn read_size(dir: &Path) -> io::Result<Option<u64>> {
    match fs::read_to_string(dir.join("size")) {
        Ok(s) => Ok(s.trim().parse().ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records `len` as the part size unless another part did first; returns
/// the size the upload now has. The value is written to a file of the
/// part's own and linked into place, so a reader never sees it half written.
fn agree_size(dir: &Path, n: u32, len: u64) -> io::Result<u64> {
    if let Some(s) = read_size(dir)? {
        return Ok(s);
    }
    let mine = dir.join(format!("size-{n:05}"));
    fs::write(&mine, len.to_string())?;
    let linked = fs::hard_link(&mine, dir.join("size"));
    let _ = fs::remove_file(&mine);
    match linked {
        Ok(()) => Ok(len),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(read_size(dir)?.unwrap_or(len)),
        Err(e) => Err(e),
    }
}

/// Writes part `n` of `num_parts` in place when it fits the layout: returns
/// its length, or gives the body back to be staged instead.
pub async fn put_part(
    store: &Store,
    staging_dir: &ArtifactPath,
    n: u32,
    num_parts: u32,
    content_length: Option<u64>,
    body: Body,
) -> Result<Result<u64, Body>, ApiError> {
    let Some(len) = content_length else {
        return Ok(Err(body));
    };
    let dir = local_dir(store, staging_dir).await?;
    let d = dir.clone();
    let size = if n < num_parts {
        Some(blocking("record the part size", move || agree_size(&d, n, len)).await?)
    } else {
        blocking("read the part size", move || read_size(&d)).await?
    };
    let offset = match size {
        _ if num_parts == 1 => 0,
        Some(s) if (n < num_parts && s == len) || (n == num_parts && len <= s) => u64::from(n - 1) * s,
        _ => return Ok(Err(body)),
    };
    let path = dir.join("data");
    let file = Arc::new(
        blocking("open the upload's data file", move || {
            OpenOptions::new().write(true).open(path)
        })
        .await?,
    );
    let mut stream = body.into_data_stream();
    // The pieces as they arrived, written together (one `pwritev`) once
    // they add up to a chunk: no copy into a buffer of our own.
    let (mut pieces, mut held, mut pos) = (Vec::new(), 0, offset);
    let interrupted = |e: &dyn std::fmt::Display| ApiError::invalid(format!("part {n} was interrupted: {e}"));
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| interrupted(&e))?;
        held += piece.len();
        pieces.push(piece);
        if held >= CHUNK_SIZE || pieces.len() >= MAX_PIECES {
            pos = write_at(&file, std::mem::take(&mut pieces), pos).await?;
            held = 0;
        }
    }
    if !pieces.is_empty() {
        pos = write_at(&file, pieces, pos).await?;
    }
    if pos - offset != len {
        return Err(interrupted(&format!(
            "{} bytes arrived, Content-Length said {len}",
            pos - offset
        )));
    }
    let f = file.clone();
    blocking("sync a part", move || sync_range(&f, offset, len)).await?;
    let marker = dir.join(format!("placed-{n:05}"));
    blocking("record the part", move || fs::write(marker, len.to_string())).await?;
    Ok(Ok(len))
}

/// At most this many pieces go to one `pwritev` (Linux allows 1,024).
const MAX_PIECES: usize = 256;

/// Writes `pieces`, in order, at `pos`; returns where they end.
async fn write_at(file: &Arc<File>, pieces: Vec<Bytes>, pos: u64) -> Result<u64, ApiError> {
    let f = file.clone();
    let n: u64 = pieces.iter().map(|p| p.len() as u64).sum();
    blocking("write a part", move || {
        write_all_at(&f, &pieces, pos)?;
        start_writeback(&f, pos, n);
        Ok(())
    })
    .await?;
    Ok(pos + n)
}

/// `pwritev` until every byte is written.
#[cfg(target_os = "linux")]
fn write_all_at(file: &File, pieces: &[Bytes], mut pos: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (mut first, mut skip) = (0, 0);
    while first < pieces.len() {
        let iov: Vec<libc::iovec> = pieces[first..]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let p = if i == 0 { &p[skip..] } else { &p[..] };
                libc::iovec {
                    iov_base: p.as_ptr() as *mut libc::c_void,
                    iov_len: p.len(),
                }
            })
            .collect();
        let at = i64::try_from(pos).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let count = i32::try_from(iov.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: every iovec points into a live `Bytes` of `pieces`, which
        // outlives the call; the kernel only reads them.
        let wrote = unsafe { libc::pwritev(file.as_raw_fd(), iov.as_ptr(), count, at) };
        let mut wrote = match usize::try_from(wrote) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(w) => w,
            Err(_) => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
        };
        pos += wrote as u64;
        // Skip what was written: whole pieces, then part of the next.
        while first < pieces.len() && wrote > 0 {
            let left = pieces[first].len() - skip;
            if wrote >= left {
                wrote -= left;
                (first, skip) = (first + 1, 0);
            } else {
                skip += wrote;
                wrote = 0;
            }
        }
        while first < pieces.len() && pieces[first].len() == skip {
            (first, skip) = (first + 1, 0);
        }
    }
    Ok(())
}

#[cfg(all(unix, not(target_os = "linux")))]
fn write_all_at(file: &File, pieces: &[Bytes], mut pos: u64) -> io::Result<()> {
    for p in pieces {
        std::os::unix::fs::FileExt::write_all_at(file, p, pos)?;
        pos += p.len() as u64;
    }
    Ok(())
}

#[cfg(not(unix))]
fn write_all_at(_file: &File, _pieces: &[Bytes], _pos: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Asks the kernel to start writing a range to disk now, without waiting,
/// so a large upload streams to disk while it arrives and the sync at
/// `complete` has little left to do (as the local plugin's writer does).
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

/// Waits until a part's range is on disk (its pages written; the file's
/// metadata follows at `complete`). Elsewhere than Linux: `fdatasync`.
#[cfg(target_os = "linux")]
fn sync_range(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return file.sync_data();
    };
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as in `start_writeback`.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn sync_range(file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    file.sync_data()
}

/// The length of part `n` if it was written in place.
pub async fn placed(store: &Store, staging_dir: &ArtifactPath, n: u32) -> Result<Option<u64>, ApiError> {
    let marker = local_dir(store, staging_dir).await?.join(format!("placed-{n:05}"));
    blocking("read a part record", move || match fs::read_to_string(marker) {
        Ok(s) => Ok(s.trim().parse().ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await
}

/// The recorded part size.
pub async fn size(store: &Store, staging_dir: &ArtifactPath) -> Result<Option<u64>, ApiError> {
    let dir = local_dir(store, staging_dir).await?;
    blocking("read the part size", move || read_size(&dir)).await
}

/// Finishes the data file: copies the staged parts `(n, file)` in at
/// (n − 1)·`size` with the kernel's copy path, cuts it to `total` bytes and
/// syncs it. The caller then renames it onto the target.
pub async fn finish(
    store: &Store,
    staging_dir: &ArtifactPath,
    size: u64,
    staged: Vec<(u32, ArtifactPath)>,
    total: u64,
) -> Result<(), ApiError> {
    let mut sources = Vec::with_capacity(staged.len());
    for (n, part) in staged {
        sources.push((u64::from(n - 1) * size, store.local_path(&part).await?));
    }
    let data = local_dir(store, staging_dir).await?.join("data");
    blocking("assemble the upload", move || {
        let mut out = OpenOptions::new().write(true).open(&data)?;
        for (offset, src) in sources {
            let mut input = File::open(src)?;
            io::Seek::seek(&mut out, io::SeekFrom::Start(offset))?;
            io::copy(&mut input, &mut out)?;
        }
        out.set_len(total)?;
        out.sync_all()
    })
    .await
}
