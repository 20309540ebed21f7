//! The glue [`crate::export_plugin!`] instantiates: `extern "C"` functions
//! generic over a [`Plugin`], which convert arguments, hand the host the
//! plugin's future wrapped so that every poll (and its drop) runs inside the
//! plugin's runtime ([`Plugin::enter`]), and convert results and panics back.
//!
//! Invariant: no function here lets a panic unwind into the host, and no
//! future it returns ever panics when polled.

use crate::abi::{
    ABI_MINOR, ABI_VERSION, FfiOp, MAGIC, PluginDecl, PluginVTable, ReaderHandle, StoreHandle, WriterHandle,
};
use crate::error::{Error, Result};
use crate::ffi::{FfiBuf, FfiKv, FfiResult, FfiSlice, FfiStr, FfiUnit};
use crate::path::ArtifactPath;
use crate::plugin::{Config, Plugin, Reader, Store, Writer};
use crate::types::{
    CompletedPart, FfiCompletedPart, FfiFileInfo, FfiListPage, FfiMultipartUpload, FfiPresignedUrl, FfiRange,
};
use async_ffi::FutureExt as _;
use std::any::Any;
use std::ffi::c_void;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

/// Turns a panic payload into a readable message.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

fn panicked<P: Plugin>(what: &str, msg: &str) -> Error {
    Error::unexpected(format!("plugin {} panicked in {what}: {msg}", P::NAME))
}

fn ready<T: Send + 'static>(r: Result<T>) -> FfiOp<T> {
    let r = match r {
        Ok(v) => FfiResult::Ok(v),
        Err(e) => FfiResult::Err(e.into_ffi()),
    };
    async move { r }.into_ffi()
}

/// A plugin future as the host sees it: every poll (and the final drop) runs
/// inside the plugin's runtime context, and a panic becomes an error.
struct InPlugin<P: Plugin, F> {
    fut: Option<Pin<Box<F>>>,
    what: &'static str,
    _plugin: PhantomData<fn() -> P>,
}

impl<P: Plugin, T, F: Future<Output = Result<T>>> Future for InPlugin<P, F> {
    type Output = FfiResult<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let what = self.what;
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(FfiResult::Err(
                Error::unexpected(format!("{what} polled after completion")).into_ffi(),
            ));
        };
        let fut = fut.as_mut();
        let out = match catch_unwind(AssertUnwindSafe(move || P::enter(move || fut.poll(cx)))) {
            Ok(Ok(Poll::Pending)) => return Poll::Pending,
            Ok(Ok(Poll::Ready(r))) => r,
            Ok(Err(e)) => Err(e),
            Err(p) => Err(panicked::<P>(what, &panic_message(p.as_ref()))),
        };
        // Dropped here, inside the context, rather than later on a host thread.
        let done = self.fut.take();
        let _ = catch_unwind(AssertUnwindSafe(move || P::enter(move || drop(done))));
        Poll::Ready(match out {
            Ok(v) => FfiResult::Ok(v),
            Err(e) => FfiResult::Err(e.into_ffi()),
        })
    }
}

impl<P: Plugin, F> Drop for InPlugin<P, F> {
    fn drop(&mut self) {
        if let Some(fut) = self.fut.take() {
            // A cancelled operation: drop its state where its resources live.
            let _ = catch_unwind(AssertUnwindSafe(move || P::enter(move || drop(fut))));
        }
    }
}

/// Wraps a plugin future for the host.
fn run<P, T, F>(what: &'static str, fut: F) -> FfiOp<T>
where
    P: Plugin,
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    InPlugin::<P, F> {
        fut: Some(Box::pin(fut)),
        what,
        _plugin: PhantomData,
    }
    .into_ffi()
}

/// Drops plugin state inside the plugin's runtime context, catching panics.
fn drop_in_plugin<P: Plugin, T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || P::enter(move || drop(value))));
}

/// Runs the synchronous part of a thunk, catching panics.
fn guard<P: Plugin, T: Send + 'static>(what: &'static str, f: impl FnOnce() -> FfiOp<T>) -> FfiOp<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(op) => op,
        Err(p) => ready(Err(panicked::<P>(what, &panic_message(p.as_ref())))),
    }
}

fn str_arg(s: FfiStr<'_>, what: &str) -> Result<String> {
    s.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid_input(format!("{what} is not valid UTF-8")))
}

fn path_arg(s: FfiStr<'_>) -> Result<ArtifactPath> {
    Ok(ArtifactPath::parse(&str_arg(s, "path")?)?)
}

type StoreBox<P> = Arc<<P as Plugin>::Store>;
type Slot<T> = Arc<Mutex<Option<T>>>;

/// # Safety
/// `h` must be a live handle made by `open_thunk::<P>`.
unsafe fn store<P: Plugin>(h: StoreHandle) -> StoreBox<P> {
    // SAFETY: the handle is a `Box<StoreBox<P>>` made by `open_thunk`, alive until `store_drop`.
    unsafe { (*(h.0 as *const StoreBox<P>)).clone() }
}

/// # Safety
/// `h` must be a live handle made from a `Box<Slot<T>>`.
unsafe fn slot<T>(h: *mut c_void) -> Slot<T> {
    // SAFETY: see above.
    unsafe { (*(h as *const Slot<T>)).clone() }
}

fn take<T>(slot: &Slot<T>, what: &str) -> Result<T> {
    slot.lock()
        .ok()
        .and_then(|mut g| g.take())
        .ok_or_else(|| Error::invalid_input(format!("{what} is busy or already closed")))
}

fn put<T>(slot: &Slot<T>, v: T) {
    if let Ok(mut g) = slot.lock() {
        *g = Some(v);
    }
}

unsafe extern "C" fn open_thunk<P: Plugin>(uri: FfiStr<'_>, config: FfiSlice<'_, FfiKv<'_>>) -> FfiOp<StoreHandle> {
    guard::<P, _>("open", || {
        let args = (|| -> Result<_> {
            let uri = str_arg(uri, "uri")?;
            let mut pairs = Vec::new();
            for kv in config.as_slice() {
                pairs.push((str_arg(kv.key, "config key")?, str_arg(kv.value, "config value")?));
            }
            Ok((uri, Config::from_pairs(pairs)))
        })();
        let (uri, config) = match args {
            Ok(a) => a,
            Err(e) => return ready(Err(e)),
        };
        run::<P, _, _>("open", async move {
            let s = P::open(uri, config).await?;
            let b: Box<StoreBox<P>> = Box::new(Arc::new(s));
            Ok(StoreHandle(Box::into_raw(b).cast()))
        })
    })
}

unsafe extern "C" fn store_drop_thunk<P: Plugin>(h: StoreHandle) {
    // SAFETY: made by `open_thunk::<P>`, dropped once by the host.
    let b = unsafe { Box::from_raw(h.0.cast::<StoreBox<P>>()) };
    drop_in_plugin::<P, _>(b);
}

unsafe extern "C" fn stat_thunk<P: Plugin>(h: StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiFileInfo> {
    guard::<P, _>("stat", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        run::<P, _, _>("stat", async move { Ok(s.stat(&path?).await?.into_ffi()) })
    })
}

unsafe extern "C" fn list_thunk<P: Plugin>(
    h: StoreHandle,
    path: FfiStr<'_>,
    token: FfiStr<'_>,
    page_size: u32,
) -> FfiOp<FfiListPage> {
    guard::<P, _>("list", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        let token = str_arg(token, "page token");
        run::<P, _, _>("list", async move {
            let token = token?;
            let token = (!token.is_empty()).then_some(token);
            let size = (page_size.max(1)) as usize;
            Ok(s.list(&path?, token.as_deref(), size).await?.into_ffi())
        })
    })
}

unsafe extern "C" fn read_thunk<P: Plugin>(h: StoreHandle, path: FfiStr<'_>, range: FfiRange) -> FfiOp<ReaderHandle> {
    guard::<P, _>("read", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        run::<P, _, _>("read", async move {
            let r = s.read(&path?, range.to_range()).await?;
            let b: Box<Slot<<P::Store as Store>::Reader>> = Box::new(Arc::new(Mutex::new(Some(r))));
            Ok(ReaderHandle(Box::into_raw(b).cast()))
        })
    })
}

unsafe extern "C" fn reader_next_thunk<P: Plugin>(h: ReaderHandle) -> FfiOp<FfiBuf> {
    guard::<P, _>("read", || {
        // SAFETY: made by `read_thunk::<P>`.
        let slot = unsafe { slot::<<P::Store as Store>::Reader>(h.0) };
        run::<P, _, _>("read", async move {
            let mut r = take(&slot, "reader")?;
            let out = loop {
                match r.next_chunk().await {
                    Ok(Some(c)) if c.is_empty() => continue,
                    Ok(Some(c)) => break Ok(c),
                    Ok(None) => break Ok(FfiBuf::empty()),
                    Err(e) => break Err(e),
                }
            };
            put(&slot, r);
            out
        })
    })
}

unsafe extern "C" fn reader_drop_thunk<P: Plugin>(h: ReaderHandle) {
    // SAFETY: made by `read_thunk::<P>`, dropped once by the host.
    let b = unsafe { Box::from_raw(h.0.cast::<Slot<<P::Store as Store>::Reader>>()) };
    drop_in_plugin::<P, _>(b);
}

unsafe extern "C" fn write_thunk<P: Plugin>(h: StoreHandle, path: FfiStr<'_>) -> FfiOp<WriterHandle> {
    guard::<P, _>("write", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        run::<P, _, _>("write", async move {
            let w = s.write(&path?).await?;
            let b: Box<Slot<<P::Store as Store>::Writer>> = Box::new(Arc::new(Mutex::new(Some(w))));
            Ok(WriterHandle(Box::into_raw(b).cast()))
        })
    })
}

unsafe extern "C" fn writer_write_thunk<P: Plugin>(h: WriterHandle, chunk: FfiBuf) -> FfiOp<FfiUnit> {
    guard::<P, _>("write", || {
        // SAFETY: made by `write_thunk::<P>`.
        let slot = unsafe { slot::<<P::Store as Store>::Writer>(h.0) };
        run::<P, _, _>("write", async move {
            let mut w = take(&slot, "writer")?;
            let out = w.write(chunk).await;
            // A writer that failed is dropped (and so discarded), never reused.
            if out.is_ok() {
                put(&slot, w);
            }
            out.map(|()| FfiUnit::default())
        })
    })
}

unsafe extern "C" fn writer_finish_thunk<P: Plugin>(h: WriterHandle) -> FfiOp<FfiUnit> {
    guard::<P, _>("finish", || {
        // SAFETY: made by `write_thunk::<P>`.
        let slot = unsafe { slot::<<P::Store as Store>::Writer>(h.0) };
        run::<P, _, _>("finish", async move {
            take(&slot, "writer")?.finish().await.map(|()| FfiUnit::default())
        })
    })
}

unsafe extern "C" fn writer_abort_thunk<P: Plugin>(h: WriterHandle) -> FfiOp<FfiUnit> {
    guard::<P, _>("abort", || {
        // SAFETY: made by `write_thunk::<P>`.
        let slot = unsafe { slot::<<P::Store as Store>::Writer>(h.0) };
        run::<P, _, _>("abort", async move {
            match take(&slot, "writer") {
                Ok(w) => w.abort().await.map(|()| FfiUnit::default()),
                // Already finished, failed or aborted: nothing left to discard.
                Err(_) => Ok(FfiUnit::default()),
            }
        })
    })
}

unsafe extern "C" fn writer_drop_thunk<P: Plugin>(h: WriterHandle) {
    // SAFETY: made by `write_thunk::<P>`, dropped once by the host.
    let b = unsafe { Box::from_raw(h.0.cast::<Slot<<P::Store as Store>::Writer>>()) };
    drop_in_plugin::<P, _>(b);
}

unsafe extern "C" fn delete_thunk<P: Plugin>(h: StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiUnit> {
    guard::<P, _>("delete", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        run::<P, _, _>(
            "delete",
            async move { s.delete(&path?).await.map(|()| FfiUnit::default()) },
        )
    })
}

unsafe extern "C" fn mpu_create_thunk<P: Plugin>(
    h: StoreHandle,
    path: FfiStr<'_>,
    num_parts: u32,
) -> FfiOp<FfiMultipartUpload> {
    guard::<P, _>("multipart_create", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        run::<P, _, _>("multipart_create", async move {
            Ok(s.multipart_create(&path?, num_parts).await?.into_ffi())
        })
    })
}

unsafe extern "C" fn mpu_complete_thunk<P: Plugin>(
    h: StoreHandle,
    path: FfiStr<'_>,
    upload_id: FfiStr<'_>,
    parts: FfiSlice<'_, FfiCompletedPart<'_>>,
) -> FfiOp<FfiUnit> {
    guard::<P, _>("multipart_complete", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let args = (|| -> Result<_> {
            let path = path_arg(path)?;
            let id = str_arg(upload_id, "upload id")?;
            let mut v = Vec::new();
            for p in parts.as_slice() {
                v.push(CompletedPart {
                    part_number: p.part_number,
                    etag: str_arg(p.etag, "etag")?,
                    url: str_arg(p.url, "part url")?,
                });
            }
            Ok((path, id, v))
        })();
        run::<P, _, _>("multipart_complete", async move {
            let (path, id, parts) = args?;
            s.multipart_complete(&path, &id, &parts)
                .await
                .map(|()| FfiUnit::default())
        })
    })
}

unsafe extern "C" fn mpu_abort_thunk<P: Plugin>(
    h: StoreHandle,
    path: FfiStr<'_>,
    upload_id: FfiStr<'_>,
) -> FfiOp<FfiUnit> {
    guard::<P, _>("multipart_abort", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        let id = str_arg(upload_id, "upload id");
        run::<P, _, _>("multipart_abort", async move {
            s.multipart_abort(&path?, &id?).await.map(|()| FfiUnit::default())
        })
    })
}

unsafe extern "C" fn presign_read_thunk<P: Plugin>(
    h: StoreHandle,
    path: FfiStr<'_>,
    ttl_secs: u64,
) -> FfiOp<FfiPresignedUrl> {
    guard::<P, _>("presign_read", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        run::<P, _, _>("presign_read", async move {
            let ttl = std::time::Duration::from_secs(ttl_secs);
            Ok(s.presign_read(&path?, ttl).await?.into_ffi())
        })
    })
}

unsafe extern "C" fn local_path_thunk<P: Plugin>(h: StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiBuf> {
    guard::<P, _>("local_path", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let path = path_arg(path);
        run::<P, _, _>("local_path", async move {
            let local = s.local_path(&path?).await?;
            let text = local.into_os_string().into_string().map_err(|p| {
                Error::invalid_input(format!(
                    "local path {} is not valid UTF-8",
                    std::path::Path::new(&p).display()
                ))
            })?;
            Ok(FfiBuf::from_string(text))
        })
    })
}

unsafe extern "C" fn rename_thunk<P: Plugin>(h: StoreHandle, from: FfiStr<'_>, to: FfiStr<'_>) -> FfiOp<FfiUnit> {
    guard::<P, _>("rename", || {
        // SAFETY: the host passes live handles only.
        let s = unsafe { store::<P>(h) };
        let (from, to) = (path_arg(from), path_arg(to));
        run::<P, _, _>("rename", async move {
            s.rename(&from?, &to?).await.map(|()| FfiUnit::default())
        })
    })
}

/// The operations table of plugin `P`, as [`crate::export_plugin!`] exports
/// it. Public for the rare exporter that must change it (the loader's test
/// fixtures build tables of other sizes from it).
pub fn vtable<P: Plugin>() -> PluginVTable {
    let schemes: Vec<FfiStr<'static>> = P::SCHEMES.iter().map(|s| FfiStr::new(s)).collect();
    let schemes: &'static [FfiStr<'static>] = Box::leak(schemes.into_boxed_slice());
    PluginVTable {
        size: std::mem::size_of::<PluginVTable>(),
        minor: ABI_MINOR,
        reserved: 0,
        name: FfiStr::new(P::NAME),
        version: FfiStr::new(P::VERSION),
        schemes: FfiSlice::new(schemes),
        capabilities: P::CAPABILITIES.to_bits(),
        requires: FfiSlice::new(P::REQUIRES),
        open: open_thunk::<P>,
        store_drop: store_drop_thunk::<P>,
        stat: stat_thunk::<P>,
        list: list_thunk::<P>,
        read: read_thunk::<P>,
        reader_next: reader_next_thunk::<P>,
        reader_drop: reader_drop_thunk::<P>,
        write: write_thunk::<P>,
        writer_write: writer_write_thunk::<P>,
        writer_finish: writer_finish_thunk::<P>,
        writer_abort: writer_abort_thunk::<P>,
        writer_drop: writer_drop_thunk::<P>,
        delete: delete_thunk::<P>,
        multipart_create: mpu_create_thunk::<P>,
        multipart_complete: mpu_complete_thunk::<P>,
        multipart_abort: mpu_abort_thunk::<P>,
        presign_read: presign_read_thunk::<P>,
        local_path: local_path_thunk::<P>,
        rename: rename_thunk::<P>,
    }
}

/// Builds (once) and returns the plugin declaration. Called by the entry
/// symbol that [`crate::export_plugin!`] generates; returns null if building
/// it panicked.
pub fn entry<P: Plugin>(cell: &'static OnceLock<PluginDecl>) -> *const PluginDecl {
    let built = catch_unwind(|| {
        cell.get_or_init(|| {
            // Panics inside the plugin are turned into errors; the default hook
            // would also print them, so the plugin's own copy of std gets a
            // silent one. This affects this library only, never the host.
            std::panic::set_hook(Box::new(|_| {}));
            let vtable: &'static PluginVTable = Box::leak(Box::new(vtable::<P>()));
            PluginDecl {
                magic: MAGIC,
                abi_version: ABI_VERSION,
                reserved: 0,
                layout: crate::abi::layout_fingerprint(),
                vtable,
            }
        }) as *const PluginDecl
    });
    built.unwrap_or(std::ptr::null())
}

/// Exports a [`Plugin`] implementation as an Arca plugin library: defines the
/// `arca_plugin_entry` symbol. Use it once, in a `cdylib` crate.
///
/// ```ignore
/// arca_core::export_plugin!(MyPlugin);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The Arca plugin entry point.
        #[unsafe(no_mangle)]
        pub extern "C" fn arca_plugin_entry() -> *const $crate::abi::PluginDecl {
            static DECL: ::std::sync::OnceLock<$crate::abi::PluginDecl> = ::std::sync::OnceLock::new();
            $crate::export::entry::<$plugin>(&DECL)
        }
    };
}
