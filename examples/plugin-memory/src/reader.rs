//! Reading: a byte window of one object, streamed in chunks without copying.

use arca_core::{Chunk, Reader, Result};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Streams a byte window of one object in chunks. It holds the object itself,
/// so a concurrent overwrite or delete does not disturb a read in progress.
pub struct MemoryReader {
    data: Arc<Vec<u8>>,
    /// What is left to send.
    window: Range<usize>,
    chunk_size: usize,
}

impl fmt::Debug for MemoryReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReader")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl MemoryReader {
    /// A reader of the bytes `window` of `data`.
    pub(crate) fn new(data: Arc<Vec<u8>>, window: Range<usize>, chunk_size: usize) -> Self {
        Self {
            data,
            window,
            chunk_size,
        }
    }
}

impl Reader for MemoryReader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.window.is_empty() {
            return Ok(None);
        }
        let start = self.window.start;
        let end = self.window.end.min(start.saturating_add(self.chunk_size));
        self.window.start = end;
        // No copy: the chunk shares the object and is freed by this library.
        Ok(Some(Chunk::from_owner(Slice {
            data: Arc::clone(&self.data),
            range: start..end,
        })))
    }
}

/// A part of a stored object, handed to the host as a chunk.
struct Slice {
    data: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        self.data.get(self.range.clone()).unwrap_or_default()
    }
}
