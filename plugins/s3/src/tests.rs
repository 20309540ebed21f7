//! Tests against a real S3 server: the one `cargo xtask test` starts, named
//! by the `s3://` entry of `ARCA_CONFORMANCE_EXTRA_URIS` and MLflow's
//! environment variables. Without that server they return early on a
//! developer's machine, but fail under CI (`CI` set), where a skipped test
//! would be a test that cannot fail. (The conformance suite is where the S3
//! plugin is proven; these add what it cannot express, such as wrong
//! credentials.)

use crate::{S3Config, S3Store};
use arca_core::{ArtifactPath, ByteRange, CompletedPart, Config, ErrorKind, FfiBuf, Reader, Result, Store, Writer};

/// A fresh `s3://bucket/prefix` on the test server for the test `name`, if
/// a server is running.
pub(crate) fn server_uri(name: &str) -> Option<String> {
    let uri = find_server_uri(name);
    if uri.is_none() && std::env::var_os("CI").is_some() {
        panic!("no S3 test server under CI: `cargo xtask test` must start radosgw");
    }
    uri
}

fn find_server_uri(name: &str) -> Option<String> {
    std::env::var("MLFLOW_S3_ENDPOINT_URL").ok()?;
    let extra = std::env::var("ARCA_CONFORMANCE_EXTRA_URIS").ok()?;
    let uri = extra.split(',').map(str::trim).find(|u| u.starts_with("s3://"))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Some(format!("{}/unit-{name}-{nanos}", uri.trim_end_matches('/')))
}

pub(crate) fn p(s: &str) -> ArtifactPath {
    match ArtifactPath::parse(s) {
        Ok(p) => p,
        Err(e) => panic!("bad path {s}: {e}"),
    }
}

pub(crate) fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e:?}"))
}

pub(crate) async fn read_all(store: &S3Store, path: &str, range: Option<ByteRange>) -> Result<Vec<u8>> {
    let mut r = store.read(&p(path), range).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        assert!(c.len() <= arca_core::CHUNK_SIZE, "chunk of {} bytes", c.len());
        out.extend_from_slice(c.as_bytes());
    }
    Ok(out)
}

pub(crate) fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

pub(crate) fn block_on<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start a runtime: {e}"),
    }
}

pub(crate) fn open(uri: &str, pairs: &[(&str, &str)]) -> Result<S3Store> {
    S3Store::open(S3Config::parse(uri, Config::from_pairs(pairs.iter().copied()))?)
}

#[test]
fn a_wrong_secret_is_unauthenticated() {
    let Some(uri) = server_uri("secret") else {
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
    let Some(uri) = server_uri("roundtrip") else {
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

#[test]
fn large_writes_are_multipart_and_invisible_until_finished() {
    let Some(uri) = server_uri("multipart") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let store = ok(open(&uri, &[("multipart_chunk_size", "5242880")]));
    let data = content(12 << 20);
    block_on(async {
        // Three parts (5 + 5 + 2 MiB), written in uneven pieces.
        let mut w = ok(store.write(&p("big.bin")).await);
        for piece in data.chunks(700_001) {
            ok(w.write(FfiBuf::from_vec(piece.to_vec())).await);
        }
        assert_eq!(
            store.stat(&p("big.bin")).await.err().map(|e| e.kind),
            Some(ErrorKind::NOT_FOUND)
        );
        ok(w.finish().await);
        assert!(
            ok(read_all(&store, "big.bin", None).await) == data,
            "multipart content differs"
        );
        let range = Some(ByteRange {
            start: (5 << 20) - 3,
            end: Some((5 << 20) + 3),
        });
        assert_eq!(
            ok(read_all(&store, "big.bin", range).await),
            data[(5 << 20) - 3..(5 << 20) + 3]
        );

        // Aborted and dropped multipart writes leave nothing.
        let mut w = ok(store.write(&p("aborted.bin")).await);
        ok(w.write(FfiBuf::from_vec(data.clone())).await);
        ok(w.abort().await);
        let mut w = ok(store.write(&p("dropped.bin")).await);
        ok(w.write(FfiBuf::from_vec(data.clone())).await);
        drop(w);
        let names: Vec<String> = ok(store.list(&ArtifactPath::root(), None, 100).await)
            .entries
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(names, ["big.bin"]);
        ok(store.delete(&ArtifactPath::root()).await);
    });
}

#[test]
fn empty_objects_and_empty_ranges() {
    let Some(uri) = server_uri("empty") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let store = ok(open(&uri, &[]));
    block_on(async {
        ok(ok(store.write(&p("empty")).await).finish().await);
        let w = ok(store.write(&p("five")).await);
        let mut w = w;
        ok(w.write(FfiBuf::from_vec(b"12345".to_vec())).await);
        ok(w.finish().await);
        let r = |start, end| Some(ByteRange { start, end });
        assert_eq!(ok(read_all(&store, "empty", r(0, None)).await), b"");
        assert_eq!(ok(read_all(&store, "empty", r(0, Some(10))).await), b"");
        assert_eq!(ok(read_all(&store, "five", r(2, Some(2))).await), b"");
        assert_eq!(ok(read_all(&store, "five", r(3, Some(100))).await), b"45");
        for (start, end) in [(5, None), (6, Some(7)), (5, Some(5)), (1, None)] {
            let got = read_all(&store, "five", r(start, end)).await.err().map(|e| e.kind);
            let want = if start == 1 {
                None
            } else {
                Some(ErrorKind::RANGE_NOT_SATISFIABLE)
            };
            assert_eq!(got, want, "{start}..{end:?}");
        }
        let e = read_all(&store, "empty", r(1, None)).await.err().map(|e| e.kind);
        assert_eq!(e, Some(ErrorKind::RANGE_NOT_SATISFIABLE));
        ok(store.delete(&ArtifactPath::root()).await);
    });
}

/// PUTs `body` to a presigned URL with curl and returns the ETag.
fn curl_put(url: &str, body: &[u8]) -> String {
    curl_put_with(url, body, &[])
}

/// PUTs `body` to a presigned URL with curl, sending `headers`, and returns
/// the ETag.
pub(crate) fn curl_put_with(url: &str, body: &[u8], headers: &[(String, String)]) -> String {
    let file = std::env::temp_dir().join(format!(
        "arca-s3-part-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let _ = std::fs::write(&file, body);
    let mut cmd = std::process::Command::new("curl");
    cmd.args([
        "--silent",
        "--show-error",
        "--fail",
        "--max-time",
        "30",
        "-D",
        "-",
        "-o",
        "/dev/null",
    ]);
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = cmd.arg("-T").arg(&file).arg(url).output();
    let _ = std::fs::remove_file(&file);
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => panic!("curl PUT failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("cannot run curl: {e}"),
    };
    out.lines()
        .find_map(|l| l.strip_prefix("ETag: ").or_else(|| l.strip_prefix("etag: ")))
        .map(|e| e.trim().to_owned())
        .unwrap_or_else(|| panic!("no ETag in {out}"))
}

#[test]
fn presigned_parts_upload_and_complete() {
    let Some(uri) = server_uri("presigned") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let store = ok(open(&uri, &[]));
    let part1 = content(5 << 20);
    let part2 = b"tail".to_vec();
    block_on(async {
        let up = ok(store.multipart_create(&p("mpu/file.bin"), 2).await);
        assert_eq!(up.parts.len(), 2);
        let mut done = Vec::new();
        // Uploaded out of order, as parallel clients do.
        for (part, body) in up.parts.iter().zip([&part1, &part2]).rev() {
            done.push(CompletedPart {
                part_number: part.part_number,
                etag: curl_put(&part.url, body),
                url: part.url.clone(),
            });
        }
        assert_eq!(
            store.stat(&p("mpu/file.bin")).await.err().map(|e| e.kind),
            Some(ErrorKind::NOT_FOUND)
        );
        ok(store.multipart_complete(&p("mpu/file.bin"), &up.upload_id, &done).await);
        let got = ok(read_all(&store, "mpu/file.bin", None).await);
        assert!(got.len() == part1.len() + 4 && got.ends_with(b"tail") && got.starts_with(&part1[..100]));
        // A tampered URL is refused by the server.
        let up = ok(store.multipart_create(&p("mpu/other.bin"), 1).await);
        let tampered = up.parts[0].url.replace("partNumber=1", "partNumber=2");
        let status = std::process::Command::new("curl")
            .args([
                "--silent",
                "--fail",
                "--max-time",
                "30",
                "-o",
                "/dev/null",
                "-X",
                "PUT",
                "--data-binary",
                "x",
            ])
            .arg(&tampered)
            .status();
        assert!(
            status.is_ok_and(|s| !s.success()),
            "a tampered presigned URL was accepted"
        );
        ok(store.multipart_abort(&p("mpu/other.bin"), &up.upload_id).await);
        ok(store.delete(&ArtifactPath::root()).await);
    });
}

#[test]
fn sse_kms_and_attributes_are_sent() {
    let Some(uri) = server_uri("sse") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    // `testkey-1` is the key the xtask radosgw's `testing` KMS backend knows.
    let extra = r#"{"ServerSideEncryption":"aws:kms","SSEKMSKeyId":"testkey-1","ContentType":"text/plain","Metadata":{"run":"42"}}"#;
    let store = ok(open(&uri, &[("upload_extra_args", extra)]));
    block_on(async {
        let mut w = ok(store.write(&p("secret.txt")).await);
        ok(w.write(FfiBuf::from_vec(b"encrypted at rest".to_vec())).await);
        ok(w.finish().await);
        assert_eq!(ok(read_all(&store, "secret.txt", None).await), b"encrypted at rest");
        ok(store.delete(&ArtifactPath::root()).await);
    });
    // An unknown key id is refused by the server, and the error says why.
    let bad = r#"{"ServerSideEncryption":"aws:kms","SSEKMSKeyId":"no-such-key"}"#;
    let store = ok(open(&uri, &[("upload_extra_args", bad)]));
    block_on(async {
        let mut w = ok(store.write(&p("x.txt")).await);
        ok(w.write(FfiBuf::from_vec(b"x".to_vec())).await);
        assert!(w.finish().await.is_err(), "an unknown kms key id was accepted");
    });
}

/// GETs a URL with curl (with `headers`), returning the response headers
/// and the body, or `None` if the server refused it.
fn curl_get(url: &str, headers: &[&str]) -> Option<(String, Vec<u8>)> {
    let body = std::env::temp_dir().join(format!("arca-s3-get-{}", std::process::id()));
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["--silent", "--fail", "--max-time", "30", "-D", "-", "-o"])
        .arg(&body);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).output();
    let got = std::fs::read(&body).unwrap_or_default();
    let _ = std::fs::remove_file(&body);
    match out {
        Ok(o) if o.status.success() => Some((String::from_utf8_lossy(&o.stdout).to_ascii_lowercase(), got)),
        _ => None,
    }
}

#[test]
fn presigned_downloads_read_straight_from_s3() {
    let Some(uri) = server_uri("presigned-get") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let store = ok(open(&uri, &[]));
    let data = content(300_000);
    block_on(async {
        let mut w = ok(store.write(&p("dir/model.bin")).await);
        ok(w.write(FfiBuf::from_vec(data.clone())).await);
        ok(w.finish().await);
        let url = ok(store
            .presign_read(&p("dir/model.bin"), std::time::Duration::from_secs(300))
            .await);
        let endpoint = std::env::var("MLFLOW_S3_ENDPOINT_URL").unwrap_or_default();
        assert!(url.url.starts_with(&endpoint), "{} is not on the S3 endpoint", url.url);
        let (head, body) = curl_get(&url.url, &[]).unwrap_or_else(|| panic!("presigned GET refused"));
        assert_eq!(body, data);
        assert!(
            head.contains("content-disposition: attachment; filename=\"model.bin\""),
            "{head}"
        );
        // The MLflow client reads large files in ranges.
        let (_, part) = curl_get(&url.url, &["Range: bytes=1000-1999"]).unwrap_or_else(|| panic!("ranged GET refused"));
        assert_eq!(part, data[1000..2000]);
        // A URL for another key is not valid.
        let tampered = url.url.replace("model.bin", "other.bin");
        assert!(
            curl_get(&tampered, &[]).is_none(),
            "a tampered presigned URL was accepted"
        );
        assert_eq!(
            store
                .presign_read(&ArtifactPath::root(), std::time::Duration::from_secs(1))
                .await
                .err()
                .map(|e| e.kind),
            Some(ErrorKind::IS_A_DIRECTORY)
        );
        ok(store.delete(&ArtifactPath::root()).await);
    });
}
