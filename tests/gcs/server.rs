//! `gcs-xml-server`: a small Google Cloud Storage XML-API server for the
//! GCS plugin's tests, because no emulator available here serves the XML
//! API object_store speaks (fake-gcs-server answers every XML write with
//! `400 invalid uploadType`) and none checks signatures.
//!
//! It keeps objects in memory and serves what the plugin and the MLflow
//! client use: object `PUT` (with `x-goog-if-generation-match` and
//! `x-goog-copy-source`), `GET` with ranges and `If-Match`, `HEAD`,
//! `DELETE`, `list-type=2` listings (prefix, delimiter, continuation,
//! `max-keys`, `start-after`), and XML multipart uploads (initiate, parts,
//! complete with ETag checks and GCS's 5 MiB minimum part, abort).
//!
//! **Every request is authenticated**, as a private bucket's are:
//! - `Authorization: Bearer <JWT>`: the self-signed RS256 token a
//!   service-account key makes (what object_store sends): signature by the
//!   account's key, issuer its e-mail, not expired;
//! - a V4 signed URL (`X-Goog-Algorithm=GOOG4-RSA-SHA256`): the canonical
//!   request is rebuilt from what arrived (method, path, query, the signed
//!   headers with the `Host` actually used), the RSA signature checked, and
//!   the URL refused once `X-Goog-Date + X-Goog-Expires` has passed.
//!
//! Anything else is `401`; a bad signature `403 SignatureDoesNotMatch`; an
//! expired URL `400 ExpiredToken`. This is written from Google's
//! documentation, independently of the plugin's signer, so a shared
//! misreading would not cancel out.
//!
//! Usage: `gcs-xml-server --port P --dir D --bucket B [--bucket B2 …]`.
//! It generates an RSA key, writes the service-account file `D/service-account.json`
//! (the credentials the tests use), then listens on 127.0.0.1:P and prints
//! `gcs-xml-server: listening on http://127.0.0.1:P`.

mod auth;
mod crc32c;
mod dates;
mod json;

use auth::{Refusal, hex};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dates::{http_date, now_secs, rfc3339};
use md5::{Digest as _, Md5};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The smallest part of a multipart upload but the last (GCS's rule).
const MIN_PART: usize = 5 << 20;
/// The service account the generated key belongs to.
const EMAIL: &str = "arca-test@arca-test.iam.gserviceaccount.com";

#[derive(Clone)]
struct Object {
    data: Bytes,
    generation: u64,
    /// The MD5 of the data, quoted hex.
    etag: String,
    /// The CRC32C of the data (google-cloud-storage checks it).
    crc32c: u32,
    updated: SystemTime,
    content_type: String,
}

impl Object {
    fn new(data: Bytes, generation: u64, content_type: &str) -> Self {
        let etag = etag_of(&data);
        Self::with_etag(data, generation, content_type, etag)
    }

    fn with_etag(data: Bytes, generation: u64, content_type: &str, etag: String) -> Self {
        Self {
            etag,
            crc32c: crc32c::checksum(&data),
            data,
            generation,
            updated: SystemTime::now(),
            content_type: content_type.to_owned(),
        }
    }
}

struct Upload {
    bucket: String,
    key: String,
    parts: BTreeMap<u32, (String, Bytes)>,
}

#[derive(Default)]
struct Data {
    buckets: HashMap<String, BTreeMap<String, Object>>,
    uploads: HashMap<String, Upload>,
    /// The JSON API's resumable uploads.
    sessions: HashMap<String, json::Session>,
    next: u64,
}

struct Server {
    data: Mutex<Data>,
    /// Access tokens the token endpoint handed out.
    tokens: Mutex<HashSet<String>>,
    /// The account key's public half (PKCS#1 `RSAPublicKey`).
    public_key: Vec<u8>,
}

type Shared = Arc<Server>;

fn main() {
    if let Err(e) = run() {
        eprintln!("gcs-xml-server: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut port, mut dir, mut buckets) = (None, None, Vec::new());
    while let Some(a) = args.next() {
        let value = args.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--port" => port = Some(value.parse::<u16>().map_err(|e| format!("--port: {e}"))?),
            "--dir" => dir = Some(std::path::PathBuf::from(value)),
            "--bucket" => buckets.push(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let (Some(port), Some(dir)) = (port, dir) else {
        return Err("usage: gcs-xml-server --port P --dir D --bucket B".to_owned());
    };
    let key = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("cannot make a key: {e}"))?;
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&key)
        .map_err(|e| format!("cannot encode the key: {e}"))?;
    let pem = pem("PRIVATE KEY", pkcs8.as_ref());
    let account = serde_json::json!({
        "type": "service_account",
        "project_id": "arca-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "1234567890",
        // google-auth trades a JWT for an access token here.
        "token_uri": format!("http://127.0.0.1:{port}/token"),
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join("service-account.json");
    std::fs::write(&file, account.to_string()).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let server = Arc::new(Server {
        data: Mutex::new(Data {
            buckets: buckets.into_iter().map(|b| (b, BTreeMap::new())).collect(),
            ..Data::default()
        }),
        tokens: Mutex::new(HashSet::new()),
        public_key: key.public_key().as_ref().to_vec(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        eprintln!("gcs-xml-server: listening on http://127.0.0.1:{port}");
        // Objects of any size (a benchmark sends 1 GiB).
        let app = axum::Router::new()
            .fallback(handle)
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(server);
        axum::serve(listener, app).await.map_err(|e| format!("server: {e}"))
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{}</Message></Error>",
        xml_escape(message)
    );
    respond(
        status,
        &[("content-type", "application/xml".to_owned())],
        Bytes::from(body),
    )
}

fn respond(status: StatusCode, headers: &[(&str, String)], body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// The decoded `key=value` pairs of a query string (or a form body).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

/// Percent-decodes a URL path segment or query component (`+` is a space
/// only in queries).
fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => match s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn object_headers(o: &Object) -> Vec<(&'static str, String)> {
    vec![
        ("etag", o.etag.clone()),
        ("last-modified", http_date(o.updated)),
        ("x-goog-generation", o.generation.to_string()),
        ("content-type", o.content_type.clone()),
        ("accept-ranges", "bytes".to_owned()),
    ]
}

/// The byte range a `Range` header asks of `size` bytes: `Ok(None)` for the
/// whole object, `Err` when it cannot be satisfied.
fn range(headers: &HeaderMap, size: usize) -> Result<Option<(usize, usize)>, ()> {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = spec.strip_prefix("bytes=") else {
        return Ok(None);
    };
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().map_err(|_| ())?;
            (size.saturating_sub(n), size)
        }
        (s, "") => (s.parse().map_err(|_| ())?, size),
        (s, e) => (
            s.parse().map_err(|_| ())?,
            e.parse::<usize>().map_err(|_| ())?.saturating_add(1).min(size),
        ),
    };
    if start >= size || start >= end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// `<Tag>…</Tag>` texts in `xml`.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let Some(j) = rest.find(&close) else { break };
        out.push(rest[..j].trim().replace("&quot;", "\""));
        rest = &rest[j + close.len()..];
    }
    out
}

fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", hex(&Md5::digest(data)))
}

async fn handle(State(server): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if uri.path() == "/token" && method == Method::POST {
        return json::token(&server, &body);
    }
    if let Err(Refusal(status, code, message)) = server.authenticate(&method, &uri, &headers) {
        return error(status, code, &message);
    }
    if json::serves(uri.path()) {
        let mut data = match server.data.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        return json::route(&mut data, &method, &uri, &headers, body);
    }
    let path = uri.path().trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (decode(b, false), decode(k, false)),
        None => (decode(path, false), String::new()),
    };
    let query: HashMap<String, String> = query_pairs(uri.query().unwrap_or("")).into_iter().collect();
    let mut data = match server.data.lock() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    };
    if !data.buckets.contains_key(&bucket) {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        );
    }
    if key.is_empty() {
        return match method {
            Method::GET => list(&data, &bucket, &query),
            _ => error(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "only listings on a bucket",
            ),
        };
    }
    match (method, query.get("uploadId"), query.contains_key("uploads")) {
        (Method::POST, None, true) => {
            data.next += 1;
            let id = format!("upload-{}-{}", data.next, now_secs());
            data.uploads.insert(
                id.clone(),
                Upload {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    parts: BTreeMap::new(),
                },
            );
            let body = format!(
                "<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                xml_escape(&bucket),
                xml_escape(&key)
            );
            respond(
                StatusCode::OK,
                &[("content-type", "application/xml".to_owned())],
                Bytes::from(body),
            )
        }
        (Method::PUT, Some(id), _) => {
            let Some(upload) = data.uploads.get_mut(id).filter(|u| u.bucket == bucket && u.key == key) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "NoSuchUpload",
                    "The requested upload was not found.",
                );
            };
            let Some(n) = query
                .get("partNumber")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=10_000).contains(n))
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "partNumber must be 1 to 10000",
                );
            };
            let etag = etag_of(&body);
            upload.parts.insert(n, (etag.clone(), body));
            respond(StatusCode::OK, &[("etag", etag)], Bytes::new())
        }
        (Method::POST, Some(id), _) => complete(&mut data, id, &bucket, &key, &body),
        (Method::DELETE, Some(id), _) => match data.uploads.remove(id) {
            Some(_) => respond(StatusCode::NO_CONTENT, &[], Bytes::new()),
            None => error(
                StatusCode::NOT_FOUND,
                "NoSuchUpload",
                "The requested upload was not found.",
            ),
        },
        (Method::PUT, None, _) => put(&mut data, &bucket, &key, &headers, body),
        (m @ (Method::GET | Method::HEAD), None, _) => {
            let Some(o) = data.buckets.get(&bucket).and_then(|b| b.get(&key)) else {
                return error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.");
            };
            if let Some(want) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
                && want != "*"
                && want.trim_matches('"') != o.etag.trim_matches('"')
            {
                return error(StatusCode::PRECONDITION_FAILED, "PreconditionFailed", "If-Match failed");
            }
            let mut hs = object_headers(o);
            let size = o.data.len();
            let (status, slice) = match range(&headers, size) {
                Ok(None) => (StatusCode::OK, o.data.clone()),
                Ok(Some((a, b))) => {
                    hs.push(("content-range", format!("bytes {a}-{}/{size}", b - 1)));
                    (StatusCode::PARTIAL_CONTENT, o.data.slice(a..b))
                }
                Err(()) => {
                    return error(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "InvalidRange",
                        "The requested range cannot be satisfied.",
                    );
                }
            };
            hs.push(("content-length", slice.len().to_string()));
            let body = if m == Method::HEAD { Bytes::new() } else { slice };
            let mut r = respond(status, &hs, body);
            if m == Method::HEAD {
                // The length of what a GET would send.
                if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
                    r.headers_mut().insert(header::CONTENT_LENGTH, v);
                }
            }
            r
        }
        (Method::DELETE, None, _) => match data.buckets.get_mut(&bucket).and_then(|b| b.remove(&key)) {
            Some(_) => respond(StatusCode::NO_CONTENT, &[], Bytes::new()),
            None => error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist."),
        },
        _ => error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "not served by this test server",
        ),
    }
}

fn put(data: &mut Data, bucket: &str, key: &str, headers: &HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let body = match header("x-goog-copy-source") {
        Some(source) => {
            let source = decode(source.trim_start_matches('/'), false);
            let found = source
                .split_once('/')
                .and_then(|(b, k)| data.buckets.get(b).and_then(|o| o.get(k)));
            match found {
                Some(o) => o.data.clone(),
                None => return error(StatusCode::NOT_FOUND, "NoSuchKey", "The copy source does not exist."),
            }
        }
        None => body,
    };
    data.next += 1;
    let generation = data.next;
    let Some(objects) = data.buckets.get_mut(bucket) else {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        );
    };
    if let Some(want) = header("x-goog-if-generation-match") {
        let have = objects.get(key).map_or(0, |o| o.generation);
        if want.parse::<u64>().ok() != Some(have) {
            return error(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "generation does not match",
            );
        }
    }
    let o = Object::new(
        body,
        generation,
        header("content-type").unwrap_or("application/octet-stream"),
    );
    let hs = vec![("etag", o.etag.clone()), ("x-goog-generation", generation.to_string())];
    objects.insert(key.to_owned(), o);
    respond(StatusCode::OK, &hs, Bytes::new())
}

fn complete(data: &mut Data, id: &str, bucket: &str, key: &str, body: &[u8]) -> Response {
    let Some(upload) = data.uploads.get(id).filter(|u| u.bucket == bucket && u.key == key) else {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The requested upload was not found.",
        );
    };
    let text = String::from_utf8_lossy(body);
    let numbers = elements(&text, "PartNumber");
    let etags = elements(&text, "ETag");
    if numbers.is_empty() || numbers.len() != etags.len() {
        return error(StatusCode::BAD_REQUEST, "MalformedXML", "the part list is malformed");
    }
    let mut assembled = Vec::new();
    let mut last = 0u32;
    for (i, (n, etag)) in numbers.iter().zip(&etags).enumerate() {
        let Ok(n) = n.parse::<u32>() else {
            return error(StatusCode::BAD_REQUEST, "MalformedXML", "bad PartNumber");
        };
        if n <= last {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidPartOrder",
                "parts must be in ascending order",
            );
        }
        last = n;
        let Some((have, bytes)) = upload.parts.get(&n) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidPart",
                &format!("part {n} was not uploaded"),
            );
        };
        if have.trim_matches('"') != etag.trim_matches('"') {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidPart",
                &format!("part {n} has another ETag"),
            );
        }
        if i + 1 < numbers.len() && bytes.len() < MIN_PART {
            return error(
                StatusCode::BAD_REQUEST,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            );
        }
        assembled.extend_from_slice(bytes);
    }
    data.uploads.remove(id);
    data.next += 1;
    let generation = data.next;
    // As on the service, the ETag of an object made of parts is not its
    // MD5: here the MD5 of the parts' MD5s and their count.
    let mut digests = Vec::with_capacity(etags.len() * 16);
    for etag in &etags {
        digests.extend(auth::unhex(etag.trim_matches('"')).unwrap_or_default());
    }
    let etag = format!("\"{}-{}\"", hex(&Md5::digest(&digests)), etags.len());
    let o = Object::with_etag(Bytes::from(assembled), generation, "application/octet-stream", etag);
    let body = format!(
        "<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult><Location>/{b}/{k}</Location><Bucket>{b}</Bucket><Key>{k}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        xml_escape(&o.etag),
        b = xml_escape(bucket),
        k = xml_escape(key)
    );
    if let Some(objects) = data.buckets.get_mut(bucket) {
        objects.insert(key.to_owned(), o);
    }
    respond(
        StatusCode::OK,
        &[
            ("content-type", "application/xml".to_owned()),
            ("x-goog-generation", generation.to_string()),
        ],
        Bytes::from(body),
    )
}

fn list(data: &Data, bucket: &str, query: &HashMap<String, String>) -> Response {
    if query.get("list-type").map(String::as_str) != Some("2") {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "only list-type=2 listings",
        );
    }
    let empty = String::new();
    let prefix = query.get("prefix").unwrap_or(&empty);
    let delimiter = query.get("delimiter").filter(|d| !d.is_empty());
    let max = query
        .get("max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let after = query
        .get("continuation-token")
        .or(query.get("start-after"))
        .cloned()
        .unwrap_or_default();
    let Some(objects) = data.buckets.get(bucket) else {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        );
    };
    // Entries in key order: objects, and common prefixes (each once).
    let mut entries: Vec<(String, Option<&Object>)> = Vec::new();
    for (k, o) in objects.range(prefix.clone()..) {
        if !k.starts_with(prefix.as_str()) {
            break;
        }
        let rest = &k[prefix.len()..];
        match delimiter.and_then(|d| rest.find(d.as_str()).map(|i| i + d.len())) {
            Some(end) => {
                let common = format!("{prefix}{}", &rest[..end]);
                if entries.last().is_none_or(|(last, _)| *last != common) {
                    entries.push((common, None));
                }
            }
            None => entries.push((k.clone(), Some(o))),
        }
    }
    let mut xml = String::from("<?xml version='1.0' encoding='UTF-8'?><ListBucketResult>");
    xml.push_str(&format!(
        "<Name>{}</Name><Prefix>{}</Prefix>",
        xml_escape(bucket),
        xml_escape(prefix)
    ));
    let page: Vec<&(String, Option<&Object>)> = entries.iter().filter(|(k, _)| *k > after).take(max + 1).collect();
    let truncated = page.len() > max;
    for (k, o) in page.iter().take(max) {
        match o {
            Some(o) => xml.push_str(&format!(
                "<Contents><Key>{}</Key><Generation>{}</Generation><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></Contents>",
                xml_escape(k),
                o.generation,
                rfc3339(o.updated),
                xml_escape(&o.etag),
                o.data.len()
            )),
            None => xml.push_str(&format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", xml_escape(k))),
        }
    }
    xml.push_str(&format!(
        "<KeyCount>{}</KeyCount><MaxKeys>{max}</MaxKeys>",
        page.len().min(max)
    ));
    if truncated && let Some((last, _)) = page.get(max - 1) {
        xml.push_str(&format!(
            "<IsTruncated>true</IsTruncated><NextContinuationToken>{}</NextContinuationToken>",
            xml_escape(last)
        ));
    } else {
        xml.push_str("<IsTruncated>false</IsTruncated>");
    }
    xml.push_str("</ListBucketResult>");
    respond(
        StatusCode::OK,
        &[("content-type", "application/xml".to_owned())],
        Bytes::from(xml),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::strict_encode;

    #[test]
    fn ranges() {
        let mut h = HeaderMap::new();
        assert_eq!(range(&h, 10), Ok(None));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=2-4"));
        assert_eq!(range(&h, 10), Ok(Some((2, 5))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=-3"));
        assert_eq!(range(&h, 10), Ok(Some((7, 10))));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=10-"));
        assert_eq!(range(&h, 10), Err(()));
        assert_eq!(decode("a%20b+c", true), "a b c");
        assert_eq!(strict_encode("a b/c~"), "a%20b%2Fc~");
    }
}
