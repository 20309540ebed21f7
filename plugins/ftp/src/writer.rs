//! Streaming writes that publish atomically: the bytes go by `STOR` to a
//! hidden temporary name beside the target (`.arca-….tmp`, left out of
//! listings), which `finish` renames into place (`RNFR`/`RNTO`). Missing
//! parent directories are made (`MKD`) when the first `STOR` is refused.
//! `abort`, a failure, or dropping the writer deletes the temporary file.

use crate::pool::Conn;
use crate::store::{FtpStore, checked};
use arca_core::{ArtifactPath, Chunk, Error, ErrorKind, Result, Writer};
use suppaftp::tokio::{AsyncRustlsStream, TransferStream};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;

/// Writes one file.
pub struct FtpWriter {
    conn: Option<Conn>,
    stream: Option<TransferStream<AsyncRustlsStream>>,
    temp: String,
    full: String,
    runtime: Option<Handle>,
}

impl std::fmt::Debug for FtpWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpWriter")
            .field("path", &self.full)
            .finish_non_exhaustive()
    }
}

/// Makes every directory of `dir` (an absolute path) that is missing.
async fn make_dirs(conn: &mut Conn, dir: &str) -> Result<()> {
    let pool = conn.pool().clone();
    let mut at = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        at.push('/');
        at.push_str(part);
        // An existing directory answers 550 (or 521): fine; a real failure
        // shows at the next STOR.
        let r = pool
            .timed("create the directory", &at, conn.ftp()?.mkdir(at.as_str()))
            .await;
        if let Err(e) = r
            && e.temporary
        {
            return checked(conn, Err(e));
        }
    }
    Ok(())
}

pub(crate) async fn open(store: &FtpStore, path: &ArtifactPath) -> Result<FtpWriter> {
    if path.is_root() {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot write the store root: it is a directory",
        ));
    }
    let full = store.full(path);
    let parent = full.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
    let temp = arca_core::uri::temp_name(&parent);
    let pool = store.pool.clone();
    let mut conn = pool.get().await?;
    let first = pool
        .timed("write", &full, conn.ftp()?.put_with_stream(temp.as_str()))
        .await;
    let stream = match first {
        Ok(s) => s,
        Err(e) if !e.temporary => {
            make_dirs(&mut conn, &parent).await?;
            let r = pool
                .timed("write", &full, conn.ftp()?.put_with_stream(temp.as_str()))
                .await;
            checked(&mut conn, r)?
        }
        Err(e) => return checked(&mut conn, Err(e)),
    };
    Ok(FtpWriter {
        conn: Some(conn),
        stream: Some(stream),
        temp,
        full,
        runtime: Handle::try_current().ok(),
    })
}

fn closed(full: &str) -> Error {
    Error::invalid_input(format!("the writer for {full} is already closed"))
}

/// Ends the upload of `temp` and deletes it (best effort).
async fn discard(mut conn: Conn, stream: Option<TransferStream<AsyncRustlsStream>>, temp: String) {
    let pool = conn.pool().clone();
    if let Some(s) = stream
        && pool.timed("write", &temp, s.finish()).await.is_err()
    {
        conn.broken();
        return;
    }
    if let Ok(ftp) = conn.ftp() {
        let _ = pool.timed("delete", &temp, ftp.rm(temp.as_str())).await;
    }
}

impl Writer for FtpWriter {
    async fn write(&mut self, chunk: Chunk) -> Result<()> {
        let (Some(stream), Some(conn)) = (self.stream.as_mut(), self.conn.as_ref()) else {
            return Err(closed(&self.full));
        };
        let timeout = conn.pool().config.timeout;
        let write = stream.write_all(chunk.as_bytes());
        let r = match timeout {
            Some(t) => tokio::time::timeout(t, write)
                .await
                .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the upload stalled"))),
            None => write.await,
        };
        if let Err(e) = r {
            let kind = if e.kind() == std::io::ErrorKind::TimedOut {
                ErrorKind::TIMEOUT
            } else {
                ErrorKind::UNAVAILABLE
            };
            if let Some(c) = self.conn.as_mut() {
                c.broken();
            }
            self.stream = None;
            return Err(Error::new(kind, format!("cannot write {}: {e}", self.full)).temporary());
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        let (Some(mut conn), Some(stream)) = (self.conn.take(), self.stream.take()) else {
            return Err(closed(&self.full));
        };
        let pool = conn.pool().clone();
        let done = pool.timed("write", &self.full, stream.finish()).await;
        if let Err(e) = checked(&mut conn, done) {
            discard(conn, None, std::mem::take(&mut self.temp)).await;
            return Err(e);
        }
        let (temp, full) = (std::mem::take(&mut self.temp), self.full.clone());
        let renamed = pool
            .timed("publish", &full, conn.ftp()?.rename(temp.as_str(), full.as_str()))
            .await;
        match renamed {
            Ok(()) => Ok(()),
            // A server that will not rename over an existing file: delete
            // it, then rename.
            Err(e) if !e.temporary => {
                let _ = pool.timed("replace", &full, conn.ftp()?.rm(full.as_str())).await;
                let again = pool
                    .timed("publish", &full, conn.ftp()?.rename(temp.as_str(), full.as_str()))
                    .await;
                if let Err(e2) = checked(&mut conn, again) {
                    discard(conn, None, temp).await;
                    return Err(Error {
                        message: format!("{} (first attempt: {})", e2.message, e.message),
                        ..e2
                    });
                }
                Ok(())
            }
            Err(e) => checked(&mut conn, Err(e)),
        }
    }

    async fn abort(mut self) -> Result<()> {
        if let Some(conn) = self.conn.take() {
            discard(conn, self.stream.take(), std::mem::take(&mut self.temp)).await;
        }
        Ok(())
    }
}

impl Drop for FtpWriter {
    /// An unfinished upload's temporary file is deleted on the plugin's
    /// runtime; nobody waits for it.
    fn drop(&mut self) {
        if let (Some(conn), Some(rt)) = (self.conn.take(), self.runtime.as_ref()) {
            let stream = self.stream.take();
            let temp = std::mem::take(&mut self.temp);
            drop(rt.spawn(discard(conn, stream, temp)));
        }
    }
}
