//! Self-signed certificates for the test servers' TLS endpoints (radosgw's
//! HTTPS, pure-ftpd's FTPS).

use crate::servers::run_until;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A certificate and its private key (PEM files).
#[derive(Debug)]
pub struct Tls {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Makes a self-signed certificate for `127.0.0.1` and `localhost` in `dir`
/// with the `openssl` command. It is its own trust anchor and not a CA
/// (`CA:FALSE`), as TLS libraries that refuse a CA certificate used by a
/// server (rustls) require.
pub fn self_signed_certificate(dir: &Path, name: &str, deadline: Instant, log: &Path) -> Result<Tls, String> {
    if !crate::servers::installed("openssl") {
        return Err("the openssl command is not installed (Debian package openssl)".to_owned());
    }
    let tls = Tls {
        certificate: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    run_until(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                // A subject of its own: a system store may hold another
                // self-signed `CN=localhost` (Debian's snakeoil certificate),
                // which a verifier would try as the issuer.
                "-subj",
                &format!("/CN=arca-test-{name}"),
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
                "-keyout",
            ])
            .arg(&tls.key)
            .arg("-out")
            .arg(&tls.certificate),
        deadline,
        log,
        "openssl req (self-signed certificate)",
    )?;
    Ok(tls)
}
