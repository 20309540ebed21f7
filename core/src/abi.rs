//! The binary interface between the host and a plugin library.
//!
//! A plugin exports one symbol, [`ENTRY_SYMBOL`], an `extern "C" fn() ->
//! *const PluginDecl`. The host checks, in this order, before touching
//! anything else:
//!
//! 1. [`PluginDecl::magic`] equals [`MAGIC`] (it is an Arca plugin at all);
//! 2. [`PluginDecl::abi_version`] equals [`ABI_VERSION`];
//! 3. [`PluginDecl::layout`] equals [`layout_fingerprint()`]: a hash of the
//!    size, alignment and field offsets of every type that crosses.
//!
//! The header fields of [`PluginDecl`] never change layout, so an old or a
//! new plugin can always be read far enough to be refused with a clear error.
//! All operations live in one [`PluginVTable`] of `extern "C"` function
//! pointers; store, reader and writer objects are opaque handles.

use crate::error::{ErrorKind, FfiError};
use crate::ffi::{FfiBuf, FfiKv, FfiPair, FfiResult, FfiSlice, FfiStr, FfiUnit, FfiVec};
use crate::types::{
    Capabilities, FfiCompletedPart, FfiFileInfo, FfiListPage, FfiMultipartUpload, FfiPresignedPart, FfiPresignedUrl,
    FfiRange,
};
use async_ffi::FfiFuture;
use std::ffi::c_void;
use std::mem::{align_of, offset_of, size_of};

/// The name of the symbol every plugin exports.
pub const ENTRY_SYMBOL: &[u8] = b"arca_plugin_entry\0";

/// The first eight bytes of every [`PluginDecl`].
pub const MAGIC: [u8; 8] = *b"ARCAPLUG";

/// Bumped on any change to the meaning of the vtable that a layout hash
/// cannot see.
pub const ABI_VERSION: u32 = 2;

/// The signature of the entry symbol.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginDecl;

/// What the entry symbol returns. Its first four fields are frozen forever.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDecl {
    /// Always [`MAGIC`].
    pub magic: [u8; 8],
    /// [`ABI_VERSION`] of the `arca-core` the plugin was built with.
    pub abi_version: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// [`layout_fingerprint()`] of the `arca-core` the plugin was built with.
    pub layout: u64,
    /// The operations. Only read after the three checks above pass.
    pub vtable: *const PluginVTable,
}

// SAFETY: the declaration is immutable static data.
unsafe impl Sync for PluginDecl {}
// SAFETY: as above; its vtable pointer is `'static` and immutable.
unsafe impl Send for PluginDecl {}

/// An opaque store owned by the plugin.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct StoreHandle(pub *mut c_void);
// SAFETY: handles are only dereferenced by the plugin, whose store types are `Send + Sync`.
unsafe impl Send for StoreHandle {}
// SAFETY: as above.
unsafe impl Sync for StoreHandle {}

/// An opaque reader owned by the plugin.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct ReaderHandle(pub *mut c_void);
// SAFETY: reader types are `Send`, and the host never calls one concurrently.
unsafe impl Send for ReaderHandle {}
// SAFETY: as above.
unsafe impl Sync for ReaderHandle {}

/// An opaque writer owned by the plugin.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct WriterHandle(pub *mut c_void);
// SAFETY: writer types are `Send`, and the host never calls one concurrently.
unsafe impl Send for WriterHandle {}
// SAFETY: as above.
unsafe impl Sync for WriterHandle {}

/// A future that crosses the boundary and yields a result.
pub type FfiOp<T> = FfiFuture<FfiResult<T>>;

/// Every operation of a plugin.
///
/// Borrowed arguments (`FfiStr`, `FfiSlice`) are valid only during the call;
/// the plugin copies what its future needs. Owned arguments (`FfiBuf`) move
/// to the plugin. Every function and every future catches panics.
#[repr(C)]
pub struct PluginVTable {
    /// Plugin name, e.g. `local`.
    pub name: FfiStr<'static>,
    /// Plugin version.
    pub version: FfiStr<'static>,
    /// URI schemes served, e.g. `["file"]`.
    pub schemes: FfiSlice<'static, FfiStr<'static>>,
    /// What the stores of this plugin can do.
    pub capabilities: Capabilities,
    /// Opens a store for `uri` with a flat configuration map.
    pub open: unsafe extern "C" fn(uri: FfiStr<'_>, config: FfiSlice<'_, FfiKv<'_>>) -> FfiOp<StoreHandle>,
    /// Releases a store.
    pub store_drop: unsafe extern "C" fn(StoreHandle),
    /// Describes one path.
    pub stat: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiFileInfo>,
    /// Lists the immediate children of a directory, one page at a time.
    pub list:
        unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, token: FfiStr<'_>, page_size: u32) -> FfiOp<FfiListPage>,
    /// Opens a file for reading, optionally a byte range of it.
    pub read: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, range: FfiRange) -> FfiOp<ReaderHandle>,
    /// The next chunk; an empty buffer means end of file.
    pub reader_next: unsafe extern "C" fn(ReaderHandle) -> FfiOp<FfiBuf>,
    /// Releases a reader.
    pub reader_drop: unsafe extern "C" fn(ReaderHandle),
    /// Starts writing a file; nothing is visible until `writer_finish`.
    pub write: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>) -> FfiOp<WriterHandle>,
    /// Appends a chunk (ownership moves to the plugin).
    pub writer_write: unsafe extern "C" fn(WriterHandle, chunk: FfiBuf) -> FfiOp<FfiUnit>,
    /// Publishes the file atomically.
    pub writer_finish: unsafe extern "C" fn(WriterHandle) -> FfiOp<FfiUnit>,
    /// Discards everything written.
    pub writer_abort: unsafe extern "C" fn(WriterHandle) -> FfiOp<FfiUnit>,
    /// Releases a writer (discarding it unless finished).
    pub writer_drop: unsafe extern "C" fn(WriterHandle),
    /// Deletes a file or a whole directory; a missing path is success.
    pub delete: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiUnit>,
    /// Starts a multipart upload with presigned part URLs.
    pub multipart_create:
        unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, num_parts: u32) -> FfiOp<FfiMultipartUpload>,
    /// Completes a multipart upload.
    pub multipart_complete: unsafe extern "C" fn(
        StoreHandle,
        path: FfiStr<'_>,
        upload_id: FfiStr<'_>,
        parts: FfiSlice<'_, FfiCompletedPart<'_>>,
    ) -> FfiOp<FfiUnit>,
    /// Aborts a multipart upload.
    pub multipart_abort: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, upload_id: FfiStr<'_>) -> FfiOp<FfiUnit>,
    /// A URL that reads a file straight from the backend for `ttl_secs`.
    pub presign_read: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, ttl_secs: u64) -> FfiOp<FfiPresignedUrl>,
}

// SAFETY: the vtable is immutable static data.
unsafe impl Sync for PluginVTable {}

impl std::fmt::Debug for PluginVTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginVTable")
            .field("name", &self.name.to_string_lossy())
            .finish_non_exhaustive()
    }
}

const fn fnv(mut h: u64, v: u64) -> u64 {
    let mut i = 0;
    while i < 8 {
        h ^= (v >> (i * 8)) & 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// Hashes a list of layout facts (sizes, alignments, offsets). Exposed so a
/// test fixture can compute the fingerprint of a deliberately different
/// layout.
pub const fn fingerprint_of(facts: &[u64]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < facts.len() {
        h = fnv(h, facts[i]);
        i += 1;
    }
    h
}

macro_rules! layout_facts {
    ($($ty:ty { $($field:ident),* }),* $(,)?) => {
        &[$(size_of::<$ty>() as u64, align_of::<$ty>() as u64, $(offset_of!($ty, $field) as u64,)*)*]
    };
}

/// The layout facts of every type that crosses the boundary.
pub const LAYOUT_FACTS: &[u64] = layout_facts![
    PluginDecl { magic, abi_version, reserved, layout, vtable },
    PluginVTable {
        name, version, schemes, capabilities, open, store_drop, stat, list, read, reader_next, reader_drop, write,
        writer_write, writer_finish, writer_abort, writer_drop, delete, multipart_create, multipart_complete,
        multipart_abort, presign_read
    },
    FfiStr<'static> {},
    FfiSlice<'static, u8> {},
    FfiBuf {},
    FfiVec<u8> {},
    FfiKv<'static> { key, value },
    FfiPair { key, value },
    FfiUnit {},
    FfiResult<FfiUnit> {},
    FfiResult<FfiFileInfo> {},
    FfiError { kind, temporary, message, context },
    ErrorKind {},
    Capabilities { stat, list, read, read_range, write, delete, multipart, empty_dirs, presigned_read },
    FfiFileInfo { path, is_dir, size, has_modified, modified_ms },
    FfiListPage { entries, has_next, next_token },
    FfiRange { present, start, has_end, end },
    FfiPresignedPart { part_number, url, headers },
    FfiMultipartUpload { upload_id, parts },
    FfiPresignedUrl { url, headers },
    FfiCompletedPart<'static> { part_number, etag, url },
    FfiFuture<FfiResult<FfiUnit>> {},
    FfiVec<FfiPair> {},
];

/// The fingerprint the host and the plugin must agree on.
pub const fn layout_fingerprint() -> u64 {
    fingerprint_of(LAYOUT_FACTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_within_a_build_and_sensitive_to_change() {
        assert_eq!(layout_fingerprint(), layout_fingerprint());
        let mut facts = LAYOUT_FACTS.to_vec();
        facts[0] += 1;
        assert_ne!(fingerprint_of(&facts), layout_fingerprint());
    }
}
