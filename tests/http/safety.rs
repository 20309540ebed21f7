//! Every traversal shape from MLflow's CVE history (contract §1.6), on every
//! route, is answered 400 before the store is touched; canaries beside the
//! destination prove nothing outside it was read, written or deleted.

use crate::server::Server;

/// Payloads aimed at `../canary.txt`; `ABS` is replaced by the canary's
/// absolute path.
const PAYLOADS: &[&str] = &[
    "..",
    "../canary.txt",
    "a/../../canary.txt",
    "%2e%2e/canary.txt",
    "%2E%2E%2Fcanary.txt",
    "..%2fcanary.txt",
    "%252e%252e%252fcanary.txt",
    "%252E%252E%252Fcanary.txt",
    "%25252e%25252e/canary.txt",
    "%2525252e%2525252e%2525252fcanary.txt",
    "x/%2e%2e/%2e%2e/canary.txt",
    "ABS",
    "%2FABS",
    "ABS%00.jpg",
    "file://ABS",
    "file:ABS",
    "C:/x",
    "c:/x",
    "C:%5Cx",
    "%5C%5Cserver%5Cshare",
    "..%5Ccanary.txt",
    "x%23/../../canary.txt",
    "canary.txt%23",
    "x%00y.txt",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
];

fn payloads(s: &Server) -> Vec<String> {
    let abs = s.root.path().join("canary.txt").display().to_string();
    PAYLOADS.iter().map(|p| p.replace("ABS", &abs)).collect()
}

#[test]
fn traversal_payloads_get_400_and_touch_nothing() {
    let s = Server::start();
    std::fs::write(s.root.path().join("canary.txt"), b"canary").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(&s.dest).unwrap_or_else(|e| panic!("{e}"));
    let before = s.snapshot();
    let mut failures = Vec::new();
    for p in payloads(&s) {
        let body_create = br#"{"path": "f.bin", "num_parts": 1}"#;
        let traversal_in_body = format!(r#"{{"path": "{}", "num_parts": 1}}"#, p.replace('"', ""));
        let probes: Vec<(&str, String, Vec<u8>)> = vec![
            ("GET", format!("artifacts/{p}"), Vec::new()),
            ("PUT", format!("artifacts/{p}"), b"pwned".to_vec()),
            ("DELETE", format!("artifacts/{p}"), Vec::new()),
            ("GET", format!("artifacts?path={p}"), Vec::new()),
            ("POST", format!("mpu/create/{p}"), body_create.to_vec()),
            (
                "POST",
                format!("mpu/abort/{p}"),
                br#"{"path": "f.bin", "upload_id": "x"}"#.to_vec(),
            ),
            ("GET", format!("presigned/{p}"), Vec::new()),
            ("GET", format!("signed/{p}?expires=99999999999&sig=00"), Vec::new()),
        ];
        for (method, rest, body) in probes {
            for prefix in ["/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"] {
                let r = s.request(method, &format!("{prefix}{rest}"), &[], &body);
                let ok = r.status == 400 && (r.body.is_empty() || r.json()["message"] == "Invalid path");
                if !ok {
                    failures.push(format!("{method} {prefix}{rest} -> {} {}", r.status, r.text()));
                }
            }
        }
        // A traversal in the JSON `path` of an mpu body: only its last
        // component counts, so it lands inside the destination or is refused.
        let r = s.api("POST", "mpu/create/d", traversal_in_body.as_bytes());
        if r.status == 200 {
            let id = r.json()["upload_id"].as_str().unwrap_or_default().to_owned();
            let _ = s.api(
                "POST",
                "mpu/abort/d",
                format!(r#"{{"path": "{}", "upload_id": "{id}"}}"#, p.replace('"', "")).as_bytes(),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "accepted traversal requests:\n{}",
        failures.join("\n")
    );
    let after: Vec<_> = s
        .snapshot()
        .into_iter()
        .filter(|(p, _)| !p.starts_with(s.dest.join(".arca-mpu")))
        .collect();
    assert_eq!(before, after, "files outside (or inside) the destination changed");
    assert_eq!(
        std::fs::read(s.root.path().join("canary.txt")).ok().as_deref(),
        Some(&b"canary"[..])
    );
}

#[test]
fn symlinks_out_of_the_destination_are_refused() {
    let s = Server::start();
    let outside = s.root.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(&s.dest).unwrap_or_else(|e| panic!("{e}"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, s.dest.join("link")).unwrap_or_else(|e| panic!("{e}"));
    let r = s.api("GET", "artifacts/link/secret.txt", b"");
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!r.text().contains("secret\""), "{}", r.text());
    assert_eq!(s.api("PUT", "artifacts/link/new.txt", b"x").status, 403);
    assert_eq!(s.api("DELETE", "artifacts/link/secret.txt", b"").status, 403);
    assert!(!outside.join("new.txt").exists());
    assert!(outside.join("secret.txt").exists());
}

#[test]
fn the_staging_area_is_not_reachable() {
    let s = Server::start();
    let r = s.api("POST", "mpu/create/d", br#"{"path": "f.bin", "num_parts": 1}"#);
    assert_eq!(r.status, 200);
    for probe in [
        "artifacts/.arca-mpu",
        "artifacts/.arca-mpu/x",
        "artifacts?path=.arca-mpu",
    ] {
        let r = s.api("GET", probe, b"");
        assert_eq!(r.status, 400, "{probe}: {}", r.text());
    }
    assert_eq!(s.api("DELETE", "artifacts/.arca-mpu", b"").status, 400);
    assert_eq!(
        s.api("GET", "artifacts", b"").text(),
        "{}",
        "staging shows in the root listing"
    );
}

/// The URL is decoded once, as HTTP defines, and the name that comes out is
/// stored as it is: a `%` in a name survives every route.
#[test]
fn names_with_percent_signs_are_decoded_once_and_kept() {
    let s = Server::start();
    // The client encodes the name `report%20final.txt` as
    // `report%2520final.txt`, and `100%.txt` as `100%25.txt`.
    for (url, name, body) in [
        ("run/report%2520final.txt", "run/report%20final.txt", &b"one"[..]),
        ("run/100%25.txt", "run/100%.txt", b"two"),
        ("run/dir%2520x/in%2525ner.txt", "run/dir%20x/in%25ner.txt", b"three"),
        // An encoded space is a space: the name is `a b.txt`.
        ("run/a%20b.txt", "run/a b.txt", b"four"),
    ] {
        let r = s.api("PUT", &format!("artifacts/{url}"), body);
        assert_eq!(r.status, 200, "PUT {url}: {}", r.text());
        assert_eq!(s.file(name).as_deref(), Some(body), "{url} must be stored as {name}");
        let r = s.api("GET", &format!("artifacts/{url}"), b"");
        assert_eq!((r.status, r.body.as_slice()), (200, body), "GET {url}");
    }
    let r = s.api("GET", "artifacts?path=run", b"");
    let mut names: Vec<String> = r.json()["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter_map(|f| f["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    assert_eq!(names, ["100%.txt", "a b.txt", "dir%20x", "report%20final.txt"]);
    let r = s.api("GET", "artifacts?path=run%2Fdir%2520x", b"");
    assert_eq!(r.json()["files"][0]["path"], "in%25ner.txt", "{}", r.text());

    // A name that decodes further to a separator is refused, not renamed.
    let r = s.api("PUT", "artifacts/run/a%252Fb.txt", b"x");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(s.file("run/a%2Fb.txt").is_none() && s.file("run/a/b.txt").is_none());
}
