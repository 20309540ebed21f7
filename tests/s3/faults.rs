//! Faults on small transfers, injected by the [`Proxy`] between the plugin
//! and radosgw: 503 SlowDown, a connection reset mid-body, stalls. The
//! store is opened through the manifest, so the host's retry policy
//! (`arca_host::retry::Retry`, temporary errors only) is what is tested.
//!
//! Stalls are bounded: the S3 plugin sets no request timeout (only a
//! connect timeout), so a server that stops answering for good would hang
//! a transfer; what is tested is that a stall is waited out, and that one
//! ending in a reset is retried where the operation can be.

use crate::proxy::{Fault, Proxy, Request, Rule};
use crate::support::{Cleanup, arca, path, run, server};
use arca_host::retry::Retry;
use arca_host::{ErrorKind, Store};
use arca_tests::{content, sha256};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);
/// A made-up secret that must never be shown.
const CANARY: &str = "canary-SECRET-9d27e4";

fn is(method: &'static str, key: &str) -> impl Fn(&Request) -> bool {
    let key = key.to_owned();
    move |r: &Request| r.method == method && r.path.ends_with(&key)
}

/// Reads a file chunk by chunk, as `arca cat` and the server do.
async fn stream(store: &Store, file: &str) -> arca_host::Result<Vec<u8>> {
    let mut r = store.read(&path(file), None).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        out.extend_from_slice(&c);
    }
    Ok(out)
}

#[test]
fn transient_slowdowns_on_a_small_put_and_get_are_retried() {
    let Some(s3) = server() else { return };
    let root = s3.root("fault-503");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "small/a.bin");
    proxy.add(Rule::new(Fault::SlowDown).method("PUT").path(&key).times(2));
    proxy.add(Rule::new(Fault::SlowDown).method("GET").path(&key).times(2));
    let data = content(100_000, 7);
    run(LIMIT, async {
        let store = s3.open(&root, &proxy.endpoint(), &[]).await;
        if let Err(e) = store.put_bytes(&path("small/a.bin"), data.clone()).await {
            panic!("put through two 503 SlowDown answers: {e}");
        }
        match store.get_bytes(&path("small/a.bin")).await {
            Ok(back) => assert_eq!(sha256(&back), sha256(&data)),
            Err(e) => panic!("get through two 503 SlowDown answers: {e}"),
        }
        // What radosgw holds, without the proxy.
        let direct = s3.direct(&root).await;
        match direct.get_bytes(&path("small/a.bin")).await {
            Ok(back) => assert_eq!(sha256(&back), sha256(&data)),
            Err(e) => panic!("direct get: {e}"),
        }
    });
    assert_eq!(proxy.injected(), 4, "{:#?}", proxy.seen());
    assert_eq!(proxy.count(is("PUT", &key)), 3, "{:#?}", proxy.seen());
    assert_eq!(proxy.count(is("GET", &key)), 3, "{:#?}", proxy.seen());
}

#[test]
fn persistent_slowdowns_fail_after_the_bounded_retries_with_a_clear_error() {
    let Some(s3) = server() else { return };
    let root = s3.root("fault-503-always");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "busy.bin");
    let root_key = s3.key(&root, "");
    let data = content(10_000, 8);
    run(LIMIT, async {
        let store = s3.open(&root, &proxy.endpoint(), &[]).await;
        if let Err(e) = store.put_bytes(&path("busy.bin"), data.clone()).await {
            panic!("put without faults: {e}");
        }
        proxy.add(Rule::new(Fault::SlowDown).path(&root_key));
        // radosgw never sees these requests, so a made-up secret does: it
        // must not show in any error.
        let store = s3
            .open(&root, &proxy.endpoint(), &[("secret_access_key", CANARY)])
            .await;
        let started = Instant::now();
        let e = match store.get_bytes(&path("busy.bin")).await {
            Ok(_) => panic!("a read through endless 503 SlowDown answers succeeded"),
            Err(e) => e,
        };
        let policy = Retry::default();
        assert!(started.elapsed() < policy.total + Duration::from_secs(5));
        eprintln!("read through endless 503s fails with: {e}");
        assert_eq!(e.kind, ErrorKind::RATE_LIMITED, "{e}");
        assert!(e.temporary, "{e}");
        let shown = e.to_string();
        assert!(shown.contains(&key) && shown.contains("SlowDown"), "{shown}");
        assert!(!shown.contains(CANARY) && !format!("{e:?}").contains(CANARY), "{shown}");
        assert_eq!(
            proxy.count(is("GET", &key)),
            policy.attempts as usize,
            "one request per attempt: {:#?}",
            proxy.seen()
        );
        // A write is refused the same way, and leaves nothing behind.
        let e = match store.put_bytes(&path("busy-2.bin"), data.clone()).await {
            Ok(()) => panic!("a write through endless 503 SlowDown answers succeeded"),
            Err(e) => e,
        };
        assert_eq!(e.kind, ErrorKind::RATE_LIMITED, "{e}");
        assert!(!format!("{e:?}").contains(CANARY), "{e:?}");
        let direct = s3.direct(&root).await;
        let stat = direct.stat(&path("busy-2.bin")).await;
        assert_eq!(stat.map_err(|e| e.kind).err(), Some(ErrorKind::NOT_FOUND));
    });
}

#[test]
fn a_reset_mid_body_of_a_get_fails_a_stream_clearly_and_a_whole_read_retries() {
    let Some(s3) = server() else { return };
    let root = s3.root("fault-reset-get");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "big.bin");
    let data = content(3 * 1024 * 1024 + 11, 9);
    run(LIMIT, async {
        let store = s3.open(&root, &proxy.endpoint(), &[]).await;
        if let Err(e) = store.put_bytes(&path("big.bin"), data.clone()).await {
            panic!("put without faults: {e}");
        }
        // A stream cannot be retried once bytes have been handed on: the
        // reader reports the reset (and never a short file as complete).
        proxy.add(
            Rule::new(Fault::ResetResponse { after: 1 << 20 })
                .method("GET")
                .path(&key)
                .times(1),
        );
        let e = match stream(&store, "big.bin").await {
            Ok(got) => panic!("a reset body was read as complete ({} bytes)", got.len()),
            Err(e) => e,
        };
        eprintln!("a stream reset mid-body fails with: {e}");
        assert!(e.temporary, "a reset is worth retrying: {e}");
        assert_eq!(e.kind, ErrorKind::UNAVAILABLE, "{e}");
        assert!(e.to_string().contains(&key), "the error names the key: {e}");
        // A whole-file read starts again.
        proxy.add(
            Rule::new(Fault::ResetResponse { after: 1 << 20 })
                .method("GET")
                .path(&key)
                .times(1),
        );
        match store.get_bytes(&path("big.bin")).await {
            Ok(back) => assert_eq!(sha256(&back), sha256(&data)),
            Err(e) => panic!("get_bytes through one reset: {e}"),
        }
    });
    assert_eq!(proxy.injected(), 2, "{:#?}", proxy.seen());
    assert_eq!(proxy.count(is("GET", &key)), 3, "{:#?}", proxy.seen());
}

#[test]
fn a_stall_shorter_than_any_timeout_is_waited_out() {
    let Some(s3) = server() else { return };
    let root = s3.root("fault-stall");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "slow.bin");
    let data = content(1024 * 1024 + 3, 10);
    let pause = Duration::from_secs(3);
    run(LIMIT, async {
        let store = s3.open(&root, &proxy.endpoint(), &[]).await;
        if let Err(e) = store.put_bytes(&path("slow.bin"), data.clone()).await {
            panic!("put without faults: {e}");
        }
        proxy.add(
            Rule::new(Fault::Stall {
                after: Some(256 * 1024),
                pause,
                reset: false,
            })
            .method("GET")
            .path(&key)
            .times(1),
        );
        let started = Instant::now();
        match stream(&store, "slow.bin").await {
            Ok(back) => assert_eq!(sha256(&back), sha256(&data)),
            Err(e) => panic!("read through a {pause:?} stall: {e}"),
        }
        assert!(started.elapsed() >= pause, "the stall was not injected");
    });
    assert_eq!(proxy.injected(), 1, "{:#?}", proxy.seen());
}

#[test]
fn a_stall_that_ends_in_a_reset_is_retried_where_the_operation_can_be() {
    let Some(s3) = server() else { return };
    let root = s3.root("fault-stall-reset");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "hung.bin");
    let data = content(200_000, 11);
    let stall = |method: &str| {
        Rule::new(Fault::Stall {
            after: None,
            pause: Duration::from_secs(1),
            reset: true,
        })
        .method(method)
        .path(&key)
        .times(1)
    };
    run(LIMIT, async {
        let store = s3.open(&root, &proxy.endpoint(), &[]).await;
        // radosgw stores the object, but the answer never comes: writing
        // the same bytes again is safe, and is what a retry does.
        proxy.add(stall("PUT"));
        if let Err(e) = store.put_bytes(&path("hung.bin"), data.clone()).await {
            panic!("put whose first answer was lost: {e}");
        }
        proxy.add(stall("HEAD"));
        match store.stat(&path("hung.bin")).await {
            Ok(info) => assert_eq!(info.size, data.len() as u64),
            Err(e) => panic!("stat whose first answer was lost: {e}"),
        }
        proxy.add(stall("GET"));
        match stream(&store, "hung.bin").await {
            Ok(back) => assert_eq!(sha256(&back), sha256(&data)),
            Err(e) => panic!("read whose first answer was lost: {e}"),
        }
    });
    assert_eq!(proxy.injected(), 3, "{:#?}", proxy.seen());
    for method in ["PUT", "HEAD", "GET"] {
        assert_eq!(proxy.count(is(method, &key)), 2, "{method}: {:#?}", proxy.seen());
    }
}

#[test]
fn arca_cp_and_cat_of_a_small_file_ride_out_transient_slowdowns() {
    let Some(s3) = server() else { return };
    let root = s3.root("fault-503-cli");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let proxy = Proxy::start(&s3.endpoint);
    let key = s3.key(&root, "metrics.json");
    proxy.add(Rule::new(Fault::SlowDown).method("PUT").path(&key).times(2));
    proxy.add(Rule::new(Fault::SlowDown).method("GET").path(&key).times(2));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let local = dir.path().join("metrics.json");
    let data = content(64 * 1024, 12);
    std::fs::write(&local, &data).unwrap_or_else(|e| panic!("write: {e}"));
    let endpoint = proxy.endpoint();
    let env = [("MLFLOW_S3_ENDPOINT_URL", endpoint.as_str())];
    let uri = format!("{root}/metrics.json");
    let up = arca(&["cp", "-q", &local.display().to_string(), &uri], &env, &[], LIMIT);
    assert_eq!(
        up.code,
        Some(0),
        "cp through two 503s: {}\n{:#?}",
        up.stderr,
        proxy.seen()
    );
    let back = arca(&["cat", &uri], &env, &[], LIMIT);
    assert_eq!(back.code, Some(0), "cat through two 503s: {}", back.stderr);
    assert_eq!(sha256(&back.stdout), sha256(&data));
    assert_eq!(proxy.injected(), 4, "{:#?}", proxy.seen());
}
