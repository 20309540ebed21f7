//! Pipelined writes that publish atomically: the bytes go to a hidden
//! temporary file beside the target (`.arca-….tmp`, never listed), up to
//! [`DEPTH`] write requests in flight, and `finish` renames it into place
//! with `posix-rename@openssh.com` (which replaces the target in one step)
//! where the server offers it, else by removing the target and renaming.
//! Missing parent directories are made. `abort`, a failure, or dropping
//! the writer removes the temporary file.

use crate::session::{Chan, Sftp};
use crate::store::SftpStore;
use arca_core::{ArtifactPath, Chunk, Error, ErrorKind, Result, Writer};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, Packet, StatusCode};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Write requests kept in flight.
const DEPTH: usize = 16;

type Pending = JoinHandle<std::result::Result<(), SftpError>>;

/// Writes one file.
pub struct SftpWriter {
    chan: Option<Chan>,
    sftp: Option<Arc<Sftp>>,
    handle: String,
    temp: String,
    full: String,
    offset: u64,
    buf: Vec<u8>,
    inflight: VecDeque<Pending>,
}

impl std::fmt::Debug for SftpWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpWriter")
            .field("path", &self.full)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// Makes every missing directory of `dir` (an absolute path).
pub(crate) async fn make_dirs(chan: &mut Chan, dir: &str) -> Result<()> {
    let pool = chan.pool().clone();
    let sftp = chan.sftp()?.clone();
    let mut at = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        at.push('/');
        at.push_str(part);
        // An existing directory answers a failure: fine; a real one shows
        // at the next open.
        let r = pool
            .timed(
                "create the directory",
                &at,
                sftp.raw.mkdir(at.as_str(), FileAttributes::empty()),
            )
            .await;
        if let Err(e) = r
            && e.temporary
        {
            return chan.checked(Err(e));
        }
    }
    Ok(())
}

pub(crate) async fn open(store: &SftpStore, path: &ArtifactPath) -> Result<SftpWriter> {
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
    let mut chan = pool.get().await?;
    let sftp = chan.sftp()?.clone();
    let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let first = pool
        .timed(
            "write",
            &full,
            sftp.raw.open(temp.as_str(), flags, FileAttributes::empty()),
        )
        .await;
    let handle = match first {
        Ok(h) => h.handle,
        Err(e) if !e.temporary => {
            make_dirs(&mut chan, &parent).await?;
            let r = pool
                .timed(
                    "write",
                    &full,
                    sftp.raw.open(temp.as_str(), flags, FileAttributes::empty()),
                )
                .await;
            chan.checked(r)?.handle
        }
        Err(e) => return chan.checked(Err(e)),
    };
    Ok(SftpWriter {
        chan: Some(chan),
        sftp: Some(sftp),
        handle,
        temp,
        full,
        offset: 0,
        buf: Vec::new(),
        inflight: VecDeque::new(),
    })
}

fn closed(full: &str) -> Error {
    Error::invalid_input(format!("the writer for {full} is already closed"))
}

/// An SSH string: a u32 length, then the bytes.
fn ssh_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Closes `handle` and removes `temp`, waiting for neither.
fn discard(sftp: Arc<Sftp>, handle: String, temp: String) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    drop(tokio::spawn(async move {
        let _ = sftp.raw.close(handle).await;
        let _ = sftp.raw.remove(temp).await;
    }));
}

impl SftpWriter {
    /// Sends `data` at the current offset, waiting for the oldest request
    /// when [`DEPTH`] are in flight.
    async fn send(&mut self, data: Vec<u8>) -> Result<()> {
        let sftp = self.sftp.clone().ok_or_else(|| closed(&self.full))?;
        if self.inflight.len() >= DEPTH {
            self.wait_one().await?;
        }
        let (h, off, n) = (self.handle.clone(), self.offset, data.len() as u64);
        self.inflight.push_back(tokio::spawn(
            async move { sftp.raw.write(h, off, data).await.map(|_| ()) },
        ));
        self.offset += n;
        Ok(())
    }

    async fn wait_one(&mut self) -> Result<()> {
        let Some(task) = self.inflight.pop_front() else {
            return Ok(());
        };
        let Some(pool) = self.chan.as_ref().map(|c| c.pool().clone()) else {
            return Err(closed(&self.full));
        };
        let joined = async {
            task.await
                .unwrap_or_else(|e| Err(SftpError::UnexpectedBehavior(e.to_string())))
        };
        let r = pool.timed("write", &self.full, joined).await;
        if let Err(e) = r {
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// Ends the upload after `e`: the temporary file is removed.
    fn fail(&mut self, e: Error) -> Error {
        for t in self.inflight.drain(..) {
            t.abort();
        }
        if let Some(mut chan) = self.chan.take() {
            if e.temporary {
                chan.broken();
            }
            if let Some(s) = self.sftp.take() {
                discard(s, std::mem::take(&mut self.handle), std::mem::take(&mut self.temp));
            }
        }
        e
    }

    async fn publish(&mut self, chan: &mut Chan, sftp: &Arc<Sftp>) -> Result<()> {
        let pool = chan.pool().clone();
        let (temp, full) = (self.temp.as_str(), self.full.as_str());
        if sftp.posix_rename {
            let mut data = Vec::new();
            ssh_string(&mut data, temp);
            ssh_string(&mut data, full);
            let r = pool
                .timed("publish", full, sftp.raw.extended("posix-rename@openssh.com", data))
                .await;
            return match chan.checked(r)? {
                Packet::Status(s) if s.status_code == StatusCode::Ok => Ok(()),
                Packet::Status(s) => Err(crate::error::sftp_error(
                    "publish",
                    &pool.server,
                    full,
                    &SftpError::Status(s),
                )),
                _ => Err(Error::unexpected(format!(
                    "cannot publish {full}: an unexpected reply to the rename"
                ))),
            };
        }
        // SFTP v3's rename will not replace: remove the target first.
        let first = pool.timed("publish", full, sftp.raw.rename(temp, full)).await;
        match first {
            Ok(_) => Ok(()),
            Err(e) if !e.temporary => {
                let _ = pool.timed("replace", full, sftp.raw.remove(full)).await;
                let again = pool.timed("publish", full, sftp.raw.rename(temp, full)).await;
                chan.checked(again).map(|_| ())
            }
            Err(e) => chan.checked(Err(e)),
        }
    }
}

impl Writer for SftpWriter {
    async fn write(&mut self, chunk: Chunk) -> Result<()> {
        let Some(sftp) = self.sftp.clone() else {
            return Err(closed(&self.full));
        };
        let len = sftp.write_len as usize;
        let mut bytes = chunk.as_bytes();
        while !bytes.is_empty() {
            if self.buf.is_empty() && bytes.len() >= len {
                let (head, rest) = bytes.split_at(len);
                self.send(head.to_vec()).await?;
                bytes = rest;
                continue;
            }
            let take = (len - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == len {
                let full = std::mem::take(&mut self.buf);
                self.send(full).await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        if self.sftp.is_none() {
            return Err(closed(&self.full));
        }
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.send(rest).await?;
        }
        while !self.inflight.is_empty() {
            self.wait_one().await?;
        }
        let (Some(mut chan), Some(sftp)) = (self.chan.take(), self.sftp.take()) else {
            return Err(closed(&self.full));
        };
        let pool = chan.pool().clone();
        let handle = std::mem::take(&mut self.handle);
        let r = pool.timed("write", &self.full, sftp.raw.close(handle)).await;
        if let Err(e) = chan.checked(r) {
            discard(sftp, String::new(), std::mem::take(&mut self.temp));
            return Err(e);
        }
        if let Err(e) = self.publish(&mut chan, &sftp).await {
            discard(sftp, String::new(), std::mem::take(&mut self.temp));
            return Err(e);
        }
        self.temp.clear();
        Ok(())
    }

    async fn abort(mut self) -> Result<()> {
        for t in self.inflight.drain(..) {
            t.abort();
        }
        if let (Some(chan), Some(sftp)) = (self.chan.take(), self.sftp.take()) {
            let pool = chan.pool().clone();
            let _ = pool
                .timed("write", &self.full, sftp.raw.close(std::mem::take(&mut self.handle)))
                .await;
            let _ = pool
                .timed("delete", &self.temp, sftp.raw.remove(self.temp.as_str()))
                .await;
        }
        Ok(())
    }
}

impl Drop for SftpWriter {
    /// An unfinished upload's temporary file is removed on the plugin's
    /// runtime; nobody waits for it.
    fn drop(&mut self) {
        for t in self.inflight.drain(..) {
            t.abort();
        }
        if let (Some(_), Some(sftp)) = (self.chan.take(), self.sftp.take()) {
            discard(sftp, std::mem::take(&mut self.handle), std::mem::take(&mut self.temp));
        }
    }
}
