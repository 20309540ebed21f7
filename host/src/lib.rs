//! # arca-host: Arca's store registry
//!
//! Embed Arca's storage backends in a Rust program. A [`Registry`] reads a
//! plugin manifest (a TOML file mapping URI schemes to plugin libraries),
//! loads each plugin on the first use of its scheme, checks it (magic, ABI
//! epoch, layout fingerprint, the plugin's requirements; see [`loader`]) and
//! opens [`Store`]s with idiomatic `async fn`s and `Stream`s of
//! [`bytes::Bytes`]. The `arca` command and server use nothing else.
//!
//! The default build is that library alone: no HTTP server, no command-line
//! parser, no password hashing. The server and the `arca` command are
//! features:
//!
//! | Feature | Default | What it adds |
//! | --- | --- | --- |
//! | `server` | off | `arca_host::server`, the MLflow artifact proxy behind `arca serve` (axum, HMAC-signed URLs, argon2/bcrypt users). |
//! | `cli` | off | The `arca` binary (clap, indicatif, tracing-subscriber); implies `server`. `cargo xtask build` turns it on. |
//!
//! ```no_run
//! # async fn demo() -> arca_core::Result<()> {
//! use arca_host::{ArtifactPath, Registry};
//! let registry = Registry::discover(None)?; // --plugins, $ARCA_PLUGINS, or plugins.toml beside the binary
//! let store = registry.open("file:///tmp/mlruns").await?;
//! store.put_bytes(&ArtifactPath::parse("run1/hello.txt")?, "hi").await?;
//! for entry in store.list(&ArtifactPath::parse("run1")?).await? {
//!     println!("{} {}", entry.path, entry.size);
//! }
//! # Ok(()) }
//! ```
//!
//! Policy lives here, not in plugins: retries of `temporary` errors
//! ([`retry`]), redaction of credentials in URIs ([`uri::redact`]). The
//! `Store` futures need a tokio runtime with timers enabled (for retry
//! back-off); plugin futures themselves run in their plugin's own runtime
//! context, whatever executor polls them.
//!
//! ## Configuration
//!
//! | Setting | Default | Meaning |
//! | --- | --- | --- |
//! | `--plugins FILE` (CLI) / `Registry::from_manifest` | — | The plugin manifest to read. |
//! | `ARCA_PLUGINS` | — | The manifest, when no flag names one. |
//! | `plugins.toml` beside the executable | — | The manifest otherwise. |
//! | `[plugin.config]` in the manifest | none | Default configuration passed to that plugin's `open`; `Registry::open_with` overrides it per store. |
//! | `RUST_LOG` (CLI) | off | Log filter for the `arca` command (`tracing-subscriber` syntax), written to stderr. |
//!
//! The manifest format is described in [`manifest`].

pub mod loader;
pub mod manifest;
pub mod registry;
pub mod retry;
#[cfg(feature = "server")]
pub mod server;
pub mod store;
pub mod transfer;
pub mod uri;

pub use arca_core::{ArtifactPath, ByteRange, Capabilities, Error, ErrorKind, FileInfo, ListPage, Result};
pub use manifest::{Manifest, PluginEntry};
pub use registry::{PluginStatus, Registry};
pub use store::Store;
pub use transfer::{ReadStream, WriteHandle};
