//! `--auth-file` (Basic and Bearer, read and read-write, path prefixes) and
//! `--read-only`.

use crate::server::{Server, request};
use std::process::{Command, Stdio};

fn hash(secret: &str, token: bool) -> String {
    use std::io::Write;
    let mut cmd = Command::new(arca_tests::arca_bin());
    cmd.arg("hash-password").stdin(Stdio::piped()).stdout(Stdio::piped());
    if token {
        cmd.arg("--token");
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{secret}");
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn basic(user: &str, pw: &str) -> String {
    // A tiny base64 encoder, so the test does not share the server's.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = format!("{user}:{pw}").into_bytes();
    let mut out = String::new();
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

fn auth_server() -> Server {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("auth.toml");
    let text = format!(
        "[[user]]\nname = \"alice\"\npassword_hash = \"{}\"\npermission = \"read-write\"\nprefixes = [\"team-a\"]\n\n\
         [[user]]\nname = \"bob\"\npassword_hash = \"{}\"\npermission = \"read\"\n\n\
         [[token]]\nname = \"ci\"\nsha256 = \"{}\"\npermission = \"read-write\"\n",
        hash("alice-pw", false),
        hash("bob-pw", false),
        hash("ci-token", true)
    );
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start_with(&["--auth-file", &file.display().to_string()], &[]);
    // The file is read at start; the directory may go.
    drop(dir);
    s
}

#[test]
fn credentials_and_permissions() {
    let s = auth_server();
    let put = |target: &str, auth: Option<&str>| {
        let h: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        s.request(
            "PUT",
            &format!("/api/2.0/mlflow-artifacts/artifacts/{target}"),
            &h,
            b"data",
        )
    };
    let get = |target: &str, auth: Option<&str>| {
        let h: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        s.request("GET", &format!("/api/2.0/mlflow-artifacts/{target}"), &h, b"")
    };
    let alice = basic("alice", "alice-pw");
    let bob = basic("bob", "bob-pw");
    // No or wrong credentials: 401, with a challenge.
    let r = put("team-a/x.txt", None);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some_and(|v| v.contains("Basic")));
    assert_eq!(r.json()["error_code"], "UNAUTHENTICATED");
    assert_eq!(put("team-a/x.txt", Some(&basic("alice", "nope"))).status, 401);
    assert_eq!(put("team-a/x.txt", Some("Bearer wrong")).status, 401);
    // Alice writes within her prefix, not outside it.
    assert_eq!(put("team-a/x.txt", Some(&alice)).status, 200);
    assert_eq!(s.file("team-a/x.txt").as_deref(), Some(&b"data"[..]));
    assert_eq!(put("team-b/x.txt", Some(&alice)).status, 403);
    assert_eq!(get("artifacts?path=team-b", Some(&alice)).status, 403);
    assert!(!s.dest.join("team-b").exists());
    // Bob reads anywhere, writes nowhere.
    assert_eq!(get("artifacts/team-a/x.txt", Some(&bob)).body, b"data");
    assert_eq!(put("team-a/y.txt", Some(&bob)).status, 403);
    assert_eq!(
        s.request(
            "DELETE",
            "/api/2.0/mlflow-artifacts/artifacts/team-a/x.txt",
            &[("Authorization", &bob)],
            b""
        )
        .status,
        403
    );
    // The token reads and writes.
    assert_eq!(put("ci/y.txt", Some("Bearer ci-token")).status, 200);
    assert_eq!(get("artifacts/ci/y.txt", Some("Bearer ci-token")).body, b"data");
    // Public: health and server-info (read before a client authenticates).
    assert_eq!(s.request("GET", "/health", &[], b"").status, 200);
    assert_eq!(s.request("GET", "/api/3.0/mlflow/server-info", &[], b"").status, 200);
    // A presigned URL needs credentials to get, and none to use.
    assert_eq!(get("presigned/team-a/x.txt", None).status, 401);
    let r = get("presigned/team-a/x.txt", Some(&bob));
    let url = r.json()["url"].as_str().unwrap_or_default().to_owned();
    let rest = url.strip_prefix("http://").unwrap_or_default();
    let slash = rest.find('/').unwrap_or(0);
    assert_eq!(request(&rest[..slash], "GET", &rest[slash..], &[], b"").body, b"data");
}

#[test]
fn read_only_refuses_writes() {
    let s = Server::start_with(&["--read-only"], &[]);
    std::fs::create_dir_all(&s.dest).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(s.dest.join("a.txt"), b"kept").unwrap_or_else(|e| panic!("{e}"));
    let r = s.api("PUT", "artifacts/b.txt", b"x");
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    assert_eq!(s.api("DELETE", "artifacts/a.txt", b"").status, 403);
    assert_eq!(
        s.api("POST", "mpu/create/d", br#"{"path": "f", "num_parts": 1}"#)
            .status,
        403
    );
    assert_eq!(s.api("GET", "artifacts/a.txt", b"").body, b"kept");
    assert!(!s.dest.join("b.txt").exists());
}

/// A refused upload is answered, not reset: the client sends its whole body
/// and then reads the status and MLflow's error body, for every kind of
/// refusal that comes before the body is read.
#[test]
fn refused_uploads_are_answered_not_reset() {
    // Far more than a loopback socket buffers, so a server that answered and
    // closed without reading would break the client's send.
    let body = arca_tests::content(32 << 20, 9);
    let auth = auth_server();
    let read_only = Server::start_with(&["--read-only"], &[]);
    let small = Server::start_with(&["--max-upload-size", "1024"], &[]);
    let bob = basic("bob", "bob-pw");
    // (server, request headers, status, MLflow error code)
    type Refusal<'a> = (&'a Server, &'a [(&'a str, &'a str)], u16, &'a str);
    let cases: [Refusal<'_>; 4] = [
        (&auth, &[("Authorization", bob.as_str())], 403, "PERMISSION_DENIED"),
        (&auth, &[], 401, "UNAUTHENTICATED"),
        (&read_only, &[], 403, "PERMISSION_DENIED"),
        (&small, &[], 413, "INVALID_PARAMETER_VALUE"),
    ];
    for (server, headers, status, code) in cases {
        for _ in 0..2 {
            let target = "/api/2.0/mlflow-artifacts/artifacts/big.bin";
            let r = arca_tests::wire::request(&server.addr, "PUT", target, headers, &body)
                .unwrap_or_else(|e| panic!("{status}: the client could not send its body or read the answer: {e}"));
            assert_eq!(r.status, status, "{}", r.text());
            assert_eq!(r.json()["error_code"], code, "{}", r.text());
        }
        assert!(server.file("big.bin").is_none());
    }
}

/// After a refused upload the connection stays usable: the server read the
/// refused body, so it keeps the connection alive and answers the next
/// request on it, instead of closing a connection the client may already be
/// reusing (the cause of a client's `RemoteDisconnected` on its next upload).
#[test]
fn a_refused_upload_leaves_the_connection_alive() {
    use std::io::{BufReader, Read, Write};
    let s = Server::start_with(&["--read-only"], &[]);
    let mut conn = std::net::TcpStream::connect(&s.addr).unwrap_or_else(|e| panic!("{e}"));
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    // Small enough to sit in the socket's buffers whole, too large for the
    // server to skip without reading it.
    let body = "x".repeat(200_000);
    let put = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/b.bin HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{body}",
        s.addr,
        body.len()
    );
    let get = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr);
    let mut reader = BufReader::new(conn.try_clone().unwrap_or_else(|e| panic!("{e}")));
    for (request, status) in [(&put, "403"), (&get, "200"), (&put, "403"), (&get, "200")] {
        conn.write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("send: {e}"));
        let line = line_of(&mut reader);
        assert!(line.starts_with(&format!("HTTP/1.1 {status}")), "answer: {line:?}");
        // The rest of the answer: headers, then a body of Content-Length
        // bytes or in chunks.
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let header = line_of(&mut reader).to_ascii_lowercase();
            if header.trim().is_empty() {
                break;
            }
            assert!(!header.starts_with("connection: close"), "{header}");
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            chunked |= header.starts_with("transfer-encoding:") && header.contains("chunked");
        }
        loop {
            if chunked {
                let size = usize::from_str_radix(line_of(&mut reader).trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).unwrap_or_else(|e| panic!("receive: {e}"));
                if size == 0 {
                    break;
                }
            } else {
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap_or_else(|e| panic!("receive: {e}"));
                break;
            }
        }
    }
}

fn line_of(reader: &mut impl std::io::BufRead) -> String {
    let mut l = String::new();
    reader.read_line(&mut l).unwrap_or_else(|e| panic!("receive: {e}"));
    l
}
