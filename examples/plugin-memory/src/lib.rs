//! # arca-plugin-memory: an in-memory Arca storage plugin, and the template for yours
//!
//! This crate is meant to be copied. It holds everything a third-party plugin
//! needs and nothing more:
//!
//! - it depends on `arca-core` alone, the crate that defines the stable ABI;
//! - it implements the safe traits [`Plugin`], [`arca_core::Store`],
//!   [`arca_core::Reader`] and [`arca_core::Writer`];
//! - it calls [`arca_core::export_plugin!`] once and never writes `unsafe`.
//!
//! Stores are addressed as `memory://<bucket>/<optional prefix>`. Stores
//! opened on the same bucket share its objects within the process; the prefix
//! is the store's root inside the bucket. Like an object store, a bucket holds
//! flat keys: a directory exists exactly when some key lies under it, so an
//! empty directory cannot exist.
//!
//! The file map is the same in every Arca plugin:
//!
//! - `lib.rs`: this index, the scheme, the [`Plugin`] implementation and the
//!   export;
//! - `config.rs`: the URI and the configuration map, parsed into a typed
//!   [`MemoryConfig`];
//! - `store.rs`: the [`arca_core::Store`] implementation: how a path becomes
//!   a key of the backend, `stat`, `delete`, and the entry points of the
//!   three below;
//! - `reader.rs`, `writer.rs`, `lister.rs`: streaming reads, atomically
//!   published writes, directory listings;
//! - `error.rs`: the store's errors, made in one place (a plugin over a
//!   network client maps the client's errors to [`arca_core::ErrorKind`]s
//!   there, in one function, marking the temporary ones).
//!
//! There is no runtime code: `export_plugin!` writes the glue, and
//! [`Plugin::RUNTIME`] says how the futures run. This store never waits for
//! anything, so it keeps the default, no runtime at all; a plugin that does
//! network or file I/O says `const RUNTIME: Runtime = Runtime::Tokio {
//! worker_threads: 2 };` (with `arca-core`'s `tokio` feature) and its
//! futures then always run in a tokio runtime its library owns.
//!
//! Multipart uploads, presigned reads and local paths are not implemented,
//! so `Store`'s defaults answer them `UNSUPPORTED`, and the capabilities say
//! so.

mod config;
mod error;
mod lister;
mod reader;
mod store;
#[cfg(test)]
mod tests;
mod writer;

pub use config::{CHUNK_SIZE_KEY, MemoryConfig};
pub use reader::MemoryReader;
pub use store::MemoryStore;
pub use writer::MemoryWriter;

use arca_core::{Capabilities, Config, Plugin, Result};

/// The URI scheme this plugin serves.
pub const SCHEME: &str = "memory";

/// The plugin: its identity and its constructor.
#[derive(Debug)]
pub struct MemoryPlugin;

impl Plugin for MemoryPlugin {
    const NAME: &'static str = "memory";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = &[SCHEME];
    // Directories are implied by keys, as in an object store.
    const CAPABILITIES: Capabilities = Capabilities {
        empty_dirs: false,
        ..Capabilities::FILESYSTEM
    };
    type Store = MemoryStore;

    async fn open(uri: String, config: Config) -> Result<MemoryStore> {
        MemoryConfig::parse(&uri, config).map(MemoryStore::new)
    }
}

arca_core::export_plugin!(MemoryPlugin);
