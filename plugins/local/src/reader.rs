//! Streaming reads.
//!
//! A blocking task reads the file ahead of the consumer into a small bounded
//! channel, so the disk (or NFS round trip) for the next chunk overlaps with
//! the host sending the previous one, while at most [`READ_AHEAD`] chunks sit
//! in memory. [`LocalReader::next_chunk`] only receives.
//!
//! A file is opened inline (a few system calls, as `stat` is); one of at most
//! 64 KiB is read whole inline too, and one of at most a chunk whole by one
//! blocking call: no read-ahead task, which is what many small artifacts
//! need.

use crate::error::{io_error, shown};
use crate::store::{Shared, blocking};
use arca_core::{ArtifactPath, ByteRange, Chunk, Error, ErrorKind, FfiBuf, Reader, Result};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use tokio::sync::mpsc;

/// How many chunks the reading task may be ahead of the consumer.
const READ_AHEAD: usize = 3;

/// Files (or ranges) up to this size are read inline when opened.
const INLINE_READ: usize = 64 * 1024;

/// Reads one file (or a range of it) chunk by chunk.
#[derive(Debug)]
pub struct LocalReader {
    source: Source,
    /// Bytes still expected; a stream that ends short is an error, never a
    /// silently truncated file.
    remaining: u64,
    path: String,
}

#[derive(Debug)]
enum Source {
    /// A small file, read whole at open.
    Whole(Option<Chunk>),
    /// A larger one, streamed by the read-ahead task.
    Stream(mpsc::Receiver<Result<Chunk>>),
}

enum Opened {
    Whole(Vec<u8>),
    Stream(File, u64),
}

/// Reads exactly `len` bytes (or fewer if the file shrank).
fn read_exact_or_short(file: &mut File, len: usize, path: &str) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("read", path, e)),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Opens `path` and starts the read-ahead task. Missing files, directories
/// and bad ranges are reported here, before any byte is streamed.
pub(crate) async fn open(shared: Arc<Shared>, path: &ArtifactPath, range: Option<ByteRange>) -> Result<LocalReader> {
    let chunk_size = shared.chunk_size;
    // Opening, and reading a small file whole, are a few system calls that
    // take microseconds on a local disk: done inline, like `stat`, since a
    // hand-off to the blocking pool and back costs several times as much
    // (two thread wake-ups per request were most of the time a small
    // download took). A larger read streams from the blocking pool.
    let opened = {
        let (mut file, len) = open_range(&shared, path, range)?;
        match usize::try_from(len) {
            Ok(n) if n <= INLINE_READ.min(chunk_size) => {
                Opened::Whole(read_exact_or_short(&mut file, n, path.as_str())?)
            }
            Ok(n) if n <= chunk_size => {
                let p = path.as_str().to_owned();
                blocking("read", path.as_str(), move || {
                    Ok(Opened::Whole(read_exact_or_short(&mut file, n, &p)?))
                })
                .await?
            }
            _ => Opened::Stream(file, len),
        }
    };
    let (source, len) = match opened {
        Opened::Whole(buf) => {
            let len = buf.len() as u64;
            (Source::Whole((!buf.is_empty()).then(|| FfiBuf::from_vec(buf))), len)
        }
        Opened::Stream(file, len) => {
            let (tx, rx) = mpsc::channel(READ_AHEAD);
            let shown_path = path.as_str().to_owned();
            // The task ends by itself when the range is read, on the first
            // error, or when the reader is dropped (the send fails); nobody
            // joins it.
            drop(tokio::task::spawn_blocking(move || {
                read_ahead(file, len, chunk_size, &tx, &shown_path)
            }));
            (Source::Stream(rx), len)
        }
    };
    Ok(LocalReader {
        source,
        remaining: len,
        path: path.as_str().to_owned(),
    })
}

/// Opens the file, checks the range against its size, and seeks to its
/// start; returns the file and how many bytes to read.
fn open_range(shared: &Shared, path: &ArtifactPath, range: Option<ByteRange>) -> Result<(File, u64)> {
    let fail = |e| io_error("read", path.as_str(), e);
    let canonical = shared
        .resolve(path, "read")?
        .ok_or_else(|| Error::not_found(format!("no such file or directory: {}", shown(path.as_str()))))?;
    let mut file = File::open(&canonical).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if meta.is_dir() {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            format!("is a directory, not a file: {}", shown(path.as_str())),
        ));
    }
    let size = meta.len();
    let Some(range) = range else {
        return Ok((file, size));
    };
    // An empty file has no byte to satisfy a range with, but a read from 0
    // still gives its (empty) content rather than an error.
    if range.start > size || (range.start == size && size > 0) {
        return Err(Error::new(
            ErrorKind::RANGE_NOT_SATISFIABLE,
            format!(
                "range start {} is beyond the end of {} ({size} bytes)",
                range.start,
                shown(path.as_str())
            ),
        ));
    }
    let end = range.end.map_or(size, |end| end.min(size));
    if end < range.start {
        return Err(Error::invalid_input(format!(
            "range end {end} is before its start {} for {}",
            range.start,
            shown(path.as_str())
        )));
    }
    if range.start > 0 {
        file.seek(SeekFrom::Start(range.start)).map_err(fail)?;
    }
    Ok((file, end - range.start))
}

/// The read-ahead loop, on a blocking thread.
fn read_ahead(mut file: File, len: u64, chunk_size: usize, tx: &mpsc::Sender<Result<Chunk>>, path: &str) {
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(chunk_size, |l| l.min(chunk_size));
        // Zeroing the buffer costs a pass over memory, small next to the
        // read itself, and keeps this crate free of `unsafe`.
        let mut buf = vec![0u8; want];
        let mut got = 0;
        // Short reads happen (NFS gives them): fill the chunk before sending.
        while got < want {
            match file.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(io_error("read", path, e)));
                    return;
                }
            }
        }
        // The file shrank under us: stop, and let the consumer report the
        // missing bytes.
        if got == 0 {
            return;
        }
        buf.truncate(got);
        left -= got as u64;
        if tx.blocking_send(Ok(FfiBuf::from_vec(buf))).is_err() {
            return;
        }
    }
}

impl Reader for LocalReader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let rx = match &mut self.source {
            Source::Whole(chunk) => return Ok(chunk.take()),
            Source::Stream(rx) => rx,
        };
        match rx.recv().await {
            Some(Ok(chunk)) => {
                self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
                Ok(Some(chunk))
            }
            Some(Err(e)) => Err(e),
            None if self.remaining == 0 => Ok(None),
            None => Err(Error::unexpected(format!(
                "cannot read {}: the file ended {} bytes early (was it truncated while being read?)",
                shown(&self.path),
                self.remaining
            ))),
        }
    }
}
