//! [`Store`]: the idiomatic async API over one opened plugin store.

use crate::loader::LoadedPlugin;
use crate::retry::Retry;
use crate::transfer::{ReadStream, WriteHandle};
use arca_core::abi::{FfiOp, StoreHandle};
use arca_core::ffi::{FfiResult, FfiSlice, FfiStr};
use arca_core::types::{FfiCompletedPart, FfiRange};
use arca_core::{
    ArtifactPath, ByteRange, Capabilities, CompletedPart, Error, FileInfo, ListPage, MultipartUpload, PresignedUrl,
    Result,
};
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;

/// The page size used when a whole listing is wanted: large, since a
/// listing is wanted whole anyway, and a plugin that must re-read a
/// directory per page (local disk) then reads it once.
pub const LIST_PAGE_SIZE: u32 = 100_000;

pub(crate) async fn await_op<T>(op: FfiOp<T>) -> Result<T> {
    match op.await {
        FfiResult::Ok(v) => Ok(v),
        FfiResult::Err(e) => Err(e.into_error()),
    }
}

pub(crate) struct Inner {
    pub(crate) plugin: Arc<LoadedPlugin>,
    pub(crate) handle: StoreHandle,
    uri: String,
    retry: Retry,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // SAFETY: the handle came from this plugin's `open` and is dropped once.
        unsafe { (self.plugin.vtable.store_drop)(self.handle) }
    }
}

/// An opened store. Cheap to clone; every clone shares the plugin's store.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("uri", &self.inner.uri)
            .field("plugin", &self.inner.plugin.name)
            .finish()
    }
}

impl Store {
    pub(crate) fn new(plugin: Arc<LoadedPlugin>, handle: StoreHandle, uri: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                plugin,
                handle,
                uri,
                retry: Retry::default(),
            }),
        }
    }

    /// The URI it was opened with, credentials redacted.
    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// The serving plugin's name.
    pub fn plugin_name(&self) -> &str {
        &self.inner.plugin.name
    }

    /// The plugin ABI the serving plugin was built for: (epoch, minor).
    pub fn plugin_abi(&self) -> (u32, u32) {
        self.inner.plugin.abi
    }

    /// What the store can do.
    pub fn capabilities(&self) -> Capabilities {
        self.inner.plugin.capabilities
    }

    /// A path as it crosses to the plugin.
    ///
    /// A plugin built against ABI 2 parses every path it is given again, by
    /// the rules of its `arca-core`, which percent-decoded until stable: it
    /// would store `report%20final.txt` as `report final.txt`. Such names are
    /// refused for it, never renamed.
    fn arg<'a>(&self, path: &'a ArtifactPath) -> Result<FfiStr<'a>> {
        let p = path.as_str();
        if self.inner.plugin.abi.0 < 3 && arca_core::path::percent_decode_once(p).as_deref() != Some(p) {
            return Err(Error::invalid_input(format!(
                "plugin {} was built against plugin ABI 2, which decodes percent escapes in names, so it cannot store {p:?} under that name; rebuild it against a current arca-core",
                self.inner.plugin.name
            )));
        }
        Ok(FfiStr::new(p))
    }

    /// Names the store in an error's context (once).
    pub(crate) fn ctx(&self, e: Error) -> Error {
        if e.context.iter().any(|(k, _)| k == "store") {
            return e;
        }
        e.with("store", self.inner.uri.clone())
    }

    async fn retried<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.inner.retry.run(f).await.map_err(|e| self.ctx(e))
    }

    /// Describes a file or directory.
    pub async fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        let vt = self.inner.plugin.vtable;
        self.retried(|| async {
            // SAFETY: live handle; the path string outlives the call.
            let op = unsafe { (vt.stat)(self.inner.handle, self.arg(path)?) };
            Ok(await_op(op).await?.into_info())
        })
        .await
    }

    /// One page of the immediate children of `path`.
    pub async fn list_page(&self, path: &ArtifactPath, token: Option<&str>, page_size: u32) -> Result<ListPage> {
        let vt = self.inner.plugin.vtable;
        self.retried(|| async {
            // SAFETY: live handle; the strings outlive the call.
            let op = unsafe {
                (vt.list)(
                    self.inner.handle,
                    self.arg(path)?,
                    FfiStr::new(token.unwrap_or("")),
                    page_size,
                )
            };
            Ok(await_op(op).await?.into_page())
        })
        .await
    }

    /// All immediate children of `path`, sorted by name (every page).
    pub async fn list(&self, path: &ArtifactPath) -> Result<Vec<FileInfo>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(path, token.as_deref(), LIST_PAGE_SIZE).await?;
            out.extend(page.entries);
            match page.next_token {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every file under `path`, recursively, with paths relative to `path`,
    /// sorted. A file path yields that one file (with an empty relative path).
    pub async fn walk(&self, path: &ArtifactPath) -> Result<Vec<FileInfo>> {
        let root = self.stat(path).await?;
        if !root.is_dir {
            return Ok(vec![FileInfo {
                path: String::new(),
                ..root
            }]);
        }
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(rel) = stack.pop() {
            let dir = path.join(&rel)?;
            for e in self.list(&dir).await? {
                let child = if rel.is_empty() {
                    e.path.clone()
                } else {
                    format!("{rel}/{}", e.path)
                };
                if e.is_dir {
                    stack.push(child);
                } else {
                    out.push(FileInfo { path: child, ..e });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Opens a file for reading, optionally a byte range of it. Opening is
    /// retried; a stream that fails once bytes have been handed on is not
    /// (its error says whether a new read may succeed).
    pub async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<ReadStream> {
        self.retried(|| self.read_once(path, range)).await
    }

    async fn read_once(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<ReadStream> {
        let vt = self.inner.plugin.vtable;
        // SAFETY: live handle; the path outlives the call.
        let op = unsafe { (vt.read)(self.inner.handle, self.arg(path)?, FfiRange::from_range(range)) };
        Ok(ReadStream::new(self.clone(), await_op(op).await?))
    }

    /// Reads a whole file into memory (for small files only). A temporary
    /// failure, also one in the middle of the body, reads it again from the
    /// start.
    pub async fn get_bytes(&self, path: &ArtifactPath) -> Result<Vec<u8>> {
        self.retried(|| async {
            let mut r = self.read_once(path, None).await?;
            let mut out = Vec::new();
            while let Some(c) = r.next_chunk().await? {
                out.extend_from_slice(&c);
            }
            Ok(out)
        })
        .await
    }

    /// Starts writing a file; nothing is visible until [`WriteHandle::finish`].
    pub async fn write(&self, path: &ArtifactPath) -> Result<WriteHandle> {
        let vt = self.inner.plugin.vtable;
        // SAFETY: live handle; the path outlives the call.
        let op = unsafe { (vt.write)(self.inner.handle, self.arg(path)?) };
        let handle = await_op(op).await.map_err(|e| self.ctx(e))?;
        Ok(WriteHandle::new(self.clone(), handle, path.clone()))
    }

    /// Writes a whole file from memory. Since the bytes are at hand, a
    /// temporary failure (also of `finish`) writes the whole file again; a
    /// failed attempt publishes nothing, and writing the same bytes twice is
    /// harmless.
    pub async fn put_bytes(&self, path: &ArtifactPath, data: impl Into<Bytes>) -> Result<()> {
        let data: Bytes = data.into();
        self.retried(|| async {
            let mut w = self.write(path).await?;
            w.write(data.clone()).await?;
            w.finish().await
        })
        .await
    }

    /// Deletes a file or a whole directory; a missing path is success.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let vt = self.inner.plugin.vtable;
        self.retried(|| async {
            // SAFETY: live handle; the path outlives the call.
            let op = unsafe { (vt.delete)(self.inner.handle, self.arg(path)?) };
            await_op(op).await.map(drop)
        })
        .await
    }

    /// Starts a presigned multipart upload.
    pub async fn multipart_create(&self, path: &ArtifactPath, num_parts: u32) -> Result<MultipartUpload> {
        let vt = self.inner.plugin.vtable;
        // SAFETY: live handle; the path outlives the call.
        let op = unsafe { (vt.multipart_create)(self.inner.handle, self.arg(path)?, num_parts) };
        Ok(await_op(op).await.map_err(|e| self.ctx(e))?.into_upload())
    }

    /// Completes a multipart upload.
    pub async fn multipart_complete(
        &self,
        path: &ArtifactPath,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<()> {
        let vt = self.inner.plugin.vtable;
        let ffi: Vec<FfiCompletedPart<'_>> = parts
            .iter()
            .map(|p| FfiCompletedPart {
                part_number: p.part_number,
                etag: FfiStr::new(&p.etag),
                url: FfiStr::new(&p.url),
            })
            .collect();
        // SAFETY: live handle; every borrowed argument outlives the call.
        let op = unsafe {
            (vt.multipart_complete)(
                self.inner.handle,
                self.arg(path)?,
                FfiStr::new(upload_id),
                FfiSlice::new(&ffi),
            )
        };
        await_op(op).await.map(drop).map_err(|e| self.ctx(e))
    }

    /// A URL that reads the file `path` straight from the backend for
    /// `ttl_secs` (where the capabilities say `presigned_read`).
    pub async fn presign_read(&self, path: &ArtifactPath, ttl_secs: u64) -> Result<PresignedUrl> {
        let vt = self.inner.plugin.vtable;
        // SAFETY: live handle; the path outlives the call.
        let op = unsafe { (vt.presign_read)(self.inner.handle, self.arg(path)?, ttl_secs) };
        Ok(await_op(op).await.map_err(|e| self.ctx(e))?.into_url())
    }

    /// Where the file `path` is on this machine's file system, for a store
    /// whose capabilities say `local_files` (the host may read it there
    /// directly, with the kernel's copy paths); `UNSUPPORTED` otherwise.
    pub async fn local_path(&self, path: &ArtifactPath) -> Result<std::path::PathBuf> {
        let vt = self.inner.plugin.vtable;
        // SAFETY: live handle; the path outlives the call.
        let op = unsafe { (vt.local_path)(self.inner.handle, self.arg(path)?) };
        let local = await_op(op).await.map_err(|e| self.ctx(e))?;
        Ok(std::path::PathBuf::from(local.to_string_lossy()))
    }

    /// Moves the file `from` onto `to` within the store, atomically and
    /// without copying, for a store whose capabilities say `rename`;
    /// `UNSUPPORTED` otherwise.
    pub async fn rename(&self, from: &ArtifactPath, to: &ArtifactPath) -> Result<()> {
        let vt = self.inner.plugin.vtable;
        // SAFETY: live handle; both paths outlive the call.
        let op = unsafe { (vt.rename)(self.inner.handle, self.arg(from)?, self.arg(to)?) };
        await_op(op).await.map_err(|e| self.ctx(e))?;
        Ok(())
    }

    /// Aborts a multipart upload.
    pub async fn multipart_abort(&self, path: &ArtifactPath, upload_id: &str) -> Result<()> {
        let vt = self.inner.plugin.vtable;
        // SAFETY: live handle; the strings outlive the call.
        let op = unsafe { (vt.multipart_abort)(self.inner.handle, self.arg(path)?, FfiStr::new(upload_id)) };
        await_op(op).await.map(drop).map_err(|e| self.ctx(e))
    }
}

/// Operations that skip the host's path check and hand a raw string to the
/// plugin. They exist so the conformance suite can prove that plugins check
/// paths again (defence in depth); nothing else should use them.
#[doc(hidden)]
impl Store {
    pub async fn stat_unchecked(&self, raw: &str) -> Result<FileInfo> {
        // SAFETY: live handle; the string outlives the call.
        let op = unsafe { (self.inner.plugin.vtable.stat)(self.inner.handle, FfiStr::new(raw)) };
        Ok(await_op(op).await?.into_info())
    }

    pub async fn list_unchecked(&self, raw: &str) -> Result<ListPage> {
        // SAFETY: live handle; the strings outlive the call.
        let op = unsafe { (self.inner.plugin.vtable.list)(self.inner.handle, FfiStr::new(raw), FfiStr::new(""), 100) };
        Ok(await_op(op).await?.into_page())
    }

    pub async fn read_unchecked(&self, raw: &str) -> Result<()> {
        // SAFETY: live handle; the string outlives the call.
        let op = unsafe { (self.inner.plugin.vtable.read)(self.inner.handle, FfiStr::new(raw), FfiRange::default()) };
        let handle = await_op(op).await?;
        drop(ReadStream::new(self.clone(), handle));
        Ok(())
    }

    pub async fn write_unchecked(&self, raw: &str) -> Result<()> {
        // SAFETY: live handle; the string outlives the call.
        let op = unsafe { (self.inner.plugin.vtable.write)(self.inner.handle, FfiStr::new(raw)) };
        let handle = await_op(op).await?;
        let mut w = WriteHandle::new(self.clone(), handle, ArtifactPath::root());
        w.write(Bytes::from_static(b"x")).await?;
        w.finish().await
    }

    pub async fn delete_unchecked(&self, raw: &str) -> Result<()> {
        // SAFETY: live handle; the string outlives the call.
        let op = unsafe { (self.inner.plugin.vtable.delete)(self.inner.handle, FfiStr::new(raw)) };
        await_op(op).await.map(drop)
    }
}
