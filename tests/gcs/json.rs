//! The slice of GCS's JSON API that google-cloud-storage (MLflow's
//! `GCSArtifactRepository`) uses, over the same objects as the XML API, so
//! MLflow's own client and Arca can be measured against one server:
//!
//! - `POST /token`: the OAuth token endpoint a service-account file names
//!   (`token_uri`); the JWT assertion is checked like a bearer JWT, and the
//!   access token handed out is accepted on later requests;
//! - uploads: `POST /upload/storage/v1/b/B/o?uploadType=multipart` and
//!   `uploadType=resumable` (initiate, then `PUT`s with `Content-Range`);
//! - `GET /download/storage/v1/b/B/o/NAME?alt=media` (ranged), object
//!   metadata, listings with `prefix`/`delimiter`/`pageToken`, deletes.

use crate::auth::hex;
use crate::dates::rfc3339;
use crate::{Data, Object, Server, decode, respond};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

/// An open resumable upload.
pub(crate) struct Session {
    bucket: String,
    name: String,
    content_type: String,
    data: Vec<u8>,
}

/// Whether `path` is one of this module's routes.
pub(crate) fn serves(path: &str) -> bool {
    ["/storage/v1/", "/upload/storage/v1/", "/download/storage/v1/"]
        .iter()
        .any(|p| path.starts_with(p))
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    respond(
        status,
        &[("content-type", "application/json".to_owned())],
        Bytes::from(value.to_string()),
    )
}

fn json_error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &serde_json::json!({"error": {"code": status.as_u16(), "message": message}}),
    )
}

/// Percent-encodes an object name for a URL path segment.
fn encode_name(name: &str) -> String {
    crate::auth::strict_encode(name)
}

fn resource(base: &str, bucket: &str, name: &str, o: &Object) -> serde_json::Value {
    let mut r = serde_json::json!({
        "kind": "storage#object",
        "id": format!("{bucket}/{name}/{}", o.generation),
        "name": name,
        "bucket": bucket,
        "generation": o.generation.to_string(),
        "metageneration": "1",
        "contentType": o.content_type,
        "size": o.data.len().to_string(),
        "crc32c": STANDARD.encode(o.crc32c.to_be_bytes()),
        "etag": o.etag.trim_matches('"'),
        "timeCreated": rfc3339(o.updated),
        "updated": rfc3339(o.updated),
        "mediaLink": format!("{base}/download/storage/v1/b/{bucket}/o/{}?generation={}&alt=media", encode_name(name), o.generation),
    });
    // An object made of parts has no MD5 (as on the service).
    if let Some(md5) = md5_of(o) {
        r["md5Hash"] = serde_json::Value::String(md5);
    }
    r
}

/// The base64 MD5 of `o`'s data, if its ETag is one.
fn md5_of(o: &Object) -> Option<String> {
    crate::auth::unhex(o.etag.trim_matches('"')).map(|b| STANDARD.encode(b))
}

/// The OAuth token endpoint: checks the JWT assertion, hands out a token.
pub(crate) fn token(server: &Server, body: &[u8]) -> Response {
    let form: HashMap<String, String> = crate::query_pairs(&String::from_utf8_lossy(body)).into_iter().collect();
    let Some(assertion) = form.get("assertion") else {
        return json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"error": "invalid_request"}),
        );
    };
    if server.check_jwt(assertion).is_err() {
        return json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": "invalid_grant"}));
    }
    let token = format!("arca-access-{}", hex(&rand_bytes()));
    if let Ok(mut tokens) = server.tokens.lock() {
        tokens.insert(token.clone());
    }
    json(
        StatusCode::OK,
        &serde_json::json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"}),
    )
}

fn rand_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b
}

/// Serves one JSON-API request (already authenticated).
pub(crate) fn route(data: &mut Data, method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    let path = uri.path();
    let query: HashMap<String, String> = crate::query_pairs(uri.query().unwrap_or("")).into_iter().collect();
    let (kind, rest) = if let Some(r) = path.strip_prefix("/upload/storage/v1/b/") {
        ("upload", r)
    } else if let Some(r) = path.strip_prefix("/download/storage/v1/b/") {
        ("download", r)
    } else if let Some(r) = path.strip_prefix("/storage/v1/b/") {
        ("meta", r)
    } else {
        return json_error(StatusCode::NOT_FOUND, "no such route");
    };
    let (bucket, name) = match rest.split_once("/o") {
        Some((b, n)) => (decode(b, false), n.strip_prefix('/').map(|n| decode(n, false))),
        None => (decode(rest, false), None),
    };
    if !data.buckets.contains_key(&bucket) {
        return json_error(StatusCode::NOT_FOUND, "The specified bucket does not exist.");
    }
    match (kind, method, name) {
        ("upload", &Method::POST, None) => upload(data, &base, &bucket, &query, headers, body),
        ("upload", &Method::PUT, None) => resume(data, &base, &query, headers, body),
        ("download", &Method::GET, Some(name)) => download(data, &bucket, &name, headers),
        ("meta", &Method::GET, Some(name)) => match data.buckets.get(&bucket).and_then(|b| b.get(&name)) {
            Some(o) => json(StatusCode::OK, &resource(&base, &bucket, &name, o)),
            None => json_error(StatusCode::NOT_FOUND, "No such object"),
        },
        ("meta", &Method::GET, None) if rest.contains("/o") => list(data, &base, &bucket, &query),
        ("meta", &Method::GET, None) => json(
            StatusCode::OK,
            &serde_json::json!({"kind": "storage#bucket", "name": bucket}),
        ),
        ("meta", &Method::DELETE, Some(name)) => match data.buckets.get_mut(&bucket).and_then(|b| b.remove(&name)) {
            Some(_) => respond(StatusCode::NO_CONTENT, &[], Bytes::new()),
            None => json_error(StatusCode::NOT_FOUND, "No such object"),
        },
        _ => json_error(StatusCode::NOT_IMPLEMENTED, "not served by this test server"),
    }
}

fn store(data: &mut Data, bucket: &str, name: &str, content_type: &str, bytes: Vec<u8>) -> Option<Object> {
    data.next += 1;
    let o = Object::new(Bytes::from(bytes), data.next, content_type);
    data.buckets.get_mut(bucket)?.insert(name.to_owned(), o.clone());
    Some(o)
}

/// `uploadType=multipart` (metadata and data in one `multipart/related`
/// body) or the start of `uploadType=resumable`.
fn upload(
    data: &mut Data,
    base: &str,
    bucket: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match query.get("uploadType").map(String::as_str) {
        Some("multipart") => {
            let Some(boundary) = content_type.split("boundary=").nth(1).map(|b| b.trim_matches('"')) else {
                return json_error(StatusCode::BAD_REQUEST, "no multipart boundary");
            };
            let Some((meta, media_type, bytes)) = split_related(&body, boundary) else {
                return json_error(StatusCode::BAD_REQUEST, "a malformed multipart/related body");
            };
            let Some(name) = meta.get("name").and_then(|n| n.as_str()).map(str::to_owned) else {
                return json_error(StatusCode::BAD_REQUEST, "the metadata names no object");
            };
            match store(data, bucket, &name, &media_type, bytes) {
                Some(o) => json(StatusCode::OK, &resource(base, bucket, &name, &o)),
                None => json_error(StatusCode::NOT_FOUND, "no such bucket"),
            }
        }
        Some("resumable") => {
            let meta: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let name = query
                .get("name")
                .cloned()
                .or_else(|| meta.get("name").and_then(|n| n.as_str()).map(str::to_owned));
            let Some(name) = name else {
                return json_error(StatusCode::BAD_REQUEST, "the upload names no object");
            };
            let content_type = headers
                .get("x-upload-content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            data.next += 1;
            let id = format!("session-{}-{}", data.next, hex(&rand_bytes()));
            data.sessions.insert(
                id.clone(),
                Session {
                    bucket: bucket.to_owned(),
                    name,
                    content_type,
                    data: Vec::new(),
                },
            );
            let location = format!("{base}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={id}");
            respond(StatusCode::OK, &[("location", location)], Bytes::new())
        }
        _ => json_error(StatusCode::BAD_REQUEST, "uploadType must be multipart or resumable"),
    }
}

/// A chunk of a resumable upload (`Content-Range: bytes A-B/TOTAL`, or
/// `bytes */TOTAL` to finish or ask how far it got).
fn resume(data: &mut Data, base: &str, query: &HashMap<String, String>, headers: &HeaderMap, body: Bytes) -> Response {
    let Some(id) = query.get("upload_id") else {
        return json_error(StatusCode::BAD_REQUEST, "no upload_id");
    };
    let range = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_start_matches("bytes ")
        .to_owned();
    let (span, total) = range.split_once('/').unwrap_or(("*", "*"));
    let Some(session) = data.sessions.get_mut(id) else {
        return json_error(StatusCode::NOT_FOUND, "no such upload session");
    };
    if span != "*" {
        let start = span.split('-').next().and_then(|s| s.parse::<usize>().ok());
        if start != Some(session.data.len()) {
            return json_error(StatusCode::BAD_REQUEST, "a chunk out of order");
        }
        session.data.extend_from_slice(&body);
    }
    let done = total.parse::<usize>().ok().is_some_and(|t| t == session.data.len());
    if !done {
        let have = session.data.len();
        let mut hs = Vec::new();
        if have > 0 {
            hs.push(("range", format!("bytes=0-{}", have - 1)));
        }
        return respond(StatusCode::PERMANENT_REDIRECT, &hs, Bytes::new());
    }
    let Some(s) = data.sessions.remove(id) else {
        return json_error(StatusCode::NOT_FOUND, "no such upload session");
    };
    match store(data, &s.bucket, &s.name, &s.content_type, s.data) {
        Some(o) => json(StatusCode::OK, &resource(base, &s.bucket, &s.name, &o)),
        None => json_error(StatusCode::NOT_FOUND, "no such bucket"),
    }
}

/// The JSON metadata, the media's type and its bytes of a
/// `multipart/related` body.
fn split_related(body: &[u8], boundary: &str) -> Option<(serde_json::Value, String, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let parts = split_bytes(body, delimiter.as_bytes());
    // [preamble, metadata part, media part, "--" epilogue]
    let part = |raw: &[u8]| -> Option<(String, Vec<u8>)> {
        let raw = raw.strip_prefix(b"\r\n")?;
        let end = find(raw, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..end]).to_string();
        let mut content = raw[end + 4..].to_vec();
        if content.ends_with(b"\r\n") {
            content.truncate(content.len() - 2);
        }
        Some((head, content))
    };
    let (_, meta) = part(parts.get(1)?)?;
    let (head, media) = part(parts.get(2)?)?;
    let media_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    Some((serde_json::from_slice(&meta).ok()?, media_type, media))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(hay: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = hay;
    while let Some(i) = find(rest, delimiter) {
        out.push(&rest[..i]);
        rest = &rest[i + delimiter.len()..];
    }
    out.push(rest);
    out
}

fn download(data: &Data, bucket: &str, name: &str, headers: &HeaderMap) -> Response {
    let Some(o) = data.buckets.get(bucket).and_then(|b| b.get(name)) else {
        return json_error(StatusCode::NOT_FOUND, "No such object");
    };
    let size = o.data.len();
    let crc = STANDARD.encode(o.crc32c.to_be_bytes());
    let hash = match md5_of(o) {
        Some(md5) => format!("crc32c={crc},md5={md5}"),
        None => format!("crc32c={crc}"),
    };
    let mut hs = vec![
        ("content-type", o.content_type.clone()),
        ("x-goog-generation", o.generation.to_string()),
        ("x-goog-hash", hash),
        ("etag", o.etag.clone()),
    ];
    match crate::range(headers, size) {
        Ok(None) => respond(StatusCode::OK, &hs, o.data.clone()),
        Ok(Some((a, b))) => {
            hs.push(("content-range", format!("bytes {a}-{}/{size}", b - 1)));
            respond(StatusCode::PARTIAL_CONTENT, &hs, o.data.slice(a..b))
        }
        Err(()) => json_error(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "The requested range cannot be satisfied.",
        ),
    }
}

fn list(data: &Data, base: &str, bucket: &str, query: &HashMap<String, String>) -> Response {
    let Some(objects) = data.buckets.get(bucket) else {
        return json_error(StatusCode::NOT_FOUND, "no such bucket");
    };
    let empty = String::new();
    let prefix = query.get("prefix").unwrap_or(&empty);
    let delimiter = query.get("delimiter").filter(|d| !d.is_empty());
    let max = query
        .get("maxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let after = query.get("pageToken").cloned().unwrap_or_default();
    let (mut items, mut prefixes) = (Vec::new(), Vec::<String>::new());
    let mut last = String::new();
    let mut truncated = false;
    for (k, o) in objects.range(prefix.clone()..) {
        if !k.starts_with(prefix.as_str()) {
            break;
        }
        if *k <= after {
            continue;
        }
        let rest = &k[prefix.len()..];
        let entry = match delimiter.and_then(|d| rest.find(d.as_str()).map(|i| i + d.len())) {
            Some(end) => {
                let p = format!("{prefix}{}", &rest[..end]);
                if prefixes.last() == Some(&p) {
                    continue;
                }
                Err(p)
            }
            None => Ok((k, o)),
        };
        if items.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        match entry {
            Ok((k, o)) => {
                last = k.clone();
                items.push(resource(base, bucket, k, o));
            }
            Err(p) => {
                // The token skips the whole prefix.
                last = format!("{p}\u{10FFFF}");
                prefixes.push(p);
            }
        }
    }
    let mut out = serde_json::json!({"kind": "storage#objects", "items": items, "prefixes": prefixes});
    if truncated {
        out["nextPageToken"] = serde_json::Value::String(last);
    }
    json(StatusCode::OK, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_bodies_split_into_metadata_and_media() {
        let body = b"--b1\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{\"name\": \"a/b.txt\"}\r\n--b1\r\ncontent-type: text/plain\r\n\r\nhello\r\n\r\n--b1--";
        let (meta, ty, media) = split_related(body, "b1").unwrap_or_else(|| panic!("not split"));
        assert_eq!(meta["name"], "a/b.txt");
        assert_eq!(ty, "text/plain");
        assert_eq!(media, b"hello\r\n");
    }
}
