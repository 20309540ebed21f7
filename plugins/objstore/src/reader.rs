//! Streaming reads: the first `GET` (ranged, see [`Plan`]) reports a
//! missing object or a bad range before any byte is streamed, and its body
//! is passed on as it arrives; what lies beyond its range (a large object)
//! comes from concurrent ranged `GET`s ([`crate::parts`]), in order. Chunks
//! are at most [`arca_core::CHUNK_SIZE`].
//!
//! The HTTP body arrives in pieces of a few KiB; handing each across the
//! boundary would cost more than the copy that gathers them, so small
//! pieces are gathered up to [`GATHER`] bytes, and large ones (a fetched
//! part) are split without copying to at most a chunk.

use crate::parts::{self, Parts, Plan};
use crate::{Bucket, root_is_a_directory};
use arca_core::{ArtifactPath, ByteRange, Chunk, Error, ErrorKind, FfiBuf, Reader, Result};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore, ObjectStoreExt};

/// Small body pieces are gathered into chunks of about this size.
const GATHER: usize = 256 << 10;

/// Reads one object (or a range of it) chunk by chunk.
pub struct ObjectReader {
    /// The first response's body, while it lasts.
    body: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    /// Bytes the first body still owes.
    body_left: u64,
    /// The rest of the read, fetching ahead.
    parts: Option<Parts>,
    /// A piece larger than a chunk, still being split.
    pending: Bytes,
    /// Bytes still expected in all; a read that ends short is an error,
    /// never a silently truncated file.
    remaining: u64,
    bucket: Bucket,
    key: String,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("bucket", &self.bucket.bucket)
            .field("key", &self.key)
            .field("remaining", &self.remaining)
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

fn not_satisfiable(bucket: &Bucket, key: &str, start: u64, size: Option<u64>) -> Error {
    let size = size.map_or(String::new(), |s| format!(" ({s} bytes)"));
    Error::new(
        ErrorKind::RANGE_NOT_SATISFIABLE,
        format!("range start {start} is beyond the end of {}{size}", bucket.url(key)),
    )
}

/// Whether object_store refused a plain `200` answer to a ranged `GET`: the
/// server ignored the `Range` header.
fn range_ignored(e: &object_store::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.to_string().contains("non-partial response") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Sends the first `GET`. Missing objects and bad ranges are reported here,
/// before any byte is streamed; a read larger than the first request starts
/// fetching the rest at once. Must be called inside the plugin's runtime.
pub async fn open(shared: &Bucket, path: &ArtifactPath, range: Option<ByteRange>) -> Result<ObjectReader> {
    if path.is_root() {
        return Err(root_is_a_directory("read"));
    }
    let key = shared.key(path);
    let location = shared.location(&key)?;
    let empty = |shared: &Bucket| ObjectReader {
        body: None,
        body_left: 0,
        parts: None,
        pending: Bytes::new(),
        remaining: 0,
        bucket: shared.clone(),
        key: key.clone(),
    };
    let (start, end) = match range {
        None => (0, None),
        Some(ByteRange { start, end: None }) => (start, None),
        Some(ByteRange { start, end: Some(end) }) if end > start => (start, Some(end)),
        Some(ByteRange { start, end: Some(end) }) if end < start => {
            return Err(Error::invalid_input(format!(
                "range end {end} is before its start {start} for {}",
                shared.url(&key)
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
                return Err(not_satisfiable(shared, &key, start, Some(meta.size)));
            }
            return Ok(empty(shared));
        }
    };
    let plan = Plan::current(shared.plan);
    // The first request asks for at most `plan.first` bytes; its
    // Content-Range tells the object's size, so a small object costs this
    // one request and no HEAD.
    let first = match start.checked_add(plan.first.max(1)) {
        Some(cap) => GetRange::Bounded(start..end.map_or(cap, |end| end.min(cap))),
        None => end.map_or(GetRange::Offset(start), |end| GetRange::Bounded(start..end)),
    };
    let result = match get(shared, &location, Some(first)).await {
        Ok(r) => r,
        Err(e) if start == 0 && end.is_none() && range_ignored(&e) => {
            // A server that ignores `Range` gets the plain `GET` of old.
            let result = get(shared, &location, None)
                .await
                .map_err(|e| shared.error("read", &key, e))?;
            return Ok(streaming(shared, &key, result, None));
        }
        Err(e) => {
            let e = shared.error("read", &key, e);
            if e.kind != ErrorKind::RANGE_NOT_SATISFIABLE && !e.message.contains("InvalidRange") {
                return Err(e);
            }
            // S3 and Azure refuse any range of an empty object; a read from
            // 0 still gives its (empty) content, as for a local file.
            let meta = shared
                .client
                .head(&location)
                .await
                .map_err(|e| shared.error("read", &key, e))?;
            if start == 0 && meta.size == 0 {
                return Ok(empty(shared));
            }
            return Err(not_satisfiable(shared, &key, start, Some(meta.size)));
        }
    };
    let last = end.map_or(result.meta.size, |end| end.min(result.meta.size));
    let rest = result.range.end..last;
    let parts = if rest.is_empty() {
        None
    } else {
        Some(Parts::start(shared, &location, &key, &result.meta, rest, plan)?)
    };
    Ok(streaming(shared, &key, result, parts))
}

async fn get(shared: &Bucket, location: &Path, range: Option<GetRange>) -> object_store::Result<GetResult> {
    let opts = GetOptions {
        range,
        ..GetOptions::default()
    };
    shared.client.get_opts(location, opts).await
}

/// A reader that streams `result`'s body, then `parts`.
fn streaming(shared: &Bucket, key: &str, result: GetResult, parts: Option<Parts>) -> ObjectReader {
    let body_left = result.range.end.saturating_sub(result.range.start);
    let remaining = body_left + parts.as_ref().map_or(0, Parts::len);
    ObjectReader {
        body: Some(result.into_stream()),
        body_left,
        parts,
        pending: Bytes::new(),
        remaining,
        bucket: shared.clone(),
        key: key.to_owned(),
    }
}

impl ObjectReader {
    fn fail(&self, e: object_store::Error) -> Error {
        self.bucket.error("read", &self.key, e)
    }

    /// Stops reading: no more requests, no more bytes.
    fn stop(&mut self) {
        self.body = None;
        self.parts = None;
    }

    /// The next piece of the read, split to at most `limit` bytes.
    async fn next_piece(&mut self, limit: usize) -> Result<Option<Bytes>> {
        while self.pending.is_empty() {
            if let Some(body) = self.body.as_mut() {
                match body.next().await {
                    Some(Ok(b)) => {
                        self.body_left = self.body_left.saturating_sub(b.len() as u64);
                        self.pending = b;
                    }
                    Some(Err(e)) => {
                        self.stop();
                        return Err(self.fail(e));
                    }
                    // The parts must not follow a body that ended short.
                    None if self.body_left > 0 => {
                        self.stop();
                        return Err(parts::short(&self.bucket, &self.key, self.body_left));
                    }
                    None => self.body = None,
                }
            } else if let Some(parts) = self.parts.as_mut() {
                match parts.next().await {
                    Ok(Some(b)) => self.pending = b,
                    Ok(None) => self.parts = None,
                    Err(e) => {
                        self.stop();
                        return Err(e);
                    }
                }
            } else {
                return Ok(None);
            }
        }
        let n = self.pending.len().min(limit);
        Ok(Some(self.pending.split_to(n)))
    }
}

impl Reader for ObjectReader {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let mut gathered: Option<BytesMut> = None;
        loop {
            // A chunk never grows past CHUNK_SIZE.
            let limit = arca_core::CHUNK_SIZE.saturating_sub(gathered.as_ref().map_or(0, BytesMut::len));
            if limit == 0 {
                break;
            }
            let piece = match self.next_piece(limit).await? {
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
            None if self.remaining > 0 => Err(parts::short(&self.bucket, &self.key, self.remaining)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::range_ignored;

    #[test]
    fn a_server_that_ignores_range_is_recognised() {
        // The words object_store uses when a ranged GET gets a plain 200.
        let e = object_store::Error::Generic {
            store: "test",
            source: "Received non-partial response when range requested".into(),
        };
        assert!(range_ignored(&e));
        let e = object_store::Error::Generic {
            store: "test",
            source: "connection reset".into(),
        };
        assert!(!range_ignored(&e));
    }
}
