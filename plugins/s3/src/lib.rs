//! # arca-plugin-s3: `s3://` URIs
//!
//! The Arca storage plugin for Amazon S3 and S3-compatible servers (Ceph
//! radosgw, MinIO, …), built on [`object_store`]'s S3 client. It is loaded
//! like every other backend, through the manifest; the `rlib` form exists
//! for unit tests.
//!
//! The design decisions that shape it: **MLflow's semantics, MLflow's
//! settings**: directories are key prefixes (so an empty directory does not
//! exist), and every setting falls back to the environment variable MLflow
//! reads, so a deployment configured for MLflow works unchanged. **Nothing
//! partial is ever visible**: a small write is one `PUT` at `finish`; a large
//! one is a multipart upload that only `CompleteMultipartUpload` publishes,
//! aborted on `abort`, on error, or when the writer is dropped. **No retries
//! here**: object_store's own retries are off; the host retries the errors
//! this plugin marks temporary.
//!
//! ## URIs
//!
//! `s3://bucket/prefix`: the prefix (possibly empty) is the store root, and
//! an artifact path `a/b` is the key `prefix/a/b`. A query or fragment is
//! ignored, as MLflow does; credentials in the URI are refused.
//!
//! ## Configuration
//!
//! Each key is read from the store's configuration, else from the
//! environment variable (MLflow's name and meaning).
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `endpoint_url` | `MLFLOW_S3_ENDPOINT_URL` | AWS | The server's base URL, `http(s)://host[:port]`. A URL with a path (a bucket, a key) is refused: put the bucket in the artifact URI. `http://` is allowed. |
//! | `access_key_id` | `AWS_ACCESS_KEY_ID` | instance credentials | Access key. |
//! | `secret_access_key` | `AWS_SECRET_ACCESS_KEY` | instance credentials | Secret key (never shown in `Debug`, logs or errors). |
//! | `session_token` | `AWS_SESSION_TOKEN` | none | Session token of temporary credentials. |
//! | `region` | `AWS_REGION`, then `AWS_DEFAULT_REGION` | `us-east-1` | Signing region. |
//! | `ignore_tls` | `MLFLOW_S3_IGNORE_TLS` | `false` | `true`: accept any TLS certificate. |
//! | `ca_bundle` | `AWS_CA_BUNDLE` | system roots | A PEM file of extra root certificates. |
//! | `signature_version` | `MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION` | `s3v4` | `unsigned`: anonymous requests. |
//! | `addressing_style` | `MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE` | `auto` | `path`, `virtual`, or `auto` (path with a custom endpoint, virtual on AWS). |
//! | `multipart_chunk_size` | `MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE` | 8 MiB | Part size of large writes, 5 MiB to 5 GiB; a write up to this size is a single `PUT`. |
//! | `upload_extra_args` | `MLFLOW_S3_UPLOAD_EXTRA_ARGS` | none | JSON object: `ServerSideEncryption` (`AES256`, `aws:kms`, `aws:kms:dsse`), `SSEKMSKeyId`, `ContentType`, `CacheControl`, `ContentEncoding`, `ContentDisposition`, `ContentLanguage`, `StorageClass`, `Metadata` (object of strings). Any other key is refused by name. |
//!
//! Any other configuration key is refused by name.
//!
//! ## Capabilities
//!
//! Everything but empty directories. Multipart uploads hand out presigned
//! `UploadPart` URLs (valid one hour) for the client to `PUT` parts to.

mod config;
mod error;
mod extra_args;
mod lister;
mod parts;
mod reader;
mod store;
mod writer;

#[cfg(test)]
mod reader_tests;
#[cfg(test)]
mod tests;

pub use config::S3Config;
pub use reader::S3Reader;
pub use store::S3Store;
pub use writer::S3Writer;

use arca_core::{Capabilities, Config, Error, Plugin, Result};
use std::sync::OnceLock;
use tokio::runtime::Runtime;

/// The URI scheme this plugin serves.
pub const SCHEME: &str = "s3";

/// The S3 plugin.
#[derive(Debug)]
pub struct S3Plugin;

/// This library's own runtime: a `cdylib` has its own copy of tokio, so its
/// futures cannot run on the host's.
static RUNTIME: OnceLock<Runtime> = OnceLock::new();

pub(crate) fn runtime() -> Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // Two workers: the work is network I/O, and the machine may have two cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("arca-s3")
        .enable_all()
        .build()
        .map_err(|e| Error::unexpected(format!("cannot start the runtime of the s3 plugin: {e}")))?;
    // Another thread may have won the race; the spare runtime is shut down
    // without blocking, which is allowed even on a runtime thread.
    if let Err(spare) = RUNTIME.set(rt) {
        spare.shutdown_background();
    }
    RUNTIME
        .get()
        .ok_or_else(|| Error::unexpected("the runtime of the s3 plugin is not available"))
}

impl Plugin for S3Plugin {
    const NAME: &'static str = "s3";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = &[SCHEME];
    // Directories are key prefixes, so an empty one cannot exist.
    const CAPABILITIES: Capabilities = Capabilities {
        multipart: true,
        empty_dirs: false,
        ..Capabilities::FILESYSTEM
    };
    type Store = S3Store;

    fn enter<R>(f: impl FnOnce() -> R) -> Result<R> {
        let _guard = runtime()?.enter();
        Ok(f())
    }

    async fn open(uri: String, config: Config) -> Result<S3Store> {
        S3Store::open(S3Config::parse(&uri, config)?)
    }
}

arca_core::export_plugin!(S3Plugin);
