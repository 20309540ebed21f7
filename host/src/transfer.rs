//! [`ReadStream`] and [`WriteHandle`]: a file in transit through a plugin.

use crate::store::{Store, await_op};
use arca_core::abi::{FfiOp, ReaderHandle, WriterHandle};
use arca_core::ffi::{FfiBuf, FfiResult};
use arca_core::{ArtifactPath, Error, Result};
use bytes::Bytes;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A file being read: a `Stream` of `Bytes` chunks.
pub struct ReadStream {
    store: Store,
    handle: ReaderHandle,
    pending: Option<FfiOp<FfiBuf>>,
    done: bool,
}

impl std::fmt::Debug for ReadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadStream")
            .field("store", &self.store.uri())
            .finish_non_exhaustive()
    }
}

impl ReadStream {
    pub(crate) fn new(store: Store, handle: ReaderHandle) -> Self {
        Self {
            store,
            handle,
            pending: None,
            done: false,
        }
    }

    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }
}

impl Stream for ReadStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let vt = this.store.inner.plugin.vtable;
        // SAFETY: live reader handle; at most one call is in flight (`pending`).
        let op = this
            .pending
            .get_or_insert_with(|| unsafe { (vt.reader_next)(this.handle) });
        let r = match Pin::new(op).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        this.pending = None;
        match r {
            FfiResult::Ok(buf) if buf.is_empty() => {
                this.done = true;
                Poll::Ready(None)
            }
            FfiResult::Ok(buf) => Poll::Ready(Some(Ok(Bytes::from_owner(buf)))),
            FfiResult::Err(e) => {
                this.done = true;
                Poll::Ready(Some(Err(this.store.ctx(e.into_error()))))
            }
        }
    }
}

impl Drop for ReadStream {
    fn drop(&mut self) {
        // An in-flight call must finish (or be dropped) before the reader goes.
        self.pending = None;
        // SAFETY: the handle came from `read` and is dropped once.
        unsafe { (self.store.inner.plugin.vtable.reader_drop)(self.handle) }
    }
}

/// A file being written. Dropping it without [`WriteHandle::finish`]
/// discards everything written.
pub struct WriteHandle {
    store: Store,
    handle: Option<WriterHandle>,
    path: ArtifactPath,
}

impl std::fmt::Debug for WriteHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHandle")
            .field("store", &self.store.uri())
            .field("path", &self.path)
            .finish()
    }
}

impl WriteHandle {
    pub(crate) fn new(store: Store, handle: WriterHandle, path: ArtifactPath) -> Self {
        Self {
            store,
            handle: Some(handle),
            path,
        }
    }

    fn live(&self) -> Result<WriterHandle> {
        self.handle
            .ok_or_else(|| Error::invalid_input(format!("writer for {} is already closed", self.path)))
    }

    /// Appends a chunk (moved to the plugin without a copy).
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let h = self.live()?;
        // SAFETY: live writer handle; the chunk's ownership moves to the plugin.
        let op = unsafe { (self.store.inner.plugin.vtable.writer_write)(h, FfiBuf::from_owner(chunk)) };
        await_op(op).await.map(drop).map_err(|e| self.store.ctx(e))
    }

    /// Publishes the file atomically.
    pub async fn finish(mut self) -> Result<()> {
        let h = self.live()?;
        // SAFETY: live writer handle.
        let op = unsafe { (self.store.inner.plugin.vtable.writer_finish)(h) };
        let r = await_op(op).await.map(drop).map_err(|e| self.store.ctx(e));
        self.release();
        r
    }

    /// Discards the file.
    pub async fn abort(mut self) -> Result<()> {
        let h = self.live()?;
        // SAFETY: live writer handle.
        let op = unsafe { (self.store.inner.plugin.vtable.writer_abort)(h) };
        let r = await_op(op).await.map(drop);
        self.release();
        r
    }

    fn release(&mut self) {
        if let Some(h) = self.handle.take() {
            // SAFETY: the handle came from `write` and is dropped once.
            unsafe { (self.store.inner.plugin.vtable.writer_drop)(h) }
        }
    }
}

impl Drop for WriteHandle {
    fn drop(&mut self) {
        self.release();
    }
}
