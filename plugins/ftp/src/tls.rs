//! Explicit FTPS (`AUTH TLS`, then `PBSZ 0` / `PROT P`, so data connections
//! are encrypted too), on rustls with the aws-lc provider, as the other
//! plugins' HTTPS. Certificates are checked against the system's roots and
//! any `ca_bundle`; `ignore_tls` accepts any certificate.

use crate::config::FtpConfig;
use arca_core::{Error, ErrorKind, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use suppaftp::tokio::AsyncRustlsConnector;

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::CONFIG_INVALID, message)
}

/// The TLS client configuration of `config` (for an `ftps://` store).
pub(crate) fn client_config(config: &FtpConfig) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("cannot set up TLS: {e}")))?;
    let tls = if config.ignore_tls {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        // The system's roots; one unreadable certificate among them is skipped.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &config.ca_bundle {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| invalid(format!("cannot read ca_bundle {path}: {e}")))?;
            for cert in certs {
                let cert = cert.map_err(|e| invalid(format!("ca_bundle {path} is not a PEM bundle: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("ca_bundle {path} holds a certificate rustls refuses: {e}")))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(tls))
}

/// The connector for `into_secure`.
pub(crate) fn connector(tls: &Arc<ClientConfig>) -> AsyncRustlsConnector {
    AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(tls.clone()))
}

/// Accepts any certificate (`ignore_tls`), still checking the handshake's
/// signatures with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
