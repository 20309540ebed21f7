//! Status codes, bodies and headers, as `mlflow server --artifacts-only`
//! answers them (MLflow's `test_mlflow_artifacts_rest_apis` and more).

use crate::server::{Server, request, wait_until};
use arca_tests::{content, sha256};

#[test]
fn upload_download_list_delete_as_mlflow_does() {
    let s = Server::start();
    let r = s.api("PUT", "artifacts/a.txt", b"0");
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    assert_eq!(s.api("PUT", "artifacts/dir/b.txt", b"bbb").status, 200);
    assert_eq!(s.api("PUT", "artifacts/empty.bin", b"").status, 200);
    assert_eq!(s.file("a.txt").as_deref(), Some(&b"0"[..]));
    assert_eq!(s.file("dir/b.txt").as_deref(), Some(&b"bbb"[..]));

    let r = s.api("GET", "artifacts/a.txt", b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"0"[..]));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-disposition"), Some("attachment; filename=\"a.txt\""));

    // Byte for byte MLflow's list body: two-space indent, file_size left out
    // for directories and empty files.
    let r = s.api("GET", "artifacts", b"");
    let want = "{\n  \"files\": [\n    {\n      \"path\": \"a.txt\",\n      \"is_dir\": false,\n      \"file_size\": 1\n    },\n    {\n      \"path\": \"dir\",\n      \"is_dir\": true\n    },\n    {\n      \"path\": \"empty.bin\",\n      \"is_dir\": false\n    }\n  ]\n}";
    assert_eq!((r.status, r.text().as_str()), (200, want));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = s.api("GET", "artifacts?path=dir", b"");
    assert_eq!(
        r.json(),
        serde_json::json!({"files": [{"path": "b.txt", "is_dir": false, "file_size": 3}]})
    );
    for empty in [
        "artifacts?path=a.txt",
        "artifacts?path=missing",
        "artifacts?path=dir%2Fnone",
    ] {
        let r = s.api("GET", empty, b"");
        assert_eq!((r.status, r.text().as_str()), (200, "{}"), "{empty}");
    }
    // The ajax mirror answers the same.
    let r = s.request("GET", "/ajax-api/2.0/mlflow-artifacts/artifacts?path=dir", &[], b"");
    assert_eq!(r.json()["files"][0]["path"], "b.txt");

    // Delete is recursive and idempotent.
    for _ in 0..2 {
        let r = s.api("DELETE", "artifacts/dir", b"");
        assert_eq!((r.status, r.text().as_str()), (200, "{}"));
    }
    assert!(!s.dest.join("dir").exists());
    assert!(s.dest.join("a.txt").exists());
}

#[test]
fn errors_use_mlflow_codes() {
    let s = Server::start();
    assert_eq!(s.api("PUT", "artifacts/d/f.txt", b"x").status, 200);
    let r = s.api("GET", "artifacts/missing.txt", b"");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error_code"], "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(r.json()["message"], "No such artifact: 'missing.txt'");
    let r = s.api("GET", "artifacts/d", b"");
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let r = s.api("PUT", "artifacts/d/", b"x");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Artifact path must include a filename (cannot end with '/')."
    );
    let r = s.api("PATCH", "artifacts/d/f.txt", b"");
    assert_eq!(r.status, 405);
    let r = s.request("GET", "/api/2.0/mlflow/experiments/list", &[], b"");
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (404, Some("ENDPOINT_NOT_FOUND"))
    );
}

#[test]
fn mime_types_follow_mlflow_and_ignore_accept() {
    let s = Server::start();
    for (name, mime) in [
        ("a.txt", "text/plain"),
        ("b.pkl", "application/octet-stream"),
        ("c.png", "image/png"),
        ("d.pdf", "application/pdf"),
        ("MLmodel", "text/plain"),
        ("mlproject", "text/plain"),
        ("metrics.json", "text/plain"),
    ] {
        assert_eq!(s.api("PUT", &format!("artifacts/{name}"), b"data").status, 200);
        let r = s.request(
            "GET",
            &format!("/api/2.0/mlflow-artifacts/artifacts/{name}"),
            &[("Accept", "text/html")],
            b"",
        );
        assert_eq!(r.header("content-type"), Some(mime), "{name}");
        assert_eq!(
            r.header("content-disposition"),
            Some(format!("attachment; filename=\"{name}\"").as_str())
        );
    }
}

#[test]
fn ranges_206_and_416() {
    let s = Server::start();
    let data = content(10_000, 5);
    assert_eq!(s.api("PUT", "artifacts/r.bin", &data).status, 200);
    let get = |range: &str| {
        s.request(
            "GET",
            "/api/2.0/mlflow-artifacts/artifacts/r.bin",
            &[("Range", range)],
            b"",
        )
    };
    let r = get("bytes=1-3");
    assert_eq!((r.status, r.body.as_slice()), (206, &data[1..4]));
    assert_eq!(r.header("content-range"), Some("bytes 1-3/10000"));
    let r = get("bytes=9000-");
    assert_eq!((r.status, r.body.as_slice()), (206, &data[9000..]));
    let r = get("bytes=-10");
    assert_eq!((r.status, r.body.as_slice()), (206, &data[9990..]));
    let r = get("bytes=20000-");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */10000"));
    let r = s.api("GET", "artifacts/r.bin", b"");
    assert_eq!((r.status, r.header("accept-ranges")), (200, Some("bytes")));
}

#[test]
fn large_upload_and_download_stream_intact() {
    let s = Server::start();
    let data = content(9 * 1024 * 1024 + 123, 9);
    assert_eq!(s.api("PUT", "artifacts/big/model.bin", &data).status, 200);
    assert_eq!(sha256(&s.file("big/model.bin").unwrap_or_default()), sha256(&data));
    let r = s.api("GET", "artifacts/big/model.bin", b"");
    assert_eq!(r.status, 200);
    assert_eq!(sha256(&r.body), sha256(&data));
}

#[test]
fn interrupted_upload_publishes_nothing() {
    use std::io::Write;
    let s = Server::start();
    let mut conn = std::net::TcpStream::connect(&s.addr).unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/cut.bin HTTP/1.1\r\nHost: {}\r\nContent-Length: 4000000\r\n\r\n",
        s.addr
    );
    conn.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    conn.write_all(&content(1_500_000, 1)).unwrap_or_else(|e| panic!("{e}"));
    // More than a chunk has arrived, so the upload is streaming to a temp file.
    let temp_files = || std::fs::read_dir(&s.dest).map(|d| d.count()).unwrap_or(0);
    wait_until("the upload streams to a temp file", || temp_files() == 1);
    drop(conn);
    // The server sees the connection end, drops the writer, and the temp file goes.
    wait_until("the partial upload is discarded", || temp_files() == 0);
    assert!(!s.dest.join("cut.bin").exists());
    // And the server is still fine.
    assert_eq!(s.api("GET", "artifacts", b"").text(), "{}");
}

#[test]
fn max_upload_size_is_enforced() {
    let s = Server::start_with(&["--max-upload-size", "1000"], &[]);
    assert_eq!(s.api("PUT", "artifacts/small.bin", &[7u8; 1000]).status, 200);
    let r = s.api("PUT", "artifacts/large.bin", &[7u8; 1001]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(!s.dest.join("large.bin").exists());
}

#[test]
fn health_version_and_server_info() {
    let s = Server::start();
    let r = s.request("GET", "/health", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    let r = s.request("GET", "/version", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "3.18.0"));
    for prefix in ["/api", "/ajax-api"] {
        let r = request(&s.addr, "GET", &format!("{prefix}/3.0/mlflow/server-info"), &[], b"");
        assert_eq!(r.status, 200);
        let j = r.json();
        // A local destination: one streamed request is faster than parts.
        assert_eq!(j["multipart_uploads_enabled"], false);
        assert_eq!(j["multipart_downloads_enabled"], false);
        assert_eq!(j["artifact_serving_enabled"], true);
        assert_eq!(j["store_type"], serde_json::Value::Null);
    }
}

#[test]
fn multipart_advertisement_follows_the_switches() {
    for (args, up, down) in [
        (&["--multipart-uploads", "--multipart-downloads"][..], true, true),
        (&["--multipart-uploads"][..], true, false),
        (&["--multipart-downloads", "--no-multipart-downloads"][..], false, false),
        (&["--no-multipart-uploads", "--multipart-downloads"][..], false, true),
    ] {
        let s = Server::start_with(args, &[]);
        let j = s.request("GET", "/api/3.0/mlflow/server-info", &[], b"").json();
        assert_eq!(
            (
                j["multipart_uploads_enabled"].as_bool(),
                j["multipart_downloads_enabled"].as_bool()
            ),
            (Some(up), Some(down)),
            "{args:?}"
        );
        // The routes answer whatever is advertised.
        let r = s.api("POST", "mpu/create/x", br#"{"path": "big.bin", "num_parts": 2}"#);
        assert_eq!(r.status, 200, "{args:?}: {}", r.text());
    }
}

#[test]
fn metrics_count_requests_and_bytes() {
    let s = Server::start();
    assert_eq!(s.api("PUT", "artifacts/m.bin", &[1u8; 1234]).status, 200);
    assert_eq!(s.api("GET", "artifacts/m.bin", b"").body.len(), 1234);
    assert_eq!(s.api("GET", "artifacts/nope", b"").status, 404);
    let r = s.request("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    let text = r.text();
    for line in [
        "arca_requests_total{route=\"upload\"} 1",
        "arca_requests_total{route=\"download\"} 2",
        "arca_bytes_in_total 1234",
        "arca_responses_total{class=\"4xx\"} 1",
        "arca_in_flight_requests 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }
    let out: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("arca_bytes_out_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(out >= 1234, "bytes out {out}");
}

#[test]
fn sigterm_finishes_in_flight_uploads_and_refuses_new_connections() {
    use std::io::{Read, Write};
    let mut s = Server::start();
    let data = content(3 * 1024 * 1024, 12);
    let mut conn = std::net::TcpStream::connect(&s.addr).unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/inflight.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        s.addr,
        data.len()
    );
    conn.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    conn.write_all(&data[..2 * 1024 * 1024])
        .unwrap_or_else(|e| panic!("{e}"));
    let temp_files = || std::fs::read_dir(&s.dest).map(|d| d.count()).unwrap_or(0);
    wait_until("the upload is in flight", || temp_files() == 1);
    s.terminate();
    wait_until("new connections are refused", || {
        std::net::TcpStream::connect(&s.addr).is_err()
    });
    conn.write_all(&data[2 * 1024 * 1024..])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply);
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(s.wait_exit(), Some(0));
    assert_eq!(sha256(&s.file("inflight.bin").unwrap_or_default()), sha256(&data));
}
