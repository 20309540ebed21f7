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

#[test]
fn staged_multipart_upload_assembles_in_order() {
    let s = Server::start();
    let data = content(3 * 1024 * 1024 + 77, 4);
    let parts: Vec<&[u8]> = data.chunks(1024 * 1024 + 1).collect();
    let body = format!(r#"{{"path": "model.bin", "num_parts": {}}}"#, parts.len());
    let r = s.api("POST", "mpu/create/run/artifacts", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let created = r.json();
    let id = created["upload_id"].as_str().unwrap_or_default().to_owned();
    let creds = created["credentials"].as_array().cloned().unwrap_or_default();
    assert_eq!(creds.len(), parts.len());
    // Upload out of order, as a thread pool would.
    let mut done = Vec::new();
    for i in (0..parts.len()).rev() {
        let url = creds[i]["url"].as_str().unwrap_or_default();
        let (addr, target) = split_url(url);
        let r = request(&addr, "PUT", &target, &[], parts[i]);
        assert_eq!(r.status, 200, "part {}: {}", i + 1, r.text());
        let etag = r.header("etag").unwrap_or_default().to_owned();
        done.push(serde_json::json!({"part_number": i + 1, "etag": etag, "url": url}));
    }
    assert!(
        !s.dest.join("run/artifacts/model.bin").exists(),
        "visible before complete"
    );
    let complete = serde_json::json!({"path": "model.bin", "upload_id": id, "parts": done});
    let r = s.api("POST", "mpu/complete/run/artifacts", complete.to_string().as_bytes());
    assert_eq!((r.status, r.text().as_str()), (200, "{}"));
    assert_eq!(
        sha256(&s.file("run/artifacts/model.bin").unwrap_or_default()),
        sha256(&data)
    );
    let staging: Vec<_> = std::fs::read_dir(s.dest.join(".arca-mpu"))
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert_eq!(staging, [0], "staged parts left behind");
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
    assert!(staged.join("part-00001").exists());
    // The cleanup at start runs before the server says it is listening.
    // A server that keeps staged uploads for a day leaves it alone…
    let s = s.restart_with(&["--mpu-stale-after", "86400"]);
    assert!(staged.exists(), "a fresh upload was removed");
    // …one that keeps them for no time at all removes it.
    let s = s.restart_with(&["--mpu-stale-after", "0"]);
    assert!(!staged.exists(), "the stale upload survived");
    assert_eq!(s.api("GET", "artifacts", b"").text(), "{}");
}
