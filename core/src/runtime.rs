//! The async runtime a plugin's futures run on ([`crate::Plugin::RUNTIME`]).
//!
//! A plugin library carries its own copy of every crate it links, tokio
//! included, so its futures cannot use the host's runtime: a plugin that
//! waits on timers, sockets or blocking work owns a runtime, and every poll
//! of its futures happens inside it ([`crate::Plugin::enter`]). This module
//! is that runtime, written once for every plugin: with the `tokio` feature,
//! `const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };` is all a
//! plugin says about it. Without the feature, `arca-core` has no runtime and
//! no dependency beyond the ABI's.

use crate::Plugin;
use crate::error::Result;

/// How a plugin's futures are run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Runtime {
    /// No runtime: the futures never wait on timers, sockets or blocking
    /// work (an in-memory store), so they run on whatever polls them.
    None,
    /// A multi-threaded tokio runtime owned by the plugin library, started
    /// on first use with all drivers the library's tokio has, its threads
    /// named `arca-<plugin name>`.
    #[cfg(feature = "tokio")]
    Tokio {
        /// Worker threads (blocking work has its own pool).
        worker_threads: usize,
    },
}

/// Runs `f` inside `P`'s runtime.
pub(crate) fn enter<P: Plugin + ?Sized, R>(f: impl FnOnce() -> R) -> Result<R> {
    match P::RUNTIME {
        Runtime::None => Ok(f()),
        #[cfg(feature = "tokio")]
        Runtime::Tokio { .. } => {
            let _guard = tokio_runtime::<P>()?.enter();
            Ok(f())
        }
    }
}

#[cfg(feature = "tokio")]
pub use self::tokio_rt::tokio_runtime;

#[cfg(feature = "tokio")]
mod tokio_rt {
    use super::Runtime;
    use crate::Plugin;
    use crate::error::{Error, Result};
    use std::sync::OnceLock;
    use tokio::runtime::Runtime as Tokio;

    /// The library's runtime. One per copy of `arca-core`, so one per plugin
    /// library.
    static RUNTIME: OnceLock<Tokio> = OnceLock::new();

    /// The tokio runtime of plugin `P` (whose [`Plugin::RUNTIME`] is
    /// [`Runtime::Tokio`]), started on first use. For work that must outlive
    /// the operation that starts it, e.g. an abort spawned from a `Drop`.
    pub fn tokio_runtime<P: Plugin + ?Sized>() -> Result<&'static Tokio> {
        if let Some(rt) = RUNTIME.get() {
            return Ok(rt);
        }
        let Runtime::Tokio { worker_threads } = P::RUNTIME else {
            return Err(Error::unexpected(format!(
                "plugin {} asked for its tokio runtime but declares none",
                P::NAME
            )));
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name(format!("arca-{}", P::NAME))
            .enable_all()
            .build()
            .map_err(|e| Error::unexpected(format!("cannot start the runtime of plugin {}: {e}", P::NAME)))?;
        // Another thread may have won the race; the spare runtime is shut
        // down without blocking, which is allowed even on a runtime thread.
        if let Err(spare) = RUNTIME.set(rt) {
            spare.shutdown_background();
        }
        RUNTIME
            .get()
            .ok_or_else(|| Error::unexpected(format!("the runtime of plugin {} is not available", P::NAME)))
    }
}
