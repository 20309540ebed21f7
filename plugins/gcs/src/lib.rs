//! # arca-plugin-gcs: `gs://` URIs
//!
//! The Arca storage plugin for Google Cloud Storage, built on
//! [`object_store`]'s GCS client (the XML API) and the reads, writes and
//! listings `arca-objstore` shares with the S3 and Azure plugins. It is
//! loaded like every other backend, through the manifest; the `rlib` form
//! exists for unit tests.
//!
//! **MLflow's semantics, MLflow's settings**: directories are object-name
//! prefixes (an empty directory does not exist), and settings fall back to
//! the environment variables MLflow's `GCSArtifactRepository` (and the
//! google-cloud-storage library under it) reads. **Nothing partial is ever
//! visible**: a small write is one `PUT` at `finish`; a large one is an XML
//! multipart upload completed at `finish`, several parts in flight, aborted
//! on abort, error or drop. **No retries here**: object_store's own are
//! off; the host retries the errors this plugin marks temporary.
//!
//! ## URIs
//!
//! `gs://bucket/prefix`: the prefix (possibly empty) is the store root. A
//! query or fragment is ignored, as MLflow does.
//!
//! ## Configuration
//!
//! Each key is read from the store's configuration, else from the
//! environment variable.
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `credentials_file` | `GOOGLE_APPLICATION_CREDENTIALS` | application-default credentials, else the metadata server | A service-account key or an `authorized_user` file. `external_account` (workload identity federation) and `impersonated_service_account` files are refused by name, with what to do instead. |
//! | `endpoint` | `STORAGE_EMULATOR_HOST` | `https://storage.googleapis.com` | Another endpoint (an emulator, a private endpoint); `host:port` without a scheme means `http://host:port`, as google-cloud-storage reads it. With it and no credentials file, requests are anonymous (as that library's). |
//! | `upload_chunk_size` | `MLFLOW_GCS_UPLOAD_CHUNK_SIZE` | 8 MiB | Bytes per part of large writes: a multiple of 256 KiB; parts below 5 MiB (the XML API's smallest) are raised to it. A write up to one part is one `PUT`. |
//! | `download_chunk_size` | `MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE` | 8 MiB | Bytes per ranged `GET` of a large read: a multiple of 256 KiB. |
//! | `timeout` | `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT`, then the deprecated `MLFLOW_GCS_DEFAULT_TIMEOUT` (with a warning) | 60 | Seconds one request may take (each is at most one part); `-1`: none. A timeout is temporary, retried by the host. |
//!
//! Any other configuration key is refused by name.
//!
//! ## Credentials
//!
//! A key file named by `GOOGLE_APPLICATION_CREDENTIALS` (service account, or
//! a user's `authorized_user` refresh token); else gcloud's
//! application-default file; else the GCE/GKE metadata server (which covers
//! GKE workload identity). Which source a store uses is logged at debug
//! level (`RUST_LOG=arca_plugin_gcs=debug`), never a key.
//!
//! ## Multipart uploads and presigned reads
//!
//! A proxied multipart upload (`arca serve`'s `mpu/create`) starts an XML
//! multipart upload and hands out one V4-signed `PUT` URL per part with
//! `partNumber` and `uploadId` signed in, valid one hour, as MLflow does;
//! the client returns each part's ETag and `complete` sends the part list.
//! Presigned downloads are V4-signed `GET`s. With a service-account key the
//! URLs are signed here (`sign.rs`) for the endpoint in use, since
//! object_store's always name `storage.googleapis.com`; with metadata-server
//! credentials object_store signs through IAM `signBlob` (the public
//! endpoint only, and the account needs `iam.serviceAccountTokenCreator`);
//! without credentials both answer `UNSUPPORTED`, and MLflow's client then
//! uploads through the server.

mod config;
mod error;
mod sign;
mod store;

#[cfg(test)]
mod tests;

pub use config::{CredentialSource, GcsConfig};
pub use sign::Signer;
pub use store::GcsStore;

use arca_core::{Capabilities, Config, Plugin, Result, Runtime};

/// The URI scheme this plugin serves.
pub const SCHEME: &str = "gs";

/// The GCS plugin.
#[derive(Debug)]
pub struct GcsPlugin;

impl Plugin for GcsPlugin {
    const NAME: &'static str = "gcs";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = &[SCHEME];
    // Directories are name prefixes, so an empty one cannot exist.
    const CAPABILITIES: Capabilities = Capabilities {
        multipart: true,
        empty_dirs: false,
        presigned_read: true,
        ..Capabilities::FILESYSTEM
    };
    // Two workers: the work is network I/O, and the machine may have two cores.
    const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
    type Store = GcsStore;

    async fn open(uri: String, config: Config) -> Result<GcsStore> {
        GcsStore::open(GcsConfig::parse(&uri, config)?)
    }
}

arca_core::export_plugin!(GcsPlugin);
