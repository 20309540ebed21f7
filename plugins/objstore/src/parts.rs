//! The rest of a large read, fetched as concurrent ranged `GET`s and handed
//! on strictly in order.
//!
//! One HTTP stream is slow over a real network and leaves a fast server
//! idle; several ranged `GET`s at once are how S3 clients (boto3's
//! `download_file` among them) read large objects. The reader's first `GET`
//! asks for [`Plan::first`] bytes; its `Content-Range` tells the object's
//! size, so a read that fits costs that one request and nothing more. What
//! lies beyond is cut into parts of [`Plan::part`] bytes, each fetched by a
//! task of its own; at most [`Plan::in_flight`] parts are fetching or waiting
//! to be read, so memory stays near `(in_flight + 2) × part`: those parts,
//! the one being handed on, and one the host may still be writing.
//!
//! Every part is asked for with `If-Match:` the ETag of the first response,
//! so an object overwritten mid-read fails the read instead of yielding a
//! mix of two versions. Dropping [`Parts`] aborts every task, which drops
//! their connections.
//!
//! Part buffers are reused: a buffer whose last chunk the host has dropped
//! goes back to the read's pool rather than to the allocator, so a large
//! read does not fault in fresh pages for every part (faulting in and
//! clearing them cost about as much CPU as the copy itself in a loopback
//! download).

use crate::Bucket;
use arca_core::{Error, ErrorKind, Result};
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectMeta};
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// How a read is split into requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// What the first `GET` asks for; a read that fits is that one request.
    pub first: u64,
    /// The size of every later ranged `GET`.
    pub part: u64,
    /// How many parts may be fetching (or fetched and waiting) at once.
    pub in_flight: usize,
}

impl Plan {
    /// Two 8 MiB parts in one `GET`, then 8 MiB parts, 8 at a time (boto3
    /// downloads 8 MiB parts with 10 threads).
    pub const DEFAULT: Self = Self {
        first: 16 << 20,
        part: 8 << 20,
        in_flight: 8,
    };

    /// Parts of `part` bytes (the first request asks for two), as many in
    /// flight as keep about 64 MiB fetching, 2 to 8.
    pub fn with_part(part: u64) -> Self {
        let part = part.max(1);
        Self {
            first: part.saturating_mul(2),
            part,
            in_flight: usize::try_from((64 << 20) / part).unwrap_or(8).clamp(2, 8),
        }
    }

    /// The plan for a read opened now: `plan` (a store's), unless a test
    /// asked for smaller parts on its own thread ([`Plan::set_for_tests`]).
    pub fn current(plan: Self) -> Self {
        TEST_PLAN.with(std::cell::Cell::get).unwrap_or(plan)
    }

    /// Makes the reads this thread opens use `plan` (`None`: the default),
    /// so a plugin's tests can exercise part boundaries with small objects.
    #[doc(hidden)]
    pub fn set_for_tests(plan: Option<Self>) {
        TEST_PLAN.with(|p| p.set(plan));
    }
}

thread_local! {
    /// Set by tests to exercise part boundaries with small objects.
    static TEST_PLAN: std::cell::Cell<Option<Plan>> = const { std::cell::Cell::new(None) };
}

/// What names the object in errors, and how to ask for it again.
#[derive(Clone)]
struct Target {
    bucket: Bucket,
    location: Path,
    key: String,
    /// The ETag of the first response (`If-Match`), or, from a server that
    /// sends none, its modification time (`If-Unmodified-Since`).
    etag: Option<String>,
    /// What the first response said about the object.
    meta: ObjectMeta,
}

/// Spare part buffers of one read.
type Pool = Arc<Mutex<Vec<Vec<u8>>>>;

/// A fetched part; when the last chunk cut from it is dropped, its buffer
/// goes back to the pool (if the pool is not full).
struct PartBuf {
    data: Vec<u8>,
    pool: Pool,
    keep: usize,
}

impl AsRef<[u8]> for PartBuf {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for PartBuf {
    fn drop(&mut self) {
        let mut data = std::mem::take(&mut self.data);
        data.clear();
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < self.keep
        {
            pool.push(data);
        }
    }
}

/// A part's fetch; dropping it aborts the task.
struct Fetch(JoinHandle<Result<Bytes>>);

impl Drop for Fetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The parts of `next..end`, fetching ahead.
pub struct Parts {
    target: Target,
    runtime: Handle,
    /// The bytes this covers, from the first part's start.
    len: u64,
    next: u64,
    end: u64,
    part: u64,
    in_flight: usize,
    fetching: VecDeque<Fetch>,
    pool: Pool,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("next", &self.next)
            .field("end", &self.end)
            .field("fetching", &self.fetching.len())
            .finish_non_exhaustive()
    }
}

/// The object changed between the first response and a later part.
pub fn changed(bucket: &Bucket, key: &str) -> Error {
    Error::new(
        ErrorKind::UNAVAILABLE,
        format!(
            "{} was overwritten while it was being read; read it again",
            bucket.url(key)
        ),
    )
    .with("bucket", &bucket.bucket)
    .with("key", key)
    .temporary()
}

/// A body that ended before the bytes it announced.
pub fn short(bucket: &Bucket, key: &str, missing: u64) -> Error {
    Error::new(
        ErrorKind::UNAVAILABLE,
        format!("the body of {} ended {missing} bytes short", bucket.url(key)),
    )
    .with("bucket", &bucket.bucket)
    .with("key", key)
    .temporary()
}

impl Parts {
    /// Starts fetching `range` of the object the first response (`meta`)
    /// described. Must be called inside the runtime the tasks should run on.
    pub fn start(
        bucket: &Bucket,
        location: &Path,
        key: &str,
        meta: &ObjectMeta,
        range: Range<u64>,
        plan: Plan,
    ) -> Result<Self> {
        let runtime = Handle::try_current()
            .map_err(|e| Error::unexpected(format!("cannot read {}: no runtime: {e}", bucket.url(key))))?;
        let mut parts = Self {
            target: Target {
                bucket: bucket.clone(),
                location: location.clone(),
                key: key.to_owned(),
                etag: meta.e_tag.clone(),
                meta: meta.clone(),
            },
            runtime,
            len: range.end.saturating_sub(range.start),
            next: range.start,
            end: range.end,
            // A zero part would never advance.
            part: plan.part.max(1),
            in_flight: plan.in_flight.max(1),
            fetching: VecDeque::new(),
            pool: Pool::default(),
        };
        parts.refill();
        Ok(parts)
    }

    /// How many bytes the parts hold in all.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the parts hold no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Starts fetches until `in_flight` are under way or nothing is left.
    fn refill(&mut self) {
        while self.fetching.len() < self.in_flight && self.next < self.end {
            let end = self.end.min(self.next.saturating_add(self.part));
            let spare = PartBuf {
                data: self.pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default(),
                pool: self.pool.clone(),
                // As many as may be in use at once: the parts fetching, the
                // one being handed on, and one the host may still be writing.
                keep: self.in_flight + 2,
            };
            let task = self.runtime.spawn(fetch(self.target.clone(), self.next..end, spare));
            self.fetching.push_back(Fetch(task));
            self.next = end;
        }
    }

    /// The next part in order, or `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        let Some(mut front) = self.fetching.pop_front() else {
            return Ok(None);
        };
        // The next part starts now, while this one finishes and is handed on.
        self.refill();
        match (&mut front.0).await {
            Ok(r) => r.map(Some),
            Err(e) => Err(Error::unexpected(format!(
                "a part of {} could not be read: {e}",
                self.target.bucket.url(&self.target.key)
            ))),
        }
    }
}

/// Fetches one part whole into `buf`.
async fn fetch(t: Target, range: Range<u64>, mut buf: PartBuf) -> Result<Bytes> {
    let want = range.end - range.start;
    let opts = GetOptions {
        range: Some(GetRange::Bounded(range.clone())),
        if_unmodified_since: t.etag.is_none().then_some(t.meta.last_modified),
        if_match: t.etag.clone(),
        ..GetOptions::default()
    };
    let result = match t.bucket.client.get_opts(&t.location, opts).await {
        Ok(r) => r,
        Err(object_store::Error::Precondition { .. }) => return Err(changed(&t.bucket, &t.key)),
        Err(e) => return Err(t.bucket.error("read", &t.key, e)),
    };
    // `If-Match` already guards this; a server that ignored it is caught by
    // the ETag or size it answers with.
    let etag_moved = t.etag.is_some() && result.meta.e_tag != t.etag;
    if etag_moved || result.meta.size != t.meta.size || result.range != range {
        return Err(changed(&t.bucket, &t.key));
    }
    let capacity = usize::try_from(want).map_err(|_| Error::unexpected("a read part does not fit in memory"))?;
    buf.data.reserve_exact(capacity);
    let mut body = result.into_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| t.bucket.error("read", &t.key, e))?;
        if (buf.data.len() + piece.len()) as u64 > want {
            return Err(Error::unexpected(format!(
                "{} sent more than the {want} bytes asked for at {}",
                t.bucket.url(&t.key),
                range.start
            ))
            .with("bucket", &t.bucket.bucket)
            .with("key", &t.key));
        }
        buf.data.extend_from_slice(&piece);
    }
    match want - buf.data.len() as u64 {
        0 => Ok(Bytes::from_owner(buf)),
        missing => Err(short(&t.bucket, &t.key, missing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{Sender, channel};
    use std::time::Duration;

    /// Reports when dropped, as an aborted task drops its future.
    struct Dropped(Sender<()>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    #[test]
    fn plans_follow_the_part_size() {
        assert_eq!(Plan::with_part(8 << 20), Plan::DEFAULT);
        assert_eq!(Plan::with_part(32 << 20).in_flight, 2);
        assert_eq!(Plan::with_part(256 << 10).in_flight, 8);
        assert_eq!(Plan::with_part(1 << 20).first, 2 << 20);
    }

    #[test]
    fn dropping_a_fetch_aborts_its_task() {
        let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).build() {
            Ok(rt) => rt,
            Err(e) => panic!("cannot start a runtime: {e}"),
        };
        let (started_tx, started_rx) = channel();
        let (dropped_tx, dropped_rx) = channel();
        let guard = Dropped(dropped_tx);
        let fetch = Fetch(rt.spawn(async move {
            let _guard = guard;
            let _ = started_tx.send(());
            std::future::pending::<Result<Bytes>>().await
        }));
        assert!(
            started_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the task never started"
        );
        assert!(dropped_rx.try_recv().is_err(), "the task ended by itself");
        drop(fetch);
        // The runtime keeps running: only the abort can end the task.
        assert!(
            dropped_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "dropping the fetch did not abort its task"
        );
    }
}
