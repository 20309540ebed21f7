//! Tests of the signer, and against the project's GCS XML-API test server
//! (`gcs-xml-server`, which checks bearer tokens and V4 signatures) that
//! `cargo xtask test` starts, named by `STORAGE_EMULATOR_HOST`,
//! `GOOGLE_APPLICATION_CREDENTIALS` (its service account) and
//! `ARCA_GCS_TEST_BUCKET`. Without it the server tests return early on a
//! developer's machine, but fail under CI (`CI` set). The conformance suite
//! is where the plugin is proven; these add what it cannot express.

use crate::{GcsConfig, GcsStore, Signer};
use arca_core::{ArtifactPath, Config, ErrorKind, FfiBuf, Result, Store, Writer};
use arca_objstore::testing::http;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine as _;
use object_store::signer::{Method, SignedUrlOptions, Signer as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn p(s: &str) -> ArtifactPath {
    ArtifactPath::parse(s).unwrap_or_else(|e| panic!("bad path {s}: {e}"))
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start a runtime: {e}"),
    }
}

/// A service-account file with a fresh key, for `email`, in `dir`.
fn key_file(dir: &Path, email: &str) -> PathBuf {
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let der = AsDer::<Pkcs8V1Der<'_>>::as_der(&key).unwrap_or_else(|e| panic!("{e}"));
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
    let json = serde_json::json!({
        "type": "service_account", "project_id": "arca-test", "private_key_id": "abc",
        "private_key": pem, "client_email": email, "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let path = dir.join(format!("sa-{}.json", std::process::id()));
    std::fs::write(&path, json.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Seconds since the epoch of `YYYYMMDDTHHMMSSZ`.
fn parse_date(s: &str) -> SystemTime {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap_or_else(|e| panic!("{s}: {e}"));
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    // Days from civil (Howard Hinnant), independent of the signer's.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15);
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or_default())
}

#[test]
fn the_signer_makes_object_stores_url_on_the_public_endpoint() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = key_file(dir.path(), "signer@arca-test.iam.gserviceaccount.com");
    let client = object_store::gcp::GoogleCloudStorageBuilder::new()
        .with_bucket_name("arca-bucket")
        .with_service_account_path(file.display().to_string())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let signer = Signer::from_file(&file).unwrap_or_else(|e| panic!("{e:?}"));
    let path = object_store::path::Path::from("exp 1/run/model.bin");
    let opts = SignedUrlOptions::default().with_query([("partNumber", "7"), ("uploadId", "u/1+2")]);
    let theirs = block_on(client.signed_url_opts(Method::PUT, &path, Duration::from_secs(3600), &opts))
        .unwrap_or_else(|e| panic!("{e}"));
    let date = theirs
        .query_pairs()
        .find(|(k, _)| k == "X-Goog-Date")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no date in {theirs}"));
    let mut base = theirs.clone();
    base.set_query(None);
    let ours = signer
        .sign(
            "PUT",
            base.as_str(),
            &[("partNumber", "7"), ("uploadId", "u/1+2")],
            Duration::from_secs(3600),
            parse_date(&date),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(ours, theirs.as_str());
}

struct Server {
    endpoint: String,
    bucket: String,
    credentials: String,
}

fn server() -> Option<Server> {
    let found = match (
        std::env::var("STORAGE_EMULATOR_HOST"),
        std::env::var("ARCA_GCS_TEST_BUCKET"),
        std::env::var("GOOGLE_APPLICATION_CREDENTIALS"),
    ) {
        (Ok(endpoint), Ok(bucket), Ok(credentials)) => Some(Server {
            endpoint,
            bucket,
            credentials,
        }),
        _ => None,
    };
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!("no GCS test server under CI: `cargo xtask test` must start gcs-xml-server");
    }
    if found.is_none() {
        eprintln!("no GCS test server (run `cargo xtask test`); skipped");
    }
    found
}

impl Server {
    /// A store under a fresh prefix, with `credentials` (a key file or none).
    fn open(&self, name: &str, credentials: Option<&str>) -> Result<GcsStore> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let uri = format!("gs://{}/unit-{name}-{nanos}", self.bucket);
        let env = |_: &str| None;
        let mut pairs = vec![("endpoint", self.endpoint.as_str())];
        if let Some(c) = credentials {
            pairs.push(("credentials_file", c));
        }
        GcsStore::open(GcsConfig::parse_with_env(&uri, Config::from_pairs(pairs), &env)?)
    }
}

async fn put(store: &GcsStore, path: &str, data: &[u8]) -> Result<()> {
    let mut w = store.write(&p(path)).await?;
    w.write(FfiBuf::from_vec(data.to_vec())).await?;
    w.finish().await
}

#[test]
fn signed_part_urls_are_refused_when_tampered_or_expired() {
    let Some(s) = server() else { return };
    let store = s
        .open("signed", Some(&s.credentials))
        .unwrap_or_else(|e| panic!("{e:?}"));
    block_on(async {
        let up = store
            .multipart_create(&p("big.bin"), 2)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let url = &up.parts[0].url;
        // Another part number than the one signed.
        let moved = url.replace("partNumber=1&", "partNumber=2&");
        assert_ne!(&moved, url);
        let (status, answer) = http("PUT", &moved, b"part");
        assert!(status == 403 && answer.contains("SignatureDoesNotMatch"), "{answer}");
        // A signature with one digit changed.
        let (status, answer) = http("PUT", &tampered(url), b"part");
        assert!(status == 403 && answer.contains("SignatureDoesNotMatch"), "{answer}");
        // The URL as handed out works.
        let (status, answer) = http("PUT", url, b"part");
        assert_eq!(status, 200, "{answer}");
        store
            .multipart_abort(&p("big.bin"), &up.upload_id)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));

        // A URL whose validity ended a minute ago.
        put(&store, "f.txt", b"hello").await.unwrap_or_else(|e| panic!("{e:?}"));
        let fresh = store
            .presign_read(&p("f.txt"), Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .url;
        let (status, answer) = http("GET", &fresh, b"");
        assert!(status == 200 && answer.ends_with("hello"), "{answer}");
        let signer = Signer::from_file(Path::new(&s.credentials)).unwrap_or_else(|e| panic!("{e:?}"));
        let base = fresh.split('?').next().unwrap_or_default();
        let old = SystemTime::now() - Duration::from_secs(120);
        let expired = signer
            .sign("GET", base, &[], Duration::from_secs(60), old)
            .unwrap_or_else(|e| panic!("{e:?}"));
        let (status, answer) = http("GET", &expired, b"");
        assert!(status == 400 && answer.contains("ExpiredToken"), "{answer}");
        store.delete(&p("")).await.unwrap_or_else(|e| panic!("{e:?}"));
    });
}

/// `url` with the last hex digit of its signature changed.
fn tampered(url: &str) -> String {
    let mut s = url.to_owned();
    let c = s.pop().unwrap_or('0');
    s.push(if c == '0' { '1' } else { '0' });
    s
}

#[test]
fn a_key_the_server_does_not_know_is_one_clear_authentication_error() {
    let Some(s) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wrong = key_file(dir.path(), "arca-test@arca-test.iam.gserviceaccount.com");
    let store = s
        .open("wrongkey", Some(&wrong.display().to_string()))
        .unwrap_or_else(|e| panic!("{e:?}"));
    block_on(async {
        let e = put(&store, "f.txt", b"x")
            .await
            .err()
            .unwrap_or_else(|| panic!("a wrong key wrote"));
        assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED, "{e:?}");
        assert!(
            e.message.contains("GOOGLE_APPLICATION_CREDENTIALS") && e.message.contains("HTTP 401"),
            "{}",
            e.message
        );
        let listed = store.list(&p(""), None, 10).await.err().map(|e| e.kind);
        assert_eq!(listed, Some(ErrorKind::UNAUTHENTICATED));
    });
}

#[test]
fn without_credentials_requests_are_anonymous_and_nothing_is_signed() {
    let Some(s) = server() else { return };
    // The endpoint alone (STORAGE_EMULATOR_HOST's case): anonymous, as
    // google-cloud-storage is; this server's bucket is private.
    let store = s.open("anonymous", None).unwrap_or_else(|e| panic!("{e:?}"));
    block_on(async {
        let e = put(&store, "f.txt", b"x").await.err().map(|e| e.kind);
        assert_eq!(e, Some(ErrorKind::UNAUTHENTICATED));
        let e = store.multipart_create(&p("f.bin"), 2).await.err().map(|e| e.kind);
        assert_eq!(e, Some(ErrorKind::UNSUPPORTED));
        let e = store
            .presign_read(&p("f.bin"), Duration::from_secs(5))
            .await
            .err()
            .map(|e| e.kind);
        assert_eq!(e, Some(ErrorKind::UNSUPPORTED));
    });
}
