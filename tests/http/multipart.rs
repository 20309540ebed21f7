//! Multipart uploads staged by the server, and signed ranged downloads, the
//! way the MLflow client drives them (parts without credentials).

use crate::server::{Server, request};
use arca_tests::{content, sha256};

/// Splits an absolute URL into (host:port, path?query).
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not http: {url}"));
    let slash = rest.find('/').unwrap_or(rest.len());
    (rest[..slash].to_owned(), rest[slash..].to_owned())
}

/// Starts an upload of `n` parts of `d/<name>`: its id and part URLs.
fn create(s: &Server, name: &str, n: usize) -> (String, Vec<String>) {
    let body = format!(r#"{{"path": "{name}", "num_parts": {n}}}"#);
    let r = s.api("POST", "mpu/create/d", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let created = r.json();
    let id = created["upload_id"].as_str().unwrap_or_default().to_owned();
    let urls: Vec<String> = created["credentials"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|p| p["url"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(urls.len(), n);
    (id, urls)
}

/// Sends part `i` (0-based) with a `Content-Length`, or chunked; its entry
/// for `complete`.
fn send_part(urls: &[String], i: usize, data: &[u8], chunked: bool) -> serde_json::Value {
    let (addr, target) = split_url(&urls[i]);
    let r = if chunked {
        chunked_put(&addr, &target, data)
    } else {
        request(&addr, "PUT", &target, &[], data)
    };
    assert_eq!(r.status, 200, "part {}: {}", i + 1, r.text());
    let etag = r.header("etag").unwrap_or_default().to_owned();
    serde_json::json!({"part_number": i + 1, "etag": etag, "url": urls[i]})
}

/// A PUT whose body is sent with `Transfer-Encoding: chunked` (no length).
fn chunked_put(addr: &str, target: &str, data: &[u8]) -> arca_tests::wire::Response {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    let timeout = Some(std::time::Duration::from_secs(30));
    s.set_read_timeout(timeout).unwrap_or_else(|e| panic!("{e}"));
    let mut raw =
        format!("PUT {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n")
            .into_bytes();
    for piece in data.chunks(100_000) {
        raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    s.write_all(&raw).unwrap_or_else(|e| panic!("{e}"));
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap_or_else(|e| panic!("{e}"));
    arca_tests::wire::parse(&got, false).unwrap_or_else(|e| panic!("{e}"))
}

fn complete(s: &Server, name: &str, id: &str, done: &[serde_json::Value]) {
    let complete = serde_json::json!({"path": name, "upload_id": id, "parts": done});
    let r = s.api("POST", "mpu/complete/d", complete.to_string().as_bytes());
    assert_eq!((r.status, r.text().as_str()), (200, "{}"));
}

fn staging_is_empty(s: &Server) {
    let staging: Vec<_> = std::fs::read_dir(s.dest.join(".arca-mpu"))
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert_eq!(staging, [0], "staged parts left behind");
}

#[test]
fn staged_multipart_upload_assembles_in_order() {
    let s = Server::start();
    let data = content(3 * 1024 * 1024 + 77, 4);
    let parts: Vec<&[u8]> = data.chunks(1024 * 1024 + 1).collect();
    let (id, urls) = create(&s, "model.bin", parts.len());
    // Out of order, as a thread pool would, the last part first (before the
    // part size is known, so it is staged alone and moved in at complete).
    let done: Vec<_> = (0..parts.len())
        .rev()
        .map(|i| send_part(&urls, i, parts[i], false))
        .collect();
    assert!(!s.dest.join("d/model.bin").exists(), "visible before complete");
    complete(&s, "model.bin", &id, &done);
    assert_eq!(sha256(&s.file("d/model.bin").unwrap_or_default()), sha256(&data));
    staging_is_empty(&s);
}

#[test]
fn parts_written_in_place_are_published_by_a_rename() {
    use std::os::unix::fs::MetadataExt;
    let s = Server::start();
    let data = content(2 * 1024 * 1024 + 512 * 1024, 5);
    let parts: Vec<&[u8]> = data.chunks(1024 * 1024).collect();
    let (id, urls) = create(&s, "in-place.bin", parts.len());
    let done: Vec<_> = (0..parts.len()).map(|i| send_part(&urls, i, parts[i], false)).collect();
    // Every part went into the one data file: no part files.
    let dir = s.dest.join(".arca-mpu").join(&id);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    assert_eq!(
        names,
        [
            "data",
            "meta.json",
            "placed-00001",
            "placed-00002",
            "placed-00003",
            "size"
        ]
    );
    let inode = std::fs::metadata(dir.join("data")).map(|m| m.ino()).unwrap_or(0);
    complete(&s, "in-place.bin", &id, &done);
    let target = s.dest.join("d/in-place.bin");
    assert_eq!(sha256(&std::fs::read(&target).unwrap_or_default()), sha256(&data));
    assert_eq!(
        std::fs::metadata(&target).map(|m| m.ino()).ok(),
        Some(inode),
        "complete copied the data instead of renaming it"
    );
    staging_is_empty(&s);
}

#[test]
fn parts_of_several_sizes_or_without_a_length_still_assemble() {
    let s = Server::start();
    // Part 2 is shorter than the others: it cannot go in place, and the
    // parts are joined by streaming instead.
    let data = content(850_000, 6);
    let parts = [
        &data[..300_000],
        &data[300_000..500_000],
        &data[500_000..800_000],
        &data[800_000..],
    ];
    let (id, urls) = create(&s, "uneven.bin", parts.len());
    let done: Vec<_> = [1, 0, 3, 2]
        .iter()
        .map(|&i| send_part(&urls, i, parts[i], false))
        .collect();
    complete(&s, "uneven.bin", &id, &done);
    assert_eq!(sha256(&s.file("d/uneven.bin").unwrap_or_default()), sha256(&data));
    // A part sent without a length (chunked) is staged alone; the rest go in
    // place, and complete moves it in.
    let data = content(3 * 400_000 + 1234, 7);
    let parts: Vec<&[u8]> = data.chunks(400_000).collect();
    let (id, urls) = create(&s, "chunked.bin", parts.len());
    let done: Vec<_> = (0..parts.len())
        .map(|i| send_part(&urls, i, parts[i], i == 1))
        .collect();
    complete(&s, "chunked.bin", &id, &done);
    assert_eq!(sha256(&s.file("d/chunked.bin").unwrap_or_default()), sha256(&data));
    staging_is_empty(&s);
}

#[test]
fn part_urls_need_a_valid_signature_and_abort_cleans_up() {
    let s = Server::start();
    let r = s.api("POST", "mpu/create/d", br#"{"path": "f.bin", "num_parts": 2}"#);
    let created = r.json();
    let id = created["upload_id"].as_str().unwrap_or_default().to_owned();
    let url = created["credentials"][0]["url"].as_str().unwrap_or_default().to_owned();
    let (addr, target) = split_url(&url);
    // Tampered: another part number, another signature, no signature.
    let other = target.replace("/1?", "/2?");
    // The last hex digit of the signature, changed (never to itself).
    let last = if target.ends_with('0') { '1' } else { '0' };
    let bad_sig = format!("{}{last}", &target[..target.len() - 1]);
    let no_sig = target.split('?').next().unwrap_or_default().to_owned();
    for t in [other, bad_sig, no_sig] {
        let r = request(&addr, "PUT", &t, &[], b"x");
        assert_eq!(r.status, 403, "{t}: {}", r.text());
    }
    assert_eq!(request(&addr, "PUT", &target, &[], b"part one").status, 200);
    let abort = format!(r#"{{"path": "f.bin", "upload_id": "{id}"}}"#);
    let r = s.api("POST", "mpu/abort/d", abort.as_bytes());
    assert_eq!((r.status, r.text().as_str()), (200, "{}"));
    assert!(!s.dest.join(".arca-mpu").join(&id).exists(), "abort left the parts");
    // The URL of an aborted upload is dead.
    assert_eq!(request(&addr, "PUT", &target, &[], b"late").status, 404);
    // Completing with a missing part is refused, and publishes nothing.
    let r = s.api("POST", "mpu/create/d", br#"{"path": "g.bin", "num_parts": 2}"#);
    let created = r.json();
    let id = created["upload_id"].as_str().unwrap_or_default().to_owned();
    let (addr, target) = split_url(created["credentials"][0]["url"].as_str().unwrap_or_default());
    let etag = request(&addr, "PUT", &target, &[], b"only")
        .header("etag")
        .unwrap_or_default()
        .to_owned();
    let complete =
        serde_json::json!({"path": "g.bin", "upload_id": id, "parts": [{"part_number": 1, "etag": etag, "url": ""}]});
    assert_eq!(
        s.api("POST", "mpu/complete/d", complete.to_string().as_bytes()).status,
        400
    );
    assert!(!s.dest.join("d/g.bin").exists());
}

#[test]
fn presigned_downloads_are_signed_and_ranged() {
    let s = Server::start();
    let data = content(5000, 8);
    assert_eq!(s.api("PUT", "artifacts/dir/weights.bin", &data).status, 200);
    let r = s.api("GET", "presigned/dir/weights.bin", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["file_size"], 5000);
    assert_eq!(j["headers"], serde_json::json!({}));
    let (addr, target) = split_url(j["url"].as_str().unwrap_or_default());
    let r = request(&addr, "GET", &target, &[("Range", "bytes=100-199")], b"");
    assert_eq!((r.status, r.body.as_slice()), (206, &data[100..200]));
    let r = request(&addr, "GET", &target, &[], b"");
    assert_eq!(r.body, data);
    // The signature covers the path.
    let forged = target.replace("weights.bin", "other.bin");
    assert_eq!(request(&addr, "GET", &forged, &[], b"").status, 403);
    assert_eq!(s.api("GET", "presigned/dir/missing.bin", b"").status, 404);
}

#[test]
fn stale_staged_uploads_are_removed() {
    let s = Server::start();
    let r = s.api("POST", "mpu/create/d", br#"{"path": "f.bin", "num_parts": 2}"#);
    let created = r.json();
    let id = created["upload_id"].as_str().unwrap_or_default().to_owned();
    let (addr, target) = split_url(created["credentials"][0]["url"].as_str().unwrap_or_default());
    assert_eq!(request(&addr, "PUT", &target, &[], b"abandoned part").status, 200);
    let staged = s.dest.join(".arca-mpu").join(&id);
    assert!(staged.join("placed-00001").exists());
    // The cleanup at start runs before the server says it is listening.
    // A server that keeps staged uploads for a day leaves it alone…
    let s = s.restart_with(&["--mpu-stale-after", "86400"]);
    assert!(staged.exists(), "a fresh upload was removed");
    // …one that keeps them for no time at all removes it.
    let s = s.restart_with(&["--mpu-stale-after", "0"]);
    assert!(!staged.exists(), "the stale upload survived");
    assert_eq!(s.api("GET", "artifacts", b"").text(), "{}");
}
