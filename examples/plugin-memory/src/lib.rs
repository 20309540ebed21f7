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
//! - `store.rs`: the store with its reader and writer.
//!
//! A plugin that does real I/O owns an async runtime (a tokio runtime built
//! once in a `OnceLock`) and enters it in [`Plugin::enter`]; this one never
//! waits for anything, so it has no runtime and `enter` just runs the closure.
//!
//! There is no `error.rs`: a memory store has no native errors to classify, so
//! each [`arca_core::Error`] is built where it happens.

mod config;
mod store;
#[cfg(test)]
mod tests;

pub use config::{CHUNK_SIZE_KEY, MemoryConfig};
pub use store::{MemoryReader, MemoryStore, MemoryWriter};

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

    fn enter<R>(f: impl FnOnce() -> R) -> Result<R> {
        Ok(f())
    }

    async fn open(uri: String, config: Config) -> Result<MemoryStore> {
        MemoryConfig::parse(&uri, config).map(MemoryStore::new)
    }
}

arca_core::export_plugin!(MemoryPlugin);
