//! Tests of the reader's concurrent ranged `GET`s against a real S3 server,
//! found the way `tests.rs` finds it (`ARCA_CONFORMANCE_EXTRA_URIS` and
//! MLflow's variables, as `cargo xtask test` sets them): without one they
//! return early on a developer's machine and fail under CI.
//!
//! Most use a small [`Plan`] (set for the test's own thread) so that part
//! boundaries, a window smaller than the object and an overwrite between
//! parts need only small objects; one checks the real plan's thresholds.

use crate::tests::{block_on, ok, p, server_uri};
use crate::{S3Config, S3Store};
use arca_core::{ArtifactPath, ByteRange, Config, ErrorKind, FfiBuf, Reader, Result, Store, Writer};
use arca_objstore::parts::Plan;

fn store(name: &str) -> Option<S3Store> {
    let uri = server_uri(&format!("reader-{name}"))?;
    match S3Config::parse(&uri, Config::from_pairs(std::iter::empty::<(&str, &str)>())).and_then(S3Store::open) {
        Ok(s) => Some(s),
        Err(e) => panic!("cannot open {uri}: {e:?}"),
    }
}

/// Content in which every offset of a few MiB differs from its neighbours'
/// (a part delivered in the wrong place shows).
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + i / 251) % 251) as u8 ^ seed).collect()
}

/// Uses `plan` for the reads this thread opens, until dropped.
struct WithPlan;

impl WithPlan {
    fn set(plan: Plan) -> Self {
        Plan::set_for_tests(Some(plan));
        Self
    }
}

impl Drop for WithPlan {
    fn drop(&mut self) {
        Plan::set_for_tests(None);
    }
}

/// First request 64 KiB, then 16 KiB parts, 3 at a time.
const SMALL: Plan = Plan {
    first: 64 << 10,
    part: 16 << 10,
    in_flight: 3,
};

async fn put(store: &S3Store, path: &str, data: &[u8]) {
    let mut w = ok(store.write(&p(path)).await);
    for piece in data.chunks(arca_core::CHUNK_SIZE) {
        ok(w.write(FfiBuf::from_vec(piece.to_vec())).await);
    }
    ok(w.finish().await);
}

async fn read_all(store: &S3Store, path: &str, range: Option<ByteRange>) -> Result<Vec<u8>> {
    let mut r = store.read(&p(path), range).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        assert!(
            !c.is_empty() && c.len() <= arca_core::CHUNK_SIZE,
            "chunk of {} bytes",
            c.len()
        );
        out.extend_from_slice(c.as_bytes());
    }
    Ok(out)
}

/// Whole reads of sizes on either side of every threshold of `plan`.
fn sizes(plan: Plan) -> Vec<usize> {
    let (first, part) = (plan.first as usize, plan.part as usize);
    let mut v = vec![
        0,
        1,
        first - 1,
        first,
        first + 1,
        first + part - 1,
        first + part,
        first + part + 1,
    ];
    // More parts than may be in flight, ending in a short one.
    v.push(first + (plan.in_flight + 3) * part + 7);
    v
}

#[test]
fn whole_reads_around_the_part_boundaries() {
    let Some(store) = store("whole") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let _plan = WithPlan::set(SMALL);
    block_on(async {
        for (i, size) in sizes(SMALL).into_iter().enumerate() {
            let data = content(size, i as u8);
            let name = format!("size-{size}");
            put(&store, &name, &data).await;
            let got = ok(read_all(&store, &name, None).await);
            assert!(got == data, "{size} bytes: {} read back, content differs", got.len());
            let from_zero = ok(read_all(&store, &name, Some(ByteRange { start: 0, end: None })).await);
            assert!(from_zero == data, "{size} bytes from 0: content differs");
        }
        ok(store.delete(&ArtifactPath::root()).await);
    });
}

#[test]
fn ranged_reads_across_part_boundaries() {
    let Some(store) = store("ranges") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let _plan = WithPlan::set(SMALL);
    let (first, part) = (SMALL.first, SMALL.part);
    let size = first + 7 * part + 123;
    let data = content(size as usize, 7);
    let r = |start: u64, end: Option<u64>| Some(ByteRange { start, end });
    block_on(async {
        put(&store, "obj", &data).await;
        for (start, end) in [
            (0, Some(first)),
            (0, Some(first + 1)),
            (first - 1, Some(first + 1)),
            (part - 3, Some(first + 3 * part + 3)),
            (5, None),
            (first + 2 * part, None),
            (first + 2 * part + 1, Some(first + 6 * part)),
            (size - 1, None),
            (10, Some(size + 1000)),
            (size - part - 1, Some(size)),
        ] {
            let got = ok(read_all(&store, "obj", r(start, end)).await);
            let want = &data[start as usize..end.map_or(size, |e| e.min(size)) as usize];
            assert!(
                got == want,
                "{start}..{end:?}: {} bytes read, {} wanted, content differs",
                got.len(),
                want.len()
            );
        }
        for start in [size, size + 1] {
            let e = read_all(&store, "obj", r(start, None)).await.err().map(|e| e.kind);
            assert_eq!(e, Some(ErrorKind::RANGE_NOT_SATISFIABLE), "{start}..");
        }
        // A missing object is reported by the first request, naming the key.
        let e = store.read(&p("missing"), None).await.err();
        assert_eq!(e.as_ref().map(|e| e.kind), Some(ErrorKind::NOT_FOUND), "{e:?}");
        assert!(e.is_some_and(|e| e.message.contains("/missing")));
        ok(store.delete(&ArtifactPath::root()).await);
    });
}

#[test]
fn an_overwrite_between_parts_fails_the_read() {
    let Some(store) = store("overwrite") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let _plan = WithPlan::set(SMALL);
    // Far more than the first chunk plus the parts in flight, so later parts
    // are asked for only after the overwrite.
    let size = 2 << 20;
    let old = content(size, 1);
    let new = content(size, 2);
    block_on(async {
        put(&store, "obj", &old).await;
        let mut reader = ok(store.read(&p("obj"), None).await);
        let mut got = ok(reader.next_chunk().await).map_or_else(Vec::new, |c| c.as_bytes().to_vec());
        assert!(
            !got.is_empty() && got.len() < size / 2,
            "first chunk: {} bytes",
            got.len()
        );
        put(&store, "obj", &new).await;
        let err = loop {
            match reader.next_chunk().await {
                Ok(Some(c)) => got.extend_from_slice(c.as_bytes()),
                Ok(None) => panic!("the read of an overwritten object ended without an error"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind, ErrorKind::UNAVAILABLE, "{err:?}");
        assert!(err.temporary, "{err:?}");
        assert!(
            err.message.contains("overwritten") && err.message.contains("/obj"),
            "{}",
            err.message
        );
        // Everything handed on before the error is the old version.
        assert!(old.starts_with(&got), "bytes of the new version were handed on");
        // A new read sees the new version whole.
        assert!(ok(read_all(&store, "obj", None).await) == new);
        ok(store.delete(&ArtifactPath::root()).await);
    });
}

#[test]
fn the_default_plan_thresholds() {
    let Some(store) = store("default") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let plan = Plan::DEFAULT;
    let (first, part) = (plan.first as usize, plan.part as usize);
    block_on(async {
        // One GET; one GET and a one-byte part; the first GET and three parts.
        for size in [first, first + 1, first + 3 * part + 5] {
            let data = content(size, 3);
            put(&store, "obj", &data).await;
            assert!(ok(read_all(&store, "obj", None).await) == data, "{size} bytes");
            let range = Some(ByteRange {
                start: first as u64 - 1,
                end: None,
            });
            assert!(
                ok(read_all(&store, "obj", range).await) == data[first - 1..],
                "{size} bytes from {}",
                first - 1
            );
        }
        ok(store.delete(&ArtifactPath::root()).await);
    });
}
