//! Writing: a buffer published in one map insert, or discarded.

use crate::store::with_bucket;
use arca_core::{Chunk, Result, Writer};
use std::fmt;
use std::sync::Arc;

/// Buffers a file and publishes it in one map insert on [`Writer::finish`].
/// Dropping it, or calling [`Writer::abort`], discards the buffer.
pub struct MemoryWriter {
    bucket: String,
    key: String,
    buf: Vec<u8>,
}

impl fmt::Debug for MemoryWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryWriter")
            .field("key", &self.key)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl MemoryWriter {
    /// A writer of `key` in `bucket`.
    pub(crate) fn new(bucket: String, key: String) -> Self {
        Self {
            bucket,
            key,
            buf: Vec::new(),
        }
    }
}

impl Writer for MemoryWriter {
    async fn write(&mut self, chunk: Chunk) -> Result<()> {
        self.buf.extend_from_slice(chunk.as_bytes());
        Ok(())
    }

    async fn finish(self) -> Result<()> {
        let Self { bucket, key, buf } = self;
        with_bucket(&bucket, |b| b.insert(key, Arc::new(buf)));
        Ok(())
    }

    async fn abort(self) -> Result<()> {
        Ok(())
    }
}
