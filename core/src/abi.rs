//! The binary interface between the host and a plugin library, and the rule
//! by which it grows.
//!
//! A plugin exports one symbol, [`ENTRY_SYMBOL`], an `extern "C" fn() ->
//! *const PluginDecl`. The [`PluginDecl`] header is frozen forever: any host
//! can read any plugin far enough to accept or refuse it. The host checks, in
//! this order, and reads nothing else before each check has passed:
//!
//! 1. [`PluginDecl::magic`] equals [`MAGIC`] (it is an Arca plugin at all);
//! 2. [`PluginDecl::abi_version`], the *epoch*, is one the host reads
//!    ([`OLDEST_ABI_VERSION`] to [`ABI_VERSION`]);
//! 3. [`PluginDecl::layout`] equals the epoch's layout fingerprint (a hash of
//!    the size, alignment and field offsets of every frozen type: a plugin
//!    for another platform, or built against a modified `arca-core`, fails
//!    here);
//! 4. the operations table ([`PluginVTable`]) is at least
//!    [`MIN_VTABLE_SIZE`] bytes by its own [`PluginVTable::size`], and the
//!    host has every minor version its [`PluginVTable::requires`] names.
//!
//! # The rule: append only
//!
//! Within an epoch the ABI only ever grows at the end, like a C struct that
//! carries its own `sizeof` (Win32's `cbSize`) or abi_stable's prefix types:
//!
//! - **New operations are appended to [`PluginVTable`]** and
//!   [`ABI_MINOR`] goes up by one. A plugin's table says how long it is
//!   ([`PluginVTable::size`]); the host reads the fields that fit in it and
//!   answers every operation past its end with an `UNSUPPORTED` error (its
//!   capability is then false). A host reads no further than the fields it
//!   knows, so a newer plugin's extra operations are simply never called.
//! - **Capabilities are bits** ([`Capabilities::to_bits`]): a new capability
//!   takes the next bit; bits a host does not know are ignored.
//! - **Every other type that crosses is frozen**: it is passed by value, so
//!   its size can never change. What needs a bigger type gets a new
//!   operation that takes or returns the new type (`stat_v2`, say), and the
//!   old operation stays.
//! - **Never remove, reorder or retype a field**, and never change what an
//!   operation means. Anything that cannot be said by appending is a new
//!   epoch ([`ABI_VERSION`] + 1), which every existing plugin must be rebuilt
//!   for; hosts keep a reader for earlier epochs where they can (this host
//!   reads epoch 2 plugins through [`v2`]).
//! - **A plugin that cannot work with an older host says so**: each
//!   [`Requirement`] names a minor version and what it brings. A host older
//!   than that minor refuses the plugin with one line naming it; a plugin
//!   that needs nothing new loads in every host of its epoch.
//!
//! The layout fingerprint covers the frozen types as they were when the
//! epoch began, so appending never changes it; core's unit tests pin its
//! value, so an edit in place fails the build's tests instead of a user's
//! load.
//!
//! What each minor version appended:
//!
//! | Minor | Appended |
//! | --- | --- |
//! | 0 | the epoch as it began: `open` … `presign_read` |
//! | 1 | `local_path` and the `local_files` capability: a file's place on this machine, so the host can copy it with the kernel |
//! | 2 | `rename` and the `rename` capability: a file moved onto another name within the store, atomically and without a copy |
//!
//! Store, reader and writer objects are opaque handles owned by the plugin.

pub mod v2;

use crate::error::{ErrorKind, FfiError};
use crate::ffi::{FfiBuf, FfiKv, FfiPair, FfiResult, FfiSlice, FfiStr, FfiUnit, FfiVec};
use crate::types::{
    FfiCompletedPart, FfiFileInfo, FfiListPage, FfiMultipartUpload, FfiPresignedPart, FfiPresignedUrl, FfiRange,
};
use async_ffi::FfiFuture;
use std::ffi::c_void;
use std::mem::{align_of, offset_of, size_of};

/// The name of the symbol every plugin exports.
pub const ENTRY_SYMBOL: &[u8] = b"arca_plugin_entry\0";

/// The first eight bytes of every [`PluginDecl`].
pub const MAGIC: [u8; 8] = *b"ARCAPLUG";

/// The epoch this `arca-core` builds plugins for. It changes only when the
/// ABI changes in a way appending cannot express (see the module docs).
pub const ABI_VERSION: u32 = 3;

/// The oldest epoch a host built from this `arca-core` still loads.
pub const OLDEST_ABI_VERSION: u32 = 2;

/// How many times the epoch's operations table has grown: the number of
/// the last minor version. 0 is the epoch as it began.
pub const ABI_MINOR: u32 = 2;

/// The signature of the entry symbol.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginDecl;

/// What the entry symbol returns. Frozen forever, in every epoch.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDecl {
    /// Always [`MAGIC`].
    pub magic: [u8; 8],
    /// The epoch ([`ABI_VERSION`]) of the `arca-core` the plugin was built with.
    pub abi_version: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// The layout fingerprint of that epoch ([`layout_fingerprint()`] in this one).
    pub layout: u64,
    /// The operations: a [`PluginVTable`] in this epoch, a [`v2::PluginVTableV2`]
    /// in epoch 2. Only read after the checks above pass.
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

/// Something a plugin cannot work without: a host of at least minor version
/// `minor`, for the reason `what` (shown to the user when a host is older).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Requirement {
    /// The lowest [`ABI_MINOR`] that has it.
    pub minor: u32,
    /// What it is, in a few words (e.g. `the write_at operation`).
    pub what: FfiStr<'static>,
}

impl Requirement {
    /// A requirement, for a plugin's [`crate::Plugin::REQUIRES`].
    pub const fn new(minor: u32, what: &'static str) -> Self {
        Self {
            minor,
            what: FfiStr::new(what),
        }
    }
}

/// Every operation of a plugin, behind a header.
///
/// The header (up to and including [`PluginVTable::requires`]) is frozen for
/// the epoch; operations follow in the order they were added, and new ones
/// are only ever appended (see the module docs). Borrowed arguments
/// (`FfiStr`, `FfiSlice`) are valid only during the call; the plugin copies
/// what its future needs. Owned arguments (`FfiBuf`) move to the plugin.
/// Every function and every future catches panics.
#[repr(C)]
pub struct PluginVTable {
    /// `size_of::<PluginVTable>()` in the `arca-core` the plugin was built
    /// with: every field that does not end within it is absent.
    pub size: usize,
    /// [`ABI_MINOR`] of that `arca-core`.
    pub minor: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Plugin name, e.g. `local`.
    pub name: FfiStr<'static>,
    /// Plugin version.
    pub version: FfiStr<'static>,
    /// URI schemes served, e.g. `["file"]`.
    pub schemes: FfiSlice<'static, FfiStr<'static>>,
    /// What the stores of this plugin can do, as [`Capabilities::to_bits`]
    /// (bits a host does not know are ignored).
    ///
    /// [`Capabilities::to_bits`]: crate::Capabilities::to_bits
    pub capabilities: u64,
    /// What the plugin needs of a newer host (empty for most plugins).
    pub requires: FfiSlice<'static, Requirement>,

    // Operations of minor 0. Append new ones below, never in between.
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

    // Minor 1.
    /// Where the file is on this machine's file system (an absolute path,
    /// UTF-8), so the host may copy it with the kernel's copy paths.
    pub local_path: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiBuf>,

    // Minor 2.
    /// Moves the file `from` onto `to` (replacing it) atomically, without
    /// copying its bytes; `to`'s parents are implied.
    pub rename: unsafe extern "C" fn(StoreHandle, from: FfiStr<'_>, to: FfiStr<'_>) -> FfiOp<FfiUnit>,
}

/// The size of the operations table at minor 0: where the table of a
/// minor-0 plugin ends (and what an epoch-2 plugin provides).
pub const MINOR0_SIZE: usize = offset_of!(PluginVTable, presign_read) + size_of::<usize>();

/// The smallest operations table a host accepts: the header, `open` and
/// `store_drop`. Every operation after them may be absent.
pub const MIN_VTABLE_SIZE: usize = offset_of!(PluginVTable, stat);

// SAFETY: the vtable is immutable static data.
unsafe impl Sync for PluginVTable {}
// SAFETY: as above.
unsafe impl Send for PluginVTable {}

impl std::fmt::Debug for PluginVTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginVTable")
            .field("name", &self.name.to_string_lossy())
            .field("size", &self.size)
            .field("minor", &self.minor)
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

/// The layout facts of types: for each, its size, its alignment and the
/// offsets of the fields named.
macro_rules! layout_facts {
    ($($ty:ty { $($field:ident),* }),* $(,)?) => {
        &[$(size_of::<$ty>() as u64, align_of::<$ty>() as u64, $(offset_of!($ty, $field) as u64,)*)*]
    };
}
pub(crate) use layout_facts;

/// The layout facts of epoch 3 as it began: every frozen type whole, and the
/// operations table without its size (appending must not change this list).
pub const LAYOUT_FACTS: &[u64] = &{
    const TABLE: &[u64] = &[
        align_of::<PluginVTable>() as u64,
        offset_of!(PluginVTable, size) as u64,
        offset_of!(PluginVTable, minor) as u64,
        offset_of!(PluginVTable, reserved) as u64,
        offset_of!(PluginVTable, name) as u64,
        offset_of!(PluginVTable, version) as u64,
        offset_of!(PluginVTable, schemes) as u64,
        offset_of!(PluginVTable, capabilities) as u64,
        offset_of!(PluginVTable, requires) as u64,
        offset_of!(PluginVTable, open) as u64,
        offset_of!(PluginVTable, store_drop) as u64,
        offset_of!(PluginVTable, stat) as u64,
        offset_of!(PluginVTable, list) as u64,
        offset_of!(PluginVTable, read) as u64,
        offset_of!(PluginVTable, reader_next) as u64,
        offset_of!(PluginVTable, reader_drop) as u64,
        offset_of!(PluginVTable, write) as u64,
        offset_of!(PluginVTable, writer_write) as u64,
        offset_of!(PluginVTable, writer_finish) as u64,
        offset_of!(PluginVTable, writer_abort) as u64,
        offset_of!(PluginVTable, writer_drop) as u64,
        offset_of!(PluginVTable, delete) as u64,
        offset_of!(PluginVTable, multipart_create) as u64,
        offset_of!(PluginVTable, multipart_complete) as u64,
        offset_of!(PluginVTable, multipart_abort) as u64,
        offset_of!(PluginVTable, presign_read) as u64,
    ];
    const TYPES: &[u64] = layout_facts![
        PluginDecl { magic, abi_version, reserved, layout, vtable },
        Requirement { minor, what },
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
    let mut out = [0u64; TABLE.len() + TYPES.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i];
        i += 1;
    }
    while i < out.len() {
        out[i] = TYPES[i - TABLE.len()];
        i += 1;
    }
    out
};

/// The fingerprint of this epoch, which a plugin's [`PluginDecl::layout`]
/// must equal.
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

    /// The frozen types must never change in place. If this fails, a type
    /// that crosses the boundary was edited: put it back, and append instead
    /// (see the module docs). The values hold for 64-bit targets.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn frozen_layouts_are_unchanged() {
        assert_eq!(
            (layout_fingerprint(), v2::layout_fingerprint()),
            (EPOCH3_LAYOUT_64, v2::LAYOUT_64),
            "a frozen ABI type changed: got {:#018x} and {:#018x}",
            layout_fingerprint(),
            v2::layout_fingerprint()
        );
    }

    #[cfg(target_pointer_width = "64")]
    const EPOCH3_LAYOUT_64: u64 = 0x090e_37d3_1afb_29b1;

    #[test]
    fn the_smallest_table_ends_after_store_drop() {
        assert_eq!(
            MIN_VTABLE_SIZE,
            offset_of!(PluginVTable, store_drop) + size_of::<usize>()
        );
        assert!(size_of::<PluginVTable>() > MIN_VTABLE_SIZE);
    }
}
