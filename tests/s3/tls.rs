//! TLS: radosgw's HTTPS endpoint with a self-signed certificate, through
//! the `arca` command with MLflow's variables (`MLFLOW_S3_ENDPOINT_URL`,
//! `MLFLOW_S3_IGNORE_TLS`, `AWS_CA_BUNDLE`) and through the library with
//! the same settings as configuration keys.

use crate::support::{Cleanup, Output, arca, https_server, path, run};
use arca_tests::{content, sha256};
use std::time::Duration;

/// Per `arca` run.
const CLI_LIMIT: Duration = Duration::from_secs(90);
/// A secret that must never be shown (the TLS handshake fails before any
/// request is signed, so a made-up one is as good as the real one there).
const CANARY: &str = "canary-SECRET-5b1f0c";
/// Settings that must come from the test alone, not from the environment
/// the tests run in.
const TLS_VARS: &[&str] = &["AWS_CA_BUNDLE", "MLFLOW_S3_IGNORE_TLS"];

fn assert_clean(o: &Output) {
    for bad in ["panicked at", "RUST_BACKTRACE", "stack backtrace", CANARY] {
        assert!(!o.stderr.contains(bad), "{bad:?} reached the user: {}", o.stderr);
    }
}

/// Copies a file up with `env`, reads it back with `cat`, and checks the
/// content.
fn round_trip(env: &[(&str, &str)], uri: &str) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data = content(300 * 1024 + 5, 41);
    let local = dir.path().join("weights.bin");
    std::fs::write(&local, &data).unwrap_or_else(|e| panic!("write: {e}"));
    let local = local.display().to_string();

    let up = arca(&["cp", "-q", &local, uri], env, TLS_VARS, CLI_LIMIT);
    assert_clean(&up);
    assert_eq!(up.code, Some(0), "cp failed: {}", up.stderr);
    let back = arca(&["cat", uri], env, TLS_VARS, CLI_LIMIT);
    assert_clean(&back);
    assert_eq!(back.code, Some(0), "cat failed: {}", back.stderr);
    assert_eq!(sha256(&back.stdout), sha256(&data), "content read back over https");
}

#[test]
fn an_untrusted_certificate_fails_with_a_certificate_error() {
    let Some((s3, https, _)) = https_server() else { return };
    let root = s3.root("tls-untrusted");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let env = [
        ("MLFLOW_S3_ENDPOINT_URL", https.as_str()),
        ("AWS_ACCESS_KEY_ID", s3.access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", CANARY),
    ];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let local = dir.path().join("a.txt");
    std::fs::write(&local, b"hello").unwrap_or_else(|e| panic!("write: {e}"));
    let file = format!("{root}/a.txt");
    for args in [
        vec!["cp", "-q", local.to_str().unwrap_or_default(), &file],
        vec!["cat", &file],
        vec!["ls", &root],
    ] {
        let o = arca(&args, &env, TLS_VARS, CLI_LIMIT);
        eprintln!("arca {} over untrusted https says: {}", args[0], o.stderr.trim());
        assert_clean(&o);
        assert_eq!(o.code, Some(1), "arca {args:?} over untrusted https: {}", o.stderr);
        let said = o.stderr.to_ascii_lowercase();
        assert!(
            said.contains("certificate"),
            "arca {args:?}: the error does not say it is a certificate problem: {}",
            o.stderr
        );
    }
}

#[test]
fn ignore_tls_accepts_the_self_signed_certificate() {
    let Some((s3, https, _)) = https_server() else { return };
    let root = s3.root("tls-ignore");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let env = [
        ("MLFLOW_S3_ENDPOINT_URL", https.as_str()),
        ("MLFLOW_S3_IGNORE_TLS", "true"),
    ];
    // `arca` removes TLS_VARS first, then sets `env`, so the flag stays.
    round_trip(&env, &format!("{root}/ignored/weights.bin"));
}

#[test]
fn a_ca_bundle_with_the_certificate_is_trusted() {
    let Some((s3, https, cert)) = https_server() else {
        return;
    };
    let root = s3.root("tls-bundle");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let cert = cert.display().to_string();
    let env = [
        ("MLFLOW_S3_ENDPOINT_URL", https.as_str()),
        ("AWS_CA_BUNDLE", cert.as_str()),
    ];
    round_trip(&env, &format!("{root}/bundle/weights.bin"));
}

#[test]
fn the_library_takes_the_same_settings_as_configuration_keys() {
    let Some((s3, https, cert)) = https_server() else {
        return;
    };
    let root = s3.root("tls-library");
    let _cleanup = Cleanup {
        s3: s3.clone(),
        root: root.clone(),
    };
    let cert = cert.display().to_string();
    // The certificate names localhost as well as 127.0.0.1.
    let by_name = https.replace("127.0.0.1", "localhost");
    run(Duration::from_secs(120), async {
        let data = content(70_000, 43);
        let file = path("lib/data.bin");
        let trusted = s3.open(&root, &by_name, &[("ca_bundle", &cert)]).await;
        if let Err(e) = trusted.put_bytes(&file, data.clone()).await {
            panic!("put over https with ca_bundle: {e}");
        }
        let ignoring = s3.open(&root, &https, &[("ignore_tls", "true")]).await;
        match ignoring.get_bytes(&file).await {
            Ok(back) => assert_eq!(sha256(&back), sha256(&data)),
            Err(e) => panic!("get over https with ignore_tls: {e}"),
        }
        // Neither: the system roots (and any AWS_CA_BUNDLE of the
        // environment) do not know a certificate made a moment ago.
        let untrusted = s3.open(&root, &https, &[("ignore_tls", "false")]).await;
        let e = match untrusted.get_bytes(&file).await {
            Ok(_) => panic!("an untrusted certificate was accepted"),
            Err(e) => e,
        };
        assert!(
            e.to_string().to_ascii_lowercase().contains("certificate"),
            "the error does not say it is a certificate problem: {e} ({:?})",
            e.kind
        );
    });
}
