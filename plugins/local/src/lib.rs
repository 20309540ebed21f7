//! # arca-plugin-local: plain paths and `file://` URIs
//!
//! The Arca storage plugin for a directory on the local file system, which
//! includes NFS and other network mounts. It is loaded like every other
//! backend, through the manifest; the `rlib` form exists for unit tests.
//!
//! The design decision that shapes it: **nothing partial is ever visible**.
//! A write streams into a hidden temp file beside its target
//! (`.arca-tmp-<name>-<random>`, never listed) and is renamed onto the final
//! name by `finish`, after an `fsync`; `abort`, an error, or dropping the
//! writer removes the temp file. And **a symlink never leads out of the
//! root**: every path is resolved and checked against the canonical root
//! before it is used.
//!
//! ## URIs
//!
//! | Form | Example |
//! | --- | --- |
//! | `file:///abs/path` | `file:///srv/mlflow/artifacts` |
//! | `file:/abs/path` | `file:/srv/mlflow/artifacts` |
//! | `file://localhost/abs/path` | `file://localhost/srv/mlflow/artifacts` |
//! | a plain path, absolute or relative to the current directory | `./mlruns` |
//!
//! The path of a `file:` URI is percent-decoded once; a query or fragment is
//! ignored, as MLflow does. A `file:` URI naming any host but `localhost`,
//! and any other scheme, is refused. A plain path whose first segment looks
//! like a scheme (`name:`, two or more letters) is taken as a URI, as the
//! host does when routing: write `./name:x` to mean a directory. The root
//! directory is created if it is missing. An empty URI opens `./mlruns`,
//! MLflow's default local store.
//!
//! ## Configuration
//!
//! | Key | Default | Meaning |
//! | --- | --- | --- |
//! | `chunk_size` | 1 MiB ([`arca_core::CHUNK_SIZE`]) | Bytes per chunk when reading, at most 64 MiB. |
//! | `fsync` | `true` | Sync each finished file and its directory to stable storage before `finish` returns. Each file then waits for two flushes: with MLflow's client, which uploads one file at a time, about 1.5 ms per small file on a virtual disk (2,000 × 4 KiB through `arca serve`: 5.80 s, 3.44 s with `false`; `cargo xtask bench client`). `false` is the durability MLflow's own server gives; turn it off only for data that a crash may lose. |
//!
//! Any other key is refused by name.
//!
//! ## Capabilities
//!
//! Everything a file system has, and `local_files` (ABI 3.1): `local_path`
//! names a file's place on this machine, resolved like a read (a symlink out
//! of the root is refused), so `arca cp` downloads it with the kernel's copy
//! path instead of streaming it through the plugin; and `rename` (ABI 3.2),
//! one `rename(2)` checked like a write, so `arca serve` publishes a
//! multipart upload it assembled in place without copying it. No multipart uploads and
//! no presigned reads: `arca serve` does those itself for this store.

mod config;
mod error;
mod lister;
mod reader;
mod store;
mod writer;

#[cfg(test)]
mod tests;

pub use config::LocalConfig;
pub use reader::LocalReader;
pub use store::LocalStore;
pub use writer::LocalWriter;

use arca_core::{Capabilities, Config, Plugin, Result, Runtime};

/// The URI scheme this plugin serves.
pub const SCHEME: &str = "file";

/// The local file system plugin.
#[derive(Debug)]
pub struct LocalPlugin;

impl Plugin for LocalPlugin {
    const NAME: &'static str = "local";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = &[SCHEME];
    const CAPABILITIES: Capabilities = Capabilities {
        local_files: true,
        rename: true,
        ..Capabilities::FILESYSTEM
    };
    // Two workers are plenty: the file work happens on the blocking pool.
    const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
    type Store = LocalStore;

    async fn open(uri: String, config: Config) -> Result<LocalStore> {
        LocalStore::open(LocalConfig::parse(&uri, config)?).await
    }
}

arca_core::export_plugin!(LocalPlugin);
