//! # arca-plugin-ftp: `ftp://` URIs
//!
//! The Arca storage plugin for FTP servers, on [`suppaftp`]'s tokio client.
//! It is loaded like every other backend, through the manifest; the `rlib`
//! form exists for unit tests.
//!
//! FTP has real directories and renames, so the plugin is closer to the
//! local one than to the object stores: **writes go to a hidden temporary
//! file beside the target** (`.arca-….tmp`, never listed) and `finish`
//! renames it into place (`RNFR`/`RNTO`), so nothing partial is ever
//! visible under the final name; missing parent directories are made
//! (`MKD`). **Listings use `MLSD`** (exact names, sizes and times) where the
//! server offers it, else `LIST` read as `ls -l`; `stat` uses `MLST`.
//! **Deletes are recursive** (`DELE`, then `RMD` bottom-up), and a missing
//! path is success: MLflow's FTP repository cannot delete, so its proxy
//! answers 500 where `arca serve` answers 200. Passive mode is `EPSV`.
//! **No retries here**: connection failures and the server's 4xx replies
//! are marked temporary, and the host retries them.
//!
//! ## URIs
//!
//! `ftp://user[:password]@host[:port]/path`: the password is
//! percent-decoded (as MLflow does; the user is taken as written) and never
//! shown (`ftp://user:***@host/…` in messages); without a user the login is
//! `anonymous`; the port defaults to 21; the path (default `/`) is the store
//! root, an absolute path on the server (for a chrooted user, `/` is the
//! login directory).
//!
//! ## Configuration
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `timeout` | `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT` | none | Seconds a command or a transfer may go without progress (an idle timeout, never a limit on a whole transfer). A timeout is temporary, retried by the host. |
//! | `max_connections` | — | 8 | Control connections a store keeps, at most: one per operation or transfer in flight; idle ones are reused. |
//!
//! | `ignore_tls` | `MLFLOW_TRACKING_INSECURE_TLS` | `false` | `ftps://`: accept any certificate. |
//! | `ca_bundle` | `MLFLOW_TRACKING_SERVER_CERT_PATH` | system roots | `ftps://`: a PEM file of extra root certificates. |
//!
//! Any other configuration key is refused by name.
//!
//! ## FTPS
//!
//! `ftps://…` is explicit TLS (`AUTH TLS`, then `PBSZ 0` and `PROT P`, so
//! the data connections are encrypted too), on rustls with the aws-lc
//! provider like the other plugins' HTTPS. The certificate must chain to the
//! system's roots or `ca_bundle`, and name the host; an untrusted one is
//! refused with an error that names both settings.

mod config;
mod error;
mod lister;
mod pool;
mod reader;
mod store;
mod tls;
mod writer;

#[cfg(test)]
mod tests;

pub use config::FtpConfig;
pub use reader::FtpReader;
pub use store::FtpStore;
pub use writer::FtpWriter;

use arca_core::{Capabilities, Config, Plugin, Result, Runtime};

/// The URI schemes this plugin serves.
pub const SCHEMES: &[&str] = &["ftp", "ftps"];

/// The FTP plugin.
#[derive(Debug)]
pub struct FtpPlugin;

impl Plugin for FtpPlugin {
    const NAME: &'static str = "ftp";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = SCHEMES;
    // Real directories; no presigned transfers.
    const CAPABILITIES: Capabilities = Capabilities {
        multipart: false,
        presigned_read: false,
        ..Capabilities::FILESYSTEM
    };
    const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
    type Store = FtpStore;

    async fn open(uri: String, config: Config) -> Result<FtpStore> {
        FtpStore::open(FtpConfig::parse(&uri, config)?)
    }
}

arca_core::export_plugin!(FtpPlugin);
