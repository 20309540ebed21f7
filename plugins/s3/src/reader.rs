//! Streaming reads: one `GET` (with a `Range` when asked), its body passed
//! on in chunks of at most [`arca_core::CHUNK_SIZE`].
//!
//! The HTTP body arrives in pieces of a few KiB; handing each across the
//! boundary would cost more than the copy that gathers them, so small
//! pieces are gathered up to [`GATHER`] bytes, and large ones are split
//! (without copying) to at most a chunk.

use crate::store::Shared;
use arca_core::{ArtifactPath, ByteRange, Chunk, Error, ErrorKind, FfiBuf, Reader, Result};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

/// Small body pieces are gathered into chunks of about this size.
const GATHER: usize = 256 << 10;

/// Reads one object (or a range of it) chunk by chunk.
pub struct S3Reader {
    body: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    /// A piece larger than a chunk, still being split.
    pending: Bytes,
    /// Bytes still expected; a body that ends short is an error, never a
    /// silently truncated file.
    remaining: u64,
    bucket: String,
    key: String,
}

impl std::fmt::Debug for S3Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Reader")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

fn not_satisfiable(bucket: &str, key: &str, start: u64, size: Option<u64>) -> Error {
    let size = size.map_or(String::new(), |s| format!(" ({s} bytes)"));
    Error::new(
        ErrorKind::RANGE_NOT_SATISFIABLE,
        format!("range start {start} is beyond the end of s3://{bucket}/{key}{size}"),
    )
}

/// Sends the `GET`. Missing objects and bad ranges are reported here, before
/// any byte is streamed.
pub(crate) async fn open(shared: &Shared, path: &ArtifactPath, range: Option<ByteRange>) -> Result<S3Reader> {
    if path.is_root() {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot read the store root: it is a directory",
        ));
    }
    let key = shared.key(path);
    let location = shared.location(&key)?;
    let empty = |shared: &Shared| S3Reader {
        body: None,
        pending: Bytes::new(),
        remaining: 0,
        bucket: shared.bucket.clone(),
        key: key.clone(),
    };
    let get_range = match range {
        None | Some(ByteRange { start: 0, end: None }) => None,
        Some(ByteRange { start, end: None }) => Some(GetRange::Offset(start)),
        Some(ByteRange { start, end: Some(end) }) if end > start => Some(GetRange::Bounded(start..end)),
        Some(ByteRange { start, end: Some(end) }) if end < start => {
            return Err(Error::invalid_input(format!(
                "range end {end} is before its start {start} for s3://{}/{key}",
                shared.bucket
            )));
        }
        // An empty range still needs the object to exist and the start to
        // lie within it.
        Some(ByteRange { start, .. }) => {
            let meta = shared
                .client
                .head(&location)
                .await
                .map_err(|e| shared.error("read", &key, e))?;
            if start > meta.size || (start == meta.size && meta.size > 0) {
                return Err(not_satisfiable(&shared.bucket, &key, start, Some(meta.size)));
            }
            return Ok(empty(shared));
        }
    };
    let start = get_range.as_ref().map_or(0, |r| match r {
        GetRange::Bounded(r) => r.start,
        GetRange::Offset(o) => *o,
        GetRange::Suffix(_) => 0,
    });
    let opts = GetOptions {
        range: get_range,
        ..GetOptions::default()
    };
    let result = match shared.client.get_opts(&location, opts).await {
        Ok(r) => r,
        Err(e) => {
            let e = shared.error("read", &key, e);
            if e.kind != ErrorKind::RANGE_NOT_SATISFIABLE && !e.message.contains("InvalidRange") {
                return Err(e);
            }
            // S3 refuses any range of an empty object; a read from 0 still
            // gives its (empty) content, as for a local file.
            let meta = shared
                .client
                .head(&location)
                .await
                .map_err(|e| shared.error("read", &key, e))?;
            if start == 0 && meta.size == 0 {
                return Ok(empty(shared));
            }
            return Err(not_satisfiable(&shared.bucket, &key, start, Some(meta.size)));
        }
    };
    let remaining = result.range.end.saturating_sub(result.range.start);
    Ok(S3Reader {
        body: Some(result.into_stream()),
        pending: Bytes::new(),
        remaining,
        bucket: shared.bucket.clone(),
        key,
    })
}

impl S3Reader {
    fn fail(&self, e: object_store::Error) -> Error {
        crate::error::s3_error("read", &self.bucket, &self.key, e)
    }

    /// The next piece of the body, split to at most `limit` bytes.
    async fn next_piece(&mut self, limit: usize) -> Result<Option<Bytes>> {
        if self.pending.is_empty() {
            let Some(body) = self.body.as_mut() else {
                return Ok(None);
            };
            match body.next().await {
                None => {
                    self.body = None;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.body = None;
                    return Err(self.fail(e));
                }
                Some(Ok(b)) => self.pending = b,
            }
        }
        let n = self.pending.len().min(limit);
        Ok(Some(self.pending.split_to(n)))
    }
}

impl Reader for S3Reader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let mut gathered: Option<BytesMut> = None;
        loop {
            // A chunk never grows past CHUNK_SIZE.
            let limit = arca_core::CHUNK_SIZE.saturating_sub(gathered.as_ref().map_or(0, BytesMut::len));
            if limit == 0 {
                break;
            }
            let piece = match self.next_piece(limit).await? {
                Some(p) if p.is_empty() => continue,
                Some(p) => p,
                None => break,
            };
            self.remaining = self.remaining.saturating_sub(piece.len() as u64);
            match &mut gathered {
                None if piece.len() >= GATHER => return Ok(Some(FfiBuf::from_owner(piece))),
                None => gathered = Some(BytesMut::from(&piece[..])),
                Some(buf) => buf.extend_from_slice(&piece),
            }
            if gathered.as_ref().is_some_and(|b| b.len() >= GATHER) {
                break;
            }
        }
        match gathered {
            Some(buf) => Ok(Some(FfiBuf::from_owner(buf.freeze()))),
            None if self.remaining > 0 => Err(Error::new(
                ErrorKind::UNAVAILABLE,
                format!(
                    "the body of s3://{}/{} ended {} bytes short",
                    self.bucket, self.key, self.remaining
                ),
            )
            .temporary()),
            None => Ok(None),
        }
    }
}
