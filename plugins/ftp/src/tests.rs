//! Tests against the FTP servers `cargo xtask test` starts, named by
//! `ARCA_FTP_TEST_URI` (pure-ftpd, or pyftpdlib where pure-ftpd cannot
//! run) and `ARCA_FTPS_TEST_URI` with `MLFLOW_TRACKING_SERVER_CERT_PATH`
//! (pure-ftpd's explicit TLS and its self-signed certificate). Without them
//! they return early on a developer's machine, but fail under CI. The
//! conformance suite is where the plugin is proven; these add what it
//! cannot express: a wrong password, and the TLS settings.

use crate::{FtpConfig, FtpStore};
use arca_core::{ArtifactPath, Config, ErrorKind, FfiBuf, Reader, Result, Store, Writer};

fn var(name: &str) -> Option<String> {
    let v = std::env::var(name).ok().filter(|v| !v.is_empty());
    if v.is_none() && std::env::var_os("CI").is_some() {
        panic!("{name} is not set under CI: `cargo xtask test` must start the FTP servers");
    }
    if v.is_none() {
        eprintln!("{name} is not set (run `cargo xtask test`); skipped");
    }
    v
}

fn p(s: &str) -> ArtifactPath {
    ArtifactPath::parse(s).unwrap_or_else(|e| panic!("bad path {s}: {e}"))
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start a runtime: {e}"),
    }
}

/// A store under a fresh directory of `base`, with `pairs` as its
/// configuration and no environment.
fn open(base: &str, name: &str, pairs: &[(&str, &str)]) -> Result<FtpStore> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let uri = format!("{}/unit-{name}-{nanos}", base.trim_end_matches('/'));
    FtpStore::open(FtpConfig::parse_with_env(
        &uri,
        Config::from_pairs(pairs.iter().copied()),
        &|_| None,
    )?)
}

async fn round_trip(store: &FtpStore) -> Result<Vec<u8>> {
    let mut w = store.write(&p("d/f.txt")).await?;
    w.write(FfiBuf::from_vec(b"over the wire".to_vec())).await?;
    w.finish().await?;
    let mut r = store.read(&p("d/f.txt"), None).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        out.extend_from_slice(c.as_bytes());
    }
    store.delete(&p("")).await?;
    Ok(out)
}

#[test]
fn a_wrong_password_is_one_clear_authentication_error() {
    let Some(base) = var("ARCA_FTP_TEST_URI") else { return };
    let wrong = base.replacen(":s3cr%3At@", ":not-it@", 1);
    assert_ne!(wrong, base, "the test URI's password changed");
    let store = open(&wrong, "wrong", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    let e = block_on(store.stat(&p("x")))
        .err()
        .unwrap_or_else(|| panic!("a wrong password logged in"));
    assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED, "{e:?}");
    assert!(!e.message.contains("not-it"), "the password leaked: {}", e.message);
    assert!(e.message.contains("530"), "{}", e.message);
}

#[test]
fn a_self_signed_certificate_is_refused_unless_trusted() {
    let (Some(base), Some(cert)) = (var("ARCA_FTPS_TEST_URI"), var("MLFLOW_TRACKING_SERVER_CERT_PATH")) else {
        return;
    };
    block_on(async {
        let store = open(&base, "untrusted", &[]).unwrap_or_else(|e| panic!("{e:?}"));
        let e = round_trip(&store)
            .await
            .err()
            .unwrap_or_else(|| panic!("an untrusted certificate was accepted"));
        assert!(!e.temporary, "{e:?}");
        assert!(
            e.message.contains("not trusted") && e.message.contains("ca_bundle"),
            "{}",
            e.message
        );
        let store = open(&base, "ca", &[("ca_bundle", &cert)]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            round_trip(&store).await.unwrap_or_else(|e| panic!("{e:?}")),
            b"over the wire"
        );
        let store = open(&base, "ignore", &[("ignore_tls", "true")]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            round_trip(&store).await.unwrap_or_else(|e| panic!("{e:?}")),
            b"over the wire"
        );
    });
}
