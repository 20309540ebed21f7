//! Streaming reads: the block locations are asked for once, then the bytes
//! of the wanted range stream from the DataNodes block by block, each
//! packet handed on as a chunk without a copy.

use crate::store::HdfsStore;
use arca_core::{ArtifactPath, ByteRange, Chunk, Error, ErrorKind, FfiBuf, Reader, Result};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

/// Reads one file (or a range of it).
pub struct HdfsReader {
    store: HdfsStore,
    stream: BoxStream<'static, hdfs_native::Result<Bytes>>,
    /// Bytes still to come.
    remaining: u64,
    full: String,
}

impl std::fmt::Debug for HdfsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HdfsReader")
            .field("path", &self.full)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

pub(crate) async fn open(store: &HdfsStore, path: &ArtifactPath, range: Option<ByteRange>) -> Result<HdfsReader> {
    let full = store.full(path);
    let file = match store.call("read", &full, store.client().read(&full)).await {
        Ok(f) => f,
        // Opening a directory: the NameNode says it is "not a file".
        Err(e) if e.kind == ErrorKind::NOT_FOUND => {
            let info = store.call("read", &full, store.client().get_file_info(&full)).await;
            return Err(match info {
                Ok(s) if s.isdir => Error::new(ErrorKind::IS_A_DIRECTORY, format!("{full} is a directory")),
                _ => Error::not_found(format!("no such file: {}{full}", store.inner.server)),
            });
        }
        Err(e) => return Err(e),
    };
    let size = file.file_length() as u64;
    let (start, end) = match range {
        None => (0, size),
        Some(ByteRange { start, end }) => {
            if end.is_some_and(|e| e < start) {
                return Err(Error::invalid_input(format!(
                    "range end is before its start for {full}"
                )));
            }
            if start > size || (start == size && size > 0) {
                return Err(Error::new(
                    ErrorKind::RANGE_NOT_SATISFIABLE,
                    format!("range start {start} is beyond the end of {full} ({size} bytes)"),
                ));
            }
            (start, end.map_or(size, |e| e.min(size)))
        }
    };
    let too_large = || Error::invalid_input(format!("range of {full} too large for this platform"));
    let offset = usize::try_from(start).map_err(|_| too_large())?;
    let len = usize::try_from(end - start).map_err(|_| too_large())?;
    // Checked above: the range lies within the file (the stream would
    // panic otherwise).
    let stream = file.read_range_stream(offset, len).boxed();
    Ok(HdfsReader {
        store: store.clone(),
        stream,
        remaining: end - start,
        full,
    })
}

impl Reader for HdfsReader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let next = self.stream.next();
        let item = match self.store.inner.timeout {
            Some(t) => tokio::time::timeout(t, next)
                .await
                .map_err(|_| Error::stalled("read", &self.store.inner.server, &self.full, t.as_secs_f64()))?,
            None => next.await,
        };
        match item {
            Some(Ok(bytes)) => {
                self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                Ok(Some(FfiBuf::from_owner(bytes)))
            }
            Some(Err(e)) => Err(crate::error::hdfs_error(
                "read",
                &self.store.inner.server,
                &self.full,
                e,
            )),
            None => Err(Error::new(
                ErrorKind::UNAVAILABLE,
                format!("{} ended {} bytes short", self.full, self.remaining),
            )
            .temporary()),
        }
    }
}
