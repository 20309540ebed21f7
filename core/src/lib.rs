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
//!   handshake (magic, ABI version, layout fingerprint) refuses mismatched
//!   plugins with a clear error instead of undefined behaviour.
//! - **Async crosses as `async_ffi::FfiFuture`** and every plugin owns its
//!   runtime: a `cdylib` carries its own copy of tokio, so every poll of a
//!   plugin future happens inside the plugin's runtime context
//!   ([`Plugin::enter`]). The host polls it directly on its own threads: no
//!   task spawn, no channel, no thread hop per operation, and no thread is
//!   parked per operation.
//! - **Bytes stream in chunks** ([`FfiBuf`]) that carry their own destructor:
//!   a `Vec<u8>` or `bytes::Bytes` crosses without a copy and is freed by the
//!   allocator that made it.
//! - **Error kinds are integers** ([`ErrorKind`]), not an enum, so the set
//!   can grow without breaking old plugins or old hosts.
//! - **Panics never cross**: every exported function and every future is
//!   wrapped, and a panic becomes an `UNEXPECTED` error.
//! - **One path type** ([`ArtifactPath`]) decides what is safe, on both sides.
//!
//! A plugin author implements the safe traits [`Plugin`], [`Store`],
//! [`Reader`] and [`Writer`], then calls [`export_plugin!`] once; the crate
//! never writes `unsafe`. `core` itself has no async runtime.

pub mod abi;
pub mod error;
pub mod export;
pub mod ffi;
pub mod path;
pub mod plugin;
pub mod runtime;
pub mod types;

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
