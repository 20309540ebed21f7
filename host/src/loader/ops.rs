//! The host's copy of a plugin's operations table.
//!
//! A plugin's table is as long as the `arca-core` it was built with made it
//! ([`PluginVTable::size`]). The host copies the operations that end within
//! that size and puts its own answer, an `UNSUPPORTED` error, in place of
//! each one that does not; an operation's capability is cleared when the
//! operation is missing. Operations come in groups that only work together
//! (a reader is opened, read and dropped): a group is copied whole or not
//! at all. A longer table than the host knows is read no further than the
//! host's own fields.

use arca_core::Capabilities;
use arca_core::Error;
use arca_core::abi::{FfiOp, MINOR0_SIZE, PluginVTable, ReaderHandle, StoreHandle, WriterHandle, v2};
use arca_core::ffi::{FfiBuf, FfiResult, FfiSlice, FfiStr, FfiUnit};
use arca_core::types::cap_bits::{self, *};
use arca_core::types::{FfiCompletedPart, FfiFileInfo, FfiListPage, FfiMultipartUpload, FfiPresignedUrl, FfiRange};
use async_ffi::FutureExt as _;
use std::mem::{offset_of, size_of};
use std::ptr::addr_of;

/// A plugin's table as the host uses it.
pub(crate) struct Table {
    /// The header and every operation, the missing ones answered by the host.
    pub vtable: PluginVTable,
    /// The operations the plugin does not have.
    pub missing: Vec<&'static str>,
}

impl Table {
    /// Reads the table at `src`, of `size` bytes by its own account.
    ///
    /// # Safety
    /// `src` points to a table of this epoch whose first `size` bytes (at
    /// least [`arca_core::abi::MIN_VTABLE_SIZE`]) are readable and stay so.
    pub unsafe fn read(src: *const PluginVTable, size: usize) -> Self {
        // SAFETY (for every read below): each field read ends within `size`.
        macro_rules! field {
            ($f:ident) => {
                unsafe { addr_of!((*src).$f).read() }
            };
        }
        let mut vtable = PluginVTable {
            size,
            minor: field!(minor),
            reserved: 0,
            name: field!(name),
            version: field!(version),
            schemes: field!(schemes),
            capabilities: field!(capabilities) & cap_bits::KNOWN,
            requires: field!(requires),
            open: field!(open),
            store_drop: field!(store_drop),
            stat: absent::stat,
            list: absent::list,
            read: absent::read,
            reader_next: absent::reader_next,
            reader_drop: absent::reader_drop,
            write: absent::write,
            writer_write: absent::writer_write,
            writer_finish: absent::writer_finish,
            writer_abort: absent::writer_abort,
            writer_drop: absent::writer_drop,
            delete: absent::delete,
            multipart_create: absent::multipart_create,
            multipart_complete: absent::multipart_complete,
            multipart_abort: absent::multipart_abort,
            presign_read: absent::presign_read,
            local_path: absent::local_path,
            rename: absent::rename,
        };
        let mut missing = Vec::new();
        macro_rules! groups {
            ($( [$($op:ident),+] => $bits:expr; )*) => {$(
                let end = [$(offset_of!(PluginVTable, $op) + size_of::<usize>()),+]
                    .into_iter()
                    .max()
                    .unwrap_or(usize::MAX);
                if end <= size {
                    $( vtable.$op = field!($op); )+
                } else {
                    vtable.capabilities &= !($bits);
                    $( missing.push(stringify!($op)); )+
                }
            )*};
        }
        groups! {
            [stat] => STAT;
            [list] => LIST;
            [read, reader_next, reader_drop] => READ | READ_RANGE;
            [write, writer_write, writer_finish, writer_abort, writer_drop] => WRITE;
            [delete] => DELETE;
            [multipart_create, multipart_complete, multipart_abort] => MULTIPART;
            [presign_read] => PRESIGNED_READ;
            [local_path] => LOCAL_FILES;
            [rename] => RENAME;
        }
        Self { vtable, missing }
    }
}

/// An epoch-2 plugin's table in this epoch's shape: the operations of minor 0
/// (the same, with the same signatures), capabilities as bits, no
/// requirements, and a size that ends after minor 0, so every later
/// operation is one the plugin does not have.
pub(crate) fn upgrade_v2(v: &v2::PluginVTableV2) -> PluginVTable {
    PluginVTable {
        size: MINOR0_SIZE,
        minor: 0,
        reserved: 0,
        name: v.name,
        version: v.version,
        schemes: v.schemes,
        capabilities: Capabilities::from(v.capabilities).to_bits(),
        requires: FfiSlice::new(&[]),
        open: v.open,
        store_drop: v.store_drop,
        stat: v.stat,
        list: v.list,
        read: v.read,
        reader_next: v.reader_next,
        reader_drop: v.reader_drop,
        write: v.write,
        writer_write: v.writer_write,
        writer_finish: v.writer_finish,
        writer_abort: v.writer_abort,
        writer_drop: v.writer_drop,
        delete: v.delete,
        multipart_create: v.multipart_create,
        multipart_complete: v.multipart_complete,
        multipart_abort: v.multipart_abort,
        presign_read: v.presign_read,
        // Past `size`: never read.
        local_path: absent::local_path,
        rename: absent::rename,
    }
}

/// The host's answers for operations a plugin does not have.
mod absent {
    use super::*;

    fn unsupported<T: Send + 'static>(op: &'static str) -> FfiOp<T> {
        let e = Error::unsupported(format!(
            "the plugin has no {op} operation (it was built against an older arca-core)"
        ));
        async move { FfiResult::Err(e.into_ffi()) }.into_ffi()
    }

    pub unsafe extern "C" fn stat(_: StoreHandle, _: FfiStr<'_>) -> FfiOp<FfiFileInfo> {
        unsupported("stat")
    }

    pub unsafe extern "C" fn list(_: StoreHandle, _: FfiStr<'_>, _: FfiStr<'_>, _: u32) -> FfiOp<FfiListPage> {
        unsupported("list")
    }

    pub unsafe extern "C" fn read(_: StoreHandle, _: FfiStr<'_>, _: FfiRange) -> FfiOp<ReaderHandle> {
        unsupported("read")
    }

    pub unsafe extern "C" fn reader_next(_: ReaderHandle) -> FfiOp<FfiBuf> {
        unsupported("read")
    }

    /// Never called with a real reader: without `read` there is none.
    pub unsafe extern "C" fn reader_drop(_: ReaderHandle) {}

    pub unsafe extern "C" fn write(_: StoreHandle, _: FfiStr<'_>) -> FfiOp<WriterHandle> {
        unsupported("write")
    }

    pub unsafe extern "C" fn writer_write(_: WriterHandle, _: FfiBuf) -> FfiOp<FfiUnit> {
        unsupported("write")
    }

    pub unsafe extern "C" fn writer_finish(_: WriterHandle) -> FfiOp<FfiUnit> {
        unsupported("write")
    }

    pub unsafe extern "C" fn writer_abort(_: WriterHandle) -> FfiOp<FfiUnit> {
        unsupported("write")
    }

    /// Never called with a real writer: without `write` there is none.
    pub unsafe extern "C" fn writer_drop(_: WriterHandle) {}

    pub unsafe extern "C" fn delete(_: StoreHandle, _: FfiStr<'_>) -> FfiOp<FfiUnit> {
        unsupported("delete")
    }

    pub unsafe extern "C" fn multipart_create(_: StoreHandle, _: FfiStr<'_>, _: u32) -> FfiOp<FfiMultipartUpload> {
        unsupported("multipart_create")
    }

    pub unsafe extern "C" fn multipart_complete(
        _: StoreHandle,
        _: FfiStr<'_>,
        _: FfiStr<'_>,
        _: FfiSlice<'_, FfiCompletedPart<'_>>,
    ) -> FfiOp<FfiUnit> {
        unsupported("multipart_complete")
    }

    pub unsafe extern "C" fn multipart_abort(_: StoreHandle, _: FfiStr<'_>, _: FfiStr<'_>) -> FfiOp<FfiUnit> {
        unsupported("multipart_abort")
    }

    pub unsafe extern "C" fn presign_read(_: StoreHandle, _: FfiStr<'_>, _: u64) -> FfiOp<FfiPresignedUrl> {
        unsupported("presign_read")
    }

    pub unsafe extern "C" fn local_path(_: StoreHandle, _: FfiStr<'_>) -> FfiOp<FfiBuf> {
        unsupported("local_path")
    }

    pub unsafe extern "C" fn rename(_: StoreHandle, _: FfiStr<'_>, _: FfiStr<'_>) -> FfiOp<FfiUnit> {
        unsupported("rename")
    }
}
