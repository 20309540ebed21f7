//! Where this plugin's futures run.
//!
//! A plugin library owns its runtime; the host only awaits the result. A
//! plugin doing real I/O keeps its own runtime (for example a tokio runtime
//! built once in a `OnceLock`) and spawns onto it. This one never waits for
//! anything, since every operation completes in its first poll, so one short
//! thread per operation with a tiny `block_on` is enough, and keeps the crate
//! free of dependencies.

use arca_core::{BoxFuture, Error, ErrorKind, Result};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Runs `fut` to completion on a new thread.
pub fn spawn(fut: BoxFuture) -> Result<()> {
    thread::Builder::new()
        .name("arca-memory".to_owned())
        .spawn(move || block_on(fut))
        .map(drop)
        .map_err(|e| Error::new(ErrorKind::UNAVAILABLE, format!("cannot start a thread: {e}")).temporary())
}

/// Runs `fut` to completion on the current thread, parking it while the
/// future is pending.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake-up that lands between `poll` and `park` is not lost: `park`
        // returns at once after an `unpark`. A spurious return only costs a poll.
        thread::park();
    }
}

/// A waker that unparks the thread running [`block_on`].
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
