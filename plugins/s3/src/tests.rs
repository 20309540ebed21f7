//! Tests against a real S3 server: the one `cargo xtask test` starts, named
//! by the `s3://` entry of `ARCA_CONFORMANCE_EXTRA_URIS` and MLflow's
//! environment variables. Without that server they return early (the
//! conformance suite is where the S3 plugin is proven; these add what it
//! cannot express, such as wrong credentials).

use crate::{S3Config, S3Store};
use arca_core::{ArtifactPath, Config, ErrorKind, Reader, Result, Store};

/// The `s3://bucket/prefix` of the test server, if one is running.
fn server_uri() -> Option<String> {
    std::env::var("MLFLOW_S3_ENDPOINT_URL").ok()?;
    let extra = std::env::var("ARCA_CONFORMANCE_EXTRA_URIS").ok()?;
    let uri = extra.split(',').map(str::trim).find(|u| u.starts_with("s3://"))?;
    Some(format!("{}/unit", uri.trim_end_matches('/')))
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start a runtime: {e}"),
    }
}

fn open(uri: &str, pairs: &[(&str, &str)]) -> Result<S3Store> {
    S3Store::open(S3Config::parse(uri, Config::from_pairs(pairs.iter().copied()))?)
}

#[test]
fn a_wrong_secret_is_unauthenticated() {
    let Some(uri) = server_uri() else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let Ok(store) = open(&uri, &[("secret_access_key", "not-the-secret")]) else {
        panic!("cannot open {uri}");
    };
    let Ok(path) = ArtifactPath::parse("any/file.txt") else {
        panic!("bad path");
    };
    block_on(async {
        let stat = store.stat(&path).await.map(drop);
        assert_eq!(
            stat.as_ref().err().map(|e| e.kind),
            Some(ErrorKind::UNAUTHENTICATED),
            "stat: {stat:?}"
        );
        let read = store.read(&path, None).await.map(drop);
        assert_eq!(
            read.as_ref().err().map(|e| e.kind),
            Some(ErrorKind::UNAUTHENTICATED),
            "read: {read:?}"
        );
        let list = store.list(&ArtifactPath::root(), None, 10).await.map(drop);
        assert_eq!(
            list.as_ref().err().map(|e| e.kind),
            Some(ErrorKind::UNAUTHENTICATED),
            "list: {list:?}"
        );
        let shown = format!("{stat:?} {read:?} {list:?}");
        assert!(!shown.contains("not-the-secret"), "{shown}");
    });
}

#[test]
fn a_missing_bucket_is_not_found_and_roundtrip_works() {
    let Some(uri) = server_uri() else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let Ok(store) = open(&uri, &[]) else {
        panic!("cannot open {uri}");
    };
    let Ok(path) = ArtifactPath::parse("roundtrip/x.txt") else {
        panic!("bad path");
    };
    block_on(async {
        use arca_core::{FfiBuf, Writer};
        let mut w = store.write(&path).await.unwrap_or_else(|e| panic!("{e:?}"));
        w.write(FfiBuf::from_vec(b"hello".to_vec()))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        w.finish().await.unwrap_or_else(|e| panic!("{e:?}"));
        let mut r = store.read(&path, None).await.unwrap_or_else(|e| panic!("{e:?}"));
        let chunk = r.next_chunk().await.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(chunk.map(|c| c.as_bytes().to_vec()), Some(b"hello".to_vec()));
        store
            .delete(&ArtifactPath::root())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let gone = store.stat(&path).await.err().map(|e| e.kind);
        assert_eq!(gone, Some(ErrorKind::NOT_FOUND));
    });
    let Ok(missing) = open("s3://arca-no-such-bucket/x", &[]) else {
        panic!("cannot open the missing bucket");
    };
    block_on(async {
        let e = missing.read(&path, None).await.err();
        assert_eq!(e.as_ref().map(|e| e.kind), Some(ErrorKind::NOT_FOUND), "{e:?}");
    });
}
