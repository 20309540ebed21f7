//! The S3 plugin against a real radosgw, beyond what the conformance suite
//! can express: TLS (radosgw's HTTPS endpoint with a self-signed
//! certificate) and fault injection (a proxy between the plugin and radosgw
//! that answers 503 SlowDown, resets connections mid-body and stalls).
//!
//! The server is the one `cargo xtask test` starts (`MLFLOW_S3_ENDPOINT_URL`
//! and the credentials, `ARCA_TEST_S3_BUCKET`, `ARCA_TEST_S3_HTTPS_ENDPOINT`,
//! `ARCA_TEST_S3_CA_BUNDLE`); the plugin is loaded through the real manifest
//! (`ARCA_PLUGINS`), and the CLI tests run the real `arca` (`ARCA_BIN`).
//! Without a server the tests return early, but fail under CI (`CI` set).
//! Every test works under a fresh prefix it deletes at the end, and is
//! bounded in time.

mod faults;
mod multipart_faults;
mod proxy;
mod sigv4;
mod support;
mod tls;
