//! More tests against the real S3 server (see `tests.rs` for how it is
//! found): canned ACLs, SSE-C, the expected bucket owner and directory
//! markers, each checked by what the server does, through requests made
//! with curl rather than through the plugin.

use crate::S3Store;
use crate::tests::{block_on, content, curl_put_with, ok, open, p, read_all, server_uri};
use arca_core::{ArtifactPath, CompletedPart, ErrorKind, FfiBuf, Store, Writer};
use std::process::Command;

/// The server's endpoint, bucket and key prefix of `uri`, and the test
/// user's keys.
struct Target {
    endpoint: String,
    bucket: String,
    prefix: String,
    user: String,
}

fn target(uri: &str) -> Target {
    let endpoint = std::env::var("MLFLOW_S3_ENDPOINT_URL").unwrap_or_default();
    let rest = uri.trim_start_matches("s3://");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default();
    Target {
        endpoint,
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        user: format!("{key}:{secret}"),
    }
}

impl Target {
    fn url(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.endpoint, self.bucket)
    }

    /// A SigV4-signed curl request (curl signs; see the curl notes on
    /// query parameters, which must be given sorted). Returns the status
    /// and the body.
    fn signed(&self, method: &str, url: &str) -> (u16, String) {
        let region = std::env::var("AWS_DEFAULT_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "30", "-w", "\n%{http_code}"])
            .args(["--aws-sigv4", &format!("aws:amz:{region}:s3"), "--user", &self.user])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", method])
            .args(if method == "PUT" {
                &["--data-binary", ""][..]
            } else {
                &[][..]
            })
            .arg(url)
            .output();
        let text = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            other => panic!("curl {method} {url} failed: {other:?}"),
        };
        let (body, status) = text.rsplit_once('\n').unwrap_or((&text, ""));
        (status.trim().parse().unwrap_or(0), body.to_owned())
    }

    /// An anonymous GET: its status.
    fn anonymous_get(&self, key: &str) -> u16 {
        let out = Command::new("curl")
            .args(["--silent", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(self.url(key))
            .output();
        out.ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(0)
    }

    /// Every key under `prefix` (a full key prefix), as the server lists it.
    fn keys(&self, prefix: &str) -> Vec<String> {
        let enc: String = prefix
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = self.signed(
            "GET",
            &format!("{}/{}?list-type=2&prefix={enc}", self.endpoint, self.bucket),
        );
        assert_eq!(status, 200, "{body}");
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }
}

async fn write(store: &S3Store, path: &str, data: &[u8]) {
    let mut w = ok(store.write(&p(path)).await);
    for piece in data.chunks(1 << 20) {
        ok(w.write(FfiBuf::from_vec(piece.to_vec())).await);
    }
    ok(w.finish().await);
}

#[test]
fn a_canned_acl_is_set_on_every_kind_of_write() {
    let Some(uri) = server_uri("acl") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let t = target(&uri);
    let public = ok(open(
        &uri,
        &[
            ("upload_extra_args", r#"{"ACL":"public-read"}"#),
            ("multipart_chunk_size", "5242880"),
        ],
    ));
    let private = ok(open(&uri, &[]));
    let big = content(11 << 20);
    block_on(async {
        write(&public, "small.txt", b"for everyone").await;
        write(&public, "big.bin", &big).await;
        write(&private, "private.txt", b"for the owner").await;
        let up = ok(public.multipart_create(&p("presigned.bin"), 1).await);
        let etag = curl_put_with(&up.parts[0].url, b"parted", &up.parts[0].headers);
        let done = [CompletedPart {
            part_number: 1,
            etag,
            url: up.parts[0].url.clone(),
        }];
        ok(public
            .multipart_complete(&p("presigned.bin"), &up.upload_id, &done)
            .await);
    });
    for name in ["small.txt", "big.bin", "presigned.bin"] {
        let key = format!("{}/{name}", t.prefix);
        assert_eq!(t.anonymous_get(&key), 200, "{name} is not public-read");
        let (status, acl) = t.signed("GET", &format!("{}?acl=", t.url(&key)));
        assert_eq!(status, 200, "{acl}");
        assert!(
            acl.contains("groups/global/AllUsers") && acl.contains("READ"),
            "{name}: {acl}"
        );
    }
    assert_eq!(t.anonymous_get(&format!("{}/private.txt", t.prefix)), 403);
    block_on(async { ok(private.delete(&ArtifactPath::root()).await) });
}

#[test]
fn sse_c_encrypts_with_the_customer_key_everywhere() {
    let Some(uri) = server_uri("ssec") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let extra = r#"{"SSECustomerAlgorithm":"AES256","SSECustomerKey":"0123456789abcdef0123456789ABCDEF"}"#;
    let store = ok(open(
        &uri,
        &[("upload_extra_args", extra), ("multipart_chunk_size", "5242880")],
    ));
    let keyless = ok(open(&uri, &[]));
    let big = content(11 << 20);
    block_on(async {
        write(&store, "small.txt", b"sealed").await;
        write(&store, "big.bin", &big).await;
        assert_eq!(ok(read_all(&store, "small.txt", None).await), b"sealed");
        assert!(
            ok(read_all(&store, "big.bin", None).await) == big,
            "multipart SSE-C content differs"
        );
        let range = Some(arca_core::ByteRange {
            start: 5 << 20,
            end: Some((5 << 20) + 4),
        });
        assert_eq!(
            ok(read_all(&store, "big.bin", range).await),
            big[5 << 20..(5 << 20) + 4]
        );
        assert_eq!(ok(store.stat(&p("big.bin")).await).size, big.len() as u64);
        // Without the key the server refuses to hand the data out.
        for name in ["small.txt", "big.bin"] {
            let e = read_all(&keyless, name, None).await;
            assert!(e.is_err(), "{name} was readable without the customer key");
        }
        // Presigned parts: the headers the client must send are handed out,
        // signed, and needed.
        let up = ok(store.multipart_create(&p("presigned.bin"), 1).await);
        let headers = &up.parts[0].headers;
        for h in [
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
        ] {
            assert!(
                headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(h)),
                "{h} missing from {:?}",
                headers.iter().map(|(k, _)| k).collect::<Vec<_>>()
            );
        }
        let refused = Command::new("curl")
            .args(["--silent", "--fail", "--max-time", "30", "-o", "/dev/null", "-X", "PUT"])
            .args(["--data-binary", "x"])
            .arg(&up.parts[0].url)
            .status();
        assert!(
            refused.is_ok_and(|s| !s.success()),
            "a part was accepted without the SSE-C headers"
        );
        let etag = curl_put_with(&up.parts[0].url, b"sealed part", headers);
        let done = [CompletedPart {
            part_number: 1,
            etag,
            url: up.parts[0].url.clone(),
        }];
        ok(store
            .multipart_complete(&p("presigned.bin"), &up.upload_id, &done)
            .await);
        assert_eq!(ok(read_all(&store, "presigned.bin", None).await), b"sealed part");
        assert!(read_all(&keyless, "presigned.bin", None).await.is_err());
        ok(store.delete(&ArtifactPath::root()).await);
    });
}

#[test]
fn an_expected_bucket_owner_rides_along_on_every_operation() {
    let Some(uri) = server_uri("owner") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    // radosgw (16.2) accepts the header and does not check it, so this
    // proves that every request still passes the server's signature check
    // with the header added (see `tests_fake.rs` for that it is sent, and
    // signed). The test user is `test`.
    let store = ok(open(
        &uri,
        &[("expected_bucket_owner", "test"), ("multipart_chunk_size", "5242880")],
    ));
    let big = content(11 << 20);
    block_on(async {
        write(&store, "d/small.txt", b"owned").await;
        write(&store, "d/big.bin", &big).await;
        assert_eq!(ok(read_all(&store, "d/small.txt", None).await), b"owned");
        assert!(ok(store.stat(&p("d")).await).is_dir);
        let names: Vec<String> = ok(store.list(&p("d"), None, 10).await)
            .entries
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(names, ["big.bin", "small.txt"]);
        let up = ok(store.multipart_create(&p("d/presigned.bin"), 1).await);
        assert!(
            up.parts[0]
                .headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-expected-bucket-owner") && v == "test"),
            "{:?}",
            up.parts[0].headers
        );
        let etag = curl_put_with(&up.parts[0].url, b"part", &up.parts[0].headers);
        let done = [CompletedPart {
            part_number: 1,
            etag,
            url: up.parts[0].url.clone(),
        }];
        ok(store
            .multipart_complete(&p("d/presigned.bin"), &up.upload_id, &done)
            .await);
        ok(store.delete(&ArtifactPath::root()).await);
        assert_eq!(
            store.stat(&p("d")).await.err().map(|e| e.kind),
            Some(ErrorKind::NOT_FOUND)
        );
    });
}

#[test]
fn directory_markers_are_directories_and_leave_with_them() {
    let Some(uri) = server_uri("markers") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let t = target(&uri);
    let store = ok(open(&uri, &[]));
    block_on(async {
        write(&store, "run1/a.txt", b"a").await;
        write(&store, "run1/sub/b.txt", b"b").await;
        write(&store, "run10/c.txt", b"c").await;
    });
    // Zero-byte `dir/` keys, as the S3 console's "create folder" makes.
    for dir in ["", "run1/", "run1/sub/", "run1/empty/", "run10/"] {
        let (status, body) = t.signed("PUT", &t.url(&format!("{}/{dir}", t.prefix)));
        assert_eq!(status, 200, "marker {dir}: {body}");
    }
    block_on(async {
        let list = |path: &'static str| {
            let store = store.clone();
            async move {
                let path = if path.is_empty() { ArtifactPath::root() } else { p(path) };
                let page = ok(store.list(&path, None, 100).await);
                page.entries.into_iter().map(|e| (e.path, e.is_dir)).collect::<Vec<_>>()
            }
        };
        let s = |v: &[(&str, bool)]| v.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect::<Vec<_>>();
        assert_eq!(list("").await, s(&[("run1", true), ("run10", true)]));
        assert_eq!(
            list("run1").await,
            s(&[("a.txt", false), ("empty", true), ("sub", true)])
        );
        assert_eq!(list("run1/empty").await, s(&[]));
        for dir in ["run1", "run1/empty", "run1/sub"] {
            assert!(ok(store.stat(&p(dir)).await).is_dir, "{dir}");
        }
        ok(store.delete(&p("run1")).await);
    });
    let left = t.keys(&format!("{}/", t.prefix));
    let root = format!("{}/", t.prefix);
    assert_eq!(
        left,
        [root.clone(), format!("{root}run10/"), format!("{root}run10/c.txt")],
        "deleting run1 left or took the wrong keys"
    );
    block_on(async { ok(store.delete(&ArtifactPath::root()).await) });
    assert_eq!(t.keys(&root), Vec::<String>::new(), "the root's marker survived");
}

#[test]
fn sse_kms_encryption_is_shown_by_a_head() {
    let Some(uri) = server_uri("sse-head") else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let t = target(&uri);
    // `testkey-1` is the key the xtask radosgw's `testing` KMS backend knows.
    let extra = r#"{"ServerSideEncryption":"aws:kms","SSEKMSKeyId":"testkey-1"}"#;
    let kms = ok(open(&uri, &[("upload_extra_args", extra)]));
    let plain = ok(open(&uri, &[]));
    let region = std::env::var("AWS_DEFAULT_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    // A signed HEAD straight to the server: its response headers, lowercased.
    let head = |key: &str| {
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "--max-time", "30", "-I"])
            .args(["--aws-sigv4", &format!("aws:amz:{region}:s3"), "--user", &t.user])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(t.url(&format!("{}/{key}", t.prefix)))
            .output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_ascii_lowercase(),
            other => panic!("signed HEAD of {key} failed: {other:?}"),
        }
    };
    let big = content(12 << 20);
    block_on(async {
        // One small PUT and one multipart upload (12 MiB > the 8 MiB part).
        for (name, data) in [("small.txt", b"encrypted at rest".to_vec()), ("big.bin", big.clone())] {
            let mut w = ok(kms.write(&p(name)).await);
            ok(w.write(FfiBuf::from_vec(data.clone())).await);
            ok(w.finish().await);
            assert_eq!(ok(read_all(&kms, name, None).await), data, "{name}");
            let h = head(name);
            assert!(h.contains("x-amz-server-side-encryption: aws:kms"), "{name}: {h}");
            assert!(
                h.contains("x-amz-server-side-encryption-aws-kms-key-id: testkey-1"),
                "{name}: {h}"
            );
        }
        // Without the setting nothing is encrypted: the check can fail.
        let mut w = ok(plain.write(&p("plain.txt")).await);
        ok(w.write(FfiBuf::from_vec(b"plain".to_vec())).await);
        ok(w.finish().await);
        let h = head("plain.txt");
        assert!(!h.contains("x-amz-server-side-encryption"), "{h}");
        ok(plain.delete(&ArtifactPath::root()).await);
    });
}
