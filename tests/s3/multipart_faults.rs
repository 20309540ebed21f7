//! Faults during large (multipart) writes: a write that fails must leave no
//! visible object and no multipart upload open at radosgw, which is asked
//! directly (ListMultipartUploads, signed by [`crate::sigv4`]).

use crate::proxy::{Fault, Proxy, Request, Rule};
use crate::sigv4::open_uploads;
use crate::support::{Cleanup, S3, arca, path, run, server};
use arca_host::{ErrorKind, Store};
use arca_tests::{content, sha256};
use bytes::Bytes;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(180);
/// The smallest part size S3 allows, so a few parts make a large write.
const PART: usize = 5 << 20;
/// Three full parts and a short one.
const SIZE: usize = 3 * PART + (1 << 20) + 123;

fn part_size() -> (&'static str, &'static str) {
    ("multipart_chunk_size", "5242880")
}

/// Writes `data` in 1 MiB chunks through a write handle, as `arca cp` and
/// the server do (no retries: a stream cannot be replayed).
async fn write_streaming(store: &Store, file: &str, data: &[u8]) -> arca_host::Result<()> {
    let mut w = store.write(&path(file)).await?;
    for chunk in data.chunks(1 << 20) {
        w.write(Bytes::copy_from_slice(chunk)).await?;
    }
    w.finish().await
}

fn creates(r: &Request) -> bool {
    r.method == "POST" && r.has_param("uploads")
}

fn aborts(r: &Request) -> bool {
    r.method == "DELETE" && r.has_param("uploadId")
}

/// Nothing at `file`, and no upload open under the test's root.
async fn assert_nothing_left(s3: &S3, root: &str, file: &str) {
    let direct = s3.direct(root).await;
    let stat = direct.stat(&path(file)).await;
    assert_eq!(
        stat.as_ref().map_err(|e| e.kind).err(),
        Some(ErrorKind::NOT_FOUND),
        "a failed write left a visible object: {stat:?}"
    );
    let open = open_uploads(s3, &s3.key(root, ""));
    assert!(open.is_empty(), "a failed write left multipart uploads open: {open:?}");
}

/// Runs one failing large write through `rule` and checks what is left.
fn failing_write(name: &str, rule: impl Fn(&str) -> Rule, want_in_error: &[&str]) {
    let Some(s3) = server() else { return };
    let root = s3.root(name);
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "model.bin");
    proxy.add(rule(&key));
    let data = content(SIZE, 21);
    run(LIMIT, async {
        let store = s3.open(&root, &proxy.endpoint(), &[part_size()]).await;
        let e = match write_streaming(&store, "model.bin", &data).await {
            Ok(()) => panic!("a write through a persistent fault succeeded: {:#?}", proxy.seen()),
            Err(e) => e,
        };
        let shown = e.to_string();
        eprintln!("{name}: the write fails with: {shown}");
        assert!(shown.contains(&key), "the error names the key: {shown}");
        for want in want_in_error {
            assert!(shown.contains(want), "the error does not say {want:?}: {shown}");
        }
        assert_nothing_left(&s3, &root, "model.bin").await;
    });
    assert!(proxy.injected() >= 1, "no fault was injected: {:#?}", proxy.seen());
    assert_eq!(proxy.count(creates), 1, "{:#?}", proxy.seen());
    assert_eq!(
        proxy.count(aborts),
        1,
        "the upload was not aborted: {:#?}",
        proxy.seen()
    );
}

#[test]
fn persistent_slowdown_on_a_part_fails_the_write_and_leaves_nothing() {
    failing_write(
        "mpu-503-part",
        |key| Rule::new(Fault::SlowDown).method("PUT").path(key).query("partNumber=3"),
        &["SlowDown"],
    );
}

#[test]
fn a_reset_during_a_part_upload_fails_the_write_and_leaves_nothing() {
    failing_write(
        "mpu-reset-part",
        |key| {
            Rule::new(Fault::ResetRequest { after: 1 << 20 })
                .method("PUT")
                .path(key)
                .query("partNumber=2")
        },
        &[],
    );
}

#[test]
fn persistent_slowdown_on_complete_fails_the_write_and_leaves_nothing() {
    failing_write(
        "mpu-503-complete",
        |key| Rule::new(Fault::SlowDown).method("POST").path(key).query("uploadId"),
        &["SlowDown"],
    );
}

#[test]
fn a_whole_write_from_memory_is_retried_and_every_failed_attempt_is_aborted() {
    let Some(s3) = server() else { return };
    let root = s3.root("mpu-retry");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "model.bin");
    // The first attempt loses a part to a reset; the second gets through.
    proxy.add(
        Rule::new(Fault::ResetRequest { after: 1 << 20 })
            .method("PUT")
            .path(&key)
            .query("partNumber=2")
            .times(1),
    );
    let data = content(SIZE, 22);
    run(LIMIT, async {
        let store = s3.open(&root, &proxy.endpoint(), &[part_size()]).await;
        if let Err(e) = store.put_bytes(&path("model.bin"), data.clone()).await {
            panic!("put_bytes through one reset part: {e}");
        }
        let direct = s3.direct(&root).await;
        match direct.get_bytes(&path("model.bin")).await {
            Ok(back) => assert_eq!(sha256(&back), sha256(&data)),
            Err(e) => panic!("direct get: {e}"),
        }
        let open = open_uploads(&s3, &s3.key(&root, ""));
        assert!(open.is_empty(), "the failed attempt's upload is still open: {open:?}");
    });
    assert_eq!(proxy.injected(), 1, "{:#?}", proxy.seen());
    assert_eq!(proxy.count(creates), 2, "{:#?}", proxy.seen());
    assert_eq!(proxy.count(aborts), 1, "{:#?}", proxy.seen());
}

#[test]
fn a_writer_dropped_mid_upload_aborts_its_upload() {
    let Some(s3) = server() else { return };
    let root = s3.root("mpu-drop");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let data = content(2 * PART + 1000, 23);
    run(LIMIT, async {
        let store = s3.open(&root, &s3.endpoint, &[part_size()]).await;
        let mut w = match store.write(&path("dropped.bin")).await {
            Ok(w) => w,
            Err(e) => panic!("write: {e}"),
        };
        for chunk in data.chunks(1 << 20) {
            if let Err(e) = w.write(Bytes::copy_from_slice(chunk)).await {
                panic!("write: {e}");
            }
        }
        // The upload is open now (which also proves the check below can
        // see one).
        let prefix = s3.key(&root, "");
        let open = open_uploads(&s3, &prefix);
        assert_eq!(open, vec![s3.key(&root, "dropped.bin")], "the upload in progress");
        drop(w);
        // The abort runs in the background; wait for it, bounded.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let open = open_uploads(&s3, &prefix);
            if open.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a dropped writer left its upload open: {open:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let stat = s3.direct(&root).await.stat(&path("dropped.bin")).await;
        assert_eq!(stat.map_err(|e| e.kind).err(), Some(ErrorKind::NOT_FOUND));
    });
}

#[test]
fn arca_cp_of_a_large_file_through_a_failing_part_exits_1_and_leaves_nothing() {
    let Some(s3) = server() else { return };
    let root = s3.root("mpu-cli");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "model.bin");
    proxy.add(
        Rule::new(Fault::SlowDown)
            .method("PUT")
            .path(&key)
            .query("partNumber=2"),
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let local = dir.path().join("model.bin");
    std::fs::write(&local, content(SIZE, 24)).unwrap_or_else(|e| panic!("write: {e}"));
    let endpoint = proxy.endpoint();
    let env = [
        ("MLFLOW_S3_ENDPOINT_URL", endpoint.as_str()),
        ("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "5242880"),
    ];
    let o = arca(
        &["cp", "-q", &local.display().to_string(), &format!("{root}/model.bin")],
        &env,
        &[],
        LIMIT,
    );
    eprintln!("arca cp through a failing part says: {}", o.stderr);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stderr.contains(&key) && o.stderr.contains("SlowDown"), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    run(LIMIT, assert_nothing_left(&s3, &root, "model.bin"));
    assert_eq!(proxy.count(creates), 1, "{:#?}", proxy.seen());
    assert_eq!(
        proxy.count(aborts),
        1,
        "the upload was not aborted: {:#?}",
        proxy.seen()
    );
}
