//! Tests against a fake S3 server on 127.0.0.1 that records each request
//! and answers from a script: what the plugin sends (headers, signatures)
//! and how it behaves when the server stalls, which a real server cannot
//! be made to show.

use crate::{S3Config, S3Store};
use arca_core::{ArtifactPath, Config, ErrorKind, FfiBuf, Reader, Store, Writer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request as received: the request line and the headers (names in
/// lower case).
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) line: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The names in the `SignedHeaders=` of the `Authorization` header.
    pub(crate) fn signed(&self) -> Vec<String> {
        self.header("authorization")
            .and_then(|a| a.split("SignedHeaders=").nth(1))
            .and_then(|s| s.split(',').next())
            .map(|s| s.split(';').map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// How the fake answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Script {
    /// Plausible successful answers.
    Answer,
    /// Reads the request and never answers.
    Silent,
    /// Answers a GET with headers and half the body, then goes silent.
    StallBody,
    /// Answers a GET with its body one byte every 300 ms.
    Trickle,
}

pub(crate) struct Fake {
    pub(crate) endpoint: String,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

const BODY: &[u8] = b"0123456789";

impl Fake {
    pub(crate) fn start(script: Script) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let seen = seen2.clone();
                conns.push(std::thread::spawn(move || serve(stream, &seen, script)));
            }
            drop(conns);
        });
        Fake {
            endpoint: format!("http://127.0.0.1:{port}"),
            seen,
            stop,
            port,
            thread: Some(thread),
        }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one connection (several requests with keep-alive) until the
/// client closes it or goes quiet for 10 s.
/// The status line and headers of an answer about the object [`BODY`].
fn object_head(status: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nETag: \"e\"\r\nLast-Modified: Tue, 01 Dec 2026 00:00:00 GMT\r\n\
         Content-Length: {}\r\n\r\n",
        BODY.len()
    )
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>, script: Script) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_or(true, |n| n == 0) {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).map_or(true, |n| n == 0) {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        // Like S3, a ranged GET of the whole (short) object is a 206 with
        // its Content-Range (the reader's first GET is ranged).
        let ranged = headers.iter().any(|(k, _)| k == "range");
        let method = line.split(' ').next().unwrap_or("").to_owned();
        let target = line.split(' ').nth(1).unwrap_or("").to_owned();
        if let Ok(mut s) = seen.lock() {
            s.push(Seen {
                line: line.trim_end().to_owned(),
                headers,
            });
        }
        let reply: Vec<u8> = match (script, method.as_str()) {
            (Script::Silent, _) => {
                // Holds the connection open without a word until the client gives up.
                let mut sink = [0u8; 1];
                let _ = reader.read(&mut sink);
                return;
            }
            (_, "PUT") => b"HTTP/1.1 200 OK\r\nETag: \"e\"\r\nContent-Length: 0\r\n\r\n".to_vec(),
            (_, "HEAD") => object_head("200 OK").into_bytes(),
            (_, "GET") if target.contains("list-type=2") => {
                let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>\
                           <IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>";
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{xml}",
                    xml.len()
                )
                .into_bytes()
            }
            (Script::StallBody, "GET") => {
                let head = object_head("200 OK");
                let _ = out.write_all(head.as_bytes());
                let _ = out.write_all(&BODY[..BODY.len() / 2]);
                let _ = out.flush();
                let mut sink = [0u8; 1];
                let _ = reader.read(&mut sink);
                return;
            }
            (Script::Trickle, "GET") => {
                let head = object_head("200 OK");
                let _ = out.write_all(head.as_bytes());
                for b in BODY {
                    // The pace is what is tested, not a wait for anything.
                    std::thread::sleep(Duration::from_millis(300));
                    if out.write_all(&[*b]).and_then(|()| out.flush()).is_err() {
                        return;
                    }
                }
                continue;
            }
            (_, "GET") => {
                let status = if ranged {
                    format!(
                        "206 Partial Content\r\nContent-Range: bytes 0-{}/{}",
                        BODY.len() - 1,
                        BODY.len()
                    )
                } else {
                    "200 OK".to_owned()
                };
                let mut r = object_head(&status).into_bytes();
                r.extend_from_slice(BODY);
                r
            }
            _ => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        };
        if out.write_all(&reply).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

fn p(s: &str) -> ArtifactPath {
    ArtifactPath::parse(s).unwrap_or_else(|e| panic!("bad path {s}: {e}"))
}

fn store(fake: &Fake, pairs: &[(&str, &str)]) -> S3Store {
    let mut all: Vec<(&str, &str)> = vec![
        ("endpoint_url", fake.endpoint.as_str()),
        ("access_key_id", "AKIDFAKE"),
        ("secret_access_key", "secret-fake"),
        ("region", "us-east-1"),
    ];
    all.extend_from_slice(pairs);
    let config = S3Config::parse("s3://bkt/pre", Config::from_pairs(all)).unwrap_or_else(|e| panic!("{e:?}"));
    S3Store::open(config).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Runs `f` on the plugin's own runtime, as the host does.
fn run<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    let rt = arca_core::runtime::tokio_runtime::<crate::S3Plugin>().unwrap_or_else(|e| panic!("{e:?}"));
    rt.block_on(f)
}

#[test]
fn expected_owner_and_acl_are_sent_signed_where_they_belong() {
    let fake = Fake::start(Script::Answer);
    let s = store(
        &fake,
        &[
            ("expected_bucket_owner", "111122223333"),
            ("upload_extra_args", r#"{"ACL":"bucket-owner-full-control"}"#),
        ],
    );
    let results = run(async move {
        let mut w = s.write(&p("a.txt")).await?;
        w.write(FfiBuf::from_vec(b"hello".to_vec())).await?;
        w.finish().await?;
        s.stat(&p("a.txt")).await?;
        let mut r = s.read(&p("a.txt"), None).await?;
        while r.next_chunk().await?.is_some() {}
        s.list(&ArtifactPath::root(), None, 10).await?;
        Ok::<(), arca_core::Error>(())
    });
    results.unwrap_or_else(|e| panic!("{e:?}"));
    let seen = fake.seen();
    let methods: Vec<&str> = seen.iter().map(|s| s.line.split(' ').next().unwrap_or("")).collect();
    assert_eq!(methods, ["PUT", "HEAD", "GET", "GET"], "{seen:#?}");
    for s in &seen {
        assert_eq!(
            s.header("x-amz-expected-bucket-owner"),
            Some("111122223333"),
            "{}",
            s.line
        );
        assert!(
            s.signed().iter().any(|h| h == "x-amz-expected-bucket-owner"),
            "unsigned: {s:?}"
        );
        let is_put = s.line.starts_with("PUT");
        assert_eq!(s.header("x-amz-acl").is_some(), is_put, "{}", s.line);
        if is_put {
            assert_eq!(s.header("x-amz-acl"), Some("bucket-owner-full-control"));
            assert!(s.signed().iter().any(|h| h == "x-amz-acl"), "unsigned: {s:?}");
        }
        assert!(!format!("{s:?}").contains("secret-fake"));
    }
}

#[test]
fn sse_c_headers_go_on_writes_reads_and_heads() {
    let fake = Fake::start(Script::Answer);
    let key = "0123456789abcdef0123456789ABCDEF";
    let extra = format!(r#"{{"SSECustomerAlgorithm":"AES256","SSECustomerKey":"{key}"}}"#);
    let s = store(&fake, &[("upload_extra_args", extra.as_str())]);
    run(async move {
        let mut w = s.write(&p("a.txt")).await?;
        w.write(FfiBuf::from_vec(b"hello".to_vec())).await?;
        w.finish().await?;
        s.stat(&p("a.txt")).await?;
        let mut r = s.read(&p("a.txt"), None).await?;
        while r.next_chunk().await?.is_some() {}
        Ok::<(), arca_core::Error>(())
    })
    .unwrap_or_else(|e| panic!("{e:?}"));
    let seen = fake.seen();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let b64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY=";
    for s in &seen {
        assert_eq!(
            s.header("x-amz-server-side-encryption-customer-algorithm"),
            Some("AES256"),
            "{}",
            s.line
        );
        assert_eq!(s.header("x-amz-server-side-encryption-customer-key"), Some(b64));
        assert!(s.header("x-amz-server-side-encryption-customer-key-md5").is_some());
    }
}

#[test]
fn a_silent_server_times_out_and_a_stalled_body_fails() {
    let fake = Fake::start(Script::Silent);
    let s = store(&fake, &[("timeout", "1")]);
    let started = Instant::now();
    let e = run(async move { s.stat(&p("a.txt")).await.err() });
    let e = e.unwrap_or_else(|| panic!("a silent server answered"));
    assert_eq!((e.kind, e.temporary), (ErrorKind::TIMEOUT, true), "{e:?}");
    assert!(e.message.contains("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );

    let fake = Fake::start(Script::StallBody);
    let s = store(&fake, &[("timeout", "1")]);
    let started = Instant::now();
    let e = run(async move {
        let mut r = s.read(&p("a.txt"), None).await?;
        while r.next_chunk().await?.is_some() {}
        Ok::<(), arca_core::Error>(())
    })
    .err();
    let e = e.unwrap_or_else(|| panic!("a stalled body was read to its end"));
    assert_eq!(e.kind, ErrorKind::TIMEOUT, "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_slow_but_moving_download_outlasts_the_timeout() {
    let fake = Fake::start(Script::Trickle);
    let s = store(&fake, &[("timeout", "1")]);
    let started = Instant::now();
    let got = run(async move {
        let mut r = s.read(&p("a.txt"), None).await?;
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk().await? {
            out.extend_from_slice(c.as_bytes());
        }
        Ok::<_, arca_core::Error>(out)
    })
    .unwrap_or_else(|e| panic!("a moving download was cut: {e:?}"));
    assert_eq!(got, BODY);
    assert!(started.elapsed() > Duration::from_secs(2), "the body was not trickled");
}

#[test]
fn debug_output_never_shows_a_secret() {
    let fake = Fake::start(Script::Answer);
    let key = "0123456789abcdef0123456789ABCDEF";
    let extra = format!(r#"{{"SSECustomerAlgorithm":"AES256","SSECustomerKey":"{key}"}}"#);
    // The transport layer (and its signer) is in use with an owner or an ACL.
    let s = store(
        &fake,
        &[
            ("upload_extra_args", extra.as_str()),
            ("expected_bucket_owner", "111122223333"),
            ("session_token", "token-fake"),
        ],
    );
    let shown = format!("{s:?}");
    // It does describe the store (a check on an empty string could not fail).
    assert!(shown.contains("bkt") && shown.contains("111122223333"), "{shown}");
    let b64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY=";
    for secret in ["secret-fake", "token-fake", key, b64] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}
