//! Epoch 2, frozen: the fixed-layout ABI of `arca-core` before the
//! append-only rule, described here so a host can still load plugins built
//! against it.
//!
//! An epoch-2 plugin has the same [`PluginDecl`] header, a table of the same
//! operations with the same signatures as epoch 3's minor 0
//! ([`super::MINOR0_SIZE`]), but capabilities as a struct of nine `bool`s and
//! no size, minor version or requirements. A host reads its table once, at
//! load time, into an epoch-3 table of minor 0; from then on it treats the
//! plugin like any other.

use super::{FfiOp, PluginDecl, ReaderHandle, StoreHandle, WriterHandle, layout_facts};
use crate::Capabilities;
use crate::error::{ErrorKind, FfiError};
use crate::ffi::{FfiBuf, FfiKv, FfiPair, FfiResult, FfiSlice, FfiStr, FfiUnit, FfiVec};
use crate::types::{
    FfiCompletedPart, FfiFileInfo, FfiListPage, FfiMultipartUpload, FfiPresignedPart, FfiPresignedUrl, FfiRange,
};
use async_ffi::FfiFuture;
use std::mem::{align_of, offset_of, size_of};

/// The epoch number.
pub const ABI_VERSION: u32 = 2;

/// Epoch 2's capabilities: one `bool` each.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapabilitiesV2 {
    /// See [`Capabilities::stat`].
    pub stat: bool,
    /// See [`Capabilities::list`].
    pub list: bool,
    /// See [`Capabilities::read`].
    pub read: bool,
    /// See [`Capabilities::read_range`].
    pub read_range: bool,
    /// See [`Capabilities::write`].
    pub write: bool,
    /// See [`Capabilities::delete`].
    pub delete: bool,
    /// See [`Capabilities::multipart`].
    pub multipart: bool,
    /// See [`Capabilities::empty_dirs`].
    pub empty_dirs: bool,
    /// See [`Capabilities::presigned_read`].
    pub presigned_read: bool,
}

impl From<CapabilitiesV2> for Capabilities {
    fn from(c: CapabilitiesV2) -> Self {
        Self {
            stat: c.stat,
            list: c.list,
            read: c.read,
            read_range: c.read_range,
            write: c.write,
            delete: c.delete,
            multipart: c.multipart,
            empty_dirs: c.empty_dirs,
            presigned_read: c.presigned_read,
            local_files: false,
            rename: false,
        }
    }
}

/// Epoch 2's operations table, field for field.
#[repr(C)]
#[allow(missing_docs, missing_debug_implementations)] // the fields of `PluginVTable`, frozen
pub struct PluginVTableV2 {
    pub name: FfiStr<'static>,
    pub version: FfiStr<'static>,
    pub schemes: FfiSlice<'static, FfiStr<'static>>,
    pub capabilities: CapabilitiesV2,
    pub open: unsafe extern "C" fn(uri: FfiStr<'_>, config: FfiSlice<'_, FfiKv<'_>>) -> FfiOp<StoreHandle>,
    pub store_drop: unsafe extern "C" fn(StoreHandle),
    pub stat: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiFileInfo>,
    pub list:
        unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, token: FfiStr<'_>, page_size: u32) -> FfiOp<FfiListPage>,
    pub read: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, range: FfiRange) -> FfiOp<ReaderHandle>,
    pub reader_next: unsafe extern "C" fn(ReaderHandle) -> FfiOp<FfiBuf>,
    pub reader_drop: unsafe extern "C" fn(ReaderHandle),
    pub write: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>) -> FfiOp<WriterHandle>,
    pub writer_write: unsafe extern "C" fn(WriterHandle, chunk: FfiBuf) -> FfiOp<FfiUnit>,
    pub writer_finish: unsafe extern "C" fn(WriterHandle) -> FfiOp<FfiUnit>,
    pub writer_abort: unsafe extern "C" fn(WriterHandle) -> FfiOp<FfiUnit>,
    pub writer_drop: unsafe extern "C" fn(WriterHandle),
    pub delete: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>) -> FfiOp<FfiUnit>,
    pub multipart_create:
        unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, num_parts: u32) -> FfiOp<FfiMultipartUpload>,
    pub multipart_complete: unsafe extern "C" fn(
        StoreHandle,
        path: FfiStr<'_>,
        upload_id: FfiStr<'_>,
        parts: FfiSlice<'_, FfiCompletedPart<'_>>,
    ) -> FfiOp<FfiUnit>,
    pub multipart_abort: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, upload_id: FfiStr<'_>) -> FfiOp<FfiUnit>,
    pub presign_read: unsafe extern "C" fn(StoreHandle, path: FfiStr<'_>, ttl_secs: u64) -> FfiOp<FfiPresignedUrl>,
}

/// Epoch 2's layout facts, in the order its `arca-core` listed them.
pub const LAYOUT_FACTS: &[u64] = layout_facts![
    PluginDecl { magic, abi_version, reserved, layout, vtable },
    PluginVTableV2 {
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
    CapabilitiesV2 { stat, list, read, read_range, write, delete, multipart, empty_dirs, presigned_read },
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

/// The fingerprint an epoch-2 plugin declares.
pub const fn layout_fingerprint() -> u64 {
    super::fingerprint_of(LAYOUT_FACTS)
}

/// [`layout_fingerprint()`] on 64-bit targets, pinned by a unit test.
#[cfg(target_pointer_width = "64")]
pub const LAYOUT_64: u64 = 0x50f5_e3ac_0948_3f95;
