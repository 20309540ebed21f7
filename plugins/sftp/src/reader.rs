//! Pipelined reads: the file is opened and its size read (`fstat`), then
//! up to [`DEPTH`] read requests are kept in flight on the channel, each of
//! the size the server allows, and their replies are handed out in order.
//! A short reply (the file changed) drops the requests behind it and asks
//! again from where it ended.

use crate::session::{Chan, Sftp};
use crate::store::SftpStore;
use arca_core::{ArtifactPath, ByteRange, Chunk, Error, ErrorKind, FfiBuf, Reader, Result};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Read requests kept in flight.
const DEPTH: usize = 16;

type Pending = JoinHandle<std::result::Result<Vec<u8>, SftpError>>;

/// Reads one file (or a range of it).
pub struct SftpReader {
    chan: Option<Chan>,
    sftp: Option<Arc<Sftp>>,
    handle: String,
    /// The next offset to ask for, and the end (exclusive).
    next: u64,
    end: u64,
    /// Requests in flight: their offsets and lengths.
    inflight: VecDeque<(u64, u64, Pending)>,
    full: String,
}

impl std::fmt::Debug for SftpReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpReader")
            .field("path", &self.full)
            .field("next", &self.next)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

pub(crate) async fn open(store: &SftpStore, path: &ArtifactPath, range: Option<ByteRange>) -> Result<SftpReader> {
    if path.is_root() {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot read the store root: it is a directory",
        ));
    }
    if let Some(ByteRange { start, end: Some(end) }) = range
        && end < start
    {
        return Err(Error::invalid_input(format!(
            "range end is before its start for {}",
            path.as_str()
        )));
    }
    let full = store.full(path);
    let pool = store.pool.clone();
    let mut chan = pool.get().await?;
    let sftp = chan.sftp()?.clone();
    let not_found = || Error::not_found(format!("no such file: {}{full}", pool.server));
    let r = pool
        .timed(
            "read",
            &full,
            sftp.raw.open(full.as_str(), OpenFlags::READ, FileAttributes::empty()),
        )
        .await;
    let handle = match chan.checked(r) {
        Ok(h) => h.handle,
        Err(e) if e.kind == ErrorKind::NOT_FOUND => return Err(not_found()),
        Err(e) => return Err(e),
    };
    let attrs = pool.timed("read", &full, sftp.raw.fstat(handle.as_str())).await;
    let attrs = match chan.checked(attrs) {
        Ok(a) => a.attrs,
        Err(e) => {
            close(&sftp, handle);
            return Err(e);
        }
    };
    if attrs.file_type().is_dir() {
        close(&sftp, handle);
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            format!("is a directory, not a file: {}{full}", pool.server),
        ));
    }
    let size = attrs.size.unwrap_or(0);
    let (start, end) = match range {
        None => (0, size),
        Some(ByteRange { start, end }) => {
            if start > size || (start == size && size > 0) {
                close(&sftp, handle);
                return Err(Error::new(
                    ErrorKind::RANGE_NOT_SATISFIABLE,
                    format!("range start {start} is beyond the end of {full} ({size} bytes)"),
                ));
            }
            (start, end.map_or(size, |e| e.min(size)))
        }
    };
    Ok(SftpReader {
        chan: Some(chan),
        sftp: Some(sftp),
        handle,
        next: start,
        end,
        inflight: VecDeque::new(),
        full,
    })
}

/// Closes `handle` without waiting for the reply.
fn close(sftp: &Arc<Sftp>, handle: String) {
    let s = sftp.clone();
    drop(tokio::spawn(async move {
        let _ = s.raw.close(handle).await;
    }));
}

impl SftpReader {
    fn fill(&mut self, sftp: &Arc<Sftp>) {
        while self.inflight.len() < DEPTH && self.next < self.end {
            let len = (self.end - self.next).min(u64::from(sftp.read_len));
            let (s, h, off) = (sftp.clone(), self.handle.clone(), self.next);
            let task = tokio::spawn(async move {
                // `len` is at most the read length, a u32.
                let n = u32::try_from(len).unwrap_or(u32::MAX);
                s.raw.read(h, off, n).await.map(|d| d.data)
            });
            self.inflight.push_back((off, len, task));
            self.next += len;
        }
    }

    fn done(&mut self) {
        for (_, _, t) in self.inflight.drain(..) {
            t.abort();
        }
        if let Some(s) = self.sftp.take() {
            close(&s, std::mem::take(&mut self.handle));
        }
        self.chan = None;
    }

    fn fail(&mut self, e: Error) -> Error {
        if e.temporary
            && let Some(c) = self.chan.as_mut()
        {
            c.broken();
        }
        self.done();
        e
    }
}

impl Reader for SftpReader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let Some(sftp) = self.sftp.clone() else {
            return Ok(None);
        };
        self.fill(&sftp);
        let Some((off, len, task)) = self.inflight.pop_front() else {
            self.done();
            return Ok(None);
        };
        let Some(pool) = self.chan.as_ref().map(|c| c.pool().clone()) else {
            return Ok(None);
        };
        let joined = async {
            task.await
                .unwrap_or_else(|e| Err(SftpError::UnexpectedBehavior(e.to_string())))
        };
        let r = match pool.timed_raw("read", &self.full, joined).await {
            Ok(r) => r,
            Err(e) => return Err(self.fail(e)),
        };
        let data = match r {
            Ok(d) if !d.is_empty() => d,
            Ok(_) => Vec::new(),
            Err(e) if crate::error::status(&e) == Some(StatusCode::Eof) => Vec::new(),
            Err(e) => {
                let e = crate::error::sftp_error("read", &pool.server, &self.full, &e);
                return Err(self.fail(e));
            }
        };
        if data.is_empty() {
            let e = Error::new(
                ErrorKind::UNAVAILABLE,
                format!(
                    "{} ended {} bytes short: it changed while being read",
                    self.full,
                    self.end - off
                ),
            )
            .temporary();
            return Err(self.fail(e));
        }
        let got = data.len() as u64;
        if got < len {
            // A short reply: ask again from where it ended.
            for (_, _, t) in self.inflight.drain(..) {
                t.abort();
            }
            self.next = off + got;
        }
        Ok(Some(FfiBuf::from_vec(data)))
    }
}

impl Drop for SftpReader {
    fn drop(&mut self) {
        if self.sftp.is_some() && tokio::runtime::Handle::try_current().is_ok() {
            self.done();
        } else {
            for (_, _, t) in self.inflight.drain(..) {
                t.abort();
            }
        }
    }
}
