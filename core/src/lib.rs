//! # arca-core: the stable plugin ABI of Arca
//!
//! Arca loads every storage backend (local disk, S3, Azure, GCS, FTP, SFTP,
//! HDFS, and third-party ones) as a plugin library at run time. This crate is
//! the only thing a plugin and the host share, so it holds only what crosses
//! that boundary, and it decides these things once:
//!
//! - **A hand-written `#[repr(C)]` vtable**, not a Rust trait object: Rust has
//!   no stable ABI, so every function is `extern "C"` and every type that
//!   crosses is `#[repr(C)]` ([`abi`], [`ffi`], [`types`]). A load-time
//!   handshake (magic, ABI epoch, layout fingerprint) refuses mismatched
//!   plugins with a clear error instead of undefined behaviour.
//! - **The ABI only grows by appending** ([`abi`] has the rule): the
//!   operations table carries its own size, so a plugin built against an
//!   older `arca-core` keeps loading in a newer host (what it lacks answers
//!   `UNSUPPORTED`), and a newer plugin loads in an older host unless it
//!   declares a [`Requirement`] the host does not meet. Capabilities cross as
//!   bits, error kinds as integers ([`ErrorKind`]), so both sets can grow.
//! - **Async crosses as `async_ffi::FfiFuture`** and every plugin owns its
//!   runtime: a `cdylib` carries its own copy of tokio, so every poll of a
//!   plugin future happens inside the plugin's runtime context
//!   ([`Plugin::enter`]). The host polls it directly on its own threads: no
//!   task spawn, no channel, no thread hop per operation, and no thread is
//!   parked per operation. The runtime itself is written once, here
//!   ([`runtime`], feature `tokio`): a plugin only names it.
//! - **Bytes stream in chunks** ([`FfiBuf`]) that carry their own destructor:
//!   a `Vec<u8>` or `bytes::Bytes` crosses without a copy and is freed by the
//!   allocator that made it.
//! - **Panics never cross**: every exported function and every future is
//!   wrapped, and a panic becomes an `UNEXPECTED` error.
//! - **One path type** ([`ArtifactPath`]) decides what is safe, on both sides.
//!
//! ## Writing a plugin
//!
//! Implement the safe traits [`Plugin`], [`Store`], [`Reader`] and
//! [`Writer`], then call [`export_plugin!`] once; the crate never writes
//! `unsafe` and has no runtime code of its own. `examples/plugin-memory` in
//! the Arca repository is the template to copy.
//!
//! ```ignore
//! impl arca_core::Plugin for MyPlugin {
//!     const NAME: &'static str = "mine";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const SCHEMES: &'static [&'static str] = &["mine"];
//!     const CAPABILITIES: Capabilities = Capabilities { empty_dirs: false, ..Capabilities::FILESYSTEM };
//!     const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
//!     type Store = MyStore;
//!     async fn open(uri: String, config: Config) -> Result<MyStore> { MyStore::open(&uri, config).await }
//! }
//! arca_core::export_plugin!(MyPlugin);
//! ```
//!
//! ## Features
//!
//! | Feature | Default | What it adds |
//! | --- | --- | --- |
//! | `tokio` | off | [`Runtime::Tokio`]: a multi-threaded tokio runtime owned by the plugin library, and [`runtime::tokio_runtime`] for work that outlives an operation. Without it `arca-core` has no async runtime and no dependency beyond `async-ffi`. |
//!
//! `rust-version` is 1.85 (edition 2024); a plugin needs no newer Rust
//! because of this crate.

pub mod abi;
pub mod error;
pub mod export;
pub mod ffi;
pub mod path;
pub mod plugin;
pub mod runtime;
pub mod types;
pub mod uri;

pub use abi::Requirement;
pub use error::{Error, ErrorKind, Result};
pub use ffi::FfiBuf;
pub use path::{ArtifactPath, PathError};
pub use plugin::{Chunk, Config, Plugin, Reader, Store, Writer};
pub use runtime::Runtime;
pub use types::{
    ByteRange, Capabilities, CompletedPart, FileInfo, ListPage, MultipartUpload, PresignedPart, PresignedUrl,
};

/// The chunk size stores should aim for when reading (1 MiB): large enough
/// that the per-chunk boundary cost is noise, small enough to bound memory.
pub const CHUNK_SIZE: usize = 1 << 20;
