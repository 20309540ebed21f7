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
