//! # arca-plugin-azure: `wasbs://` (and `abfss://`) URIs
//!
//! The Arca storage plugin for Azure Blob Storage, built on
//! [`object_store`]'s Azure client, with the reads, writes and listings
//! `arca-objstore` shares with the S3 plugin. It is loaded like every other
//! backend, through the manifest; the `rlib` form exists for unit tests.
//!
//! **MLflow's semantics, MLflow's settings**: directories are blob-name
//! prefixes (an empty directory does not exist), and settings fall back to
//! the environment variables MLflow's `AzureBlobArtifactRepository` reads.
//! **Nothing partial is ever visible**: a small write is one Put Blob at
//! `finish`; a large one is blocks committed by one Put Block List at
//! `finish`, several blocks in flight. **No retries here**: object_store's
//! own are off; the host retries the errors this plugin marks temporary.
//!
//! ## URIs
//!
//! `wasbs://<container>@<account>.blob.core.windows.net/<path>`, with the
//! China (`.blob.core.chinacloudapi.cn`) and US Government
//! (`.blob.core.usgovcloudapi.net`) clouds; `abfss://<filesystem>@<account>.dfs.core.windows.net/<path>`
//! reaches an ADLS Gen2 account through its blob endpoint (the same
//! client; hierarchical-namespace accounts serve the Blob API too). Any other
//! form is refused with the expected one. The path (possibly empty) is the
//! store root.
//!
//! ## Configuration
//!
//! Each key is read from the store's configuration, else from the
//! environment variable.
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `connection_string` | `AZURE_STORAGE_CONNECTION_STRING` | none | MLflow's first choice. `Key=Value;…` with `DefaultEndpointsProtocol`, `AccountName`, `AccountKey`, `BlobEndpoint`, `SharedAccessSignature`, `EndpointSuffix`, or `UseDevelopmentStorage=true` (Azurite on `127.0.0.1:10000`). The account and endpoint come from the string, as in MLflow: the URI's account then only names the store. |
//! | `access_key` | `AZURE_STORAGE_ACCESS_KEY` | none | The account key, used with `https://<account>.blob.<cloud>` when there is no connection string. |
//! | `sas_token` | `AZURE_STORAGE_SAS_TOKEN` | none | A SAS token (what MLflow's ADLS repository reads), when neither of the above is set. |
//! | `endpoint` | — | from the above | The blob endpoint, e.g. `http://127.0.0.1:10000/devstoreaccount1`; wins over the connection string's. |
//! | `use_azure_cli` | `AZURE_USE_AZURE_CLI` | `false` | Let the default chain ask the Azure CLI for tokens. |
//! | `timeout` | `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT` | 600 | Seconds one request may take (every request is at most one block or one 16 MiB read, so a large file is never cut off). A timeout is temporary, retried by the host. |
//! | `part_size` | — | 8 MiB | Block size of large writes, 1 MiB to 4000 MiB; a write up to this size is one Put Blob. |
//! | `ignore_tls` | `MLFLOW_TRACKING_INSECURE_TLS` | `false` | `true`: accept any TLS certificate. |
//! | `ca_bundle` | `MLFLOW_TRACKING_SERVER_CERT_PATH` | system roots | A PEM file of extra root certificates. |
//!
//! Any other configuration key is refused by name.
//!
//! ## Credentials
//!
//! In MLflow's order: the connection string, the account key, a SAS token;
//! without any of them, the default chain, which is object_store's: a
//! workload identity (`AZURE_FEDERATED_TOKEN_FILE` with `AZURE_CLIENT_ID`
//! and `AZURE_TENANT_ID`), a client secret (`AZURE_CLIENT_SECRET` with the
//! same two), the Azure CLI when `use_azure_cli` is set, else managed
//! identity (the instance metadata endpoint). Unlike Python's
//! `DefaultAzureCredential` it has no certificate credential
//! (`AZURE_CLIENT_CERTIFICATE_PATH`) and no IDE logins, and it tries the
//! CLI only when asked. Which credential a store uses is logged at debug
//! level (`RUST_LOG=arca_plugin_azure=debug`), never its value.
//!
//! ## Multipart uploads and presigned reads
//!
//! A proxied multipart upload (`arca serve`'s `mpu/create`) hands out one
//! Put Block URL per part: the blob's SAS (write, one hour) followed by
//! `comp=block&blockid=<base64 id>`. There is no upload id. Block ids have
//! one width (`arca-block-000001`…), as Azure requires of every block of a
//! blob. `complete` reads each part's id back from the URL the client
//! returns, checks it is the one handed out for its number, and commits the
//! list; `abort` has nothing to do (uncommitted blocks are dropped by
//! Azure). Presigned downloads are SAS `GET` URLs. Both need a credential
//! that can sign (an account key, or a token for a user-delegation key): a
//! store with a SAS token answers them `UNSUPPORTED`, and MLflow's client
//! then uploads through the server.
//!
//! ## What differs from MLflow
//!
//! Deleting a path with nothing under it succeeds (MLflow's raises, and the
//! proxy's 500 stops `mlflow gc`). Block ids have one width (MLflow's
//! `mlflow_block_{i}` fail at part 10 on the real service).

mod config;
mod error;
mod sas_delete;
mod store;

#[cfg(test)]
mod tests;

pub use config::{AzureConfig, ConnectionString, Credential};
pub use store::{AzureStore, block_id};

use arca_core::{Capabilities, Config, Plugin, Result, Runtime};

/// The URI schemes this plugin serves.
pub const SCHEMES: &[&str] = &["wasbs", "abfss"];

/// The Azure Blob plugin.
#[derive(Debug)]
pub struct AzurePlugin;

impl Plugin for AzurePlugin {
    const NAME: &'static str = "azure";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = SCHEMES;
    // Directories are name prefixes, so an empty one cannot exist.
    const CAPABILITIES: Capabilities = Capabilities {
        multipart: true,
        empty_dirs: false,
        presigned_read: true,
        ..Capabilities::FILESYSTEM
    };
    // Two workers: the work is network I/O, and the machine may have two cores.
    const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
    type Store = AzureStore;

    async fn open(uri: String, config: Config) -> Result<AzureStore> {
        AzureStore::open(AzureConfig::parse(&uri, config)?)
    }
}

arca_core::export_plugin!(AzurePlugin);
