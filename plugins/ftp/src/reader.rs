//! Streaming reads: `RETR` on a connection of its own, from `REST` for a
//! range that starts later; a range that ends early stops the transfer with
//! `ABOR`. A ranged read looks at the size first, so a start past the end is
//! refused before anything is sent.

use crate::pool::Conn;
use crate::store::{FtpStore, checked};
use arca_core::{ArtifactPath, ByteRange, Chunk, Error, ErrorKind, FfiBuf, Reader, Result};
use suppaftp::tokio::{AsyncRustlsStream, TransferStream};
use tokio::io::AsyncReadExt;

/// Bytes read per chunk at most.
const BUF: usize = arca_core::CHUNK_SIZE;

/// Reads one file (or a range of it).
pub struct FtpReader {
    conn: Option<Conn>,
    stream: Option<TransferStream<AsyncRustlsStream>>,
    /// Bytes still wanted (`None`: to the end).
    remaining: Option<u64>,
    /// Whether the wanted bytes run to the end of the file (then the
    /// transfer ends by itself; otherwise it is stopped).
    to_end: bool,
    full: String,
}

impl std::fmt::Debug for FtpReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpReader")
            .field("path", &self.full)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

pub(crate) async fn open(store: &FtpStore, path: &ArtifactPath, range: Option<ByteRange>) -> Result<FtpReader> {
    if path.is_root() {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot read the store root: it is a directory",
        ));
    }
    let full = store.full(path);
    let pool = store.pool.clone();
    let mut conn = pool.get().await?;
    let (start, remaining, to_end) = match range {
        None => (0, None, true),
        Some(ByteRange { start, end }) => {
            if end.is_some_and(|e| e < start) {
                return Err(Error::invalid_input(format!(
                    "range end is before its start for {full}"
                )));
            }
            let size = match crate::lister::stat(&mut conn, &full).await? {
                Some(e) if !e.is_dir => e.size,
                _ => return Err(Error::not_found(format!("no such file: {}{full}", pool.server))),
            };
            if start > size || (start == size && size > 0) {
                return Err(Error::new(
                    ErrorKind::RANGE_NOT_SATISFIABLE,
                    format!("range start {start} is beyond the end of {full} ({size} bytes)"),
                ));
            }
            let end = end.map_or(size, |e| e.min(size));
            (start, Some(end - start), end == size)
        }
    };
    if remaining == Some(0) {
        return Ok(FtpReader {
            conn: Some(conn),
            stream: None,
            remaining,
            to_end,
            full,
        });
    }
    if start > 0 {
        let offset = usize::try_from(start).map_err(|_| Error::invalid_input("range start too large"))?;
        let r = pool.timed("read", &full, conn.ftp()?.resume_transfer(offset)).await;
        checked(&mut conn, r)?;
    }
    let r = pool
        .timed("read", &full, conn.ftp()?.retr_as_stream(full.as_str()))
        .await;
    let stream = match checked(&mut conn, r) {
        Ok(s) => s,
        Err(e) if e.kind == ErrorKind::NOT_FOUND => {
            return Err(Error::not_found(format!("no such file: {}{full}", pool.server)));
        }
        Err(e) => return Err(e),
    };
    Ok(FtpReader {
        conn: Some(conn),
        stream: Some(stream),
        remaining,
        to_end,
        full,
    })
}

impl FtpReader {
    /// Ends the transfer: `finish` after the last byte. A transfer stopped
    /// before the end of the file closes the connection instead: servers
    /// answer `ABOR` in ways that differ (`225`, `226`, `426`, or both), and
    /// a stray reply would be read as the answer to the next command.
    async fn close(&mut self, early: bool) -> Result<()> {
        let (Some(mut conn), Some(stream)) = (self.conn.take(), self.stream.take()) else {
            return Ok(());
        };
        if early {
            drop(stream);
            conn.broken();
            return Ok(());
        }
        let pool = conn.pool().clone();
        let r = pool.timed("read", &self.full, stream.finish()).await;
        if r.is_err() {
            conn.broken();
        }
        r
    }
}

impl Reader for FtpReader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.remaining == Some(0) && !self.to_end {
            self.close(true).await?;
            return Ok(None);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(None);
        };
        // At the end of the wanted bytes, one more read sees the end of the
        // file.
        let want = self
            .remaining
            .map_or(BUF, |r| usize::try_from(r).unwrap_or(BUF).min(BUF))
            .max(1);
        // Read into spare capacity: no zeroing of a buffer about to be
        // overwritten.
        let mut buf = Vec::with_capacity(want);
        let timeout = self.conn.as_ref().and_then(|c| c.pool().config.timeout);
        while buf.len() < want {
            let read = stream.read_buf(&mut buf);
            let n = match timeout {
                Some(t) => match tokio::time::timeout(t, read).await {
                    Ok(r) => r,
                    Err(_) => {
                        if let Some(c) = self.conn.as_mut() {
                            c.broken();
                        }
                        return Err(
                            Error::new(ErrorKind::TIMEOUT, format!("reading {} stalled", self.full)).temporary()
                        );
                    }
                },
                None => read.await,
            };
            match n {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    if let Some(c) = self.conn.as_mut() {
                        c.broken();
                    }
                    return Err(
                        Error::new(ErrorKind::UNAVAILABLE, format!("reading {} failed: {e}", self.full)).temporary(),
                    );
                }
            }
        }
        let filled = buf.len();
        if filled == 0 {
            if let Some(r) = self.remaining.filter(|r| *r > 0) {
                return Err(
                    Error::new(ErrorKind::UNAVAILABLE, format!("{} ended {r} bytes short", self.full)).temporary(),
                );
            }
            self.close(false).await?;
            return Ok(None);
        }
        if self.remaining == Some(0) {
            // The file grew after its size was read: the range asked for is
            // complete.
            self.close(true).await?;
            return Ok(None);
        }
        if let Some(r) = self.remaining.as_mut() {
            *r -= filled as u64;
        }
        Ok(Some(FfiBuf::from_vec(buf)))
    }
}
