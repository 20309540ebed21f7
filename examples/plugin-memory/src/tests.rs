//! Unit tests through the safe traits. The shared conformance suite in the
//! Arca workspace tests the plugin through the real loader; these pin down
//! the semantics that are easy to get subtly wrong. Each test uses its own
//! bucket, since buckets are shared by the whole process.

use crate::{CHUNK_SIZE_KEY, MemoryPlugin, MemoryStore};
use arca_core::{ArtifactPath, ByteRange, Config, ErrorKind, FfiBuf, Plugin, Reader, Result, Store, Writer};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

fn open(uri: &str, config: &[(&str, &str)]) -> Result<MemoryStore> {
    block_on(MemoryPlugin::open(
        uri.to_owned(),
        Config::from_pairs(config.iter().copied()),
    ))
}

fn path(p: &str) -> Result<ArtifactPath> {
    Ok(ArtifactPath::parse(p)?)
}

fn put(store: &MemoryStore, p: &str, data: &[u8]) -> Result<()> {
    block_on(async {
        let mut w = store.write(&path(p)?).await?;
        w.write(FfiBuf::from_vec(data.to_vec())).await?;
        w.finish().await
    })
}

/// Reads `p` (or a range of it) and returns its chunks.
fn chunks(store: &MemoryStore, p: &str, range: Option<(u64, Option<u64>)>) -> Result<Vec<Vec<u8>>> {
    let range = range.map(|(start, end)| ByteRange { start, end });
    block_on(async {
        let mut r = store.read(&path(p)?, range).await?;
        let mut out = Vec::new();
        while let Some(chunk) = r.next_chunk().await? {
            out.push(chunk.as_bytes().to_vec());
        }
        Ok(out)
    })
}

fn exists(store: &MemoryStore, p: &str) -> Result<bool> {
    match block_on(store.stat(&path(p)?)) {
        Ok(_) => Ok(true),
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(false),
        Err(e) => Err(e),
    }
}

fn names(store: &MemoryStore, p: &str, token: Option<&str>, page: usize) -> Result<(Vec<String>, Option<String>)> {
    let page = block_on(store.list(&path(p)?, token, page))?;
    let names = page
        .entries
        .iter()
        .map(|e| {
            if e.is_dir {
                format!("{}/", e.path)
            } else {
                e.path.clone()
            }
        })
        .collect();
    Ok((names, page.next_token))
}

#[test]
fn delete_takes_the_subtree_but_not_keys_sharing_its_prefix() -> Result<()> {
    let store = open("memory://delete/exp", &[])?;
    for p in ["run1/a", "run1/b/c", "run10/x", "run1.txt", "run"] {
        put(&store, p, b"x")?;
    }
    block_on(store.delete(&path("run1")?))?;
    assert!(!exists(&store, "run1")? && !exists(&store, "run1/a")? && !exists(&store, "run1/b/c")?);
    assert!(exists(&store, "run10/x")? && exists(&store, "run1.txt")? && exists(&store, "run")?);

    // Deleting a file, and deleting what is not there, both succeed.
    block_on(store.delete(&path("run1.txt")?))?;
    block_on(store.delete(&path("never/was")?))?;
    assert!(!exists(&store, "run1.txt")?);

    // Deleting the root of a prefixed store leaves the rest of the bucket alone.
    let outside = open("memory://delete/other", &[])?;
    put(&outside, "keep", b"x")?;
    block_on(store.delete(&ArtifactPath::root()))?;
    assert!(!exists(&store, "run10/x")? && exists(&outside, "keep")?);
    Ok(())
}

#[test]
fn ranged_reads_are_chunked_clipped_and_refused_past_the_end() -> Result<()> {
    let store = open("memory://ranges", &[(CHUNK_SIZE_KEY, "3")])?;
    put(&store, "ten", b"0123456789")?;
    put(&store, "empty", b"")?;

    let read = |range| chunks(&store, "ten", range).map(|c| c.concat());
    assert_eq!(chunks(&store, "ten", None)?, [&b"012"[..], b"345", b"678", b"9"]);
    assert_eq!(read(Some((2, Some(5))))?, b"234");
    assert_eq!(read(Some((4, None)))?, b"456789");
    assert_eq!(read(Some((8, Some(100))))?, b"89");
    assert_eq!(read(Some((9, Some(9))))?, b"");
    for past_the_end in [(10, None), (11, Some(20))] {
        let err = read(Some(past_the_end)).err().map(|e| e.kind);
        assert_eq!(err, Some(ErrorKind::RANGE_NOT_SATISFIABLE), "{past_the_end:?}");
    }

    assert!(chunks(&store, "empty", Some((0, None)))?.is_empty());
    let err = chunks(&store, "empty", Some((1, None))).err().map(|e| e.kind);
    assert_eq!(err, Some(ErrorKind::RANGE_NOT_SATISFIABLE));
    Ok(())
}

#[test]
fn listing_shows_implied_directories_in_name_order_with_paging() -> Result<()> {
    let store = open("memory://list", &[])?;
    for p in ["a.txt", "a/x", "b", "c/d/e"] {
        put(&store, p, b"x")?;
    }
    assert_eq!(
        names(&store, "", None, 2)?,
        (vec!["a/".into(), "a.txt".into()], Some("a.txt".into()))
    );
    assert_eq!(
        names(&store, "", Some("a.txt"), 2)?,
        (vec!["b".into(), "c/".into()], None)
    );
    assert_eq!(names(&store, "c", None, 10)?, (vec!["d/".into()], None));

    // A file or a missing path lists as empty.
    assert_eq!(names(&store, "b", None, 10)?, (vec![], None));
    assert_eq!(names(&store, "zz", None, 10)?, (vec![], None));

    let info = block_on(store.stat(&path("c/d")?))?;
    assert!(info.is_dir && info.path == "c/d");
    assert_eq!(block_on(store.stat(&path("b")?))?.size, 1);
    Ok(())
}

#[test]
fn writes_publish_on_finish_only_and_buckets_are_shared() -> Result<()> {
    let store = open("memory://writes", &[])?;
    let p = path("dir/file")?;
    block_on(async {
        let mut w = store.write(&p).await?;
        w.write(FfiBuf::from_vec(b"half".to_vec())).await?;
        assert!(!exists(&store, "dir/file")?, "visible before finish");
        w.abort().await?;
        let mut w = store.write(&p).await?;
        w.write(FfiBuf::from_vec(b"lost".to_vec())).await?;
        drop(w);
        Ok::<_, arca_core::Error>(())
    })?;
    assert!(!exists(&store, "dir/file")? && !exists(&store, "dir")?);

    // A second store on the same bucket, rooted at `dir`, sees the file.
    put(&store, "dir/file", b"done")?;
    let rooted = open("MEMORY://writes/dir", &[])?;
    assert_eq!(chunks(&rooted, "file", None)?.concat(), b"done");
    Ok(())
}

#[test]
fn bad_uris_and_unknown_keys_are_refused() {
    let kind = |uri: &str, config: &[(&str, &str)]| open(uri, config).err().map(|e| e.kind);
    assert_eq!(kind("s3://b", &[]), Some(ErrorKind::INVALID_INPUT));
    assert_eq!(kind("memory:///x", &[]), Some(ErrorKind::INVALID_INPUT));
    assert_eq!(kind("memory://b/../x", &[]), Some(ErrorKind::INVALID_INPUT));
    assert_eq!(
        kind("memory://b", &[("colour", "red")]),
        Some(ErrorKind::CONFIG_INVALID)
    );
    assert_eq!(
        kind("memory://b", &[(CHUNK_SIZE_KEY, "0")]),
        Some(ErrorKind::CONFIG_INVALID)
    );
}

#[test]
fn multipart_is_unsupported() -> Result<()> {
    let store = open("memory://multipart", &[])?;
    let err = block_on(store.multipart_create(&path("x")?, 2)).err().map(|e| e.kind);
    assert_eq!(err, Some(ErrorKind::UNSUPPORTED));
    Ok(())
}

/// Runs `fut` to completion on the current thread, parking it while the
/// future is pending.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake-up that lands between `poll` and `park` is not lost: `park`
        // returns at once after an `unpark`. A spurious return only costs a poll.
        thread::park();
    }
}

/// A waker that unparks the thread running [`block_on`].
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
